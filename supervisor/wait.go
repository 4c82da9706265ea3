package supervisor

import (
	"github.com/sup-sh/sup/supervisor/api"
)

// goal is the outcome an action waits for.
type goal int

const (
	goalReady goal = iota // ready (with a spawn newer than at the action, when respawn)
	goalDown              // stopped, exited or fatal
)

// waiter is an action in progress, owned by the loop: its targets are
// checked after every message, and done receives once — nil when they all
// reached the goal, an *api.OutcomeError when one cannot any more. A
// rolling waiter acts on its queue one instance at a time: the next is
// restarted once the previous is ready again.
type waiter struct {
	goal    goal
	targets []*instance
	spawns  map[*instance]int // spawns at the action: ready counts only after a newer one
	queue   []*instance       // still to be restarted, in order (a roll)
	by      string            // who restarts the queue
	done    chan error
}

func newWaiter(g goal, targets []*instance) *waiter {
	return &waiter{goal: g, targets: targets, done: make(chan error, 1)}
}

// respawn makes i count as ready only once spawned again.
func (w *waiter) respawn(i *instance) {
	if w.spawns == nil {
		w.spawns = make(map[*instance]int)
	}
	w.spawns[i] = i.spawns
}

// await registers w with the loop and returns its done channel. Loop only.
func (s *Supervisor) await(w *waiter) <-chan error {
	done := w.done // complete clears w.done
	s.waits = append(s.waits, w)
	s.checkWait(w)
	return done
}

// checkWaits completes the waiters whose targets are there. The loop runs
// it after every message.
func (s *Supervisor) checkWaits() {
	for _, w := range s.waits {
		s.checkWait(w)
	}
	kept := s.waits[:0]
	for _, w := range s.waits {
		if w.done != nil {
			kept = append(kept, w)
		}
	}
	clear(s.waits[len(kept):])
	s.waits = kept
}

// checkWait completes w if its targets are there, or cannot get there,
// and moves a roll on to its next instance.
func (s *Supervisor) checkWait(w *waiter) {
	for w.done != nil {
		pending, err := s.pending(w)
		switch {
		case err != nil:
			s.complete(w, err)
		case pending:
			return
		case len(w.queue) > 0:
			i := w.queue[0]
			w.queue = w.queue[1:]
			if i.stopped() {
				continue // stopped by request: stays stopped
			}
			w.targets = append(w.targets, i)
			w.respawn(i)
			s.handle(i, inRestart{by: w.by, replace: true})
		default:
			s.complete(w, nil)
		}
	}
}

// pending reports whether a target of w is not there yet, or why one
// cannot get there.
func (s *Supervisor) pending(w *waiter) (bool, error) {
	pending := false
	for _, i := range w.targets {
		if w.goal == goalDown {
			pending = pending || !i.state().down()
			continue
		}
		n, respawn := w.spawns[i]
		switch {
		case w.by != "" && i.rollFailed != "":
			return false, &api.OutcomeError{Msg: "reload stopped: " + i.rollFailed}
		case i.ready && !i.replacing() && (!respawn || i.spawns > n):
		case i.ready:
			pending = true // still the spawn from before, or its replacement is not ready yet
		case i.stopped():
			return false, &api.OutcomeError{Msg: api.Describe(s.status(i)) + " (stopped by request)"}
		case i.phase == phFatal || i.phase == phExited:
			return false, &api.OutcomeError{Msg: api.Describe(s.status(i))}
		case s.removed(i):
			return false, &api.OutcomeError{Msg: i.spec.Name + " was removed from the config"}
		default:
			pending = true
		}
	}
	return pending, nil
}

// removed reports whether i is no longer part of the config.
func (s *Supervisor) removed(i *instance) bool {
	for _, x := range s.byProc[i.spec.Process] {
		if x == i {
			return false
		}
	}
	return true
}

func (s *Supervisor) complete(w *waiter, err error) {
	w.done <- err
	w.done = nil
}

// failWaits completes every pending waiter with err (supd stops).
func (s *Supervisor) failWaits(err error) {
	for _, w := range s.waits {
		if w.done != nil {
			s.complete(w, err)
		}
	}
	s.waits = nil
}
