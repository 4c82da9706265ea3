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
	return json.Marshal(plain(s))
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
}

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
}

// Holder says who holds an address.
type Holder struct {
	Address string `json:"address"` // "tcp:127.0.0.1:3000"
	Pid     int    `json:"pid"`     // 0 = nobody
	Command string `json:"command"` // comm of that pid
	InTree  bool   `json:"in_tree"` // part of this process's tree
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

// ErrUnknown is wrapped by errors of the supervisor about a name that is neither a
// process nor an instance. The control server answers 404.
var ErrUnknown = errors.New("no such process")

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
