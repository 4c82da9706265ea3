package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// supctl scale: new instances are evaluated with their own `instance` and
// pass their own ready check before scale returns; scaling down stops the
// highest ones; a reload goes back to the file's number.
func TestScale(t *testing.T) {
	s := startSupd(t, `
process "api" {
  command   = ["{{app}}", "--delay", "300ms", "--listen", "unix:{{dir}}/api-${instance}.sock"]
  instances = 2
  ready {
    unix    = "{{dir}}/api-${instance}.sock"
    timeout = "20s"
  }
}`)
	before := map[string]api.Status{"api:0": s.waitReady("api:0"), "api:1": s.waitReady("api:1")}

	out, code := s.ctl("scale", "api", "4")
	if code != 0 || !strings.Contains(out, "* api: scaled to 4 instances until the next config reload (the config says 2)") {
		t.Fatalf("scale api 4: exit %d:\n%s", code, out)
	}
	sts := s.status()
	for k := range 4 {
		name := fmt.Sprintf("api:%d", k)
		st := sts[name]
		sock := fmt.Sprintf("unix:%s/api-%d.sock", s.dir, k)
		switch {
		case !st.Ready || st.Instance != k || !slices.Contains(st.Listening, sock):
			t.Errorf("%s after scale (which waits): %+v, want ready, instance %d, listening on %s", name, st, k, sock)
		case st.ScaledInstances != 4 || st.ConfigInstances != 2:
			t.Errorf("%s: scaled_instances %d, config_instances %d, want 4 and 2", name, st.ScaledInstances, st.ConfigInstances)
		case k < 2 && st.Pid != before[name].Pid:
			t.Errorf("%s was respawned by the scale: pid %d, was %d", name, st.Pid, before[name].Pid)
		}
	}
	if out, _ := s.ctl("status"); !strings.Contains(out, "* api: scaled to 4 instances until the next config reload (the config says 2)") {
		t.Errorf("status does not say api is scaled:\n%s", out)
	}

	// Down to 1: the highest go, and the one left is called "api".
	out, code = s.ctl("scale", "api", "1")
	if code != 0 {
		t.Fatalf("scale api 1: exit %d:\n%s", code, out)
	}
	sts = s.status()
	if len(sts) != 1 || sts["api"].Pid != before["api:0"].Pid || !sts["api"].Ready {
		t.Fatalf("after scale api 1: %+v, want api alone, still pid %d", sts, before["api:0"].Pid)
	}
	if alive(before["api:1"].Pid) {
		t.Errorf("api:1 (pid %d) still runs after scaling down to 1", before["api:1"].Pid)
	}

	// Errors: an instance, an unknown process, nonsense.
	for args, want := range map[string]string{
		"api:0 2": "name a process, not an instance",
		"apu 2":   `no process named "apu"; did you mean "api"?`,
		"api 0":   "give a number of instances, 1 or more",
	} {
		out, code := s.ctl(append([]string{"scale"}, strings.Fields(args)...)...)
		if code != 2 || !strings.Contains(out, want) {
			t.Errorf("scale %s: exit %d, %q; want exit 2 and %q", args, code, out, want)
		}
	}

	// A reload goes back to the file.
	if out, code := s.ctl("reload"); code != 0 {
		t.Fatalf("reload: exit %d:\n%s", code, out)
	}
	s.waitReady("api:0")
	st := s.waitReady("api:1")
	if sts := s.status(); len(sts) != 2 || st.ConfigInstances != 0 || st.ScaledInstances != 0 {
		t.Errorf("after reload: %+v, want api:0 and api:1 as the file says", sts)
	}
}

