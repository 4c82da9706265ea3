package sockets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
	"github.com/sup-sh/sup/supervisor/sockets/trampoline"
)

// load writes body as sup.hcl in dir and loads it.
func load(t *testing.T, dir, body string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "sup.hcl")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// inode is the inode of the socket held for c.
func inode(t *testing.T, set *Set, c *config.Socket) uint64 {
	t.Helper()
	files, err := set.Files([]*config.Socket{c})
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(files[0].Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func accepts(network, address string) bool {
	c, err := net.DialTimeout(network, address, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// A reload keeps an unchanged listen on the very same socket, binds a
// changed one, and closes the old one once no process holds it.
func TestApplyAcrossReloads(t *testing.T) {
	dir := t.TempDir()
	ports := suptest.FreePorts(t, 2)
	set := NewSet()
	defer set.Close()
	sock := filepath.Join(dir, "app.sock")
	cfg1 := load(t, dir, fmt.Sprintf(`
socket "web" { listen = "tcp://127.0.0.1:%d" }
socket "app" { listen = "unix://%s" }`, ports[0], sock))
	if err := set.Apply(cfg1); err != nil {
		t.Fatal(err)
	}
	web1, app1 := inode(t, set, cfg1.Socket("web")), inode(t, set, cfg1.Socket("app"))

	// Same addresses, new backlog and mode: the same sockets.
	cfg2 := load(t, dir, fmt.Sprintf(`
socket "web" {
  listen  = "tcp://127.0.0.1:%d"
  backlog = 77
}
socket "app" {
  listen = "unix://%s"
  mode   = "0600"
}`, ports[0], sock))
	if err := set.Apply(cfg2); err != nil {
		t.Fatal(err)
	}
	if web2, app2 := inode(t, set, cfg2.Socket("web")), inode(t, set, cfg2.Socket("app")); web2 != web1 || app2 != app1 {
		t.Errorf("unchanged listen got new sockets: web %d -> %d, app %d -> %d", web1, web2, app1, app2)
	}
	if got := backlog(t, ports[0]); got != 77 {
		t.Errorf("backlog after reload = %d, want 77", got)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("app.sock mode after reload: %v %v, want 0600", fi.Mode(), err)
	}

	// web moves: a child still holds the old socket, so it stays open
	// until the child exits.
	files, _ := set.Files([]*config.Socket{cfg2.Socket("web")})
	child := exec.Command("sleep", "1000")
	child.ExtraFiles = files
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	cfg3 := load(t, dir, fmt.Sprintf(`socket "web" { listen = "tcp://127.0.0.1:%d" }`, ports[1]))
	if err := set.Apply(cfg3); err != nil {
		t.Fatal(err)
	}
	if inode(t, set, cfg3.Socket("web")) == web1 {
		t.Fatal("a changed listen kept the old socket")
	}
	if n, err := set.Release(); err != nil || n != 1 {
		t.Errorf("Release with a child holding the old socket = %d, %v; want 1 still in use", n, err)
	}
	if !accepts("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0])) {
		t.Error("the old socket was closed while a child holds it")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the retired unix socket nobody held is still there: %v", err)
	}
	child.Process.Kill()
	child.Wait()
	if n, err := set.Release(); err != nil || n != 0 {
		t.Errorf("Release once nobody holds them = %d, %v; want 0", n, err)
	}
	if accepts("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0])) {
		t.Error("the old tcp socket still accepts after Release")
	}
	if !accepts("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1])) {
		t.Error("the new socket does not accept")
	}
}

// backlog reads a listener's backlog as ss shows it (Send-Q of a LISTEN
// socket).
func backlog(t *testing.T, port int) int {
	t.Helper()
	out, err := exec.Command("ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
	if err != nil {
		t.Skipf("ss: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		t.Fatalf("ss: %q", out)
	}
	n, _ := strconv.Atoi(f[2])
	return n
}

func TestDefaultBacklogIsSomaxconn(t *testing.T) {
	dir := t.TempDir()
	port := suptest.FreePorts(t, 1)[0]
	set := NewSet()
	defer set.Close()
	if err := set.Apply(load(t, dir, fmt.Sprintf(`socket "web" { listen = "tcp://127.0.0.1:%d" }`, port))); err != nil {
		t.Fatal(err)
	}
	if got, want := backlog(t, port), somaxconn(); got != want {
		t.Errorf("backlog = %d, want somaxconn %d", got, want)
	}
}

// A bind that fails changes nothing: what was held stays, what the new
// config would add is closed again; the error is at the listen attribute
// and names the holder.
func TestApplyFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ports := suptest.FreePorts(t, 2)
	set := NewSet()
	defer set.Close()
	cfg1 := load(t, dir, fmt.Sprintf(`socket "web" { listen = "tcp://127.0.0.1:%d" }`, ports[0]))
	if err := set.Apply(cfg1); err != nil {
		t.Fatal(err)
	}
	cfg2 := load(t, dir, fmt.Sprintf(`socket "new" { listen = "tcp://127.0.0.1:%d" }
socket "busy" {
  listen = "tcp://%s"
}`, ports[1], busy.Addr()))
	err = set.Apply(cfg2)
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Apply = %v, want a *config.Error", err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	want := fmt.Sprintf(`sup.hcl:3:12: error: Cannot bind socket "busy": tcp://%s: bind: address already in use: held by pid %d (%s)`,
		busy.Addr(), os.Getpid(), strings.TrimSpace(string(comm)))
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error:\n%s\nwant %q", err, want)
	}
	if accepts("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1])) {
		t.Error("the socket of the failed config is still bound")
	}
	if !accepts("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0])) {
		t.Error("the socket of the running config was closed")
	}
	if _, err := set.Files([]*config.Socket{cfg1.Socket("web")}); err != nil {
		t.Errorf("the running config's socket is no longer held: %v", err)
	}
}

func TestUnixSocketFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	cfg := load(t, dir, fmt.Sprintf(`socket "app" {
  listen = "unix://%s"
  mode   = "0606"
}`, path))

	// Not a socket: left alone.
	os.WriteFile(path, []byte("data"), 0o644)
	if err := NewSet().Apply(cfg); err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("over a regular file: %v", err)
	}
	os.Remove(path)

	// A live socket: in use, with its holder.
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := NewSet().Apply(cfg); err == nil || !strings.Contains(err.Error(), "address already in use: held by pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("over a live socket: %v", err)
	}
	// Stale (its listener closed without removing the file): replaced.
	live.(*net.UnixListener).SetUnlinkOnClose(false)
	live.Close()
	set := NewSet()
	if err := set.Apply(cfg); err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o606 {
		t.Errorf("mode %v %v, want 0606 whatever the umask", fi.Mode(), err)
	}
	if !accepts("unix", path) {
		t.Error("the socket does not accept")
	}
	set.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left the socket file: %v", err)
	}

	missing := load(t, dir, `socket "app" { listen = "unix:///nonexistent-dir/app.sock" }`)
	if err := NewSet().Apply(missing); err == nil || !strings.Contains(err.Error(), "directory /nonexistent-dir does not exist") {
		t.Errorf("in a missing directory: %v", err)
	}
}

