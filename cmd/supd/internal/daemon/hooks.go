package daemon

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/hooks"
)

// hookLines is how many of the last output lines a hook gets.
const hookLines = 20

// startHooks runs the config's hooks on the supervisor's state changes
// until ctx is done. It returns the runner, whose hooks a reload replaces.
//
// The seam: the supervisor's state-change stream (Subscribe), turned into
// hook events by hookClassifier. When the supervisor gets its typed event
// hook (an event with a Kind), feed runner.Fire from it instead and delete
// hookClassifier.
func startHooks(ctx context.Context, cfg *config.Config, sup *supervisor.Supervisor, log zerolog.Logger) *hooks.Runner {
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
	events := sup.Subscribe(ctx)
	go r.Run(ctx)
	go func() {
		c := hookClassifier{ready: map[string]bool{}}
		for e := range events {
			for _, he := range c.classify(e) {
				r.Fire(he)
			}
		}
	}()
	return r
}

// hookClassifier tells, from the state changes of the instances, which
// hook events happened. It remembers which instances were ready.
type hookClassifier struct{ ready map[string]bool }

// classify returns the hook events e stands for: crash (a run ended
// without being asked to: from starting or running to backoff, fatal, or
// exited with anything but a clean 0), fatal, ready, unready (was ready).
func (c *hookClassifier) classify(e api.Event) []hooks.Event {
	ev := func(k hooks.Kind) hooks.Event {
		return hooks.Event{
			Kind: k, Time: e.Time, Name: e.Name, Process: e.Process, Instance: e.Instance, State: e.State,
			Pid: e.Pid, ExitCode: e.ExitCode, ExitSignal: e.ExitSignal, Restarts: e.Restarts, Reason: e.Reason,
		}
	}
	var out []hooks.Event
	ran := e.From == api.StateStarting || e.From == api.StateRunning
	switch e.State {
	case api.StateBackoff, api.StateFatal:
		if ran {
			out = append(out, ev(hooks.Crash))
		}
	case api.StateExited:
		if ran && (e.ExitCode == nil || *e.ExitCode != 0) {
			out = append(out, ev(hooks.Crash))
		}
	}
	if e.State == api.StateFatal && e.From != api.StateFatal {
		out = append(out, ev(hooks.Fatal))
	}
	was := c.ready[e.Name]
	switch {
	case e.Ready && !was:
		out = append(out, ev(hooks.Ready))
	case !e.Ready && was:
		out = append(out, ev(hooks.Unready))
	}
	c.ready[e.Name] = e.Ready
	return out
}
