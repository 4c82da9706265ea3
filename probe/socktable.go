package probe

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// sockDiagOff makes every sockTable read /proc/net instead of asking
// sock_diag. Tests set it to cover the fallback.
var sockDiagOff atomic.Bool

// sockTable lists the listening sockets of supd's network namespace:
// through sock_diag, or by parsing /proc/net/{tcp,tcp6,unix} when netlink
// is unavailable (a seccomp filter, a kernel without inet_diag/unix_diag).
// Once a netlink dump fails, that kind of dump (tcp or unix) uses /proc/net
// for the life of the sockTable; the other kind and the exact lookups keep
// using netlink. Not safe for concurrent use; the owner closes it.
type sockTable struct {
	diag       *diagConn // nil: netlink unavailable
	noTCPDiag  bool      // an inet_diag dump failed
	noUnixDiag bool      // the unix_diag dump failed
	noLookup   bool      // an exact inet_diag lookup failed
}

// openSockTable never fails: without netlink it reads /proc/net.
func openSockTable() *sockTable {
	if sockDiagOff.Load() {
		return &sockTable{}
	}
	diag, _ := openDiag()
	return &sockTable{diag: diag}
}

// Close releases the netlink socket.
func (s *sockTable) Close() {
	if s.diag != nil {
		s.diag.Close()
		s.diag = nil
	}
}

// tcp calls fn with every listening TCP socket, IPv4 and IPv6, only those on
// port when port is not 0. When a netlink dump fails midway fn may see a
// socket twice.
func (s *sockTable) tcp(port uint16, fn func(listener)) error {
	if s.diag != nil && !s.noTCPDiag {
		err := s.diag.tcp(unix.AF_INET, port, fn)
		if err == nil {
			err = s.diag.tcp(unix.AF_INET6, port, fn)
		}
		if err == nil {
			return nil
		}
		s.noTCPDiag = true // unix_diag and exact lookups may still work
	}
	return procNetTCP(port, fn)
}

// unix calls fn with every listening unix socket.
func (s *sockTable) unix(fn func(unixListener)) error {
	if s.diag != nil && !s.noUnixDiag {
		if err := s.diag.unix(fn); err == nil {
			return nil
		}
		s.noUnixDiag = true
	}
	return procNetUnix(fn)
}

// mayCover is false when no TCP listener covers t for sure: for a target
// with an address, one exact sock_diag lookup tells, at a fraction of the
// cost of a dump.
func (s *sockTable) mayCover(t target) bool {
	if s.diag == nil || s.noLookup || t.unix || t.any {
		return true
	}
	ok, err := s.diag.reachable(t.addr, t.port)
	if err != nil {
		s.noLookup = true
		return true
	}
	return ok
}

// resolve returns every listening socket among inodes (its address and
// accept queue), by inode. Sockets that are not listening are left out.
func (s *sockTable) resolve(inodes map[uint64]bool) (map[uint64]listener, error) {
	found := make(map[uint64]listener)
	if len(inodes) == 0 {
		return found, nil
	}
	if err := s.tcp(0, func(l listener) {
		if inodes[l.inode] {
			found[l.inode] = l
		}
	}); err != nil {
		return found, err
	}
	err := s.unix(func(u unixListener) {
		if inodes[u.inode] && len(u.name) > 0 {
			found[u.inode] = u.listener()
		}
	})
	return found, err
}

// listener is u in the form of a TCP listener. It copies the name, which
// is only valid during the dump's callback.
func (u unixListener) listener() listener {
	return listener{inode: u.inode, unix: true, path: string(u.name), queued: u.queued, backlog: u.backlog}
}

// procNetTCP is sockTable.tcp from /proc/net/tcp and /proc/net/tcp6, which
// do not tell IPV6_V6ONLY: [::] is taken to accept IPv4 too.
func procNetTCP(port uint16, fn func(listener)) error {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			if os.IsNotExist(err) && file == "/proc/net/tcp6" {
				continue // IPv6 disabled
			}
			return fmt.Errorf("listening sockets: %w", err)
		}
		for _, line := range bytes.Split(data, []byte{'\n'})[1:] {
			if l, ok := parseProcNetTCP(line); ok && (port == 0 || l.port == port) {
				fn(l)
			}
		}
	}
	return nil
}

// parseProcNetTCP parses one line of /proc/net/tcp{,6}, keeping listening
// sockets: "sl local rem st tx:rx tr:when retrnsmt uid timeout inode …",
// local as hex "0100007F:0BB8", the address in 32-bit words in host order.
// For a listener rx is the accept queue's length; its backlog is not shown.
func parseProcNetTCP(line []byte) (listener, bool) {
	f := bytes.Fields(line)
	if len(f) < 10 || string(f[3]) != "0A" {
		return listener{}, false
	}
	addrHex, portHex, ok := bytes.Cut(f[1], []byte{':'})
	if !ok {
		return listener{}, false
	}
	port, err := strconv.ParseUint(string(portHex), 16, 16)
	if err != nil {
		return listener{}, false
	}
	ino, ok := atouDigits(f[9])
	if !ok {
		return listener{}, false
	}
	raw, err := hex.DecodeString(string(addrHex))
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return listener{}, false
	}
	for i := 0; i < len(raw); i += 4 { // each word was printed as a host-order u32
		w := binary.BigEndian.Uint32(raw[i:])
		binary.NativeEndian.PutUint32(raw[i:], w)
	}
	addr, _ := netip.AddrFromSlice(raw)
	var queued uint64
	if _, rx, ok := bytes.Cut(f[4], []byte{':'}); ok {
		queued, _ = strconv.ParseUint(string(rx), 16, 32)
	}
	return listener{inode: ino, addr: addr, port: uint16(port), queued: uint32(queued)}, true
}

// procNetUnix is sockTable.unix from /proc/net/unix, which does not tell
// the socket files.
func procNetUnix(fn func(unixListener)) error {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return fmt.Errorf("listening sockets: %w", err)
	}
	for _, line := range bytes.Split(data, []byte{'\n'})[1:] {
		if ino, name, ok := parseProcNetUnix(line); ok {
			fn(unixListener{inode: ino, name: name})
		}
	}
	return nil
}

// parseProcNetUnix parses one line of /proc/net/unix, keeping listening
// sockets: "Num RefCount Protocol Flags Type St Inode [Path]"; Flags has
// __SO_ACCEPTCON (0x10000) when listening.
func parseProcNetUnix(line []byte) (ino uint64, name []byte, ok bool) {
	rest := line
	var f [7][]byte
	for i := range f {
		rest = bytes.TrimLeft(rest, " ")
		f[i], rest, _ = bytes.Cut(rest, []byte{' '})
	}
	flags, err := strconv.ParseUint(string(f[3]), 16, 32)
	if err != nil || flags&0x10000 == 0 {
		return 0, nil, false
	}
	ino, ok = atouDigits(f[6])
	return ino, bytes.TrimSpace(rest), ok
}
