// Package api holds the wire types of supd's control socket (HTTP+JSON over
// a Unix socket). Field names are part of the user-facing contract: scripts
// parse `supctl status --json` and `supctl events --json`.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// State names, exactly as the contract spells them.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateBackoff  = "backoff"
	StateStopping = "stopping"
	StateStopped  = "stopped"
	StateExited   = "exited"
	StateFatal    = "fatal"
)

// Status is one process instance as `supctl status --json` shows it.
type Status struct {
	Name       string   `json:"name"`     // "api" or "api:2"
	Process    string   `json:"process"`  // "api"
	Instance   int      `json:"instance"` // 0-based
	State      string   `json:"state"`
	Ready      bool     `json:"ready"`
	Pid        int      `json:"pid"` // 0 when none
	Restarts   int      `json:"restarts"`
	UptimeMs   int64    `json:"uptime_ms"`
	ExitCode   *int     `json:"exit_code"`   // of the last exit; null when none or killed by a signal
	ExitSignal *string  `json:"exit_signal"` // "SIGKILL" or null
	Listening  []string `json:"listening"`   // never null: [] when none
	Reason     string   `json:"reason"`      // empty when ready
	// ReplacingPid is, while a new spawn is replacing the instance's
	// current one (a rolling reload with held sockets), the pid of the old
	// spawn still serving; 0 otherwise. The other fields describe the new
	// spawn.
	ReplacingPid int `json:"replacing_pid"`
	// Sockets are the sockets supd holds for it (its `sockets`): with
	// them a rolling reload starts the new spawn beside the old one,
	// without them the old one stops first.
	Sockets []string `json:"sockets,omitempty"`

	// AcceptQueue has one entry per listening socket of the process
	// tree (its own, or held by supd and passed to it); never null.
	AcceptQueue []ListenQueue `json:"accept_queue"`
	// Warning says what is wrong although the state may look fine, e.g.
	// OverloadWarning's; empty when nothing is.
	Warning string `json:"warning"`

	// Beyond the contract's minimum.

	// Desired is what supd is driving the instance towards: DesiredRunning,
	// or DesiredStopped when it was stopped by request (supctl stop) or is
	// being removed by a reload. Empty when the backend does not say; then
	// an instance in StateStopped counts as stopped by request.
	// `supctl wait` with no NAME skips the instances desired stopped.
	Desired     string     `json:"desired,omitempty"`
	Critical    bool       `json:"critical"`
	CPUPercent  float64    `json:"cpu_percent"`
	MemoryBytes int64      `json:"memory_bytes"` // RSS of the whole tree
	Expect      []string   `json:"expect"`       // what the ready block says it should listen on, e.g. "tcp:127.0.0.1:3000"
	StartedAt   *time.Time `json:"started_at,omitempty"`
	// LogDropped counts the output lines the log file (`log { file }`)
	// could not take, disk full or unwritable, since supd started.
	LogDropped int64 `json:"log_dropped"`
	// ScaledInstances and ConfigInstances are, while `supctl scale` runs
	// another number of instances of the process than its file says, that
	// number and the file's (both 0 otherwise). The next config reload goes
	// back to the file's.
	ScaledInstances int `json:"scaled_instances,omitempty"`
	ConfigInstances int `json:"config_instances,omitempty"`
}

// Desired states (Status.Desired).
const (
	DesiredRunning = "running"
	DesiredStopped = "stopped"
)

// StoppedByRequest reports whether supd is driving s towards stopped on
// purpose: Desired says so or, when the backend does not say, s is stopped.
func (s Status) StoppedByRequest() bool {
	if s.Desired != "" {
		return s.Desired == DesiredStopped
	}
	return s.State == StateStopped
}

// MarshalJSON encodes s with Listening and Expect as [] rather than null
// when empty, as the contract promises to scripts.
func (s Status) MarshalJSON() ([]byte, error) {
	type plain Status // without the method, to avoid recursion
	if s.Listening == nil {
		s.Listening = []string{}
	}
	if s.Expect == nil {
		s.Expect = []string{}
	}
	if s.AcceptQueue == nil {
		s.AcceptQueue = []ListenQueue{}
	}
	return json.Marshal(plain(s))
}

