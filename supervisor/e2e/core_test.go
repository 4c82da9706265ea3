package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

func TestProcessesComeUpAndRestartAfterKill(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, fmt.Sprintf(`
process "web" {
  command = ["{{app}}", "--listen", "tcp:127.0.0.1:%d"]
  ready { tcp = "127.0.0.1:%d" }
}
process "worker" {
  command   = ["sleep", "1000"]
  instances = 2
}`, port, port))
	web := s.waitReady("web")
	if web.State != api.StateRunning || web.Pid == 0 || web.Restarts != 0 || web.Process != "web" || web.Instance != 0 {
		t.Fatalf("web: %+v", web)
	}
	if want := fmt.Sprintf("tcp:127.0.0.1:%d", port); len(web.Listening) != 1 || web.Listening[0] != want {
		t.Fatalf("web listening %v, want [%s]", web.Listening, want)
	}
	for _, n := range []string{"worker:0", "worker:1"} {
		if st := s.waitReady(n); st.Process != "worker" || st.Pid == 0 {
			t.Fatalf("%s: %+v", n, st)
		}
	}

	syscall.Kill(web.Pid, syscall.SIGKILL)
	after := s.waitFor("web", 20*time.Second, "restarted", func(st api.Status) bool {
		return st.Ready && st.Pid != web.Pid && st.Restarts == 1
	})
	if after.ExitSignal == nil || *after.ExitSignal != "SIGKILL" || after.ExitCode != nil {
		t.Fatalf("after kill -9: exit_code %v exit_signal %v", after.ExitCode, after.ExitSignal)
	}

	table, code := s.ctl("status")
	if code != 0 || !strings.Contains(table, "NAME") || !strings.Contains(table, "worker:1") || !strings.Contains(table, "SIGKILL") {
		t.Fatalf("supctl status (exit %d):\n%s", code, table)
	}
}

func TestCrashLoopBacksOffThenFatal(t *testing.T) {
	s := startSupd(t, `
process "crashy" {
  command = ["sh", "-c", "exit 3"]
  restart {
    backoff      = "50ms"
    max_backoff  = "1s"
    max_restarts = 5
    window       = "1m"
  }
}`)
	cpu0, wall0 := cpuTime(t, s.cmd.Process.Pid), time.Now()
	st := s.waitFor("crashy", 30*time.Second, "fatal", func(st api.Status) bool { return st.State == api.StateFatal })
	// A crash loop burns no CPU in supd: it waits on timers and SIGCHLD.
	// (Generous bound: this supd is built with -race and serves the polls.)
	if used, wall := cpuTime(t, s.cmd.Process.Pid)-cpu0, time.Since(wall0); used > wall/5 {
		t.Errorf("supd used %s of CPU in %s of crash loop", used, wall)
	}
	if st.Restarts != 5 || st.ExitCode == nil || *st.ExitCode != 3 || !strings.Contains(st.Reason, "gave up after 5 restarts") {
		t.Fatalf("fatal status: %+v", st)
	}
	// The delays doubled: each backoff record says its delay, and the
	// records are logged with their times (a delay is a lower bound of the
	// time between two records; spawn times vary with the machine's load).
	var starts []time.Time
	var delays []time.Duration
	for _, l := range strings.Split(s.out.String(), "\n") {
		if strings.Contains(l, `"process":"crashy"`) && strings.Contains(l, `"message":"backoff"`) {
			starts = append(starts, logTime(t, l))
			_, after, _ := strings.Cut(l, "restarting in ")
			d, err := time.ParseDuration(strings.TrimRight(after[:strings.IndexAny(after+`"`, `"`)], " "))
			if err != nil {
				t.Fatalf("no delay in %s: %v", l, err)
			}
			delays = append(delays, d)
		}
	}
	if len(starts) < 5 {
		t.Fatalf("%d backoff records in the log", len(starts))
	}
	for k, d := range delays[:5] {
		if want := 50 * time.Millisecond << k; d != want {
			t.Errorf("backoff %d: restarting in %s, want %s", k, d, want)
		}
		if k > 0 && starts[k].Sub(starts[k-1]) < delays[k-1] {
			t.Errorf("backoff %d came %s after the previous one, which said %s", k, starts[k].Sub(starts[k-1]), delays[k-1])
		}
	}
}

