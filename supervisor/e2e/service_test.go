package e2e

// supd as a container entrypoint (PID 1), a systemd service (sd_notify,
// watchdog) and a Kubernetes citizen (/readyz, /healthz, /metrics): what
// the contract's "supd as a service" promises, through the real binaries.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// carelessEnv makes the test binary a launcher (see init): it execs its
// arguments with the signals a careless parent leaves ignored and blocked.
const carelessEnv = "SUP_E2E_CARELESS_LAUNCHER"

// carelessSignals are ignored and blocked by the careless launcher: what
// `cmd &` in a script (SIGINT, SIGQUIT), nohup (SIGHUP), a Python parent
// (SIGPIPE) or a thread that waits for signals may leave to supd.
var carelessSignals = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGUSR1,
	syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU,
}

// carelessLauncher runs supd as the careless launcher.
func carelessLauncher() supdOptions {
	return supdOptions{wrap: []string{os.Args[0]}, env: []string{carelessEnv + "=1"}}
}

// init is the careless launcher when the test binary is run as one; init
// runs on the main thread, whose signal mask execve keeps.
func init() {
	if os.Getenv(carelessEnv) == "" {
		return
	}
	signal.Ignore(carelessSignals...)
	var set unix.Sigset_t
	for _, sig := range carelessSignals {
		n := uint(sig.(syscall.Signal)) - 1
		set.Val[n/64] |= 1 << (n % 64)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		fmt.Fprintln(os.Stderr, "careless launcher:", err)
		os.Exit(2)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, carelessEnv+"=") })
	err := syscall.Exec(os.Args[1], os.Args[1:], env)
	fmt.Fprintln(os.Stderr, "careless launcher:", err)
	os.Exit(2)
}

// unshareCmd is how the PID-1 tests run supd: PID 1 of a new PID namespace,
// with that namespace's own /proc, killed if unshare dies.
var unshareCmd = []string{"unshare", "--pid", "--fork", "--mount-proc", "--kill-child"}

// startPID1 launches supd as PID 1 of a new PID namespace, skipping the
// test when that is not possible here.
func startPID1(t *testing.T, body string) *supd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: unshare --pid --mount-proc")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux) in PATH")
	}
	if out, err := exec.Command(unshareCmd[0], append(unshareCmd[1:], "true")...).CombinedOutput(); err != nil {
		t.Skipf("cannot create a PID namespace here: %v: %s", err, out)
	}
	return launchSupdWith(t, supdOptions{wrap: unshareCmd}, body)
}

// waitExit waits for supd (or its wrapper) to exit by itself.
func (s *supd) waitExit(d time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(d):
		s.t.Fatalf("supd did not exit within %s", d)
		return -1
	}
}

// procs lists every process under a proc mount.
func procs(procfs string) []suptest.Proc {
	entries, _ := os.ReadDir(procfs)
	var out []suptest.Proc
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if p, ok := suptest.ReadProc(procfs, pid); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// waitFile waits until path exists and returns its content. Shell apps
// write to a temporary file and rename it, so the content is complete.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	var b []byte
	eventually(t, 20*time.Second, path+" written", func() bool {
		var err error
		b, err = os.ReadFile(path)
		return err == nil
	})
	return string(b)
}

// shellWrites is a shell snippet that writes cmd's output to path, whole.
func shellWrites(cmd, path string) string {
	return fmt.Sprintf("%s > %s.tmp && mv %s.tmp %s", cmd, path, path, path)
}

// testappProcess renders a testapp process listening on a free port, ready
// when bound, with more HCL attributes.
func testappProcess(t *testing.T, name string, args []string, attrs string) string {
	t.Helper()
	port := suptest.FreePorts(t, 1)[0]
	argv := append([]string{"{{app}}", "--listen", fmt.Sprintf("tcp:127.0.0.1:%d", port)}, args...)
	quoted := make([]string, len(argv))
	for k, a := range argv {
		quoted[k] = strconv.Quote(a)
	}
	return fmt.Sprintf(`
process %q {
  command = [%s]
  ready { tcp = "127.0.0.1:%d" }
  %s
}`, name, strings.Join(quoted, ", "), port, attrs)
}

