package bench

import (
	"syscall"
	"testing"
	"time"
)

// restartSamples is how many crashes BenchmarkRestart causes per iteration.
const restartSamples = 40

// BenchmarkRestart: from a crash to the new pid spawned, for a restart
// that is due at once (`reset_after = "0s"`: every run counts as ready for
// long enough, so no backoff applies). The benchmark sends SIGKILL to the
// running `sleep` and reads the time of supd's "running" record for the new
// pid (logged right after the exec succeeded): median-ms and p99-ms, target
// a median under 5ms. reap-ms is the median time to supd's "starting"
// record (exit seen, policy applied, before the spawn).
func BenchmarkRestart(b *testing.B) {
	s := launch(b, `
process "crash" {
  command = ["sleep", "100000"]
  restart {
    reset_after = "0s"
  }
}
`, launchOpts{})
	r, next := s.wait(0, 20*time.Second, "running", isState("running"))
	pid := r.Pid
	var lat, reap []float64
	for b.Loop() {
		for range restartSamples {
			time.Sleep(20 * time.Millisecond) // let supd go idle again
			t0 := time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				b.Fatalf("kill %d: %v", pid, err)
			}
			var starting record
			starting, next = s.wait(next, 10*time.Second, "starting after the crash", func(r record) bool {
				return r.Stream == "" && r.Message == "starting" && r.From == "running"
			})
			r, next = s.wait(next, 10*time.Second, "running with a new pid", func(r record) bool {
				return r.Stream == "" && r.Message == "running" && r.Pid != 0 && r.Pid != pid
			})
			pid = r.Pid
			lat = append(lat, ms(r.Time.Sub(t0)))
			reap = append(reap, ms(starting.Time.Sub(t0)))
		}
	}
	b.ReportMetric(median(lat), "median-ms")
	b.ReportMetric(quantile(lat, 0.99), "p99-ms")
	b.ReportMetric(median(reap), "reap-ms")
}
