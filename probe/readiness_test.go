package probe

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadyDelayedBind(t *testing.T) {
	port := freePort(t)
	r := newReadiness(t, "api", ReadySpec{TCP: tcpAddr(port)})
	a := startApp(t, appOpts{}, "--delay", "300ms", "--listen", "tcp:"+tcpAddr(port))
	r.Started(a.pid)
	p := waitReady(t, r, NewTree(a.pid))
	if first := p.results[0].Reason; !strings.HasPrefix(first, "nothing listening yet (starting 0.") {
		t.Errorf("first reason %q, want nothing listening yet", first)
	}
	last := p.results[len(p.results)-1]
	if want := []string{"tcp:" + tcpAddr(port)}; !slices.Equal(last.Listening, want) {
		t.Errorf("ready listening %q, want %q", last.Listening, want)
	}
}

func TestReadyWrongPort(t *testing.T) {
	port, other := freePort(t), freePort(t)
	r := newReadiness(t, "api", ReadySpec{TCP: tcpAddr(port)})
	a := startApp(t, appOpts{}, "--listen", "tcp:"+tcpAddr(other))
	r.Started(a.pid)
	p := waitReason(t, r, NewTree(a.pid),
		fmt.Sprintf("listening on %s, config says %s", tcpAddr(other), tcpAddr(port)))
	if got := p.matched.Listening; !slices.Equal(got, []string{"tcp:" + tcpAddr(other)}) {
		t.Errorf("listening %q", got)
	}
}

func TestReadyWrongUnixPath(t *testing.T) {
	dir := t.TempDir()
	want, got := filepath.Join(dir, "y.sock"), filepath.Join(dir, "x.sock")
	r := newReadiness(t, "api", ReadySpec{Unix: want})
	a := startApp(t, appOpts{}, "--listen", "unix:"+got)
	r.Started(a.pid)
	waitReason(t, r, NewTree(a.pid), fmt.Sprintf("listening on unix:%s, config says unix:%s", got, want))
}

func TestReadyUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	r := newReadiness(t, "api", ReadySpec{Unix: path})
	a := startApp(t, appOpts{}, "--delay", "50ms", "--listen", "unix:"+path)
	r.Started(a.pid)
	p := waitReady(t, r, NewTree(a.pid))
	if got := p.results[len(p.results)-1].Listening; !slices.Equal(got, []string{"unix:" + path}) {
		t.Errorf("listening %q", got)
	}
}

// A socket file left by someone else is not a listener of the tree.
func TestReadyStaleUnixFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the file stays, nobody listens
	r := newReadiness(t, "api", ReadySpec{Unix: path})
	a := startApp(t, appOpts{})
	r.Started(a.pid)
	p, err := wait(t, r, NewTree(a.pid), 300*time.Millisecond, nil)
	if err != context.DeadlineExceeded {
		t.Fatalf("err %v, want deadline", err)
	}
	if got := p.results[len(p.results)-1].Reason; !strings.HasPrefix(got, "nothing listening yet") {
		t.Errorf("reason %q", got)
	}
}

func TestReadyNeverBinds(t *testing.T) {
	port := freePort(t)
	r := newReadiness(t, "api", ReadySpec{TCP: tcpAddr(port)})
	a := startApp(t, appOpts{})
	r.Started(a.pid)
	p, err := wait(t, r, NewTree(a.pid), 1300*time.Millisecond, nil)
	if err != context.DeadlineExceeded {
		t.Fatalf("err %v, want deadline", err)
	}
	// The elapsed time is refreshed once a second, not on every look.
	got := p.reasons()
	if len(got) != 2 || !strings.HasPrefix(got[0], "nothing listening yet (starting 0.") ||
		!strings.HasPrefix(got[1], "nothing listening yet (starting 1.") {
		t.Errorf("reasons %q, want 0.Xs then 1.Xs", got)
	}
}

// A listener outside the tree on the configured port never makes the tree
// ready, and the reason names it.
func TestReadyDecoy(t *testing.T) {
	decoy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer decoy.Close()
	addr := decoy.Addr().String()
	r := newReadiness(t, "api", ReadySpec{TCP: addr})
	a := startApp(t, appOpts{}, "--listen", "tcp:127.0.0.1:0")
	r.Started(a.pid)
	want := fmt.Sprintf("%s is held by pid %d (%s), which is not part of api", addr, os.Getpid(), selfComm(t))
	p, err := wait(t, r, NewTree(a.pid), 500*time.Millisecond, nil)
	if err != context.DeadlineExceeded {
		t.Fatalf("err %v, want deadline", err)
	}
	if got := p.reasons(); !slices.Equal(got, []string{want}) {
		t.Errorf("reasons %q, want [%q]", got, want)
	}
}

