package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// Ways an app can become ready, each through supd end to end.
func TestReadinessKinds(t *testing.T) {
	tests := []struct {
		name   string
		listen string // testapp --listen; {{port}} replaced
		extra  string // more testapp args
		ready  string // ready block body
		want   string // listening entry expected; "" = none checked
	}{
		{"tcp", "tcp:127.0.0.1:{{port}}", `"--delay", "200ms"`, `tcp = "127.0.0.1:{{port}}"`, "tcp:127.0.0.1:{{port}}"},
		{"ipv6", "tcp:[::1]:{{port}}", "", `tcp = "[::1]:{{port}}"`, "tcp:[::1]:{{port}}"},
		{"wildcard covers loopback", "tcp:0.0.0.0:{{port}}", "", `tcp = "127.0.0.1:{{port}}"`, "tcp:0.0.0.0:{{port}}"},
		{"forked grandchild holds it", "tcp:127.0.0.1:{{port}}", `"--fork"`, `tcp = "127.0.0.1:{{port}}"`, "tcp:127.0.0.1:{{port}}"},
		{"unix", "unix:{{dir}}/app.sock", "", `unix = "{{dir}}/app.sock"`, "unix:{{dir}}/app.sock"},
		{"notify", "tcp:127.0.0.1:{{port}}", `"--notify"`, `notify = true`, ""},
		{"notification_fd", "tcp:127.0.0.1:{{port}}", `"--notification-fd", "3"`, `notification_fd = 3`, ""},
		{"log line", "tcp:127.0.0.1:{{port}}", `"--print", "ready to accept connections"`, `log = "ready to accept"`, ""},
		{"http", "tcp:127.0.0.1:{{port}}", "", `http = "http://127.0.0.1:{{port}}/"`, ""},
		{"several checks", "tcp:127.0.0.1:{{port}}", `"--notify"`, "tcp = \"127.0.0.1:{{port}}\"\n    notify = true", "tcp:127.0.0.1:{{port}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := strconv.Itoa(suptest.FreePorts(t, 1)[0])
			sub := func(s string) string { return strings.ReplaceAll(s, "{{port}}", port) }
			args := fmt.Sprintf(`"--listen", %q`, sub(tt.listen))
			if tt.extra != "" {
				args += ", " + tt.extra
			}
			s := startSupd(t, sub(fmt.Sprintf(`
process "app" {
  command = ["{{app}}", %s]
  ready {
    %s
    timeout = "20s"
  }
}`, args, tt.ready)))
			st := s.waitReady("app")
			want := strings.ReplaceAll(sub(tt.want), "{{dir}}", s.dir)
			if want != "" && !contains(st.Listening, want) {
				t.Fatalf("listening %v, want %s", st.Listening, want)
			}
			if st.Reason != "" || st.State != api.StateRunning {
				t.Fatalf("ready but %+v", st)
			}
		})
	}
}

// A decoy (this test process, not supervised) holds the configured port:
// the app must never be ready, and the reason names the decoy's pid.
func TestDecoyOnThePortIsNeverReady(t *testing.T) {
	port := decoyPort(t)
	s := startSupd(t, fmt.Sprintf(`
process "api" {
  command = ["{{app}}", "--delay", "1h", "--listen", "tcp:127.0.0.1:%d"]
  ready {
    tcp     = "127.0.0.1:%d"
    timeout = "30s"
  }
}`, port, port))
	want := fmt.Sprintf("127.0.0.1:%d is held by pid %d", port, os.Getpid())
	st := s.waitFor("api", 10*time.Second, "blaming the decoy", func(st api.Status) bool {
		return strings.Contains(st.Reason, want)
	})
	if st.Ready || st.State != api.StateStarting || !strings.Contains(st.Reason, "not part of api") {
		t.Fatalf("with a decoy on the port: %+v", st)
	}
	why, code := s.ctl("why", "api")
	if code != 1 || !strings.Contains(why, want) {
		t.Fatalf("supctl why api (exit %d):\n%s", code, why)
	}
}

// The app binds the wrong port: the reason says where it listens and what
// the config says; `supctl why` says the same and exits 1.
func TestWrongPortIsExplained(t *testing.T) {
	ports := suptest.FreePorts(t, 2)
	want, got := ports[0], ports[1]
	s := startSupd(t, fmt.Sprintf(`
process "api" {
  command = ["{{app}}", "--listen", "tcp:127.0.0.1:%d"]
  ready {
    tcp     = "127.0.0.1:%d"
    timeout = "30s"
  }
}`, got, want))
	reason := fmt.Sprintf("listening on 127.0.0.1:%d, config says 127.0.0.1:%d", got, want)
	s.waitFor("api", 10*time.Second, "explained", func(st api.Status) bool { return strings.Contains(st.Reason, reason) })
	why, code := s.ctl("why", "api")
	if code != 1 || !strings.Contains(why, fmt.Sprintf("127.0.0.1:%d", got)) || !strings.Contains(why, fmt.Sprintf("127.0.0.1:%d", want)) {
		t.Fatalf("supctl why api (exit %d):\n%s", code, why)
	}
	if out, code := s.ctl("wait", "--timeout", "300ms", "api"); code != 1 || !strings.Contains(out, "api") {
		t.Fatalf("supctl wait on a never-ready app: exit %d: %s", code, out)
	}
}

