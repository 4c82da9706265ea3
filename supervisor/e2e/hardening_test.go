package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/cgroup"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// needRoot skips a test that creates users, runs processes as other users
// or needs cgroups.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (other users, cgroups)")
	}
}

// needCgroup skips a test of containment where cgroup v2 cannot be used.
func needCgroup(t *testing.T) {
	t.Helper()
	needRoot(t)
	m, _, err := cgroup.Open("e2e-probe-" + t.Name())
	if err != nil {
		t.Skipf("containment needs a writable cgroup v2 hierarchy: %v", err)
	}
	m.Close(time.Second)
}

// sleepers returns the live processes whose command line is exactly
// `sleep arg`.
func sleepers(arg string) []int {
	want := []byte("sleep\x00" + arg + "\x00")
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Equal(b, want) && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// uniqueSleep is a sleep duration no other test uses, to find its
// processes by command line. Those left when the test ends (it failed)
// are killed.
func uniqueSleep(t *testing.T, base int) string {
	arg := strconv.Itoa(base + os.Getpid()%10000)
	t.Cleanup(func() {
		for _, pid := range sleepers(arg) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return arg
}

// `sh -c 'setsid sleep N & exit 0'` leaves a grandchild in a session of
// its own, which no signal to the process group reaches and which is
// re-parented before anyone sees its parentage. It is gone after each
// restart, after stop, and after supd exits.
func TestDetachedGrandchildIsStopped(t *testing.T) {
	needCgroup(t)
	loop, held := uniqueSleep(t, 70000), uniqueSleep(t, 80000)
	s := startSupd(t, fmt.Sprintf(`
process "loop" {
  command = ["sh", "-c", "setsid sleep %s >/dev/null 2>&1 & exit 0"]
  restart {
    backoff     = "20ms"
    max_backoff = "50ms"
  }
}
process "held" {
  command = ["sh", "-c", "(setsid sleep %s >/dev/null 2>&1 &); exec sleep 1000"]
}
`, loop, held))

	s.waitFor("loop", 20*time.Second, "5 restarts", func(st api.Status) bool { return st.Restarts >= 5 })
	eventually(t, 5*time.Second, "at most the last spawn's sleep left after restarts", func() bool { return len(sleepers(loop)) <= 1 })

	if out, code := s.ctl("stop", "loop"); code != 0 {
		t.Fatalf("stop loop: %d %s", code, out)
	}
	eventually(t, 5*time.Second, "no sleep of loop after stop", func() bool { return len(sleepers(loop)) == 0 })

	s.waitReady("held")
	eventually(t, 5*time.Second, "held's detached sleep running", func() bool { return len(sleepers(held)) == 1 })
	if out, code := s.ctl("stop", "held"); code != 0 {
		t.Fatalf("stop held: %d %s", code, out)
	}
	if n := len(sleepers(held)); n != 0 {
		t.Fatalf("%d detached sleeps of held left after stop returned", n)
	}
	if out, code := s.ctl("start", "held"); code != 0 {
		t.Fatalf("start held: %d %s", code, out)
	}
	eventually(t, 5*time.Second, "held's detached sleep running again", func() bool { return len(sleepers(held)) == 1 })
	if code := s.terminate(20 * time.Second); code != 0 {
		t.Fatalf("supd exited %d", code)
	}
	if pids := sleepers(held); len(pids) != 0 {
		t.Fatalf("detached sleep %v outlived supd", pids)
	}
}

// rawSupd is supd started on a config file the test wrote itself (its own
// socket path), for the tests that start two supds on one socket, or
// watch the socket appear.
type rawSupd struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func runSupd(t *testing.T, cfg string, wrap ...string) *rawSupd {
	t.Helper()
	argv := append(wrap, filepath.Join(bin, "supd"), "--log-format", "json", cfg)
	r := &rawSupd{cmd: exec.Command(argv[0], argv[1:]...), out: &syncBuffer{}, done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		syscall.Kill(r.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
		if t.Failed() {
			t.Logf("supd output:\n%s", r.out)
		}
	})
	return r
}

func (r *rawSupd) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("supd still runs after %s:\n%s", d, r.out)
		return -1
	}
}

// After kill -9 of supd, its children do not keep running unsupervised:
// the direct child gets SIGKILL (parent-death signal), and the detached
// grandchild, which no parent-death signal reaches, is killed by the
// next supd of the same socket before it starts anything (the previous
// generation's cgroup).
func TestKill9OfSupdLeavesNothingRunning(t *testing.T) {
	needCgroup(t)
	detached, direct := uniqueSleep(t, 90000), uniqueSleep(t, 100000)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sup.hcl")
	os.WriteFile(cfg, []byte(configWith(dir, "", fmt.Sprintf(`
process "held" {
  command = ["sh", "-c", "(setsid sleep %s >/dev/null 2>&1 &); exec sleep %s"]
}
`, detached, direct))), 0o644)
	first := runSupd(t, cfg)
	var child int
	eventually(t, 20*time.Second, "held and its detached sleep running", func() bool {
		if pids := sleepers(direct); len(pids) == 1 {
			child = pids[0]
		}
		return child != 0 && len(sleepers(detached)) == 1
	})
	old := sleepers(detached)[0]
	syscall.Kill(first.cmd.Process.Pid, syscall.SIGKILL)
	<-first.done
	eventually(t, 5*time.Second, "the direct child killed with supd", func() bool { return !alive(child) })

	second := runSupd(t, cfg)
	eventually(t, 20*time.Second, "the next supd started", func() bool {
		return strings.Contains(second.out.String(), "supd started")
	})
	if alive(old) {
		t.Fatalf("the previous generation's detached sleep %d still runs once the next supd started", old)
	}
	if !strings.Contains(second.out.String(), "killed what a previous supd of this socket left running") {
		t.Errorf("the next supd did not say it killed the previous generation")
	}
}

// sharedDir is a directory like /tmp (world-writable, sticky) holding
// copies of the binaries, for processes run as other users.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sup-e2e-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"supctl", "testapp"} {
		b, err := os.ReadFile(filepath.Join(bin, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// as makes cmd run as user u (with u's groups).
func as(t *testing.T, cmd *exec.Cmd, name string) *exec.Cmd {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	var groups []uint32
	ids, _ := u.GroupIds()
	for _, g := range ids {
		n, _ := strconv.Atoi(g)
		groups = append(groups, uint32(n))
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, Setpgid: true}
	return cmd
}

// squat starts, as user nobody, an HTTP server on a Unix socket at path
// that answers everything with 200 "ok": a local user's squatter.
func squat(t *testing.T, shared, path string) {
	t.Helper()
	cmd := as(t, exec.Command(filepath.Join(shared, "testapp"), "--listen", "unix:"+path), "nobody")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, 10*time.Second, "the squatter listening", func() bool {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// A socket answered by another user's process is refused by supctl, with
// a message that says who answers; supd does not start on it either.
func TestSquattedSocketIsRefused(t *testing.T) {
	needRoot(t)
	shared := sharedDir(t)
	path := filepath.Join(shared, "supd.sock")
	squat(t, shared, path)

	out, err := exec.Command(filepath.Join(bin, "supctl"), "--socket", path, "status").CombinedOutput()
	code := exitCode(err)
	if code != 3 || !strings.Contains(string(out), "neither root nor you") || !strings.Contains(string(out), "nobody") {
		t.Errorf("supctl against a squatter: exit %d\n%s\nwant exit 3 naming the squatter's user", code, out)
	}

	// wait, which retries while supd is not up yet, gives up at once.
	start := time.Now()
	out, err = exec.Command(filepath.Join(bin, "supctl"), "--socket", path, "wait", "--timeout", "60s").CombinedOutput()
	if code := exitCode(err); code != 3 || !strings.Contains(string(out), "neither root nor you") || time.Since(start) > 20*time.Second {
		t.Errorf("supctl wait against a squatter: exit %d after %v\n%s\nwant exit 3 at once", code, time.Since(start), out)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "sup.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf("supervisor {\n  socket = %q\n}\nprocess \"a\" { command = [\"sleep\", \"1000\"] }\n", path)), 0o644)
	r := runSupd(t, cfg)
	if code := r.exitCode(t, 20*time.Second); code != 1 {
		t.Errorf("supd on a squatted socket exited %d, want 1", code)
	}
	if o := r.out.String(); !strings.Contains(o, "held by another user's process") || !strings.Contains(o, "nobody") {
		t.Errorf("supd's error does not name the squatter:\n%s", o)
	}
}

// A socket directory owned by another user is refused: whoever owns it
// can replace the socket.
func TestForeignSocketDirIsRefused(t *testing.T) {
	needRoot(t)
	dir := filepath.Join(sharedDir(t), "supd-x")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "sup.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf("supervisor {\n  socket = %q\n}\nprocess \"a\" { command = [\"sleep\", \"1000\"] }\n", filepath.Join(dir, "supd.sock"))), 0o644)
	r := runSupd(t, cfg)
	if code := r.exitCode(t, 20*time.Second); code != 1 {
		t.Errorf("supd exited %d, want 1", code)
	}
	if o := r.out.String(); !strings.Contains(o, "is owned by nobody") {
		t.Errorf("supd's error does not name the directory's owner:\n%s", o)
	}
}

