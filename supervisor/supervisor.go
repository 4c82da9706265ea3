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
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/cgroup"
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
	// Lines, if set, receives those records instead of Output: JSON
	// objects, one a line, several in one Write (e.g. a writer that
	// formats them for a console, for --log-format console).
	Lines io.Writer
	// Reload re-reads the config for `supctl reload` and SIGHUP; nil
	// disables config reloads.
	Reload func() (*config.Config, error)
	// OnEvent, if set, receives every Event (see EventKind), in order,
	// from the loop goroutine itself. It must be quick and must not block
	// (hand slow work such as a hook run to another goroutine), and must
	// not call the Supervisor.
	OnEvent func(Event)
	// Clock and Launcher replace the real time and the real fork/exec
	// (tests). Nil: the real ones.
	Clock    Clock
	Launcher Launcher
	// Cgroups, if set, contains every spawn of the real launcher in a
	// cgroup of its own (see contain.go). The caller opens and closes it.
	Cgroups *cgroup.Manager
	// NginxConfig is where `why` reads nginx's config to name the upstreams
	// that point at a process: a path, "" for what `nginx -T` prints (else
	// /etc/nginx/nginx.conf), or "off".
	NginxConfig string
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
	log      zerolog.Logger
	out      *output.Writer
	lines    *output.Writer // child output records go here: out, or Options.Lines
	reaper   *reaper.Reaper // nil with an injected Launcher
	clock    Clock
	launcher Launcher
	reload   func() (*config.Config, error)
	reloadMu sync.Mutex // config reloads are applied one at a time
	onEvent  func(Event)
	events   fanout.Hub[api.Event] // every state change; never blocks the loop
	watched  chan struct{}         // a subscriber came: WatchQueues starts looking
	env      []string              // supd's environment, minus what children must not inherit
	sockets  SocketFiles
	supd     string

	inbox chan func()     // closures run by the loop
	life  context.Context // done when Run returns; work outliving a request uses it
	end   context.CancelFunc

	pumps       pumps       // output pumps still reading a child's pipe
	orphanCheck atomic.Bool // an orphanExited is queued on the loop

	inspector *probe.Inspector

	nginxConfig string // Options.NginxConfig

	// Owned by the loop.
	cfg      *config.Config
	insts    []*instance
	byProc   map[string][]*instance // insts by process name
	revDeps  map[string][]string    // process -> the processes that depend on it
	shutdown *shutdown
	waits    []*waiter // actions not complete yet
	scaled   scaling   // supctl scale since the last reload (scale.go)
	last     Summary   // the last Summary emitted
	notified bool      // a Summary was emitted at least once
}

// New returns a supervisor for cfg. Nothing runs until Run.
func New(cfg *config.Config, opts Options) *Supervisor {
	s := &Supervisor{
		watched:   make(chan struct{}, 1),
		log:       opts.Log,
		out:       opts.Output,
		reload:    opts.Reload,
		onEvent:   opts.OnEvent,
		clock:     cmp.Or[Clock](opts.Clock, realClock{}),
		launcher:  opts.Launcher,
		env:       childEnv(os.Environ()),
		sockets:   opts.Sockets,
		supd:      opts.Supd,
		inbox:     make(chan func(), 64),
		inspector: probe.NewInspector(),
	}
	s.life, s.end = context.WithCancel(context.Background())
	s.nginxConfig = opts.NginxConfig
	if s.out == nil {
		s.out = output.NewWriter(os.Stderr)
	}
	s.lines = s.out
	if opts.Lines != nil {
		s.lines = output.NewWriter(opts.Lines)
	}
	if s.launcher == nil {
		s.reaper = reaper.New(func(reaper.Exit) {
			// One queued re-check covers every exit reaped before it runs: an
			// orphan storm costs the loop a few messages, not one per orphan.
			if s.orphanCheck.CompareAndSwap(false, true) {
				s.post(s.orphanExited)
			}
		})
		s.launcher = &procLauncher{env: s.env, reaper: s.reaper, pumps: &s.pumps, passSockets: s.passSockets,
			contain: containment{m: opts.Cgroups}}
	}
	var insts []*instance
	for _, p := range cfg.Processes {
		for _, spec := range p.Instances {
			insts = append(insts, s.newInstance(spec))
		}
	}
	s.setConfig(cfg, insts)
	return s
}

