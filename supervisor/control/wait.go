package control

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
)

// goal is what a wait waits for.
type goal int

const (
	goalReady goal = iota // every target ready
	goalDown              // every target stopped, exited or fatal
)

// operation is how the server carries out an Action.
type operation struct {
	do        func(Backend, context.Context, []string) error // nil: nothing to do but wait
	goal      goal                                           // what a wait waits for
	needNames bool                                           // "all" is not allowed
	respawn   bool                                           // ready counts only once respawned
}

var operations = map[Action]operation{
	ActionStart:   {do: Backend.Start, goal: goalReady, needNames: true},
	ActionStop:    {do: Backend.Stop, goal: goalDown, needNames: true},
	ActionRestart: {do: Backend.Restart, goal: goalReady, needNames: true, respawn: true},
	ActionReload:  {do: Backend.Reload, goal: goalReady, respawn: true},
	ActionWait:    {goal: goalReady},
}

// errTimedOut is the cause of a wait's context ending at its deadline.
var errTimedOut = errors.New("timed out")

// waitError is a wait that ended without reaching its goal: 409 when a
// target can no longer get there, 504 on timeout.
type waitError struct {
	status int
	msg    string
}

func (e *waitError) Error() string { return e.msg }

// act carries out a on names and, when wait is set, waits until it is
// complete or timeout has passed. It returns the targets' final status.
//
// ActionWait always waits. A reload with no names (re-read the config)
// never does: what it changes is not known in advance.
func (s *Server) act(ctx context.Context, a Action, names []string, wait bool, timeout time.Duration) ([]api.Status, error) {
	op := operations[a]
	if op.needNames && len(names) == 0 {
		return nil, badRequest("%s: no process named", a)
	}
	switch {
	case op.do == nil: // ActionWait: waiting is the action
		wait = true
	case len(names) == 0: // a reload of the config
		wait = false
	}
	if !wait {
		if op.do != nil {
			if err := op.do(s.Backend, ctx, names); err != nil {
				return nil, err
			}
		}
		return s.Backend.Status(ctx, names)
	}

	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer cancel()
	// Subscribe before acting, so that no change after the action is missed.
	events := s.Backend.Subscribe(ctx)
	var before map[string]api.Status
	if op.respawn {
		sts, err := s.Backend.Status(ctx, names)
		if err != nil {
			return nil, err
		}
		before = make(map[string]api.Status, len(sts))
		for _, st := range sts {
			before[st.Name] = st
		}
	}
	if op.do != nil {
		if err := op.do(s.Backend, ctx, names); err != nil {
			if errors.Is(context.Cause(ctx), errTimedOut) { // a backend that acts slowly (a rolling reload)
				return nil, &waitError{http.StatusGatewayTimeout, fmt.Sprintf("%s not done after %s: %v", a, timeout, err)}
			}
			return nil, err
		}
	}
	what := "not ready"
	if op.goal == goalDown {
		what = "not stopped"
	}
	return s.await(ctx, events, names, what, timeout, func(sts []api.Status) ([]api.Status, []api.Status, error) {
		if len(names) == 0 {
			sts = withoutStopped(sts)
		}
		pending, err := check(op.goal, sts, before)
		return sts, pending, err
	})
}

// await re-checks the status of names on every event received and every
// PollInterval, until done says none of the targets it picks among them
// is pending (the targets' status is returned), done fails (409: one
// cannot get there), or ctx ends (504 on its timeout, saying what the
// pending ones are: "not ready").
func (s *Server) await(ctx context.Context, events <-chan api.Event, names []string, what string, timeout time.Duration, done func([]api.Status) (targets, pending []api.Status, err error)) ([]api.Status, error) {
	tick := time.NewTicker(cmp.Or(s.PollInterval, DefaultPollInterval))
	defer tick.Stop()
	var pending []api.Status
	for {
		sts, err := s.Backend.Status(ctx, names)
		if err != nil {
			if ctx.Err() != nil {
				return nil, waitEnded(ctx, what, pending, timeout)
			}
			return nil, err
		}
		if sts, pending, err = done(sts); err != nil {
			return nil, err
		}
		if len(pending) == 0 {
			return sts, nil
		}
		select {
		case <-ctx.Done():
			return nil, waitEnded(ctx, what, pending, timeout)
		case <-tick.C:
		case _, ok := <-events:
			if !ok {
				events = nil // the ticker alone goes on
			}
			events = drain(events)
		}
	}
}

// drain discards the events already queued: one status check covers
// them all. It returns nil if events is closed.
func drain(events <-chan api.Event) <-chan api.Event {
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return nil
			}
		default:
			return events
		}
	}
}

// check compares the targets with g: it returns those not there yet, or
// an error if one of them can no longer get there. When before is set,
// an instance counts as ready only once it is not the one from before
// (its pid or restart count changed).
func check(g goal, sts []api.Status, before map[string]api.Status) (pending []api.Status, err error) {
	for _, st := range sts {
		if g == goalDown {
			if !isDown(st.State) {
				pending = append(pending, st)
			}
			continue
		}
		switch {
		case st.Ready && respawned(st, before):
		case st.Ready:
			pending = append(pending, st) // still the instance from before
		case st.Desired == api.DesiredStopped && st.State == api.StateStopped:
			return nil, &waitError{http.StatusConflict, st.Name + " is stopped by request"}
		case st.Desired == api.DesiredStopped:
			return nil, &waitError{http.StatusConflict, st.Name + " is " + st.State + ": stopped by request"}
		case st.State == api.StateFatal || st.State == api.StateExited:
			return nil, &waitError{http.StatusConflict, describe(st)}
		default:
			pending = append(pending, st)
		}
	}
	return pending, nil
}

func isDown(state string) bool {
	return state == api.StateStopped || state == api.StateExited || state == api.StateFatal
}

func respawned(st api.Status, before map[string]api.Status) bool {
	old, ok := before[st.Name]
	return !ok || st.Pid != old.Pid || st.Restarts != old.Restarts
}

// withoutStopped drops the instances stopped by request.
func withoutStopped(sts []api.Status) []api.Status {
	var kept []api.Status
	for _, st := range sts {
		if !st.StoppedByRequest() {
			kept = append(kept, st)
		}
	}
	return kept
}

// waitEnded is the error of a wait whose ctx ended with targets pending.
func waitEnded(ctx context.Context, what string, pending []api.Status, timeout time.Duration) error {
	if !errors.Is(context.Cause(ctx), errTimedOut) {
		return ctx.Err() // the client left, or supd is shutting down
	}
	msgs := make([]string, len(pending))
	for i, st := range pending {
		msgs[i] = describe(st)
	}
	return &waitError{http.StatusGatewayTimeout,
		fmt.Sprintf("%s after %s: %s", what, timeout, strings.Join(msgs, "; "))}
}

// describe says where an instance is and why, as in
// "api:1 is fatal: exited 1 before binding".
func describe(st api.Status) string {
	s := st.Name + " is " + st.State
	if st.State == api.StateRunning && !st.Ready {
		s += ", not ready"
	}
	if detail := api.Detail(st.State, st.Reason, st.ExitCode, st.ExitSignal); detail != "" {
		s += ": " + detail
	}
	return s
}
