package daemon

import (
	"slices"
	"testing"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/hooks"
)

func TestHookClassifier(t *testing.T) {
	code := func(c int) *int { return &c }
	sig := "SIGKILL"
	c := hookClassifier{ready: map[string]bool{}}
	for _, step := range []struct {
		e    api.Event
		want []hooks.Kind
	}{
		{api.Event{Name: "api", From: api.StateStopped, State: api.StateStarting}, nil},
		{api.Event{Name: "api", From: api.StateStarting, State: api.StateRunning, Ready: true}, []hooks.Kind{hooks.Ready}},
		{api.Event{Name: "api", From: api.StateRunning, State: api.StateBackoff, ExitCode: code(1)}, []hooks.Kind{hooks.Crash, hooks.Unready}},
		{api.Event{Name: "api", From: api.StateBackoff, State: api.StateStarting}, nil},
		{api.Event{Name: "api", From: api.StateStarting, State: api.StateFatal, ExitSignal: &sig}, []hooks.Kind{hooks.Crash, hooks.Fatal}},
		{api.Event{Name: "job", From: api.StateStarting, State: api.StateExited, ExitCode: code(0), Ready: true}, []hooks.Kind{hooks.Ready}},
		{api.Event{Name: "web", From: api.StateRunning, State: api.StateExited, ExitCode: code(2)}, []hooks.Kind{hooks.Crash}},
		{api.Event{Name: "db", From: api.StateStarting, State: api.StateRunning, Ready: true}, []hooks.Kind{hooks.Ready}},
		{api.Event{Name: "db", From: api.StateRunning, State: api.StateRunning, Reason: "health: refused"}, []hooks.Kind{hooks.Unready}},
		{api.Event{Name: "db", From: api.StateRunning, State: api.StateStopping}, nil},
		{api.Event{Name: "db", From: api.StateStopping, State: api.StateStopped}, nil},
	} {
		var got []hooks.Kind
		for _, he := range c.classify(step.e) {
			got = append(got, he.Kind)
			if he.Name != step.e.Name || he.State != step.e.State {
				t.Errorf("%+v: event %+v", step.e, he)
			}
		}
		if !slices.Equal(got, step.want) {
			t.Errorf("%s %s -> %s: got %v, want %v", step.e.Name, step.e.From, step.e.State, got, step.want)
		}
	}
}
