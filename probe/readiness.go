package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Readiness waits until one spawn of an instance is ready: every check of
// its ready block passes. Use one per spawn:
//
//	r, err := NewReadiness(name, spec, dir, runner) // before the spawn
//	cmd.Env = append(cmd.Env, r.Env()...)           // and r.Files() as extra fds
//	start the process
//	r.Started(pid)
//	err = r.Wait(ctx, NewTree(pid), progress)       // ctx carries the ready timeout
//	r.Close()
//
// Line may be called from any goroutine at any time until Close. The
// caller owns the Readiness and closes it; Wait may be called once.
type Readiness struct {
	name    string
	spec    ReadySpec
	dir     string
	runner  Runner
	tcp     *target
	unix    *target
	notify  *notifySocket
	pipe    *notifyPipe
	log     *logWatch
	started atomic.Int64 // unix nanos of Started, else of NewReadiness
	close   sync.Once
}

// Poll intervals of the checks that cost more than a socket dump.
const (
	httpEvery = 50 * time.Millisecond
	execEvery = 200 * time.Millisecond

	httpTimeout = 2 * time.Second  // one readiness GET
	execTimeout = 10 * time.Second // one readiness exec
)

// NewReadiness prepares the checks of spec for a spawn of the instance
// name, creating the NOTIFY_SOCKET socket and the notification_fd pipe when
// they are configured. dir is the instance's working directory (for exec
// checks); run is required when spec.Exec is set.
func NewReadiness(name string, spec ReadySpec, dir string, run Runner) (*Readiness, error) {
	r := &Readiness{name: name, spec: spec, dir: dir, runner: run}
	r.started.Store(time.Now().UnixNano())
	var err error
	if spec.TCP != "" {
		r.tcp, err = newTarget("tcp", spec.TCP)
	}
	if err == nil && spec.Unix != "" {
		r.unix, err = newTarget("unix", spec.Unix)
	}
	if err == nil && len(spec.Exec) > 0 && run == nil {
		err = errors.New("exec check without a runner")
	}
	if err == nil && spec.Notify {
		r.notify, err = newNotifySocket(name)
	}
	if err == nil && spec.NotificationFD != 0 {
		r.pipe, err = newNotifyPipe(spec.NotificationFD)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("readiness of %s: %w", name, err)
	}
	if spec.Log != nil {
		r.log = newLogWatch(spec.Log)
	}
	return r, nil
}

func newTarget(network, address string) (*target, error) {
	t, err := parseTarget(network, address)
	return &t, err
}

// Env returns the variables the child needs ("NOTIFY_SOCKET=…"), or nil.
func (r *Readiness) Env() []string {
	if r.notify == nil {
		return nil
	}
	return []string{"NOTIFY_SOCKET=" + r.notify.path}
}

// Files returns the files to pass to the child by fd number (the
// notification_fd write end), or nil. They stay owned by the Readiness.
func (r *Readiness) Files() map[int]*os.File {
	if r.pipe == nil {
		return nil
	}
	return map[int]*os.File{r.pipe.fd: r.pipe.w}
}

// Started tells that the child was spawned as pid: it closes supd's copies
// of the child's ends and starts the clock of "starting 2.1s".
func (r *Readiness) Started(pid int) {
	r.started.Store(time.Now().UnixNano())
	if r.pipe != nil {
		r.pipe.started()
	}
}

// Line gives the log check one output line of the child. It never blocks,
// and after a line has matched (or without a log check) it costs nothing.
func (r *Readiness) Line(stream string, line []byte) {
	if r.log != nil {
		r.log.line(line)
	}
}

// Close releases the notify socket and the pipe. It is safe to call twice.
func (r *Readiness) Close() {
	r.close.Do(func() {
		if r.notify != nil {
			r.notify.Close()
		}
		if r.pipe != nil {
			r.pipe.Close()
		}
	})
}

// Wait blocks until every configured check passes, and returns nil; or
// until ctx is done, and returns ctx.Err(). The ready timeout is the
// caller's: it cancels ctx. progress is called from Wait's goroutine with
// the first check that does not pass whenever its reason changes (a reason
// that only differs in its elapsed time at most once a second), and last
// with Ready set. With no check configured Wait reports ready at once.
// When Wait returns, every check has stopped.
func (r *Readiness) Wait(ctx context.Context, tree *Tree, progress func(Result)) error {
	checks := r.checks(tree)
	if len(checks) == 0 {
		progress(Result{Ready: true})
		return nil
	}
	type update struct {
		i  int
		st checkState
	}
	updates := make(chan update)
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(cctx, func(st checkState) {
				select {
				case updates <- update{i, st}:
				case <-cctx.Done():
				}
			})
		}()
	}

	states := make([]*checkState, len(checks)) // nil until reported
	var last string
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-updates:
			states[u.i] = &u.st
		}
		res := summarize(states)
		switch {
		case res.Ready:
			cancel()
			wg.Wait()
			progress(res)
			return nil
		case res.Reason != "" && res.Reason != last:
			last = res.Reason
			progress(res)
		}
	}
}

// summarize folds the states of the checks, in config order, into a
// Result: the reason of the first one that does not pass ("" while it has
// not reported yet), and the union of what they saw listening.
func summarize(states []*checkState) Result {
	res := Result{Ready: true}
	for _, st := range states {
		if st == nil {
			res.Ready = false
			continue
		}
		res.Listening = append(res.Listening, st.listening...)
		if st.status != "" {
			res.Status = st.status
		}
		if res.Ready && st.reason != "" {
			res.Ready, res.Reason = false, st.reason
		}
	}
	slices.Sort(res.Listening)
	res.Listening = slices.Compact(res.Listening)
	return res
}

// checks builds the configured checks, in config order: tcp, unix, the
// accept checks of held sockets, http, exec, notify, notification_fd, log.
func (r *Readiness) checks(tree *Tree) []check {
	started := time.Unix(0, r.started.Load())
	var cs []check
	for _, t := range []*target{r.tcp, r.unix} {
		if t != nil {
			cs = append(cs, newSocketWait(newSocketCheck(r.name, *t, tree), started))
		}
	}
	for _, h := range r.spec.Accepting {
		// Without sock_diag (a seccomp filter) acceptance cannot be seen:
		// the held socket then counts as ready once spawned.
		if c, err := newAcceptCheck(r.name, h, tree, started); err == nil {
			cs = append(cs, c)
		}
	}
	if r.spec.HTTP != "" {
		cs = append(cs, polled{every{newHTTPCheck(r.spec.HTTP, httpTimeout).get, httpEvery}})
	}
	if len(r.spec.Exec) > 0 {
		e := &execCheck{argv: r.spec.Exec, dir: r.dir, runner: r.runner, timeout: execTimeout}
		cs = append(cs, polled{every{e.run, execEvery}})
	}
	if r.notify != nil {
		r.notify.tree = tree
		cs = append(cs, r.notify)
	}
	if r.pipe != nil {
		cs = append(cs, r.pipe)
	}
	if r.log != nil {
		cs = append(cs, r.log)
	}
	return cs
}
