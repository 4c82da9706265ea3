package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// writeFiles writes files (relative path -> text) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// lineOf returns "FILE:LINE" of the first line of file holding s.
func lineOf(t *testing.T, file, s string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			return file + ":" + strconv.Itoa(i+1)
		}
	}
	t.Fatalf("%q not in %s", s, file)
	return ""
}

// publicDir returns a new directory that every user may search (unlike
// t.TempDir, whose parent is 0700), for sockets the proxy's user must
// reach.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sup-e2e-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Every verdict of check-proxy, on an nginx config whose upstreams are in
// an included file: ok (IP, localhost, IPv6), not ready, nobody listening,
// held by a process sup does not supervise, listens elsewhere (another
// port; another Unix socket path), not accessible to nginx's user, stale
// socket file. Exit codes 1 (some not ok), 0 (all ok), 3 (no supd); a
// syntax error is reported at its FILE:LINE.
func TestCheckProxyVerdicts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: checks a socket's access for nginx's user nobody")
	}
	p := suptest.FreePorts(t, 7)
	okPort, v6Port, slowPort, nonePort, foreignPort, wantPort, gotPort := p[0], p[1], p[2], p[3], p[4], p[5], p[6]
	socks := publicDir(t)
	tcp := func(port int) string { return fmt.Sprintf("tcp:127.0.0.1:%d", port) }
	unix := func(name string) string { return "unix:" + filepath.Join(socks, name) }
	s := startSupd(t, strings.Join([]string{
		listenerProcess("web", tcp(okPort), tcp(okPort)),
		listenerProcess("v6", fmt.Sprintf("tcp:[::1]:%d", v6Port), fmt.Sprintf("tcp:[::1]:%d", v6Port)),
		listenerProcess("slow", tcp(slowPort), tcp(slowPort), "--delay", "1h"),
		listenerProcess("wrong", tcp(gotPort), tcp(wantPort)),
		listenerProcess("app", unix("app.sock"), unix("app.sock")),
		listenerProcess("priv", unix("priv.sock"), unix("priv.sock")),
		listenerProcess("www", unix("www.sock"), unix("www.sock")),
	}, "\n"))
	for _, name := range []string{"web", "v6", "app", "priv", "www"} {
		s.waitReady(name)
	}
	s.waitFor("wrong", 10*time.Second, "listening elsewhere", func(st api.Status) bool { return len(st.Listening) > 0 })
	os.Chmod(filepath.Join(socks, "priv.sock"), 0o755) // nobody may not write it
	os.Chmod(filepath.Join(socks, "www.sock"), 0o777)
	foreign, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", foreignPort))
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(socks, "stale.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false) // what a crashed app leaves behind
	stale.Close()

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"nginx.conf": "user nobody;\nevents {}\nhttp {\n  include conf.d/*.conf;\n}\n",
		"conf.d/app.conf": fmt.Sprintf(`upstream web {
  server 127.0.0.1:%[1]d;
  server localhost:%[1]d max_fails=3;
  server [::1]:%[2]d;
}
server {
  listen 8080;
  location / { proxy_pass http://web; }
  location /slow { proxy_pass http://127.0.0.1:%[3]d; }
  location /none { proxy_pass http://127.0.0.1:%[4]d/; }
  location /foreign { proxy_pass http://127.0.0.1:%[5]d; }
  location /wrong { proxy_pass http://127.0.0.1:%[6]d; }
  location /path { proxy_pass http://unix:%[7]s/api.sock:/; }
  location /priv { fastcgi_pass unix:%[7]s/priv.sock; }
  location /www { uwsgi_pass unix:%[7]s/www.sock; }
  location /stale { scgi_pass unix:%[7]s/stale.sock; }
}
`, okPort, v6Port, slowPort, nonePort, foreignPort, wantPort, socks),
	})
	conf, inc := filepath.Join(dir, "nginx.conf"), filepath.Join(dir, "conf.d/app.conf")
	out, code := s.ctl("check-proxy", "--json", conf)
	if code != 1 {
		t.Fatalf("check-proxy --json: exit %d, want 1:\n%s", code, out)
	}
	var rows []api.ProxyCheck
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "]")+1]), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	byWhere := map[string]api.ProxyCheck{}
	for _, r := range rows {
		byWhere[r.Where] = r
	}
	self := fmt.Sprintf("pid %d (%s)", os.Getpid(), comm(t, os.Getpid()))
	for _, tc := range []struct {
		line, process, kind, verdict, detail string
	}{
		{"server 127.0.0.1:", "web", api.VerdictOK, "ok", ""},
		{"server localhost:", "web", api.VerdictOK, "ok", ""},
		{"server [::1]:", "v6", api.VerdictOK, "ok", ""},
		{"/slow", "slow", api.VerdictNotReady, "not ready (starting: nothing listening yet", ""},
		{"/none", "", api.VerdictNobodyListening, "nobody listening", ""},
		{"/foreign", "", api.VerdictHeldElsewhere, "held by " + self + ", not supervised", ""},
		{"/wrong", "wrong", api.VerdictListensElsewhere, fmt.Sprintf("listens on 127.0.0.1:%d instead", gotPort),
			fmt.Sprintf("port differs: 127.0.0.1:%d vs 127.0.0.1:%d", wantPort, gotPort)},
		{"/path", "app", api.VerdictListensElsewhere, "listens on unix:" + socks + "/app.sock instead",
			"unix socket path differs: " + socks + "/api.sock vs " + socks + "/app.sock"},
		{"/priv", "priv", api.VerdictNotAccessible, "socket not accessible to nginx's user",
			"nobody cannot write " + socks + "/priv.sock (srwxr-xr-x root:"},
		{"/www", "www", api.VerdictOK, "ok", ""},
		{"/stale", "", api.VerdictNobodyListening, "nobody listening",
			"stale socket file " + socks + "/stale.sock (srwx"},
	} {
		where := lineOf(t, inc, tc.line)
		r, ok := byWhere[where]
		if !ok || r.Process != tc.process || r.Kind != tc.kind || !strings.HasPrefix(r.Verdict, tc.verdict) || !strings.HasPrefix(r.Detail, tc.detail) {
			t.Errorf("%s (%s): got %+v\nwant process %q kind %q verdict %q detail %q", tc.line, where, r, tc.process, tc.kind, tc.verdict, tc.detail)
		}
	}
	if len(rows) != 11 {
		t.Errorf("%d rows, want 11:\n%s", len(rows), out)
	}

	// The table: one row per target, the detail under it, and the reason
	// for the exit code.
	table, code := s.ctl("check-proxy", conf)
	for _, want := range []string{
		"nginx config: " + conf + " (2 files), workers run as nobody",
		"TARGET", "WHERE", "PROCESS", "VERDICT",
		lineOf(t, inc, "/priv") + "  priv", "  ↳ nobody cannot write",
		"9 of 11 upstream targets not ok"[2:],
	} {
		if !strings.Contains(table, want) || code != 1 {
			t.Errorf("check-proxy (exit %d) lacks %q:\n%s", code, want, table)
		}
	}

	// All ok: exit 0. No supd: exit 3.
	good := filepath.Join(dir, "good.conf")
	writeFiles(t, dir, map[string]string{"good.conf": fmt.Sprintf("events {}\nhttp { server { location / { proxy_pass http://127.0.0.1:%d; } } }\n", okPort)})
	if out, code := s.ctl("check-proxy", good); code != 0 || !strings.Contains(out, "web") {
		t.Errorf("check-proxy on an all-ok config: exit %d:\n%s", code, out)
	}
	if out, code := s.ctl("--socket", filepath.Join(dir, "none.sock"), "check-proxy", good); code != 3 {
		t.Errorf("check-proxy with no supd: exit %d, want 3:\n%s", code, out)
	}

	// A syntax error in an included file: its FILE:LINE, exit 1.
	writeFiles(t, dir, map[string]string{"conf.d/broken.conf": "server {\n  listen 80;\n}\n}\n"})
	out, code = s.ctl("check-proxy", conf)
	if want := filepath.Join(dir, "conf.d/broken.conf") + ":4: unexpected \"}\""; code != 1 || !strings.Contains(out, want) || strings.Contains(out, "panic") {
		t.Errorf("check-proxy on a broken config: exit %d, want 1 and %q:\n%s", code, want, out)
	}
}

