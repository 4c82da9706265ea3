package probe

import (
	"regexp"
	"time"
)

// ReadySpec is what "ready" means for a process (its `ready { }` block in
// the config). With no check set, a service is ready once
// spawned (a oneshot once it exited 0).
type ReadySpec struct {
	TCP            string   // "" or host:port, normalised ("127.0.0.1:3000", "[::1]:3000", "0.0.0.0:80", "[::]:80")
	Unix           string   // "" or a socket path (absolute or relative to dir, resolved to absolute)
	HTTP           string   // "" or a URL
	Exec           []string // nil or argv
	Notify         bool
	NotificationFD int            // 0 = unset; else >= 3
	Log            *regexp.Regexp // nil = unset
	Timeout        time.Duration  // default 60s
	// Accepting are sockets that supd holds and passes to the process: the
	// spawn is ready only once its tree accepts a connection from each of
	// them (see the accept check). Set by the config loader for a tcp or
	// unix check whose address is a held socket, and for a service with
	// sockets and no ready block.
	Accepting []HeldSocket
}

// HeldSocket is a listening socket held by supd, as its accept check
// connects to it.
type HeldSocket struct {
	Network string // "tcp" or "unix"
	Address string // tcp: "127.0.0.1:3000", ":3000" (any address), "[::]:3000"; unix: a path
}

// HasChecks reports whether any readiness check is configured.
func (r ReadySpec) HasChecks() bool {
	return r.TCP != "" || r.Unix != "" || r.HTTP != "" || len(r.Exec) > 0 ||
		r.Notify || r.NotificationFD != 0 || r.Log != nil || len(r.Accepting) > 0
}

// HealthSpec are the liveness checks run after ready (the `health { }`
// block).
type HealthSpec struct {
	HTTP      string
	TCP       string
	Exec      []string
	Interval  time.Duration // default 10s
	Failures  int           // default 3
	MaxMemory int64         // bytes; 0 = unlimited
}

// HasChecks reports whether any liveness check is configured.
func (h HealthSpec) HasChecks() bool {
	return h.HTTP != "" || h.TCP != "" || len(h.Exec) > 0 || h.MaxMemory > 0
}