// As PID 1 of a PID namespace, supd reaps orphans that are re-parented to
// it, and SIGTERM stops everything in reverse depends_on order, then supd
// exits 0.
func TestPID1ReapsOrphansAndStopsInReverseOrder(t *testing.T) {
	terms := filepath.Join(t.TempDir(), "terms")
	s := startPID1(t, testappProcess(t, "orphans", []string{"--orphans", "50"}, "")+
		testappProcess(t, "a", []string{"--term-file", terms}, "")+
		testappProcess(t, "b", []string{"--term-file", terms}, `depends_on = ["a"]`)+
		// c ignores SIGTERM: b must wait the 300ms until c is killed.
		testappProcess(t, "c", []string{"--term-file", terms, "--ignore-term"}, `depends_on = ["b"]
  stop { timeout = "300ms" }`))
	s.waitAnswering()
	if ns, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid)); !strings.Contains(string(ns), "NSpid:\t"+strconv.Itoa(s.pid)+"\t1\n") {
		t.Fatalf("supd (pid %d) is not PID 1 of its namespace:\n%s", s.pid, ns)
	}
	byPid := map[int]string{}
	for _, n := range []string{"orphans", "a", "b", "c"} {
		byPid[s.waitReady(n).Pid] = n // pids as the namespace sees them
	}

	// The namespace's own /proc, through supd's root.
	nsProc := fmt.Sprintf("/proc/%d/root/proc", s.pid)
	var left []suptest.Proc
	defer func() {
		if t.Failed() {
			t.Logf("processes left in the namespace: %+v", left)
		}
	}()
	eventually(t, 20*time.Second, "rid of the 50 orphans (no zombie, no stranger)", func() bool {
		left = slices.DeleteFunc(procs(nsProc), func(p suptest.Proc) bool {
			_, supervised := byPid[p.Pid]
			return p.Pid == 1 || (supervised && p.State != 'Z')
		})
		return len(left) == 0
	})

	if code := s.terminate(20 * time.Second); code != 0 {
		t.Fatalf("supd exited %d after SIGTERM, want 0", code)
	}
	at := map[string]time.Time{}
	for _, line := range strings.Split(strings.TrimSpace(waitFile(t, terms)), "\n") {
		var pid int
		var ns int64
		if _, err := fmt.Sscan(line, &pid, &ns); err != nil {
			t.Fatalf("term file line %q: %v", line, err)
		}
		at[byPid[pid]] = time.Unix(0, ns)
	}
	if len(at) != 3 {
		t.Fatalf("SIGTERM recorded by %v, want a, b and c", at)
	}
	if gap := at["b"].Sub(at["c"]); gap < 250*time.Millisecond {
		t.Errorf("b got SIGTERM %s after c; c ignores it and has 300ms to stop: b must wait for it", gap)
	}
	if !at["a"].After(at["b"]) {
		t.Errorf("a got SIGTERM at %v, not after b (%v): a is b's dependency", at["a"], at["b"])
	}
}

// When a critical process ends for good, supd (PID 1) stops the rest and
// exits with that process's code, as a container's exit code.
func TestPID1CriticalExitCode(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		command string // HCL list
		restart string
		want    int
	}{
		{"fatal after restarts", `["sh", "-c", "exit 3"]`, `max_restarts = 1
    backoff = "10ms"`, 3},
		{"killed by SIGUSR1", `["sh", "-c", "kill -USR1 $$"]`, `policy = "never"`, 128 + 10},
		{"exited 0", `["sh", "-c", "exit 0"]`, `policy = "never"`, 0},
		{"command not found", `["/nonexistent/command"]`, "", 127},
		{"not executable", fmt.Sprintf("[%q]", notExec), "", 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			terms := filepath.Join(t.TempDir(), "terms")
			// The critical process starts once the bystander can record
			// its SIGTERM, which shows it was stopped, not just killed
			// with the namespace.
			s := startPID1(t, testappProcess(t, "bystander", []string{"--term-file", terms}, "")+fmt.Sprintf(`
process "main" {
  command    = %s
  critical   = true
  depends_on = ["bystander"]
  restart {
    %s
  }
}`, tt.command, tt.restart))
			if code := s.waitExit(20 * time.Second); code != tt.want {
				t.Fatalf("supd exited %d, want %d", code, tt.want)
			}
			if got := strings.Count(waitFile(t, terms), "\n"); got != 1 {
				t.Errorf("bystander recorded %d SIGTERMs, want 1", got)
			}
		})
	}
}

