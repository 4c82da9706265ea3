package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Kernel ABI of sock_diag(7) that golang.org/x/sys/unix does not define
// (linux/inet_diag.h, linux/unix_diag.h).
const (
	tcpListen = 10 // TCP_LISTEN, also the state of a listening unix socket

	inetDiagReqBytecode = 1  // INET_DIAG_REQ_BYTECODE
	inetDiagSKV6Only    = 11 // INET_DIAG_SKV6ONLY
	inetDiagBCSGE       = 2  // INET_DIAG_BC_S_GE
	inetDiagBCSLE       = 3  // INET_DIAG_BC_S_LE

	udiagShowName  = 1    // UDIAG_SHOW_NAME
	udiagShowVFS   = 2    // UDIAG_SHOW_VFS
	udiagShowRQLen = 0x10 // UDIAG_SHOW_RQLEN
	unixDiagName   = 0    // UNIX_DIAG_NAME
	unixDiagVFS    = 1    // UNIX_DIAG_VFS
	unixDiagRQLen  = 4    // UNIX_DIAG_RQLEN

	sizeofInetDiagMsg = 72 // struct inet_diag_msg
	sizeofUnixDiagMsg = 16 // struct unix_diag_msg
	sizeofPortFilter  = 16 // the bytecode built by appendPortFilter
)

// diagConn is a NETLINK_SOCK_DIAG socket with its request and receive
// buffers. Its dumps allocate nothing. It is not safe for concurrent use;
// the owner closes it.
type diagConn struct {
	fd  int
	seq uint32
	req []byte
	buf []byte
}

func openDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	return &diagConn{fd: fd, req: make([]byte, 0, 128), buf: make([]byte, 64<<10)}, nil
}

// Close releases the socket.
func (c *diagConn) Close() error { return unix.Close(c.fd) }

// tcp calls fn with every listening TCP socket of family (AF_INET or
// AF_INET6), only those on port when port is not 0: the kernel filters
// them, so a port check costs the same with 10,000 other listeners.
func (c *diagConn) tcp(family uint8, port uint16, fn func(listener)) error {
	req := c.header(unix.NLM_F_REQUEST | unix.NLM_F_DUMP)
	req = append(req, family, unix.IPPROTO_TCP, 0, 0)
	req = binary.NativeEndian.AppendUint32(req, 1<<tcpListen)
	req = binary.BigEndian.AppendUint16(req, port) // id.idiag_sport: the kernel's own fast filter
	req = append(req, make([]byte, 46)...)         // rest of struct inet_diag_sockid
	if port != 0 {
		req = binary.NativeEndian.AppendUint16(req, 4+sizeofPortFilter)
		req = binary.NativeEndian.AppendUint16(req, inetDiagReqBytecode)
		req = appendPortFilter(req, port)
	}
	return c.dump(req, func(msg []byte) {
		if len(msg) < sizeofInetDiagMsg {
			return
		}
		// For a listener, idiag_rqueue is the accept queue's length and
		// idiag_wqueue its backlog (sk_ack_backlog, sk_max_ack_backlog).
		l := listener{
			port:    binary.BigEndian.Uint16(msg[4:6]),
			inode:   uint64(binary.NativeEndian.Uint32(msg[68:72])),
			queued:  binary.NativeEndian.Uint32(msg[56:60]),
			backlog: binary.NativeEndian.Uint32(msg[60:64]),
		}
		if msg[0] == unix.AF_INET {
			l.addr = netip.AddrFrom4([4]byte(msg[8:12]))
		} else {
			l.addr = netip.AddrFrom16([16]byte(msg[8:24]))
		}
		attrs(msg[sizeofInetDiagMsg:], func(typ uint16, data []byte) {
			if typ == inetDiagSKV6Only && len(data) > 0 {
				l.v6only = data[0] != 0
			}
		})
		fn(l)
	})
}

