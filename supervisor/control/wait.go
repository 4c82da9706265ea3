package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
)

// goal is what a wait waits for; only the message of a timeout uses it:
// whether the targets got there is the backend's to say.
type goal int

const (
	goalReady goal = iota // every target ready
	goalDown              // every target stopped, exited or fatal
)

// operation is how the server carries out an Action.
type operation struct {
	do        func(Backend, context.Context, api.ActionRequest) (<-chan error, error)
	goal      goal
	needNames bool // "all" is not allowed
}

var operations = map[Action]operation{
	ActionStart: {do: func(b Backend, ctx context.Context, r api.ActionRequest) (<-chan error, error) {
		return b.Start(ctx, r.Names)
	}, goal: goalReady, needNames: true},
	ActionStop: {do: func(b Backend, ctx context.Context, r api.ActionRequest) (<-chan error, error) {
		return b.Stop(ctx, r.Names)
	}, goal: goalDown, needNames: true},
	ActionRestart: {do: func(b Backend, ctx context.Context, r api.ActionRequest) (<-chan error, error) {
		return b.Restart(ctx, r.Names)
	}, goal: goalReady, needNames: true},
	ActionReload: {do: func(b Backend, ctx context.Context, r api.ActionRequest) (<-chan error, error) {
		return b.Reload(ctx, r.Names, r.AllowEmpty)
	}, goal: goalReady},
	ActionWait: {do: func(b Backend, ctx context.Context, r api.ActionRequest) (<-chan error, error) {
		return b.Wait(ctx, r.Names)
	}, goal: goalReady},
}

// waitError is a wait that ended without reaching its goal: 409 when a
// target can no longer get there, 504 on timeout.
type waitError struct {
	status int
	msg    string
}

func (e *waitError) Error() string { return e.msg }

// act carries out req as action a and, when req.Wait is set (always for
// ActionWait), waits until the backend says it is complete or timeout
// has passed. It returns the targets' final status.
func (s *Server) act(ctx context.Context, a Action, req api.ActionRequest, timeout time.Duration) ([]api.Status, error) {
	op := operations[a]
	if op.needNames && len(req.Names) == 0 {
		return nil, badRequest("%s: no process named", a)
	}
	done, err := op.do(s.Backend, ctx, req)
	if err != nil {
		return nil, err
	}
	if req.Wait || a == ActionWait {
		if err := s.await(ctx, done, req.Names, op.goal, timeout); err != nil {
			return nil, err
		}
	}
	return s.Backend.Status(ctx, req.Names)
}

// await waits for done, at most timeout. On timeout it describes the
// targets that are not there yet (with no names: those not stopped by
// request).
func (s *Server) await(ctx context.Context, done <-chan error, names []string, g goal, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		var oe *api.OutcomeError
		if errors.As(err, &oe) {
			return &waitError{http.StatusConflict, oe.Msg}
		}
		return err
	case <-ctx.Done():
		return ctx.Err() // the client left, or supd is shutting down
	case <-t.C:
	}
	sts, err := s.Backend.Status(ctx, names)
	if err != nil {
		return err
	}
	what := "not ready"
	if g == goalDown {
		what = "not stopped"
	}
	var msgs []string
	for _, st := range sts {
		switch {
		case g == goalDown && isDown(st.State), g == goalReady && st.Ready && len(names) > 0:
		case len(names) == 0 && (st.StoppedByRequest() || st.Ready):
		default:
			msgs = append(msgs, api.Describe(st))
		}
	}
	if len(msgs) == 0 {
		// Ready, but not yet the new spawn (a restart), or there just now.
		msgs = []string{"not complete yet"}
	}
	return &waitError{http.StatusGatewayTimeout, fmt.Sprintf("%s after %s: %s", what, timeout, strings.Join(msgs, "; "))}
}

func isDown(state string) bool {
	return state == api.StateStopped || state == api.StateExited || state == api.StateFatal
}
