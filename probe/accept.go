package probe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// acceptCheck is the readiness check of a socket held by supd (a
// ReadySpec.Accepting entry). Being bound proves nothing there: the tree
// holds the inherited socket from its first instruction. So the check
// answers "does this tree take connections from it?" by making one:
//
//  1. supd connects to the socket. The connection completes in the kernel
//     and waits in the accept queue; the app sees nothing yet.
//  2. Every look asks sock_diag for the server side of that one connection
//     (an exact lookup by its address pair, or by the peer of supd's unix
//     socket). While it waits in the queue it has no inode; accept(2) gives
//     it one.
//  3. Once it has an inode, the fds of the tree (the root first, then the
//     members a /proc scan finds) are searched for it: found means a member
//     of this very spawn accepted it, so the check passes and supd closes
//     its end.
//  4. A connection accepted by a process outside the tree (an old spawn
//     still serving the same socket, another instance) proves nothing about
//     this one. Under load those processes, busy accepting, can take supd's
//     connection look after look, so once that lasted 250ms (and then
//     every 250ms: a list walks the kernel's whole connection table) the
//     other connections accepted from the socket count too: sock_diag
//     lists those whose server side has a file (TCP: the connections of
//     the socket's port and address in a state an accepted one with a file
//     can be in, not in the accept queue; unix: the connected sockets that
//     bear the socket's path, as accepted ones do), and one of them among
//     the sockets in the tree's fds means a member accepted it (a client's
//     connection), so the check passes. Else supd closes its connection
//     and connects again.
//
// Both proofs are an accept(2) by a member of the tree, so the check never
// passes while the app boots, and it waits for no fixed delay. What the
// app sees: one connection from supd on which nothing is sent and that supd
// closes as soon as it was accepted (an HTTP server sees a client that went
// away without a request; it usually logs nothing). A connection the
// accepting process closed before a look found it in the tree counts as
// not seen; supd connects again.
type acceptCheck struct {
	process string
	held    HeldSocket
	tree    *Tree
	started time.Time
	diag    *diagConn
	fds     fdScanner
	scan    func() (*ProcTable, error)

	dial   unix.Sockaddr  // where to connect
	remote netip.AddrPort // tcp: the address connected to
	conn   int            // supd's end of the connection, or -1
	local  netip.AddrPort // tcp: its local address
	ino    uint64         // unix: its inode
	label  string         // "tcp:127.0.0.1:3000" for reasons
	other  string         // reason after a connection went to another process
	// otherAt is when other was found: finding the holder reads the fds of
	// every process, so it is done at most every holderEvery.
	otherAt time.Time
	// listen is where the held socket listens, whose accepted connections
	// step 4 looks for (tcp; an unspecified address for any).
	listen netip.AddrPort
	inTree map[uint64]bool // the sockets of the tree, reused by every look
	// listedAt is when step 4 last listed the accepted connections (or
	// when supd's connection first went elsewhere). The kernel walks its
	// whole connection table for a list (6ms with 262,144 buckets and
	// 38,000 TIME_WAIT sockets, on a loaded machine), where a look costs
	// well under 1ms: step 4 waits until the contention lasted listEvery,
	// then lists at most every listEvery.
	listedAt time.Time
}

// listEvery is how often step 4 lists the connections accepted from the
// socket, and how long supd's own connections go elsewhere before it does.
const listEvery = 250 * time.Millisecond

// holderEvery is how often the reason names anew the process that took
// supd's connection.
const holderEvery = 250 * time.Millisecond

func newAcceptCheck(process string, held HeldSocket, tree *Tree, started time.Time) (*acceptCheck, error) {
	c := &acceptCheck{process: process, held: held, tree: tree, started: started, conn: -1, scan: ScanProcs,
		label: held.Network + ":" + held.Address, inTree: make(map[uint64]bool)}
	switch held.Network {
	case "unix":
		c.dial = &unix.SockaddrUnix{Name: held.Address}
	case "tcp":
		ap, err := dialAddr(held.Address)
		if err != nil {
			return nil, err
		}
		c.remote = ap
		if c.listen, err = listenAddr(held.Address); err != nil {
			return nil, err
		}
		if ap.Addr().Is4() {
			c.dial = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		} else {
			c.dial = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		}
	default:
		return nil, fmt.Errorf("held socket %q: unknown network %q", held.Address, held.Network)
	}
	diag, err := openDiag()
	if err != nil {
		return nil, err
	}
	c.diag = diag
	return c, nil
}