// Not PID 1, supd is a child subreaper: a grandchild whose parent exits is
// re-parented to supd, still counts as the process's tree, and is reaped.
func TestOrphanedGrandchildIsAdoptedAndReaped(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, fmt.Sprintf(`
process "app" {
  # The middle shell starts the server in the background and exits.
  command = ["sh", "-c", "sh -c '{{app}} --listen tcp:127.0.0.1:%d & %s'; exec sleep 1000"]
  ready { tcp = "127.0.0.1:%d" }
}`, port, shellWrites("echo $!", "{{dir}}/grandchild"), port))
	st := s.waitReady("app")
	gc, err := strconv.Atoi(strings.TrimSpace(waitFile(t, filepath.Join(s.dir, "grandchild"))))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := suptest.ReadProc("/proc", gc); !ok || p.PPid != s.pid {
		t.Fatalf("grandchild %d: %+v, want its parent to be supd (%d)", gc, p, s.pid)
	}
	if want := fmt.Sprintf("tcp:127.0.0.1:%d", port); !contains(st.Listening, want) {
		t.Errorf("app listening %v: the adopted grandchild's %s is not counted", st.Listening, want)
	}
	syscall.Kill(gc, syscall.SIGKILL)
	eventually(t, 10*time.Second, "grandchild reaped", func() bool {
		p, ok := suptest.ReadProc("/proc", gc)
		return !ok || p.PPid != s.pid
	})
}

// notifySocket plays systemd: a unixgram socket that collects sd_notify
// datagrams, each split into its lines.
type notifySocket struct {
	path string
	ch   chan datagram
	seen []datagram // received so far
	next int        // seen[next:] are not matched yet
}

type datagram struct {
	at    time.Time
	lines []string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n := &notifySocket{path: path, ch: make(chan datagram, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.ch <- datagram{at: time.Now(), lines: strings.Split(strings.TrimSpace(string(buf[:k])), "\n")}
		}
	}()
	return n
}

// waitFor returns the first datagram after the last one it returned (seen
// already or arriving within d) with a line for which ok holds, so that
// successive calls assert an order. It fails the test when none came.
func (n *notifySocket) waitFor(t *testing.T, d time.Duration, what string, ok func(line string) bool) datagram {
	t.Helper()
	deadline := time.After(d)
	for {
		for ; n.next < len(n.seen); n.next++ {
			if dg := n.seen[n.next]; slices.ContainsFunc(dg.lines, ok) {
				n.next++
				return dg
			}
		}
		select {
		case dg := <-n.ch:
			n.seen = append(n.seen, dg)
		case <-deadline:
			t.Fatalf("no %s within %s; got %v", what, d, n.seen)
		}
	}
}

func line(want string) func(string) bool { return func(l string) bool { return l == want } }