// Binding on every address, IPv4 and IPv6.
func TestTCPAddresses(t *testing.T) {
	for _, tt := range []struct{ listen, dial string }{
		{"tcp://127.0.0.1:%d", "127.0.0.1:%d"},
		{"tcp://[::1]:%d", "[::1]:%d"},
		{"tcp://0.0.0.0:%d", "127.0.0.1:%d"},
		{"tcp://*:%d", "127.0.0.1:%d"},
		{"tcp://*:%d", "[::1]:%d"},
	} {
		port := suptest.FreePorts(t, 1)[0]
		set := NewSet()
		if err := set.Apply(load(t, t.TempDir(), fmt.Sprintf(`socket "s" { listen = "`+tt.listen+`" }`, port))); err != nil {
			t.Errorf("%s: %v", tt.listen, err)
			continue
		}
		if !accepts("tcp", fmt.Sprintf(tt.dial, port)) {
			t.Errorf("%s: no connection on %s", tt.listen, tt.dial)
		}
		set.Close()
	}
}

// The trampoline execs the command as the same pid, with LISTEN_PID set
// to it and no trace of itself in the environment.
func TestTrampoline(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	path, argv, env := Command("/proc/self/exe", sh,
		[]string{"sh", "-c", `echo "$$ $LISTEN_PID $LISTEN_FDS $LISTEN_FDNAMES"; env`},
		append(os.Environ(), "LISTEN_FDS=9", "KEEP=1"), []string{"web", "admin"})
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	first, rest, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(first)
	if len(f) != 4 || f[0] != f[1] || f[0] != strconv.Itoa(cmd.Process.Pid) || f[2] != "2" || f[3] != "web:admin" {
		t.Errorf("child saw %q (pid %d), want its pid twice, 2, web:admin", first, cmd.Process.Pid)
	}
	if strings.Contains(rest, "trampoline") || strings.Contains(rest, trampoline.Placeholder) || !strings.Contains(rest, "KEEP=1") {
		t.Errorf("environment:\n%s", rest)
	}
}

// An exec that fails exits like a shell: 127 for a missing command.
func TestTrampolineMissingCommand(t *testing.T) {
	path, argv, env := Command("/proc/self/exe", "/nonexistent", []string{"x"}, nil, []string{"web"})
	out, err := (&exec.Cmd{Path: path, Args: argv, Env: env}).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 127 || !strings.Contains(string(out), "supd: exec /nonexistent") {
		t.Errorf("err %v, output %q; want exit 127 and the reason", err, out)
	}
}

// Run closes a retired socket on its own once nothing holds it.
func TestRunReleases(t *testing.T) {
	dir := t.TempDir()
	ports := suptest.FreePorts(t, 2)
	set := NewSet()
	defer set.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go set.Run(ctx, 10*time.Millisecond, func(err error) { t.Error(err) })
	for _, p := range ports {
		if err := set.Apply(load(t, dir, fmt.Sprintf(`socket "web" { listen = "tcp://127.0.0.1:%d" }`, p))); err != nil {
			t.Fatal(err)
		}
	}
	old := fmt.Sprintf("127.0.0.1:%d", ports[0])
	deadline := time.Now().Add(5 * time.Second)
	for accepts("tcp", old) {
		if time.Now().After(deadline) {
			t.Fatal("the retired socket is still open after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
