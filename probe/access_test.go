package probe

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCanConnect(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: chowns files to other users")
	}
	dir, err := os.MkdirTemp("", "probe-access-") // t.TempDir's parent is 0700: nobody passes it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	sub := filepath.Join(dir, "run")
	os.Mkdir(sub, 0o755)
	path := filepath.Join(sub, "app.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nobody := Identity{User: "nobody", Uid: 65534, Groups: []int{65534}}
	proxyGroup := Identity{User: "www", Uid: 4001, Groups: []int{4000, 4002}}
	for _, tc := range []struct {
		name       string
		sockMode   os.FileMode
		sockGroup  int
		dirMode    os.FileMode
		id         Identity
		wantPrefix string // "" = can connect
	}{
		{"root's 0755 socket", 0o755, 0, 0o755, nobody, "nobody cannot write " + path + " (srwxr-xr-x root:"},
		{"world-writable", 0o777, 0, 0o755, nobody, ""},
		{"group of the proxy", 0o770, 4002, 0o755, proxyGroup, ""},
		{"group, other user", 0o770, 4002, 0o755, nobody, "nobody cannot write " + path + " (srwxrwx--- root:4002)"},
		{"private directory", 0o777, 0, 0o700, nobody, "nobody cannot search " + sub + " (drwx------ root:"},
		{"root passes", 0o700, 0, 0o700, Identity{User: "root"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(path, tc.sockMode); err != nil {
				t.Fatal(err)
			}
			os.Chown(path, 0, tc.sockGroup)
			os.Chmod(sub, tc.dirMode)
			why, err := CanConnect(tc.id, path)
			if err != nil || (tc.wantPrefix == "") != (why == "") || !strings.HasPrefix(why, tc.wantPrefix) {
				t.Errorf("CanConnect = %q, %v; want %q", why, err, tc.wantPrefix)
			}
		})
	}
}

func TestStatSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	if f, err := StatSocket(path); err != nil || f.Exists || f.Stale() {
		t.Errorf("missing file: %+v, %v", f, err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o750)
	f, err := StatSocket(path)
	if err != nil || !f.Socket || !f.Listening || f.Stale() || !strings.HasPrefix(f.String(), "srwxr-x--- ") {
		t.Errorf("live socket: %+v (%s), %v", f, f, err)
	}
	l.SetUnlinkOnClose(false) // what a crashed app leaves behind
	l.Close()
	if f, err := StatSocket(path); err != nil || !f.Stale() {
		t.Errorf("socket file nobody listens on: %+v, %v; want stale", f, err)
	}
}

func TestLookupIdentity(t *testing.T) {
	id, err := LookupIdentity("root", "")
	if err != nil || id.Uid != 0 || id.Groups[0] != 0 {
		t.Errorf("root: %+v, %v", id, err)
	}
	if _, err := LookupIdentity("no-such-user-sup", ""); err == nil {
		t.Error("a missing user has an identity")
	}
	group := filepath.Join(t.TempDir(), "group")
	os.WriteFile(group, []byte("root:x:0:\nwww-data:x:33:\napp:x:1001:www-data,bob\nbad line\nops:x:1002:bob\n"), 0o644)
	if got := memberOf(group, "www-data"); !slices.Equal(got, []int{1001}) {
		t.Errorf("memberOf = %v, want [1001]", got)
	}
}

func TestConnectTo(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	c := ConnectTo(ctx, "tcp:"+addr, time.Second)
	if !c.Accepted || !strings.HasPrefix(c.Result, "accepted in ") || !strings.HasSuffix(c.Result, " ms") {
		t.Errorf("listening: %+v", c)
	}
	l.Close()
	if c := ConnectTo(ctx, "tcp:"+addr, time.Second); c.Accepted || c.Result != "refused" {
		t.Errorf("closed port: %+v", c)
	}

	// Full accept queues: a TCP SYN is dropped (no answer), a Unix connect
	// fails at once.
	listen, dial := listenBacklog(t, "tcp:127.0.0.1:0", 2)
	flood(t, 10, dial)
	eventuallyFull(t, listen)
	if c := ConnectTo(ctx, listen, 300*time.Millisecond); c.Accepted || c.Result != "no answer within 300ms" {
		t.Errorf("full TCP queue: %+v", c)
	}
	listen, dial = listenBacklog(t, "unix:"+filepath.Join(t.TempDir(), "q.sock"), 2)
	flood(t, 10, dial)
	eventuallyFull(t, listen)
	if c := ConnectTo(ctx, listen, time.Second); c.Accepted || c.Result != "accept queue full" {
		t.Errorf("full Unix queue: %+v", c)
	}
	if c := ConnectTo(ctx, "unix:"+filepath.Join(t.TempDir(), "none.sock"), time.Second); c.Result != "no such socket file" {
		t.Errorf("missing socket: %+v", c)
	}
}

// eventuallyFull waits until listen's accept queue overflows: one more
// than its backlog waits (the kernel's limit), so nothing more gets in.
func eventuallyFull(t *testing.T, listen string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		full, err := FullQueues()
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(full, func(q Queue) bool { return q.Listen == listen && q.Queued > q.Backlog }) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never full", listen)
}

func TestLoopbackFor(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:80": "127.0.0.1:80", "*:80": "127.0.0.1:80", ":80": "127.0.0.1:80",
		"[::]:80": "[::1]:80", "[::1]:80": "[::1]:80", "10.0.0.1:80": "10.0.0.1:80", "localhost:80": "localhost:80",
	} {
		if got := loopbackFor(in); got != want {
			t.Errorf("loopbackFor(%q) = %q, want %q", in, got, want)
		}
	}
}
