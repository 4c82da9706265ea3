package bench

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// BenchmarkRestartTrampoline: what supd's LISTEN_PID trampoline (a
// re-exec of supd that sets LISTEN_PID and execs the command) adds to a
// crash → respawn. Two testapps crash alternately, restarted at once
// (reset_after = "0s"): "held" gets a socket held by supd, through the
// trampoline; "plain" binds its own port. Each sample is the time from the
// SIGKILL to supd reading the first line the new process prints (testapp
// prints it once it has its socket, before accepting). held-ms and
// plain-ms are the medians, trampoline-ms their difference.
func BenchmarkRestartTrampoline(b *testing.B) {
	ports := suptest.FreePorts(b, 2)
	s := launch(b, fmt.Sprintf(`
socket "web" { listen = "tcp://127.0.0.1:%d" }
process "held" {
  command = ["{{app}}", "--listen-fds"]
  sockets = ["web"]
  restart { reset_after = "0s" }
}
process "plain" {
  command = ["{{app}}", "--listen", "tcp:127.0.0.1:%d", "--print", "listening"]
  restart { reset_after = "0s" }
}`, ports[0], ports[1]), launchOpts{})
	pids := map[string]int{}
	next := 0
	for len(pids) < 2 {
		var r record
		r, next = s.wait(next, 20*time.Second, "running", isState("running"))
		pids[r.Process] = r.Pid
	}
	lat := map[string][]float64{}
	for b.Loop() {
		for range restartSamples {
			for _, name := range []string{"held", "plain"} {
				time.Sleep(20 * time.Millisecond) // let supd go idle again
				t0 := time.Now()
				if err := syscall.Kill(pids[name], syscall.SIGKILL); err != nil {
					b.Fatalf("kill %s %d: %v", name, pids[name], err)
				}
				// Without a ready check "plain" is running before it prints.
				from := next
				line, n1 := s.wait(from, 10*time.Second, name+" printing", func(r record) bool {
					return r.Process == name && r.Stream == "stdout"
				})
				run, n2 := s.wait(from, 10*time.Second, name+" running", func(r record) bool {
					return r.Process == name && r.Stream == "" && r.Message == "running" && r.Pid != pids[name]
				})
				next = max(n1, n2)
				pids[name] = run.Pid
				lat[name] = append(lat[name], ms(line.Time.Sub(t0)))
			}
		}
	}
	b.ReportMetric(median(lat["held"]), "held-ms")
	b.ReportMetric(median(lat["plain"]), "plain-ms")
	b.ReportMetric(median(lat["held"])-median(lat["plain"]), "trampoline-ms")
}