// Wildcard listeners cover the addresses they accept connections for.
func TestReadyCovering(t *testing.T) {
	for _, tc := range []struct{ listen, config string }{
		{"[::1]:%d", "[::1]:%d"},
		{"0.0.0.0:%d", "127.0.0.1:%d"},
		{"[::]:%d", "127.0.0.1:%d"},
		{"[::]:%d", "[::1]:%d"},
		{"127.0.0.1:%d", "*:%d"},
	} {
		t.Run(tc.listen+" for "+tc.config, func(t *testing.T) {
			port := freePort(t)
			r := newReadiness(t, "api", ReadySpec{TCP: fmt.Sprintf(tc.config, port)})
			a := startApp(t, appOpts{}, "--listen", "tcp:"+fmt.Sprintf(tc.listen, port))
			r.Started(a.pid)
			waitReady(t, r, NewTree(a.pid))
		})
	}
}

func TestReadyForkedGrandchild(t *testing.T) {
	a, tree, _ := startReady(t, "--fork")
	tab, err := ScanProcs()
	if err != nil {
		t.Fatal(err)
	}
	if pids := tree.Pids(tab); len(pids) != 2 || pids[0] != a.pid && pids[1] != a.pid {
		t.Errorf("tree %v, want the app %d and its child", pids, a.pid)
	}
}

func TestReadyNotify(t *testing.T) {
	r := newReadiness(t, "api:1", ReadySpec{Notify: true})
	env := r.Env()
	if len(env) != 1 || !strings.HasPrefix(env[0], "NOTIFY_SOCKET=") || len(env[0]) > 100 {
		t.Fatalf("env %q", env)
	}
	a := startApp(t, appOpts{env: env}, "--delay", "50ms", "--notify")
	r.Started(a.pid)
	p := waitReady(t, r, NewTree(a.pid))
	if got := p.results[0].Reason; got != "waiting for READY=1 on NOTIFY_SOCKET" {
		t.Errorf("first reason %q", got)
	}
}

func TestReadyNotifyMessages(t *testing.T) {
	r := newReadiness(t, "api", ReadySpec{Notify: true})
	conn, err := net.Dial("unixgram", strings.TrimPrefix(r.Env()[0], "NOTIFY_SOCKET="))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(msg string) {
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct{ send, reason string }{
		{"", "waiting for READY=1 on NOTIFY_SOCKET"},
		{"WATCHDOG=1\nSTATUS=loading data", "notify: STATUS=loading data"},
		{"ERRNO=5", "notify: ERRNO=5"},
		{"STATUS=almost\nREADY=1\n", ""},
	}
	step := 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var last Result
	err = r.Wait(ctx, NewTree(os.Getpid()), func(res Result) {
		if res.Reason != steps[step].reason {
			t.Errorf("step %d: reason %q, want %q", step, res.Reason, steps[step].reason)
		}
		last = res
		if step++; step < len(steps) {
			send(steps[step].send)
		}
	})
	if err != nil || !last.Ready || last.Status != "almost" {
		t.Errorf("err %v, last %+v", err, last)
	}
}

// READY=1 from a live process outside the tree (here: this test) does not
// make the instance ready.
func TestReadyNotifyIgnoresForeignSender(t *testing.T) {
	r := newReadiness(t, "api", ReadySpec{Notify: true})
	conn, err := net.Dial("unixgram", strings.TrimPrefix(r.Env()[0], "NOTIFY_SOCKET="))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a := startApp(t, appOpts{}, "--delay", "1h")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	want := fmt.Sprintf("notify: ignored a message from pid %d, which is not part of api", os.Getpid())
	var got []string
	err = r.Wait(ctx, NewTree(a.pid), func(res Result) {
		got = append(got, res.Reason)
		switch {
		case res.Ready:
			t.Errorf("ready after a foreign READY=1")
		case res.Reason == want:
			cancel()
		default:
			conn.Write([]byte("READY=1"))
		}
	})
	if err == nil || got[len(got)-1] != want {
		t.Fatalf("err %v, reasons %q, want last %q", err, got, want)
	}
}

func TestReadyNotificationFD(t *testing.T) {
	r := newReadiness(t, "api", ReadySpec{NotificationFD: 3})
	a := startApp(t, appOpts{files: r.Files()}, "--delay", "50ms", "--notification-fd", "3")
	r.Started(a.pid)
	p := waitReady(t, r, NewTree(a.pid))
	if got := p.results[0].Reason; got != "waiting for a newline on fd 3" {
		t.Errorf("first reason %q", got)
	}
}

func TestReadyLog(t *testing.T) {
	r := newReadiness(t, "api", ReadySpec{Log: regexp.MustCompile("ready to accept")})
	out := lines(t, func(line []byte) { r.Line("stdout", line) })
	a := startApp(t, appOpts{stdout: out}, "--delay", "50ms", "--lines", "3",
		"--print", "db: ready to accept connections")
	r.Started(a.pid)
	p := waitReady(t, r, NewTree(a.pid))
	if got := p.results[0].Reason; got != "waiting for a line matching /ready to accept/" {
		t.Errorf("first reason %q", got)
	}
}

func TestReadyHTTP(t *testing.T) {
	port := freePort(t)
	sick := filepath.Join(t.TempDir(), "sick")
	os.WriteFile(sick, nil, 0o644)
	url := "http://" + tcpAddr(port) + "/health"
	r := newReadiness(t, "api", ReadySpec{HTTP: url})
	a := startApp(t, appOpts{}, "--listen", "tcp:"+tcpAddr(port), "--health-file", sick)
	r.Started(a.pid)
	tree := NewTree(a.pid)

	waitReason(t, r, tree, url+": 500 Internal Server Error")
	os.Remove(sick)
	r2 := newReadiness(t, "api", ReadySpec{HTTP: url})
	waitReady(t, r2, tree)
}

func TestReadyHTTPRefused(t *testing.T) {
	url := "http://" + tcpAddr(freePort(t)) + "/"
	r := newReadiness(t, "api", ReadySpec{HTTP: url})
	waitReason(t, r, NewTree(os.Getpid()), url+": connection refused")
}

func TestReadyExec(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "flag")
	argv := []string{"sh", "-c", "echo checking; echo not yet >&2; test -e " + flag}
	r := newReadiness(t, "api", ReadySpec{Exec: argv})
	waitReason(t, r, NewTree(os.Getpid()), fmt.Sprintf("exec %v: exit 1: not yet", argv))
	os.WriteFile(flag, nil, 0o644)
	waitReady(t, r, NewTree(os.Getpid()))
}