// listenerProcess renders a testapp process that listens on listen
// ("tcp:HOST:PORT", "unix:PATH"), with more testapp args, and whose ready
// block waits up to an hour for ready (same form).
func listenerProcess(name, listen, ready string, args ...string) string {
	argv := append([]string{"{{app}}", "--listen", listen}, args...)
	network, addr, _ := strings.Cut(ready, ":")
	return fmt.Sprintf(`process %q {
  command = ["%s"]
  ready {
    %s = %q
    timeout = "1h"
  }
}`, name, strings.Join(argv, `", "`), network, addr)
}

// tempPaths are the http-level directives that put nginx's temporary
// files under dir.
func tempPaths(dir string) string {
	var b strings.Builder
	for _, kind := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s/%s;\n", kind, dir, kind)
	}
	return b.String()
}

// comm is the command name of pid.
func comm(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// An app that stops accepting, with backlog 8 and 20 clients waiting: its
// accept_queue is full in status --json, a warning names the address (in
// the status table too) and comes as a warning event, /metrics has the
// queue, why shows it and a connect from supd gets no answer, and
// check-proxy says overloaded.
func TestOverloadedAcceptQueue(t *testing.T) {
	addr, httpPort, o := withEndpoint(t)
	s := startSupdWith(t, o, fmt.Sprintf(`
process "api" {
  command = ["{{app}}", "--listen", "tcp:%[1]s", "--backlog", "8", "--no-accept"]
  ready { tcp = "%[1]s" }
}
process "marker" {
  command = ["{{app}}"]
}`, addr))
	s.waitReady("api")
	s.waitReady("marker")
	st := s.status()["api"]
	if len(st.AcceptQueue) != 1 || st.AcceptQueue[0] != (api.ListenQueue{Listen: "tcp:" + addr, Queued: 0, Backlog: 8}) || st.Warning != "" {
		t.Fatalf("idle: accept_queue %+v warning %q", st.AcceptQueue, st.Warning)
	}

	// Subscribe, and prove the subscription is live with an event of marker.
	events := s.events()
	for {
		if _, code := s.ctl("restart", "--no-wait", "marker"); code != 0 {
			t.Fatal("restart marker")
		}
		select {
		case e := <-events:
			if e.Name != "marker" {
				continue
			}
		case <-time.After(2 * time.Second):
			continue
		}
		break
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conns := make(chan net.Conn, 20)
	for range 20 {
		go func() {
			var d net.Dialer
			if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
				conns <- c
			}
		}()
	}
	defer func() {
		cancel()
		for len(conns) > 0 {
			(<-conns).Close()
		}
	}()

	st = s.waitFor("api", 10*time.Second, "overloaded", func(st api.Status) bool {
		return len(st.AcceptQueue) == 1 && st.AcceptQueue[0].Full()
	})
	q := st.AcceptQueue[0]
	if q.Backlog != 8 || q.Queued < 8 {
		t.Errorf("accept_queue %+v, want 8 or 9 of 8", q)
	}
	warning := regexp.MustCompile(`^overloaded: accept queue full on ` + regexp.QuoteMeta(addr) + ` \([89]/8\); new connections are dropped$`)
	if !warning.MatchString(st.Warning) {
		t.Errorf("warning %q", st.Warning)
	}
	if table, _ := s.ctl("status", "api"); !strings.Contains(table, "↳ overloaded: accept queue full on "+addr) {
		t.Errorf("status table:\n%s", table)
	}

	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case e := <-events:
			got = e.Type == api.EventWarning && e.Name == "api" && warning.MatchString(e.Warning)
		case <-deadline:
			t.Fatal("no warning event for api")
		}
	}

	body := scrapeMetrics(t, httpPort)
	labels := fmt.Sprintf(`{instance="0",listen="tcp:%s",process="api"}`, addr)
	if !regexp.MustCompile(`(?m)^sup_listen_queue_length`+regexp.QuoteMeta(labels)+` [89]$`).Match(body) ||
		!strings.Contains(string(body), "sup_listen_queue_backlog"+labels+" 8\n") {
		t.Errorf("metrics lack the queue of %s:\n%s", addr, grep(string(body), "sup_listen_queue"))
	}

	why, _ := s.ctl("why", "api")
	for _, want := range []string{"accept queue", "full", "tcp:" + addr + ": no answer within 1s"} {
		if !strings.Contains(why, want) {
			t.Errorf("why lacks %q:\n%s", want, why)
		}
	}

	conf := filepath.Join(t.TempDir(), "nginx.conf")
	writeFiles(t, filepath.Dir(conf), map[string]string{"nginx.conf": fmt.Sprintf("events {}\nhttp { server { location / { proxy_pass http://%s; } } }\n", addr)})
	if out, code := s.ctl("check-proxy", conf); code != 1 || !strings.Contains(out, "api      overloaded") || !strings.Contains(out, "accept queue full on "+addr) {
		t.Errorf("check-proxy (exit %d):\n%s", code, out)
	}
}

