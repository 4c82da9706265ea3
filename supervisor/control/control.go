// Package control is supd's control socket: an HTTP+JSON API over a Unix
// socket (mode 0600), its server and its client.
//
// Routes (request and response bodies are the types of package api):
//
//	GET  /status?name=N...            200 []api.Status
//	POST /start, /stop, /restart      api.ActionRequest -> 200 []api.Status
//	POST /reload                      api.ActionRequest (no names: re-read the config) -> 200 []api.Status
//	POST /wait                        api.ActionRequest (no names: every process not stopped by request)
//	POST /scale                       api.ScaleRequest -> 200 []api.Status of the process
//	POST /signal                      api.SignalRequest (no names: all) -> 200 []api.Status of the targets
//	GET  /why?name=N                  200 api.Why
//	GET  /logs?name=N&n=50&since=T&follow=1   200 NDJSON stream of api.LogLine (n=-1: all; T: RFC 3339)
//	POST /check-proxy                 api.ProxyCheckRequest -> 200 []api.ProxyCheck
//	GET  /events                      200 NDJSON stream of api.Event
//
// Every other answer is an api.Error: 400 bad request, 404 unknown name,
// 409 the wait failed (a target ended fatal, or exited without being ready)
// or a signal found no process to send to,
// 422 a reload found a bad config (with Diagnostics), 503 supd is shutting
// down, 504 the wait timed out, 500 anything else.
//
// The server knows nothing of supervisor internals: it serves a Backend.
// Whether an action is complete is the Backend's to say (it owns the
// state); the server only waits for that, bounded by the timeout, and maps
// the outcome to a status code.
package control

import (
	"context"
	"syscall"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
)

// Backend is what the control server serves: the supervisor.
//
// A name is a process ("api": all its instances) or one instance ("api:2").
// Methods given a name that does not exist return an error wrapping
// ErrUnknown, as fmt.Errorf("%w: %q", ErrUnknown, name).
type Backend interface {
	// Status returns the named instances, all when names is empty, in a
	// stable order (config order).
	Status(ctx context.Context, names []string) ([]api.Status, error)

	// Start, Stop, Restart, Reload and Wait apply the action and return
	// once it is applied (a Status call right after sees it), with a
	// channel that receives once when it is complete: nil when every
	// target reached the outcome (start, restart, reload, wait: ready,
	// with a new spawn for restart and reload; stop: down), or an
	// *api.OutcomeError when one can no longer get there. The supervisor,
	// which owns the state, decides; the server only waits, bounded by
	// the request's timeout.
	Start(ctx context.Context, names []string) (<-chan error, error)
	Stop(ctx context.Context, names []string) (<-chan error, error)
	Restart(ctx context.Context, names []string) (<-chan error, error)

	// Reload rolls the named processes; with no names it re-reads the
	// config and applies the difference (refusing a config without
	// processes unless allowEmpty). A bad config changes nothing and
	// returns a *api.ReloadError.
	Reload(ctx context.Context, names []string, allowEmpty bool) (<-chan error, error)

	// Wait completes when the named instances (with no names: every
	// instance not stopped by request) are ready.
	Wait(ctx context.Context, names []string) (<-chan error, error)

	// Scale runs n instances of process (a process name, not an
	// instance) until the next config reload: new instances are evaluated
	// with their own `instance` and started; the highest ones beyond n are
	// stopped and removed once down. It returns once applied, like Start,
	// with a channel that receives once instances 0 to n-1 are ready and
	// the higher ones gone (or an *api.OutcomeError).
	Scale(ctx context.Context, process string, n int) (<-chan error, error)

	// SendSignal sends sig to the process tree of every named instance
	// that runs (all when names is empty). It fails when none of them
	// runs.
	SendSignal(ctx context.Context, names []string, sig syscall.Signal) error

	// Why answers the 502 checklist for one process or instance.
	Why(ctx context.Context, name string) (api.Why, error)

	// CheckProxy checks each target of a proxy's config against what
	// really listens there: one api.ProxyCheck per target, in order.
	CheckProxy(ctx context.Context, req api.ProxyCheckRequest) ([]api.ProxyCheck, error)

	// Logs sends the last n lines of name (n < 0: no limit; all instances
	// of a process, interleaved by time; every instance when name is "") at or
	// after since (zero: no
	// limit), from the log file when the buffer does not reach, and, when
	// follow is set, every new line until ctx is done, or a marker
	// (api.LogLine.Missed) where lines were missed. Neither a gap nor a
	// line twice between the two. The backend closes the channel at the
	// end; it must not block forever on a send once ctx is done.
	Logs(ctx context.Context, name string, n int, since time.Time, follow bool) (<-chan api.LogLine, error)

	// Subscribe returns every state change from now on. The channel is
	// closed when ctx is done. A slow reader may miss events but never
	// blocks the supervisor.
	Subscribe(ctx context.Context) <-chan api.Event
}

// Action is an operation on processes; it is also the path of its POST
// route.
type Action string

// The actions.
const (
	ActionStart   Action = "start"
	ActionStop    Action = "stop"
	ActionRestart Action = "restart"
	ActionReload  Action = "reload"
	ActionWait    Action = "wait" // no action: only wait until ready
)
