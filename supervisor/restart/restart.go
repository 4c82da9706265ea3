// Package restart decides what happens after a process ends: restart it
// now, restart it after a backoff delay, leave it exited, or give up
// (fatal). The decision is pure: policy + history + this exit in, decision
// out. No goroutines, no clocks: the caller passes `now`.
package restart

import (
	"fmt"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
)

// Action is what to do with a process that ended.
type Action int

const (
	Restart Action = iota // spawn again after Decision.Delay
	Exit                  // finished for good: state exited
	Fatal                 // gave up: state fatal
)

func (a Action) String() string {
	switch a {
	case Restart:
		return "restart"
	case Exit:
		return "exit"
	default:
		return "fatal"
	}
}

// End describes how one run of a process ended.
type End struct {
	Failed    bool          // non-zero exit, killed by a signal, not ready in time, or unhealthy
	ReadyFor  time.Duration // how long it had been ready before it ended (0: never ready)
	Oneshot   bool
	ExitedFor string // short description for reasons: "exited 1", "killed by SIGKILL"
}

// Decision is the outcome for one End.
type Decision struct {
	Action Action
	Delay  time.Duration // for Restart
	Reason string        // for Fatal (and informative for the others)
}

// Tracker holds the restart history of one process instance.
// It is not safe for concurrent use; its owner is the supervisor loop.
type Tracker struct {
	policy   config.Restart
	next     time.Duration // the backoff the next quick failure gets
	restarts []time.Time   // restarts within the window, oldest first
}

// NewTracker returns a tracker with the backoff at its start.
func NewTracker(p config.Restart) *Tracker {
	return &Tracker{policy: p, next: p.Backoff}
}

// Reset forgets the history (a start requested by the operator).
func (t *Tracker) Reset() {
	t.next = t.policy.Backoff
	t.restarts = t.restarts[:0]
}

// Decide returns what to do after e, at time now, and records a restart
// when it decides one.
func (t *Tracker) Decide(now time.Time, e End) Decision {
	if !t.wantsRestart(e) {
		return Decision{Action: Exit, Reason: e.ExitedFor}
	}
	t.forget(now)
	if max := t.policy.MaxRestarts; max > 0 && len(t.restarts) >= max {
		return Decision{Action: Fatal, Reason: fmt.Sprintf("%s; gave up after %s in %s",
			e.ExitedFor, api.Count(len(t.restarts), "restart"), t.policy.Window)}
	}
	t.restarts = append(t.restarts, now)
	return Decision{Action: Restart, Delay: t.delay(e), Reason: e.ExitedFor}
}

// wantsRestart applies the policy: never restarts nothing; a success of a
// oneshot or of an on-failure process is final.
func (t *Tracker) wantsRestart(e End) bool {
	switch {
	case t.policy.Policy == config.Never:
		return false
	case !e.Failed && (e.Oneshot || t.policy.Policy == config.OnFailure):
		return false
	}
	return true
}

// delay is 0 after a run that was ready for reset_after (and the backoff
// starts over), else the current backoff, which then doubles up to the max.
func (t *Tracker) delay(e End) time.Duration {
	if e.ReadyFor > 0 && e.ReadyFor >= t.policy.ResetAfter {
		t.next = t.policy.Backoff
		return 0
	}
	d := t.next
	t.next = min(2*t.next, t.policy.MaxBackoff)
	if t.next == 0 {
		t.next = t.policy.Backoff
	}
	return d
}

// forget drops restarts older than the window.
func (t *Tracker) forget(now time.Time) {
	cut := 0
	for cut < len(t.restarts) && now.Sub(t.restarts[cut]) >= t.policy.Window {
		cut++
	}
	t.restarts = append(t.restarts[:0], t.restarts[cut:]...)
}