// reachable reports whether a TCP listener would accept a connection to
// addr:port, through an exact sock_diag request: the kernel looks the
// address up in its listening hash as it would for an incoming SYN
// (wildcards, dual-stack [::] and IPV6_V6ONLY included), which costs the
// same however many sockets exist, unlike a dump that walks every bucket.
// It finds one listener at most: use it to learn that a dump is needed.
func (c *diagConn) reachable(addr netip.Addr, port uint16) (bool, error) {
	family := uint8(unix.AF_INET6)
	if addr.Is4() {
		family = unix.AF_INET
	}
	req := c.header(unix.NLM_F_REQUEST)
	req = append(req, family, unix.IPPROTO_TCP, 0, 0)
	req = binary.NativeEndian.AppendUint32(req, 1<<tcpListen)
	req = binary.BigEndian.AppendUint16(req, port) // idiag_sport
	req = binary.BigEndian.AppendUint16(req, 0)    // idiag_dport
	src := addr.As16()
	if addr.Is4() {
		src = [16]byte{}
		copy(src[:], addr.AsSlice())
	}
	req = append(req, src[:]...)                                      // idiag_src
	req = append(req, make([]byte, 16+4)...)                          // idiag_dst, idiag_if
	req = append(req, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // no cookie
	found := false
	err := c.exchange(req, func(typ uint16, msg []byte) bool {
		found = typ == unix.SOCK_DIAG_BY_FAMILY
		return false
	})
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	return found, err
}

// appendPortFilter appends inet_diag bytecode that keeps sockets whose
// source port is port: "sport >= port && sport <= port". Each comparison is
// an op followed by an op whose `no` holds the port; a jump to the end
// accepts, a jump 4 bytes past it rejects.
func appendPortFilter(b []byte, port uint16) []byte {
	op := func(b []byte, code uint8, yes, no uint16) []byte {
		b = append(b, code, uint8(yes))
		return binary.NativeEndian.AppendUint16(b, no)
	}
	b = op(b, inetDiagBCSGE, 8, sizeofPortFilter+4)
	b = op(b, 0, 0, port)
	b = op(b, inetDiagBCSLE, 8, 8+4)
	return op(b, 0, 0, port)
}

// unixListener is one listening unix socket as a dump reports it.
type unixListener struct {
	inode   uint64
	file    fileID // the socket file; zero when unknown (abstract names, /proc/net)
	name    []byte // bound name, abstract ones starting with '@'; valid during the callback only
	queued  uint32 // connections waiting to be accepted (UNIX_DIAG_RQLEN)
	backlog uint32 // their limit, listen(2)'s backlog; 0 when unknown (/proc/net)
}

// fileID names a file: device (as stat's st_dev) and inode.
type fileID struct{ dev, ino uint64 }

// unix calls fn with every listening unix socket.
func (c *diagConn) unix(fn func(unixListener)) error {
	req := c.header(unix.NLM_F_REQUEST | unix.NLM_F_DUMP)
	req = append(req, unix.AF_UNIX, 0, 0, 0)
	req = binary.NativeEndian.AppendUint32(req, 1<<tcpListen)
	req = binary.NativeEndian.AppendUint32(req, 0) // udiag_ino
	req = binary.NativeEndian.AppendUint32(req, udiagShowName|udiagShowVFS|udiagShowRQLen)
	req = append(req, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // no cookie
	return c.dump(req, func(msg []byte) {
		if len(msg) < sizeofUnixDiagMsg {
			return
		}
		u := unixListener{inode: uint64(binary.NativeEndian.Uint32(msg[4:8]))}
		attrs(msg[sizeofUnixDiagMsg:], func(typ uint16, data []byte) {
			switch {
			case typ == unixDiagName && len(data) > 0:
				u.name = displayUnixName(data)
			case typ == unixDiagVFS && len(data) >= 8:
				// struct unix_diag_vfs: u32 inode, u32 dev in the kernel's
				// own encoding (major<<20 | minor).
				dev := binary.NativeEndian.Uint32(data[4:8])
				u.file = fileID{
					dev: unix.Mkdev(dev>>20, dev&0xfffff),
					ino: uint64(binary.NativeEndian.Uint32(data[0:4])),
				}
			case typ == unixDiagRQLen && len(data) >= 8:
				// struct unix_diag_rqlen: for a listener, the pending
				// connections and sk_max_ack_backlog.
				u.queued = binary.NativeEndian.Uint32(data[0:4])
				u.backlog = binary.NativeEndian.Uint32(data[4:8])
			}
		})
		fn(u)
	})
}

// displayUnixName turns a sun_path into the form /proc/net/unix shows:
// a path ends at its NUL; an abstract name has '@' for its leading NUL.
// It rewrites the leading byte of data in place.
func displayUnixName(data []byte) []byte {
	if data[0] == 0 {
		data[0] = '@'
		return data
	}
	for i, c := range data {
		if c == 0 {
			return data[:i]
		}
	}
	return data
}

// header starts a request in c.req, with a new sequence number.
func (c *diagConn) header(flags uint16) []byte {
	c.seq++
	b := binary.NativeEndian.AppendUint32(c.req[:0], 0) // length, set by dump
	b = binary.NativeEndian.AppendUint16(b, unix.SOCK_DIAG_BY_FAMILY)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, c.seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	return b
}

// dump sends a dump request and calls fn with the payload of every reply
// message until the kernel says the dump is done.
func (c *diagConn) dump(req []byte, fn func(msg []byte)) error {
	err := c.exchange(req, func(typ uint16, msg []byte) bool {
		if typ == unix.SOCK_DIAG_BY_FAMILY {
			fn(msg)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("sock_diag dump: %w", err)
	}
	return nil
}

// exchange sends req and calls fn with every reply message of its
// sequence, until fn returns false, or the kernel says done, or an error.
// An error the kernel answers is returned as a bare unix.Errno.
func (c *diagConn) exchange(req []byte, fn func(typ uint16, msg []byte) bool) error {
	binary.NativeEndian.PutUint32(req[0:4], uint32(len(req)))
	c.req = req
	if _, err := unix.Write(c.fd, req); err != nil {
		return fmt.Errorf("sock_diag request: %w", err)
	}
	for {
		n, err := unix.Read(c.fd, c.buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sock_diag reply: %w", err)
		}
		for b := c.buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			size := int(binary.NativeEndian.Uint32(b[0:4]))
			if size < unix.NLMSG_HDRLEN || size > len(b) {
				return errors.New("sock_diag reply: bad message length")
			}
			typ := binary.NativeEndian.Uint16(b[4:6])
			seq := binary.NativeEndian.Uint32(b[8:12])
			msg := b[unix.NLMSG_HDRLEN:size]
			b = b[min(nlAlign(size), len(b)):]
			switch {
			case seq != c.seq:
				continue // the tail of an earlier, abandoned request
			case typ == unix.NLMSG_DONE || typ == unix.NLMSG_ERROR:
				if len(msg) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(msg)); e < 0 {
						return unix.Errno(-e) // unwrapped: ENOENT answers a lookup
					}
				}
				return nil
			case !fn(typ, msg):
				return nil
			}
		}
	}
}

// attrs calls fn for every netlink attribute in b.
func attrs(b []byte, fn func(typ uint16, data []byte)) {
	for len(b) >= 4 {
		size := int(binary.NativeEndian.Uint16(b[0:2]))
		if size < 4 || size > len(b) {
			return
		}
		fn(binary.NativeEndian.Uint16(b[2:4])&0x3fff, b[4:size])
		b = b[min(nlAlign(size), len(b)):]
	}
}

func nlAlign(n int) int { return (n + 3) &^ 3 }
