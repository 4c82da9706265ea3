// Command testapp is the process that sup's tests supervise: a small server
// whose every behaviour around startup, readiness, output and shutdown is
// chosen by flags. Tests build it with `go build` and run it directly or
// from HCL configs.
//
// Usage:
//
//	testapp [flags]
//
// Flags, in the order their actions happen:
//
//	--fork                serve from a forked grandchild: testapp re-executes
//	                      itself (same flags, $SUP_TESTAPP_FORKED=1, same
//	                      process group, fd of --notification-fd passed on),
//	                      forwards SIGTERM to it, waits, and exits with its
//	                      code (128+n when it was killed by signal n)
//	--partial TEXT        write TEXT to stdout without a newline, exit 3
//	--flood BYTES         write BYTES/100 numbered lines of 100 bytes each
//	                      ("000000001 xxx…\n") to stdout, exit 0
//	--flood-report FILE   with --flood: write to FILE how long the writes
//	                      took, in nanoseconds (the child's own write time)
//	--spawn-sleeper       start `sleep 1000` as a child (a grandchild of the
//	                      supervisor) in the same process group; prints
//	                      "sleeper PID"
//	--orphans N           double-fork N processes that exit at once: their
//	                      parent exits without waiting for them, so they are
//	                      re-parented (to a subreaper or PID 1) and must be
//	                      reaped there
//	--delay D             sleep D (a Go duration) before binding
//	--crash-before-bind   print "crash before bind" to stderr, exit 1
//	--listen ADDR         bind and listen on ADDR; repeatable:
//	                      "tcp:127.0.0.1:3000", "tcp:[::1]:3000",
//	                      "tcp:0.0.0.0:3000" (IPv4 only), "tcp:[::]:3000"
//	                      (dual-stack),
//	                      "unix:/path/to.sock" (a stale socket file there is
//	                      removed first). Every listener serves HTTP: 200 "ok"
//	                      on every path but /health
//	--backlog N           listen with an accept queue of N (listen(2)'s
//	                      backlog) instead of Go's default (somaxconn)
//	--no-accept           listen, but never accept a connection: clients
//	                      wait in the accept queue until it is full
//	--listen-fds          serve the sockets passed with the systemd protocol:
//	                      fds 3 to 3+$LISTEN_FDS-1, when $LISTEN_PID is
//	                      testapp's pid; prints "listen-fds pid=P
//	                      LISTEN_PID=… LISTEN_FDS=… LISTEN_FDNAMES=…
//	                      inodes=I,J" first (exit 1 when $LISTEN_PID is set
//	                      and not its pid; tests that start testapp
//	                      directly leave it unset)
//	--record FILE         append to FILE the unix-nanosecond time at which the
//	                      last listen() returned (with --listen-fds: just
//	                      before it starts accepting), one line per run
//	--notify              send READY=1 to $NOTIFY_SOCKET (sd_notify, through
//	                      go-systemd's daemon.SdNotify) after binding
//	--notification-fd N   write "\n" to fd N after binding, then close it
//	--print TEXT          print TEXT and a newline to stdout after binding
//	--lines N             print N numbered lines ("line 1" … "line N")
//	--exit N              exit with code N: at once after the actions above,
//	                      or after --exit-after
//	--exit-after D        exit after D (with --exit's code, else 0);
//	                      default: never
//	--health-file PATH    GET /health answers 500 while PATH exists, else 200
//	                      (without the flag: always 200)
//	--term-file FILE      when SIGTERM arrives, append "PID UNIX-NANOS\n"
//	--graceful            on SIGTERM, stop accepting, answer the request of
//	                      every connection already accepted (with
//	                      "Connection: close"), then exit 0 (within 10s), as
//	                      a production server does; unlike
//	                      http.Server.Shutdown, which closes without an answer
//	                      a connection whose request it reads after the
//	                      shutdown began
//	--ignore-term         ignore SIGTERM (after --term-file's record); by
//	                      default SIGTERM makes testapp exit 0
//
// Diagnostics go to stderr, prefixed "testapp: ".
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Roles of re-executed copies of testapp, chosen by $SUP_TESTAPP_ROLE.
const (
	roleEnv      = "SUP_TESTAPP_ROLE"
	roleOrphaner = "orphaner" // starts $SUP_TESTAPP_ORPHANS children, exits without waiting
	roleExit     = "exit"     // exits 0 at once
	orphansEnv   = "SUP_TESTAPP_ORPHANS"
	forkedEnv    = "SUP_TESTAPP_FORKED"
)