func TestPoliciesAndOneshotEndExited(t *testing.T) {
	s := startSupd(t, `
process "never" {
  command = ["sh", "-c", "exit 4"]
  restart { policy = "never" }
}
process "onfail" {
  command = ["sh", "-c", "exit 0"]
  restart { policy = "on-failure" }
}
process "once" {
  type    = "oneshot"
  command = ["sh", "-c", "echo migrated"]
}
process "after" {
  command    = ["sleep", "1000"]
  depends_on = ["once"]
}`)
	never := s.waitState("never", api.StateExited)
	if never.Ready || never.ExitCode == nil || *never.ExitCode != 4 || never.Restarts != 0 {
		t.Fatalf("never: %+v", never)
	}
	if st := s.waitState("onfail", api.StateExited); st.ExitCode == nil || *st.ExitCode != 0 || st.Restarts != 0 {
		t.Fatalf("on-failure: %+v", st)
	}
	once := s.waitState("once", api.StateExited)
	if !once.Ready || *once.ExitCode != 0 {
		t.Fatalf("oneshot: %+v", once)
	}
	s.waitReady("after") // a oneshot that exited 0 satisfies depends_on
	logs, code := s.ctl("logs", "once")
	if code != 0 || !strings.Contains(logs, "migrated") {
		t.Fatalf("supctl logs once (exit %d): %s", code, logs)
	}
}

func TestStopStartRestart(t *testing.T) {
	s := startSupd(t, `
process "app" {
  command   = ["sleep", "1000"]
  instances = 2
}`)
	first := s.waitReady("app:0")
	s.waitReady("app:1")

	if out, code := s.ctl("stop", "app:0"); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, out)
	}
	st := s.status()
	if st["app:0"].State != api.StateStopped || st["app:0"].Pid != 0 || st["app:1"].State != api.StateRunning {
		t.Fatalf("after stop app:0: %+v", st)
	}
	if alive(first.Pid) {
		t.Fatalf("pid %d still alive after stop", first.Pid)
	}
	if out, code := s.ctl("start", "app"); code != 0 {
		t.Fatalf("start: exit %d: %s", code, out)
	}
	if st := s.status()["app:0"]; !st.Ready || st.Pid == first.Pid {
		t.Fatalf("after start: %+v", st)
	}
	before := s.status()["app:1"]
	if out, code := s.ctl("restart", "app:1"); code != 0 {
		t.Fatalf("restart: exit %d: %s", code, out)
	}
	after := s.status()["app:1"]
	if !after.Ready || after.Pid == before.Pid || after.Restarts != before.Restarts+1 {
		t.Fatalf("restart: before %+v after %+v", before, after)
	}
	if out, code := s.ctl("stop", "nosuch"); code != 2 || !strings.Contains(out, "nosuch") { // an unknown NAME is a usage error
		t.Fatalf("stop nosuch: exit %d: %s", code, out)
	}
}

// SIGTERM to supd stops every process, grandchildren included, in time,
// and supd exits 0.
func TestSigtermStopsEverythingWithGrandchildren(t *testing.T) {
	s := startSupd(t, `
process "shell" {
  command = ["sh", "-c", "sleep 1000 & wait"]
  stop { timeout = "5s" }
}
process "stubborn" {
  command = ["{{app}}", "--ignore-term"]
  stop { timeout = "1s" }
}`)
	sh := s.waitReady("shell")
	stubborn := s.waitReady("stubborn")
	sleeper := firstChild(t, sh.Pid, "sleep started")
	begin := time.Now()
	if code := s.terminate(15 * time.Second); code != 0 {
		t.Fatalf("supd exit code %d after SIGTERM, want 0", code)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("shutdown took %s, stop timeouts are 5s and 1s", took)
	}
	for _, pid := range []int{sh.Pid, sleeper, stubborn.Pid} {
		if alive(pid) {
			t.Errorf("pid %d is still running after supd exited", pid)
		}
	}
	if _, err := os.Stat(s.socket); err == nil {
		t.Errorf("control socket %s left behind", s.socket)
	}
}

func TestBadConfigStartsNothing(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	path := filepath.Join(dir, "bad.hcl")
	body := fmt.Sprintf(`process "ok" {
  command = ["touch", %q]
}
process "bad" {
  command = ["true"]
  restart { backoff = "soon" }
}
`, marker)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "supd"), path)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("supd on a bad config: %v\n%s", err, out)
	}
	if want := path + ":6:"; !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), ": error: ") {
		t.Fatalf("diagnostic does not start with %q:\n%s", want, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a process was started from a bad config")
	}
	check, err := exec.Command(filepath.Join(bin, "supd"), "--check", path).CombinedOutput()
	if err == nil || !strings.Contains(string(check), "soon") {
		t.Fatalf("supd --check on a bad config: %v\n%s", err, check)
	}
}

// logTime reads the time field of a JSON log record.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	i := strings.Index(line, `"time":"`)
	if i < 0 {
		t.Fatalf("no time in %s", line)
	}
	rest := line[i+8:]
	ts, err := time.Parse(time.RFC3339Nano, rest[:strings.IndexByte(rest, '"')])
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// cpuTime is the user+system CPU time pid has used (from /proc, in clock
// ticks of 10ms).
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