// withEndpoint returns a free address for an app, and supd options with
// the HTTP endpoint on another free port.
func withEndpoint(t *testing.T) (addr string, httpPort int, o supdOptions) {
	p := suptest.FreePorts(t, 2)
	return fmt.Sprintf("127.0.0.1:%d", p[0]), p[1], supdOptions{supervisor: fmt.Sprintf("http = \"127.0.0.1:%d\"", p[1])}
}

// scrapeMetrics returns the body of supd's /metrics.
func scrapeMetrics(t *testing.T, httpPort int) []byte {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// grep returns the lines of s that contain sub.
func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// why on a Unix socket: its mode and owner, that nginx's user cannot
// connect, the upstream of nginx's config that points at it, a connect
// from supd; and a stale socket file in the way of a process that has not
// bound yet (it used to say the path "is free").
func TestWhyUnixSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: checks a socket's access for nginx's user nobody")
	}
	socks := publicDir(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	writeFiles(t, dir, map[string]string{"nginx.conf": fmt.Sprintf(
		"user nobody;\nevents {}\nhttp {\n  server {\n    location / { proxy_pass http://unix:%s/app.sock:/; }\n  }\n}\n", socks)})
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(socks, "gone.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	app, gone := filepath.Join(socks, "app.sock"), filepath.Join(socks, "gone.sock")
	s := startSupdWith(t, supdOptions{args: []string{"--nginx-config", conf}}, listenerProcess("app", "unix:"+app, "unix:"+app)+"\n"+
		listenerProcess("gone", "unix:"+gone, "unix:"+gone, "--delay", "1h"))
	s.waitReady("app")
	os.Chmod(filepath.Join(socks, "app.sock"), 0o755)
	why, code := s.ctl("why", "app")
	path := socks + "/app.sock"
	for _, want := range []string{
		"✓ connect         unix:" + path + ": accepted in ",
		"✗ unix socket     " + path + ": srwxr-xr-x root:root; nobody cannot write " + path + " (srwxr-xr-x root:root)",
		"✗ proxy upstream  " + conf + ":5 proxy_pass unix:" + path + ": socket not accessible to nginx's user",
	} {
		if !strings.Contains(why, want) || code != 0 {
			t.Errorf("why app (exit %d) lacks %q:\n%s", code, want, why)
		}
	}
	out, _ := s.ctl("why", "--json", "app")
	var w api.Why
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &w); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(w.UnixSockets) != 1 || w.UnixSockets[0].Mode != "srwxr-xr-x" || w.UnixSockets[0].Owner != "root" ||
		len(w.Upstreams) != 1 || w.Upstreams[0].Kind != api.VerdictNotAccessible || w.Nginx != conf || len(w.Connects) != 1 || !w.Connects[0].Accepted {
		t.Errorf("why --json: sockets %+v upstreams %+v nginx %q connects %+v", w.UnixSockets, w.Upstreams, w.Nginx, w.Connects)
	}

	why, code = s.ctl("why", "gone")
	for _, want := range []string{
		"✗ port holder     unix:" + gone + ": nobody listens, but a stale socket file is in the way",
		"✗ connect         unix:" + gone + ": refused",
		"✗ unix socket     " + gone + " (srwx",
		"is a stale socket file: nobody listens on it, connections are refused",
	} {
		if !strings.Contains(why, want) || code != 1 {
			t.Errorf("why gone (exit %d) lacks %q:\n%s", code, want, why)
		}
	}
}

