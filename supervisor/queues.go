package supervisor

import (
	"context"
	"slices"
	"time"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/api"
)

// acceptQueue converts probe's accept queues to the wire form; never nil.
func acceptQueue(qs []probe.Queue) []api.ListenQueue {
	out := make([]api.ListenQueue, len(qs))
	for i, q := range qs {
		out[i] = api.ListenQueue{Listen: q.Listen, Queued: q.Queued, Backlog: q.Backlog}
	}
	return out
}

// WatchQueues sends a warning event (api.Event with Type api.EventWarning)
// each time an instance's Status.Warning appears, changes or clears, until
// ctx is done, looking every interval. A look where no accept queue of the
// namespace is full and no warning is standing costs two sock_diag dumps
// (probe.FullQueues) and no /proc reading, whatever the number of
// processes; only when a queue is full are the instances inspected to find
// whose it is, and a full queue found to be no instance's (another
// program's) is not inspected again while the set of full queues stays
// the same. It looks only while someone subscribes to the events (supctl
// events, supctl top): an idle supd is never woken for it, and status,
// why and /metrics read the queues when asked anyway. It runs in the
// caller's goroutine and returns when ctx is done; the warnings it sent
// are not cleared then.
func (s *Supervisor) WatchQueues(ctx context.Context, interval time.Duration) {
	warned := make(map[string]string) // instance name -> standing warning
	var known []string                // full queues that the last inspection found to be no instance's
	for {
		if !s.events.Active() {
			clear(warned) // a new subscriber hears of standing warnings again
			known = nil
			select {
			case <-ctx.Done():
				return
			case <-s.watched:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		full, err := probe.FullQueues()
		if err != nil {
			s.log.Debug().Err(err).Msg("accept queues cannot be read")
			continue
		}
		listens := make([]string, len(full))
		for i, q := range full {
			listens[i] = q.Listen
		}
		slices.Sort(listens)
		// Nothing full, or only the queues of other programs already
		// looked at: no inspection, whatever the number of processes.
		if len(warned) == 0 && slices.Equal(listens, known) {
			continue
		}
		sts, err := s.Status(ctx, nil)
		if err != nil {
			continue // shutting down, or ctx done
		}
		s.publishWarnings(sts, warned)
		known = nil
		if len(warned) == 0 {
			known = listens
		}
	}
}

// publishWarnings sends a warning event for every status whose warning
// differs from warned, and updates warned.
func (s *Supervisor) publishWarnings(sts []api.Status, warned map[string]string) {
	seen := make(map[string]bool, len(sts))
	for _, st := range sts {
		seen[st.Name] = true
		if warned[st.Name] == st.Warning {
			continue
		}
		if st.Warning == "" {
			delete(warned, st.Name)
		} else {
			warned[st.Name] = st.Warning
			s.log.Warn().Str("process", st.Process).Int("instance", st.Instance).Msg(st.Warning)
		}
		s.events.Publish(api.Event{
			Time: time.Now(), Name: st.Name, Process: st.Process, Instance: st.Instance,
			From: st.State, State: st.State, Ready: st.Ready, Pid: st.Pid, Restarts: st.Restarts,
			ExitCode: st.ExitCode, ExitSignal: st.ExitSignal, Reason: st.Reason,
			Type: api.EventWarning, Warning: st.Warning,
		})
	}
	for name := range warned {
		if !seen[name] { // removed by a reload
			delete(warned, name)
		}
	}
}
