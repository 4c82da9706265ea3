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
	"github.com/sup-sh/sup/supervisor/config"
)

// whyFacts is what the loop knows about an instance beyond its Status.
type whyFacts struct {
	lastExit string
	probe    string
	expect   []address
	oneshot  bool
	// The output lines shown under "last exit" are those stamped in
	// [from, to): the run that exited, not the next one.
	from, to time.Time
}

// Why implements control.Backend: the 502 checklist for one instance (for
// a process with several, the first that is not ready).
func (s *Supervisor) Why(ctx context.Context, name string) (api.Why, error) {
	var sn snapshot
	var facts whyFacts
	err := s.onLoop(ctx, []string{name}, func(insts []*instance) error {
		i := insts[0]
		if k := slices.IndexFunc(insts, func(i *instance) bool { return !i.ready }); k >= 0 {
			i = insts[k]
		}
		sn, facts = snapshot{status: s.status(i), tree: i.run.tree(), inst: i}, s.whyFacts(i)
		return nil
	})
	if err != nil {
		return api.Why{}, err
	}
	st := s.inspect([]snapshot{sn})[0]
	w := api.Why{
		Status:    st,
		Expect:    st.Expect,
		LastExit:  facts.lastExit,
		LastLines: runLines(sn.inst.sink.Ring().Last(-1), facts.from, facts.to, 10),
		Probe:     facts.probe,
	}
	var pids []int
	if sn.tree != nil && st.Pid != 0 {
		if tab, err := probe.ScanProcs(); err == nil {
			pids = sn.tree.Pids(tab)
		}
	}
	for _, a := range facts.expect {
		w.Holders = append(w.Holders, holder(a, pids))
	}
	s.diagnose(ctx, &w)
	w.Checks = append(append(checklist(w, facts.oneshot), logFileChecks(sn.inst.sink)...), diagnosisChecks(w)...)
	return w, nil
}

func (s *Supervisor) whyFacts(i *instance) whyFacts {
	f := whyFacts{expect: expected(i.spec.Ready), oneshot: i.spec.Type == config.Oneshot}
	if i.phase == phStarting || i.phase == phRunning {
		f.probe = i.probe // a probe result is about the current spawn only
	}
	if i.run != nil {
		f.from = i.run.started
	}
	if e := i.lastExit; e != nil {
		f.lastExit = fmt.Sprintf("%s at %s", i.exitWhy, e.Time.Format("15:04:05"))
		if i.lastRun != nil {
			f.from = i.lastRun.started
			f.lastExit += fmt.Sprintf(" after %s", e.Time.Sub(i.lastRun.started).Round(time.Millisecond))
			if i.run != i.lastRun {
				f.to = i.run.started
			}
		}
	} else if i.exitCode != nil {
		f.lastExit = fmt.Sprintf("could not be started (exit code %d)", *i.exitCode)
	}
	return f
}

// runLines are the last n of lines stamped in [from, to) (to zero: no
// end).
func runLines(lines []api.LogLine, from, to time.Time, n int) []api.LogLine {
	var kept []api.LogLine
	for _, l := range lines {
		if !l.Time.Before(from) && (to.IsZero() || l.Time.Before(to)) {
			kept = append(kept, l)
		}
	}
	return kept[max(len(kept)-n, 0):]
}

// holder says who holds address a, and whether it is one of pids.
func holder(a address, pids []int) api.Holder {
	h := api.Holder{Address: a.String()}
	held, err := probe.HeldBy(a.network, a.address)
	if err != nil || len(held) == 0 {
		return h
	}
	h.Pid, h.Command = held[0].Pid, held[0].Command
	for _, x := range held {
		if slices.Contains(pids, x.Pid) {
			h.Pid, h.Command, h.InTree = x.Pid, x.Command, true
			break
		}
	}
	return h
}

// checklist answers the 502 questions in order.
func checklist(w api.Why, oneshot bool) []api.Check {
	st := w.Status
	var cs []api.Check
	running := api.Check{Question: "running", OK: st.Pid != 0 || (oneshot && st.Ready)}
	switch {
	case st.Pid != 0:
		running.Answer = fmt.Sprintf("%s, pid %d, up %s, %s", st.State, st.Pid,
			(time.Duration(st.UptimeMs) * time.Millisecond).Round(time.Second), api.Count(st.Restarts, "restart"))
	default:
		running.Answer = st.State
		if st.Reason != "" {
			running.Answer += ": " + st.Reason
		}
	}
	cs = append(cs, running)
	ready := api.Check{Question: "ready", OK: st.Ready, Answer: "yes"}
	if !st.Ready {
		ready.Answer = cmp.Or(st.Reason, "no")
	}
	cs = append(cs, ready)
	listen := api.Check{Question: "listening", OK: len(st.Listening) > 0 || len(w.Expect) == 0}
	listen.Answer = "on nothing"
	if len(st.Listening) > 0 {
		listen.Answer = "on " + strings.Join(st.Listening, ", ")
	}
	cs = append(cs, listen)
	for _, want := range w.Expect {
		c := api.Check{Question: "matches config", OK: slices.Contains(st.Listening, want)}
		c.Answer = "config says " + want
		if !c.OK && len(st.Listening) > 0 {
			c.Answer = fmt.Sprintf("listening on %s, config says %s", strings.Join(st.Listening, ", "), want)
		}
		if c.OK {
			c.Answer = want
		}
		cs = append(cs, c)
	}
	for _, h := range w.Holders {
		c := api.Check{Question: "port holder", OK: h.Pid == 0 || h.InTree}
		switch {
		case h.Pid == 0 && h.StaleFile:
			c.OK, c.Answer = false, h.Address+": nobody listens, but a stale socket file is in the way"
		case h.Pid == 0:
			c.Answer = h.Address + " is free"
		case h.InTree:
			c.Answer = fmt.Sprintf("%s is held by pid %d (%s), part of %s", h.Address, h.Pid, h.Command, st.Process)
		default:
			c.Answer = fmt.Sprintf("%s is held by pid %d (%s), which is not part of %s", h.Address, h.Pid, h.Command, st.Process)
		}
		cs = append(cs, c)
	}
	if w.LastExit != "" {
		cs = append(cs, api.Check{Question: "last exit", OK: st.ExitCode != nil && *st.ExitCode == 0, Answer: w.LastExit})
	}
	if w.Probe != "" {
		cs = append(cs, api.Check{Question: "last probe", OK: st.Ready, Answer: w.Probe})
	}
	return cs
}