// check-proxy against real nginx: what it predicts is what nginx does. A
// socket nginx's user may not write gets nginx's 502 with "13: Permission
// denied"; a stale socket file gets a 502 with "111: Connection refused";
// a Unix socket whose accept queue is full (backlog 8, 20 clients waiting)
// gets a 502 with "11: Resource temporarily unavailable", and supd's
// warning names it; a socket nginx's user may write is served.
func TestCheckProxyAgreesWithNginx(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: nginx's workers run as nobody")
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			t.Skip("nginx is not installed (make test installs it)")
		}
		nginx = "/usr/sbin/nginx"
	}
	socks := publicDir(t)
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(socks, "stale.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	os.Chmod(filepath.Join(socks, "stale.sock"), 0o777) // else nginx's user gets 13 before 111
	proxyPort := suptest.FreePorts(t, 1)[0]
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	writeFiles(t, dir, map[string]string{"nginx.conf": fmt.Sprintf(`daemon off;
user nobody nogroup;
pid %[1]s/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
  access_log off;
%[4]s  server {
    listen 127.0.0.1:%[2]d;
    location /priv/  { proxy_pass http://unix:%[3]s/priv.sock:/; }
    location /www/   { proxy_pass http://unix:%[3]s/www.sock:/; }
    location /stale/ { proxy_pass http://unix:%[3]s/stale.sock:/; }
    location /busy/  { proxy_pass http://unix:%[3]s/busy.sock:/; }
  }
}
`, dir, proxyPort, socks, tempPaths(dir))})
	priv, www, busy := "unix:"+filepath.Join(socks, "priv.sock"), "unix:"+filepath.Join(socks, "www.sock"), "unix:"+filepath.Join(socks, "busy.sock")
	s := startSupd(t, listenerProcess("priv", priv, priv)+"\n"+listenerProcess("www", www, www)+"\n"+
		listenerProcess("busy", busy, busy, "--backlog", "8", "--no-accept")+fmt.Sprintf(`
process "nginx" {
  command    = [%q, "-c", %q, "-p", %q, "-e", "stderr"]
  depends_on = ["priv", "www", "busy"]
  ready { tcp = "127.0.0.1:%d" }
  stop { signal = "SIGQUIT" }
}`, nginx, conf, dir, proxyPort))
	if out, code := s.ctl("wait", "--timeout", "30s"); code != 0 {
		t.Fatalf("supctl wait: exit %d: %s", code, out)
	}
	os.Chmod(filepath.Join(socks, "priv.sock"), 0o755)
	os.Chmod(filepath.Join(socks, "www.sock"), 0o777)
	os.Chmod(filepath.Join(socks, "busy.sock"), 0o777)
	// busy never accepts: 20 clients fill its Unix accept queue (backlog 8).
	for range 20 {
		if c, err := net.Dial("unix", filepath.Join(socks, "busy.sock")); err == nil {
			defer c.Close()
		}
	}
	s.waitFor("busy", 10*time.Second, "overloaded", func(st api.Status) bool {
		return strings.HasPrefix(st.Warning, "overloaded: accept queue full on "+busy+" (")
	})

	out, code := s.ctl("check-proxy", "--json", conf)
	var rows []api.ProxyCheck
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "]")+1]), &rows); err != nil || code != 1 || len(rows) != 4 {
		t.Fatalf("check-proxy: exit %d, %v:\n%s", code, err, out)
	}
	for _, tc := range []struct {
		path, kind string
		status     int
		nginxLog   string
	}{
		{"/priv/", api.VerdictNotAccessible, http.StatusBadGateway, "(13: Permission denied)"},
		{"/www/", api.VerdictOK, http.StatusOK, ""},
		{"/stale/", api.VerdictNobodyListening, http.StatusBadGateway, "(111: Connection refused)"},
		{"/busy/", api.VerdictOverloaded, http.StatusBadGateway, "(11: Resource temporarily unavailable)"},
	} {
		i := slices.IndexFunc(rows, func(r api.ProxyCheck) bool { return r.Where == lineOf(t, conf, "location "+tc.path+" ") })
		if i < 0 || rows[i].Kind != tc.kind {
			t.Errorf("%s: check-proxy says %+v, want %s", tc.path, rows, tc.kind)
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", proxyPort, tc.path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: nginx answered %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		if tc.nginxLog != "" {
			eventually(t, 5*time.Second, "in nginx's error log: "+tc.nginxLog, func() bool { return strings.Contains(s.out.String(), tc.nginxLog) })
		}
	}
}