// Under systemd: READY=1 only once every process is ready, STATUS= lines,
// WATCHDOG=1 pings, STOPPING=1 at shutdown; children do not see supd's
// NOTIFY_SOCKET or watchdog, except their own socket with notify = true.
func TestSdNotify(t *testing.T) {
	sock := listenNotify(t)
	port := suptest.FreePorts(t, 1)[0]
	env := func(name string) string { return shellWrites("env", "{{dir}}/"+name+".env") }
	s := startSupd(t, fmt.Sprintf(`
process "web" {
  command = ["{{app}}", "--delay", "500ms", "--listen", "tcp:127.0.0.1:%d", "--record", "{{dir}}/bound"]
  ready { tcp = "127.0.0.1:%d" }
}
process "plain" {
  command = ["sh", "-c", "%s; exec sleep 1000"]
}
process "notified" {
  command = ["sh", "-c", "%s; exec {{app}} --notify"]
  ready { notify = true }
}`, port, port, env("plain"), env("notified")), "NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=200000")

	sock.waitFor(t, 20*time.Second, "STATUS= naming web while it starts", func(l string) bool {
		return strings.HasPrefix(l, "STATUS=") && strings.Contains(l, "web")
	})
	ready := sock.waitFor(t, 20*time.Second, "READY=1", line("READY=1"))
	boundNs, _ := strconv.ParseInt(strings.TrimSpace(waitFile(t, filepath.Join(s.dir, "bound"))), 10, 64)
	if bound := time.Unix(0, boundNs); ready.at.Before(bound) {
		t.Errorf("READY=1 at %v, before web bound its port at %v", ready.at, bound)
	}
	if !slices.Contains(ready.lines, "STATUS=3/3 ready") {
		t.Errorf("READY=1 datagram %q: want STATUS=3/3 ready with it", ready.lines)
	}
	for range 3 {
		sock.waitFor(t, 5*time.Second, "WATCHDOG=1", line("WATCHDOG=1"))
	}
	syscall.Kill(s.pid, syscall.SIGHUP)
	sock.waitFor(t, 5*time.Second, "RELOADING=1 after SIGHUP", line("RELOADING=1"))
	sock.waitFor(t, 5*time.Second, "READY=1 after the reload", line("READY=1"))
	if out, code := s.ctl("reload"); code != 0 {
		t.Fatalf("supctl reload: exit %d: %s", code, out)
	}
	sock.waitFor(t, 5*time.Second, "RELOADING=1 after supctl reload", line("RELOADING=1"))
	sock.waitFor(t, 5*time.Second, "READY=1 after supctl reload", line("READY=1"))

	plain := waitFile(t, filepath.Join(s.dir, "plain.env"))
	for _, v := range []string{"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="} {
		if strings.Contains(plain, "\n"+v) || strings.HasPrefix(plain, v) {
			t.Errorf("a child without notify = true sees %s...:\n%s", v, plain)
		}
	}
	if !strings.Contains(plain, "SUPD_PROCESS=plain\n") || !strings.Contains(plain, "SUPD_INSTANCE=0\n") {
		t.Errorf("SUPD_PROCESS / SUPD_INSTANCE missing:\n%s", plain)
	}
	notified := waitFile(t, filepath.Join(s.dir, "notified.env"))
	if !strings.Contains(notified, "NOTIFY_SOCKET=") || strings.Contains(notified, "NOTIFY_SOCKET="+sock.path+"\n") {
		t.Errorf("a child with notify = true must get its own NOTIFY_SOCKET, not supd's:\n%s", notified)
	}

	if code := s.terminate(20 * time.Second); code != 0 {
		t.Fatalf("supd exited %d", code)
	}
	sock.waitFor(t, 5*time.Second, "STOPPING=1", line("STOPPING=1"))
}

// Processes without a ready check are ready once spawned: READY=1 must not
// wait for some later event to wake the supervisor loop. (launchSupd: a
// control request would be such an event.)
func TestSdNotifyReadyOnSpawn(t *testing.T) {
	sock := listenNotify(t)
	launchSupd(t, `
process "a" {
  command = ["sleep", "1000"]
}
process "b" {
  command = ["sleep", "1000"]
}`, "NOTIFY_SOCKET="+sock.path)
	ready := sock.waitFor(t, 10*time.Second, "READY=1", line("READY=1"))
	if !slices.Contains(ready.lines, "STATUS=2/2 ready") {
		t.Errorf("READY=1 datagram %q: want STATUS=2/2 ready with it", ready.lines)
	}
}

