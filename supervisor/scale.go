package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/signame"
)

// scaling is what `supctl scale` changed: the number of instances of some
// processes, for the config it was applied to. A reload installs another
// config, which makes it void: the file's numbers apply again (apply
// starts and stops instances to match them). Owned by the loop.
type scaling struct {
	cfg     *config.Config
	counts  map[string]int     // process -> instances asked for
	leaving map[*instance]bool // scaled away, forgotten once down
}

// scaledTo returns the number of instances of process asked by `supctl
// scale` since the last reload, or 0.
func (s *Supervisor) scaledTo(process string) int {
	if s.scaled.cfg != s.cfg {
		return 0
	}
	return s.scaled.counts[process]
}

// scaleStatus fills api.Status.ScaledInstances and ConfigInstances of an
// instance: set while scale runs another number of instances of its
// process than the file says.
func (s *Supervisor) scaleStatus(st *api.Status) {
	n := s.scaledTo(st.Process)
	p := s.cfg.Process(st.Process)
	if n == 0 || p == nil || n == len(p.Instances) {
		return
	}
	st.ScaledInstances, st.ConfigInstances = n, len(p.Instances)
}

// Scale implements control.Backend: it runs n instances of process until
// the next config reload. Instances beyond the current ones are evaluated
// from the file with their own `instance` (config.Process.Spec) and
// started like at start-up (after their dependencies, with their ready
// checks); the highest instances beyond n are stopped, and forgotten once
// down. When the count crosses 1, the names follow the contract: "api"
// alone, "api:0", "api:1"... for several.
func (s *Supervisor) Scale(ctx context.Context, process string, n int) error {
	var err error
	cerr := s.call(ctx, func() { err = s.scale(process, n) })
	return errors.Join(cerr, err)
}

// scale is Scale on the loop.
func (s *Supervisor) scale(process string, n int) error {
	if s.shutdown != nil {
		return errStopped
	}
	p := s.cfg.Process(process)
	if p == nil {
		return unknownName(process, s.processNames())
	}
	// The specs first: nothing changes unless every new one evaluates.
	specs := make([]*config.Spec, n)
	for k := range n {
		spec, err := p.Spec(k, n)
		if err != nil {
			return fmt.Errorf("scale %s to %d: %w", process, n, err)
		}
		specs[k] = spec
	}
	if s.scaled.cfg != s.cfg {
		s.scaled = scaling{cfg: s.cfg, counts: map[string]int{}, leaving: map[*instance]bool{}}
	}
	s.scaled.counts[process] = n

	var current []*instance
	last := -1 // index in s.insts of the process's last instance
	for idx, i := range s.insts {
		if i.spec.Process == process {
			current, last = append(current, i), idx
		}
	}
	for _, i := range current {
		k := i.spec.Instance
		switch {
		case k >= n:
			s.scaleAway(i)
			continue
		case s.scaled.leaving[i]: // scaled away a moment ago, still stopping: wanted again
			delete(s.scaled.leaving, i)
			s.start(i, false)
		}
		if i.spec.Name != specs[k].Name {
			// Only the name changes ("api" <-> "api:0"): the running spawn goes on.
			renamed := *i.spec
			renamed.Name = specs[k].Name
			i.spec = &renamed
		}
	}
	var added []*instance
	for k := len(current); k < n; k++ {
		added = append(added, s.newInstance(specs[k]))
	}
	if last < 0 {
		last = len(s.insts) - 1
	}
	s.insts = slices.Insert(s.insts, last+1, added...)
	for _, i := range added {
		s.start(i, false)
	}
	s.log.Info().Str("process", process).Int("instances", n).Int("config_instances", len(p.Instances)).
		Msg("scaled until the next config reload")
	return nil
}

// scaleAway stops i and forgets it once it is down, unless a scale up
// wants it again before.
func (s *Supervisor) scaleAway(i *instance) {
	s.stop(i)
	if i.state.down() {
		s.forget(i)
		return
	}
	leaving := s.scaled.leaving
	leaving[i] = true
	i.afterStop = func() {
		if leaving[i] {
			delete(leaving, i)
			s.forget(i)
		}
	}
}

// forget removes i from the supervised instances. Loop only.
func (s *Supervisor) forget(i *instance) {
	s.insts = slices.DeleteFunc(s.insts, func(j *instance) bool { return j == i })
}

// SendSignal implements control.Backend: sig goes to the process tree of
// every named instance that has a process (all when names is empty).
func (s *Supervisor) SendSignal(ctx context.Context, names []string, sig syscall.Signal) error {
	return s.onLoop(ctx, names, func(insts []*instance) error {
		if s.shutdown != nil {
			return errStopped
		}
		var sent int
		for _, i := range insts {
			if i.pid != 0 {
				signalTree(i, sig)
				sent++
			}
		}
		if sent == 0 {
			return fmt.Errorf("%w: no process to send %s to", api.ErrNotRunning, signame.Name(sig))
		}
		return nil
	})
}
