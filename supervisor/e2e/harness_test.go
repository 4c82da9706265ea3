// Package e2e tests supd and supctl as a user runs them: real binaries, a
// real config file, real child processes and sockets.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// bin holds the binaries built once for all tests: supd, supctl, testapp.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sup-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	// The binaries are built with -race; its runtime sleeps 1s at exit
	// by default, which would make every supctl call take a second.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	if err := suptest.Build(dir, nil, "-race"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of os/exec.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// supd is one running supd under test.
type supd struct {
	t      *testing.T
	dir    string
	socket string
	cmd    *exec.Cmd
	out    *syncBuffer // stdout and stderr (supd's log)
	done   chan struct{}
	code   int
	pid    int // supd's own pid: cmd's, unless supdOptions.wrap runs it
}

// supdOptions are the less common ways to run supd; the zero value is
// what startSupd does.
type supdOptions struct {
	// supervisor holds attributes of the supervisor block besides socket;
	// shutdown_timeout is "20s" unless it sets it.
	supervisor string
	env        []string // added to supd's environment
	// wrap runs supd as `wrap... supd ARGS` (unshare, a shell that
	// execs it); supd is then that command or one of its children.
	wrap []string
	// files are inherited by supd as fds 3, 4, ... (not close-on-exec),
	// as a careless parent would leave them.
	files []*os.File
	args  []string // supd flags before the config path
}

// config renders an HCL body for a test: it gets a supervisor block with a
// socket in the test's dir, and {{dir}} and {{app}} are replaced.
func config(dir, body string) string {
	return configWith(dir, "", body)
}

// configWith is config with more supervisor attributes.
func configWith(dir, supervisor, body string) string {
	if !strings.Contains(supervisor, "shutdown_timeout") {
		supervisor += "\n  shutdown_timeout = \"20s\""
	}
	r := strings.NewReplacer("{{dir}}", dir, "{{app}}", filepath.Join(bin, "testapp"))
	return fmt.Sprintf("supervisor {\n  socket = %q\n  %s\n}\n%s", filepath.Join(dir, "supd.sock"), strings.TrimSpace(supervisor), r.Replace(body))
}

// startSupd writes the config and starts supd on it, waiting until its
// control socket answers.
func startSupd(t *testing.T, body string, extraEnv ...string) *supd {
	t.Helper()
	return startSupdWith(t, supdOptions{env: extraEnv}, body)
}

// startSupdWith is startSupd with options.
func startSupdWith(t *testing.T, o supdOptions, body string) *supd {
	t.Helper()
	s := launchSupdWith(t, o, body)
	s.waitAnswering()
	return s
}

// waitAnswering waits until supd answers on its control socket.
func (s *supd) waitAnswering() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, code := s.ctl("status", "--json"); code == 0 {
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("supd exited %d before answering:\n%s", s.code, s.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("supd did not answer on its socket:\n%s", s.out)
		}
	}
}

// launchSupd starts supd without waiting for it.
func launchSupd(t *testing.T, body string, extraEnv ...string) *supd {
	t.Helper()
	return launchSupdWith(t, supdOptions{env: extraEnv}, body)
}

// launchSupdWith is launchSupd with options.
func launchSupdWith(t *testing.T, o supdOptions, body string) *supd {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "sup.hcl")
	if err := os.WriteFile(path, []byte(configWith(dir, o.supervisor, body)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &supd{t: t, dir: dir, socket: filepath.Join(dir, "supd.sock"), out: &syncBuffer{}, done: make(chan struct{})}
	argv := append(slices.Clone(o.wrap), filepath.Join(bin, "supd"), "--log-format", "json")
	argv = append(append(argv, o.args...), path)
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.Env = append(os.Environ(), o.env...)
	s.cmd.ExtraFiles = o.files
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		s.cmd.Wait()
		s.code = s.cmd.ProcessState.ExitCode()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.terminate(30 * time.Second)
		if strings.Contains(s.out.String(), "DATA RACE") {
			t.Error("the race detector found a data race in supd")
		}
		if t.Failed() {
			t.Logf("supd output:\n%s", s.out)
		}
	})
	if o.wrap != nil {
		s.pid = s.findSupd()
	}
	return s
}

