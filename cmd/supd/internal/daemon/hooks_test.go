package daemon

import (
	"testing"

	"github.com/sup-sh/sup/supervisor"
	"github.com/sup-sh/sup/supervisor/hooks"
)

func TestHookEvent(t *testing.T) {
	code := 3
	for _, tc := range []struct {
		kind supervisor.EventKind
		want hooks.Kind // "" = no hook event
	}{
		{supervisor.EventCrash, hooks.Crash},
		{supervisor.EventFatal, hooks.Fatal},
		{supervisor.EventReady, hooks.Ready},
		{supervisor.EventUnready, hooks.Unready},
		{supervisor.EventState, ""},
		{supervisor.EventSummary, ""},
		{supervisor.EventReloadEnd, ""},
	} {
		ev := supervisor.Event{Kind: tc.kind, Name: "api:1", Process: "api", Instance: 1, Pid: 42, ExitCode: &code, Restarts: 2, Reason: "exited 3"}
		got, ok := hookEvent(ev)
		if ok != (tc.want != "") || got.Kind != tc.want {
			t.Errorf("hookEvent(%v) = %v, %v; want %q", tc.kind, got.Kind, ok, tc.want)
			continue
		}
		if ok && (got.Name != "api:1" || got.Process != "api" || got.Instance != 1 || got.Pid != 42 ||
			got.ExitCode != &code || got.Restarts != 2 || got.Reason != "exited 3") {
			t.Errorf("hookEvent(%v) = %+v: fields not carried over", tc.kind, got)
		}
	}
}