// dialAddr is the address supd connects to for a socket listening on
// address: loopback for a wildcard one.
func dialAddr(address string) (netip.AddrPort, error) {
	a, err := ParseTCP(address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("held socket: %w", err)
	}
	if a.Any {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), a.Port), nil
	}
	ip, port := a.Addr, a.Port
	switch {
	case ip.Is4() && ip.IsUnspecified():
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case ip.IsUnspecified():
		ip = netip.IPv6Loopback()
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// listenAddr is the address a socket listening on address is bound to:
// unspecified for every address.
func listenAddr(address string) (netip.AddrPort, error) {
	ap, err := dialAddr(address)
	if err != nil {
		return ap, err
	}
	host, _, _ := net.SplitHostPort(address)
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
		return ap, nil
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), ap.Port()), nil
}

func (c *acceptCheck) run(ctx context.Context, report func(checkState)) bool {
	defer c.close()
	return polled{c}.run(ctx, report)
}

func (c *acceptCheck) close() {
	c.hangUp()
	if c.diag != nil {
		c.diag.Close()
	}
}

func (c *acceptCheck) hangUp() {
	if c.conn >= 0 {
		unix.Close(c.conn)
		c.conn = -1
	}
}

// acceptDelay is the time between two looks: 1ms for the first second
// after the spawn, then slowing down linearly to 5ms at 3s. One look is a
// poll(2) and one exact sock_diag request: 1,000 looks a second cost about
// 1% of a core, for a few seconds of boot.
func acceptDelay(elapsed time.Duration) time.Duration {
	const fast, slow, fastFor = time.Millisecond, 5 * time.Millisecond, time.Second
	if elapsed < fastFor {
		return fast
	}
	return min(fast+(elapsed-fastFor)/500, slow)
}

func (c *acceptCheck) attempt(context.Context) (checkState, time.Duration) {
	elapsed := time.Since(c.started)
	next := acceptDelay(elapsed)
	if c.conn < 0 {
		if err := c.connect(); err != nil {
			return checkState{reason: fmt.Sprintf("%s: cannot connect to the held socket: %v", c.label, err)}, next
		}
	}
	accepted, ino, err := c.lookup()
	switch {
	case err != nil:
		c.hangUp()
		return checkState{reason: fmt.Sprintf("%s: %v", c.label, err)}, next
	case !accepted:
		return c.waiting(elapsed), next
	}
	if c.treeAccepted(ino) {
		c.hangUp()
		return checkState{}, 0
	}
	// Accepted outside the tree, or accepted and already closed: connect
	// again. The holder, when there is one, goes into the reason.
	if c.other == "" || time.Since(c.otherAt) >= holderEvery {
		if h, ok := c.holderOf(ino); ok {
			c.other = fmt.Sprintf("%s: a connection went to pid %d (%s), which is not part of %s; waiting for %s to accept",
				c.label, h.Pid, h.Command, c.process, c.process)
			c.otherAt = time.Now()
		}
	}
	c.hangUp()
	return c.waiting(elapsed), next
}

func (c *acceptCheck) waiting(elapsed time.Duration) checkState {
	if c.other != "" {
		return checkState{reason: c.other}
	}
	return checkState{reason: "not accepting connections on " + c.label + " yet (starting " + seconds(elapsed) + ")"}
}

// connect opens supd's connection, without blocking.
func (c *acceptCheck) connect() error {
	family := unix.AF_UNIX
	switch c.dial.(type) {
	case *unix.SockaddrInet4:
		family = unix.AF_INET
	case *unix.SockaddrInet6:
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	if err := unix.Connect(fd, c.dial); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		unix.Close(fd)
		return err // EAGAIN: a unix socket's queue is full
	}
	c.conn = fd
	if family == unix.AF_UNIX {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			c.hangUp()
			return err
		}
		c.ino = st.Ino
		return nil
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		c.hangUp()
		return err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		c.local = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		c.local = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return nil
}

// lookup tells whether supd's connection was accepted, and the inode of
// its server side then. A connection the other side closed (or reset) is
// an error: connect again.
func (c *acceptCheck) lookup() (accepted bool, ino uint64, err error) {
	fds := []unix.PollFd{{Fd: int32(c.conn), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 0); n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP|unix.POLLERR) != 0 {
		return false, 0, errors.New("the connection of the accept check was closed before it was seen accepted; trying again")
	}
	if c.held.Network == "unix" {
		ino, err = c.diag.unixPeer(c.ino)
	} else {
		ino, err = c.diag.tcpPeer(c.local, c.remote)
	}
	return ino != 0, ino, err
}