// options are the parsed flags.
type options struct {
	listen          []string
	listenFDs       bool
	delay           time.Duration
	fork            bool
	notify          bool
	notificationFD  int
	print           string
	record          string
	exitCode        int
	exitAfter       time.Duration
	crashBeforeBind bool
	healthFile      string
	ignoreTerm      bool
	graceful        bool
	termFile        string
	spawnSleeper    bool
	orphans         int
	flood           int64
	floodReport     string
	lines           int
	partial         string
	partialSet      bool
	backlog         int
	noAccept        bool

	mu        sync.Mutex     // guards servers and listeners: onTerm reads them
	servers   []*http.Server // what --graceful shuts down
	listeners []net.Listener // what --graceful closes
	serving   sync.WaitGroup // one per Serve call still running
	conns     sync.WaitGroup // one per accepted connection not yet closed
}

func main() {
	switch os.Getenv(roleEnv) {
	case roleExit:
		os.Exit(0)
	case roleOrphaner:
		n, _ := strconv.Atoi(os.Getenv(orphansEnv))
		os.Exit(startOrphans(n))
	}
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(2)
	}
	if opts.fork && os.Getenv(forkedEnv) == "" {
		os.Exit(runForked(opts))
	}
	os.Exit(run(opts))
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func parseFlags(args []string) (*options, error) {
	o := &options{exitCode: -1}
	fs := flag.NewFlagSet("testapp", flag.ContinueOnError)
	fs.Var((*listFlag)(&o.listen), "listen", "listen on `ADDR` (tcp:HOST:PORT or unix:PATH); repeatable")
	fs.BoolVar(&o.listenFDs, "listen-fds", false, "serve the sockets of $LISTEN_FDS (systemd protocol)")
	fs.DurationVar(&o.delay, "delay", 0, "sleep `D` before binding")
	fs.BoolVar(&o.fork, "fork", false, "serve from a forked grandchild")
	fs.BoolVar(&o.notify, "notify", false, "sd_notify READY=1 after binding")
	fs.IntVar(&o.notificationFD, "notification-fd", 0, "write a newline to fd `N` after binding")
	fs.StringVar(&o.print, "print", "", "print `TEXT` after binding")
	fs.IntVar(&o.backlog, "backlog", 0, "listen with an accept queue of `N`")
	fs.BoolVar(&o.noAccept, "no-accept", false, "never accept a connection")
	fs.StringVar(&o.record, "record", "", "append the time listen() returned to `FILE`")
	fs.IntVar(&o.exitCode, "exit", -1, "exit with code `N`")
	fs.DurationVar(&o.exitAfter, "exit-after", 0, "exit after `D`")
	fs.BoolVar(&o.crashBeforeBind, "crash-before-bind", false, "exit 1 before binding")
	fs.StringVar(&o.healthFile, "health-file", "", "GET /health is 500 while `PATH` exists")
	fs.BoolVar(&o.ignoreTerm, "ignore-term", false, "ignore SIGTERM")
	fs.BoolVar(&o.graceful, "graceful", false, "on SIGTERM, finish the requests in flight before exiting")
	fs.StringVar(&o.termFile, "term-file", "", "append \"PID NANOS\" to `FILE` on SIGTERM")
	fs.BoolVar(&o.spawnSleeper, "spawn-sleeper", false, "start \"sleep 1000\" in the same process group")
	fs.IntVar(&o.orphans, "orphans", 0, "double-fork `N` orphans that exit at once")
	fs.Int64Var(&o.flood, "flood", 0, "write `BYTES` of 100-byte lines to stdout, exit 0")
	fs.StringVar(&o.floodReport, "flood-report", "", "write the flood's write time in ns to `FILE`")
	fs.IntVar(&o.lines, "lines", 0, "print `N` numbered lines")
	fs.StringVar(&o.partial, "partial", "", "write `TEXT` without a newline, exit 3")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { o.partialSet = o.partialSet || f.Name == "partial" })
	return o, nil
}

