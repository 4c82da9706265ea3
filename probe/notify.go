package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// notifySocket receives sd_notify(3) datagrams for one spawn: the child
// finds it in $NOTIFY_SOCKET. It lives in its own directory under
// os.TempDir(); Close removes both.
//
// Like systemd's own, the socket is writable by every user (the child may
// run as another user), so the kernel's SO_PASSCRED credentials say who
// sent each datagram: one from a live process outside the instance's tree
// is ignored. A sender that is already gone is accepted (a short-lived
// helper such as systemd-notify may exit before its datagram is read).
type notifySocket struct {
	dir     string
	path    string
	conn    *net.UnixConn
	process string // for reasons
	tree    *Tree  // set before run
}

// maxSunPath is the room for a path in sockaddr_un.sun_path, NUL included.
const maxSunPath = 108

func newNotifySocket(name string) (*notifySocket, error) {
	base := os.TempDir()
	// "sup-notify-" + 10 random digits + "/" + name + ".sock"
	if len(base)+len("/sup-notify-1234567890/x.sock") >= maxSunPath {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "sup-notify-")
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	file := strings.NewReplacer("/", "-", ":", "-").Replace(name) + ".sock"
	if len(dir)+1+len(file) >= maxSunPath {
		file = "n.sock"
	}
	path := filepath.Join(dir, file)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err == nil {
		// The child may run as another user: it needs to search the
		// directory and write to the socket.
		err = errors.Join(os.Chmod(dir, 0o711), os.Chmod(path, 0o622), passCred(conn))
	}
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return &notifySocket{dir: dir, path: path, conn: conn, process: name}, nil
}

// passCred asks the kernel to attach the sender's credentials to every
// datagram.
func passCred(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	})
	return errors.Join(err, serr)
}

// foreign returns the pid of a live sender outside the tree, or 0.
func (n *notifySocket) foreign(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		cred, err := unix.ParseUnixCredentials(&m)
		if err != nil || n.tree == nil {
			continue
		}
		pid := int(cred.Pid)
		if pid == n.tree.Root() || unix.Kill(pid, 0) == unix.ESRCH {
			return 0
		}
		tab, err := ScanProcs()
		if err != nil || slices.Contains(n.tree.Pids(tab), pid) {
			return 0
		}
		return pid
	}
	return 0
}

// Close closes the socket and removes its directory.
func (n *notifySocket) Close() {
	n.conn.Close()
	os.RemoveAll(n.dir)
}

// run reads datagrams until one says READY=1. STATUS= and ERRNO= change
// the reason; anything else (WATCHDOG=1, MAINPID=, …) is ignored.
func (n *notifySocket) run(ctx context.Context, report func(checkState)) bool {
	stop := context.AfterFunc(ctx, func() { n.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	st := checkState{reason: "waiting for READY=1 on NOTIFY_SOCKET"}
	report(st)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		k, oobn, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if ctx.Err() == nil {
				report(checkState{reason: "notify: " + err.Error(), status: st.status})
			}
			return false
		}
		if pid := n.foreign(oob[:oobn]); pid != 0 {
			st.reason = fmt.Sprintf("notify: ignored a message from pid %d, which is not part of %s", pid, n.process)
			report(st)
			continue
		}
		ready := false
		for line := range bytes.SplitSeq(buf[:k], []byte{'\n'}) {
			key, value, _ := bytes.Cut(line, []byte{'='})
			switch string(key) {
			case "READY":
				ready = ready || string(value) == "1"
			case "STATUS":
				st.status = string(value)
				st.reason = "notify: STATUS=" + st.status
			case "ERRNO":
				st.reason = "notify: ERRNO=" + string(value)
			}
		}
		if ready {
			st.reason = ""
		}
		report(st)
		if ready {
			return true
		}
	}
}

// notifyPipe is the s6-style notification_fd: the child is ready when it
// writes a newline on fd. The write end goes to the child; supd closes its
// own copy once the child is started, so the read end sees EOF when every
// process holding it is gone.
type notifyPipe struct {
	fd   int
	r, w *os.File
}

func newNotifyPipe(fd int) (*notifyPipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("notification_fd: %w", err)
	}
	return &notifyPipe{fd: fd, r: r, w: w}, nil
}

// started closes supd's copy of the write end.
func (p *notifyPipe) started() { p.w.Close() }

// Close closes both ends.
func (p *notifyPipe) Close() {
	p.r.Close()
	p.w.Close()
}

func (p *notifyPipe) run(ctx context.Context, report func(checkState)) bool {
	stop := context.AfterFunc(ctx, func() { p.r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	fd := strconv.Itoa(p.fd)
	report(checkState{reason: "waiting for a newline on fd " + fd})
	buf := make([]byte, 512)
	for {
		k, err := p.r.Read(buf)
		if bytes.IndexByte(buf[:k], '\n') >= 0 {
			report(checkState{})
			return true
		}
		if err != nil {
			if ctx.Err() == nil {
				report(checkState{reason: "fd " + fd + " closed without a newline"})
			}
			return false
		}
	}
}

// logWatch is the `log` check: a regexp matched against output lines.
// line may be called from any goroutine, before, during or after the wait.
type logWatch struct {
	re      *regexp.Regexp
	matched atomic.Bool
	done    chan struct{} // closed on the first match
}

func newLogWatch(re *regexp.Regexp) *logWatch {
	return &logWatch{re: re, done: make(chan struct{})}
}

// line matches one output line, until a line has matched; then it costs one
// atomic load.
func (l *logWatch) line(b []byte) {
	if l.matched.Load() || !l.re.Match(b) {
		return
	}
	if l.matched.CompareAndSwap(false, true) {
		close(l.done)
	}
}

func (l *logWatch) run(ctx context.Context, report func(checkState)) bool {
	if !l.matched.Load() {
		report(checkState{reason: "waiting for a line matching /" + l.re.String() + "/"})
	}
	select {
	case <-l.done:
		report(checkState{})
		return true
	case <-ctx.Done():
		return false
	}
}
