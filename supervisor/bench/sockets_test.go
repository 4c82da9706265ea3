package bench

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// BenchmarkCrash502: the measurement, through real nginx (one
// upstream, default proxy_next_upstream). An app with a 300 ms boot is
// killed with SIGKILL every 2 s for $SUP_BENCH_CRASH_FOR (default 20s)
// under load (8 connections, keep-alive to nginx), twice in one run: "held"
// with its socket held by supd, "port" binding its own port (sup before
// sockets). Per mode: 502s, refused connects (nginx's error log),
// 502s per crash, and the time with 502s (10 ms buckets with at least one).
func BenchmarkCrash502(b *testing.B) {
	nginx := suptest.Nginx(b)
	period := 20 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SUP_BENCH_CRASH_FOR")); err == nil {
		period = d
	}
	for b.Loop() {
		for _, mode := range []string{"held", "port"} {
			r := crash502(b, nginx, mode, period)
			b.ReportMetric(float64(r.errors), mode+"-502s")
			b.ReportMetric(float64(r.requests), mode+"-requests")
			b.ReportMetric(float64(r.refused), mode+"-refused")
			b.ReportMetric(float64(r.errors)/float64(r.crashes), mode+"-502-per-crash")
			b.ReportMetric(r.badTime.Seconds(), mode+"-502-time-s")
		}
	}
}

type crashResult struct {
	requests, errors, refused, crashes int
	badTime                            time.Duration
}

func crash502(b *testing.B, nginx, mode string, period time.Duration) crashResult {
	ports := suptest.FreePorts(b, 2)
	appPort, proxyPort := ports[0], ports[1]
	dir := b.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(suptest.NginxConf(dir, fmt.Sprintf("127.0.0.1:%d", appPort), proxyPort)), 0o644); err != nil {
		b.Fatal(err)
	}
	app := fmt.Sprintf(`
socket "web" { listen = "tcp://127.0.0.1:%d" }
process "app" {
  command = ["{{app}}", "--listen-fds", "--delay", "300ms"]
  sockets = ["web"]
  restart { reset_after = "0s" }
}`, appPort)
	if mode == "port" {
		app = fmt.Sprintf(`
process "app" {
  command = ["{{app}}", "--listen", "tcp:127.0.0.1:%d", "--delay", "300ms"]
  ready { tcp = "127.0.0.1:%d" }
  restart { reset_after = "0s" }
}`, appPort, appPort)
	}
	s := launchIn(b, dir, writeConfig(b, dir, app+fmt.Sprintf(`
process "nginx" {
  command    = [%q, "-c", %q, "-p", %q]
  depends_on = ["app"]
  ready { tcp = "127.0.0.1:%d" }
  stop { signal = "SIGQUIT" }
}`, nginx, conf, dir, proxyPort)), launchOpts{})
	defer s.stop()
	s.waitAll(2, 30*time.Second, "running", isState("running"))

	var mu sync.Mutex
	res := crashResult{}
	bad := map[int64]bool{} // 10ms buckets with a 502
	stop := make(chan struct{})
	url := fmt.Sprintf("http://127.0.0.1:%d/", proxyPort)
	newClient := func() *http.Client { return &http.Client{Timeout: 10 * time.Second} }
	wait := suptest.Load(url, 8, newClient, stop, func(resp *http.Response, err error) {
		mu.Lock()
		defer mu.Unlock()
		res.requests++
		if err != nil || resp.StatusCode != http.StatusOK {
			res.errors++
			bad[time.Now().UnixMilli()/10] = true
		}
	})
	next := 0
	for end := time.Now().Add(period); time.Now().Before(end); {
		time.Sleep(2 * time.Second)
		var r record
		r, next = s.wait(next, 10*time.Second, "app running", func(r record) bool {
			return r.Process == "app" && r.Stream == "" && r.Message == "running"
		})
		syscall.Kill(r.Pid, syscall.SIGKILL)
		res.crashes++
	}
	time.Sleep(time.Second) // the last restart
	close(stop)
	wait()
	log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	res.refused = strings.Count(string(log), "Connection refused")
	res.badTime = time.Duration(len(bad)) * 10 * time.Millisecond
	return res
}
