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
// alone, "api:0", "api:1"... for several. done receives once instances 0
// to n-1 (those not stopped by request) are ready and the others gone.
func (s *Supervisor) Scale(ctx context.Context, process string, n int) (<-chan error, error) {
	var ready, gone <-chan error
	var err error
	cerr := s.call(ctx, func() { ready, gone, err = s.scale(process, n) })
	if err := errors.Join(cerr, err); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- errors.Join(<-ready, <-gone) }()
	return done, nil
}

// scale is Scale on the loop; it returns the waits of the instances kept
// (ready) and of those scaled away (down, and so forgotten).
func (s *Supervisor) scale(process string, n int) (ready, gone <-chan error, err error) {
	if s.shutdown != nil {
		return nil, nil, errStopped
	}
	p := s.cfg.Process(process)
	if p == nil {
		return nil, nil, unknownName(process, s.processNames())
	}
	// The specs first: nothing changes unless every new one evaluates.
	specs := make([]*config.Spec, n)
	for k := range n {
		spec, err := p.Spec(k, n)
		if err != nil {
			return nil, nil, fmt.Errorf("scale %s to %d: %w", process, n, err)
		}
		specs[k] = spec
	}
	if s.scaled.cfg != s.cfg {
		s.scaled = scaling{cfg: s.cfg, counts: map[string]int{}, leaving: map[*instance]bool{}}
	}
	s.scaled.counts[process] = n

	current := slices.Clone(s.byProc[process])
	var kept, away []*instance
	for _, i := range current {
		k := i.spec.Instance
		if k >= n {
			away = append(away, i)
			continue
		}
		if s.scaled.leaving[i] { // scaled away a moment ago, still stopping: wanted again
			delete(s.scaled.leaving, i)
			s.handle(i, inStart{})
		}
		if i.spec.Name != specs[k].Name {
			// Only the name changes ("api" <-> "api:0"): the running spawn goes on.
			renamed := *i.spec
			renamed.Name = specs[k].Name
			i.spec = &renamed
		}
		kept = append(kept, i)
	}
	var added []*instance
	for k := len(current); k < n; k++ {
		added = append(added, s.newInstance(specs[k]))
	}
	last := len(s.insts) - 1 // after the process's last instance, in config order
	for idx, i := range s.insts {
		if i.spec.Process == process {
			last = idx
		}
	}
	s.setConfig(s.cfg, slices.Insert(slices.Clone(s.insts), last+1, added...))
	for _, i := range added {
		s.handle(i, inStart{})
	}
	gone = s.await(newWaiter(goalDown, away))
	for _, i := range away {
		s.scaleAway(i)
	}
	ready = s.await(newWaiter(goalReady, slices.DeleteFunc(append(kept, added...), (*instance).stopped)))
	s.log.Info().Str("process", process).Int("instances", n).Int("config_instances", len(p.Instances)).
		Msg("scaled until the next config reload")
	return ready, gone, nil
}

// scaleAway stops i and forgets it once it is down, unless a scale up
// wants it again before.
func (s *Supervisor) scaleAway(i *instance) {
	s.handle(i, inStop{by: "scaled down"})
	if i.state().down() {
		s.forget(i)
		return
	}
	leaving := s.scaled.leaving
	leaving[i] = true
	i.then = func() {
		if leaving[i] {
			delete(leaving, i)
			s.forget(i)
		}
	}
}

// forget removes i from the supervised instances. Loop only.
func (s *Supervisor) forget(i *instance) {
	s.setConfig(s.cfg, slices.DeleteFunc(slices.Clone(s.insts), func(j *instance) bool { return j == i }))
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
			if i.pid() != 0 {
				i.signal(sig)
				sent++
			}
		}
		if sent == 0 {
			return fmt.Errorf("%w: no process to send %s to", api.ErrNotRunning, signame.Name(sig))
		}
		return nil
	})
}