// depends_on waits for readiness, not for the spawn.
func TestDependsOnWaitsForReady(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	dir := t.TempDir()
	record := filepath.Join(dir, "db.bound")
	s := startSupd(t, fmt.Sprintf(`
process "db" {
  command = ["{{app}}", "--delay", "500ms", "--listen", "tcp:127.0.0.1:%d", "--record", %q]
  ready { tcp = "127.0.0.1:%d" }
}
process "api" {
  command    = ["sleep", "1000"]
  depends_on = ["db"]
}`, port, record, port))
	early := s.status()["api"]
	if early.Pid != 0 || early.Ready || !strings.Contains(early.Reason, "waiting for db") {
		t.Fatalf("api before db is ready: %+v", early)
	}
	if out, code := s.ctl("wait", "--timeout", "20s"); code != 0 {
		t.Fatalf("supctl wait: exit %d: %s", code, out)
	}
	api := s.status()["api"]
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	bound := time.Unix(0, ns)
	if api.StartedAt == nil || api.StartedAt.Before(bound) {
		t.Fatalf("api spawned at %v, before db bound its port at %v", api.StartedAt, bound)
	}
}

// Not ready in time is a failed start: restarted with backoff, then fatal.
func TestReadyTimeoutRestartsThenFatal(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, fmt.Sprintf(`
process "slow" {
  command = ["{{app}}", "--delay", "1h", "--listen", "tcp:127.0.0.1:%d"]
  ready {
    tcp     = "127.0.0.1:%d"
    timeout = "300ms"
  }
  restart {
    backoff      = "50ms"
    max_restarts = 2
  }
}`, port, port))
	st := s.waitFor("slow", 20*time.Second, "fatal", func(st api.Status) bool { return st.State == api.StateFatal })
	if st.Restarts != 2 || !strings.Contains(st.Reason, "not ready after 300ms") || !strings.Contains(st.Reason, "nothing listening") {
		t.Fatalf("after repeated ready timeouts: %+v", st)
	}
}

// A crash before binding says so.
func TestCrashBeforeBindReason(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, fmt.Sprintf(`
process "api" {
  command = ["{{app}}", "--crash-before-bind", "--listen", "tcp:127.0.0.1:%d"]
  ready { tcp = "127.0.0.1:%d" }
  restart { policy = "never" }
}`, port, port))
	st := s.waitState("api", api.StateExited)
	if st.Reason != "exited 1 before binding" {
		t.Fatalf("reason %q", st.Reason)
	}
	why, _ := s.ctl("why", "api")
	if !strings.Contains(why, "crash before bind") {
		t.Fatalf("supctl why does not show the last output lines:\n%s", why)
	}
}

// Failing health after ready: running, not ready, with the reason; then a
// restart after `failures` failures.
func TestHealthFailureRestarts(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	sick := filepath.Join(t.TempDir(), "sick")
	s := startSupd(t, fmt.Sprintf(`
process "api" {
  command = ["{{app}}", "--listen", "tcp:127.0.0.1:%d", "--health-file", %q]
  ready { tcp = "127.0.0.1:%d" }
  health {
    http     = "http://127.0.0.1:%d/health"
    interval = "100ms"
    failures = 3
  }
}`, port, sick, port, port))
	before := s.waitReady("api")
	if err := os.WriteFile(sick, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	failing := s.waitFor("api", 10*time.Second, "unhealthy", func(st api.Status) bool {
		return st.State == api.StateRunning && !st.Ready && st.Reason != ""
	})
	if !strings.Contains(failing.Reason, "500") {
		t.Fatalf("unhealthy reason %q", failing.Reason)
	}
	s.waitFor("api", 10*time.Second, "restarted", func(st api.Status) bool {
		return st.Pid != before.Pid && st.Restarts > before.Restarts
	})
	os.Remove(sick) // the restarted app comes back healthy
	s.waitReady("api")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A log check sees a line the child prints the moment it starts (before
// supd's readiness goroutine runs).
func TestLogCheckSeesTheFirstLine(t *testing.T) {
	s := startSupd(t, `
process "quick" {
  command = ["sh", "-c", "echo trapped; exec sleep 1000"]
  ready {
    log     = "^trapped$"
    timeout = "20s"
  }
}`)
	s.waitReady("quick")
}
