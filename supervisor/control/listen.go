package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Access says who may use the control socket besides root and supd's own
// user: the members of group GID when Mode gives the group read and write.
// The zero Access is mode 0600, supd's user only.
type Access struct {
	Mode  fs.FileMode // 0 means 0600; never more than 0660 (checked by Listen)
	Group string      // group name, for messages; "" = supd's group
	GID   int         // used when Group != ""
}

func (a Access) mode() fs.FileMode {
	if a.Mode == 0 {
		return 0o600
	}
	return a.Mode
}

// Listen opens the control socket at path with the zero Access (mode 0600).
func Listen(path string) (net.Listener, error) { return ListenWith(path, Access{}) }

// ListenWith opens the control socket at path with mode a.Mode (group
// a.GID), creating its parent directory (mode 0700; missing ancestors
// 0755) if missing.
//
// There is no instant at which the socket is reachable with another mode
// than a.Mode: it is bound in a fresh private directory (0700) beside
// path, given its mode and group there, and renamed into place. Nothing
// is chmod-ed or chown-ed through a path someone else could replace. The
// parent directory must be a directory (a symlink is refused), owned by
// supd's user or root, and not writable by others unless sticky (/tmp).
//
// A file already at path is removed only if it is a socket nobody answers
// on (left by a supd that died); if a server answers there, ListenWith
// fails naming it (another supd, or a squatter), and any other file is
// left alone. Connections from a peer (SO_PEERCRED) that is not root,
// supd's user or, with a group mode, a member of a.GID are answered 403
// and closed. The returned listener removes the socket file when closed,
// if it is still its own.
func ListenWith(path string, a Access) (net.Listener, error) {
	mode := a.mode()
	if mode&^0o660 != 0 || mode&0o600 != 0o600 {
		return nil, fmt.Errorf("control socket %s: mode %04o: want 0600 or 0660", path, uint32(mode))
	}
	dir := filepath.Dir(path)
	if err := ensureDir(dir); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	private, err := os.MkdirTemp(dir, ".s")
	if err != nil {
		return nil, fmt.Errorf("control socket %s: private directory: %w", path, err)
	}
	tmp := filepath.Join(private, "s")
	ln, err := bindPrivate(tmp, mode, a)
	var file fs.FileInfo
	if err == nil {
		file, err = os.Lstat(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	os.Remove(tmp) // only there when something failed
	if rerr := os.Remove(private); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	gid := -1
	if a.Group != "" {
		gid = a.GID
	}
	return &listener{UnixListener: ln, path: path, file: file, addr: &net.UnixAddr{Name: path, Net: "unix"}, uid: os.Geteuid(), gid: gid, group: a.Group}, nil
}

// bindPrivate binds tmp, inside a directory only supd's user can enter,
// and gives it its mode and group.
func bindPrivate(tmp string, mode fs.FileMode, a Access) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false) // the file is renamed; listener.Close removes it
	if err := os.Chmod(tmp, mode); err != nil {
		ln.Close()
		return nil, err
	}
	if a.Group != "" {
		if err := os.Lchown(tmp, -1, a.GID); err != nil {
			ln.Close()
			return nil, fmt.Errorf("give it to group %s: %w", a.Group, err)
		}
	}
	return ln, nil
}

// ensureDir makes sure dir exists (created 0700) and that nobody but
// supd's user and root can replace what is in it.
func ensureDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (%s): refusing to use it", dir, describeType(fi.Mode()))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := int(st.Uid); uid != os.Geteuid() && uid != 0 {
		return fmt.Errorf("directory %s is owned by %s, not by supd's user (%s): refusing to use it", dir, userName(uid), userName(os.Geteuid()))
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("directory %s (mode %04o) lets other users replace the socket: remove group/other write or set the sticky bit", dir, uint32(fi.Mode().Perm()))
	}
	return nil
}

func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsRegular():
		return "a regular file"
	}
	return m.Type().String()
}

// removeStale removes path if it is a Unix socket with nobody listening.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket: %s exists and is not a socket; not removing it", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	switch {
	case err == nil:
		defer conn.Close()
		cred, cerr := peerCred(conn)
		if cerr != nil {
			return fmt.Errorf("another process is listening on %s", path)
		}
		who := fmt.Sprintf(" (pid %d %s, user %s)", cred.Pid, progName(int(cred.Pid)), userName(int(cred.Uid)))
		if int(cred.Uid) != os.Geteuid() && cred.Uid != 0 {
			return fmt.Errorf("control socket %s is held by another user's process%s: a squatter? stop it, or set supervisor { socket = ... }", path, who)
		}
		return fmt.Errorf("another supd is listening on %s%s", path, who)
	case errors.Is(err, syscall.ECONNREFUSED):
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("control socket: remove stale socket: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("control socket: check %s: %w", path, err)
	}
}

// listener is the control socket: it refuses peers without access, and
// removes its file when closed.
type listener struct {
	*net.UnixListener
	path  string
	file  fs.FileInfo // the socket file, to remove only that one
	addr  net.Addr
	uid   int    // supd's user
	gid   int    // the group allowed, or -1
	group string // its name
}

// Accept returns the next connection of a peer with access. A peer
// without access gets a 403 (written in the background, bounded) and is
// closed; it is not returned.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.UnixListener.Accept()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(c)
		if err == nil && l.allowed(cred) {
			return c, nil
		}
		go l.refuse(c, cred, err)
	}
}

func (l *listener) allowed(cred *unix.Ucred) bool {
	uid := int(cred.Uid)
	if uid == 0 || uid == l.uid {
		return true
	}
	return l.gid >= 0 && inGroup(int(cred.Pid), int(cred.Gid), l.gid)
}

// refuse answers a peer without access with a 403 saying why.
func (l *listener) refuse(c net.Conn, cred *unix.Ucred, err error) {
	defer c.Close()
	msg := "cannot verify the peer's credentials: " + fmt.Sprint(err)
	if err == nil {
		allowed := "root and " + userName(l.uid)
		if l.gid >= 0 {
			allowed += " and members of group " + l.group
		}
		msg = fmt.Sprintf("permission denied: user %s may not control this supd (allowed: %s)", userName(int(cred.Uid)), allowed)
	}
	body := fmt.Sprintf("{\"error\":%q}\n", msg)
	_ = c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
}

// Addr is the socket's final path (not the private one it was bound at).
func (l *listener) Addr() net.Addr { return l.addr }

// Close stops listening and removes the socket file if it is still the
// one this listener made (same device and inode).
func (l *listener) Close() error {
	err := l.UnixListener.Close()
	if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.file) {
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	return err
}
