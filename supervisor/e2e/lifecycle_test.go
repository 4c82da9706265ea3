package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// After a clean SIGTERM the control socket file is gone, every time:
// supd waits for its control server to close it before exiting.
func TestControlSocketRemovedAtExit(t *testing.T) {
	for run := range 10 {
		s := startSupd(t, `
process "idle" {
  command = ["sleep", "1000"]
}
`)
		s.waitReady("idle")
		if code := s.terminate(20 * time.Second); code != 0 {
			t.Fatalf("run %d: supd exited %d", run, code)
		}
		if _, err := os.Lstat(s.socket); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("run %d: the control socket is still there after supd exited (%v)", run, err)
		}
	}
}

// `supctl reload` with no NAME waits like restart, and honours --timeout
// and --no-wait, also when a changed process never becomes ready.
func TestConfigReloadHonoursTimeoutAndNoWait(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	body := func(arg string) string {
		return `
process "web" {
  command = ["sleep", "` + arg + `"]
  ready {
    tcp     = "127.0.0.1:` + strconv.Itoa(port) + `"
    timeout = "30s"
  }
}
process "idle" {
  command = ["sleep", "1000"]
}
`
	}
	s := startSupd(t, body("1000"))
	s.waitReady("idle")
	path := filepath.Join(s.dir, "sup.hcl")
	if err := os.WriteFile(path, []byte(configWith(s.dir, "", body("1001"))), 0o644); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	out, code := s.ctl("reload", "--timeout", "2s")
	took := time.Since(begin)
	if code != 1 || !strings.Contains(out, "not ready after 2s") || !strings.Contains(out, "web is starting") {
		t.Errorf("reload --timeout 2s: exit %d: %s", code, out)
	}
	if took > 6*time.Second {
		t.Errorf("reload --timeout 2s returned after %s", took)
	}

	if err := os.WriteFile(path, []byte(configWith(s.dir, "", body("1002"))), 0o644); err != nil {
		t.Fatal(err)
	}
	begin = time.Now()
	out, code = s.ctl("reload", "--no-wait")
	if took := time.Since(begin); code != 0 || took > 4*time.Second {
		t.Errorf("reload --no-wait: exit %d after %s: %s", code, took, out)
	}
}

// A reload to a config with no processes is refused (nothing stops)
// unless --allow-empty.
func TestReloadToEmptyConfig(t *testing.T) {
	s := startSupd(t, `
process "idle" {
  command = ["sleep", "1000"]
}
`)
	before := s.waitReady("idle")
	path := filepath.Join(s.dir, "sup.hcl")
	if err := os.WriteFile(path, []byte(configWith(s.dir, "", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := s.ctl("reload")
	if code != 1 || !strings.Contains(out, "--allow-empty") {
		t.Errorf("reload to an empty config: exit %d: %s", code, out)
	}
	if st := s.status()["idle"]; st.Pid != before.Pid || !st.Ready {
		t.Fatalf("a refused reload changed idle: %+v", st)
	}
	out, code = s.ctl("reload", "--allow-empty")
	if code != 0 {
		t.Fatalf("reload --allow-empty: exit %d: %s", code, out)
	}
	eventually(t, 10*time.Second, "idle gone", func() bool { return len(s.status()) == 0 })
}

// A stop by request says so in the reason.
func TestStopReason(t *testing.T) {
	s := startSupd(t, `
process "idle" {
  command = ["sleep", "1000"]
}
`)
	s.waitReady("idle")
	if out, code := s.ctl("stop", "idle"); code != 0 {
		t.Fatalf("stop: exit %d: %s", code, out)
	}
	st := s.status()["idle"]
	if st.State != api.StateStopped || st.Reason != "stopped by request" || st.Desired != api.DesiredStopped {
		t.Errorf("after stop: state %s reason %q desired %q", st.State, st.Reason, st.Desired)
	}
}

// shutdown_timeout bounds the shutdown whatever the number of processes:
// 1,000 of them stop within 10s.
func TestShutdownOfAThousandProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 1,000 processes")
	}
	s := startSupdWith(t, supdOptions{supervisor: `shutdown_timeout = "10s"`}, `
process "many" {
  command   = ["sleep", "1000"]
  instances = 1000
}
`)
	eventually(t, 60*time.Second, "1,000 running", func() bool {
		n := 0
		for _, st := range s.status() {
			if st.Ready {
				n++
			}
		}
		return n == 1000
	})
	begin := time.Now()
	code := s.terminate(30 * time.Second)
	took := time.Since(begin)
	t.Logf("1,000 processes stopped in %s", took)
	if took > 10*time.Second {
		t.Errorf("1,000 processes took %s to stop, shutdown_timeout is 10s", took)
	}
	if code != 0 {
		t.Errorf("supd exited %d", code)
	}
}

// With --log-format console, child output lines are printed for a human
// too, not as JSON records.
func TestConsoleFormatsChildOutput(t *testing.T) {
	s := launchSupdWith(t, supdOptions{args: []string{"--log-format", "console"}}, `
process "talk" {
  command  = ["sh", "-c", "echo hello world"]
  type     = "oneshot"
  critical = true
}
`)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("supd did not exit after its critical oneshot")
	}
	out := s.out.String()
	if !strings.Contains(out, "talk 0 stdout hello world") || strings.Contains(out, `"message":"hello world"`) {
		t.Errorf("child output in console format:\n%s", out)
	}
}

// The backoff reason of a process that exits before binding says who
// holds its port.
func TestBackoffReasonNamesTheSquatter(t *testing.T) {
	port := decoyPort(t)
	s := startSupd(t, `
process "web" {
  command = ["sh", "-c", "sleep 0.2; exit 1"]
  ready { tcp = "127.0.0.1:`+strconv.Itoa(port)+`" }
  restart { backoff = "5s" }
}
`)
	st := s.waitState("web", api.StateBackoff)
	if !strings.Contains(st.Reason, "exited 1 before binding") || !strings.Contains(st.Reason, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("backoff reason %q does not name the holder of the port (pid %d)", st.Reason, os.Getpid())
	}
}
