package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// listenFDsLine is what testapp --listen-fds prints about what it got.
var listenFDsLine = regexp.MustCompile(`listen-fds pid=(\d+) LISTEN_PID=(\S*) LISTEN_FDS=(\S*) LISTEN_FDNAMES=(\S*) inodes=(\S*)`)

// A process with sockets gets them on fds 3.. with the systemd protocol:
// LISTEN_PID is its own pid (set by supd's trampoline), all its instances
// share the very same sockets, and a unix socket has the configured mode
// and group. Requests are served through the held socket.
func TestHeldSocketsPassed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the unix socket is given group www-data")
	}
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, fmt.Sprintf(`
socket "web" {
  listen  = "tcp://127.0.0.1:%d"
  backlog = 128
}
socket "admin" {
  listen = "unix://{{dir}}/admin.sock"
  mode   = "0640"
  group  = "www-data"
}
process "api" {
  command   = ["{{app}}", "--listen-fds", "--delay", "200ms"]
  instances = 2
  sockets   = ["web", "admin"]
}`, port))
	if out, code := s.ctl("wait", "--timeout", "20s"); code != 0 {
		t.Fatalf("supctl wait: exit %d: %s", code, out)
	}
	st := s.status()
	var inodes []string
	for _, name := range []string{"api:0", "api:1"} {
		out, code := s.ctl("logs", "-n", "20", name)
		m := listenFDsLine.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("logs %s: exit %d, no listen-fds line:\n%s", name, code, out)
		}
		if pid := strconv.Itoa(st[name].Pid); m[1] != pid || m[2] != pid {
			t.Errorf("%s (pid %s): pid=%s LISTEN_PID=%s, want both its pid", name, pid, m[1], m[2])
		}
		if m[3] != "2" || m[4] != "web:admin" {
			t.Errorf("%s: LISTEN_FDS=%s LISTEN_FDNAMES=%s, want 2 and web:admin", name, m[3], m[4])
		}
		inodes = append(inodes, m[5])
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", st[name].Pid))
		if strings.Contains(string(env), "trampoline") {
			t.Errorf("%s: the trampoline left a trace in the environment: %q", name, env)
		}
	}
	if inodes[0] != inodes[1] {
		t.Errorf("instances got different sockets: %s and %s", inodes[0], inodes[1])
	}
	fi, err := os.Stat(filepath.Join(s.dir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("admin.sock mode %v, want a socket with 0640", fi.Mode())
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 33 {
		t.Errorf("admin.sock group %d, want www-data (33)", gid)
	}
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); code != http.StatusOK || body != "ok" {
		t.Errorf("GET through the held socket: %d %q", code, body)
	}
	c := http.Client{Transport: &http.Transport{DialContext: unixDialer(filepath.Join(s.dir, "admin.sock"))}, Timeout: 5 * time.Second}
	if resp, err := c.Get("http://admin/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET through the unix socket: %v %v", resp, err)
	}
}

// A socket that cannot be bound is a config error at its listen attribute
// naming the holder; supd exits 1 and starts nothing.
func TestHeldSocketBindConflict(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	record := filepath.Join(t.TempDir(), "started")
	s := launchSupd(t, fmt.Sprintf(`
socket "web" {
  listen = "tcp://127.0.0.1:%d"
}
process "api" {
  command = ["{{app}}", "--listen-fds", "--record", %q]
  sockets = ["web"]
}`, port, record))
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Fatal("supd did not exit")
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	want := fmt.Sprintf(`sup.hcl:7:12: error: Cannot bind socket "web": tcp://127.0.0.1:%d: bind: address already in use: held by pid %d (%s)`,
		port, os.Getpid(), strings.TrimSpace(string(comm)))
	if s.code != 1 || !strings.Contains(s.out.String(), want) {
		t.Errorf("exit %d, want 1 and %q in:\n%s", s.code, want, s.out)
	}
	if _, err := os.Stat(record); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the process was started (%v)", err)
	}
}

// loadResult counts the outcome of requests sent by a load.
type loadResult struct {
	ok, refused, other atomic.Int64
	lastOther          atomic.Value
}

