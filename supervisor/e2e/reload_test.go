package e2e

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// supctl reload re-reads the config: added processes start, removed ones
// stop, changed ones restart; unchanged ones keep their pid.
func TestReloadAppliesTheDifference(t *testing.T) {
	s := startSupd(t, `
process "keep" { command = ["sleep", "1000"] }
process "change" { command = ["sleep", "1000"] }
process "drop" { command = ["sleep", "1000"] }`)
	before := s.status()
	for _, n := range []string{"keep", "change", "drop"} {
		s.waitReady(n)
	}
	before = s.status()
	s.rewrite(`
process "keep" { command = ["sleep", "1000"] }
process "change" { command = ["sleep", "2000"] }
process "add" { command = ["sleep", "1000"] }`)
	if out, code := s.ctl("reload"); code != 0 {
		t.Fatalf("supctl reload: exit %d: %s", code, out)
	}
	s.waitReady("add")
	after := s.waitReady("change")
	st := s.status()
	if _, ok := st["drop"]; ok {
		t.Errorf("drop is still listed after reload: %+v", st["drop"])
	}
	if st["keep"].Pid != before["keep"].Pid {
		t.Errorf("unchanged process restarted: pid %d -> %d", before["keep"].Pid, st["keep"].Pid)
	}
	if after.Pid == before["change"].Pid {
		t.Errorf("changed process kept its pid %d", after.Pid)
	}
	eventually(t, 10*time.Second, "drop's process gone", func() bool { return !alive(before["drop"].Pid) })
}

// A reload with a bad config changes nothing and reports the diagnostics.
func TestReloadBadConfigChangesNothing(t *testing.T) {
	s := startSupd(t, `process "app" { command = ["sleep", "1000"] }`)
	first := s.waitReady("app")
	s.rewrite(`process "app" {
  command = ["sleep", "1000"]
  restart { policy = "sometimes" }
}`)
	out, code := s.ctl("reload")
	if code != 1 || !strings.Contains(out, "sup.hcl:") || !strings.Contains(out, "sometimes") {
		t.Fatalf("supctl reload with a bad config: exit %d:\n%s", code, out)
	}
	if st := s.status()["app"]; st.Pid != first.Pid || !st.Ready {
		t.Fatalf("after a refused reload: %+v (was pid %d)", st, first.Pid)
	}
}

// A dependency that goes fatal leaves its dependents waiting, with a reason.
func TestFatalDependencyLeavesDependentsWaiting(t *testing.T) {
	s := startSupd(t, fatalDependency(t, "db")+`
process "api" {
  command    = ["sleep", "1000"]
  depends_on = ["db"]
}`)
	s.waitState("db", api.StateFatal)
	st := s.waitFor("api", 10*time.Second, "waiting on a fatal db", func(st api.Status) bool {
		return strings.Contains(st.Reason, "waiting for db (fatal")
	})
	if st.Pid != 0 || st.State != api.StateStarting {
		t.Fatalf("api with a fatal dependency: %+v", st)
	}
}

// user = "..." runs the process as that user (needs root).
func TestRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: switching users")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	s := startSupd(t, `
process "app" {
  command = ["sleep", "1000"]
  user    = "nobody"
  dir     = "/" # nobody cannot enter the test's 0700 temp dir
}`)
	st := s.waitReady("app")
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nUid:\t"+u.Uid+"\t") {
		t.Fatalf("process does not run as nobody (uid %s):\n%s", u.Uid, b)
	}
}

// rewrite replaces the config file of s with body (plus the supervisor
// block).
func (s *supd) rewrite(body string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "sup.hcl"), []byte(config(s.dir, body)), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// supctl reload NAME restarts the instances one at a time: an instance
// is stopped only once the previous one is ready again, so the process is
// never down as a whole. --no-wait returns while the roll goes on.
func TestReloadNameRolls(t *testing.T) {
	ports := suptest.FreePorts(t, 2)
	p0, p1 := ports[0], ports[1]
	s := startSupd(t, fmt.Sprintf(`
process "app" {
  instances = 2
  command   = ["{{app}}", "--delay", "300ms", "--listen", "tcp:127.0.0.1:${[%d, %d][instance]}"]
  ready { tcp = "127.0.0.1:${[%d, %d][instance]}" }
}`, p0, p1, p0, p1))
	s.waitReady("app:0")
	s.waitReady("app:1")

	begin := time.Now()
	if out, code := s.ctl("reload", "--no-wait", "app"); code != 0 {
		t.Fatalf("supctl reload --no-wait app: exit %d: %s", code, out)
	}
	if took := time.Since(begin); took > 500*time.Millisecond {
		t.Errorf("reload --no-wait took %s: it waited for the roll (2 × 300ms binds)", took)
	}
	for _, n := range []string{"app:0", "app:1"} {
		s.waitFor(n, 20*time.Second, "rolled", func(st api.Status) bool { return st.Ready && st.Restarts == 1 })
	}
	// supd logs every transition from its loop, in order.
	ready0 := s.logTime(t, `"instance":0`, `"from":"starting"`, `"message":"running"`, 2)
	stop1 := s.logTime(t, `"instance":1`, `"message":"stopping"`, "", 1)
	if stop1.Before(ready0) {
		t.Fatalf("app:1 was stopped at %s, before app:0 was ready again at %s", stop1, ready0)
	}
}

// logTime returns the time of the nth record of supd's log containing all
// of the given fragments (empty ones are ignored).
func (s *supd) logTime(t *testing.T, a, b, c string, nth int) time.Time {
	t.Helper()
	return logTime(t, s.logLine(t, nth, a, b, c))
}

// logLine returns the nth record of supd's log containing all of frags
// (empty ones are ignored).
func (s *supd) logLine(t *testing.T, nth int, frags ...string) string {
	t.Helper()
	for _, l := range strings.Split(s.out.String(), "\n") {
		if !slices.ContainsFunc(frags, func(f string) bool { return !strings.Contains(l, f) }) {
			if nth--; nth == 0 {
				return l
			}
		}
	}
	t.Fatalf("no record %d with %q in supd's log", nth, frags)
	return ""
}

// A reload that changes the restart block changes the policy applied to
// the next exit.
func TestReloadChangesRestartPolicy(t *testing.T) {
	s := startSupd(t, `process "app" { command = ["sleep", "1000"] }`)
	s.waitReady("app")
	s.rewrite(`process "app" {
  command = ["sleep", "1000"]
  restart { policy = "never" }
}`)
	if out, code := s.ctl("reload"); code != 0 {
		t.Fatalf("supctl reload: exit %d: %s", code, out)
	}
	st := s.waitReady("app") // restarted with the new spec
	syscall.Kill(st.Pid, syscall.SIGKILL)
	if st := s.waitState("app", api.StateExited); st.Restarts != 1 {
		t.Fatalf("after kill -9 with policy never: %+v", st)
	}
}
