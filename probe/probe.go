// Package probe answers "is this process tree really serving?": which
// sockets a process tree listens on (through the kernel's sock_diag, matched
// against the tree's open fds), who else holds an address, and the readiness
// and liveness checks of the contract (tcp, unix, http, exec, notify,
// notification_fd, log).
//
// The supervisor owns process state; probe only observes. Every blocking
// call takes a context and returns when it is cancelled.
//
// How a tcp readiness check stays cheap: while nothing listens, one look is
// a single exact sock_diag lookup of the configured address (about 1µs, no
// allocation, whatever the number of sockets). When a listener would take
// its connections, a LISTEN dump filtered in the kernel by source port
// (INET_DIAG_REQ_BYTECODE) lists the candidates, which are matched by inode
// against /proc/PID/fd of the tree: the root first, then the members found
// by one /proc scan. What the tree listens on instead (for "listening on
// X, config says Y") is diagnosed on a slower schedule. When netlink is not
// available, /proc/net/{tcp,tcp6,unix} are parsed instead.
package probe

import "context"

// Runner runs a command to completion and returns its exit code and combined
// output. supd's reaper implements it, so exec checks never race the reaper
// for exit statuses. A command killed by a signal returns code 128+n.
type Runner interface {
	Run(ctx context.Context, argv []string, dir string, env []string) (code int, output []byte, err error)
}

// Result is one readiness progress report.
type Result struct {
	Ready     bool
	Reason    string   // why not ready, in the contract's words; "" when ready
	Listening []string // what the tree listens on now: "tcp:127.0.0.1:3000", "unix:/run/a.sock"
	Status    string   // last STATUS= from sd_notify, if any
}

// HealthResult is one liveness check report.
type HealthResult struct {
	OK       bool
	Reason   string // why it failed; "" when OK
	Failures int    // consecutive failures so far
	Restart  bool   // failures reached the threshold, or max_memory exceeded: restart it
}

// Holder is a process that holds a listening socket.
type Holder struct {
	Pid     int
	Command string // comm
	Address string // "tcp:127.0.0.1:3000"
}
