package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
	"github.com/sup-sh/sup/supervisor/restart"
	"golang.org/x/sys/unix"
)

// instance is one process instance. Every field is owned by the loop.
type instance struct {
	spec    *config.Spec
	log     zerolog.Logger
	sink    *output.Sink
	tracker *restart.Tracker

	state    State
	ready    bool
	reason   string
	gen      uint64 // bumped at every spawn and stop; stale callbacks compare it
	pid      int    // 0 when no process
	pgid     int    // process group of the current or last spawn
	tree     *probe.Tree
	spawns   int // spawns so far; restarts = spawns - 1
	started  time.Time
	readyAt  time.Time
	lastExit *reaper.Exit
	exitCode *int   // for a spawn that failed: 127/126/1
	probe    string // last probe result, for `why`

	stoppedByRequest bool
	failure          string // set when this run is ended by supd: not ready in time, unhealthy
	afterStop        func() // run once the instance is down (restart)

	cancel   context.CancelFunc // readiness and health of the current spawn
	timer    *time.Timer        // backoff delay or drain
	readyTmr *time.Timer
	killTmr  *time.Timer
}

func (s *Supervisor) newInstance(spec *config.Spec) *instance {
	log := s.log.With().Str("process", spec.Process).Int("instance", spec.Instance).Logger()
	lines := zerolog.New(s.out.Batched()).With().
		Str("process", spec.Process).Int("instance", spec.Instance).Logger()
	return &instance{
		spec:    spec,
		log:     log,
		sink:    s.newSink(spec, lines),
		tracker: restart.NewTracker(spec.Restart),
		state:   Stopped,
	}
}

func (i *instance) restarts() int { return max(i.spawns-1, 0) }

// set changes state, readiness and reason together and publishes an event
// when anything changed.
func (s *Supervisor) set(i *instance, st State, ready bool, reason string) {
	if i.state == st && i.ready == ready && i.reason == reason {
		return
	}
	from := i.state
	i.state, i.ready, i.reason = st, ready, reason
	if from != st {
		ev := i.log.Info()
		if reason != "" {
			ev = ev.Str("reason", reason)
		}
		ev.Str("from", from.String()).Int("pid", i.pid).Msg(st.String())
	}
	s.events.Publish(s.event(i, from))
}

// start brings a down (or backing-off) instance up. requested: by the
// operator, which forgets the restart history.
func (s *Supervisor) start(i *instance, requested bool) {
	i.stoppedByRequest = false
	switch i.state {
	case Starting, Running:
		return
	case Stopping:
		i.afterStop = func() { s.start(i, requested) }
		return
	}
	if requested || i.state == Fatal {
		i.tracker.Reset()
	}
	s.stopTimer(&i.timer)
	i.pid = 0
	s.set(i, Starting, false, "")
	s.tryLaunch(i)
}

// tryLaunch spawns i if its dependencies are ready, else records why not.
func (s *Supervisor) tryLaunch(i *instance) {
	if why := s.depsReady(i); why != "" {
		s.set(i, Starting, false, why)
		return
	}
	s.spawn(i)
}

// spawn starts one run of i. The state is Starting (or Backoff) on entry.
func (s *Supervisor) spawn(i *instance) {
	i.gen++
	gen := i.gen
	i.failure, i.exitCode = "", nil
	rd, err := probe.NewReadiness(i.spec.Name, i.spec.Ready, i.spec.Dir, s.reaper)
	if err != nil {
		s.spawnFailed(i, 1, fmt.Sprintf("readiness setup: %v", err))
		return
	}
	holder := s.heldBefore(i)
	pid, err := s.launch(i, rd, func(e reaper.Exit) { s.post(func() { s.exited(i, gen, e) }) })
	if err != nil {
		rd.Close()
		code := 1
		if se, ok := err.(*spawnError); ok {
			code = se.code
		}
		s.spawnFailed(i, code, err.Error())
		return
	}
	rd.Started(pid)
	i.spawns++
	i.pid, i.pgid, i.started, i.readyAt = pid, pid, time.Now(), time.Time{}
	i.tree = probe.NewTree(pid)
	if i.spec.Type == config.Oneshot {
		rd.Close()
		s.set(i, Starting, false, "running to completion")
		return
	}
	if !i.spec.Ready.HasChecks() {
		rd.Close()
		s.becomeReady(i)
		return
	}
	reason := "starting"
	if holder != "" {
		reason = holder
	}
	s.set(i, Starting, false, reason)
	s.watchReadiness(i, gen, rd)
}

