// Package reaper owns every wait for child processes of supd.
//
// A process manager that lets os/exec wait for its own children while
// something else calls wait4(-1) loses exit statuses: whichever waiter runs
// first takes the status. So supd has exactly one waiter: a Reaper calls
// wait4(-1, WNOHANG) in a loop on every SIGCHLD, and routes each exit by pid
// to the callback registered when that pid was started. Registering is
// atomic with starting (the reaper's lock is held across fork), so no exit
// can be reaped before its pid is known. Exits of pids nobody registered
// (orphans re-parented to supd as PID 1 or as a child subreaper) are reaped
// too and reported to OnOrphan.
//
// Nothing in supd may call exec.Cmd.Wait or os.Process.Wait.
package reaper

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Exit is how a process ended.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
	Time   time.Time
}

// Code is the exit code, or 128+n when killed by signal n (the shell's
// convention, and what supd exits with for a critical process).
func (e Exit) Code() int {
	if e.Status.Signaled() {
		return 128 + int(e.Status.Signal())
	}
	return e.Status.ExitStatus()
}

// Signaled reports whether the process was killed by a signal, and which.
func (e Exit) Signaled() (syscall.Signal, bool) {
	if e.Status.Signaled() {
		return e.Status.Signal(), true
	}
	return 0, false
}

// String is "exited 1" or "killed by SIGKILL", as reasons say it.
func (e Exit) String() string {
	if sig, ok := e.Signaled(); ok {
		return "killed by " + SignalName(sig)
	}
	return fmt.Sprintf("exited %d", e.Status.ExitStatus())
}

// SignalName is "SIGKILL" for syscall.SIGKILL.
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// Reaper routes child exits by pid. The zero value is not usable: use New.
type Reaper struct {
	mu       sync.Mutex
	waiting  map[int]func(Exit) // guarded by mu
	onOrphan func(Exit)

	// reapAll's lists, kept between calls (only Reap's goroutine uses
	// them) so that reaping allocates nothing, orphan storms included.
	exits    []Exit
	handlers []func(Exit)
}

// New returns a Reaper. onOrphan, if not nil, is called (from the reaper's
// goroutine, never under a lock) for every reaped pid that was not started
// through Start. Call Reap to start reaping.
func New(onOrphan func(Exit)) *Reaper {
	return &Reaper{
		waiting:  make(map[int]func(Exit)),
		onOrphan: onOrphan,
	}
}

// BecomeSubreaper makes this process a child subreaper (unless it is PID 1,
// which is one already), so orphaned descendants are re-parented to it and
// their exits reach the Reaper.
func BecomeSubreaper() error {
	if os.Getpid() == 1 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	return nil
}

// Reap reaps until ctx is done. It must be running before the first Start.
// Callbacks run on Reap's goroutine, outside the reaper's lock: they may block
// briefly, and may call Start.
func (r *Reaper) Reap(ctx context.Context) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	for {
		r.reapAll()
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		}
	}
}

// reapAll collects every exited child (SIGCHLDs merge, so it loops until
// wait4 has nothing more) and delivers the exits outside the lock, in
// batches of at most reapBatch: its lists stay small, and are reused,
// however many children exit at once (an orphaner that exits hands all its
// zombies to supd together).
func (r *Reaper) reapAll() {
	for {
		exits, handlers := r.exits[:0], r.handlers[:0]
		r.mu.Lock()
		for len(exits) < reapBatch {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
			if ws.Stopped() || ws.Continued() {
				continue
			}
			h := r.waiting[pid]
			delete(r.waiting, pid)
			exits = append(exits, Exit{Pid: pid, Status: ws, Time: time.Now()})
			handlers = append(handlers, h)
		}
		r.mu.Unlock()
		for i, e := range exits {
			switch {
			case handlers[i] != nil:
				handlers[i](e)
			case r.onOrphan != nil:
				r.onOrphan(e)
			}
		}
		clear(handlers) // keep no callback alive
		r.exits, r.handlers = exits[:0], handlers[:0]
		if len(exits) < reapBatch {
			return
		}
	}
}

