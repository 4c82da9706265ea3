package suptest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Nginx returns the path of nginx, or skips tb when it is not installed
// (`make deps` installs it).
func Nginx(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	tb.Skip("nginx is not installed (make deps installs it)")
	return ""
}

// NginxConf is an nginx.conf for `nginx -c FILE -p dir` that proxies
// 127.0.0.1:listen to upstream ("127.0.0.1:3000", "unix:/run/app.sock"):
// one upstream server, default proxy_next_upstream, errors logged to
// dir/error.log, every other file nginx writes under dir.
func NginxConf(dir, upstream string, listen int) string {
	return fmt.Sprintf(`daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
worker_processes 1;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream app { server %[2]s; }
  server {
    listen 127.0.0.1:%[3]d;
    location / { proxy_pass http://app; }
  }
}
`, dir, upstream, listen)
}

// Load sends GET url in a loop from clients goroutines, each with its own
// client from newClient, until stop is closed, and calls result with every
// outcome (from those goroutines; the body is read and closed after it
// returns). The returned func waits until every goroutine has stopped.
func Load(url string, clients int, newClient func() *http.Client, stop <-chan struct{}, result func(*http.Response, error)) (wait func()) {
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				result(resp, err)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	return wg.Wait
}
