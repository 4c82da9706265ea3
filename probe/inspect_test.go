package probe

import (
	"runtime"
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
	// Just started: one tick in 3ms is rounding, not 333%.
	young := Proc{StartTime: 100 * userHZ, CPUTicks: 1}
	if got := cpuPercent(young, cpuSample{}, now, 100e9+3e6); got != 0 {
		t.Errorf("3ms old: %v%%, want 0", got)
	}
	// Never more than every core.
	busy := Proc{StartTime: 100 * userHZ, CPUTicks: 1000}
	if got, most := cpuPercent(busy, cpuSample{}, now, 101e9), float64(100*runtime.NumCPU()); got != most {
		t.Errorf("1000 ticks in 1s: %v%%, want at most %v", got, most)
	}
}