// setConfig makes cfg and insts the current ones, with their indexes.
func (s *Supervisor) setConfig(cfg *config.Config, insts []*instance) {
	s.cfg, s.insts = cfg, insts
	s.byProc = make(map[string][]*instance, len(cfg.Processes))
	for _, i := range insts {
		s.byProc[i.spec.Process] = append(s.byProc[i.spec.Process], i)
	}
	s.revDeps = make(map[string][]string)
	for _, p := range cfg.Processes {
		for _, d := range p.DependsOn {
			s.revDeps[d] = append(s.revDeps[d], p.Name)
		}
	}
}

// Run starts every process (in depends_on order) and supervises them until
// ctx is cancelled or a critical process ends for good; then it stops
// everything in reverse dependency order and returns the exit code supd
// should exit with: 0 after a requested shutdown, else the critical
// process's code.
func (s *Supervisor) Run(ctx context.Context) int {
	defer s.end()
	if s.reaper != nil {
		go s.reaper.Reap(s.life)
	}

	for _, i := range s.insts {
		s.handle(i, inStart{})
	}
	done := ctx.Done()
	for {
		// After the first starts and after every message: what they
		// changed may let waiting processes start, changes the Summary
		// (processes without a ready check are ready once spawned), or
		// completes the shutdown.
		s.launchWaiting()
		s.checkWaits()
		s.notifySummary()
		if s.shutdown != nil && s.shutdown.complete(s) {
			s.shutdown.timer.Stop()
			s.failWaits(errStopped)
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
// away may hold one open. The wait goes on while lines still come (a
// process that wrote a lot and exited), up to outputDrainLimit.
const (
	outputDrainTimeout = 2 * time.Second
	outputDrainLimit   = 30 * time.Second
)

// drainOutput waits until every pump has read its pipe to the end: a
// process that exited may have left lines in its pipe, and they must reach
// supd's output (and log files) before supd exits. It gives up after idle
// with nothing read, or after outputDrainLimit.
func (s *Supervisor) drainOutput(idle time.Duration) {
	if !s.pumps.drain(idle, outputDrainLimit) {
		s.log.Warn().Dur("idle", idle).Msg("output of stopped processes still open (held by a descendant?); not waiting longer")
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

// processDown reports whether every instance of process name is down.
func (s *Supervisor) processDown(name string) bool {
	for _, i := range s.byProc[name] {
		if !i.state().down() {
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
		if i.phase == phWaiting {
			s.handle(i, inDeps{})
		}
	}
}

// depsReady returns "" when every instance of every depends_on target is
// ready, else why not.
func (s *Supervisor) depsReady(i *instance) string {
	for _, dep := range i.spec.DependsOn {
		for _, d := range s.byProc[dep] {
			if d.ready {
				continue
			}
			why := d.state().String()
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
		if i.phase.stopping() && i.pid() == 0 {
			s.handle(i, inReap{})
		}
	}
}

// notifySummary emits an EventSummary when the Summary changed.
func (s *Supervisor) notifySummary() {
	if s.onEvent == nil {
		return
	}
	sum := s.summary()
	if s.notified && sum.Ready == s.last.Ready && sum.Total == s.last.Total && sum.Starting == s.last.Starting &&
		sum.Stopping == s.last.Stopping && slices.Equal(sum.NotReady, s.last.NotReady) {
		return
	}
	s.last, s.notified = sum, true
	s.emit(Event{Kind: EventSummary, Time: s.clock.Now(), Summary: sum})
}

// Ping returns once the loop has run a no-op: proof that it is not stuck.
func (s *Supervisor) Ping(ctx context.Context) error {
	return s.call(ctx, func() {})
}

// Signal forwards sig to the process tree of every running instance.
func (s *Supervisor) Signal(sig syscall.Signal) {
	s.post(func() {
		for _, i := range s.insts {
			if i.pid() != 0 {
				i.signal(sig)
			}
		}
	})
}