// ListenQueue is the accept queue of one listening socket: connections the
// kernel has completed that wait for the application's accept(2).
type ListenQueue struct {
	Listen  string `json:"listen"`  // "tcp:127.0.0.1:3000", "unix:/run/app.sock"
	Queued  int    `json:"queued"`  // waiting now
	Backlog int    `json:"backlog"` // the most that may wait; 0 when unknown
}

// Full reports whether q is at its backlog: the kernel drops (TCP) or
// refuses with EAGAIN (Unix) the connections beyond it.
func (q ListenQueue) Full() bool { return q.Backlog > 0 && q.Queued >= q.Backlog }

// Shown is q's address as messages show it: TCP ones bare
// ("127.0.0.1:3000"), Unix ones with their "unix:".
func (q ListenQueue) Shown() string { return strings.TrimPrefix(q.Listen, "tcp:") }

// OverloadWarning is Status.Warning for the accept queues qs: "overloaded:
// accept queue full on 127.0.0.1:3000 (4096/4096); new connections are
// dropped", naming every full queue; "" when none is full.
func OverloadWarning(qs []ListenQueue) string {
	var full []string
	for _, q := range qs {
		if q.Full() {
			full = append(full, fmt.Sprintf("%s (%d/%d)", q.Shown(), q.Queued, q.Backlog))
		}
	}
	if len(full) == 0 {
		return ""
	}
	return "overloaded: accept queue full on " + strings.Join(full, ", ") + "; new connections are dropped"
}

// ExitText says how a process ended: "exited 1", "killed by SIGKILL", or
// "" when neither is known.
func ExitText(code *int, signal *string) string {
	switch {
	case signal != nil:
		return "killed by " + *signal
	case code != nil:
		return "exited " + strconv.Itoa(*code)
	}
	return ""
}

// Count is n with its noun, singular for one: "1 restart", "2 restarts".
// noun must take a plain -s plural.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Detail says why an instance is in state: reason or, when there is none
// and the state is one reached by exiting (backoff, exited, fatal), how it
// exited (see ExitText).
func Detail(state, reason string, code *int, signal *string) string {
	if reason == "" && (state == StateBackoff || state == StateExited || state == StateFatal) {
		return ExitText(code, signal)
	}
	return reason
}

// Event is one state change, as `supctl events --json` streams it.
type Event struct {
	Time       time.Time `json:"time"`
	Name       string    `json:"name"`
	Process    string    `json:"process"`
	Instance   int       `json:"instance"`
	From       string    `json:"from"`
	State      string    `json:"state"`
	Ready      bool      `json:"ready"`
	Pid        int       `json:"pid"`
	Restarts   int       `json:"restarts"`
	ExitCode   *int      `json:"exit_code"`
	ExitSignal *string   `json:"exit_signal"`
	Reason     string    `json:"reason"`

	// Type is EventWarning for a warning event, "" for a state change.
	// A warning event is sent when the instance's Status.Warning appears,
	// changes or clears; From and State are then both its current state.
	Type    string `json:"type,omitempty"`
	Warning string `json:"warning,omitempty"` // the new Status.Warning, "" when it cleared
}

// EventWarning is Event.Type of a warning event.
const EventWarning = "warning"

// LogLine is one line of a process's output.
type LogLine struct {
	Time   time.Time `json:"time"`
	Name   string    `json:"name"`
	Stream string    `json:"stream"` // "stdout" | "stderr"
	Line   string    `json:"line"`
	// Missed, when not 0, makes this a marker and not a line: a follower
	// fell behind and that many lines were not sent to it here (they are
	// in the log file, when the process has one).
	Missed int `json:"missed,omitempty"`
}