// heldBefore says, before a spawn, whether the configured address is
// already held by someone (who then cannot be part of the new tree). A
// socket supd holds for the process is held by supd and its siblings.
func (s *Supervisor) heldBefore(i *instance) string {
	if len(i.spec.Sockets) > 0 {
		return ""
	}
	for _, a := range expected(i.spec.Ready) {
		holders, err := probe.HeldBy(a.network, a.address)
		if err != nil || len(holders) == 0 {
			continue
		}
		return probe.HeldReason(a.address, holders[0], i.spec.Name)
	}
	return ""
}

// watchReadiness runs the readiness checks of spawn gen and the timeout.
func (s *Supervisor) watchReadiness(i *instance, gen uint64, rd *probe.Readiness) {
	ctx, cancel := context.WithCancel(context.Background())
	i.cancel = cancel
	i.sink.Observe(rd.Line)
	tree := i.tree
	go func() {
		defer rd.Close()
		err := rd.Wait(ctx, tree, func(r probe.Result) {
			s.post(func() { s.progress(i, gen, r) })
		})
		if err == nil {
			s.post(func() {
				if i.gen == gen && i.state == Starting && i.failure == "" {
					s.becomeReady(i)
				}
			})
		}
	}()
	i.readyTmr = s.after(i.spec.Ready.Timeout, func() { s.readyTimeout(i, gen) })
}

func (s *Supervisor) progress(i *instance, gen uint64, r probe.Result) {
	if i.gen != gen || i.state != Starting || i.failure != "" {
		return
	}
	i.probe = r.Reason
	if r.Status != "" && r.Reason == "" {
		i.probe = "STATUS=" + r.Status
	}
	if !r.Ready && r.Reason != "" {
		s.set(i, Starting, false, r.Reason)
	}
}

func (s *Supervisor) readyTimeout(i *instance, gen uint64) {
	if i.gen != gen || i.state != Starting || i.ready {
		return
	}
	i.failure = fmt.Sprintf("not ready after %s: %s", i.spec.Ready.Timeout, i.reason)
	s.cancelProbes(i)
	s.set(i, Starting, false, i.failure+"; stopping it")
	s.signalStop(i)
}

