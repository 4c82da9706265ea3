package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// heldApp is a config with one process of n instances serving a socket held
// by supd, ready within readyTimeout; each spawn boots for 100ms before it
// accepts.
func heldApp(port, n int, command, readyTimeout string) string {
	return fmt.Sprintf(`
socket "web" { listen = "tcp://127.0.0.1:%d" }
process "app" {
  command   = %s
  instances = %d
  sockets   = ["web"]
  ready { timeout = %q }
  stop { drain = "50ms" }
}`, port, command, n, readyTimeout)
}

// bootTimeout is the ready timeout of a spawn that is to get ready: on this
// shared machine (load average about 20) the race-built trampoline and
// testapp take 0.3 to 1.5s from spawn to accepting, and once 3.0s.
const bootTimeout = "15s"

const bootingApp = `["{{app}}", "--listen-fds", "--graceful", "--delay", "100ms"]`

// 20 `supctl reload app` under load: each instance's replacement starts
// beside it and takes over once it accepts, then the old one is drained and
// stopped; an app that finishes its requests in flight on SIGTERM (as
// production servers do: --graceful) loses none, and no connection is
// refused, with one instance as with two.
func TestRollingReloadUnderLoadDropsNothing(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("instances=%d", n), func(t *testing.T) {
			port := suptest.FreePorts(t, 1)[0]
			s := startSupd(t, heldApp(port, n, bootingApp, bootTimeout))
			name := "app"
			if n > 1 {
				name = "app:0"
			}
			s.waitReady(name)
			stop := make(chan struct{})
			res := load(fmt.Sprintf("http://127.0.0.1:%d/", port), 8, stop)
			eventually(t, 5*time.Second, "requests served", func() bool { return res.ok.Load() > 0 })
			const reloads = 20
			for k := range reloads {
				before := s.status()
				if out, code := s.ctl("reload", "--timeout", "20s", "app"); code != 0 {
					close(stop)
					t.Fatalf("reload %d: exit %d: %s", k, code, out)
				}
				for _, st := range s.status() {
					// The reload returns once every replacement is ready; an old
					// spawn may still be draining (replacing_pid).
					if st.Pid == before[st.Name].Pid || !st.Ready {
						t.Errorf("reload %d: %s after the roll: pid %d (was %d), ready %v",
							k, st.Name, st.Pid, before[st.Name].Pid, st.Ready)
					}
				}
			}
			served := res.ok.Load()
			eventually(t, 5*time.Second, "served after the last reload", func() bool { return res.ok.Load() > served })
			close(stop)
			t.Logf("%d reloads: ok %d, refused %d, other %d (last: %v)", reloads, res.ok.Load(), res.refused.Load(), res.other.Load(), res.lastOther.Load())
			if res.refused.Load() != 0 || res.other.Load() != 0 {
				t.Errorf("%d refused and %d failed requests over %d reloads, want 0 and 0 (last: %v)",
					res.refused.Load(), res.other.Load(), reloads, res.lastOther.Load())
			}
		})
	}
}

// A config reload whose new command never takes connections from the held
// socket: the replacement is shown beside the old spawn (replacing_pid), is
// stopped after its ready timeout, the old spawn keeps serving, and the
// reload fails with the reason.
func TestRollingReloadReplacementNeverReady(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, heldApp(port, 1, bootingApp, bootTimeout))
	old := s.waitReady("app")
	stop := make(chan struct{})
	res := load(fmt.Sprintf("http://127.0.0.1:%d/", port), 4, stop)
	defer close(stop)
	eventually(t, 5*time.Second, "requests served", func() bool { return res.ok.Load() > 0 })

	s.rewrite(heldApp(port, 1, `["sleep", "1000"]`, "3s"))
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, code := s.ctl("reload", "--timeout", "20s")
		done <- result{out, code}
	}()
	s.waitFor("app", 10*time.Second, "the replacement beside the old spawn", func(st api.Status) bool {
		return st.ReplacingPid == old.Pid && st.Pid != old.Pid && st.Pid != 0
	})
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("supctl reload did not return")
	}
	if r.code != 1 || !strings.Contains(r.out, "not ready") {
		t.Errorf("supctl reload: exit %d, want 1 with the reason (not ready):\n%s", r.code, r.out)
	}
	st := s.waitFor("app", 10*time.Second, "the old spawn serving alone", func(st api.Status) bool {
		return st.Pid == old.Pid && st.ReplacingPid == 0
	})
	if !st.Ready || !alive(old.Pid) {
		t.Errorf("old spawn %d: ready %v, alive %v; want it serving", old.Pid, st.Ready, alive(old.Pid))
	}
	served := res.ok.Load()
	eventually(t, 5*time.Second, "still served by the old spawn", func() bool { return res.ok.Load() > served })
	if res.refused.Load() != 0 || res.other.Load() != 0 {
		t.Errorf("%d refused and %d failed requests, want 0 (last: %v)", res.refused.Load(), res.other.Load(), res.lastOther.Load())
	}
}
