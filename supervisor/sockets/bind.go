package sockets

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// somaxconn is the kernel's cap on accept queues, the default backlog. It
// is read at each bind: an operator may raise it while supd runs.
func somaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if n, perr := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && perr == nil && n > 0 {
		return n
	}
	return 4096 // the kernel's default since Linux 5.4
}

// bindTCP binds and listens on address ("127.0.0.1:3000", "[::1]:3000",
// "0.0.0.0:3000", or ":3000" for every address, IPv4 and IPv6). The
// socket is in blocking mode, as systemd passes sockets; net.Listen could
// not take a backlog, hence the raw calls.
func bindTCP(address string, backlog int) (fd int, err error) {
	hostPart, portStr, err := net.SplitHostPort(address)
	port, perr := strconv.ParseUint(portStr, 10, 16)
	if err != nil || perr != nil {
		return -1, fmt.Errorf("bad address %q", address)
	}
	var sa unix.Sockaddr
	family := unix.AF_INET6
	dual := false
	switch hostPart {
	case "":
		sa, dual = &unix.SockaddrInet6{Port: int(port)}, true
	default:
		ip, err := netip.ParseAddr(hostPart)
		if err != nil {
			return -1, fmt.Errorf("bad address %q: %w", address, err)
		}
		if ip.Is4() {
			family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
		} else {
			sa = &unix.SockaddrInet6{Port: int(port), Addr: ip.As16()}
		}
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil && dual {
		// No IPv6 in this kernel or namespace: every address is IPv4's.
		family, sa, dual = unix.AF_INET, &unix.SockaddrInet4{Port: int(port)}, false
		fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	}
	return setUp(fd, err, func() error {
		// SO_REUSEADDR, as every server sets it: a restart of supd must not
		// wait for the TIME_WAIT connections of the previous one.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("SO_REUSEADDR: %w", err)
		}
		if dual {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
				return fmt.Errorf("IPV6_V6ONLY: %w", err)
			}
		}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		if err := unix.Listen(fd, backlog); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		return nil
	})
}

// setUp finishes a socket made by socket(2) (which returned fd, err): it
// runs setup, and closes the socket when that fails.
func setUp(fd int, err error, setup func() error) (int, error) {
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := setup(); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// owner is a unix socket file's wanted mode and ownership; -1 keeps supd's.
type owner struct {
	mode     os.FileMode
	uid, gid int
}

// bindUnix binds and listens on the socket file path, with the mode and
// owner of o and never more open than that: the socket's inode has only
// the owner's bits of the mode when bind creates the file (Linux creates a
// unix socket file with the mode of the socket's inode, less the umask), so
// until the chown and the final chmod only supd's own user may connect.
//
// The parent directory must exist. A file at path is replaced only when it
// is a socket nobody accepts on (left by a process that died); a live one
// is errAddrInUse, anything else is left alone and an error.
func bindUnix(path string, backlog int, o owner) (fd int, err error) {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return -1, fmt.Errorf("directory %s does not exist: create it first (e.g. systemd's RuntimeDirectory=, or mkdir in the image)", dir)
	case err != nil:
		return -1, err
	case !st.IsDir():
		return -1, fmt.Errorf("%s is not a directory", dir)
	}
	if err := removeStale(path); err != nil {
		return -1, err
	}
	fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	return setUp(fd, err, func() error {
		if err := unix.Fchmod(fd, uint32(o.mode&0o700)); err != nil {
			return fmt.Errorf("fchmod before bind: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		err := setOwner(path, o)
		if err == nil {
			if err = unix.Listen(fd, backlog); err != nil {
				err = fmt.Errorf("listen: %w", err)
			}
		}
		if err != nil {
			unix.Unlink(path)
		}
		return err
	})
}

// setOwner gives the socket file at path its owner, then its mode.
func setOwner(path string, o owner) error {
	if o.uid >= 0 || o.gid >= 0 {
		if err := unix.Lchown(path, o.uid, o.gid); err != nil {
			return &ownerError{"user", fmt.Errorf("chown %s: %w", path, err)}
		}
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, path, uint32(o.mode), 0); err != nil {
		return &ownerError{"mode", fmt.Errorf("chmod %s: %w", path, err)}
	}
	return nil
}

// ownerError is a failed chown or chmod of a socket file, with the
// attribute of the socket block it is about.
type ownerError struct {
	attr string
	err  error
}

func (e *ownerError) Error() string { return e.err.Error() }
func (e *ownerError) Unwrap() error { return e.err }

// errAddrInUse is a unix socket path where a live socket accepts.
var errAddrInUse = unix.EADDRINUSE

// removeStale removes path when it is a socket file nobody accepts on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: not replacing it (remove it, or listen elsewhere)", path)
	}
	probe, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(probe)
	switch err := unix.Connect(probe, &unix.SockaddrUnix{Name: path}); {
	case err == nil, errors.Is(err, unix.EAGAIN): // accepted, or queued: alive
		return fmt.Errorf("bind: %w", errAddrInUse)
	case errors.Is(err, unix.ECONNREFUSED):
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale socket %s: %w", path, err)
		}
		return nil
	default:
		return fmt.Errorf("check the socket already at %s: %w", path, err)
	}
}
