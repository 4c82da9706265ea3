package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/reaper"
	"github.com/sup-sh/sup/supervisor/restart"
	"golang.org/x/sys/unix"
)

// input is one thing that happens to an instance. The set is closed: the
// types below, each handled by handle. An input says itself whether it
// still applies (current): the results of an earlier spawn, and the timer
// of a phase that was left, do not.
type input interface {
	current(i *instance) bool
}

// ofSpawn is embedded by the inputs that come from one spawn.
type ofSpawn struct{ gen uint64 }

func (o ofSpawn) current(i *instance) bool { return o.gen == i.gen }

// ofPhase is embedded by the timer inputs: they belong to one entry into
// a phase.
type ofPhase struct{ entry uint64 }

func (o ofPhase) current(i *instance) bool { return o.entry == i.entry }

// request is embedded by the inputs that always apply.
type request struct{}

func (request) current(*instance) bool { return true }

type (
	// Requests.
	inStart struct{ request } // supctl start (or the first start, requested false)
	inStop  struct {
		request
		by string
	} // supctl stop, removed by a reload, shutdown
	inRestart struct {
		request
		by      string
		replace bool // a rolling reload: with held sockets, a new spawn starts beside the old one
	} // supctl restart, reload
	inDeps    struct{ request } // something changed: depends_on may be ready now
	inReap    struct{ request } // a process was reaped: an orphaned tree may be gone
	inKillAll struct{ request } // shutdown_timeout passed

	// From a spawn.
	inExited struct {
		ofSpawn
		exit reaper.Exit
	}
	inProgress struct {
		ofSpawn
		r probe.Result
	}
	inReady  struct{ ofSpawn }
	inHealth struct {
		ofSpawn
		r probe.HealthResult
	}

	// Timers, one per phase.
	inReadyTimeout struct{ ofPhase } // starting
	inBackoffOver  struct{ ofPhase } // backoff
	inDrainOver    struct{ ofPhase } // draining
	inKillDue      struct{ ofPhase } // stopping
)

