package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// The story sup exists for: nginx in front of an app, both supervised,
// nginx started only once the app has bound its port. When supd says all
// is ready, a request through nginx never gets a 502; when the app dies,
// supd says so at once, and after the restart nginx answers again.
func TestNginxInFrontNever502(t *testing.T) {
	nginx, conf, dir, appPort, proxyPort := nginxFront(t)
	s := startSupd(t, fmt.Sprintf(`
process "app" {
  command = ["{{app}}", "--delay", "300ms", "--listen", "tcp:127.0.0.1:%d"]
  ready { tcp = "127.0.0.1:%d" }
}
process "nginx" {
  command    = [%q, "-c", %q, "-p", %q]
  depends_on = ["app"]
  ready { tcp = "127.0.0.1:%d" }
  stop { signal = "SIGQUIT" }
}`, appPort, appPort, nginx, conf, dir, proxyPort))
	if out, code := s.ctl("wait", "--timeout", "30s"); code != 0 {
		t.Fatalf("supctl wait: exit %d: %s", code, out)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", proxyPort)
	if code, body := get(t, url); code != http.StatusOK || body != "ok" {
		t.Fatalf("through nginx right after supd said ready: %d %q", code, body)
	}

	app := s.status()["app"]
	syscall.Kill(app.Pid, syscall.SIGKILL)
	down := s.waitFor("app", 10*time.Second, "seen down", func(st api.Status) bool { return st.Pid != app.Pid })
	if down.Ready {
		t.Fatalf("app reported ready right after kill -9: %+v", down)
	}
	s.waitReady("app")
	if code, body := get(t, url); code != http.StatusOK || body != "ok" {
		t.Fatalf("through nginx once supd says the app is ready again: %d %q", code, body)
	}
	if st := s.status()["nginx"]; !st.Ready || st.Restarts != 0 {
		t.Fatalf("nginx: %+v", st)
	}
}

// nginxFront writes an nginx.conf (suptest.NginxConf) in a new directory
// that proxies 127.0.0.1:proxyPort to 127.0.0.1:appPort, on free ports.
func nginxFront(t *testing.T) (nginx, conf, dir string, appPort, proxyPort int) {
	t.Helper()
	nginx = suptest.Nginx(t)
	ports := suptest.FreePorts(t, 2)
	appPort, proxyPort = ports[0], ports[1]
	dir = t.TempDir()
	conf = filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(suptest.NginxConf(dir, fmt.Sprintf("127.0.0.1:%d", appPort), proxyPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	return nginx, conf, dir, appPort, proxyPort
}

// The product's promise, through real nginx: an app with a socket held by
// supd, killed with kill -9 again and again under load, never makes nginx
// see a refused connection; only the requests in flight at each crash get
// a 502.
func TestNginxHeldSocketCrashes(t *testing.T) {
	nginx, conf, dir, appPort, proxyPort := nginxFront(t)
	s := startSupd(t, fmt.Sprintf(`
socket "web" { listen = "tcp://127.0.0.1:%d" }
process "app" {
  command = ["{{app}}", "--listen-fds", "--delay", "300ms"]
  sockets = ["web"]
}
process "nginx" {
  command    = [%q, "-c", %q, "-p", %q]
  depends_on = ["app"]
  ready { tcp = "127.0.0.1:%d" }
  stop { signal = "SIGQUIT" }
}`, appPort, nginx, conf, dir, proxyPort))
	if out, code := s.ctl("wait", "--timeout", "30s"); code != 0 {
		t.Fatalf("supctl wait: exit %d: %s", code, out)
	}
	stop := make(chan struct{})
	const clients, crashes = 8, 5
	res := load(fmt.Sprintf("http://127.0.0.1:%d/", proxyPort), clients, stop)
	for range crashes {
		st := s.waitReady("app")
		before := res.ok.Load()
		eventually(t, 5*time.Second, "requests served", func() bool { return res.ok.Load() > before+100 })
		syscall.Kill(st.Pid, syscall.SIGKILL)
		s.waitFor("app", 10*time.Second, "respawned", func(n api.Status) bool { return n.Pid != st.Pid && n.Pid != 0 })
	}
	s.waitReady("app")
	close(stop)
	errorLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	refused := strings.Count(string(errorLog), "Connection refused")
	t.Logf("ok %d, 502 and other %d, client refused %d; nginx refused %d", res.ok.Load(), res.other.Load(), res.refused.Load(), refused)
	if refused != 0 || res.refused.Load() != 0 {
		t.Errorf("refused connections: %d in nginx's error log, %d in the client; want 0:\n%s", refused, res.refused.Load(), errorLog)
	}
	if n := res.other.Load(); n > clients*crashes {
		t.Errorf("%d failed requests, want at most %d (those in flight at the crashes)", n, clients*crashes)
	}
}