// becomeReady marks the current spawn ready and starts liveness checks.
func (s *Supervisor) becomeReady(i *instance) {
	s.cancelProbes(i)
	i.readyAt = time.Now()
	i.probe = "ready"
	if s.onReady != nil {
		s.onReady(i.spec.Process, i.spec.Instance, i.readyAt.Sub(i.started))
	}
	s.set(i, Running, true, "")
	if !i.spec.Health.HasChecks() {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	i.cancel = cancel
	gen, tree := i.gen, i.tree
	h := probe.NewHealth(i.spec.Name, i.spec.Health, i.spec.Dir, s.reaper)
	go h.Run(ctx, tree, func(r probe.HealthResult) { s.post(func() { s.health(i, gen, r) }) })
}

func (s *Supervisor) health(i *instance, gen uint64, r probe.HealthResult) {
	if i.gen != gen || i.state != Running || i.failure != "" {
		return
	}
	i.probe = "health: ok"
	if !r.OK {
		i.probe = r.Reason
	}
	s.set(i, Running, r.OK, r.Reason)
	if r.Restart {
		i.failure = r.Reason
		s.cancelProbes(i)
		s.signalStop(i)
	}
}

// stop brings i down by request.
func (s *Supervisor) stop(i *instance) {
	i.stoppedByRequest = true
	i.afterStop = nil
	switch {
	case i.state == Stopping || i.state.down():
		return
	case i.pid == 0: // waiting for dependencies, or in backoff
		s.stopTimer(&i.timer)
		s.set(i, Stopped, false, "")
	default:
		s.beginStop(i)
	}
}

// restart stops i (if up) and starts it again.
func (s *Supervisor) restart(i *instance) {
	switch {
	case i.pid == 0 && i.state != Stopping: // down, in backoff, or waiting for dependencies
		s.start(i, true)
	case i.state == Stopping:
		i.afterStop = func() { s.start(i, true) }
	default:
		s.beginStop(i)
		i.afterStop = func() { s.start(i, true) }
	}
}

// beginStop marks i stopping: drain first (not ready), then the stop signal.
func (s *Supervisor) beginStop(i *instance) {
	s.cancelProbes(i)
	s.stopTimer(&i.readyTmr)
	if d := i.spec.Stop.Drain; d > 0 {
		gen := i.gen
		s.set(i, Stopping, false, fmt.Sprintf("draining for %s", d))
		i.timer = s.after(d, func() {
			if i.gen == gen && i.state == Stopping {
				i.timer = nil
				s.signalStop(i)
			}
		})
		return
	}
	s.set(i, Stopping, false, "stopping")
	s.signalStop(i)
}

// signalStop sends the stop signal to the process tree and arms SIGKILL.
func (s *Supervisor) signalStop(i *instance) {
	if i.pgid == 0 {
		return // never spawned: no timer to arm either
	}
	signalTree(i, i.spec.Stop.Signal)
	gen := i.gen
	s.stopTimer(&i.killTmr)
	i.killTmr = s.after(i.spec.Stop.Timeout, func() {
		if i.gen == gen && (i.pid != 0 || i.state == Stopping) {
			i.log.Warn().Dur("timeout", i.spec.Stop.Timeout).Msg("did not stop in time: SIGKILL to its process tree")
			signalTree(i, unix.SIGKILL)
		}
	})
}

// exited handles the end of spawn gen of i.
func (s *Supervisor) exited(i *instance, gen uint64, e reaper.Exit) {
	if i.gen != gen || i.pid != e.Pid {
		return
	}
	i.lastExit = &e
	i.pid = 0
	s.cancelProbes(i)
	s.stopTimer(&i.readyTmr)
	i.sink.Observe(nil)
	if i.state == Stopping {
		if treeAlive(i) {
			return // orphanExited finishes it once the tree is gone
		}
		s.finishStop(i)
		return
	}
	// Not asked to stop: whatever is left of its process tree goes too.
	signalTree(i, unix.SIGKILL)
	s.stopTimer(&i.killTmr)
	s.ended(i, e)
}

// ended applies the restart policy after an unrequested end.
func (s *Supervisor) ended(i *instance, e reaper.Exit) {
	desc := e.String()
	failed := e.Code() != 0 || i.failure != ""
	why := desc
	switch {
	case i.failure != "":
		why = i.failure
	case !i.ready && i.readyAt.IsZero() && len(expected(i.spec.Ready)) > 0 && i.spec.Type == config.Service:
		why = desc + " before binding"
	}
	var readyFor time.Duration
	if !i.readyAt.IsZero() {
		readyFor = e.Time.Sub(i.readyAt)
	}
	if s.shutdown != nil {
		s.set(i, Stopped, false, why)
		return
	}
	d := i.tracker.Decide(e.Time, restart.End{Failed: failed, ReadyFor: readyFor, Oneshot: i.spec.Type == config.Oneshot, ExitedFor: why})
	switch d.Action {
	case restart.Exit:
		ok := i.spec.Type == config.Oneshot && !failed
		reason := why
		if ok {
			reason = ""
		}
		s.set(i, Exited, ok, reason)
		s.endedForGood(i)
	case restart.Fatal:
		s.set(i, Fatal, false, d.Reason)
		s.endedForGood(i)
	case restart.Restart:
		if d.Delay == 0 {
			s.set(i, Starting, false, why+"; restarting")
			s.spawn(i)
			return
		}
		gen := i.gen
		s.set(i, Backoff, false, fmt.Sprintf("%s; restarting in %s", why, d.Delay))
		i.timer = s.after(d.Delay, func() {
			if i.gen == gen && i.state == Backoff {
				i.timer = nil
				s.set(i, Starting, false, why+"; restarting")
				s.spawn(i)
			}
		})
	}
}

// spawnFailed: the command could not be started at all. Retrying cannot
// help (missing binary, not executable, unknown user): fatal at once.
func (s *Supervisor) spawnFailed(i *instance, code int, reason string) {
	i.exitCode = &code
	i.log.Error().Int("exit_code", code).Msg(reason)
	s.set(i, Fatal, false, reason)
	s.endedForGood(i)
}

// endedForGood: a critical process that exited or went fatal takes supd
// down with its code.
func (s *Supervisor) endedForGood(i *instance) {
	if !i.spec.Critical || s.shutdown != nil {
		return
	}
	code := 1
	switch {
	case i.exitCode != nil:
		code = *i.exitCode
	case i.state == Exited && i.lastExit != nil:
		code = i.lastExit.Code()
	case i.lastExit != nil && i.lastExit.Code() != 0:
		code = i.lastExit.Code()
	}
	s.beginShutdown(code, fmt.Sprintf("critical process %s is %s: %s", i.spec.Name, i.state, i.reason))
}

// finishStop: i is down after a stop.
func (s *Supervisor) finishStop(i *instance) {
	s.stopTimer(&i.killTmr)
	s.stopTimer(&i.timer)
	i.gen++
	s.set(i, Stopped, false, "")
	if f := i.afterStop; f != nil && s.shutdown == nil {
		i.afterStop = nil
		f()
	}
}

func (s *Supervisor) cancelProbes(i *instance) {
	if i.cancel != nil {
		i.cancel()
		i.cancel = nil
	}
}

func (s *Supervisor) stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// groupAlive reports whether any process of the group is left.
func groupAlive(pgid int) bool {
	return pgid > 0 && unix.Kill(-pgid, 0) == nil
}

// strays are the members of i's process tree (probe.Tree: descendants, and
// orphans seen among them before) that left its process group with setsid
// or setpgid, as daemonizing children do. A signal to the group misses
// them, and they would outlive a stop, and supd.
func strays(i *instance) []int {
	if i.tree == nil {
		return nil
	}
	tab, err := probe.ScanProcs()
	if err != nil {
		i.log.Warn().Err(err).Msg("cannot find the processes that left its process group")
		return nil
	}
	var out []int
	for _, pid := range i.tree.Pids(tab) {
		if p, ok := tab.Get(pid); ok && p.Pgid != i.pgid {
			out = append(out, pid)
		}
	}
	return out
}

// signalTree sends sig to i's process group and to its strays. The strays
// are found first: once the group is gone, a stray that was never seen
// cannot be told from any other orphan. Nothing is sent before a first
// spawn (kill(0) would signal supd's own group).
func signalTree(i *instance, sig unix.Signal) {
	if i.pgid <= 0 {
		return
	}
	out := strays(i)
	_ = unix.Kill(-i.pgid, sig)
	for _, pid := range out {
		_ = unix.Kill(pid, sig)
	}
}

// treeAlive reports whether anything of i's process tree is left: its
// process group, or strays (zombies included, until supd reaps them).
func treeAlive(i *instance) bool {
	return groupAlive(i.pgid) || len(strays(i)) > 0
}

// address is one configured ready address.
type address struct{ network, address string }

func (a address) String() string { return a.network + ":" + a.address }

func expected(r config.Ready) []address {
	var out []address
	if r.TCP != "" {
		out = append(out, address{"tcp", r.TCP})
	}
	if r.Unix != "" {
		out = append(out, address{"unix", r.Unix})
	}
	return out
}
