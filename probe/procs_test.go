package probe

import (
	"context"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	line := "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 4 0 123456 1000000 250 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	p, ok := parseStat([]byte(line))
	want := Proc{Pid: 4242, PPid: 1, Pgid: 4242, Comm: "my (odd) app", StartTime: 123456, RSS: 250, CPUTicks: 10}
	if !ok || p != want {
		t.Errorf("parseStat = %+v, %v; want %+v", p, ok, want)
	}
	for _, bad := range []string{"", "12 (x", "12 (x) S 1", "x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"} {
		if _, ok := parseStat([]byte(bad)); ok {
			t.Errorf("parseStat(%q) ok", bad)
		}
	}
}

func TestScanProcs(t *testing.T) {
	tab, err := ScanProcs()
	if err != nil {
		t.Fatal(err)
	}
	self, ok := tab.Get(os.Getpid())
	if !ok {
		t.Fatal("self not found")
	}
	if self.PPid != os.Getppid() || self.Pgid != syscall.Getpgrp() || self.Comm != selfComm(t) ||
		self.RSS <= 0 || self.StartTime == 0 {
		t.Errorf("self = %+v", self)
	}
	if !slices.Contains(tab.Children(os.Getppid()), os.Getpid()) {
		t.Errorf("children of parent %v lack self", tab.Children(os.Getppid()))
	}
	if _, ok := tab.Get(-1); ok {
		t.Error("pid -1 found")
	}
}

func TestTreeDescendants(t *testing.T) {
	out := make(chan int, 1)
	w := lines(t, func(line []byte) {
		if n, err := strconv.Atoi(string(line[len("sleeper "):])); err == nil {
			out <- n
		}
	})
	a := startApp(t, appOpts{stdout: w}, "--spawn-sleeper")
	var sleeper int
	select {
	case sleeper = <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("no sleeper")
	}
	defer syscall.Kill(sleeper, syscall.SIGKILL)
	tab, err := ScanProcs()
	if err != nil {
		t.Fatal(err)
	}
	if got := NewTree(a.pid).Pids(tab); !slices.Equal(got, sorted(a.pid, sleeper)) {
		t.Errorf("pids %v, want app %d and sleeper %d", got, a.pid, sleeper)
	}
}

// An orphan re-parented to a subreaper stays in the tree: because it was
// seen in it before, or because it shares the root's process group.
func TestTreeOrphan(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skip("no child subreaper:", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	a, tree, addr := startReady(t, "--fork")
	tab, _ := ScanProcs()
	pids := tree.Pids(tab)
	if len(pids) != 2 {
		t.Fatalf("tree %v", pids)
	}
	child := pids[0] + pids[1] - a.pid
	defer func() {
		syscall.Kill(child, syscall.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(child, &ws, 0, nil)
	}()

	syscall.Kill(a.pid, syscall.SIGKILL)
	a.cmd.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		tab, _ = ScanProcs()
		if p, ok := tab.Get(child); ok && p.PPid == os.Getpid() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("grandchild never re-parented")
		case <-time.After(time.Millisecond):
		}
	}
	if got := tree.Pids(tab); !slices.Equal(got, []int{child}) {
		t.Errorf("remembered tree %v, want [%d]", got, child)
	}
	if got := NewTree(a.pid).Pids(tab); !slices.Equal(got, []int{child}) {
		t.Errorf("process-group tree %v, want [%d]", got, child)
	}
	ls, err := Listening(tree.Pids(tab))
	if err != nil || !slices.Equal(ls, []string{"tcp:" + addr}) {
		t.Errorf("orphan listening %q, %v", ls, err)
	}
}

// A reused pid is not a member: members are pid and start time.
func TestTreeForgetsDead(t *testing.T) {
	tree := NewTree(100)
	tab := &ProcTable{procs: []Proc{{Pid: 100, Pgid: 100, StartTime: 5}, {Pid: 101, PPid: 100, Pgid: 100, StartTime: 6}},
		children: map[int][]int{100: {101}}}
	if got := tree.Pids(tab); !slices.Equal(got, []int{100, 101}) {
		t.Fatalf("pids %v", got)
	}
	// The root is gone and 101 re-parented, in another group; then pid 100
	// is reused by an unrelated process.
	tab = &ProcTable{procs: []Proc{{Pid: 100, PPid: 1, Pgid: 100, StartTime: 50}, {Pid: 101, PPid: 1, Pgid: 101, StartTime: 6}},
		children: map[int][]int{1: {100, 101}}}
	if got := tree.Pids(tab); !slices.Equal(got, []int{101}) {
		t.Errorf("pids %v, want [101]", got)
	}
}

func sorted(pids ...int) []int {
	slices.Sort(pids)
	return pids
}

func BenchmarkScanProcs(b *testing.B) {
	for b.Loop() {
		if _, err := ScanProcs(); err != nil {
			b.Fatal(err)
		}
	}
}
