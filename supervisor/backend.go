package supervisor

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/api"
)

func unknownName(name string, known []string) error {
	return fmt.Errorf("%w: %q (known: %s)", api.ErrUnknown, name, strings.Join(known, ", "))
}

// snapshot is an instance's status as the loop sees it, plus what is
// needed to inspect it outside the loop.
type snapshot struct {
	status api.Status
	tree   *probe.Tree
	inst   *instance // off the loop, only its sink may be used: it never changes
}

// onLoop resolves names to instances and runs f with them, on the loop.
func (s *Supervisor) onLoop(ctx context.Context, names []string, f func([]*instance) error) error {
	var ferr error
	err := s.call(ctx, func() {
		insts, err := s.instances(names)
		if err == nil {
			err = f(insts)
		}
		ferr = err
	})
	return cmp.Or(err, ferr)
}

// snapshots reads the named instances on the loop.
func (s *Supervisor) snapshots(ctx context.Context, names []string) ([]snapshot, error) {
	var out []snapshot
	err := s.onLoop(ctx, names, func(insts []*instance) error {
		for _, i := range insts {
			out = append(out, snapshot{status: s.status(i), tree: i.run.tree(), inst: i})
		}
		return nil
	})
	return out, err
}

// OutputRead returns once every line the current and earlier spawns of
// name (one instance) wrote before they exited has been read from their
// pipes, or when ctx is done: a crash hook waits for it before it reads
// the last lines.
func (s *Supervisor) OutputRead(ctx context.Context, name string) error {
	snaps, err := s.snapshots(ctx, []string{name})
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		select {
		case <-sn.inst.sink.Drained():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// status is i's api.Status without the inspected fields. Loop only.
func (s *Supervisor) status(i *instance) api.Status {
	code, sig := exitFields(i)
	st := api.Status{
		Name: i.spec.Name, Process: i.spec.Process, Instance: i.spec.Instance,
		State: i.state().String(), Ready: i.ready, Pid: i.pid(), Restarts: i.restarts(),
		ExitCode: code, ExitSignal: sig, Reason: i.reason, Listening: []string{},
		Critical: i.spec.Critical, Desired: api.DesiredRunning, LogDropped: i.sink.Dropped(),
	}
	s.scaleStatus(&st)
	if i.stopped() {
		st.Desired = api.DesiredStopped
	}
	for _, a := range expected(i.spec.Ready) {
		st.Expect = append(st.Expect, a.String())
	}
	// The sockets supd holds for it are configured addresses too (why
	// connects to them, check-proxy matches upstreams to them).
	for _, l := range i.spec.Listen {
		network, rest, _ := strings.Cut(l, "://")
		if a := network + ":" + rest; !slices.Contains(st.Expect, a) {
			st.Expect = append(st.Expect, a)
		}
	}
	st.Sockets = i.spec.Sockets
	if i.old != nil {
		st.ReplacingPid = i.old.pid
	}
	if st.Pid != 0 {
		started := i.run.started
		st.StartedAt = &started
		st.UptimeMs = s.clock.Now().Sub(started).Milliseconds()
	}
	return st
}

// inspect fills CPU, memory and listening sockets of the snapshots.
func (s *Supervisor) inspect(snaps []snapshot) []api.Status {
	trees := make([]*probe.Tree, len(snaps))
	for k, sn := range snaps {
		if sn.status.Pid != 0 {
			trees[k] = sn.tree
		}
	}
	usage, err := s.inspector.Inspect(trees) // safe for concurrent use
	if err != nil {
		s.log.Warn().Err(err).Msg("status: cannot read CPU, memory and sockets of the processes")
	}
	out := make([]api.Status, len(snaps))
	for k, sn := range snaps {
		out[k] = sn.status
		if k >= len(usage) { // nothing could be read
			continue
		}
		out[k].CPUPercent, out[k].MemoryBytes = usage[k].CPUPercent, usage[k].RSS
		if usage[k].Listening != nil {
			out[k].Listening = usage[k].Listening
		}
		out[k].AcceptQueue = acceptQueue(usage[k].AcceptQueue)
		out[k].Warning = api.OverloadWarning(out[k].AcceptQueue)
	}
	return out
}

// Status implements control.Backend.
func (s *Supervisor) Status(ctx context.Context, names []string) ([]api.Status, error) {
	snaps, err := s.snapshots(ctx, names)
	if err != nil {
		return nil, err
	}
	return s.inspect(snaps), nil
}

// act applies in to every named instance on the loop and returns a
// channel that receives once the targets reached g (nil) or cannot (an
// *api.OutcomeError). respawn: ready counts only with a newer spawn.
func (s *Supervisor) act(ctx context.Context, names []string, g goal, respawn bool, in func(*instance) input) (<-chan error, error) {
	var done <-chan error
	err := s.onLoop(ctx, names, func(insts []*instance) error {
		if s.shutdown != nil {
			return errStopped
		}
		w := newWaiter(g, insts)
		for _, i := range insts {
			if respawn {
				w.respawn(i)
			}
			if in != nil {
				s.handle(i, in(i))
			}
		}
		done = s.await(w)
		return nil
	})
	return done, err
}

// Start implements control.Backend: done once every target is ready.
func (s *Supervisor) Start(ctx context.Context, names []string) (<-chan error, error) {
	return s.act(ctx, names, goalReady, false, func(*instance) input { return inStart{} })
}

// Stop implements control.Backend: done once every target is down.
func (s *Supervisor) Stop(ctx context.Context, names []string) (<-chan error, error) {
	return s.act(ctx, names, goalDown, false, func(*instance) input { return inStop{by: "stopped by request"} })
}

// Restart implements control.Backend: done once every target is ready
// with a new spawn.
func (s *Supervisor) Restart(ctx context.Context, names []string) (<-chan error, error) {
	return s.act(ctx, names, goalReady, true, func(*instance) input { return inRestart{by: "restart requested"} })
}

// Wait implements control.Backend: done once every target is ready; with
// no names, every instance not stopped by request.
func (s *Supervisor) Wait(ctx context.Context, names []string) (<-chan error, error) {
	var done <-chan error
	err := s.onLoop(ctx, names, func(insts []*instance) error {
		if len(names) == 0 {
			insts = slices.DeleteFunc(insts, (*instance).stopped)
		}
		done = s.await(newWaiter(goalReady, insts))
		return nil
	})
	return done, err
}

// Subscribe implements control.Backend.
func (s *Supervisor) Subscribe(ctx context.Context) <-chan api.Event {
	ch := s.events.Subscribe(ctx, 256)
	select {
	case s.watched <- struct{}{}: // WatchQueues looks while someone listens
	default:
	}
	return ch
}

// Logs implements control.Backend.
func (s *Supervisor) Logs(ctx context.Context, name string, n int, since time.Time, follow bool) (<-chan api.LogLine, error) {
	names := []string{name}
	if name == "" { // every instance
		names = nil
	}
	snaps, err := s.snapshots(ctx, names)
	if err != nil {
		return nil, err
	}
	var recent []api.LogLine
	var live []<-chan api.LogLine
	for _, sn := range snaps {
		lines, ch, err := sn.inst.sink.History(ctx, n, since, follow)
		if err != nil { // the ring's lines are there: show them, say why not more
			s.log.Warn().Err(err).Str("process", sn.status.Process).Int("instance", sn.status.Instance).
				Msg("supctl logs: cannot read the log file back")
		}
		if ch != nil {
			live = append(live, ch)
		}
		recent = append(recent, lines...)
	}
	slices.SortStableFunc(recent, func(a, b api.LogLine) int { return a.Time.Compare(b.Time) })
	if n >= 0 && len(recent) > n {
		recent = recent[len(recent)-n:]
	}
	out := make(chan api.LogLine, 64)
	go func() {
		defer close(out)
		for _, l := range recent {
			select {
			case out <- l:
			case <-ctx.Done():
				return
			}
		}
		merge(ctx, live, out)
	}()
	return out, nil
}

// merge copies every line of ins to out until ctx is done or all are closed.
func merge(ctx context.Context, ins []<-chan api.LogLine, out chan<- api.LogLine) {
	done := make(chan struct{})
	for _, in := range ins {
		go func() {
			for l := range in {
				select {
				case out <- l:
				case <-ctx.Done():
				}
			}
			done <- struct{}{}
		}()
	}
	for range ins {
		<-done
	}
}
