// Package config loads sup process files (HCL) into resolved, validated
// values. Everything the rest of sup needs is in the types below; nothing
// outside this package touches HCL except hooks, whose command is evaluated
// when the hook fires.
//
// Load never starts anything: it returns a *Config or diagnostics.
package config

import (
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sup-sh/sup/probe"
)

// Config is a whole, validated set of process files.
type Config struct {
	Supervisor Supervisor
	Sockets    []*Socket  // in file order
	Processes  []*Process // in file order; names are unique
	Hooks      []*Hook
	// Order is the process names in dependency order: every process comes
	// after all of its depends_on targets. Shutdown walks it backwards.
	Order []string

	// Warnings are the non-fatal diagnostics, printed like errors by
	// Warnings.Write; nil when there are none.
	Warnings *Error

	files map[string]*hcl.File // parsed files, for Describe
}

// Supervisor is the `supervisor { }` block.
type Supervisor struct {
	Socket          string        // control socket path; default applied (see DefaultSocketPath)
	SocketMode      fs.FileMode   // control socket mode; DefaultSocketMode unless socket_mode says 0660
	SocketGroup     string        // socket_group: the group that may use the socket; "" = supd's group, unused with 0600
	SocketGID       int           // SocketGroup's id, resolved at load; meaningful only when SocketGroup != ""
	HTTP            string        // "" = no HTTP endpoint; else host:port
	ShutdownTimeout time.Duration // default 30s
}

// Socket is a `socket "name" { }` block: a listening socket held by supd.
type Socket struct {
	Name    string
	Network string // "tcp" or "unix"
	Address string // "127.0.0.1:3000", "[::1]:3000", ":3000" (any address) or "/run/app.sock"
	Backlog int    // accept queue length; 0 = the kernel's somaxconn
	// Unix sockets only: the socket file's mode (default 0660), owner and
	// group ("" = supd's own).
	Mode  os.FileMode
	User  string
	Group string
	Range hcl.Range
	// attrs are the ranges of the attributes set, for errors found when
	// the socket is bound (AttrRange).
	attrs map[string]hcl.Range
}

// Type is a process type.
type Type string

const (
	Service Type = "service"
	Oneshot Type = "oneshot"
)

// Policy is a restart policy.
type Policy string

const (
	Always    Policy = "always"
	OnFailure Policy = "on-failure"
	Never     Policy = "never"
)

// Process is one `process "name" { }` block. Instances holds one resolved
// Spec per instance, evaluated with `instance` bound to its number.
type Process struct {
	Name      string
	Type      Type
	DependsOn []string
	Sockets   []string
	Critical  bool
	Instances []*Spec // len >= 1
	Range     hcl.Range

	eval func(k, n int) (*Spec, error) // instance k of n; see Spec
}

// Spec is everything needed to run one instance of a process.
type Spec struct {
	Process  string // "api"
	Instance int    // 0-based
	Name     string // "api" when the process has one instance, else "api:N"

	Command []string
	Dir     string
	Env     []string // "K=V", sorted by key; only what the file sets (see Environ)
	// EnvFiles are the env_file paths, absolute, in order: read at each
	// spawn by Environ.
	EnvFiles []string
	User     string // "" = supd's own user

	Type      Type
	DependsOn []string // process names
	Sockets   []string // socket names, passed in this order from fd 3
	// Listen is what each of Sockets listens on ("tcp://127.0.0.1:3000"),
	// so that a reload that moves a socket is a change of the spec.
	Listen   []string
	Critical bool

	Restart Restart
	Ready   Ready
	Health  Health
	Stop    Stop
	Log     Log
}

// Restart is the `restart { }` block, with defaults applied.
type Restart struct {
	Policy      Policy        // default Always
	Backoff     time.Duration // default 100ms
	MaxBackoff  time.Duration // default 30s
	ResetAfter  time.Duration // default 10s
	MaxRestarts int           // default 0 = no limit
	Window      time.Duration // default 60s
}

// Ready is the `ready { }` block: the readiness checks, which package
// probe runs.
type Ready = probe.ReadySpec

// Health is the `health { }` block (liveness checks after ready).
type Health = probe.HealthSpec

// Stop is the `stop { }` block.
type Stop struct {
	Drain   time.Duration  // default 0
	Signal  syscall.Signal // default SIGTERM
	Timeout time.Duration  // default 10s
}

// Log is the `log { }` block.
type Log struct {
	File     string // "" = only supd's own stream
	MaxSize  int64  // bytes; default 100MiB
	MaxFiles int    // default 5
	// Timestamps starts each line of the file with the time supd read it
	// (RFC 3339); default true.
	Timestamps bool
	// SupdStream: the lines also go to supd's own stream (default true).
	// false keeps a chatty process's lines in its file only.
	SupdStream bool
}

// Hook is a `hook "event" { }` block. Command is kept as an expression:
// it is evaluated when the hook fires, with `process` (and `instance`,
// `name`, `state`, `exit_code`) in scope.
type Hook struct {
	Event     string         // crash | fatal | ready | unready
	Command   hcl.Expression // nil when the hook has only a url
	URL       string         // "" when none: POST the event as JSON
	Processes []string       // nil: every process
	Timeout   time.Duration  // default 10s
	Range     hcl.Range

	processesRange hcl.Range
}

// Applies reports whether the hook fires for process.
func (h *Hook) Applies(process string) bool {
	return h.Processes == nil || slices.Contains(h.Processes, process)
}

// Empty reports whether the config defines no process: supd would run
// nothing, so a reload to it is refused unless asked for (--allow-empty).
func (c *Config) Empty() bool { return len(c.Processes) == 0 }

// Process returns the process with that name, or nil.
func (c *Config) Process(name string) *Process {
	for _, p := range c.Processes {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Socket returns the socket with that name, or nil.
func (c *Config) Socket(name string) *Socket {
	for _, s := range c.Sockets {
		if s.Name == name {
			return s
		}
	}
	return nil
}
