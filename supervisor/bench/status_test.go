package bench

import (
	"encoding/json"
	"testing"
	"time"
)

// statusSamples is how many `supctl status --json` calls each iteration
// of BenchmarkStatus times.
const statusSamples = 20

// BenchmarkStatus: `supctl status --json` with 500 processes (`sleep`),
// timed as a user sees it: exec of supctl to its exit, the JSON checked to
// hold 500 entries. Target: under 50ms (median-ms; p99-ms next to it).
// one-ms is `supctl status --json p0` on the same supd: the fixed cost
// (exec, connect, one process) the 500 are compared with.
func BenchmarkStatus(b *testing.B) {
	const n = 500
	s := startSleepers(b, n)
	time.Sleep(500 * time.Millisecond)
	var all, one []float64
	for b.Loop() {
		for range statusSamples {
			out, d := s.ctl("status", "--json")
			var sts []json.RawMessage
			if err := json.Unmarshal(out, &sts); err != nil || len(sts) != n {
				b.Fatalf("status --json: %d entries, %v", len(sts), err)
			}
			all = append(all, ms(d))
			_, d = s.ctl("status", "--json", "p0")
			one = append(one, ms(d))
		}
	}
	b.ReportMetric(median(all), "median-ms")
	b.ReportMetric(quantile(all, 0.99), "p99-ms")
	b.ReportMetric(median(one), "one-ms")
}
