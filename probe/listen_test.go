package probe

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

func TestCovers(t *testing.T) {
	tcp := func(addr string, v6only bool) listener {
		ap := netip.MustParseAddrPort(addr)
		return listener{addr: ap.Addr(), port: ap.Port(), v6only: v6only}
	}
	for _, tc := range []struct {
		l      listener
		target string
		want   bool
	}{
		{tcp("127.0.0.1:3000", false), "127.0.0.1:3000", true},
		{tcp("127.0.0.1:3001", false), "127.0.0.1:3000", false},
		{tcp("127.0.0.2:3000", false), "127.0.0.1:3000", false},
		{tcp("0.0.0.0:3000", false), "127.0.0.1:3000", true},
		{tcp("0.0.0.0:3000", false), "0.0.0.0:3000", true},
		{tcp("0.0.0.0:3000", false), "[::1]:3000", false},
		{tcp("127.0.0.1:3000", false), "0.0.0.0:3000", false},
		{tcp("[::]:3000", false), "127.0.0.1:3000", true},
		{tcp("[::]:3000", false), "0.0.0.0:3000", true},
		{tcp("[::]:3000", true), "127.0.0.1:3000", false},
		{tcp("[::]:3000", true), "[::1]:3000", true},
		{tcp("[::]:3000", false), "[::]:3000", true},
		{tcp("[::1]:3000", false), "[::1]:3000", true},
		{tcp("[::1]:3000", false), "127.0.0.1:3000", false},
		{tcp("[::ffff:127.0.0.1]:3000", false), "127.0.0.1:3000", true},
		{tcp("[::1]:3000", false), "*:3000", true},
		{tcp("10.1.2.3:3000", false), "*:3000", true},
		{tcp("10.1.2.3:3001", false), "*:3000", false},
		{tcp("127.0.0.1:3000", false), "localhost:3000", true},
		{listener{unix: true, path: "/run/a.sock"}, "unix:/run/a.sock", true},
		{listener{unix: true, path: "/run/b.sock"}, "unix:/run/a.sock", false},
		{tcp("127.0.0.1:3000", false), "unix:/run/a.sock", false},
	} {
		network, address := "tcp", tc.target
		if path, ok := cutPrefix(tc.target, "unix:"); ok {
			network, address = "unix", path
		}
		target, err := parseTarget(network, address)
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.l.covers(target); got != tc.want {
			t.Errorf("%v (v6only %v) covers %s = %v, want %v", tc.l, tc.l.v6only, tc.target, got, tc.want)
		}
	}
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:3000": "127.0.0.1:3000",
		"[::1]:3000":     "[::1]:3000",
		"*:3000":         "*:3000",
		":3000":          "*:3000",
		"[::]:80":        "[::]:80",
	} {
		tg, err := parseTarget("tcp", in)
		if err != nil || tg.String() != want {
			t.Errorf("parseTarget(%q) = %v, %v; want %s", in, tg, err, want)
		}
	}
	for _, bad := range []string{"", "3000", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "host:80"} {
		if _, err := parseTarget("tcp", bad); err == nil {
			t.Errorf("parseTarget(%q): no error", bad)
		}
	}
}

