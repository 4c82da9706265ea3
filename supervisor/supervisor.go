// Package supervisor runs the processes of a sup config: it spawns them,
// restarts them by policy, waits for readiness, stops them in dependency
// order, and reports every state change as an event.
//
// All process state is owned by one goroutine, the loop started by Run.
// Everything else — the reaper, readiness and health probes, timers, the
// control socket — talks to it by posting closures to its inbox; results
// of a spawn carry that spawn's generation, so late ones are ignored.
package supervisor

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/fanout"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
)

// Options configures a Supervisor.
type Options struct {
	// Log receives supd's own records (state changes, errors).
	Log zerolog.Logger
	// Output is where child output lines go, one record per line, with the
	// fields process, instance and stream. Nil: os.Stderr.
	Output *output.Writer
	// Reload re-reads the config for `supctl reload` and SIGHUP; nil
	// disables config reloads.
	Reload func() (*config.Config, error)
	// Notify, if set, is called from the loop whenever the Summary
	// changes (sd_notify READY=1 / STATUS= / STOPPING=1). It must be quick.
	Notify func(Summary)
	// Reloading, if set, is called with true before a config reload is
	// applied and with false after it (sd_notify RELOADING=1 / READY=1),
	// whether the reload came from SIGHUP or from supctl.
	Reloading func(begin bool)
	// OnReady, if set, is called from the loop each time a spawn becomes
	// ready, with the time from spawn to ready. It must be quick.
	OnReady func(process string, instance int, d time.Duration)
	// Sockets holds the listening sockets of the config's socket blocks,
	// bound before New (sockets.Set); Supd is the path of the supd
	// executable that sets LISTEN_PID ("/proc/self/exe"). Both are needed
	// to start a process with sockets.
	Sockets SocketFiles
	Supd    string
}

// Supervisor supervises the processes of one config. Create it with New,
// then call Run.
type Supervisor struct {
	log       zerolog.Logger
	out       *output.Writer
	reaper    *reaper.Reaper
	reload    func() (*config.Config, error)
	notify    func(Summary)
	onReady   func(process string, instance int, d time.Duration)
	reloading func(begin bool)
	events    fanout.Hub[api.Event] // every state change; never blocks the loop
	env       []string              // supd's environment, minus what children must not inherit
	sockets   SocketFiles
	supd      string

	inbox chan func()     // closures run by the loop
	life  context.Context // done when Run returns; work outliving a request uses it
	end   context.CancelFunc

	pumps       sync.WaitGroup // output pumps still reading a child's pipe
	orphanCheck atomic.Bool    // an orphanExited is queued on the loop

	inspector *probe.Inspector

	// Owned by the loop.
	cfg      *config.Config
	insts    []*instance
	shutdown *shutdown
	scaled   scaling // supctl scale since the last reload (scale.go)
	last     Summary // the last Summary given to notify
	notified bool    // notify was called at least once
}

// New returns a supervisor for cfg. Nothing runs until Run.
func New(cfg *config.Config, opts Options) *Supervisor {
	s := &Supervisor{
		log:       opts.Log,
		out:       opts.Output,
		reload:    opts.Reload,
		notify:    opts.Notify,
		onReady:   opts.OnReady,
		reloading: opts.Reloading,
		sockets:   opts.Sockets,
		supd:      opts.Supd,
		env:       childEnv(os.Environ()),
		inbox:     make(chan func(), 64),
		inspector: probe.NewInspector(),
		cfg:       cfg,
	}
	s.life, s.end = context.WithCancel(context.Background())
	if s.out == nil {
		s.out = output.NewWriter(os.Stderr)
	}
	s.reaper = reaper.New(func(reaper.Exit) {
		// One queued re-check covers every exit reaped before it runs: an
		// orphan storm costs the loop a few messages, not one per orphan.
		if s.orphanCheck.CompareAndSwap(false, true) {
			s.post(s.orphanExited)
		}
	})
	for _, p := range cfg.Processes {
		for _, spec := range p.Instances {
			s.insts = append(s.insts, s.newInstance(spec))
		}
	}
	return s
}

// Run starts every process (in depends_on order) and supervises them until
// ctx is cancelled or a critical process ends for good; then it stops
// everything in reverse dependency order and returns the exit code supd
// should exit with: 0 after a requested shutdown, else the critical
// process's code.
func (s *Supervisor) Run(ctx context.Context) int {
	defer s.end()
	go s.reaper.Reap(s.life)

	for _, i := range s.insts {
		s.start(i, false)
	}
	done := ctx.Done()
	for {
		// After the first starts and after every message: what they
		// changed may let waiting processes start, changes the Summary
		// (processes without a ready check are ready once spawned), or
		// completes the shutdown.
		s.launchWaiting()
		s.notifySummary()
		if s.shutdown != nil && s.shutdown.complete(s) {
			s.shutdown.timer.Stop()
			s.drainOutput(outputDrainTimeout)
			s.log.Info().Int("exit_code", s.shutdown.code).Msg("all processes stopped")
			return s.shutdown.code
		}
		select {
		case f := <-s.inbox:
			f()
		case <-done:
			done = nil
			s.beginShutdown(0, "supd was asked to stop")
		}
	}
}

