package probe

import (
	"slices"
	"testing"
	"time"
)

func TestInspector(t *testing.T) {
	a, tree, addr := startReady(t)

	in := NewInspector()
	for i := range 2 { // the second one measures CPU over the interval
		us, err := in.Inspect([]*Tree{tree, nil})
		if err != nil {
			t.Fatal(err)
		}
		u := us[0]
		if u.RSS <= 0 || u.CPUPercent < 0 || !slices.Equal(u.Pids, []int{a.pid}) ||
			!slices.Equal(u.Listening, []string{"tcp:" + addr}) {
			t.Errorf("inspect %d: usage %+v", i, u)
		}
		if us[1].RSS != 0 || us[1].Listening != nil || us[1].Pids != nil {
			t.Errorf("nil tree usage %+v", us[1])
		}
	}
}

func TestCPUPercent(t *testing.T) {
	now := time.Now()
	p := Proc{StartTime: 100 * userHZ, CPUTicks: 50}
	// Since start: 0.5s of CPU in 10s.
	if got := cpuPercent(p, cpuSample{}, now, 110e9); got != 5 {
		t.Errorf("since start: %v%%, want 5", got)
	}
	// Since a sample 2s ago: 0.3s of CPU.
	prev := cpuSample{ticks: 20, at: now.Add(-2e9)}
	if got := cpuPercent(p, prev, now, 110e9); got != 15 {
		t.Errorf("interval: %v%%, want 15", got)
	}
	// A sample older than a minute is not used.
	prev.at = now.Add(-2 * cpuWindow)
	if got := cpuPercent(p, prev, now, 110e9); got != 5 {
		t.Errorf("old sample: %v%%, want 5", got)
	}
}
