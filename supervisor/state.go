package supervisor

import "github.com/sup-sh/sup/supervisor/api"

// State is the lifecycle state of one process instance as the contract
// names it (status, events, /readyz). The loop works with the finer phase
// below; State is what a phase looks like from outside.
type State int

// The contract's states.
const (
	Stopped State = iota
	Starting
	Running
	Backoff
	Stopping
	Exited
	Fatal
)

var stateNames = [...]string{
	Stopped:  api.StateStopped,
	Starting: api.StateStarting,
	Running:  api.StateRunning,
	Backoff:  api.StateBackoff,
	Stopping: api.StateStopping,
	Exited:   api.StateExited,
	Fatal:    api.StateFatal,
}

func (s State) String() string { return stateNames[s] }

// down reports whether nothing of the instance is running or about to be.
func (s State) down() bool { return s == Stopped || s == Exited || s == Fatal }

// phase is the loop's state of one instance. Each phase has at most one
// pending timer, armed when the phase is entered and stopped when it is
// left (see phase.timer). Every transition the loop makes is an edge of
// the diagram below, and of the table transitions (a test checks that the
// two are the same, and that the loop makes no other move):
//
//	edge: stopped  -> waiting   start, restart
//	edge: exited   -> waiting   start, restart
//	edge: fatal    -> waiting   start, restart
//	edge: backoff  -> waiting   backoff over; start, restart
//	edge: waiting  -> starting  depends_on ready: spawned
//	edge: waiting  -> running   spawned, no ready check
//	edge: waiting  -> backoff   spawn failed for a passing reason (EMFILE, EAGAIN...)
//	edge: waiting  -> fatal     cannot spawn (no command, user, dir); too many restarts
//	edge: waiting  -> stopped   stop
//	edge: backoff  -> stopped   stop; shutdown
//	edge: starting -> running   ready check passes; a replacement exited before ready: the old spawn serves again
//	edge: starting -> stopping  ready timeout (supd ends the run); stop, restart without drain
//	edge: starting -> draining  stop, restart with stop.drain
//	edge: starting -> waiting   exited, restarted at once
//	edge: starting -> backoff   exited, restart after a delay
//	edge: starting -> exited    exited, policy done (oneshot: exit 0)
//	edge: starting -> fatal     exited, too many restarts
//	edge: starting -> stopped   exited during shutdown
//	edge: running  -> stopping  unhealthy, max_memory (supd ends the run); stop, restart without drain
//	edge: running  -> draining  stop, restart with stop.drain
//	edge: running  -> waiting   exited, restarted at once
//	edge: running  -> starting  a rolling reload with held sockets: a new spawn starts beside the old one (replace.go)
//	edge: running  -> backoff   exited, restart after a delay
//	edge: running  -> exited    exited, policy done
//	edge: running  -> fatal     exited, too many restarts
//	edge: running  -> stopped   exited during shutdown
//	edge: draining -> stopping  drain over: stop signal sent
//	edge: draining -> stopped   exited and the tree is gone
//	edge: stopping -> killing   stop timeout: SIGKILL sent
//	edge: stopping -> stopped   exited and the tree is gone
//	edge: killing  -> stopped   exited and the tree is gone
//	edge: stopping -> waiting   a run supd ended is over: restarted at once
//	edge: stopping -> running   a replacement not ready in time is gone: the old spawn serves again
//	edge: stopping -> backoff   a run supd ended is over: restart after a delay
//	edge: stopping -> exited    a run supd ended is over: policy done
//	edge: stopping -> fatal     a run supd ended is over: too many restarts
//	edge: killing  -> waiting   a run supd ended is over: restarted at once
//	edge: killing  -> running   as stopping -> running
//	edge: killing  -> backoff   a run supd ended is over: restart after a delay
//	edge: killing  -> exited    a run supd ended is over: policy done
//	edge: killing  -> fatal     a run supd ended is over: too many restarts
//
// After a stop that was part of a restart, stopped -> waiting follows at
// once. starting, running and the three stopping phases have a process
// (the pid may already be 0 in the stopping phases while orphans of the
// tree are still being stopped); the others have none.
type phase int

const (
	phStopped  phase = iota // not running, by request or never started
	phWaiting               // to be spawned once depends_on is ready
	phStarting              // spawned, not ready yet (timer: ready timeout)
	phRunning               // ready, or ready once and now failing health
	phBackoff               // exited, to be restarted (timer: the delay)
	phDraining              // being stopped: not ready, not signalled yet (timer: stop.drain)
	phStopping              // stop signal sent (timer: stop.timeout, then SIGKILL)
	phKilling               // SIGKILL sent; waiting for the tree to go
	phExited                // ended, not to be restarted by its policy
	phFatal                 // gave up
)

var phaseNames = [...]string{
	phStopped: "stopped", phWaiting: "waiting", phStarting: "starting", phRunning: "running",
	phBackoff: "backoff", phDraining: "draining", phStopping: "stopping", phKilling: "killing",
	phExited: "exited", phFatal: "fatal",
}

func (p phase) String() string { return phaseNames[p] }

// state is the contract's name for p.
func (p phase) state() State {
	switch p {
	case phWaiting, phStarting:
		return Starting
	case phRunning:
		return Running
	case phBackoff:
		return Backoff
	case phDraining, phStopping, phKilling:
		return Stopping
	case phExited:
		return Exited
	case phFatal:
		return Fatal
	}
	return Stopped
}

// hasProcess reports whether a spawn of the instance may be alive in p.
func (p phase) hasProcess() bool {
	switch p {
	case phStarting, phRunning, phDraining, phStopping, phKilling:
		return true
	}
	return false
}

// stopping reports whether p is one of the phases of a stop.
func (p phase) stopping() bool { return p == phDraining || p == phStopping || p == phKilling }

// transitions is every move the loop may make (the diagram above).
var transitions = map[phase][]phase{
	phStopped:  {phWaiting},
	phExited:   {phWaiting},
	phFatal:    {phWaiting},
	phBackoff:  {phWaiting, phStopped},
	phWaiting:  {phStarting, phRunning, phBackoff, phFatal, phStopped},
	phStarting: {phRunning, phStopping, phDraining, phWaiting, phBackoff, phExited, phFatal, phStopped},
	phRunning:  {phStopping, phDraining, phWaiting, phStarting, phBackoff, phExited, phFatal, phStopped},
	phDraining: {phStopping, phStopped},
	phStopping: {phKilling, phStopped, phWaiting, phRunning, phBackoff, phExited, phFatal},
	phKilling:  {phStopped, phWaiting, phRunning, phBackoff, phExited, phFatal},
}
