package control_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor/control"
	"github.com/sup-sh/sup/supervisor/control/controltest"
	"github.com/sup-sh/sup/supervisor/internal/suptest"
)

// TestHelperDial is not a test: run as another user by the tests below, it
// sends GET /status to $SUP_DIAL and prints the status line it gets (or
// the error).
func TestHelperDial(t *testing.T) {
	path := os.Getenv("SUP_DIAL")
	if path == "" {
		t.Skip("helper process")
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(0)
	}
	fmt.Fprint(c, "GET /status HTTP/1.1\r\nHost: supd\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Println("read:", err)
		os.Exit(0)
	}
	b := make([]byte, 512)
	n, _ := resp.Body.Read(b)
	fmt.Printf("%d %s\n", resp.StatusCode, b[:n])
	os.Exit(0)
}

// dialAsNobody connects to path as user nobody (through a copy of this
// test binary that nobody can run) and returns what it got.
func dialAsNobody(t *testing.T, path string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	shared, err := os.MkdirTemp("", "sup-control-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	os.Chmod(shared, 0o755)
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(shared, "control.test")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestHelperDial$")
	cmd.Env = append(os.Environ(), "SUP_DIAL="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	return string(out)
}

// Even if the socket's mode is widened behind supd's back, a peer that is
// not root, supd's user or in socket_group is answered 403, saying who
// may use it (SO_PEERCRED).
func TestServerChecksPeerCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the peer runs as user nobody")
	}
	dir, err := os.MkdirTemp("", "sup-control-sock-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "supd.sock")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(controltest.Context(t))
	done := make(chan error, 1)
	go func() {
		done <- (&control.Server{Backend: controltest.NewStore().Backend(), Log: zerolog.Nop()}).Serve(ctx, ln)
	}()
	defer func() { cancel(); <-done }()

	if got := dialAsNobody(t, path); !strings.Contains(got, "permission denied") {
		t.Fatalf("nobody at a 0600 socket got %q, want permission denied from the kernel", got)
	}
	os.Chmod(path, 0o666) // a careless admin
	got := dialAsNobody(t, path)
	if !strings.HasPrefix(got, "403 ") || !strings.Contains(got, "user nobody (uid 65534) may not control this supd (allowed: root and root (uid 0))") {
		t.Fatalf("nobody at a widened socket got %q, want 403 naming who may", got)
	}
	// root still may.
	if _, err := control.NewClient(path).Status(controltest.Context(t), nil); err != nil {
		t.Fatal(err)
	}
}

// Under umask 000, the socket is never seen with another mode than its
// own: it is bound in a private directory and renamed into place.
func TestListenNoWindowUnderUmask000(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for range 20 {
		dir := t.TempDir()
		os.Chmod(dir, 0o700) // made 0777 under this umask
		path := filepath.Join(dir, "supd.sock")
		seen, stop := suptest.FirstMode(path)
		ln, err := control.Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		var m os.FileMode
		select {
		case m = <-seen:
		case <-time.After(5 * time.Second):
			t.Fatal("the socket did not appear")
		}
		stop()
		ln.Close()
		if m.Perm() != 0o600 {
			t.Fatalf("the socket appeared with mode %v", m)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("left in %s after Close: %v", dir, entries)
		}
	}
}

// The directory of the socket must be a real directory that only supd's
// user (or root) can change.
func TestListenRefusesUnsafeDirectories(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "real")
	os.Mkdir(target, 0o700)
	link := filepath.Join(base, "link")
	os.Symlink(target, link)
	if _, err := control.Listen(filepath.Join(link, "supd.sock")); err == nil || !strings.Contains(err.Error(), "is not a directory (a symbolic link)") {
		t.Errorf("symlinked directory: %v", err)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := control.Listen(filepath.Join(open, "supd.sock")); err == nil || !strings.Contains(err.Error(), "lets other users replace the socket") {
		t.Errorf("world-writable directory: %v", err)
	}
	sticky := filepath.Join(base, "sticky")
	os.Mkdir(sticky, 0o777)
	os.Chmod(sticky, 0o777|os.ModeSticky)
	ln, err := control.Listen(filepath.Join(sticky, "supd.sock"))
	if err != nil {
		t.Fatalf("sticky directory like /tmp: %v", err)
	}
	ln.Close()
	if os.Geteuid() == 0 {
		foreign := filepath.Join(base, "foreign")
		os.Mkdir(foreign, 0o700)
		os.Chown(foreign, 65534, 65534)
		if _, err := control.Listen(filepath.Join(foreign, "supd.sock")); err == nil || !strings.Contains(err.Error(), "is owned by nobody (uid 65534)") {
			t.Errorf("foreign directory: %v", err)
		}
	}
	fresh := filepath.Join(base, "new", "supd-1000")
	ln, err = control.Listen(filepath.Join(fresh, "supd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v %v, want 0700", fi.Mode(), err)
	}
}