// Once no spawned process is starting, and again after each reload, supd
// returns the heap only start-up used to the kernel. A crash is still seen
// and restarted afterwards, and a reload releases again.
func TestReleasesStartupMemory(t *testing.T) {
	// blocked waits for a dependency that will never be ready (fatal: it
	// exits before binding its port): start-up has settled all the same.
	s := startSupdWith(t, supdOptions{args: []string{"--log-level", "debug"}}, fatalDependency(t, "gone")+`
process "app" {
  command = ["sleep", "1000"]
}
process "blocked" {
  command    = ["sleep", "1000"]
  depends_on = ["gone"]
}`)
	released := func(nth int) {
		t.Helper()
		eventually(t, 20*time.Second, fmt.Sprintf("release %d logged", nth), func() bool {
			return strings.Count(s.out.String(), `"message":"released start-up memory"`) >= nth
		})
	}
	s.waitFor("blocked", 20*time.Second, "blocked waiting for fatal gone", func(st api.Status) bool {
		return st.State == api.StateStarting && st.Pid == 0 && strings.Contains(st.Reason, "fatal")
	})
	released(1)
	pid := s.waitReady("app").Pid
	syscall.Kill(pid, syscall.SIGKILL)
	s.waitFor("app", 20*time.Second, "app restarted", func(st api.Status) bool {
		return st.State == api.StateRunning && st.Pid != pid && st.Restarts == 1
	})
	if out, code := s.ctl("reload"); code != 0 {
		t.Fatalf("supctl reload: exit %d: %s", code, out)
	}
	released(2)
}

// get GETs url and returns the status code and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// restartsMetric scrapes /metrics and returns
// sup_process_restarts_total{process=name,instance="0"}.
func restartsMetric(t *testing.T, base, name string) float64 {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	mf := families["sup_process_restarts_total"]
	if mf.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("sup_process_restarts_total: %v", mf)
	}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["process"] == name && labels["instance"] == "0" {
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no sup_process_restarts_total for %s in:\n%s", name, body)
	return 0
}

// The HTTP endpoint a Kubernetes pod probes: /readyz follows readiness,
// /healthz is up, /metrics counts restarts.
func TestHTTPEndpoint(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := startSupdWith(t, supdOptions{supervisor: fmt.Sprintf("http = %q", base[len("http://"):])},
		testappProcess(t, "slow", []string{"--delay", "1s"}, "")+`
process "x" {
  command = ["sleep", "1000"]
}`)
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "slow") {
		t.Fatalf("GET /readyz while slow starts = %d %q, want 503 naming slow", code, body)
	}
	eventually(t, 20*time.Second, "/readyz 200", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	})
	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz = %d %q", code, body)
	}
	if n := restartsMetric(t, base, "x"); n != 0 {
		t.Fatalf("restarts of x before any: %v", n)
	}
	syscall.Kill(s.waitReady("x").Pid, syscall.SIGKILL)
	eventually(t, 20*time.Second, "x's restart counted", func() bool { return restartsMetric(t, base, "x") == 1 })
}

// A child gets fds 0, 1 and 2, plus what its config passes: nothing of
// supd's leaks into it, not even fds supd inherited.
func TestChildFds(t *testing.T) {
	tests := []struct {
		name  string
		ready string
		want  string
	}{
		{"plain", "", "0 1 2"},
		{"notification_fd", `ready {
    notification_fd = 3
    timeout = "30s"
  }`, "0 1 2 3"},
		{"sockets", `sockets = ["a", "b"]
  ready {
    notification_fd = 5
    timeout = "30s"
  }`, "0 1 2 3 4 5"},
	}
	port := suptest.FreePorts(t, 1)[0]
	body := fmt.Sprintf(`
socket "a" { listen = "tcp://127.0.0.1:%d" }
socket "b" { listen = "unix://{{dir}}/b.sock" }`, port)
	for _, tt := range tests {
		body += fmt.Sprintf(`
process %q {
  command = ["sleep", "1000"]
  %s
}`, tt.name, tt.ready)
	}
	// supd itself inherits an fd it knows nothing of, as from a shell or
	// a CI runner: it must not pass it on.
	inherited, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer inherited.Close()
	s := startSupdWith(t, supdOptions{files: []*os.File{inherited}}, body)
	for _, tt := range tests {
		st := s.waitFor(tt.name, 20*time.Second, "spawned", func(st api.Status) bool { return st.Pid != 0 })
		// With sockets the child is supd's trampoline until it execs.
		eventually(t, 10*time.Second, "sleep running", func() bool {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", st.Pid))
			return strings.TrimSpace(string(comm)) == "sleep"
		})
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", st.Pid))
		if err != nil {
			t.Fatal(err)
		}
		var fds []string
		for _, e := range entries {
			fds = append(fds, e.Name())
		}
		if got := strings.Join(fds, " "); got != tt.want {
			t.Errorf("%s: the child has fds %s, want %s", tt.name, got, tt.want)
		}
	}
}