// findSupd waits until the wrapper has become supd (exec) or started it,
// and returns supd's pid; the wrapper's when it has exited already (supd
// may have been quick to exit, as a test may want).
func (s *supd) findSupd() int {
	s.t.Helper()
	wrapper := s.cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, p := range append([]suptest.Proc{{Pid: wrapper}}, suptest.Children(wrapper)...) {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.Pid)); strings.TrimSpace(string(comm)) == "supd" {
				return p.Pid
			}
		}
		select {
		case <-s.done:
			return wrapper
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not start supd within 10s:\n%s", s.cmd.Path, s.out)
		}
	}
}

// terminate sends SIGTERM to supd and waits for it (or its wrapper) to
// exit; after d, it kills the whole process group it was started in.
func (s *supd) terminate(d time.Duration) int {
	select {
	case <-s.done:
		return s.code
	default:
	}
	syscall.Kill(s.pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(d):
		s.t.Errorf("supd did not exit within %s of SIGTERM", d)
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	return s.code
}

// ctl runs supctl against this supd and returns its stdout and exit code.
func (s *supd) ctl(args ...string) (string, int) {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(bin, "supctl"), append([]string{"--socket", s.socket}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.t.Fatalf("supctl: %v", err)
		}
		code = ee.ExitCode()
	}
	return out.String() + errb.String(), code
}

// status returns the status of every instance, by name.
func (s *supd) status() map[string]api.Status {
	s.t.Helper()
	out, code := s.ctl("status", "--json")
	if code != 0 {
		s.t.Fatalf("supctl status --json: exit %d: %s", code, out)
	}
	var sts []api.Status
	if err := json.Unmarshal([]byte(out), &sts); err != nil {
		s.t.Fatalf("status JSON: %v\n%s", err, out)
	}
	m := make(map[string]api.Status, len(sts))
	for _, st := range sts {
		m[st.Name] = st
	}
	return m
}

// waitFor polls the status of name until ok holds, failing after d.
func (s *supd) waitFor(name string, d time.Duration, what string, ok func(api.Status) bool) api.Status {
	s.t.Helper()
	deadline := time.Now().Add(d)
	var st api.Status
	for time.Now().Before(deadline) {
		st = s.status()[name]
		if ok(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s: not %s within %s; last status: %+v", name, what, d, st)
	return st
}

func (s *supd) waitReady(name string) api.Status {
	s.t.Helper()
	return s.waitFor(name, 20*time.Second, "ready", func(st api.Status) bool { return st.Ready })
}

func (s *supd) waitState(name, state string) api.Status {
	s.t.Helper()
	return s.waitFor(name, 20*time.Second, state, func(st api.Status) bool { return st.State == state })
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	p, ok := suptest.ReadProc("/proc", pid)
	return ok && p.State != 'Z'
}

// firstChild waits until pid has a child and returns the child's pid.
func firstChild(t *testing.T, pid int, what string) int {
	t.Helper()
	var child int
	eventually(t, 10*time.Second, what, func() bool {
		if kids := suptest.Children(pid); len(kids) > 0 {
			child = kids[0].Pid
		}
		return child != 0
	})
	return child
}

// fatalDependency is a process called name that exits before it binds
// its ready port, twice: it ends fatal, and whatever depends on it waits.
func fatalDependency(t *testing.T, name string) string {
	return fmt.Sprintf(`
process %q {
  command = ["sh", "-c", "exit 2"]
  ready { tcp = "127.0.0.1:%d" }
  restart {
    backoff      = "10ms"
    max_restarts = 1
  }
}
`, name, suptest.FreePorts(t, 1)[0])
}

// eventually polls cond until it holds, failing after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events streams supd's events into a channel until the test ends.
func (s *supd) events() <-chan api.Event {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "supctl"), "--socket", s.socket, "events", "--json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	ch := make(chan api.Event, 1024)
	go func() {
		defer cmd.Wait()
		dec := json.NewDecoder(stdout)
		for {
			var e api.Event
			if err := dec.Decode(&e); err != nil {
				close(ch)
				return
			}
			ch <- e
		}
	}()
	return ch
}

// decoyPort listens on a free loopback port from this test process (a decoy
// or squatter supd must not count as the app) until the test ends, and
// returns the port.
func decoyPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
