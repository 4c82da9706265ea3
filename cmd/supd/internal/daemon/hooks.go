package daemon

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/hooks"
)

// hookLines is how many of the last output lines a hook gets.
const hookLines = 20

// newHooks returns the runner of the config's hooks, started until ctx is
// done. The supervisor's event hook feeds it (hookEvent); a reload
// replaces its hooks.
func newHooks(ctx context.Context, cfg *config.Config, sup *supervisor.Supervisor, log zerolog.Logger) *hooks.Runner {
	r := hooks.New(cfg.Hooks, hooks.Options{
		Log:     log.With().Str("component", "hooks").Logger(),
		Starter: sup.Reaper(),
		Env:     sup.ChildEnv(),
		LastLines: func(name string) []string {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			lines, err := sup.Logs(ctx, name, hookLines, time.Time{}, false)
			if err != nil {
				return nil
			}
			var out []string
			for l := range lines {
				out = append(out, l.Line)
			}
			return out
		},
	})
	go r.Run(ctx)
	return r
}

// hookKinds are the supervisor's events that hooks are for.
var hookKinds = map[supervisor.EventKind]hooks.Kind{
	supervisor.EventCrash:   hooks.Crash,
	supervisor.EventFatal:   hooks.Fatal,
	supervisor.EventReady:   hooks.Ready,
	supervisor.EventUnready: hooks.Unready,
}

// hookEvent is the hook event that ev stands for, if any.
func hookEvent(ev supervisor.Event) (hooks.Event, bool) {
	k, ok := hookKinds[ev.Kind]
	if !ok {
		return hooks.Event{}, false
	}
	return hooks.Event{
		Kind: k, Time: ev.Time, Name: ev.Name, Process: ev.Process, Instance: ev.Instance, State: ev.State,
		Pid: ev.Pid, ExitCode: ev.ExitCode, ExitSignal: ev.ExitSignal, Restarts: ev.Restarts, Reason: ev.Reason,
	}, true
}