// treeAccepted reports whether a member of the tree accepted a
// connection from the held socket: supd's own, whose server side is ino
// (the root is looked at first, alone), or any other (steps 3 and 4 of
// acceptCheck).
func (c *acceptCheck) treeAccepted(ino uint64) bool {
	root := c.tree.Root()
	if c.fds.sockets(root, func(i uint64) bool { return i != ino }) {
		return true
	}
	tab, err := c.scan()
	if err != nil {
		return false
	}
	clear(c.inTree)
	c.fds.collect(c.tree.Pids(tab), c.inTree)
	if len(c.inTree) == 0 {
		return false
	}
	if c.inTree[ino] {
		return true
	}
	if c.listedAt.IsZero() {
		c.listedAt = time.Now() // the contention begins
	}
	if time.Since(c.listedAt) < listEvery {
		return false
	}
	c.listedAt = time.Now()
	found := false
	inTree := func(i uint64) {
		found = found || c.inTree[i]
	}
	if c.held.Network == "unix" {
		err = c.diag.unixAccepted(c.held.Address, inTree)
	} else {
		err = c.diag.tcpAccepted(c.listen, inTree)
	}
	return err == nil && found
}

// holderOf finds a process that holds socket ino.
func (c *acceptCheck) holderOf(ino uint64) (Holder, bool) {
	tab, err := c.scan()
	if err != nil {
		return Holder{}, false
	}
	for _, p := range tab.Procs() {
		if c.fds.sockets(p.Pid, func(i uint64) bool { return i != ino }) {
			return Holder{Pid: p.Pid, Command: p.Comm}, true
		}
	}
	return Holder{}, false
}