// run is the serving process. It returns the exit code, unless SIGTERM or
// --exit-after end the process first.
func run(o *options) int {
	terms := make(chan os.Signal, 4)
	signal.Notify(terms, syscall.SIGTERM)
	go onTerm(terms, o)

	if o.partialSet {
		os.Stdout.WriteString(o.partial)
		return 3
	}
	if o.flood > 0 {
		t0 := time.Now()
		if err := flood(os.Stdout, o.flood); err != nil {
			return fail(err)
		}
		if o.floodReport != "" {
			if err := os.WriteFile(o.floodReport, []byte(strconv.FormatInt(int64(time.Since(t0)), 10)), 0o644); err != nil {
				return fail(err)
			}
		}
		return 0
	}
	if o.spawnSleeper {
		sleeper := exec.Command("sleep", "1000")
		if err := sleeper.Start(); err != nil {
			return fail(err)
		}
		fmt.Println("sleeper", sleeper.Process.Pid)
	}
	if o.orphans > 0 {
		if err := spawnOrphaner(o.orphans); err != nil {
			return fail(err)
		}
	}
	time.Sleep(o.delay)
	if o.crashBeforeBind {
		fmt.Fprintln(os.Stderr, "crash before bind")
		return 1
	}

	listeners, err := listenAll(o.listen, o.backlog)
	if err != nil {
		return fail(err)
	}
	if o.listenFDs {
		inherited, err := listenFDs()
		if err != nil {
			return fail(err)
		}
		listeners = append(listeners, inherited...)
	}
	boundAt := time.Now()
	if o.record != "" {
		if err := appendLine(o.record, strconv.FormatInt(boundAt.UnixNano(), 10)); err != nil {
			return fail(err)
		}
	}
	handler := handler(o.healthFile)
	o.mu.Lock()
	for _, l := range listeners {
		if o.noAccept {
			continue
		}
		srv := &http.Server{Handler: handler, ConnState: o.track}
		o.servers, o.listeners = append(o.servers, srv), append(o.listeners, l)
		o.serving.Add(1)
		go func() {
			defer o.serving.Done()
			_ = srv.Serve(l) // ends when shutdown closes l
		}()
	}
	o.mu.Unlock()
	if err := announce(o); err != nil {
		return fail(err)
	}

	exitCode := max(o.exitCode, 0)
	switch {
	case o.exitAfter > 0:
		time.Sleep(o.exitAfter)
		return exitCode
	case o.exitCode >= 0:
		return exitCode
	}
	select {} // serve until SIGTERM
}

// onTerm handles SIGTERM at any time (during --delay too): it records it in
// --term-file, then exits 0 unless --ignore-term.
func onTerm(terms <-chan os.Signal, o *options) {
	for range terms {
		if o.termFile != "" {
			if err := appendLine(o.termFile, fmt.Sprintf("%d %d", os.Getpid(), time.Now().UnixNano())); err != nil {
				fmt.Fprintln(os.Stderr, "testapp:", err)
			}
		}
		if o.graceful {
			o.shutdown()
		}
		if !o.ignoreTerm {
			os.Exit(0)
		}
	}
}

// shutdown stops every server gracefully: no new connection is accepted,
// and every connection already accepted gets the answer to its request
// (then it is closed) or, idle between two requests, is closed; it returns
// once none is left, or after 10s.
//
// http.Server.Shutdown is not used: it closes without an answer a
// connection whose first request it reads after the shutdown began
// (net/http's conn.serve returns when shuttingDown() right after
// readRequest), and a connection accepted just before SIGTERM usually has
// its request read just after. With a listening socket shared with a
// replacement, that is a request lost which the replacement would have
// served.
func (o *options) shutdown() {
	o.mu.Lock()
	servers, listeners := o.servers, o.listeners
	o.mu.Unlock()
	for _, srv := range servers {
		srv.SetKeepAlivesEnabled(false) // answer with Connection: close; closes idle ones
	}
	for _, l := range listeners {
		_ = l.Close()
	}
	done := make(chan struct{})
	go func() {
		o.serving.Wait() // every accepted connection is tracked once Serve returned
		o.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

// track counts the connections accepted and not yet closed
// (http.Server.ConnState).
func (o *options) track(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		o.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		o.conns.Done()
	}
}

// announce does what follows a bind: --notify, --notification-fd, --print
// and --lines.
func announce(o *options) error {
	if o.notify {
		if sent, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil || !sent {
			return fmt.Errorf("sd_notify: sent=%v err=%v (NOTIFY_SOCKET=%q)", sent, err, os.Getenv("NOTIFY_SOCKET"))
		}
	}
	if o.notificationFD > 0 {
		f := os.NewFile(uintptr(o.notificationFD), "notification-fd")
		_, err := f.Write([]byte("\n"))
		f.Close()
		if err != nil {
			return fmt.Errorf("notification fd %d: %w", o.notificationFD, err)
		}
	}
	if o.print != "" {
		fmt.Println(o.print)
	}
	for i := 1; i <= o.lines; i++ {
		fmt.Println("line", i)
	}
	return nil
}

// listenAll listens on every "tcp:HOST:PORT" or "unix:PATH" address, with
// an accept queue of backlog when it is not 0.
func listenAll(addrs []string, backlog int) ([]net.Listener, error) {
	var ls []net.Listener
	for _, a := range addrs {
		network, address, ok := strings.Cut(a, ":")
		if !ok || (network != "tcp" && network != "unix") {
			return nil, fmt.Errorf("--listen %q: want tcp:HOST:PORT or unix:PATH", a)
		}
		if network == "unix" {
			if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
				os.Remove(address)
			}
		}
		if network == "tcp" && strings.HasPrefix(address, "0.0.0.0:") {
			network = "tcp4" // Go would make "tcp" 0.0.0.0 a dual-stack [::]
		}
		l, err := net.Listen(network, address)
		if err != nil {
			return nil, err
		}
		if backlog > 0 {
			if err := setBacklog(l, backlog); err != nil {
				return nil, err
			}
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// setBacklog calls listen(2) again on l's socket: Linux then takes the new
// backlog as the accept queue's limit.
func setBacklog(l net.Listener, backlog int) error {
	sc, err := l.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	if err := sc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), backlog) }); err != nil {
		return err
	}
	if lerr != nil {
		return fmt.Errorf("listen backlog %d: %w", backlog, lerr)
	}
	return nil
}

