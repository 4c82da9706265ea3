package supervisor

import (
	"slices"

	"github.com/sup-sh/sup/supervisor/reaper"
)

// Reaper is the supervisor's reaper, the one owner of wait4 in supd:
// whatever else supd starts (hook commands) must start through it. It
// reaps while Run runs.
func (s *Supervisor) Reaper() *reaper.Reaper { return s.reaper }

// ChildEnv is the environment supd's children start from: supd's own,
// minus what they must not inherit (NOTIFY_SOCKET, LISTEN_*, ...).
func (s *Supervisor) ChildEnv() []string { return slices.Clone(s.env) }
