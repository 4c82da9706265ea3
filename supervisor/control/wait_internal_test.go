package control

import (
	"slices"
	"testing"

	"github.com/sup-sh/sup/supervisor/api"
)

func TestCheck(t *testing.T) {
	one := 1
	sig := "SIGKILL"
	st := func(state string, ready bool, f ...func(*api.Status)) api.Status {
		s := api.Status{Name: "api", State: state, Ready: ready, Pid: 7, Restarts: 2}
		for _, f := range f {
			f(&s)
		}
		return s
	}
	before := map[string]api.Status{"api": st(api.StateRunning, true)}
	for _, tc := range []struct {
		name    string
		goal    goal
		st      api.Status
		before  map[string]api.Status
		pending bool
		err     string
	}{
		{"ready", goalReady, st(api.StateRunning, true), nil, false, ""},
		{"oneshot exited 0", goalReady, st(api.StateExited, true), nil, false, ""},
		{"starting", goalReady, st(api.StateStarting, false), nil, true, ""},
		{"backoff", goalReady, st(api.StateBackoff, false), nil, true, ""},
		{"running, failing health", goalReady, st(api.StateRunning, false), nil, true, ""},
		{"stopped, desire unknown", goalReady, st(api.StateStopped, false), nil, true, ""},
		{"stopped by request", goalReady, st(api.StateStopped, false, func(s *api.Status) { s.Desired = api.DesiredStopped }), nil, false,
			"api is stopped by request"},
		{"fatal", goalReady, st(api.StateFatal, false, func(s *api.Status) { s.Reason = "command not found" }), nil, false,
			"api is fatal: command not found"},
		{"exited", goalReady, st(api.StateExited, false, func(s *api.Status) { s.ExitCode = &one }), nil, false,
			"api is exited: exited 1"},
		{"killed", goalReady, st(api.StateExited, false, func(s *api.Status) { s.ExitSignal = &sig }), nil, false,
			"api is exited: killed by SIGKILL"},
		{"ready, not respawned", goalReady, st(api.StateRunning, true), before, true, ""},
		{"ready, new pid", goalReady, st(api.StateRunning, true, func(s *api.Status) { s.Pid = 8 }), before, false, ""},
		{"ready, restarted", goalReady, st(api.StateRunning, true, func(s *api.Status) { s.Restarts = 3 }), before, false, ""},
		{"down: stopping", goalDown, st(api.StateStopping, false), nil, true, ""},
		{"down: backoff", goalDown, st(api.StateBackoff, false), nil, true, ""},
		{"down: stopped", goalDown, st(api.StateStopped, false), nil, false, ""},
		{"down: exited", goalDown, st(api.StateExited, false), nil, false, ""},
		{"down: fatal", goalDown, st(api.StateFatal, false), nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pending, err := check(tc.goal, []api.Status{tc.st}, tc.before)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := len(pending) == 1; got != tc.pending {
				t.Errorf("pending = %v, want %v", got, tc.pending)
			}
		})
	}
}

func TestWithoutStopped(t *testing.T) {
	sts := []api.Status{
		{Name: "a", State: api.StateStopped},                               // stopped, desire unknown
		{Name: "b", State: api.StateStopped, Desired: api.DesiredRunning},  // not started yet
		{Name: "c", State: api.StateStopping, Desired: api.DesiredStopped}, // being stopped
		{Name: "d", State: api.StateRunning},                               // running
		{Name: "e", State: api.StateBackoff, Desired: api.DesiredRunning},  // restarting
		{Name: "f", State: api.StateRunning, Desired: api.DesiredStopped},  // stop requested
	}
	var got []string
	for _, st := range withoutStopped(sts) {
		got = append(got, st.Name)
	}
	if want := []string{"b", "d", "e"}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
}

func TestDescribe(t *testing.T) {
	code := 1
	for _, tc := range []struct {
		st   api.Status
		want string
	}{
		{api.Status{Name: "api:1", State: api.StateFatal, Reason: "exited 1 before binding"}, "api:1 is fatal: exited 1 before binding"},
		{api.Status{Name: "api", State: api.StateRunning, Reason: "health: 503"}, "api is running, not ready: health: 503"},
		{api.Status{Name: "api", State: api.StateStarting, ExitCode: &code}, "api is starting"}, // an old exit says nothing now
		{api.Status{Name: "api", State: api.StateBackoff, ExitCode: &code}, "api is backoff: exited 1"},
	} {
		if got := describe(tc.st); got != tc.want {
			t.Errorf("describe = %q, want %q", got, tc.want)
		}
	}
}
