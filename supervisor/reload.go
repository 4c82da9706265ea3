package supervisor

import (
	"context"
	"errors"
	"reflect"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/restart"
)

// Reload implements control.Backend. With names, it restarts their
// instances one at a time, each once the previous one is ready again. With
// none, it re-reads the config and applies the difference: processes added
// are started, removed ones stopped, changed ones restarted one instance
// at a time. Reloads are applied one at a time, each reading the files when
// it is applied; a later one takes over the roll of an earlier one. A bad
// config, or one with no processes unless allowEmpty, changes nothing and
// returns an *api.ReloadError.
//
// Reload returns once the change is applied; the channel receives once
// the roll is over: nil, or an *api.OutcomeError saying where it stopped.
func (s *Supervisor) Reload(ctx context.Context, names []string, allowEmpty bool) (<-chan error, error) {
	if len(names) > 0 {
		var done <-chan error
		err := s.onLoop(ctx, names, func(insts []*instance) error {
			if s.shutdown != nil {
				return errStopped
			}
			done = s.await(s.roll(insts, "reload requested"))
			return nil
		})
		return done, err
	}
	if s.reload == nil {
		return nil, errors.New("this supd has no config file to reload")
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if err := s.call(ctx, func() { s.emit(Event{Kind: EventReloadBegin, Time: s.clock.Now()}) }); err != nil {
		return nil, err
	}
	cfg, err := s.reload()
	switch {
	case err != nil:
		err = &api.ReloadError{Diagnostics: err.Error()}
	case len(cfg.Processes) == 0 && !allowEmpty:
		err = &api.ReloadError{Diagnostics: "the new config has no processes: applying it would stop everything " +
			"(an editor or a ConfigMap swap can leave a file empty for a moment); " +
			"nothing changed. To stop everything on purpose: supctl reload --allow-empty\n"}
	}
	var done <-chan error
	cerr := s.call(ctx, func() {
		if err == nil {
			if s.shutdown != nil {
				err = errStopped
			} else {
				done = s.await(s.apply(cfg))
			}
		}
		s.emit(Event{Kind: EventReloadEnd, Time: s.clock.Now(), Err: err})
	})
	if cerr != nil {
		return nil, cerr
	}
	return done, err
}

// roll is a waiter that restarts insts one at a time.
func (s *Supervisor) roll(insts []*instance, by string) *waiter {
	w := newWaiter(goalReady, nil)
	w.queue, w.by = insts, by
	return w
}

// apply switches to cfg: starts added instances, stops and forgets removed
// ones, and returns the waiter of the roll of the changed ones (their new
// spec is in place) and of the start of the added ones. The roll of an
// earlier reload ends: this one takes over what it had not restarted yet.
// Loop only.
func (s *Supervisor) apply(cfg *config.Config) *waiter {
	old := make(map[string]*instance, len(s.insts))
	for _, i := range s.insts {
		old[i.spec.Name] = i
	}
	var next, added, changed []*instance
	var names []string
	for _, p := range cfg.Processes {
		for _, spec := range p.Instances {
			i, ok := old[spec.Name]
			delete(old, spec.Name)
			if !ok {
				i = s.newInstance(spec)
				added = append(added, i)
			} else if !sameSpec(i.spec, spec) || i.stale {
				i.spec, i.stale = spec, true
				i.tracker = restart.NewTracker(spec.Restart)
				changed = append(changed, i)
				names = append(names, spec.Name)
			}
			next = append(next, i)
		}
	}
	for _, i := range old {
		s.handle(i, inStop{by: "removed from the config"}) // forgotten; its exit is still handled
	}
	s.setConfig(cfg, next)
	removed := map[string]bool{}
	for _, i := range old {
		if _, ok := s.byProc[i.spec.Process]; !ok && !removed[i.spec.Process] {
			removed[i.spec.Process] = true
			s.emit(Event{Kind: EventRemoved, Time: s.clock.Now(), Process: i.spec.Process})
		}
	}
	for _, w := range s.waits {
		if w.by == byConfigReload && w.done != nil {
			s.complete(w, &api.OutcomeError{Msg: "superseded by a later reload"})
		}
	}
	for _, i := range added {
		s.handle(i, inStart{})
	}
	s.log.Info().Int("processes", len(cfg.Processes)).Strs("changed", names).Msg("config reloaded")
	w := s.roll(changed, byConfigReload)
	w.targets = added
	return w
}

// byConfigReload is who restarts the instances a config reload changed.
const byConfigReload = "config reloaded"

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
