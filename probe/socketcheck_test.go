package probe

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// When /proc cannot be read, a socket on the address that the tree's root
// does not hold may still be the tree's: the reason says /proc failed,
// never that another process holds it.
func TestSocketCheckProcUnreadable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // held by this test, outside the tree
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a := startApp(t, appOpts{})
	tgt, err := parseTarget("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := newSocketCheck("api", tgt, NewTree(a.pid))
	defer c.Close()

	if got := c.health(); !strings.Contains(got, "is held by") || !strings.HasSuffix(got, "which is not part of api") {
		t.Fatalf("with /proc readable: %q, want held by this test's pid", got)
	}
	c.scan = func() (*ProcTable, error) { return nil, errors.New("permission denied") }
	got := c.health()
	if strings.Contains(got, "held by") || !strings.Contains(got, "cannot be read: permission denied") {
		t.Fatalf("with /proc unreadable: %q", got)
	}
}

// A failed inet_diag dump moves tcp dumps to /proc/net, and only them: unix
// dumps (which know the socket file's identity, /proc/net/unix does not)
// and exact lookups keep using netlink.
func TestTCPFallbackKeepsUnixDiag(t *testing.T) {
	st := openSockTable()
	defer st.Close()
	if st.diag == nil {
		t.Skip("sock_diag is not available here")
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	path := filepath.Join(t.TempDir(), "s.sock")
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()

	st.noTCPDiag = true // as after a failed dump
	port := uint16(tl.Addr().(*net.TCPAddr).Port)
	found := false
	if err := st.tcp(port, func(l listener) { found = found || l.port == port }); err != nil || !found {
		t.Fatalf("tcp through /proc/net: found %v, %v", found, err)
	}
	var file fileID
	if err := st.unix(func(u unixListener) {
		if string(u.name) == path {
			file = u.file
		}
	}); err != nil {
		t.Fatal(err)
	}
	if file == (fileID{}) {
		t.Errorf("unix dump after a tcp fallback: %s has no file identity (read from /proc/net, not sock_diag)", path)
	}
	if st.diag == nil || st.noUnixDiag {
		t.Errorf("the tcp fallback turned netlink off: diag %v, noUnixDiag %v", st.diag, st.noUnixDiag)
	}
}
