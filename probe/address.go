package probe

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// listener is one listening socket of the network namespace.
type listener struct {
	inode  uint64
	unix   bool
	addr   netip.Addr // tcp: local address
	port   uint16     // tcp: local port
	v6only bool       // tcp over IPv6: IPV6_V6ONLY, so [::] takes no IPv4
	path   string     // unix: bound name; abstract names start with '@'

	queued  uint32 // connections waiting in the accept queue
	backlog uint32 // the accept queue's limit; 0 when unknown (/proc/net)
}

// String is the address in the contract's form: "tcp:127.0.0.1:3000",
// "tcp:[::]:8080", "unix:/run/a.sock".
func (l listener) String() string {
	if l.unix {
		return "unix:" + l.path
	}
	return "tcp:" + netip.AddrPortFrom(l.addr, l.port).String()
}

// target is an address from the config: where a process should listen.
type target struct {
	unix bool
	any  bool       // tcp "*:PORT": any local address
	addr netip.Addr // tcp, unless any
	port uint16     // tcp
	path string     // unix
}

// parseTarget parses network "tcp" with "127.0.0.1:3000", "[::1]:3000",
// "0.0.0.0:3000", "*:3000" (or ":3000"), or network "unix" with a path.
func parseTarget(network, address string) (target, error) {
	switch network {
	case "unix":
		if address == "" {
			return target{}, fmt.Errorf("unix address: empty path")
		}
		return target{unix: true, path: address}, nil
	case "tcp":
		a, err := ParseTCP(address)
		if err != nil {
			return target{}, fmt.Errorf("tcp address: %w", err)
		}
		return target{any: a.Any, addr: a.Addr.Unmap().WithZone(""), port: a.Port}, nil
	}
	return target{}, fmt.Errorf("network %q: want tcp or unix", network)
}

// cutHostPort splits "host:port" and "[v6]:port".
// TCPAddr is a TCP address as sup's config and checks spell it.
type TCPAddr struct {
	Addr netip.Addr // invalid when Any
	Port uint16
	Any  bool // "*:3000", ":3000": any address of the host
}

// ParseTCP is the one parser of sup's TCP addresses: "host:port", the host
// an IP address ("127.0.0.1", "[::1]", with a zone if any), "localhost"
// (127.0.0.1), or "*" / "" for any address; the port from 1 to 65535. Its
// errors say which part is wrong, with the address.
func ParseTCP(address string) (TCPAddr, error) {
	host, portStr, err := net.SplitHostPort(strings.TrimSpace(address))
	if err != nil {
		return TCPAddr{}, fmt.Errorf("invalid address %q: want host:port, e.g. \"127.0.0.1:3000\", \"[::1]:3000\" or \"*:3000\"", address)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return TCPAddr{}, fmt.Errorf("invalid port %q in %q: use a number from 1 to 65535", portStr, address)
	}
	a := TCPAddr{Port: uint16(port)}
	switch host {
	case "", "*":
		a.Any = true
	case "localhost":
		a.Addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		if a.Addr, err = netip.ParseAddr(host); err != nil {
			return TCPAddr{}, fmt.Errorf("host %q in %q is not an IP address: use an IP such as 127.0.0.1 or [::1], \"localhost\", or \"*\" for any address", host, address)
		}
	}
	return a, nil
}

func cutHostPort(s string) (host, port string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", false
	}
	host, port = s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return host, port, true
}

// String is the target as the reasons show it: "127.0.0.1:3000",
// "*:3000", "unix:/run/a.sock".
func (t target) String() string {
	switch {
	case t.unix:
		return "unix:" + t.path
	case t.any:
		return "*:" + strconv.Itoa(int(t.port))
	}
	return netip.AddrPortFrom(t.addr, t.port).String()
}

// covers reports whether l accepts the connections that t describes: same
// port, and the same address, or a wildcard that includes it (0.0.0.0 any
// IPv4 address; [::] any IPv6 address, and any IPv4 one unless v6only).
// A unix target is covered by a listener bound to that exact path.
func (l listener) covers(t target) bool {
	if l.unix || t.unix {
		return l.unix && t.unix && l.path == t.path
	}
	if l.port != t.port {
		return false
	}
	if t.any {
		return true
	}
	la := l.addr.Unmap()
	switch {
	case la == t.addr:
		return true
	case la == netip.IPv4Unspecified():
		return t.addr.Is4()
	case la == netip.IPv6Unspecified():
		return t.addr.Is6() || !l.v6only
	}
	return false
}

// Covers reports whether a socket listening on listen takes the
// connections made to target, both in the contract's form ("tcp:HOST:PORT",
// "unix:PATH"): the same address, or a wildcard listener of the family
// ("tcp:0.0.0.0:3000" covers "tcp:127.0.0.1:3000"; "tcp:[::]:3000" and
// "tcp:*:3000" cover both families). A malformed address covers nothing.
func Covers(listen, target string) bool {
	ln, la, _ := strings.Cut(listen, ":")
	tn, ta, _ := strings.Cut(target, ":")
	lt, err := parseTarget(ln, la)
	if err != nil {
		return false
	}
	t, err := parseTarget(tn, ta)
	if err != nil || t.any {
		return false
	}
	l := listener{unix: lt.unix, path: lt.path, addr: lt.addr, port: lt.port}
	if lt.any {
		l.addr = netip.IPv6Unspecified()
	}
	return l.covers(t)
}