// handle applies in to i. It is the only place inputs reach an instance,
// and it runs on the loop.
func (s *Supervisor) handle(i *instance, in input) {
	if in, ok := in.(oldInput); ok && i.old != nil && in.spawn() == i.old.gen {
		s.handleOld(i, in) // the replaced spawn, still serving or being retired
		return
	}
	if !in.current(i) {
		return // from an earlier spawn, or the timer of a phase already left
	}
	switch in := in.(type) {
	case inStart:
		s.startReq(i, false)
	case inRestart:
		i.desired = desiredRunning
		switch {
		case i.phase.stopping():
			i.then = func() { s.startReq(i, true) }
		case in.replace && i.phase == phRunning && i.ready && len(i.spec.Sockets) > 0 && i.old == nil:
			s.replace(i, in.by)
		case in.replace && i.phase == phRunning && i.ready && len(i.spec.Sockets) > 0 && i.old.retiring != 0:
			i.rollNext = in.by // one replaced spawn at a time: rolls once the last one is gone
		case i.phase == phStarting || i.phase == phRunning:
			i.then = func() { s.startReq(i, true) }
			by := in.by
			if in.replace {
				by += "; no held sockets: it stops before the new spawn starts (a gap)"
			}
			s.beginStop(i, by)
		default:
			s.startReq(i, true)
		}
	case inStop:
		i.desired, i.stopWhy, i.then, i.rollNext = desiredStopped, in.by, nil, ""
		if i.old != nil && i.old.retiring == 0 {
			s.retire(i, i.old)
		}
		switch i.phase {
		case phWaiting, phBackoff:
			s.enter(i, phStopped, false, in.by)
		case phStarting, phRunning:
			s.beginStop(i, in.by)
		}
	case inDeps:
		if i.phase == phWaiting {
			s.tryLaunch(i)
		}
	case inReap:
		if i.phase.stopping() && i.pid() == 0 && !i.treeAlive() {
			s.stopDone(i)
		}
	case inKillAll:
		switch {
		case i.phase.hasProcess():
			i.log.Warn().Msg("shutdown_timeout passed: SIGKILL to its process tree")
			i.signal(unix.SIGKILL)
			if i.old != nil {
				i.old.sp.Signal(unix.SIGKILL)
			}
		case i.phase == phWaiting || i.phase == phBackoff:
			s.enter(i, phStopped, false, i.stopWhy)
		}

	case inExited:
		i.lastExit, i.lastRun, i.exitWhy = &in.exit, i.run, in.exit.String()
		if i.failure != "" {
			i.exitWhy = i.failure + "; ended by supd (" + i.exitWhy + ")"
		} else if i.phase.stopping() && i.stopWhy != "" {
			i.exitWhy += " (" + i.stopWhy + ")"
		}
		i.run.pid = 0
		i.cancelChecks()
		switch {
		case i.old != nil && i.desired == desiredRunning && i.then == nil:
			// A replacement that ended before it was ready: the old spawn
			// goes on serving, and the roll stops here.
			i.signal(unix.SIGKILL)
			what := in.exit.String() + " before it was ready"
			if i.failure != "" {
				what = "stopped: " + i.failure
			}
			i.rollFailed = fmt.Sprintf("%s: the new spawn (pid %d) %s; pid %d keeps serving", i.spec.Name, in.exit.Pid, what, i.old.pid)
			s.restoreOld(i)
		case i.phase.stopping():
			if i.treeAlive() {
				return // inReap finishes the stop once the tree is gone
			}
			s.stopDone(i)
		case i.phase == phStarting || i.phase == phRunning:
			// Not asked to stop: whatever is left of its tree goes too.
			i.signal(unix.SIGKILL)
			s.ended(i)
		}
	case inProgress:
		if i.phase != phStarting {
			return
		}
		i.probe = in.r.Reason
		if in.r.Status != "" && in.r.Reason == "" {
			i.probe = "STATUS=" + in.r.Status
		}
		if !in.r.Ready && in.r.Reason != "" {
			s.note(i, false, in.r.Reason)
		}
	case inReady:
		if i.phase == phStarting {
			s.becomeReady(i)
		}
	case inHealth:
		if i.phase != phRunning {
			return
		}
		i.probe = "health: ok"
		if !in.r.OK {
			i.probe = in.r.Reason
		}
		if in.r.Restart {
			s.endRun(i, in.r.Reason)
			return
		}
		s.note(i, in.r.OK, in.r.Reason)

	case inReadyTimeout:
		s.endRun(i, fmt.Sprintf("not ready after %s: %s", i.spec.Ready.Timeout, i.reason))
	case inBackoffOver:
		s.enter(i, phWaiting, false, i.reason)
		s.tryLaunch(i)
	case inDrainOver:
		s.enter(i, phStopping, false, i.reason)
		i.signal(i.spec.Stop.Signal)
	case inKillDue:
		i.log.Warn().Dur("timeout", i.spec.Stop.Timeout).Msg("did not stop in time: SIGKILL to its process tree")
		s.enter(i, phKilling, false, i.reason)
		i.signal(unix.SIGKILL)
	default:
		panic(fmt.Sprintf("supervisor: unknown input %T", in))
	}
}

// enter moves i to phase p with readiness and reason, stopping the timer
// of the phase left and arming the one of p, and publishes the change.
func (s *Supervisor) enter(i *instance, p phase, ready bool, reason string) {
	from := i.phase
	if !allowed(from, p) {
		i.log.Error().Str("from", from.String()).Str("to", p.String()).Msg("internal error: transition not in the table")
	}
	if i.timer != nil {
		i.timer.Stop()
		i.timer = nil
	}
	i.entry++
	i.phase = p
	if d, in := s.phaseTimer(i); d > 0 {
		i.timer = s.clock.AfterFunc(d, func() { s.post(func() { s.handle(i, in) }) })
	}
	s.changed(i, from, ready, reason)
}

// phaseTimer is the timer that entering i's phase arms: its delay (0:
// none) and the input it delivers.
func (s *Supervisor) phaseTimer(i *instance) (time.Duration, input) {
	at := ofPhase{i.entry}
	switch i.phase {
	case phStarting:
		if i.spec.Type == config.Service && i.spec.Ready.HasChecks() {
			return i.spec.Ready.Timeout, inReadyTimeout{at}
		}
	case phBackoff:
		return i.delay, inBackoffOver{at}
	case phDraining:
		return i.spec.Stop.Drain, inDrainOver{at}
	case phStopping:
		return i.spec.Stop.Timeout, inKillDue{at}
	}
	return 0, nil
}

