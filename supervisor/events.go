package supervisor

import (
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/reaper"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// EventState: an instance changed state or readiness (the same change
	// is streamed by `supctl events`).
	EventState EventKind = iota
	// EventCrash: a service exited without being asked to (also when supd
	// restarts it at once).
	EventCrash
	// EventFatal: an instance gave up (too many restarts, cannot spawn).
	EventFatal
	// EventReady: a spawn became ready; ReadyAfter is spawn to ready.
	EventReady
	// EventUnready: an instance that was ready is no longer (health
	// failing, stopping, exited).
	EventUnready
	// EventSummary: the Summary changed (sd_notify STATUS=, READY=1,
	// STOPPING=1).
	EventSummary
	// EventReloadBegin and EventReloadEnd bracket a config reload (from
	// SIGHUP or supctl); Err is the reload's error at the end.
	EventReloadBegin
	EventReloadEnd
	// EventRemoved: a reload removed process Process from the config (its
	// instances are being stopped); per-process metrics should go.
	EventRemoved
)

var kindNames = [...]string{
	EventState: "state", EventCrash: "crash", EventFatal: "fatal", EventReady: "ready",
	EventUnready: "unready", EventSummary: "summary", EventReloadBegin: "reload-begin", EventReloadEnd: "reload-end",
	EventRemoved: "removed",
}

func (k EventKind) String() string { return kindNames[k] }

// Event is what the loop reports to Options.OnEvent. The instance fields
// are set for the instance kinds, Summary for EventSummary, Err for
// EventReloadEnd.
type Event struct {
	Kind EventKind
	Time time.Time

	Name, Process string
	Instance, Pid int
	From, State   string // contract state names
	Ready         bool
	Restarts      int
	ExitCode      *int    // of the last exit
	ExitSignal    *string // "SIGKILL"
	Reason        string
	ReadyAfter    time.Duration
	// LastLines, for EventCrash and EventFatal, are the last output lines
	// of the instance read so far (a hook's stdin). Lines still in the
	// pipe when the event is made are not among them.
	LastLines []api.LogLine

	Summary Summary
	Err     error
}

// lastLines is how many output lines a crash or fatal event carries.
const lastLines = 20

// emit hands ev to the hook. Loop only.
func (s *Supervisor) emit(ev Event) {
	if s.onEvent != nil {
		s.onEvent(ev)
	}
}

// instanceEvent describes i now, as an Event of kind k coming from phase from.
func (s *Supervisor) instanceEvent(i *instance, k EventKind, from phase) Event {
	code, sig := exitFields(i)
	ev := Event{
		Kind: k, Time: s.clock.Now(), Name: i.spec.Name, Process: i.spec.Process, Instance: i.spec.Instance,
		Pid: i.pid(), From: from.state().String(), State: i.state().String(), Ready: i.ready,
		Restarts: i.restarts(), ExitCode: code, ExitSignal: sig, Reason: i.reason,
	}
	switch {
	case k == EventReady && i.run != nil:
		ev.ReadyAfter = i.run.readyAt.Sub(i.run.started)
	case k == EventCrash || k == EventFatal:
		ev.LastLines = i.sink.Ring().Last(lastLines)
	}
	return ev
}

// changed records i's new readiness and reason after a move from phase
// from, logs a change of state, and publishes a change of state or
// readiness (a new reason alone is not an event: a process waiting for
// its dependencies would report one every second).
func (s *Supervisor) changed(i *instance, from phase, ready bool, reason string) {
	if i.replacing() {
		ready = true // the old spawn serves until the new one is ready: never fewer ready instances
	}
	wasReady, was := i.ready, from.state()
	if from == i.phase && wasReady == ready && i.reason == reason {
		return
	}
	i.ready, i.reason = ready, reason
	now := i.state()
	if from != i.phase {
		ev := i.log.Info()
		if reason != "" {
			ev = ev.Str("reason", reason)
		}
		ev.Str("from", was.String()).Int("pid", i.pid()).Msg(now.String())
	}
	if was == now && wasReady == ready {
		return
	}
	ev := s.instanceEvent(i, EventState, from)
	s.events.Publish(api.Event{
		Time: ev.Time, Name: ev.Name, Process: ev.Process, Instance: ev.Instance,
		From: ev.From, State: ev.State, Ready: ev.Ready, Pid: ev.Pid,
		Restarts: ev.Restarts, ExitCode: ev.ExitCode, ExitSignal: ev.ExitSignal, Reason: ev.Reason,
	})
	s.emit(ev)
	if wasReady && !ready {
		ev.Kind = EventUnready
		s.emit(ev)
	}
}

// exitFields are the contract's exit_code / exit_signal of the last exit.
func exitFields(i *instance) (code *int, sig *string) {
	if i.exitCode != nil {
		return i.exitCode, nil
	}
	if i.lastExit == nil {
		return nil, nil
	}
	if s, ok := i.lastExit.Signaled(); ok {
		name := reaper.SignalName(s)
		return nil, &name
	}
	c := i.lastExit.Status.ExitStatus()
	return &c, nil
}

// Summary is supd's overall state, for sd_notify and logs.
type Summary struct {
	Ready, Total int
	Starting     int      // of Total: spawned and not ready yet (not those waiting for depends_on)
	NotReady     []string // "api:1 (starting: nothing listening yet)"
	Stopping     bool
}

// summary computes the Summary now. Loop only.
func (s *Supervisor) summary() Summary {
	sum := Summary{Stopping: s.shutdown != nil}
	for _, i := range s.insts {
		if i.stopped() {
			continue
		}
		sum.Total++
		if i.ready {
			sum.Ready++
			continue
		}
		if i.phase == phStarting {
			sum.Starting++
		}
		why := i.state().String()
		if i.reason != "" {
			why += ": " + i.reason
		}
		sum.NotReady = append(sum.NotReady, i.spec.Name+" ("+why+")")
	}
	return sum
}
