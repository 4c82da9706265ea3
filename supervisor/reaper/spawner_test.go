package reaper

import (
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Children started with Pdeathsig from goroutines whose threads then end
// (a locked goroutine that returns: the runtime ends its thread) keep
// running: the fork happened on the spawner thread, which lives as long
// as the process. Forked from the callers' threads, they would get
// SIGKILL as soon as those threads ended (all but one, at most, that ran
// on the main thread, which the runtime never ends).
func TestPdeathsigOutlivesTheCallersThread(t *testing.T) {
	r := startReaper(t, nil)
	const n = 8
	exited := make(chan Exit, n)
	started := make(chan int, n)
	for range n {
		go func() {
			runtime.LockOSThread() // never unlocked: this thread ends with the goroutine
			cmd := exec.Command("sleep", "30")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			pid, err := r.Start(cmd, func(e Exit) { exited <- e })
			if err != nil {
				t.Error(err)
			}
			started <- pid
		}()
	}
	var pids []int
	for range n {
		if pid := <-started; pid != 0 {
			pids = append(pids, pid)
		}
	}
	defer func() {
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
	}()
	// The callers' threads are gone within a few ms; the children must
	// not have been killed with them.
	select {
	case e := <-exited:
		t.Fatalf("a child died with its caller's thread: %v", e)
	case <-time.After(500 * time.Millisecond):
	}
	for _, pid := range pids {
		unix.Kill(pid, unix.SIGKILL)
	}
	for range pids {
		select {
		case e := <-exited:
			if sig, _ := e.Signaled(); sig != unix.SIGKILL {
				t.Errorf("exit %v", e)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no exit after SIGKILL")
		}
	}
}
