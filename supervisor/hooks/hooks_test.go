package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/reaper"
)

// syncBuffer is supd's log in a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loadHooks loads the hook blocks of hcl, beside a process "api".
func loadHooks(t *testing.T, hcl string) []*config.Hook {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "sup.hcl")
	src := "process \"api\" { command = [\"x\"] }\nprocess \"db\" { command = [\"y\"] }\n" + hcl
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Hooks
}

// start runs a Runner with a reaper of its own until the test ends.
func start(t *testing.T, hooks []*config.Hook, opts Options) (*Runner, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rp := reaper.New(nil)
	go rp.Reap(ctx)
	logs := &syncBuffer{}
	opts.Log = zerolog.New(logs)
	opts.Starter = rp
	opts.Env = []string{"PATH=" + os.Getenv("PATH")}
	r := New(hooks, opts)
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r, logs
}

// eventually polls cond until it holds, failing the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func crash(code int) Event {
	return Event{Kind: Crash, Time: time.Now(), Name: "api", Process: "api", State: "backoff",
		Pid: 4242, ExitCode: &code, Restarts: 3, Reason: "exited with code " + strconv.Itoa(code)}
}

func TestCommandGetsEnvironmentAndLastLines(t *testing.T) {
	dir := t.TempDir()
	hooks := loadHooks(t, `hook "crash" {
  command = ["sh", "-c", "env | grep ^SUP_ | sort > `+dir+`/env; cat > `+dir+`/stdin; echo said by the hook", "${name}"]
}
hook "fatal" { command = ["sh", "-c", "echo wrong > `+dir+`/fatal"] }
hook "crash" {
  command   = ["sh", "-c", "echo wrong > `+dir+`/db"]
  processes = ["db"]
}`)
	r, logs := start(t, hooks, Options{LastLines: func(name string) []string {
		return []string{name + " line 1", name + " line 2"}
	}})
	r.Fire(crash(3))
	eventually(t, "the hook's output in supd's log", func() bool { return strings.Contains(logs.String(), "said by the hook") })
	wantEnv := []string{
		"SUP_COUNT=1", "SUP_EVENT=crash", "SUP_EXIT_CODE=3", "SUP_EXIT_SIGNAL=", "SUP_INSTANCE=0", "SUP_NAME=api",
		"SUP_PID=4242", "SUP_PROCESS=api", "SUP_REASON=exited with code 3", "SUP_RESTARTS=3",
	}
	if got := strings.Split(strings.TrimSpace(readFile(filepath.Join(dir, "env"))), "\n"); !slices.Equal(got, wantEnv) {
		t.Errorf("env:\n%q\nwant\n%q", got, wantEnv)
	}
	if got := readFile(filepath.Join(dir, "stdin")); got != "api line 1\napi line 2\n" {
		t.Errorf("stdin: %q", got)
	}
	for _, f := range []string{"fatal", "db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("the %s hook ran for a crash of api", f)
		}
	}
}

func TestCrashLoopRunsOncePerWindowWithCount(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "counts")
	hooks := loadHooks(t, `hook "crash" { command = ["sh", "-c", "echo $SUP_COUNT $SUP_EXIT_CODE >> `+out+`"] }`)
	const window = 500 * time.Millisecond
	r, _ := start(t, hooks, Options{Window: window})
	for code := 1; code <= 5; code++ {
		r.Fire(crash(code))
	}
	// The first at once; the four others in one run at the end of the
	// window, with the latest event's fields.
	eventually(t, "two runs", func() bool { return strings.Count(readFile(out), "\n") == 2 })
	if got := readFile(out); got != "1 1\n4 5\n" {
		t.Fatalf("runs: %q, want \"1 1\\n4 5\\n\"", got)
	}
	// Quiet for a window: the next crash runs at once, for itself alone.
	time.Sleep(window) // the window must pass: that is what is tested
	r.Fire(crash(9))
	eventually(t, "the third run", func() bool { return strings.Count(readFile(out), "\n") == 3 })
	if got := readFile(out); got != "1 1\n4 5\n1 9\n" {
		t.Fatalf("runs: %q", got)
	}
}

func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	hooks := loadHooks(t, `hook "crash" {
  command = ["sh", "-c", "sleep 1000 & echo $! > `+pidFile+`; wait"]
  timeout = "300ms"
}`)
	r, logs := start(t, hooks, Options{})
	r.Fire(crash(1))
	eventually(t, "the grandchild's pid", func() bool { return strings.HasSuffix(readFile(pidFile), "\n") })
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the timeout to be logged", func() bool { return strings.Contains(logs.String(), "hook timed out") })
	// The grandchild is a child of this test process (no subreaper): it
	// is gone once the reaper reaped it.
	eventually(t, "the grandchild to be gone", func() bool { return syscall.Kill(pid, 0) != nil })
}

func TestFailureIsLogged(t *testing.T) {
	hooks := loadHooks(t, `hook "ready" { command = ["sh", "-c", "exit 7"] }
hook "ready" { command = ["/nonexistent/alert"] }`)
	r, logs := start(t, hooks, Options{})
	r.Fire(Event{Kind: Ready, Name: "api", Process: "api", State: "running"})
	eventually(t, "both failures logged", func() bool {
		s := logs.String()
		return strings.Contains(s, `"exit_code":7`) && strings.Contains(s, "hook command cannot be started")
	})
}

func TestURLHookPostsTheEvent(t *testing.T) {
	got := make(chan Payload, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p Payload
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- p
	}))
	defer srv.Close()
	hooks := loadHooks(t, `hook "fatal" { url = "`+srv.URL+`/alert" }`)
	r, _ := start(t, hooks, Options{LastLines: func(string) []string { return []string{"panic: boom"} }})
	sig := "SIGSEGV"
	r.Fire(Event{Kind: Fatal, Name: "api", Process: "api", State: "fatal", ExitSignal: &sig, Restarts: 9, Reason: "max_restarts"})
	select {
	case p := <-got:
		if p.Event != Fatal || p.Name != "api" || p.ExitSignal == nil || *p.ExitSignal != "SIGSEGV" || p.ExitCode != nil ||
			p.Restarts != 9 || p.Count != 1 || !slices.Equal(p.Lines, []string{"panic: boom"}) {
			t.Errorf("posted %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing posted")
	}
}

func TestFireNeverBlocks(t *testing.T) {
	hooks := loadHooks(t, `hook "crash" { command = ["true"] }`)
	r := New(hooks, Options{Log: zerolog.Nop()}) // Run never started: nothing drains the queue
	for range queueSize + 10 {
		r.Fire(crash(1))
	}
	if d := r.Dropped(); d != 10 {
		t.Errorf("dropped %d, want 10", d)
	}
}