// Why is the answer to `supctl why NAME`: the 502 checklist.
type Why struct {
	Status    Status    `json:"status"`
	Expect    []string  `json:"expect"`     // configured ready addresses
	Holders   []Holder  `json:"holders"`    // who holds each expected address
	LastExit  string    `json:"last_exit"`  // "exited 1 at 12:00:01 after 2.1s", "" when none
	LastLines []LogLine `json:"last_lines"` // last output lines before the last exit (or recent ones)
	Probe     string    `json:"probe"`      // last readiness / health probe result
	Checks    []Check   `json:"checks"`     // the checklist, in order

	Connects    []Connect    `json:"connects"`        // a connect from supd to each configured address
	UnixSockets []UnixSocket `json:"unix_sockets"`    // the file at each configured Unix socket path
	Upstreams   []ProxyCheck `json:"upstreams"`       // nginx's targets served by (or meant for) this process
	Nginx       string       `json:"nginx,omitempty"` // where nginx's config was read, or why it could not be
}

// Connect is one connection attempt from supd to a configured address.
type Connect struct {
	Address  string  `json:"address"` // "tcp:127.0.0.1:3000"
	Accepted bool    `json:"accepted"`
	Ms       float64 `json:"ms"` // until accepted or failed
	// Result: "accepted in 0.3 ms", "refused", "no answer within 1s" (a
	// full TCP accept queue, or a firewall that drops), "accept queue
	// full" (Unix), "permission denied", "no such socket file".
	Result string `json:"result"`
}

// UnixSocket is the file at a configured Unix socket path.
type UnixSocket struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Mode   string `json:"mode"`  // "srwxrwx---"
	Owner  string `json:"owner"` // user name
	Group  string `json:"group"` // group name
	// Stale: a socket file nobody listens on; connects are refused.
	Stale bool `json:"stale"`
	// ProxyAccess says why nginx's user cannot connect ("www-data cannot
	// write /run/app.sock (srwxr-xr-x root:root)"); "" when it can or
	// nginx's config is not known.
	ProxyAccess string `json:"proxy_access"`
}

// Holder says who holds an address.
type Holder struct {
	Address string `json:"address"` // "tcp:127.0.0.1:3000"
	Pid     int    `json:"pid"`     // 0 = nobody
	Command string `json:"command"` // comm of that pid
	InTree  bool   `json:"in_tree"` // part of this process's tree
	// StaleFile: nobody holds this Unix address, but a socket file is in
	// the way (a connect is refused; a bind fails until it is removed).
	StaleFile bool `json:"stale_file,omitempty"`
}

