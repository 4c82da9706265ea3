package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testapp is the path of the built supervisor/internal/testapp.
var testapp string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "probe-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testapp = filepath.Join(dir, "testapp")
	build := exec.Command("go", "build", "-o", testapp, "../supervisor/internal/testapp")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build testapp:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// app is a running testapp, in its own process group.
type app struct {
	cmd *exec.Cmd
	pid int
}

// appOpts are how a test starts testapp beyond its flags.
type appOpts struct {
	env    []string
	files  map[int]*os.File // by fd number in the child, >= 3
	stdout io.Writer
}

// startApp starts testapp with args; the test's cleanup kills its process
// group and reaps it.
func startApp(t testing.TB, o appOpts, args ...string) *app {
	t.Helper()
	cmd := exec.Command(testapp, args...)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Stdout, cmd.Stderr = o.stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	for fd, f := range o.files {
		for len(cmd.ExtraFiles) < fd-2 {
			cmd.ExtraFiles = append(cmd.ExtraFiles, nil)
		}
		cmd.ExtraFiles[fd-3] = f
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &app{cmd: cmd, pid: cmd.Process.Pid}
	t.Cleanup(a.kill)
	return a
}

// kill kills the app's process group and reaps the app. Safe to call twice.
func (a *app) kill() {
	syscall.Kill(-a.pid, syscall.SIGKILL)
	if a.cmd.ProcessState == nil {
		a.cmd.Wait()
	}
}

// startReady starts testapp listening on a free port of 127.0.0.1, with
// more args, and waits until it is ready there.
func startReady(t testing.TB, args ...string) (a *app, tree *Tree, addr string) {
	t.Helper()
	addr = tcpAddr(freePort(t))
	r := newReadiness(t, "api", ReadySpec{TCP: addr})
	a = startApp(t, appOpts{}, append([]string{"--listen", "tcp:" + addr}, args...)...)
	r.Started(a.pid)
	tree = NewTree(a.pid)
	waitReady(t, r, tree)
	return a, tree, addr
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// progressLog records the progress reports of one Wait.
type progressLog struct {
	results []Result
	stop    func(Result) bool // cancel the wait when it returns true
	cancel  context.CancelFunc
	matched *Result
}

func (p *progressLog) report(r Result) {
	p.results = append(p.results, r)
	if p.stop != nil && p.stop(r) && p.matched == nil {
		p.matched = &r
		p.cancel()
	}
}

func (p *progressLog) reasons() []string {
	var rs []string
	for _, r := range p.results {
		rs = append(rs, r.Reason)
	}
	return rs
}

// wait runs r.Wait for tree, at most timeout, stopping early when stop
// (if any) accepts a report.
func wait(t testing.TB, r *Readiness, tree *Tree, timeout time.Duration, stop func(Result) bool) (*progressLog, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p := &progressLog{stop: stop, cancel: cancel}
	err := r.Wait(ctx, tree, p.report)
	return p, err
}

// waitReady waits for readiness and fails the test without it.
func waitReady(t testing.TB, r *Readiness, tree *Tree) *progressLog {
	t.Helper()
	p, err := wait(t, r, tree, 10*time.Second, nil)
	if err != nil {
		t.Fatalf("not ready: %v; reasons: %q", err, p.reasons())
	}
	if last := p.results[len(p.results)-1]; !last.Ready || last.Reason != "" {
		t.Fatalf("last report %+v, want ready", last)
	}
	return p
}

// waitReason waits until the reason is want, and fails the test if it
// never is.
func waitReason(t testing.TB, r *Readiness, tree *Tree, want string) *progressLog {
	t.Helper()
	p, _ := wait(t, r, tree, 10*time.Second, func(res Result) bool { return res.Reason == want })
	if p.matched == nil {
		t.Fatalf("reason never %q; got %q", want, p.reasons())
	}
	return p
}

// newReadiness is NewReadiness with the test's cleanup closing it.
func newReadiness(t testing.TB, name string, spec ReadySpec) *Readiness {
	t.Helper()
	r, err := NewReadiness(name, spec, t.TempDir(), execRunner{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// execRunner is a Runner through os/exec, for tests only (supd's own goes
// through its reaper).
type execRunner struct{}

var _ Runner = execRunner{}

func (execRunner) Run(ctx context.Context, argv []string, dir string, env []string) (int, []byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = env
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out, nil
	}
	if err != nil {
		return -1, out, err
	}
	return 0, out, nil
}

// lines feeds every line written to the returned writer to fn.
func lines(t testing.TB, fn func(line []byte)) io.Writer {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fn(sc.Bytes())
		}
	}()
	t.Cleanup(func() {
		pw.Close()
		<-done
	})
	return pw
}

// selfComm is the comm of the test process.
func selfComm(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func tcpAddr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