// Under umask 000 the control socket never appears with another mode
// than 0600, not even for an instant after bind.
func TestSocketHasItsModeFromTheStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "supd.sock")
	cfg := filepath.Join(dir, "sup.hcl")
	os.WriteFile(cfg, []byte(configWith(dir, "", `process "a" { command = ["sleep", "1000"] }`)), 0o644)
	seen, stop := suptest.FirstMode(path)
	defer stop()
	runSupd(t, cfg, "sh", "-c", `umask 000; exec "$0" "$@"`)
	select {
	case m := <-seen:
		if m.Type() != os.ModeSocket || m.Perm() != 0o600 {
			t.Fatalf("the socket appeared with mode %v, want a socket with 0600", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the socket did not appear")
	}
}

// With socket_group and socket_mode = "0660", a user in the group can use
// supctl; a user outside it is refused with a message that says the
// socket's owner and mode and what to do.
func TestSocketGroup(t *testing.T) {
	needRoot(t)
	suffix := strconv.Itoa(os.Getpid() % 100000)
	group, member, outsider := "supops"+suffix, "supm"+suffix, "supo"+suffix
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("groupadd", group)
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	run("useradd", "-M", "-N", "-G", group, member)
	t.Cleanup(func() { exec.Command("userdel", member).Run() })
	run("useradd", "-M", "-N", outsider)
	t.Cleanup(func() { exec.Command("userdel", outsider).Run() })

	shared := sharedDir(t)
	sockDir := filepath.Join(shared, "run")
	if err := os.Mkdir(sockDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sockDir, "supd.sock")
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "sup.hcl")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`supervisor {
  socket       = %q
  socket_mode  = "0660"
  socket_group = %q
}
process "a" { command = ["sleep", "1000"] }
`, path, group)), 0o644)
	r := runSupd(t, cfg)
	eventually(t, 20*time.Second, "supd started", func() bool { return strings.Contains(r.out.String(), "supd started") })

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	supctl := filepath.Join(shared, "supctl")
	out, err := as(t, exec.Command(supctl, "--socket", path, "status", "--json"), member).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"name":"a"`) && !strings.Contains(string(out), `"name": "a"`) {
		t.Errorf("a member of %s: %v\n%s", group, err, out)
	}
	out, err = as(t, exec.Command(supctl, "--socket", path, "status"), outsider).CombinedOutput()
	if code := exitCode(err); code != 3 || !strings.Contains(string(out), "permission denied") ||
		!strings.Contains(string(out), "mode 0660") || !strings.Contains(string(out), "group "+group) {
		t.Errorf("a user outside %s: exit %d\n%s\nwant exit 3, permission denied, the owner and mode", group, code, out)
	}
}

// Many connections held open to the HTTP endpoint (a local user's
// keep-alive flood) take at most the cap of supd's fds: with `ulimit -n 256`,
// 300 of them do not make spawns fail, and the endpoint serves again once
// they close.
func TestEndpointConnectionsDoNotStarveSpawns(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sup.hcl")
	os.WriteFile(cfg, []byte(configWith(dir, fmt.Sprintf("http = \"127.0.0.1:%d\"", port), `
