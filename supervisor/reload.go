package supervisor

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/restart"
)

// Reload implements control.Backend. With names, it starts restarting
// their instances one at a time, each once the previous one is ready again,
// and returns: the roll goes on in the background (the control server waits
// for it when asked). With none, it re-reads the config and applies the
// difference, returning once it is done: processes added are started,
// removed ones stopped, changed ones restarted one instance at a time. A bad
// config changes nothing.
func (s *Supervisor) Reload(ctx context.Context, names []string) error {
	if len(names) > 0 {
		snaps, err := s.snapshots(ctx, names)
		if err != nil {
			return err
		}
		go func() {
			if err := s.roll(s.life, snaps); err != nil {
				s.log.Error().Err(err).Strs("names", names).Msg("rolling restart stopped")
			}
		}()
		return nil
	}
	if s.reload == nil {
		return errors.New("this supd has no config file to reload")
	}
	if s.reloading != nil {
		s.reloading(true)
		defer s.reloading(false)
	}
	cfg, err := s.reload()
	if err != nil {
		return &api.ReloadError{Diagnostics: err.Error()}
	}
	var changed []string
	if err := s.call(ctx, func() { changed = s.apply(cfg) }); err != nil {
		return err
	}
	if len(changed) == 0 {
		return nil
	}
	snaps, err := s.snapshots(ctx, changed)
	if err != nil {
		return err
	}
	return s.roll(ctx, snaps)
}

// apply switches to cfg: starts added instances, stops and forgets removed
// ones, and returns the names of instances whose spec changed (their new
// spec is in place; rolling them is the caller's). Loop only.
func (s *Supervisor) apply(cfg *config.Config) (changed []string) {
	old := make(map[string]*instance, len(s.insts))
	for _, i := range s.insts {
		old[i.spec.Name] = i
	}
	var next []*instance
	for _, p := range cfg.Processes {
		for _, spec := range p.Instances {
			i, ok := old[spec.Name]
			delete(old, spec.Name)
			if !ok {
				i = s.newInstance(spec)
				next = append(next, i)
				defer s.start(i, false) // once s.insts and s.cfg are the new ones
				continue
			}
			if !sameSpec(i.spec, spec) {
				i.spec = spec
				i.tracker = restart.NewTracker(spec.Restart)
				changed = append(changed, spec.Name)
			}
			next = append(next, i)
		}
	}
	for _, i := range old {
		s.stop(i) // forgotten; its exit is still reaped and ignored
	}
	s.insts, s.cfg = next, cfg
	s.log.Info().Int("processes", len(cfg.Processes)).Strs("changed", changed).Msg("config reloaded")
	return changed
}

// sameSpec compares two specs; compiled regexps compare by source.
func sameSpec(a, b *config.Spec) bool {
	ac, bc := *a, *b
	if (ac.Ready.Log == nil) != (bc.Ready.Log == nil) ||
		(ac.Ready.Log != nil && ac.Ready.Log.String() != bc.Ready.Log.String()) {
		return false
	}
	ac.Ready.Log, bc.Ready.Log = nil, nil
	return reflect.DeepEqual(ac, bc)
}

// roll restarts the instances one at a time, waiting for each to be ready
// (or down by policy) before the next.
func (s *Supervisor) roll(ctx context.Context, snaps []snapshot) error {
	for _, sn := range snaps {
		if sn.status.State == api.StateStopped && sn.status.Reason == "" {
			continue // stopped by request: stays stopped
		}
		if err := s.restartAndWait(ctx, sn.status.Name); err != nil {
			return err
		}
	}
	return nil
}

// restartAndWait restarts one instance and waits until it is ready again.
func (s *Supervisor) restartAndWait(ctx context.Context, name string) error {
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	events := s.Subscribe(sub)
	if err := s.Restart(ctx, []string{name}); err != nil {
		return err
	}
	for {
		st, err := s.Status(ctx, []string{name})
		if err != nil {
			return err
		}
		switch {
		case st[0].Ready:
			return nil
		case st[0].State == api.StateFatal || st[0].State == api.StateExited:
			return fmt.Errorf("%s is %s: %s", name, st[0].State, st[0].Reason)
		}
		select {
		case <-events:
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %s (%w)", name, st[0].Reason, ctx.Err())
		}
	}
}