func TestHeldBy(t *testing.T) {
	decoy, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer decoy.Close()
	port := decoy.Addr().(*net.TCPAddr).Port
	want := []Holder{{Pid: os.Getpid(), Command: selfComm(t), Address: "tcp:0.0.0.0:" + strconv.Itoa(port)}}
	for _, addr := range []string{"127.0.0.1:%d", "*:%d", "0.0.0.0:%d"} {
		got, err := HeldBy("tcp", fmt.Sprintf(addr, port))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("HeldBy(%s) = %+v, %v; want %+v", addr, got, err, want)
		}
	}
	for _, addr := range []string{fmt.Sprintf("[::1]:%d", port), tcpAddr(freePort(t))} {
		if got, err := HeldBy("tcp", addr); err != nil || len(got) != 0 {
			t.Errorf("HeldBy(%s) = %+v, %v; want nobody", addr, got, err)
		}
	}

	// An IPv6-only [::] does not take IPv4 connections.
	v6, err := net.Listen("tcp6", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer v6.Close()
	port = v6.Addr().(*net.TCPAddr).Port
	if got, err := HeldBy("tcp", tcpAddr(port)); err != nil || len(got) != 0 {
		t.Errorf("HeldBy(v4) with a v6only listener = %+v, %v; want nobody", got, err)
	}
	if got, err := HeldBy("tcp", fmt.Sprintf("[::1]:%d", port)); err != nil || len(got) != 1 {
		t.Errorf("HeldBy(v6) with a v6only listener = %+v, %v; want it", got, err)
	}

	path := filepath.Join(t.TempDir(), "a.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	got, err := HeldBy("unix", path)
	if want := []Holder{{Pid: os.Getpid(), Command: selfComm(t), Address: "unix:" + path}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("HeldBy(unix) = %+v, %v; want %+v", got, err, want)
	}
}

func TestListening(t *testing.T) {
	port6 := freePort(t)
	path := filepath.Join(t.TempDir(), "a.sock")
	a := startApp(t, appOpts{}, "--listen", "tcp:127.0.0.1:0", "--listen", "tcp:[::]:"+strconv.Itoa(port6),
		"--listen", "unix:"+path, "--delay", "0s")
	r := newReadiness(t, "api", ReadySpec{Unix: path})
	r.Started(a.pid)
	waitReady(t, r, NewTree(a.pid))

	for _, fallback := range []bool{false, true} {
		sockDiagOff.Store(fallback)
		got, err := Listening([]int{a.pid})
		sockDiagOff.Store(false)
		if err != nil || len(got) != 3 || got[1] != "tcp:[::]:"+strconv.Itoa(port6) || got[2] != "unix:"+path {
			t.Errorf("fallback %v: Listening = %q, %v", fallback, got, err)
		}
		if ap, err := netip.ParseAddrPort(got[0][len("tcp:"):]); err != nil || ap.Addr().String() != "127.0.0.1" {
			t.Errorf("fallback %v: first %q", fallback, got[0])
		}
	}
	if got, err := Listening([]int{os.Getppid()}); err != nil || got == nil {
		t.Errorf("Listening(parent) = %#v, %v; want empty, not nil", got, err)
	}
}

// The /proc/net fallback finds the same sockets as sock_diag.
func TestFallbackCovering(t *testing.T) {
	l, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	sockDiagOff.Store(true)
	defer sockDiagOff.Store(false)
	got, err := HeldBy("tcp", tcpAddr(port))
	if err != nil || len(got) != 1 || got[0].Address != "tcp:[::]:"+strconv.Itoa(port) {
		t.Errorf("HeldBy through /proc/net = %+v, %v", got, err)
	}
}

func TestParseProcNet(t *testing.T) {
	l, ok := parseProcNetTCP([]byte("   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0"))
	if want := (listener{inode: 12345, addr: netip.MustParseAddr("127.0.0.1"), port: 3000}); !ok || l != want {
		t.Errorf("tcp line = %+v, %v", l, ok)
	}
	if _, ok := parseProcNetTCP([]byte("   1: 0100007F:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 12346 1")); ok {
		t.Error("established socket parsed as listening")
	}
	l, ok = parseProcNetTCP([]byte("   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1"))
	if !ok || l.addr != netip.MustParseAddr("::1") || l.port != 8080 || l.inode != 777 {
		t.Errorf("tcp6 line = %+v, %v", l, ok)
	}
	ino, name, ok := parseProcNetUnix([]byte("0000000000000000: 00000002 00000000 00010000 0001 01 29051 /tmp/a b.sock"))
	if !ok || ino != 29051 || string(name) != "/tmp/a b.sock" {
		t.Errorf("unix line = %d %q %v", ino, name, ok)
	}
	if _, _, ok := parseProcNetUnix([]byte("0000000000000000: 00000003 00000000 00000000 0001 03 29052 /tmp/a.sock")); ok {
		t.Error("connected unix socket parsed as listening")
	}
}

func TestCoversExported(t *testing.T) {
	for _, tc := range []struct {
		listen, target string
		want           bool
	}{
		{"tcp:127.0.0.1:3000", "tcp:127.0.0.1:3000", true},
		{"tcp:0.0.0.0:3000", "tcp:127.0.0.1:3000", true},
		{"tcp:0.0.0.0:3000", "tcp:[::1]:3000", false},
		{"tcp:[::]:3000", "tcp:127.0.0.1:3000", true},
		{"tcp:*:3000", "tcp:[::1]:3000", true},
		{"tcp:127.0.0.1:3000", "tcp:127.0.0.1:3001", false},
		{"tcp:127.0.0.1:3000", "tcp:localhost:3000", true},
		{"unix:/run/a.sock", "unix:/run/a.sock", true},
		{"unix:/run/a.sock", "unix:/run/b.sock", false},
		{"unix:/run/a.sock", "tcp:127.0.0.1:3000", false},
		{"bogus", "tcp:127.0.0.1:3000", false},
	} {
		if got := Covers(tc.listen, tc.target); got != tc.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.listen, tc.target, got, tc.want)
		}
	}
}
