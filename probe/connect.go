package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// Connect is the outcome of one connection attempt.
type Connect struct {
	Address  string        // "tcp:127.0.0.1:3000", "unix:/run/app.sock"
	Accepted bool          // the connection was established
	Took     time.Duration // until established or failed
	// Result is "accepted in 0.2 ms", "refused", "no answer within 1s" (what
	// a full TCP accept queue or a dropping firewall looks like), "accept
	// queue full" (a Unix socket's), "permission denied", or the error.
	Result string
}

// ConnectTo connects to address ("tcp:HOST:PORT" or "unix:PATH") once,
// giving up after timeout, and closes the connection at once. A wildcard
// host (0.0.0.0, [::], *) is reached on the loopback address of its family.
func ConnectTo(ctx context.Context, address string, timeout time.Duration) Connect {
	c := Connect{Address: address}
	network, addr, ok := strings.Cut(address, ":")
	if !ok || (network != "tcp" && network != "unix") {
		c.Result = fmt.Sprintf("cannot connect to %q: want tcp:HOST:PORT or unix:PATH", address)
		return c
	}
	if network == "tcp" {
		addr = loopbackFor(addr)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	start := time.Now()
	conn, err := d.DialContext(ctx, network, addr)
	c.Took = time.Since(start)
	if err == nil {
		conn.Close()
		c.Accepted = true
		c.Result = fmt.Sprintf("accepted in %s", millis(c.Took))
		return c
	}
	c.Result = connectError(err, timeout)
	return c
}

// connectError says in a few words why a connect failed.
func connectError(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer within " + timeout.String()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EAGAIN):
		return "accept queue full"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied"
	case errors.Is(err, syscall.ENOENT):
		return "no such socket file"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	}
	return err.Error()
}

// loopbackFor replaces a wildcard host by the loopback address of its
// family: "0.0.0.0:3000" and "*:3000" by "127.0.0.1:3000", "[::]:3000" by
// "[::1]:3000".
func loopbackFor(hostport string) string {
	host, port, ok := cutHostPort(hostport)
	if !ok {
		return hostport
	}
	switch host {
	case "", "*", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return net.JoinHostPort(a.String(), port)
	}
	return net.JoinHostPort(host, port)
}

// millis is d in milliseconds with one decimal: "0.3 ms".
func millis(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