process "s" {
  command   = ["sleep", "1000"]
  instances = 30
}
`)), 0o644)
	r := runSupd(t, cfg, "sh", "-c", `ulimit -n 256; exec "$0" "$@"`)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctl := func(args ...string) (string, int) {
		out, err := exec.Command(filepath.Join(bin, "supctl"), append([]string{"--socket", filepath.Join(dir, "supd.sock")}, args...)...).CombinedOutput()
		return string(out), exitCode(err)
	}
	eventually(t, 20*time.Second, "supd answering", func() bool { _, code := ctl("wait", "--timeout", "10s"); return code == 0 })

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 300 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		// A whole request, its answer never read: the connection stays
		// open (keep-alive) as long as supd lets it.
		fmt.Fprint(c, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
		conns = append(conns, c)
	}
	if out, code := ctl("restart", "s", "--timeout", "60s"); code != 0 {
		t.Fatalf("restart with 300 connections held: exit %d\n%s\nsupd:\n%s", code, out, r.out)
	}
	out, _ := ctl("status", "--json")
	if strings.Contains(out, "fatal") || strings.Contains(out, "too many open files") {
		t.Fatalf("spawns failed:\n%s", out)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	eventually(t, 20*time.Second, "the endpoint serves again", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprint(c, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		return bytes.HasPrefix(b, []byte("HTTP/1.1 200"))
	})
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