// outputDrainTimeout bounds the wait for the output of processes that are
// gone: normally their pipes reach EOF at once, but a descendant that got
// away may hold one open.
const outputDrainTimeout = 2 * time.Second

// drainOutput waits, up to d, until every pump has read its pipe to the
// end: a process that exited may have left lines in its pipe, and they
// must reach supd's output before supd exits.
func (s *Supervisor) drainOutput(d time.Duration) {
	done := make(chan struct{})
	go func() { s.pumps.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		s.log.Warn().Dur("waited", d).Msg("output of stopped processes still open (held by a descendant?); not waiting longer")
	}
}

// post queues f to run on the loop. It never blocks once Run has returned.
func (s *Supervisor) post(f func()) {
	select {
	case s.inbox <- f:
	case <-s.life.Done():
	}
}

// call runs f on the loop and waits for it to finish.
func (s *Supervisor) call(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case s.inbox <- func() { f(); close(done) }:
	case <-s.life.Done():
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-s.life.Done():
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errStopped answers requests that come while supd stops everything.
var errStopped = api.ErrShuttingDown

// after runs f on the loop after d. The returned timer may be stopped.
func (s *Supervisor) after(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() { s.post(f) })
}

// instances resolves names ("api" or "api:2"; none = all) to instances.
func (s *Supervisor) instances(names []string) ([]*instance, error) {
	if len(names) == 0 {
		return slices.Clone(s.insts), nil
	}
	var out []*instance
	for _, n := range names {
		found := false
		for _, i := range s.insts {
			if i.spec.Name == n || i.spec.Process == n {
				if !slices.Contains(out, i) {
					out = append(out, i)
				}
				found = true
			}
		}
		if !found {
			return nil, unknownName(n, s.processNames())
		}
	}
	return out, nil
}

func (s *Supervisor) processNames() []string {
	var names []string
	for _, p := range s.cfg.Processes {
		names = append(names, p.Name)
	}
	return names
}

// dependents returns the processes that depend on process name.
func (s *Supervisor) dependents(name string) []string {
	var out []string
	for _, p := range s.cfg.Processes {
		if slices.Contains(p.DependsOn, name) {
			out = append(out, p.Name)
		}
	}
	return out
}

// processDown reports whether every instance of process name is down.
func (s *Supervisor) processDown(name string) bool {
	for _, i := range s.insts {
		if i.spec.Process == name && !i.state.down() {
			return false
		}
	}
	return true
}

// launchWaiting spawns every instance that was waiting for its
// dependencies and may go now, and refreshes the reason of those that
// still wait. The loop runs it after every message.
func (s *Supervisor) launchWaiting() {
	if s.shutdown != nil {
		return
	}
	for _, i := range s.insts {
		if i.state == Starting && i.pid == 0 && i.timer == nil {
			s.tryLaunch(i)
		}
	}
}

// depsReady returns "" when every instance of every depends_on target is
// ready, else why not.
func (s *Supervisor) depsReady(i *instance) string {
	for _, dep := range i.spec.DependsOn {
		for _, d := range s.insts {
			if d.spec.Process != dep || d.ready {
				continue
			}
			why := d.state.String()
			if d.reason != "" {
				why += ": " + d.reason
			}
			return fmt.Sprintf("waiting for %s (%s)", d.spec.Name, why)
		}
	}
	return ""
}

// orphanExited re-checks instances whose leader is gone but whose process
// tree was still draining.
func (s *Supervisor) orphanExited() {
	s.orphanCheck.Store(false) // exits reaped from now on queue another check
	for _, i := range s.insts {
		if i.state == Stopping && i.pid == 0 && !treeAlive(i) {
			s.finishStop(i)
		}
	}
}

// notifySummary calls the Notify option when the Summary changed.
func (s *Supervisor) notifySummary() {
	if s.notify == nil {
		return
	}
	sum := s.summary()
	if s.notified && sum.Ready == s.last.Ready && sum.Total == s.last.Total && sum.Starting == s.last.Starting &&
		sum.Stopping == s.last.Stopping && slices.Equal(sum.NotReady, s.last.NotReady) {
		return
	}
	s.last, s.notified = sum, true
	s.notify(sum)
}

// Ping returns once the loop has run a no-op: proof that it is not stuck.
func (s *Supervisor) Ping(ctx context.Context) error {
	return s.call(ctx, func() {})
}

// Signal forwards sig to the process tree of every running instance.
func (s *Supervisor) Signal(sig syscall.Signal) {
	s.post(func() {
		for _, i := range s.insts {
			if i.pid != 0 {
				signalTree(i, sig)
			}
		}
	})
}
