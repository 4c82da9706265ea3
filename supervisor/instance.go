package supervisor

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
	"github.com/sup-sh/sup/supervisor/restart"
	"golang.org/x/sys/unix"
)

// instance is one process instance. Every field is owned by the loop, and
// only machine.go's handle (through enter) changes its phase.
type instance struct {
	spec    *config.Spec
	log     zerolog.Logger
	sink    *output.Sink
	tracker *restart.Tracker

	phase  phase
	ready  bool
	reason string
	entry  uint64 // bumped at every enter: a timer armed before is stale
	timer  Timer  // the current phase's timer, nil when it has none

	// desired is the one source of "stopped by request": desiredStopped
	// after a stop (supctl stop, removed by a reload, shutdown) until the
	// next start or restart.
	desired desired
	stopWhy string // who asked for the stop, the reason once stopped
	then    func() // run once a stop is complete (restart), unless shutting down

	gen uint64 // the current run's generation: inputs of another spawn are stale
	seq uint64 // spawn generations handed out, never reused
	run *run   // the current (or last) spawn; nil before the first
	// old is, during a replacement, the spawn that keeps serving until
	// run is ready (then it is retired: drained, stopped); nil otherwise.
	old *run
	// rollNext is the reason of a roll asked for while old was still
	// being retired: it starts once old is gone.
	rollNext string
	// rollFailed says why the last replacement failed (the old spawn kept
	// serving); a roll waiting on the instance fails with it.
	rollFailed string
	lastRun    *run   // the spawn lastExit ended
	exitWhy    string // how lastRun ended: its exit, or why supd ended it
	spawns     int    // spawns so far; restarts = spawns - 1
	lastExit   *reaper.Exit
	exitCode   *int   // for a spawn that failed: 127/126/1
	probe      string // last probe result of the current spawn, for `why`
	delay      time.Duration
	// failure is set when supd itself ends the current run (not ready in
	// time, unhealthy, max_memory): the reason its end is reported with.
	failure string
	// stale: the spec changed at a reload and no spawn has used it yet.
	stale bool
}

// desired is what the loop drives an instance towards.
type desired int

const (
	desiredRunning desired = iota
	desiredStopped
)

// run is one spawn of an instance.
type run struct {
	gen     uint64
	sp      Spawn
	pid     int // 0 once the leader was reaped
	started time.Time
	readyAt time.Time
	cancel  context.CancelFunc // ready or health checks of this run
	// retiring is set once a replaced run is being stopped; its one timer
	// (drain, then stop timeout) is timer.
	retiring phase
	timer    Timer
}

func (r *run) tree() *probe.Tree {
	if r == nil {
		return nil
	}
	return r.sp.Tree()
}

func (s *Supervisor) newInstance(spec *config.Spec) *instance {
	log := s.log.With().Str("process", spec.Process).Int("instance", spec.Instance).Logger()
	lines := zerolog.New(s.lines.Batched()).With().
		Str("process", spec.Process).Int("instance", spec.Instance).Logger()
	return &instance{
		spec:    spec,
		log:     log,
		sink:    s.newSink(spec, lines),
		tracker: restart.NewTracker(spec.Restart),
	}
}

func (i *instance) state() State  { return i.phase.state() }
func (i *instance) restarts() int { return max(i.spawns-1, 0) }
func (i *instance) stopped() bool { return i.desired == desiredStopped }
func (i *instance) pid() int {
	if i.run == nil {
		return 0
	}
	return i.run.pid
}

// cancelChecks ends the ready or health checks of the current run.
func (i *instance) cancelChecks() {
	if i.run != nil && i.run.cancel != nil {
		i.run.cancel()
		i.run.cancel = nil
	}
}

// signal sends sig to the current run's process tree, if there is one.
func (i *instance) signal(sig unix.Signal) {
	if i.run != nil {
		i.run.sp.Signal(sig)
	}
}

// treeAlive reports whether anything of the current run's tree is left,
// or of a replaced run still being retired.
func (i *instance) treeAlive() bool {
	return (i.run != nil && i.run.sp.Alive()) || i.old != nil
}