func allowed(from, to phase) bool {
	for _, p := range transitions[from] {
		if p == to {
			return true
		}
	}
	return false
}

// note changes readiness and reason within the current phase.
func (s *Supervisor) note(i *instance, ready bool, reason string) {
	s.changed(i, i.phase, ready, reason)
}

// startReq brings a down, waiting or backing-off instance up. requested:
// by the operator, which forgets the restart history.
func (s *Supervisor) startReq(i *instance, requested bool) {
	i.desired, i.stopWhy = desiredRunning, ""
	switch {
	case i.phase.stopping():
		i.then = func() { s.startReq(i, requested) }
		return
	case i.phase == phStarting || i.phase == phRunning || i.phase == phWaiting:
		return
	}
	if requested || i.phase == phFatal {
		i.tracker.Reset()
	}
	s.enter(i, phWaiting, false, "")
	s.tryLaunch(i)
}

// tryLaunch spawns i (waiting) if its dependencies are ready, else says
// why not.
func (s *Supervisor) tryLaunch(i *instance) {
	if s.shutdown != nil {
		return
	}
	if why := s.depsReady(i); why != "" {
		s.note(i, false, why)
		return
	}
	s.spawn(i, "")
}

// spawn starts a run of i. why is said while it starts (the reason of the
// restart).
func (s *Supervisor) spawn(i *instance, why string) {
	i.seq++
	gen := i.seq
	i.gen = gen
	i.failure, i.exitCode, i.probe, i.stale = "", nil, "", false
	sp, err := s.launcher.Launch(i.spec, i.sink, i.log, func(e reaper.Exit) {
		s.post(func() { s.handle(i, inExited{ofSpawn{gen}, e}) })
	})
	if err != nil {
		s.spawnFailed(i, err)
		return
	}
	i.spawns++
	i.run = &run{gen: gen, sp: sp, pid: sp.Pid(), started: s.clock.Now()}
	switch {
	case i.spec.Type == config.Oneshot:
		s.enter(i, phStarting, false, "running to completion")
	case !i.spec.Ready.HasChecks():
		s.becomeReady(i)
	default:
		reason := "starting"
		if held := sp.Held(); held != "" {
			reason = held
		} else if why != "" {
			reason = why
		}
		s.enter(i, phStarting, false, reason)
		ctx, cancel := context.WithCancel(s.life)
		i.run.cancel = cancel
		go func() {
			err := sp.Ready(ctx, func(r probe.Result) { s.post(func() { s.handle(i, inProgress{ofSpawn{gen}, r}) }) })
			if err == nil {
				s.post(func() { s.handle(i, inReady{ofSpawn{gen}}) })
			}
		}()
	}
}

// becomeReady marks the current run ready and starts its liveness checks.
func (s *Supervisor) becomeReady(i *instance) {
	i.cancelChecks()
	r := i.run
	r.readyAt = s.clock.Now()
	i.probe = "ready"
	s.enter(i, phRunning, true, "")
	s.emit(s.instanceEvent(i, EventReady, phStarting))
	if i.old != nil {
		s.retire(i, i.old)
	}
	if !i.spec.Health.HasChecks() {
		return
	}
	ctx, cancel := context.WithCancel(s.life)
	r.cancel = cancel
	gen, sp := i.gen, r.sp
	go sp.Health(ctx, func(h probe.HealthResult) { s.post(func() { s.handle(i, inHealth{ofSpawn{gen}, h}) }) })
}

// endRun: supd itself ends the current run (not ready in time, unhealthy,
// max_memory). Its end is then handled by the restart policy with why as
// the reason.
func (s *Supervisor) endRun(i *instance, why string) {
	i.failure = why
	i.cancelChecks()
	s.enter(i, phStopping, false, why+"; stopping it")
	i.signal(i.spec.Stop.Signal)
}

// beginStop stops the current run by request: drain first (not ready),
// then the stop signal.
func (s *Supervisor) beginStop(i *instance, by string) {
	i.cancelChecks()
	if d := i.spec.Stop.Drain; d > 0 {
		s.enter(i, phDraining, false, fmt.Sprintf("draining for %s (%s)", d, by))
		return
	}
	s.enter(i, phStopping, false, "stopping ("+by+")")
	i.signal(i.spec.Stop.Signal)
}

