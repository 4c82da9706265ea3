package control_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control/controltest"
)

func TestScaleUpAnswersOnceTheBackendIsDone(t *testing.T) {
	l := newLifecycle(inst("api:0", api.StateRunning), inst("api:1", api.StateRunning), inst("db", api.StateRunning))
	l.b.ScaleFunc = func(_ context.Context, process string, n int) (<-chan error, error) {
		st := inst("api:2", api.StateStarting)
		st.Instance = 2
		l.Add(st)
		done := make(chan error, 1)
		go func() { l.Update("api:2", ready); done <- nil }()
		return done, nil
	}
	c, _ := serve(t, l.b)
	sts, err := c.Scale(controltest.Context(t), api.ScaleRequest{Process: "api", Instances: 3, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(sts); !slices.Equal(got, []string{"api:0", "api:1", "api:2"}) || !sts[2].Ready {
		t.Errorf("answered %v (api:2 ready: %v), want api:0..2 all ready", got, sts[len(sts)-1].Ready)
	}
}

func TestScaleDownAnswersOnceTheBackendIsDone(t *testing.T) {
	l := newLifecycle(inst("api:0", api.StateRunning), inst("api:1", api.StateRunning), inst("api:2", api.StateRunning))
	for k := range 3 {
		l.Update("api:"+strconv.Itoa(k), func(st *api.Status) { st.Instance = k })
	}
	var asked []int
	l.b.ScaleFunc = func(_ context.Context, process string, n int) (<-chan error, error) {
		asked = append(asked, n)
		l.Update("api:2", func(st *api.Status) { st.State, st.Ready, st.Desired = api.StateStopping, false, api.DesiredStopped })
		done := make(chan error, 1)
		go func() { l.Remove("api:2"); done <- nil }()
		return done, nil
	}
	c, _ := serve(t, l.b)
	sts, err := c.Scale(controltest.Context(t), api.ScaleRequest{Process: "api", Instances: 2, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(sts); !slices.Equal(got, []string{"api:0", "api:1"}) || !slices.Equal(asked, []int{2}) {
		t.Errorf("answered %v after Scale(%v), want api:0 and api:1 once api:2 is gone", got, asked)
	}
}

func TestScaleBadRequests(t *testing.T) {
	l := newLifecycle(inst("api", api.StateRunning))
	l.b.ScaleFunc = func(ctx context.Context, process string, n int) (<-chan error, error) {
		_, err := l.Status(ctx, []string{process})
		return controltest.Done(nil), err
	}
	c, _ := serve(t, l.b)
	ctx := controltest.Context(t)
	_, err := c.Scale(ctx, api.ScaleRequest{Process: "api:0", Instances: 2})
	remoteErr(t, err, http.StatusBadRequest, "name a process, not an instance (scale api N)")
	_, err = c.Scale(ctx, api.ScaleRequest{Process: "api", Instances: 0})
	remoteErr(t, err, http.StatusBadRequest, "give 1 instance or more")
	_, err = c.Scale(ctx, api.ScaleRequest{Process: "apu", Instances: 2})
	remoteErr(t, err, http.StatusNotFound, `no process named "apu"; did you mean "api"?`)
}

func TestSignal(t *testing.T) {
	l := newLifecycle(inst("api:0", api.StateRunning), inst("api:1", api.StateRunning), inst("db", api.StateStopped))
	var mu sync.Mutex
	var got [][]string
	var sigs []syscall.Signal
	l.b.SignalFunc = func(ctx context.Context, names []string, sig syscall.Signal) error {
		mu.Lock()
		defer mu.Unlock()
		got, sigs = append(got, names), append(sigs, sig)
		if slices.Equal(names, []string{"db"}) {
			return api.ErrNotRunning
		}
		return nil
	}
	c, _ := serve(t, l.b)
	ctx := controltest.Context(t)

	sts, err := c.Signal(ctx, api.SignalRequest{Names: []string{"all"}, Signal: "SIGHUP"})
	if err != nil || len(sts) != 3 {
		t.Fatalf("signal all: %v, %v", names(sts), err)
	}
	if _, err := c.Signal(ctx, api.SignalRequest{Names: []string{"api:1"}, Signal: "usr1"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Signal(ctx, api.SignalRequest{Names: []string{"db"}, Signal: "TERM"})
	remoteErr(t, err, http.StatusConflict, "not running")
	_, err = c.Signal(ctx, api.SignalRequest{Names: []string{"api"}, Signal: "SIGNOPE"})
	remoteErr(t, err, http.StatusBadRequest, `unknown signal "SIGNOPE"`)

	mu.Lock()
	defer mu.Unlock()
	if want := [][]string{{"api", "db"}, {"api:1"}, {"db"}}; !slices.EqualFunc(got, want, slices.Equal) ||
		!slices.Equal(sigs, []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM}) {
		t.Errorf("backend got %v with %v; want %v (all = every process) with HUP, USR1, TERM", got, sigs, want)
	}
}

func TestAllExpandsToEveryProcess(t *testing.T) {
	l := newLifecycle(inst("api:0", api.StateRunning), inst("api:1", api.StateRunning), inst("db", api.StateRunning))
	var got []string
	l.b.ReloadFunc = func(_ context.Context, names []string, _ bool) (<-chan error, error) {
		got = names
		return controltest.Done(nil), nil
	}
	c, _ := serve(t, l.b)
	if _, err := c.Do(controltest.Context(t), "reload", api.ActionRequest{Names: []string{"all"}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"api", "db"}) {
		t.Errorf("reload all rolled %v, want every process by name (not a config re-read)", got)
	}
	sts, err := c.Status(controltest.Context(t), []string{"all"})
	if err != nil || len(sts) != 3 {
		t.Errorf("status all: %v, %v", names(sts), err)
	}

	var logsOf []string
	l.b.LogsFunc = func(_ context.Context, name string, n int, _ time.Time, follow bool) (<-chan api.LogLine, error) {
		logsOf = append(logsOf, name)
		ch := make(chan api.LogLine, 1)
		ch <- api.LogLine{Name: "db", Line: "hello"}
		close(ch)
		return ch, nil
	}
	var lines []string
	err = c.Logs(controltest.Context(t), "all", 10, time.Time{}, false, func(l api.LogLine) error { lines = append(lines, l.Line); return nil })
	if err != nil || !slices.Equal(logsOf, []string{""}) || !slices.Equal(lines, []string{"hello"}) {
		t.Errorf("logs all: %v, backend asked for %q, got %v; want every instance (\"\")", err, logsOf, lines)
	}
	_, err = c.Why(controltest.Context(t), "all")
	remoteErr(t, err, http.StatusBadRequest, "why answers for one process or instance, not all")
}
