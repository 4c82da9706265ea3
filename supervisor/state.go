package supervisor

import "github.com/sup-sh/sup/supervisor/api"

// State is the lifecycle state of one process instance.
//
//	            start (deps ready)           ready check passes
//	stopped ──────────────────▶ starting ───────────────────────▶ running
//	   ▲                         │  ▲  │ exit / not ready in time    │ exit, unhealthy
//	   │                         │  │  ▼                             ▼
//	   │ stop                    │ backoff ◀──── restart policy: restart after delay
//	   │                         │         ──── policy done ──▶ exited
//	stopping ◀── stop ───────────┘         ──── too many / cannot spawn ──▶ fatal
//
// starting with pid 0 means "waiting for depends_on". Every transition is
// made by the supervisor loop, and events carry the generation of the spawn
// they belong to, so a late timer or probe result of an earlier spawn is
// ignored.
type State int

const (
	Stopped State = iota
	Starting
	Running
	Backoff
	Stopping
	Exited
	Fatal
)

var stateNames = [...]string{
	Stopped:  api.StateStopped,
	Starting: api.StateStarting,
	Running:  api.StateRunning,
	Backoff:  api.StateBackoff,
	Stopping: api.StateStopping,
	Exited:   api.StateExited,
	Fatal:    api.StateFatal,
}

func (s State) String() string { return stateNames[s] }

// down reports whether nothing of the instance is running or about to be.
func (s State) down() bool { return s == Stopped || s == Exited || s == Fatal }