// supctl signal reaches every process of the named trees; all names every
// process.
func TestSignalAndAll(t *testing.T) {
	s := startSupd(t, `
process "sig" {
  command   = ["sh", "-c", "trap 'echo HUP >> {{dir}}/got-${instance}' HUP; trap 'echo USR1 >> {{dir}}/got-${instance}' USR1; echo trapped; touch {{dir}}/trapped-${instance}; while :; do sleep 0.05; done"]
  instances = 2
  ready { exec = ["test", "-e", "{{dir}}/trapped-${instance}"] } # the traps are set
}
process "idle" {
  command = ["sleep", "1000"]
}`)
	s.waitReady("sig:0")
	s.waitReady("sig:1")
	got := func(k int) string {
		b, _ := os.ReadFile(filepath.Join(s.dir, fmt.Sprintf("got-%d", k)))
		return string(b)
	}

	out, code := s.ctl("signal", "hup", "sig")
	if code != 0 || !strings.Contains(out, "SIGHUP -> sig:0 (pid") || !strings.Contains(out, "SIGHUP -> sig:1 (pid") {
		t.Fatalf("signal hup sig: exit %d:\n%s", code, out)
	}
	eventually(t, 10*time.Second, "both instances got SIGHUP", func() bool { return got(0) == "HUP\n" && got(1) == "HUP\n" })

	out, code = s.ctl("signal", "SIGUSR1", "sig:1")
	if code != 0 {
		t.Fatalf("signal SIGUSR1 sig:1: exit %d:\n%s", code, out)
	}
	eventually(t, 10*time.Second, "sig:1 got SIGUSR1", func() bool { return got(1) == "HUP\nUSR1\n" })
	if got(0) != "HUP\n" {
		t.Errorf("sig:0 got %q, want only the HUP", got(0))
	}

	for args, want := range map[string]struct {
		code int
		out  string
	}{
		"HUP nope":   {2, `no process named "nope"`},
		"NOPE sig":   {2, `unknown signal "NOPE"`},
		"1 sig":      {2, "write its name, SIGHUP"},
		"TERM sig:7": {2, `no instance "sig:7"`},
	} {
		out, code := s.ctl(append([]string{"signal"}, strings.Fields(args)...)...)
		if code != want.code || !strings.Contains(out, want.out) {
			t.Errorf("signal %s: exit %d, %q; want exit %d and %q", args, code, out, want.code, want.out)
		}
	}

	// all: every process.
	if out, code := s.ctl("stop", "all"); code != 0 || strings.Count(out, " stopped  no ") != 3 {
		t.Fatalf("stop all: exit %d:\n%s", code, out)
	}
	out, code = s.ctl("signal", "HUP", "all")
	if code != 1 || !strings.Contains(out, "no process to send SIGHUP to") {
		t.Errorf("signal HUP all, all stopped: exit %d, %q; want exit 1 saying nothing runs", code, out)
	}
	if out, code := s.ctl("start", "all"); code != 0 || strings.Count(out, " running  yes ") != 3 {
		t.Fatalf("start all: exit %d:\n%s", code, out)
	}
	if out, code := s.ctl("status", "all"); code != 0 || strings.Count(out, " running  yes ") != 3 {
		t.Errorf("status all: exit %d:\n%s", code, out)
	}
	if out, code := s.ctl("logs", "all"); code != 0 || !strings.Contains(out, "sig:0 | trapped") || !strings.Contains(out, "sig:1 | trapped") {
		t.Errorf("logs all: exit %d, want the lines of every process:\n%s", code, out)
	}
	if out, code := s.ctl("why", "all"); code != 2 || !strings.Contains(out, "not all") {
		t.Errorf("why all: exit %d, want 2 (one process at a time):\n%s", code, out)
	}
}

// --version of both binaries says the module version and, for a build in a
// git checkout, the commit.
func TestVersion(t *testing.T) {
	for _, prog := range []string{"supd", "supctl"} {
		out, err := exec.Command(filepath.Join(bin, prog), "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), prog+" ") || strings.Count(string(out), "\n") != 1 {
			t.Errorf("%s --version: %v, %q; want one line starting %q", prog, err, out, prog+" ")
		}
	}
	// The commit: built from a clone of this checkout's HEAD (go does not
	// stamp builds in a git worktree, whose .git is a file).
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout (git rev-parse: %v): the commit cannot be checked", err)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(t.TempDir(), "sup")
	if out, err := exec.Command("git", "clone", "-q", "--shared", strings.TrimSpace(string(top)), clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	build := exec.Command("go", "build", "-buildvcs=true", "-o", clone+"/bin/", "./cmd/supctl")
	build.Dir = clone
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(clone, "bin", "supctl"), "--version").Output()
	if want := "commit " + strings.TrimSpace(string(head)); err != nil || !strings.Contains(string(out), want) {
		t.Errorf("supctl --version built in a checkout: %v, %q; want it to contain %q", err, out, want)
	}
}

