package probe

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// heldTCP is a listening socket the test holds, as supd would: it returns
// the socket's address and a copy to pass to children.
func heldTCP(t testing.TB, network, address string) (string, *os.File) {
	t.Helper()
	l, f := heldListener(t, network, address)
	return l.Addr().String(), f
}

// heldListener is heldTCP returning the listener itself.
func heldListener(t testing.TB, network, address string) (net.Listener, *os.File) {
	t.Helper()
	l, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	var f *os.File
	switch l := l.(type) {
	case *net.TCPListener:
		f, err = l.File()
	case *net.UnixListener:
		f, err = l.File()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); f.Close() })
	return l, f
}

// startHeld starts testapp serving the held socket f after delay, and
// returns it with the file it records the time it starts accepting in.
func startHeld(t testing.TB, f *os.File, delay time.Duration) (*app, string) {
	t.Helper()
	record := filepath.Join(t.TempDir(), "record")
	a := startApp(t, appOpts{env: []string{"LISTEN_FDS=1"}, files: map[int]*os.File{3: f}},
		"--listen-fds", "--delay", delay.String(), "--record", record)
	return a, record
}

func TestAcceptCheckWaitsForAccept(t *testing.T) {
	for _, tt := range []struct{ name, network, listen, held string }{
		{"tcp", "tcp", "127.0.0.1:0", ""},
		{"tcp wildcard", "tcp", ":0", "any"},
		{"tcp6", "tcp6", "[::1]:0", ""},
		{"unix", "unix", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			listen := tt.listen
			if tt.network == "unix" {
				listen = filepath.Join(t.TempDir(), "app.sock")
			}
			addr, f := heldTCP(t, tt.network, listen)
			held := HeldSocket{Network: "tcp", Address: addr}
			switch {
			case tt.network == "unix":
				held = HeldSocket{Network: "unix", Address: addr}
			case tt.held == "any":
				_, port, _ := net.SplitHostPort(addr)
				held.Address = ":" + port
			}
			r := newReadiness(t, "api", ReadySpec{Accepting: []HeldSocket{held}})
			a, record := startHeld(t, f, 300*time.Millisecond)
			r.Started(a.pid)
			p := waitReady(t, r, NewTree(a.pid))
			readyAt := time.Now()
			accepting := readRecord(t, record)
			if readyAt.Before(accepting) {
				t.Errorf("ready at %s, before the app started accepting at %s", readyAt.Format(time.StampMicro), accepting.Format(time.StampMicro))
			}
			if !strings.HasPrefix(p.reasons()[0], "not accepting connections on "+held.Network+":"+held.Address+" yet (starting") {
				t.Errorf("first reason %q", p.reasons()[0])
			}
		})
	}
}

// accepted returns the server side of a connection accepted from l, as a
// file to pass to a child (a client's connection that a process took).
func accepted(t testing.TB, l net.Listener) *os.File {
	t.Helper()
	client, err := net.Dial(l.Addr().Network(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := conn.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	t.Cleanup(func() { client.Close(); f.Close() })
	return f
}

// A process outside the tree that serves the same socket (an old spawn
// during a rolling reload) takes supd's connections; the tree is not ready
// until it accepts one itself: a connection it holds that was accepted
// from another socket proves nothing.
func TestAcceptCheckIgnoresOtherAcceptors(t *testing.T) {
	addr, f := heldTCP(t, "tcp", "127.0.0.1:0")
	old, _ := startHeld(t, f, 0)
	r := newReadiness(t, "api", ReadySpec{Accepting: []HeldSocket{{Network: "tcp", Address: addr}}})
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	booting := startApp(t, appOpts{env: []string{"LISTEN_FDS=1"}, files: map[int]*os.File{3: f, 4: accepted(t, other)}},
		"--listen-fds", "--delay", time.Hour.String())
	r.Started(booting.pid)
	want := "tcp:" + addr + ": a connection went to pid " + strconv.Itoa(old.pid)
	p, _ := wait(t, r, NewTree(booting.pid), 10*time.Second, func(res Result) bool { return strings.HasPrefix(res.Reason, want) })
	if p.matched == nil {
		t.Fatalf("reason never starts with %q; got %q", want, p.reasons())
	}
	// Once the old one is gone, the new one serving gets ready.
	old.kill()
	r2 := newReadiness(t, "api", ReadySpec{Accepting: []HeldSocket{{Network: "tcp", Address: addr}}})
	next, _ := startHeld(t, f, 0)
	r2.Started(next.pid)
	waitReady(t, r2, NewTree(next.pid))
}

// Under load, the processes outside the tree that serve the same socket
// can take supd's connection look after look. A connection from the held
// socket that a member of the tree holds (a client's, which the tree
// accepted) proves acceptance as well. Here the tree is a process given
// such a connection, which never accepts itself, while another serves the
// socket and takes every connection of supd's.
func TestAcceptCheckCountsClientConnections(t *testing.T) {
	for _, network := range []string{"tcp", "tcp6", "unix"} {
		t.Run(network, func(t *testing.T) {
			listen := map[string]string{"tcp": "127.0.0.1:0", "tcp6": "[::]:0", "unix": filepath.Join(t.TempDir(), "app.sock")}[network]
			l, f := heldListener(t, network, listen)
			held := HeldSocket{Network: "tcp", Address: l.Addr().String()}
			if network == "unix" {
				held.Network = "unix"
			}
			conn := accepted(t, l)
			old, _ := startHeld(t, f, 0)
			r := newReadiness(t, "api", ReadySpec{Accepting: []HeldSocket{held}})
			tree := startApp(t, appOpts{files: map[int]*os.File{3: f, 4: conn}}, "--delay", time.Hour.String())
			r.Started(tree.pid)
			p := waitReady(t, r, NewTree(tree.pid))
			// It got ready by step 4 only: supd's own connection went to the
			// other process first (unless the very first look saw it ready).
			for _, reason := range p.reasons() {
				if strings.Contains(reason, "a connection went to pid ") && !strings.Contains(reason, "pid "+strconv.Itoa(old.pid)+" ") {
					t.Errorf("reason %q names another process than the one serving (%d)", reason, old.pid)
				}
			}
		})
	}
}
