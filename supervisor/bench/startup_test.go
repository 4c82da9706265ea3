package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// startupRuns is how many times each iteration of BenchmarkFirstSpawn
// starts supd.
const startupRuns = 10

// BenchmarkFirstSpawn: from the exec of supd to its first child spawned,
// with a 20-process file (`sleep`). The start is taken just before
// exec.Cmd.Start of supd, the spawn is the time of supd's first "running"
// record (logged right after the child's exec succeeded). Target: under
// 10ms (median-ms). all-ms is the same to the 20th spawn, started-ms to
// supd's "supd started" record (config loaded, control socket open).
func BenchmarkFirstSpawn(b *testing.B) {
	const n = 20
	dir := b.TempDir()
	config := writeConfig(b, dir, sleepers(n))
	var first, all, started []float64
	for b.Loop() {
		for range startupRuns {
			s := launchIn(b, dir, config, launchOpts{})
			recs := s.waitAll(n, 20*time.Second, "running", isState("running"))
			up, _ := s.wait(0, time.Second, "supd started", func(r record) bool { return r.Message == "supd started" })
			first = append(first, ms(recs[0].Time.Sub(s.started)))
			all = append(all, ms(recs[n-1].Time.Sub(s.started)))
			started = append(started, ms(up.Time.Sub(s.started)))
			s.stop()
		}
	}
	b.ReportMetric(median(first), "median-ms")
	b.ReportMetric(quantile(first, 0.99), "p99-ms")
	b.ReportMetric(median(all), "all-ms")
	b.ReportMetric(median(started), "started-ms")
}

// readyRuns is how many times each iteration of BenchmarkReadySlowBind
// starts supd.
const readyRuns = 3

// BenchmarkReadySlowBind: 20 processes that each take 300ms to bind
// (`testapp --delay 300ms --listen tcp:…` with a tcp ready check): the time
// from the exec of supd to the last of them ready (its "running" record).
// Target: all ready within 400ms (median-ms over runs; max-ms the worst
// run). detect-ms is the median time from a bind (recorded by testapp
// right after listen() returned) to supd's ready record for it.
func BenchmarkReadySlowBind(b *testing.B) {
	const n = 20
	var allReady, detect []float64
	for b.Loop() {
		for range readyRuns {
			dir := b.TempDir()
			ports := suptest.FreePorts(b, n)
			var body strings.Builder
			for k, port := range ports {
				fmt.Fprintf(&body, `process "p%d" {
  command = ["{{app}}", "--delay", "300ms", "--listen", "tcp:127.0.0.1:%d", "--record", "{{dir}}/bind-%d"]
  ready {
    tcp = "127.0.0.1:%d"
  }
}
`, k, port, k, port)
			}
			s := launchIn(b, dir, writeConfig(b, dir, body.String()), launchOpts{})
			recs := s.waitAll(n, 20*time.Second, "ready", isState("running"))
			allReady = append(allReady, ms(recs[n-1].Time.Sub(s.started)))
			for _, r := range recs {
				k, _ := strconv.Atoi(strings.TrimPrefix(r.Process, "p"))
				data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("bind-%d", k)))
				if err != nil {
					b.Fatal(err)
				}
				ns, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
				detect = append(detect, ms(r.Time.Sub(time.Unix(0, ns))))
			}
			s.stop()
		}
	}
	b.ReportMetric(median(allReady), "median-ms")
	b.ReportMetric(quantile(allReady, 1), "max-ms")
	b.ReportMetric(median(detect), "detect-ms")
}
