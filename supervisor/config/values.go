package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/signame"
)

// The parsers below are pure: a raw value from the file in, the resolved
// value or an error that tells the user what to write instead out. The
// loader turns the error into a diagnostic at the attribute's range.

// nonNegative parses a Go duration that may be zero.
func nonNegative(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a Go duration such as \"10s\" or \"1m30s\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative: use 0s or more", s)
	}
	return d, nil
}

// positive parses a Go duration that must be greater than zero (timeouts,
// intervals).
func positive(s string) (time.Duration, error) {
	d, err := nonNegative(s)
	if err == nil && d == 0 {
		err = fmt.Errorf("duration %q must be greater than 0, e.g. \"10s\"", s)
	}
	return d, err
}

// parseSignal accepts what signame.Parse does: "SIGTERM", "TERM",
// "sigterm"; not numbers.
func parseSignal(s string) (syscall.Signal, error) { return signame.Parse(s) }

// anyHost is how a check address says "any local address".
const anyHost = "*"

// splitAddr parses "host:port" where host is an IP literal ("[::1]" for
// IPv6), "localhost" (127.0.0.1), or "" / "*" for any address, which is
// returned as anyHost.
func splitAddr(s string) (host, port string, err error) {
	a, err := probe.ParseTCP(s)
	switch {
	case err != nil:
		return "", "", err
	case a.Any:
		return anyHost, strconv.Itoa(int(a.Port)), nil
	}
	return a.Addr.String(), strconv.Itoa(int(a.Port)), nil
}

// parseCheckAddr normalises a ready/health tcp address: "127.0.0.1:3000",
// "[::1]:3000", or "*:3000" for a port bound on any address.
func parseCheckAddr(s string) (string, error) {
	host, port, err := splitAddr(s)
	if err != nil || host == anyHost {
		return anyHost + ":" + port, err
	}
	return net.JoinHostPort(host, port), nil
}

// parseListenAddr normalises an address to listen on, in the form
// net.Listen takes: ":3000" for any address.
func parseListenAddr(s string) (string, error) {
	host, port, err := splitAddr(s)
	if host == anyHost {
		host = ""
	}
	return net.JoinHostPort(host, port), err
}

// parseHTTPURL accepts an http:// or https:// URL with a host.
func parseHTTPURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid URL %q: want http:// or https:// and a host, e.g. \"http://127.0.0.1:3000/health\"", s)
	}
	return u.String(), nil
}

// endpoint is a socket's parsed listen address.
type endpoint struct {
	network string // "tcp" or "unix"
	address string // for net.Listen
}

// parseListen parses a socket's listen = "tcp://host:port" or
// "unix:///absolute/path".
func parseListen(s string) (endpoint, error) {
	network, rest, _ := strings.Cut(strings.TrimSpace(s), "://")
	switch network {
	case "tcp":
		address, err := parseListenAddr(rest)
		return endpoint{network, address}, err
	case "unix":
		if !filepath.IsAbs(rest) {
			return endpoint{}, fmt.Errorf("invalid unix socket %q: want an absolute path, e.g. \"unix:///run/app.sock\"", s)
		}
		return endpoint{network, filepath.Clean(rest)}, nil
	}
	return endpoint{}, fmt.Errorf("invalid listen address %q: want \"tcp://host:port\" or \"unix:///path\", e.g. \"tcp://127.0.0.1:3000\"", s)
}

// oneOf returns a parser that accepts exactly the given values.
func oneOf[T ~string](valid ...T) func(string) (T, error) {
	return func(s string) (T, error) {
		for _, v := range valid {
			if string(v) == s {
				return v, nil
			}
		}
		names := make([]string, len(valid))
		for i, v := range valid {
			names[i] = strconv.Quote(string(v))
		}
		return "", fmt.Errorf("%q is not valid: use one of %s", s, strings.Join(names, ", "))
	}
}

// between returns a parser for an integer in [lo, hi].
func between(lo, hi int) func(int) (int, error) {
	return func(n int) (int, error) {
		if n < lo || n > hi {
			return 0, fmt.Errorf("%d is out of range: use a number from %d to %d", n, lo, hi)
		}
		return n, nil
	}
}

// atLeast returns a parser for an integer >= lo.
func atLeast(lo int) func(int) (int, error) {
	return func(n int) (int, error) {
		if n < lo {
			return 0, fmt.Errorf("%d is too small: use %d or more", n, lo)
		}
		return n, nil
	}
}

// within returns a parser that resolves a relative path against base.
func within(base string) func(string) (string, error) {
	return func(p string) (string, error) {
		if p == "" {
			return "", errors.New("empty path: remove the attribute or give a path")
		}
		if strings.ContainsRune(p, 0) {
			return "", errors.New("the path contains a NUL byte, which no path can hold: remove it")
		}
		if filepath.IsAbs(p) {
			return filepath.Clean(p), nil
		}
		return filepath.Join(base, p), nil
	}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// checkName validates a process or socket name: it appears in instance names
// ("api:2"), LISTEN_FDNAMES (colon separated) and metric labels.
func checkName(kind, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%s name %q is not valid: use letters, digits, '_', '-' and '.', starting with a letter or digit", kind, name)
	}
	if kind == "process" && name == "all" {
		return fmt.Errorf(`process name "all" is reserved: supctl takes it for every process; choose another name`)
	}
	return nil
}