// tcpPeer returns the inode of the server side of the TCP connection from
// local to remote: 0 while it waits in the accept queue (it has no file
// yet), and also when it is gone. The kernel looks it up in its connection
// hash as it would for an incoming segment: idiag_dst is the peer.
func (c *diagConn) tcpPeer(local, remote netip.AddrPort) (uint64, error) {
	family := uint8(unix.AF_INET6)
	if remote.Addr().Is4() {
		family = unix.AF_INET
	}
	req := c.header(unix.NLM_F_REQUEST)
	req = append(req, family, unix.IPPROTO_TCP, 0, 0)
	req = binary.NativeEndian.AppendUint32(req, 0xffffffff)           // every state
	req = binary.BigEndian.AppendUint16(req, remote.Port())           // idiag_sport: the server's
	req = binary.BigEndian.AppendUint16(req, local.Port())            // idiag_dport: supd's
	req = append(req, addr16(remote.Addr())...)                       // idiag_src
	req = append(req, addr16(local.Addr())...)                        // idiag_dst
	req = append(req, 0, 0, 0, 0)                                     // idiag_if
	req = append(req, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // no cookie
	var ino uint64
	err := c.exchange(req, func(typ uint16, msg []byte) bool {
		if typ == unix.SOCK_DIAG_BY_FAMILY && len(msg) >= sizeofInetDiagMsg {
			ino = uint64(binary.NativeEndian.Uint32(msg[68:72]))
		}
		return false
	})
	if errors.Is(err, unix.ENOENT) {
		return 0, nil
	}
	return ino, err
}

// tcpEstablished is TCP_ESTABLISHED, also the state of a connected unix
// socket.
const tcpEstablished = 1

// acceptedStates are the TCP states in which an accepted connection may
// still have a file: ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT,
// LAST_ACK and CLOSING. Leaving out TIME_WAIT spares the kernel the
// filter on each of those (a loaded server has tens of thousands).
const acceptedStates = 1<<1 | 1<<4 | 1<<5 | 1<<8 | 1<<9 | 1<<11

// tcpAccepted calls fn with the inode of every TCP connection accepted from
// a socket listening on local (on any address when local's is
// unspecified): the connections of that local port whose server side has a
// file, which those still in the accept queue do not. A connection a
// client makes never gets the port of a listening socket as its own. The
// kernel filters on the port.
func (c *diagConn) tcpAccepted(local netip.AddrPort, fn func(ino uint64)) error {
	families := []uint8{unix.AF_INET, unix.AF_INET6} // a dual-stack socket's connections are AF_INET6
	switch {
	case local.Addr().Is4():
		families = families[:1]
	case !local.Addr().IsUnspecified():
		families = families[1:]
	}
	for _, family := range families {
		req := c.header(unix.NLM_F_REQUEST | unix.NLM_F_DUMP)
		req = append(req, family, unix.IPPROTO_TCP, 0, 0)
		req = binary.NativeEndian.AppendUint32(req, acceptedStates)
		req = binary.BigEndian.AppendUint16(req, local.Port()) // id.idiag_sport: the kernel's own fast filter
		req = append(req, make([]byte, 46)...)                 // rest of struct inet_diag_sockid
		req = binary.NativeEndian.AppendUint16(req, 4+sizeofPortFilter)
		req = binary.NativeEndian.AppendUint16(req, inetDiagReqBytecode)
		req = appendPortFilter(req, local.Port())
		err := c.dump(req, func(msg []byte) {
			if len(msg) < sizeofInetDiagMsg || binary.BigEndian.Uint16(msg[4:6]) != local.Port() {
				return
			}
			ino := uint64(binary.NativeEndian.Uint32(msg[68:72]))
			if ino == 0 {
				return
			}
			if !local.Addr().IsUnspecified() {
				src := netip.AddrFrom16([16]byte(msg[8:24]))
				if msg[0] == unix.AF_INET {
					src = netip.AddrFrom4([4]byte(msg[8:12]))
				}
				if src.Unmap() != local.Addr().Unmap() {
					return
				}
			}
			fn(ino)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// unixAccepted calls fn with the inode of every connected unix socket
// named path: the server sides of the connections accepted from the socket
// bound there, which bear its name (a client's socket has none of its own,
// unless it bound one, which cannot be path while the listener is there).
func (c *diagConn) unixAccepted(path string, fn func(ino uint64)) error {
	req := c.header(unix.NLM_F_REQUEST | unix.NLM_F_DUMP)
	req = append(req, unix.AF_UNIX, 0, 0, 0)
	req = binary.NativeEndian.AppendUint32(req, 1<<tcpEstablished)
	req = binary.NativeEndian.AppendUint32(req, 0) // udiag_ino
	req = binary.NativeEndian.AppendUint32(req, udiagShowName)
	req = append(req, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // no cookie
	return c.dump(req, func(msg []byte) {
		if len(msg) < sizeofUnixDiagMsg {
			return
		}
		ino := uint64(binary.NativeEndian.Uint32(msg[4:8]))
		attrs(msg[sizeofUnixDiagMsg:], func(typ uint16, data []byte) {
			if typ == unixDiagName && len(data) > 0 && string(displayUnixName(data)) == path {
				fn(ino)
			}
		})
	})
}

// addr16 is an address as struct inet_diag_sockid holds it.
func addr16(a netip.Addr) []byte {
	if a.Is4() {
		b := make([]byte, 16)
		copy(b, a.AsSlice())
		return b
	}
	b := a.As16()
	return b[:]
}

// udiagShowPeer asks unix_diag for a socket's peer (UDIAG_SHOW_PEER); the
// reply carries it as UNIX_DIAG_PEER.
const (
	udiagShowPeer = 4
	unixDiagPeer  = 2
)

// unixPeer returns the inode of the peer of unix socket ino: 0 while the
// server side waits in the accept queue.
func (c *diagConn) unixPeer(ino uint64) (uint64, error) {
	req := c.header(unix.NLM_F_REQUEST)
	req = append(req, unix.AF_UNIX, 0, 0, 0)
	req = binary.NativeEndian.AppendUint32(req, 0xffffffff) // every state
	req = binary.NativeEndian.AppendUint32(req, uint32(ino))
	req = binary.NativeEndian.AppendUint32(req, udiagShowPeer)
	req = append(req, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // no cookie
	var peer uint64
	err := c.exchange(req, func(typ uint16, msg []byte) bool {
		if typ == unix.SOCK_DIAG_BY_FAMILY && len(msg) >= sizeofUnixDiagMsg {
			attrs(msg[sizeofUnixDiagMsg:], func(typ uint16, data []byte) {
				if typ == unixDiagPeer && len(data) >= 4 {
					peer = uint64(binary.NativeEndian.Uint32(data))
				}
			})
		}
		return false
	})
	if err != nil {
		return 0, fmt.Errorf("unix_diag: %w", err)
	}
	return peer, nil
}