// With several checks, the reason is the first that does not pass.
func TestReadySeveralChecks(t *testing.T) {
	port := freePort(t)
	r := newReadiness(t, "api", ReadySpec{TCP: tcpAddr(port), Log: regexp.MustCompile("^go$")})
	out := lines(t, func(line []byte) { r.Line("stdout", line) })
	a := startApp(t, appOpts{stdout: out}, "--listen", "tcp:"+tcpAddr(port), "--delay", "100ms", "--exit-after", "1h")
	r.Started(a.pid)
	waitReason(t, r, NewTree(a.pid), "waiting for a line matching /^go$/")
	r.Line("stderr", []byte("go"))
	p := waitReady(t, r, NewTree(a.pid))
	if got := p.results[len(p.results)-1].Listening; !slices.Equal(got, []string{"tcp:" + tcpAddr(port)}) {
		t.Errorf("listening %q", got)
	}
}

func TestReadyNoChecks(t *testing.T) {
	r := newReadiness(t, "api", ReadySpec{})
	if r.Env() != nil || r.Files() != nil {
		t.Errorf("env %v files %v", r.Env(), r.Files())
	}
	p := waitReady(t, r, NewTree(os.Getpid()))
	if len(p.results) != 1 {
		t.Errorf("results %+v", p.results)
	}
}

func TestReadinessClose(t *testing.T) {
	r, err := NewReadiness("api", ReadySpec{Notify: true, NotificationFD: 4}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(r.Env()[0], "NOTIFY_SOCKET=")
	r.Close()
	r.Close()
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("notify dir left behind: %v", err)
	}
}

func TestNewReadinessErrors(t *testing.T) {
	for _, spec := range []ReadySpec{
		{TCP: "127.0.0.1"},
		{TCP: "example.com:80"},
		{Exec: []string{"true"}}, // no runner
	} {
		if _, err := NewReadiness("api", spec, "", nil); err == nil {
			t.Errorf("%+v: no error", spec)
		}
	}
}

func TestStartDelay(t *testing.T) {
	for _, tc := range []struct{ elapsed, want time.Duration }{
		{0, time.Millisecond},
		{99 * time.Millisecond, time.Millisecond},
		{150 * time.Millisecond, 2 * time.Millisecond},
		{550 * time.Millisecond, 10 * time.Millisecond},
		{time.Hour, 10 * time.Millisecond},
	} {
		if got := startDelay(tc.elapsed); got != tc.want {
			t.Errorf("startDelay(%v) = %v, want %v", tc.elapsed, got, tc.want)
		}
	}
}

func TestSeconds(t *testing.T) {
	if got := seconds(2100 * time.Millisecond); got != "2.1s" {
		t.Errorf("got %q", got)
	}
}
