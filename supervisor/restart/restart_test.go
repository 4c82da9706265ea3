package restart

import (
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/config"
)

var defaults = config.Restart{
	Policy: config.Always, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second,
	ResetAfter: 10 * time.Second, Window: time.Minute,
}

func TestBackoffSchedule(t *testing.T) {
	tr := NewTracker(defaults)
	now := time.Unix(1000, 0)
	crash := End{Failed: true, ExitedFor: "exited 1"}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		d := tr.Decide(now, crash)
		if d.Action != Restart || d.Delay != w*time.Millisecond {
			t.Fatalf("crash %d: got %v %v, want restart %v", i, d.Action, d.Delay, w*time.Millisecond)
		}
		now = now.Add(time.Second)
	}
	// Ready long enough: immediate, and the backoff starts over.
	if d := tr.Decide(now, End{Failed: true, ReadyFor: 10 * time.Second}); d.Delay != 0 {
		t.Fatalf("after reset_after: delay %v, want 0", d.Delay)
	}
	if d := tr.Decide(now, crash); d.Delay != 100*time.Millisecond {
		t.Fatalf("after reset: delay %v, want 100ms", d.Delay)
	}
	// Ready, but not long enough: still backing off.
	if d := tr.Decide(now, End{Failed: true, ReadyFor: 9 * time.Second}); d.Delay != 200*time.Millisecond {
		t.Fatalf("short ready: delay %v, want 200ms", d.Delay)
	}
}

func TestMaxRestartsInWindow(t *testing.T) {
	p := defaults
	p.MaxRestarts, p.Window = 3, 10*time.Second
	tr := NewTracker(p)
	now := time.Unix(1000, 0)
	crash := End{Failed: true, ExitedFor: "exited 1"}
	for i := 0; i < 3; i++ {
		if d := tr.Decide(now, crash); d.Action != Restart {
			t.Fatalf("restart %d: got %v", i, d.Action)
		}
		now = now.Add(time.Second)
	}
	d := tr.Decide(now, crash)
	if d.Action != Fatal || d.Reason != "exited 1; gave up after 3 restarts in 10s" {
		t.Fatalf("4th crash in window: got %v %q", d.Action, d.Reason)
	}
	// Once the old restarts fall out of the window it may restart again.
	tr2 := NewTracker(p)
	for i := 0; i < 3; i++ {
		tr2.Decide(now, crash)
	}
	if d := tr2.Decide(now.Add(10*time.Second), crash); d.Action != Restart {
		t.Fatalf("after window: got %v", d.Action)
	}
}

func TestPolicies(t *testing.T) {
	tests := []struct {
		policy  config.Policy
		end     End
		want    Action
		comment string
	}{
		{config.Always, End{}, Restart, "always restarts a clean exit"},
		{config.Always, End{Failed: true}, Restart, ""},
		{config.Always, End{Oneshot: true}, Exit, "a oneshot that succeeded is done"},
		{config.Always, End{Oneshot: true, Failed: true}, Restart, "a failed oneshot is retried"},
		{config.OnFailure, End{}, Exit, ""},
		{config.OnFailure, End{Failed: true}, Restart, ""},
		{config.Never, End{Failed: true}, Exit, ""},
		{config.Never, End{}, Exit, ""},
		{config.Never, End{Oneshot: true, Failed: true}, Exit, ""},
	}
	for _, tt := range tests {
		p := defaults
		p.Policy = tt.policy
		if got := NewTracker(p).Decide(time.Unix(0, 0), tt.end).Action; got != tt.want {
			t.Errorf("%s %+v: got %v, want %v %s", tt.policy, tt.end, got, tt.want, tt.comment)
		}
	}
}

func TestResetForgetsHistory(t *testing.T) {
	p := defaults
	p.MaxRestarts = 1
	tr := NewTracker(p)
	now := time.Unix(0, 0)
	tr.Decide(now, End{Failed: true})
	tr.Reset()
	if d := tr.Decide(now, End{Failed: true}); d.Action != Restart || d.Delay != p.Backoff {
		t.Fatalf("after Reset: %v %v", d.Action, d.Delay)
	}
}
