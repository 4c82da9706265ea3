package probe

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listenBacklog listens on addr ("tcp:127.0.0.1:0" or "unix:PATH") with
// backlog and never accepts. It returns the address as the contract
// writes it; the listener is closed at the end of the test.
func listenBacklog(t *testing.T, addr string, backlog int) (listen string, dial func(ctx context.Context) (net.Conn, error)) {
	t.Helper()
	var fd int
	var err error
	network, rest := addr[:3], addr[4:]
	if network == "tcp" {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
		}
	} else {
		network, rest = "unix", addr[5:]
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrUnix{Name: rest})
		}
	}
	if err == nil {
		err = unix.Listen(fd, backlog)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if network == "tcp" {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		rest = "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
	}
	var d net.Dialer
	return network + ":" + rest, func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, network, rest) }
}

// flood opens n connections to a listener that does not accept, in the
// background; they are closed at the end of the test.
func flood(t *testing.T, n int, dial func(ctx context.Context) (net.Conn, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	conns := make(chan net.Conn, n)
	for range n {
		go func() {
			if c, err := dial(ctx); err == nil {
				conns <- c
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
}

// A listener with backlog 8 that stops accepting, with 20 clients waiting:
// its queue is full, for TCP and Unix sockets alike, seen by Inspect (for
// the tree that holds it) and by FullQueues (for anyone).
func TestAcceptQueueFull(t *testing.T) {
	for _, addr := range []string{"tcp:127.0.0.1:0", "unix:" + filepath.Join(t.TempDir(), "q.sock")} {
		t.Run(addr[:3], func(t *testing.T) {
			listen, dial := listenBacklog(t, addr, 8)
			tree := NewTree(os.Getpid())
			in := NewInspector()
			queueOf := func() Queue {
				us, err := in.Inspect([]*Tree{tree})
				if err != nil {
					t.Fatal(err)
				}
				i := slices.IndexFunc(us[0].AcceptQueue, func(q Queue) bool { return q.Listen == listen })
				if i < 0 {
					t.Fatalf("%s not in %+v", listen, us[0].AcceptQueue)
				}
				return us[0].AcceptQueue[i]
			}
			if q := queueOf(); q.Queued != 0 || q.Backlog != 8 || q.Full() {
				t.Errorf("idle queue = %+v, want 0/8", q)
			}
			flood(t, 20, dial)
			deadline := time.Now().Add(5 * time.Second)
			q := queueOf()
			for !q.Full() && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
				q = queueOf()
			}
			if !q.Full() || q.Backlog != 8 || q.Queued < 8 {
				t.Fatalf("queue with 20 waiting clients = %+v, want full at 8", q)
			}
			full, err := FullQueues()
			if err != nil || !slices.ContainsFunc(full, func(f Queue) bool { return f.Listen == listen && f.Full() }) {
				t.Errorf("FullQueues = %+v, %v; want %s", full, err, listen)
			}
		})
	}
}

func TestQueueFull(t *testing.T) {
	for _, c := range []struct {
		q    Queue
		full bool
	}{
		{Queue{Queued: 0, Backlog: 8}, false},
		{Queue{Queued: 7, Backlog: 8}, false},
		{Queue{Queued: 8, Backlog: 8}, true},
		{Queue{Queued: 9, Backlog: 8}, true},
		{Queue{Queued: 3, Backlog: 0}, false}, // backlog unknown (/proc/net)
	} {
		if got := c.q.Full(); got != c.full {
			t.Errorf("%+v.Full() = %v", c.q, got)
		}
	}
}

// SocketQueues reads the queues of sockets held by this process, by fd:
// how supd reports the sockets it holds for a process that has no
// instance running.
func TestSocketQueues(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	path := filepath.Join(t.TempDir(), "u.sock")
	u, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	uf, err := u.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer uf.Close()
	qs, err := SocketQueues([]int{int(uf.Fd()), int(f.Fd()), int(uf.Fd()), int(os.Stdin.Fd())})
	want := []Queue{{Listen: "unix:" + path}, {Listen: "tcp:" + l.Addr().String()}}
	if err != nil || len(qs) != 2 || qs[0].Listen != want[0].Listen || qs[1].Listen != want[1].Listen || qs[1].Backlog == 0 {
		t.Errorf("SocketQueues = %+v, %v; want %+v with backlogs", qs, err, want)
	}
}
