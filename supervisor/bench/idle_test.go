package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

// sleepers is a config of n `sleep 100000` processes, one process block each.
func sleepers(n int) string {
	return processBlocks(n, `"sleep", "100000"`, "")
}

// startSleepers launches supd on n sleepers and waits until all run.
func startSleepers(b *testing.B, n int) *supd {
	b.Helper()
	s := launch(b, sleepers(n), launchOpts{})
	s.waitAll(n, 60*time.Second, "running", isState("running"))
	return s
}

// BenchmarkIdleRSS: supd's own RSS (VmRSS, not its children's) with 50
// and 100 supervised `sleep` processes, once they all run and supd has
// been idle for a second. Targets: 10 MiB for 50, 15 MiB for 100.
// anon-MiB is the private part of it (heap, stacks); the rest is the
// binary's pages mapped from the page cache. threads is supd's OS threads.
// rss-status-MiB is the RSS after five `supctl status --json` calls (the
// inspector's /proc scans), for reference.
func BenchmarkIdleRSS(b *testing.B) {
	for _, n := range []int{50, 100} {
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) {
			var idle, anon, threads, afterStatus []float64
			for b.Loop() {
				s := startSleepers(b, n)
				time.Sleep(time.Second)
				idle = append(idle, mib(rssKiB(s.pid())))
				anon = append(anon, mib(anonKiB(s.pid())))
				threads = append(threads, float64(threadCount(s.pid())))
				for range 5 {
					out, _ := s.ctl("status", "--json")
					var sts []json.RawMessage
					if err := json.Unmarshal(out, &sts); err != nil || len(sts) != n {
						b.Fatalf("status: %d entries, %v", len(sts), err)
					}
				}
				afterStatus = append(afterStatus, mib(rssKiB(s.pid())))
				s.stop()
			}
			b.ReportMetric(median(idle), "rss-MiB")
			b.ReportMetric(median(anon), "anon-MiB")
			b.ReportMetric(median(threads), "threads")
			b.ReportMetric(median(afterStatus), "rss-status-MiB")
		})
	}
}

// idleWindow is how long BenchmarkIdleCPU watches supd ($SUP_BENCH_IDLE).
func idleWindow() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SUP_BENCH_IDLE")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}

// BenchmarkIdleCPU: supd's CPU while 100 processes run and nothing
// changes, over 10s ($SUP_BENCH_IDLE), after a 2s settle. Target: under
// 0.1% of a core (no polling). cpu-% is from the threads' schedstat
// (nanoseconds); tick-cpu-% from utime+stime (10ms ticks, so 0.1% over 10s
// is a single tick); wakeups/s counts the threads' context switches.
func BenchmarkIdleCPU(b *testing.B) {
	const n = 100
	var cpu, ticks, wakeups []float64
	for b.Loop() {
		s := startSleepers(b, n)
		time.Sleep(2 * time.Second)
		window := idleWindow()
		c0, t0 := sampleCPU(s.pid()), time.Now()
		time.Sleep(window)
		c1, t1 := sampleCPU(s.pid()), time.Now()
		secs := t1.Sub(t0).Seconds()
		cpu = append(cpu, float64(c1.onCPU-c0.onCPU)/1e9/secs*100)
		ticks = append(ticks, float64(c1.ticks-c0.ticks)/100/secs*100) // CLK_TCK is 100 on Linux
		wakeups = append(wakeups, float64(c1.switches-c0.switches)/secs)
		s.stop()
	}
	b.ReportMetric(median(cpu), "cpu-%")
	b.ReportMetric(median(ticks), "tick-cpu-%")
	b.ReportMetric(median(wakeups), "wakeups/s")
}