// Signals to supd: job-control signals and SIGPIPE do not stop it,
// SIGUSR1 reaches the children, and children start with every signal at
// its default and none blocked, even when supd was started with signals
// ignored and blocked.
func TestSignals(t *testing.T) {
	s := startSupdWith(t, carelessLauncher(), `
process "trap" {
  command = ["sh", "-c", "trap 'echo got-usr1 >> {{dir}}/usr1' USR1; touch {{dir}}/trapping; while :; do sleep 0.1; done"]
}
process "sleeper" {
  command = ["sleep", "1000"]
}`)
	for _, sig := range []syscall.Signal{syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGPIPE} {
		syscall.Kill(s.pid, sig)
		if out, code := s.ctl("status"); code != 0 {
			t.Fatalf("after %v, supctl status: exit %d: %s", sig, code, out)
		}
		if p, _ := suptest.ReadProc("/proc", s.pid); p.State == 'T' {
			t.Fatalf("supd is stopped after %v", sig)
		}
	}

	sleeper := s.waitReady("sleeper")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", sleeper.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		field, mask, _ := strings.Cut(l, ":\t")
		if (field == "SigIgn" || field == "SigBlk") && mask != "0000000000000000" {
			t.Errorf("a supervised sleep has signals in %s (%s), want none", field, mask)
		}
	}

	waitFile(t, filepath.Join(s.dir, "trapping"))
	syscall.Kill(s.pid, syscall.SIGUSR1)
	if got := waitFile(t, filepath.Join(s.dir, "usr1")); got != "got-usr1\n" {
		t.Fatalf("the child's USR1 trap wrote %q", got)
	}
}

// shutdown_timeout bounds the whole shutdown: past it, whatever is left
// is killed, process group included, even with a longer stop timeout.
func TestShutdownTimeout(t *testing.T) {
	terms := filepath.Join(t.TempDir(), "terms")
	s := startSupdWith(t, supdOptions{supervisor: `shutdown_timeout = "1s"`},
		testappProcess(t, "stubborn", []string{"--ignore-term", "--spawn-sleeper", "--term-file", terms}, `stop { timeout = "30s" }`))
	app := s.waitReady("stubborn")
	sleeper := firstChild(t, app.Pid, "sleeper started")
	begin := time.Now()
	code := s.terminate(20 * time.Second)
	took := time.Since(begin)
	if code != 0 {
		t.Errorf("supd exited %d after SIGTERM, want 0", code)
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("supd exited %s after SIGTERM, want about shutdown_timeout (1s)", took)
	}
	if strings.Count(waitFile(t, terms), "\n") != 1 {
		t.Errorf("the app did not get SIGTERM first")
	}
	for _, pid := range []int{app.Pid, sleeper} {
		if alive(pid) {
			t.Errorf("pid %d is still running after supd exited", pid)
		}
	}
}

// A descendant that left the process group (setsid, as a daemonizing
// child does) is still part of the process's tree: stopping reaches it too,
// with SIGKILL after the stop timeout when it ignores SIGTERM, so it does
// not outlive supd.
func TestShutdownReachesDescendantsOutsideTheGroup(t *testing.T) {
	s := startSupd(t, `
process "app" {
  command = ["sh", "-c", "setsid sh -c \"trap '' TERM; exec sleep 1000\" & exec sleep 1000"]
  stop { timeout = "300ms" }
}`)
	app := s.waitReady("app")
	var stray suptest.Proc
	eventually(t, 10*time.Second, "the setsid child started", func() bool {
		for _, p := range suptest.Children(app.Pid) {
			if sid, _ := unix.Getsid(p.Pid); sid == p.Pid {
				stray = p
				return true
			}
		}
		return false
	})
	if code := s.terminate(10 * time.Second); code != 0 {
		t.Errorf("supd exited %d after SIGTERM, want 0", code)
	}
	if p, ok := suptest.ReadProc("/proc", stray.Pid); ok && p.State != 'Z' {
		syscall.Kill(stray.Pid, syscall.SIGKILL)
		t.Fatalf("pid %d, which left the app's process group, outlived supd (state %c)", stray.Pid, p.State)
	}
}
