package reaper

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func startReaper(t *testing.T, onOrphan func(Exit)) *Reaper {
	t.Helper()
	r := New(onOrphan)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Reap(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// Every exit status reaches the callback of its own pid, even with many
// children exiting at once (a second waiter would lose some of them).
func TestEveryExitIsRoutedByPid(t *testing.T) {
	r := startReaper(t, nil)
	const n = 300
	var mu sync.Mutex
	got := make(map[int]int) // pid -> code
	want := make(map[int]int)
	var wg sync.WaitGroup
	for k := 0; k < n; k++ {
		code := k % 7
		cmd := exec.Command("sh", "-c", fmt.Sprintf("exit %d", code))
		wg.Add(1)
		pid, err := r.Start(cmd, func(e Exit) {
			mu.Lock()
			got[e.Pid] = e.Code()
			mu.Unlock()
			wg.Done()
		})
		if err != nil {
			t.Fatal(err)
		}
		want[pid] = code
	}
	waitGroup(t, &wg, 20*time.Second)
	for pid, code := range want {
		if got[pid] != code {
			t.Errorf("pid %d: code %d, want %d", pid, got[pid], code)
		}
	}
	if p := r.Pending(); p != 0 {
		t.Errorf("%d pids still registered", p)
	}
}

func TestSignalledExitCode(t *testing.T) {
	r := startReaper(t, nil)
	done := make(chan Exit, 1)
	pid, err := r.Start(exec.Command("sleep", "100"), func(e Exit) { done <- e })
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	select {
	case e := <-done:
		if e.Code() != 137 || e.String() != "killed by SIGKILL" {
			t.Fatalf("got code %d %q", e.Code(), e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit")
	}
}

// As a child subreaper, orphans of our children are reaped too.
func TestOrphansAreReaped(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Skip(err)
	}
	orphans := make(chan int, 16)
	r := startReaper(t, func(e Exit) { orphans <- e.Pid })
	parent := make(chan Exit, 1)
	// The shell starts a background sleep and exits at once: the sleep is
	// re-parented to this process.
	_, err := r.Start(exec.Command("sh", "-c", "sleep 0.2 & exit 0"), func(e Exit) { parent <- e })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-parent:
	case <-time.After(10 * time.Second):
		t.Fatal("parent did not exit")
	}
	select {
	case <-orphans:
	case <-time.After(10 * time.Second):
		t.Fatal("orphan not reaped")
	}
}

func TestRunCapturesOutputAndCode(t *testing.T) {
	r := startReaper(t, nil)
	code, out, err := r.Run(context.Background(), []string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}, "", nil)
	if err != nil || code != 3 || !strings.Contains(string(out), "hello") || !strings.Contains(string(out), "oops") {
		t.Fatalf("code %d out %q err %v", code, out, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := r.Run(ctx, []string{"sleep", "100"}, "", nil); err == nil {
		t.Fatal("Run of a command outliving ctx returned no error")
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatal("timed out waiting for exits")
	}
}

// A child starts with no signal blocked, whatever the mask of the thread
// (and of supd at its start) was.
func TestChildStartsWithEmptySignalMask(t *testing.T) {
	r := startReaper(t, nil)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var usr1, old unix.Sigset_t
	usr1.Val[0] = 1 << (uint(unix.SIGUSR1) - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &usr1, &old); err != nil {
		t.Fatal(err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)

	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	cmd := exec.Command("grep", "SigBlk", "/proc/self/status")
	cmd.Stdout = wr
	done := make(chan Exit, 1)
	_, err = r.Start(cmd, func(e Exit) { done <- e })
	wr.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rd)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit")
	}
	if got := strings.TrimSpace(string(out)); got != "SigBlk:\t0000000000000000" {
		t.Fatalf("child: %q, want no signal blocked", got)
	}
}