// listenFDs returns the sockets passed with the systemd protocol, after
// printing what testapp was given.
func listenFDs() ([]net.Listener, error) {
	pid, n := os.Getpid(), 0
	var inodes []string
	fmt.Sscan(os.Getenv("LISTEN_FDS"), &n)
	for fd := 3; fd < 3+n; fd++ {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return nil, fmt.Errorf("fd %d: %w", fd, err)
		}
		inodes = append(inodes, strconv.FormatUint(st.Ino, 10))
	}
	fmt.Printf("listen-fds pid=%d LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s inodes=%s\n", pid,
		os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"), strings.Join(inodes, ","))
	if lp := os.Getenv("LISTEN_PID"); lp != "" && lp != strconv.Itoa(pid) {
		return nil, fmt.Errorf("LISTEN_PID=%q is not my pid %d", os.Getenv("LISTEN_PID"), pid)
	}
	var ls []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		f := os.NewFile(uintptr(fd), "listen-fd")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("fd %d: %w", fd, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

// handler answers 200 "ok", and on /health 500 while healthFile exists.
func handler(healthFile string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && healthFile != "" {
			if _, err := os.Stat(healthFile); err == nil {
				http.Error(w, "unhealthy", http.StatusInternalServerError)
				return
			}
		}
		io.WriteString(w, "ok")
	})
}

// flood writes n/100 numbered lines of exactly 100 bytes.
func flood(w io.Writer, n int64) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	pad := strings.Repeat("x", 89)
	for i := int64(1); i <= n/100; i++ {
		fmt.Fprintf(bw, "%09d %s\n", i, pad)
	}
	return bw.Flush()
}

// runForked re-executes testapp as the serving grandchild and waits for it.
func runForked(o *options) int {
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	child := exec.Command(self, os.Args[1:]...)
	child.Env = append(os.Environ(), forkedEnv+"=1")
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr
	if fd := o.notificationFD; fd >= 3 {
		child.ExtraFiles = make([]*os.File, fd-2)
		child.ExtraFiles[fd-3] = os.NewFile(uintptr(fd), "notification-fd")
	}
	terms := make(chan os.Signal, 4)
	signal.Notify(terms, syscall.SIGTERM)
	if err := child.Start(); err != nil {
		return fail(err)
	}
	for _, f := range child.ExtraFiles {
		if f != nil {
			f.Close()
		}
	}
	go func() {
		for sig := range terms {
			child.Process.Signal(sig)
		}
	}()
	err = child.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	return fail(err)
}

// spawnOrphaner starts a copy of testapp that starts n children and exits
// without waiting for them, and waits for that copy.
func spawnOrphaner(n int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleEnv+"="+roleOrphaner, orphansEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// startOrphans starts n copies of testapp that exit at once, and returns
// without waiting for them.
func startOrphans(n int) int {
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	for range n {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), roleEnv+"="+roleExit)
		if err := cmd.Start(); err != nil {
			return fail(err)
		}
	}
	return 0
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	return errors.Join(err, f.Close())
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "testapp:", err)
	return 1
}