// A socket supd holds (backlog 8) for an app that never accepts, with 20
// clients waiting: the app's accept_queue (through the fd it inherited) is
// full, the warning names the address, the metric has it, and check-proxy
// says overloaded.
func TestHeldSocketAcceptQueueFull(t *testing.T) {
	addr, httpPort, o := withEndpoint(t)
	s := startSupdWith(t, o, fmt.Sprintf(`
socket "web" {
  listen  = "tcp://%s"
  backlog = 8
}
process "web" {
  command = ["{{app}}", "--listen-fds", "--no-accept"]
  sockets = ["web"]
}`, addr))
	s.waitFor("web", 10*time.Second, "holding its socket", func(st api.Status) bool { return len(st.AcceptQueue) == 1 })
	for range 20 {
		go func() {
			if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
				t.Cleanup(func() { c.Close() })
			}
		}()
	}
	st := s.waitFor("web", 10*time.Second, "overloaded", func(st api.Status) bool {
		return len(st.AcceptQueue) == 1 && st.AcceptQueue[0].Full()
	})
	if q := st.AcceptQueue[0]; q.Listen != "tcp:"+addr || q.Backlog != 8 ||
		!strings.HasPrefix(st.Warning, "overloaded: accept queue full on "+addr+" (") {
		t.Errorf("accept_queue %+v, warning %q", st.AcceptQueue, st.Warning)
	}
	body := scrapeMetrics(t, httpPort)
	if want := fmt.Sprintf(`sup_listen_queue_backlog{instance="0",listen="tcp:%s",process="web"} 8`, addr); !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %q:\n%s", want, grep(string(body), "sup_listen_queue"))
	}
	conf := filepath.Join(t.TempDir(), "nginx.conf")
	writeFiles(t, filepath.Dir(conf), map[string]string{"nginx.conf": fmt.Sprintf("events {}\nhttp { server { location / { proxy_pass http://%s; } } }\n", addr)})
	if out, code := s.ctl("check-proxy", conf); code != 1 || !strings.Contains(out, "web      overloaded") {
		t.Errorf("check-proxy (exit %d):\n%s", code, out)
	}
}