// stopDone: the run being stopped is gone, tree and all.
func (s *Supervisor) stopDone(i *instance) {
	if i.failure != "" && i.desired == desiredRunning && i.then == nil {
		s.ended(i) // a run supd ended: the policy decides
		return
	}
	s.enter(i, phStopped, false, i.stopWhy)
	if f := i.then; f != nil && s.shutdown == nil {
		i.then = nil
		f()
	}
}

// ended applies the restart policy after a run ended that nobody asked to
// stop (or that supd ended itself).
func (s *Supervisor) ended(i *instance) {
	e := *i.lastExit
	desc := e.String()
	failed := e.Code() != 0 || i.failure != ""
	why := desc
	switch {
	case i.failure != "":
		why = i.failure + " (" + desc + ")"
	case i.run.readyAt.IsZero() && len(expected(i.spec.Ready)) > 0 && i.spec.Type == config.Service:
		why = desc + " before binding"
		if held := heldBefore(i.spec); held != "" {
			why += "; " + held
		}
	}
	if i.failure == "" && i.spec.Type == config.Service {
		s.emit(s.instanceEvent(i, EventCrash, i.phase))
	}
	if s.shutdown != nil {
		s.enter(i, phStopped, false, why)
		return
	}
	var readyFor time.Duration
	if !i.run.readyAt.IsZero() {
		readyFor = e.Time.Sub(i.run.readyAt)
	}
	d := i.tracker.Decide(e.Time, restart.End{Failed: failed, ReadyFor: readyFor, Oneshot: i.spec.Type == config.Oneshot, ExitedFor: why})
	s.decided(i, d, why, failed)
}

// decided carries out a restart decision.
func (s *Supervisor) decided(i *instance, d restart.Decision, why string, failed bool) {
	switch d.Action {
	case restart.Exit:
		ok := i.spec.Type == config.Oneshot && !failed
		reason := why
		if ok {
			reason = ""
		}
		s.enter(i, phExited, ok, reason)
		s.endedForGood(i)
	case restart.Fatal:
		s.enter(i, phFatal, false, d.Reason)
		s.emit(s.instanceEvent(i, EventFatal, i.phase))
		s.endedForGood(i)
	case restart.Restart:
		if d.Delay == 0 {
			// Through waiting, so that the restart is a state change
			// (events, logs) even for a process ready once spawned.
			s.enter(i, phWaiting, false, why+"; restarting")
			s.spawn(i, why+"; restarting")
			return
		}
		i.delay = d.Delay
		s.enter(i, phBackoff, false, fmt.Sprintf("%s; restarting in %s", why, d.Delay))
	}
}

// spawnFailed: the command could not be started. A passing cause (out of
// fds, processes or memory) is retried by the policy; otherwise retrying
// cannot help (missing binary, not executable, unknown user or dir):
// fatal at once.
func (s *Supervisor) spawnFailed(i *instance, err error) {
	code := 1
	var se *spawnError
	if errors.As(err, &se) {
		code = se.code
	}
	i.log.Error().Err(err).Int("exit_code", code).Msg("cannot spawn")
	if passing(err) {
		why := "cannot spawn: " + err.Error()
		d := i.tracker.Decide(s.clock.Now(), restart.End{Failed: true, ExitedFor: why})
		if d.Action == restart.Restart && d.Delay == 0 {
			d.Delay = i.spec.Restart.Backoff // never a tight loop on EAGAIN
		}
		if d.Action == restart.Exit {
			d = restart.Decision{Action: restart.Fatal, Reason: why}
		}
		s.decided(i, d, why, true)
		return
	}
	i.exitCode = &code
	s.enter(i, phFatal, false, err.Error())
	s.emit(s.instanceEvent(i, EventFatal, i.phase))
	s.endedForGood(i)
}

// passing reports whether a spawn failed for a reason that may go away:
// out of fds, processes or memory, or an env file not readable yet.
func passing(err error) bool {
	if errors.As(err, new(envFileError)) {
		return true
	}
	for _, errno := range []unix.Errno{unix.EMFILE, unix.ENFILE, unix.EAGAIN, unix.ENOMEM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
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
	case i.phase == phExited && i.lastExit != nil:
		code = i.lastExit.Code()
	case i.lastExit != nil && i.lastExit.Code() != 0:
		code = i.lastExit.Code()
	}
	s.beginShutdown(code, fmt.Sprintf("critical process %s is %s: %s", i.spec.Name, i.state(), i.reason))
}