// Check is one line of the checklist.
type Check struct {
	Question string `json:"question"`
	OK       bool   `json:"ok"`
	Answer   string `json:"answer"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
	// Diagnostics, for a reload with a bad config: FILE:LINE:COL lines.
	Diagnostics string `json:"diagnostics,omitempty"`
}

// ActionRequest is the body of POST /start, /stop, /restart, /reload, /wait.
type ActionRequest struct {
	Names   []string `json:"names"`
	Wait    bool     `json:"wait"`
	Timeout string   `json:"timeout,omitempty"` // Go duration; "" = server default
	// AllowEmpty lets a config reload apply a config with no processes
	// (which stops everything); without it such a reload is refused.
	AllowEmpty bool `json:"allow_empty,omitempty"`
}

// ScaleRequest is the body of POST /scale: run Instances instances of
// Process until the next config reload.
type ScaleRequest struct {
	Process   string `json:"process"`
	Instances int    `json:"instances"`
	Wait      bool   `json:"wait"`              // until the new instances are ready and the removed ones gone
	Timeout   string `json:"timeout,omitempty"` // Go duration; "" = server default
}

// SignalRequest is the body of POST /signal: send Signal ("SIGHUP") to
// the process trees of the named instances (no names: every instance).
type SignalRequest struct {
	Names  []string `json:"names"`
	Signal string   `json:"signal"`
}

// ErrUnknown is wrapped by errors of the supervisor about a name that is neither a
// process nor an instance. The control server answers 404.
var ErrUnknown = errors.New("no such process")

// ErrNotRunning is wrapped by errors of the supervisor about an action
// that needs a running process (a signal) when none of the named
// instances has one. The control server answers 409.
var ErrNotRunning = errors.New("not running")

// ErrShuttingDown is wrapped by errors of the supervisor about a request that comes
// while supd stops everything. The control server answers 503.
var ErrShuttingDown = errors.New("supd is shutting down")

// ReloadError is a reload refused because of a bad config; nothing changed.
type ReloadError struct {
	// Diagnostics are the config errors, one "FILE:LINE:COL: error: ..."
	// first line each, with their source snippets.
	Diagnostics string
}

func (e *ReloadError) Error() string { return "bad config, nothing reloaded" }

// DefaultSocketPath is the control socket when the file sets none:
// /run/supd.sock for root, else $XDG_RUNTIME_DIR/supd.sock, else
// /tmp/supd-$UID/supd.sock (supd creates that directory 0700 and refuses
// it when another user owns it or it is not a directory).
func DefaultSocketPath() string {
	return defaultSocketPathFor(os.Geteuid(), os.Getuid(), os.Getenv("XDG_RUNTIME_DIR"))
}

func defaultSocketPathFor(euid, uid int, runtimeDir string) string {
	switch {
	case euid == 0:
		return "/run/supd.sock"
	case runtimeDir != "":
		return filepath.Join(runtimeDir, "supd.sock")
	}
	return fmt.Sprintf("/tmp/supd-%d/supd.sock", uid)
}

// ProxyCheckRequest is the body of POST /check-proxy: the upstream
// targets of a proxy's config (read by supctl), to be checked against what
// really listens.
type ProxyCheckRequest struct {
	User    string        `json:"user"`  // the proxy workers' user, e.g. "www-data"
	Group   string        `json:"group"` // and group
	Targets []ProxyTarget `json:"targets"`
}

// ProxyTarget is one address the proxy sends requests to.
type ProxyTarget struct {
	// Address as the proxy connects: "127.0.0.1:3000", "localhost:3000",
	// "[::1]:3000", "unix:/run/app.sock".
	Address   string `json:"address"`
	Where     string `json:"where"`              // FILE:LINE in the proxy's config
	Directive string `json:"directive"`          // "server" (in an upstream), "proxy_pass", "fastcgi_pass", …
	Upstream  string `json:"upstream,omitempty"` // the upstream block, for a server in one
}

// ProxyCheck is one row of `supctl check-proxy`.
type ProxyCheck struct {
	ProxyTarget
	Process string `json:"process"` // the supervised instance serving it, or meant to; "" when none
	// Kind is the verdict as a fixed word, for scripts: one of the
	// Verdict* constants.
	Kind string `json:"kind"`
	// Verdict is the contract's phrase: "ok", "not ready (REASON)",
	// "nobody listening", "held by pid N (PROG), not supervised",
	// "listens on ADDR instead", "socket not accessible to nginx's user",
	// "overloaded".
	Verdict string `json:"verdict"`
	// Detail names the nearest mismatch or the cause: "unix socket path
	// differs: /run/api.sock vs /run/app.sock", "www-data cannot write
	// /run/app.sock (srwxr-xr-x root:root)", "stale socket file …".
	Detail string `json:"detail"`
}

// OK reports whether the target is served.
func (c ProxyCheck) OK() bool { return c.Kind == VerdictOK }

// Verdict kinds (ProxyCheck.Kind).
const (
	VerdictOK               = "ok"
	VerdictNotReady         = "not_ready"
	VerdictNobodyListening  = "nobody_listening"
	VerdictHeldElsewhere    = "held_elsewhere"
	VerdictListensElsewhere = "listens_elsewhere"
	VerdictNotAccessible    = "not_accessible"
	VerdictOverloaded       = "overloaded"
)

// OutcomeError is an action whose targets can no longer reach its outcome:
// one went fatal or exited, was stopped by request, was removed, or the
// new spawn of a rolling reload was not ready in time. The control server
// answers 409; supctl exits 1 with the message.
type OutcomeError struct{ Msg string }

func (e *OutcomeError) Error() string { return e.Msg }

// Describe says where an instance is and why, as in
// "api:1 is fatal: exited 1 before binding".
func Describe(st Status) string {
	s := st.Name + " is " + st.State
	if st.State == StateRunning && !st.Ready {
		s += ", not ready"
	}
	if detail := Detail(st.State, st.Reason, st.ExitCode, st.ExitSignal); detail != "" {
		s += ": " + detail
	}
	return s
}