// load sends GET url from n goroutines, a new connection each, until stop
// is closed.
func load(url string, n int, stop <-chan struct{}) *loadResult {
	res := &loadResult{}
	newClient := func() *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	}
	suptest.Load(url, n, newClient, stop, func(resp *http.Response, err error) {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			res.refused.Add(1)
		case err != nil:
			res.other.Add(1)
			res.lastOther.Store(err.Error())
		case resp.StatusCode == http.StatusOK:
			res.ok.Add(1)
		default:
			res.other.Add(1)
			res.lastOther.Store(resp.Status)
		}
	})
	return res
}

// kill -9 under load: with the socket held by supd, no connection is ever
// refused; only the requests in flight at each crash fail, and requests
// sent while nothing accepts wait in the queue and are served by the next
// spawn.
func TestHeldSocketCrashUnderLoad(t *testing.T) {
	port := suptest.FreePorts(t, 1)[0]
	s := startSupd(t, fmt.Sprintf(`
socket "web" { listen = "tcp://127.0.0.1:%d" }
process "app" {
  command = ["{{app}}", "--listen-fds", "--delay", "100ms"]
  sockets = ["web"]
}`, port))
	s.waitReady("app")
	stop := make(chan struct{})
	res := load(fmt.Sprintf("http://127.0.0.1:%d/", port), 8, stop)
	const crashes = 5
	for range crashes {
		eventually(t, 5*time.Second, "requests served", func() bool { return res.ok.Load() > 0 })
		st := s.waitReady("app")
		before := res.ok.Load()
		syscall.Kill(st.Pid, syscall.SIGKILL)
		s.waitFor("app", 10*time.Second, "respawned and ready", func(n api.Status) bool { return n.Pid != st.Pid && n.Ready })
		eventually(t, 5*time.Second, "served after the crash", func() bool { return res.ok.Load() > before })
	}
	close(stop)
	t.Logf("ok %d, refused %d, other %d (last: %v)", res.ok.Load(), res.refused.Load(), res.other.Load(), res.lastOther.Load())
	if res.refused.Load() != 0 {
		t.Errorf("%d connections refused, want 0", res.refused.Load())
	}
	// In flight at a crash: at most one request per client per crash.
	if other := res.other.Load(); other > 8*crashes {
		t.Errorf("%d failed requests, want at most %d (the ones in flight)", other, 8*crashes)
	}
}

// unixDialer dials the unix socket at path whatever the URL says.
func unixDialer(path string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

// A config reload that moves a socket binds the new address first, moves
// the process to it, and closes the old one once nothing uses it; a reload
// whose socket cannot be bound fails at the listen attribute and changes
// nothing.
func TestHeldSocketReload(t *testing.T) {
	ports := suptest.FreePorts(t, 2)
	body := func(listen string) string {
		return fmt.Sprintf(`
socket "web" { listen = "tcp://%s" }
process "app" {
  command = ["{{app}}", "--listen-fds"]
  sockets = ["web"]
}`, listen)
	}
	first, second := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	s := startSupd(t, body(first))
	old := s.waitReady("app")

	s.rewrite(body(second))
	if out, code := s.ctl("reload", "--timeout", "20s"); code != 0 {
		t.Fatalf("supctl reload: exit %d: %s", code, out)
	}
	moved := s.waitReady("app")
	if moved.Pid == old.Pid {
		t.Fatal("the process was not restarted onto the new socket")
	}
	if code, body := get(t, "http://"+second+"/"); code != http.StatusOK || body != "ok" {
		t.Errorf("GET on the new address: %d %q", code, body)
	}
	eventually(t, 10*time.Second, "old address closed", func() bool { return !accepts(first) })

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s.rewrite(body(busy.Addr().String()))
	out, code := s.ctl("reload", "--timeout", "20s")
	if want := `sup.hcl:6:25: error: Cannot bind socket "web": tcp://` + busy.Addr().String() + `: bind: address already in use: held by pid ` + strconv.Itoa(os.Getpid()); code != 1 || !strings.Contains(out, want) {
		t.Errorf("reload onto a busy address: exit %d, want 1 and %q:\n%s", code, want, out)
	}
	if st := s.status()["app"]; st.Pid != moved.Pid || !st.Ready {
		t.Errorf("after the failed reload: %+v, want pid %d still ready", st, moved.Pid)
	}
	if code, _ := get(t, "http://"+second+"/"); code != http.StatusOK {
		t.Errorf("GET on the running address after the failed reload: %d", code)
	}
}

func accepts(address string) bool {
	c, err := net.DialTimeout("tcp", address, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}
