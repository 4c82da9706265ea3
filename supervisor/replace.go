package supervisor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A replacement: when a process has held sockets (its instances share
// an accept queue that supd keeps open), a rolling reload starts a new
// spawn beside the current one instead of stopping it first. The instance
// then describes the new spawn (run) and keeps the old one (old) serving:
//
//	running (old) --reload--> starting (new) + old serving
//	new ready                 --> running (new); old retired: drained for stop.drain, stop signal, SIGKILL after stop.timeout
//	new not ready in time     --> new stopped; running (old) again; the roll fails with the reason
//	new exits before ready    --> running (old) again; the roll fails with the reason
//	old exits meanwhile       --> old forgotten (a crash event); the new one goes on
//	reload while old retires  --> the roll starts once old is gone (rollNext)
//
// The old spawn's inputs (its exit, its retirement timers) are told apart
// by its generation; it has at most one timer.

// replacing reports whether a new spawn of i is starting beside an old
// one that still serves (not yet retired).
func (i *instance) replacing() bool { return i.old != nil && i.old.retiring == 0 }

// oldInput is an input that may belong to the replaced spawn.
type oldInput interface {
	input
	spawn() uint64
}

func (o ofSpawn) spawn() uint64 { return o.gen }

// inRetireStep is the timer of a retiring spawn: drain over, or kill due.
type inRetireStep struct{ ofSpawn }

// replace starts a new spawn of i beside its current, ready one.
func (s *Supervisor) replace(i *instance, by string) {
	i.cancelChecks()
	i.old, i.rollFailed = i.run, ""
	i.log.Info().Int("replacing_pid", i.old.pid).Msg("starting a replacement beside the current spawn (" + by + ")")
	s.spawn(i, fmt.Sprintf("replacing pid %d (%s)", i.old.pid, by))
}

// handleOld applies an input of the replaced spawn.
func (s *Supervisor) handleOld(i *instance, in oldInput) {
	old := i.old
	switch in := in.(type) {
	case inExited:
		old.pid = 0
		if old.retiring == 0 { // not asked to stop: it crashed while being replaced
			old.sp.Signal(unix.SIGKILL)
			i.log.Warn().Str("exit", in.exit.String()).Msg("the spawn being replaced exited")
			e := in.exit
			ev := s.instanceEvent(i, EventCrash, i.phase)
			ev.Pid, ev.Reason = e.Pid, "the spawn being replaced "+e.String()
			s.emit(ev)
		}
		if !old.sp.Alive() {
			s.oldGone(i)
		}
	case inRetireStep:
		switch old.retiring {
		case phDraining:
			old.retiring = phStopping
			old.sp.Signal(i.spec.Stop.Signal)
			old.timer = s.clock.AfterFunc(i.spec.Stop.Timeout, func() { s.post(func() { s.handle(i, inRetireStep{ofSpawn{old.gen}}) }) })
		case phStopping:
			old.retiring = phKilling
			i.log.Warn().Int("pid", old.pid).Msg("replaced spawn did not stop in time: SIGKILL to its process tree")
			old.sp.Signal(unix.SIGKILL)
		}
	}
}

// retire drains and stops r, the replaced spawn of i.
func (s *Supervisor) retire(i *instance, r *run) {
	r.cancelTimer()
	step := func() { s.post(func() { s.handle(i, inRetireStep{ofSpawn{r.gen}}) }) }
	if d := i.spec.Stop.Drain; d > 0 && i.desired == desiredRunning {
		r.retiring = phDraining
		r.timer = s.clock.AfterFunc(d, step)
		return
	}
	r.retiring = phStopping
	r.sp.Signal(i.spec.Stop.Signal)
	r.timer = s.clock.AfterFunc(i.spec.Stop.Timeout, step)
}

// oldGone: the replaced spawn is gone, tree and all. A roll asked for
// while it was being retired goes on now.
func (s *Supervisor) oldGone(i *instance) {
	i.old.cancelTimer()
	i.old = nil
	if i.phase.stopping() && i.pid() == 0 && !i.treeAlive() {
		s.stopDone(i)
	}
	if by := i.rollNext; by != "" {
		i.rollNext = ""
		s.handle(i, inRestart{by: by, replace: true})
	}
}

// restoreOld: the replacement ended before it was ready; the old spawn,
// still serving, is the current one again.
func (s *Supervisor) restoreOld(i *instance) {
	i.run, i.old = i.old, nil
	i.gen, i.failure = i.run.gen, ""
	i.log.Warn().Int("pid", i.run.pid).Msg("replacement failed: the current spawn keeps serving")
	s.enter(i, phRunning, true, "")
}

func (r *run) cancelTimer() {
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}
