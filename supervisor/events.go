package supervisor

import (
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/reaper"
)

// event describes i's current state, coming from state from.
func (s *Supervisor) event(i *instance, from State) api.Event {
	code, sig := exitFields(i)
	return api.Event{
		Time: time.Now(), Name: i.spec.Name, Process: i.spec.Process, Instance: i.spec.Instance,
		From: from.String(), State: i.state.String(), Ready: i.ready, Pid: i.pid,
		Restarts: i.restarts(), ExitCode: code, ExitSignal: sig, Reason: i.reason,
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
		if i.stoppedByRequest {
			continue
		}
		sum.Total++
		if i.ready {
			sum.Ready++
			continue
		}
		if i.state == Starting && i.pid != 0 {
			sum.Starting++
		}
		why := i.state.String()
		if i.reason != "" {
			why += ": " + i.reason
		}
		sum.NotReady = append(sum.NotReady, i.spec.Name+" ("+why+")")
	}
	return sum
}
