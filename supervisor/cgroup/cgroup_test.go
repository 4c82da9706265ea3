package cgroup

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// open opens a manager with a key of its own, or skips the test saying why
// containment is unavailable here.
func open(t *testing.T) *Manager {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cgroup containment needs root")
	}
	m, _, err := Open(t.Name() + strconv.Itoa(os.Getpid()))
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("no usable cgroup v2 here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(5 * time.Second) })
	return m
}

// detached creates group name in m with, born in it, a `sleep` that left
// its session (setsid) and whose parent exited; it returns the group and
// the sleep's pid.
func detached(t *testing.T, m *Manager, name string) (*Group, int) {
	t.Helper()
	g, err := m.New(name)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "setsid sleep 7777 >/dev/null 2>&1 & echo $!")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: g.FD(), Setpgid: true}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("script printed %q", out)
	}
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
	return g, pid
}

// gone waits until pid no longer runs (a zombie counts as gone: whoever
// is its parent reaps it).
func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d still runs", pid)
}

// A grandchild that left the session (setsid) after its parent exited is
// still in the group: listed by Procs, killed by Signal(SIGKILL).
func TestGroupHoldsDetachedDescendants(t *testing.T) {
	m := open(t)
	g, pid := detached(t, m, "api:2")
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 1 || procs[0] != pid {
		// sh -c's child may be the setsid wrapper that execs sleep: same pid.
		t.Fatalf("procs = %v, want [%d]", procs, pid)
	}
	if !g.Populated() {
		t.Error("a group with a live process is not populated")
	}
	if err := g.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone(t, pid)
	if err := g.Remove(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Dir()); !os.IsNotExist(err) {
		t.Errorf("group directory left: %v", err)
	}
}

// Signal with another signal reaches every member.
func TestGroupSignal(t *testing.T) {
	m := open(t)
	g, pid := detached(t, m, "web")
	if err := g.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gone(t, pid)
}

// A supd that died leaves its cgroup with processes in it: the next Open
// of the same key kills them before anything starts.
func TestOpenKillsPreviousGeneration(t *testing.T) {
	m := open(t)
	_, pid := detached(t, m, "worker")
	next, leftover, err := Open(t.Name() + strconv.Itoa(os.Getpid())) // the same key
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close(5 * time.Second)
	if leftover != 1 {
		t.Errorf("leftover = %d, want 1", leftover)
	}
	gone(t, pid)
	if next.Dir() != m.Dir() {
		t.Errorf("dir %s, want %s again", next.Dir(), m.Dir())
	}
}

// Close kills whatever is left and removes every directory.
func TestManagerClose(t *testing.T) {
	m := open(t)
	var pids []int
	for _, name := range []string{"a", "b:1"} {
		_, pid := detached(t, m, name)
		pids = append(pids, pid)
	}
	killed, err := m.Close(5 * time.Second)
	if err != nil || killed != 2 {
		t.Fatalf("Close = %d, %v; want 2 killed", killed, err)
	}
	for _, pid := range pids {
		gone(t, pid)
	}
	if _, err := os.Stat(m.Dir()); !os.IsNotExist(err) {
		t.Errorf("manager directory left: %v", err)
	}
}

func TestSanitize(t *testing.T) {
	if got := sanitize("api:2/../x y"); got != "api_2____x_y" {
		t.Errorf("sanitize = %q", got)
	}
}

// A group is reused for the next spawn only once nothing of the previous
// one is left in it, and only if it was never killed with cgroup.kill.
func TestGroupReuse(t *testing.T) {
	m := open(t)
	g, pid := detached(t, m, "api")
	if g.Reuse() {
		t.Fatal("a group with a live process was reused")
	}
	if err := g.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gone(t, pid)
	deadline := time.Now().Add(5 * time.Second)
	for g.Populated() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the kernel updates cgroup.events after the exit
	}
	if err := g.Signal(unix.SIGKILL); err != nil { // empty: no cgroup.kill
		t.Fatal(err)
	}
	if !g.Reuse() || g.FD() < 0 {
		t.Fatal("an emptied group was not reused")
	}
	cmd := exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: g.FD()}
	if err := cmd.Run(); err != nil {
		t.Fatalf("spawn into the reused group: %v", err)
	}
}

// A group emptied by cgroup.kill is not reused: a new group is needed.
func TestKilledGroupIsNotReused(t *testing.T) {
	m := open(t)
	g, pid := detached(t, m, "api")
	if err := g.Signal(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone(t, pid)
	if g.Reuse() {
		t.Fatal("a group emptied by cgroup.kill was reused")
	}
}

// Place reuses an empty group, and otherwise makes a new one without
// touching what still runs in the previous (a run being replaced), which
// is removed once empty.
func TestPlace(t *testing.T) {
	m := open(t)
	g, pid := detached(t, m, "web")
	next, err := m.Place("web", g)
	if err != nil {
		t.Fatal(err)
	}
	if next == g {
		t.Fatal("a group with a live process was reused")
	}
	if !alive(pid) {
		t.Fatal("Place killed what ran in the previous group")
	}
	unix.Kill(pid, unix.SIGKILL)
	gone(t, pid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		next.Placed()
		if again, err := m.Place("web", next); err != nil || again != next {
			t.Fatalf("an empty group was not reused: %v", err)
		}
		if _, err := os.Stat(g.Dir()); os.IsNotExist(err) {
			break // swept by New or Retire once empty
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retired group %s was never removed", g.Dir())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func alive(pid int) bool { return unix.Kill(pid, 0) == nil }