// supctl top, in a real terminal (tmux): a crash appears on its own, and
// the r key restarts the selected process.
func TestTop(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (make deps installs it): cannot drive top in a terminal")
	}
	s := startSupd(t, `
process "web" {
  command = ["{{app}}", "--print", "hello from web"]
}
process "worker" {
  command = ["sleep", "1000"]
}`)
	web := s.waitReady("web")
	s.waitReady("worker")

	// A tmux server of our own, on its own socket: nothing else is touched.
	tsock := fmt.Sprintf("sup-e2e-top-%d", os.Getpid())
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", tsock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", tsock, "kill-server").Run() })
	top := fmt.Sprintf("%s --socket %s top", filepath.Join(bin, "supctl"), s.socket)
	tmux("new-session", "-d", "-s", "top", "-x", "160", "-y", "30", "env GORACE=atexit_sleep_ms=0 "+top+"; sleep 60")
	screen := func() string { return tmux("capture-pane", "-p", "-t", "top") }
	row := func(name string) string {
		for _, l := range strings.Split(screen(), "\n") {
			if f := strings.Fields(strings.TrimLeft(l, "> ")); len(f) > 0 && f[0] == name {
				return l
			}
		}
		return ""
	}
	waitScreen := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("top does not show %s; the screen:\n%s", what, screen())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitScreen("web running with its pid", func() bool {
		return strings.Contains(row("web"), "running") && strings.Contains(row("web"), fmt.Sprint(web.Pid))
	})
	waitScreen("web's output", func() bool { return strings.Contains(screen(), "web | hello from web") })

	// A crash appears, from the events alone.
	if err := syscall.Kill(web.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitScreen("the crash (SIGKILL) of web", func() bool {
		r := strings.Fields(strings.TrimLeft(row("web"), "> "))
		return len(r) >= 10 && r[len(r)-1] == "SIGKILL" && r[5] == "1" // RESTARTS 1
	})
	crashed := s.waitFor("web", 20*time.Second, "respawned", func(st api.Status) bool { return st.Ready && st.Pid != web.Pid })

	// web is the first row, selected: r restarts it.
	tmux("send-keys", "-t", "top", "r")
	after := s.waitFor("web", 20*time.Second, "restarted by the r key", func(st api.Status) bool {
		return st.Ready && st.Pid != crashed.Pid && st.Restarts == crashed.Restarts+1
	})
	waitScreen("web's new pid", func() bool { return strings.Contains(row("web"), fmt.Sprint(after.Pid)) })
	waitScreen("the restart done", func() bool { return strings.Contains(screen(), "restart web: done") })

	// Down, x stops worker; q quits.
	tmux("send-keys", "-t", "top", "Down", "x")
	s.waitState("worker", api.StateStopped)
	waitScreen("worker stopped", func() bool { return strings.Contains(row("worker"), "stopped") })
	tmux("send-keys", "-t", "top", "q")
	waitScreen("top gone", func() bool { return !strings.Contains(screen(), "sup top") })
}

// A new instance from supctl scale gets the held socket like the file's
// instances: ready once its own tree accepts from it.
func TestScaleWithHeldSocket(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, fmt.Sprintf(`
socket "web" { listen = "tcp://127.0.0.1:%d" }
process "web" {
  command = ["{{app}}", "--listen-fds"]
  sockets = ["web"]
  ready {
    tcp     = "127.0.0.1:%d"
    timeout = "20s"
  }
}`, port, port))
	s.waitReady("web")
	if out, code := s.ctl("scale", "web", "2"); code != 0 {
		t.Fatalf("scale web 2: exit %d:\n%s", code, out)
	}
	st := s.status()["web:1"]
	if !st.Ready || !slices.Contains(st.Listening, fmt.Sprintf("tcp:127.0.0.1:%d", port)) {
		t.Errorf("web:1 after scale: %+v, want ready on the held socket 127.0.0.1:%d", st, port)
	}
	out, _ := s.ctl("logs", "web:1")
	if !strings.Contains(out, "LISTEN_FDNAMES=web") {
		t.Errorf("web:1 was not given the held socket (LISTEN_FDS); its output:\n%s", out)
	}
}