// reapBatch is how many exits reapAll delivers at a time.
const reapBatch = 256

// Start starts cmd and registers onExit for its pid, atomically: the exit
// cannot be reaped before it is registered. onExit is called exactly once,
// from the reaper's goroutine. cmd must not use StdoutPipe-style pipes that
// need Wait; give it *os.File for stdio. The caller must never call
// cmd.Wait; Start releases cmd.Process itself. The fork happens on supd's
// spawner thread (onSpawnerThread): a SysProcAttr.Pdeathsig set in cmd
// fires when supd dies, whichever goroutine or thread called Start.
func (r *Reaper) Start(cmd *exec.Cmd, onExit func(Exit)) (pid int, err error) {
	r.mu.Lock()
	err = onSpawnerThread(func() error { return startUnblocked(cmd) })
	if err == nil {
		pid = cmd.Process.Pid
		r.waiting[pid] = onExit
	}
	r.mu.Unlock()
	if err != nil {
		return 0, err
	}
	// The reaper waits, not os.Process: release its pidfd now.
	_ = cmd.Process.Release()
	return pid, nil
}

// onSpawnerThread runs start on the one OS thread every child of supd is
// forked from. That thread is locked to its goroutine for supd's lifetime
// and never exits, so a child's SysProcAttr.Pdeathsig, which the kernel
// ties to the forking thread, not to the process (golang/go#27505), fires
// when supd dies and never because the Go runtime retired a thread.
func onSpawnerThread(start func() error) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the goroutine never returns
			for req := range spawner.reqs {
				req.done <- req.start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{start, done}
	return <-done
}

var spawner struct {
	once sync.Once
	reqs chan spawnRequest
}

type spawnRequest struct {
	start func() error
	done  chan error
}

// startUnblocked starts cmd with an empty signal mask.
//
// A child of a Go program starts with the signal mask of the thread that
// forked it, and Go threads keep blocked whatever signals the program was
// started with blocked (all but those the runtime needs): a supd started
// with, say, SIGUSR1 or SIGTSTP blocked would pass that on to every child,
// which then never sees those signals. So the fork happens on this
// goroutine's thread, locked, with its mask emptied for the duration.
func startUnblocked(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var none, old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &none, &old); err != nil {
		return cmd.Start() // cannot happen with valid arguments
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return cmd.Start()
}

// Run runs argv to completion with a combined-output pipe and returns its
// exit code (128+n when killed by a signal) and output (at most 64 KiB, the
// end kept). When ctx ends first, the command's process group is killed.
// It implements probe.Runner for exec checks, so they never race the reaper.
func (r *Reaper) Run(ctx context.Context, argv []string, dir string, env []string) (int, []byte, error) {
	if len(argv) == 0 {
		return 0, nil, fmt.Errorf("empty command")
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	defer rd.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = wr, wr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	done := make(chan Exit, 1)
	pid, err := r.Start(cmd, func(e Exit) { done <- e })
	wr.Close()
	if err != nil {
		return 0, nil, err
	}
	out := make(chan []byte, 1)
	go func() { out <- readTail(rd, 64<<10) }()
	select {
	case e := <-done:
		// A grandchild may still hold the pipe: do not wait for EOF forever.
		_ = unix.Kill(-pid, unix.SIGKILL)
		select {
		case b := <-out:
			return e.Code(), b, nil
		case <-time.After(100 * time.Millisecond):
			rd.Close()
			return e.Code(), <-out, nil
		}
	case <-ctx.Done():
		_ = unix.Kill(-pid, unix.SIGKILL)
		<-done
		rd.Close()
		return 0, <-out, ctx.Err()
	}
}

// readTail reads until EOF or error and returns at most max trailing bytes.
func readTail(rd *os.File, max int) []byte {
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := rd.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if len(buf) > 2*max {
			buf = append(buf[:0], buf[len(buf)-max:]...)
		}
		if err != nil {
			break
		}
	}
	if len(buf) > max {
		buf = buf[len(buf)-max:]
	}
	return buf
}

// Pending is how many started pids have not exited yet.
func (r *Reaper) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiting)
}
