package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sup-sh/sup/cmd/supctl/internal/ctl"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
	"github.com/sup-sh/sup/supervisor/control/controltest"
)

func ptr[T any](v T) *T { return &v }

// fleet is a realistic set of instances.
func fleet() []api.Status {
	return []api.Status{
		{Name: "api:0", Process: "api", Instance: 0, State: api.StateRunning, Ready: true, Pid: 4242,
			Restarts: 1, UptimeMs: 192_000, ExitCode: ptr(1), Listening: []string{"tcp:127.0.0.1:3000", "unix:/run/api.sock"},
			CPUPercent: 0.4, MemoryBytes: 12_897_485, Desired: api.DesiredRunning},
		{Name: "api:1", Process: "api", Instance: 1, State: api.StateStarting, Pid: 4243, UptimeMs: 7_530_000,
			Reason: "nothing listens on 127.0.0.1:3001 yet", MemoryBytes: 900, Desired: api.DesiredRunning},
		{Name: "worker", Process: "worker", State: api.StateStopped, ExitSignal: ptr("SIGKILL"),
			Reason: "stopped by request", Desired: api.DesiredStopped},
	}
}

// supd serves b on a temporary socket and returns its path.
func supd(t *testing.T, b control.Backend) string {
	t.Helper()
	return controltest.Serve(t, &control.Server{Backend: b})
}

type result struct {
	stdout, stderr string
	err            error
	code           int
}

// supctl runs supctl with args and an empty environment.
func supctl(ctx context.Context, args ...string) result {
	return supctlEnv(ctx, nil, args...)
}

func supctlEnv(ctx context.Context, env map[string]string, args ...string) result {
	var stdout, stderr bytes.Buffer
	m := &ctl.Main{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }}
	err := m.Run(ctx, args)
	return result{stdout.String(), stderr.String(), err, ctl.ExitCode(err)}
}

// background runs supctl in the background; see await.
func background(ctx context.Context, args ...string) <-chan result {
	done := make(chan result, 1)
	go func() { done <- supctl(ctx, args...) }()
	return done
}

// await returns the result of a supctl run in the background.
func await(t *testing.T, ctx context.Context, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		t.Fatal("supctl did not end")
		return result{}
	}
}

func (r result) want(t *testing.T, code int, errContains string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d (err %v), want %d\nstdout:\n%s", r.code, r.err, code, r.stdout)
	}
	if errContains != "" && (r.err == nil || !strings.Contains(r.err.Error(), errContains)) {
		t.Fatalf("err = %v, want it to contain %q", r.err, errContains)
	}
}

func TestStatusTable(t *testing.T) {
	path := supd(t, controltest.NewStore(fleet()...).Backend())
	r := supctl(controltest.Context(t), "--socket", path, "status")
	r.want(t, 0, "")
	want := `NAME    STATE     READY  PID   UPTIME  RESTARTS  LISTEN                             CPU   MEM      LAST EXIT
api:0   running   yes    4242  3m12s   1         127.0.0.1:3000,unix:/run/api.sock  0.4%  12.3MiB  1
api:1   starting  no     4243  2h5m    0         -                                  0.0%  900B     -
  ↳ nothing listens on 127.0.0.1:3001 yet
worker  stopped   no     -     -       0         -                                  -     -        SIGKILL
  ↳ stopped by request
`
	if r.stdout != want {
		t.Errorf("table:\n%s\nwant:\n%s", r.stdout, want)
	}
}

func TestStatusJSON(t *testing.T) {
	path := supd(t, controltest.NewStore(fleet()...).Backend())
	// --socket after the command, and names.
	r := supctl(controltest.Context(t), "status", "api:1", "worker", "--json", "--socket", path)
	r.want(t, 0, "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(got) != 2 {
		t.Fatalf("%d objects, want 2", len(got))
	}
	api1, worker := got[0], got[1]
	for _, field := range []string{"name", "process", "instance", "state", "ready", "pid", "restarts",
		"uptime_ms", "exit_code", "exit_signal", "listening", "reason"} {
		if _, ok := api1[field]; !ok {
			t.Errorf("no field %q in %v", field, api1)
		}
	}
	checks := []struct {
		obj   map[string]any
		field string
		want  any
	}{
		{api1, "name", "api:1"}, {api1, "process", "api"}, {api1, "instance", 1.0}, {api1, "state", "starting"},
		{api1, "ready", false}, {api1, "pid", 4243.0}, {api1, "uptime_ms", 7_530_000.0},
		{api1, "exit_code", nil}, {api1, "exit_signal", nil}, {api1, "listening", []any{}},
		{api1, "reason", "nothing listens on 127.0.0.1:3001 yet"},
		{worker, "exit_signal", "SIGKILL"}, {worker, "pid", 0.0},
	}
	for _, c := range checks {
		if got := c.obj[c.field]; fmt.Sprint(got) != fmt.Sprint(c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("%v.%s = %#v, want %#v", c.obj["name"], c.field, got, c.want)
		}
	}
}

func TestStatusEmptyJSONIsArray(t *testing.T) {
	path := supd(t, controltest.NewStore().Backend())
	r := supctl(controltest.Context(t), "--socket", path, "status", "--json")
	r.want(t, 0, "")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("stdout = %q, want []", r.stdout)
	}
}

func TestUnknownName(t *testing.T) {
	path := supd(t, controltest.NewStore(fleet()...).Backend())
	r := supctl(controltest.Context(t), "--socket", path, "status", "apu")
	r.want(t, 2, `no process named "apu"; did you mean "api"? (known: api, worker)`)
	r = supctl(controltest.Context(t), "--socket", path, "status", "database")
	r.want(t, 2, `no process named "database" (known: api, worker)`)
}

func TestSocketFromEnvironment(t *testing.T) {
	path := supd(t, controltest.NewStore(fleet()...).Backend())
	r := supctlEnv(controltest.Context(t), map[string]string{"SUPD_SOCKET": path}, "status")
	r.want(t, 0, "")
	// --socket wins over $SUPD_SOCKET.
	missing := filepath.Join(t.TempDir(), "none.sock")
	r = supctlEnv(controltest.Context(t), map[string]string{"SUPD_SOCKET": path}, "status", "--socket", missing)
	r.want(t, 3, missing)
}

func TestUnreachable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "supd.sock")
	for _, args := range [][]string{
		{"--socket", missing, "status"},
		{"start", "api", "--socket", missing},
		{"--socket", missing, "events"},
		{"--socket", missing, "logs", "-f", "api"},
	} {
		r := supctl(controltest.Context(t), args...)
		r.want(t, 3, "cannot reach supd at "+missing+": connect: no such file or directory (no socket there; is supd running? set --socket PATH or $SUPD_SOCKET)")
	}
	r := supctlEnv(controltest.Context(t), map[string]string{"SUPD_SOCKET": missing}, "status")
	r.want(t, 3, missing)
}

func TestActions(t *testing.T) {
	store := controltest.NewStore(fleet()...)
	b := store.Backend()
	b.StartFunc = store.Action(
		func(st *api.Status) {
			st.State, st.Pid, st.Reason, st.Desired = api.StateStarting, 5000, "starting", api.DesiredRunning
		},
		func(st *api.Status) { st.State, st.Ready, st.Reason = api.StateRunning, true, "" }, nil)
	b.StopFunc = store.Action(func(st *api.Status) { st.State, st.Ready = api.StateStopping, false }, nil, nil) // never down
	b.RestartFunc = store.Action(
		func(st *api.Status) { st.State, st.Ready = api.StateStarting, false },
		func(st *api.Status) {
			st.State, st.Pid, st.ExitCode, st.Reason = api.StateFatal, 0, ptr(1), "exited 1 before binding"
		}, &api.OutcomeError{Msg: "api:1 is fatal: exited 1 before binding"})
	path := supd(t, b)
	ctx := controltest.Context(t)

	r := supctl(ctx, "--socket", path, "start", "worker")
	r.want(t, 0, "")
	if !strings.Contains(r.stdout, "worker  running  yes") {
		t.Errorf("start printed:\n%s", r.stdout)
	}

	r = supctl(ctx, "--socket", path, "stop", "worker", "--timeout", "50ms")
	r.want(t, 1, "not stopped after 50ms: worker is stopping")

	r = supctl(ctx, "--socket", path, "stop", "--no-wait", "api:0")
	r.want(t, 0, "")
	if !strings.Contains(r.stdout, "api:0  stopping") {
		t.Errorf("stop --no-wait printed:\n%s", r.stdout)
	}

	r = supctl(ctx, "--socket", path, "restart", "api:1")
	r.want(t, 1, "api:1 is fatal: exited 1 before binding")

	r = supctl(ctx, "--socket", path, "start", "nope")
	r.want(t, 2, `no process named "nope" (known: api, worker)`)
}

func TestWait(t *testing.T) {
	store := controltest.NewStore(fleet()...)
	path := supd(t, store.Backend())
	ctx := controltest.Context(t)

	// api:1 is starting: the wait ends when it is ready; worker, stopped by
	// request, is not waited for.
	done := background(ctx, "--socket", path, "wait")
	if err := store.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	store.Update("api:1", func(st *api.Status) { st.State, st.Ready, st.Reason = api.StateRunning, true, "" })
	await(t, ctx, done).want(t, 0, "")

	store.Update("api:1", func(st *api.Status) { st.State, st.Ready, st.Reason = api.StateBackoff, false, "exited 1" })
	r := supctl(ctx, "--socket", path, "wait", "--timeout", "30ms", "api")
	r.want(t, 1, "not ready after 30ms: api:1 is backoff: exited 1")
}

func TestWaitInterrupted(t *testing.T) {
	store := controltest.NewStore(fleet()...)
	path := supd(t, store.Backend())
	ctx := controltest.Context(t)

	ictx, interrupt := context.WithCancel(ctx)
	done := background(ictx, "--socket", path, "wait", "api:1")
	if err := store.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	interrupt() // Ctrl-C: a failure, said plainly
	await(t, ctx, done).want(t, 1, "interrupted")
}

func TestWaitForSupd(t *testing.T) {
	ctx := controltest.Context(t)
	path := filepath.Join(t.TempDir(), "supd.sock")

	// Never up: unreachable, once the timeout has passed.
	start := time.Now()
	r := supctl(ctx, "--socket", path, "wait", "--timeout", "300ms")
	r.want(t, 3, "cannot reach supd at "+path)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", took)
	}

	// Up a little later: the wait goes on against it.
	done := background(ctx, "--socket", path, "wait", "api:0")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &control.Server{Backend: controltest.NewStore(fleet()...).Backend()}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()
	await(t, ctx, done).want(t, 0, "")
}

func TestReload(t *testing.T) {
	store := controltest.NewStore(fleet()...)
	b := store.Backend()
	diag := "sup.hcl:3:5: error: Unsupported argument\n\n  on sup.hcl line 3:\n   3:   comand = [\"x\"]\n"
	var reloaded [][]string
	var allowed []bool
	b.ReloadFunc = func(_ context.Context, names []string, allowEmpty bool) (<-chan error, error) {
		reloaded = append(reloaded, names)
		allowed = append(allowed, allowEmpty)
		if len(names) == 0 && !allowEmpty {
			return nil, &api.ReloadError{Diagnostics: diag}
		}
		return make(chan error), nil // a roll that does not end
	}
	path := supd(t, b)
	ctx := controltest.Context(t)

	r := supctl(ctx, "--socket", path, "reload")
	r.want(t, 1, "bad config, nothing reloaded")
	if r.stderr != diag {
		t.Errorf("stderr = %q, want the diagnostics %q", r.stderr, diag)
	}
	// Named: roll them. The fleet's api:0 is ready but not respawned, so
	// a wait would not end: --no-wait.
	r = supctl(ctx, "--socket", path, "reload", "--no-wait", "api")
	r.want(t, 0, "")
	if !strings.Contains(r.stderr, "note: no socket held by supd for api") {
		t.Errorf("reload of a process without held sockets does not say it had a gap: stderr %q", r.stderr)
	}
	if want := [][]string{nil, {"api"}}; len(reloaded) != 2 || !slices.Equal(reloaded[1], want[1]) {
		t.Errorf("reloads = %q, want %q", reloaded, want)
	}
	r = supctl(ctx, "--socket", path, "reload", "--allow-empty", "--no-wait")
	r.want(t, 0, "")
	if want := []bool{false, false, true}; !slices.Equal(allowed, want) {
		t.Errorf("allow-empty = %v, want %v", allowed, want)
	}
}

func TestWhy(t *testing.T) {
	why := api.Why{
		Status:   fleet()[1],
		Expect:   []string{"tcp:127.0.0.1:3001"},
		LastExit: "exited 1 at 12:01:02 after 2.1s",
		LastLines: []api.LogLine{
			{Name: "api:1", Stream: "stderr", Line: "Error: listen EADDRINUSE 127.0.0.1:3001"},
			{Name: "api:1", Stream: "stderr", Line: "    at Server.listen"},
		},
		Probe: "tcp 127.0.0.1:3001: connection refused",
		Checks: []api.Check{
			{Question: "running", OK: true, Answer: "pid 4243, up 2h5m, 0 restarts"},
			{Question: "listening", OK: false, Answer: "nothing — config says 127.0.0.1:3001"},
			{Question: "port holder", OK: false, Answer: "127.0.0.1:3001 is held by pid 999 (node), not part of api"},
		},
	}
	b := controltest.NewStore(fleet()...).Backend()
	b.WhyFunc = func(_ context.Context, name string) (api.Why, error) {
		switch name {
		case "api:0":
			return api.Why{Status: fleet()[0], Checks: []api.Check{{Question: "running", OK: true, Answer: "pid 4242"}}}, nil
		case "web":
			return api.Why{
				Status:    api.Status{Name: "web", State: api.StateBackoff, Reason: "exited 1 before binding"},
				LastExit:  "exited 1 at 21:59:24 after 121ms",
				LastLines: []api.LogLine{{Line: "OSError: [Errno 98] Address already in use"}},
				Probe:     "127.0.0.1:18000 is held by pid 21998 (python3)",
				Checks: []api.Check{
					{Question: "running", Answer: "backoff: exited 1 before binding"},
					{Question: "matches config", Answer: "config says tcp:127.0.0.1:18000"},
					{Question: "last exit", Answer: "exited 1 at 21:59:24 after 121ms"},
					{Question: "last probe", Answer: "127.0.0.1:18000 is held by pid 21998 (python3)"},
				},
			}, nil
		}
		return why, nil
	}
	path := supd(t, b)
	ctx := controltest.Context(t)

	r := supctl(ctx, "--socket", path, "why", "api:1")
	r.want(t, 1, "api:1 is not ready")
	want := `api:1  starting, not ready: nothing listens on 127.0.0.1:3001 yet
  ✓ running        pid 4243, up 2h5m, 0 restarts
  ✗ listening      nothing — config says 127.0.0.1:3001
  ✗ port holder    127.0.0.1:3001 is held by pid 999 (node), not part of api
  last exit        exited 1 at 12:01:02 after 2.1s
    | Error: listen EADDRINUSE 127.0.0.1:3001
    |     at Server.listen
  last probe       tcp 127.0.0.1:3001: connection refused
`
	if r.stdout != want {
		t.Errorf("why:\n%s\nwant:\n%s", r.stdout, want)
	}

	r = supctl(ctx, "--socket", path, "why", "api:0")
	r.want(t, 0, "")
	if want := "api:0  running, ready\n  ✓ running        pid 4242\n"; r.stdout != want {
		t.Errorf("why:\n%q\nwant:\n%q", r.stdout, want)
	}

	// Checks that already say the last exit and probe, as supd's do: not
	// repeated; the output lines go below the last exit.
	r = supctl(ctx, "--socket", path, "why", "web")
	r.want(t, 1, "web is not ready")
	want = `web  backoff, not ready: exited 1 before binding
  ✗ running         backoff: exited 1 before binding
  ✗ matches config  config says tcp:127.0.0.1:18000
  ✗ last exit       exited 1 at 21:59:24 after 121ms
    | OSError: [Errno 98] Address already in use
  ✗ last probe      127.0.0.1:18000 is held by pid 21998 (python3)
`
	if r.stdout != want {
		t.Errorf("why:\n%s\nwant:\n%s", r.stdout, want)
	}

	r = supctl(ctx, "--socket", path, "why", "api:0", "--json")
	r.want(t, 0, "")
	var got api.Why
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Status.Name != "api:0" {
		t.Errorf("why --json: %v\n%s", err, r.stdout)
	}
}

func TestLogs(t *testing.T) {
	lines := []api.LogLine{
		{Name: "api:0", Stream: "stdout", Line: "listening on 3000"},
		{Name: "api:10", Stream: "stderr", Line: "warning: slow"},
		{Name: "api:0", Stream: "stdout", Line: "GET /"},
	}
	type call struct {
		n      int
		follow bool
	}
	calls := make(chan call, 2)
	b := controltest.NewStore(fleet()...).Backend()
	b.LogsFunc = func(ctx context.Context, name string, n int, since time.Time, follow bool) (<-chan api.LogLine, error) {
		calls <- call{n, follow}
		ch := make(chan api.LogLine, len(lines))
		for _, l := range lines[len(lines)-min(n, len(lines)):] {
			ch <- l
		}
		if follow {
			context.AfterFunc(ctx, func() { close(ch) }) // nothing new: until interrupted
		} else {
			close(ch)
		}
		return ch, nil
	}
	path := supd(t, b)
	ctx := controltest.Context(t)

	r := supctl(ctx, "--socket", path, "logs", "api")
	r.want(t, 0, "")
	want := "api:0 | listening on 3000\napi:10 ! warning: slow\napi:0  | GET /\n"
	if r.stdout != want {
		t.Errorf("logs:\n%q\nwant:\n%q", r.stdout, want)
	}
	if c := <-calls; c != (call{50, false}) {
		t.Errorf("called with %+v, want the default 50 lines", c)
	}

	// -f ends, with success, when interrupted.
	fctx, interrupt := context.WithCancel(ctx)
	done := background(fctx, "--socket", path, "logs", "-f", "-n", "1", "api")
	if c := <-calls; c != (call{1, true}) {
		t.Errorf("called with %+v, want -n 1 -f", c)
	}
	interrupt()
	await(t, ctx, done).want(t, 0, "")
}

func TestEvents(t *testing.T) {
	at := time.Date(2024, 5, 6, 15, 4, 5, 123_000_000, time.Local)
	events := []api.Event{
		{Time: at, Name: "api:1", Process: "api", Instance: 1, From: api.StateStarting, State: api.StateRunning, Ready: true, Pid: 7},
		{Time: at, Name: "api:1", Process: "api", Instance: 1, From: api.StateRunning, State: api.StateBackoff,
			ExitCode: ptr(1), Reason: "exited 1"},
		{Time: at, Name: "db", Process: "db", From: api.StateRunning, State: api.StateFatal, ExitSignal: ptr("SIGKILL")},
	}
	b := controltest.NewStore(fleet()...).Backend()
	// Every subscriber gets the events, then the stream ends as when supd
	// stops: a lost connection, exit 3.
	b.SubscribeFunc = func(context.Context) <-chan api.Event {
		ch := make(chan api.Event, len(events))
		for _, e := range events {
			ch <- e
		}
		close(ch)
		return ch
	}
	path := supd(t, b)
	ctx := controltest.Context(t)

	r := supctl(ctx, "--socket", path, "events")
	r.want(t, 3, "supd went away")
	want := "15:04:05.123 api:1 starting -> running ready\n" +
		"15:04:05.123 api:1 running -> backoff: exited 1\n" +
		"15:04:05.123 db running -> fatal: killed by SIGKILL\n"
	if r.stdout != want {
		t.Errorf("events:\n%s\nwant:\n%s", r.stdout, want)
	}

	r = supctl(ctx, "--socket", path, "events", "--json")
	r.want(t, 3, "supd went away")
	out := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(out) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(out), r.stdout)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(out[0]), &first); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"time", "name", "process", "instance", "from", "state", "ready", "pid",
		"restarts", "exit_code", "exit_signal", "reason"} {
		if _, ok := first[field]; !ok {
			t.Errorf("event lacks %q: %s", field, out[0])
		}
	}
}

func TestUsageErrors(t *testing.T) {
	ctx := controltest.Context(t)
	for _, tc := range []struct {
		args  []string
		err   string
		usage string
	}{
		{nil, "missing command", "usage: supctl [--socket PATH] COMMAND"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "usage: supctl [--socket PATH] COMMAND"},
		{[]string{"--bogus", "status"}, "flag provided but not defined: --bogus", "usage: supctl [--socket PATH] COMMAND"},
		{[]string{"status", "--bogus"}, "flag provided but not defined: --bogus", "usage: supctl status [NAME...] [--json]"},
		{[]string{"relaod"}, `unknown command "relaod"; did you mean "reload"?`, "usage: supctl [--socket PATH] COMMAND"},
		{[]string{"start"}, "missing NAME", "usage: supctl start NAME..."},
		{[]string{"stop", "--no-wait"}, "missing NAME", "usage: supctl stop NAME..."},
		{[]string{"restart", "api", "--timeout", "soon"}, `invalid value "soon" for flag --timeout: "soon" is not a duration: use a number with a unit, such as 30s`, "usage: supctl restart"},
		{[]string{"start", "api", "--timeout", "0s"}, `"0s": use a positive duration`, "usage: supctl start"},
		{[]string{"wait", "--timeout", "5"}, `invalid value "5" for flag --timeout: "5" has no unit: did you mean 5s?`, "usage: supctl wait"},
		{[]string{"wait", "--timeout", "1.5"}, `"1.5" has no unit: did you mean 1.5s?`, "usage: supctl wait"},
		{[]string{"wait", "--no-wait"}, "flag provided but not defined: --no-wait", "usage: supctl wait"},
		{[]string{"scale", "api"}, "want NAME and N, got 1 arguments", "usage: supctl scale NAME N"},
		{[]string{"scale", "api", "0"}, `N = "0": give a number of instances, 1 or more`, "usage: supctl scale"},
		{[]string{"scale", "api", "two"}, `N = "two"`, "usage: supctl scale"},
		{[]string{"signal"}, "missing SIGNAL and NAME", "usage: supctl signal SIGNAL NAME..."},
		{[]string{"signal", "HUP"}, "missing NAME (all: every process)", "usage: supctl signal"},
		{[]string{"signal", "SIGNOPE", "api"}, `unknown signal "SIGNOPE"`, "usage: supctl signal"},
		{[]string{"signal", "9", "api"}, `write its name, SIGKILL`, "usage: supctl signal"},
		{[]string{"completion", "tcsh"}, `unknown shell "tcsh"`, "usage: supctl completion"},
		{[]string{"top", "api"}, `unexpected argument "api"`, "usage: supctl top"},
		{[]string{"logs"}, "missing NAME", "usage: supctl logs [-f] [-n N] [--since D] NAME"},
		{[]string{"logs", "a", "b"}, "one NAME only, got 2", "usage: supctl logs"},
		{[]string{"logs", "-n", "-1", "api"}, "-n must not be negative", "usage: supctl logs"},
		{[]string{"why"}, "missing NAME", "usage: supctl why NAME"},
		{[]string{"events", "api"}, `unexpected argument "api"`, "usage: supctl events"},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`, "usage: supctl [--socket PATH] COMMAND"},
	} {
		r := supctl(ctx, tc.args...)
		r.want(t, 2, tc.err)
		var ue *ctl.UsageError
		if !errors.As(r.err, &ue) || !strings.Contains(ue.Usage, tc.usage) {
			t.Errorf("%q: usage = %v, want it to contain %q", tc.args, ue, tc.usage)
		}
	}
}

func TestHelp(t *testing.T) {
	ctx := controltest.Context(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "Exit codes: 0 success, 1 the action failed, 2 usage error, 3 cannot reach supd."},
		{[]string{"-h"}, "usage: supctl [--socket PATH] COMMAND"},
		{[]string{"--help"}, "  why         NAME [--json]"},
		{[]string{"--help"}, "  scale       NAME N"},
		{[]string{"help", "why"}, "usage: supctl why NAME [--json]\n\nAnswer the 502 checklist"},
		{[]string{"logs", "-h"}, "-n N"},
		{[]string{"start", "api", "--help"}, "  --no-wait\n"},
		{[]string{"status", "-h"}, "  --socket PATH\n"},
	} {
		r := supctl(ctx, tc.args...)
		r.want(t, 0, "")
		if !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%q printed:\n%s\nwant it to contain %q", tc.args, r.stdout, tc.want)
		}
	}
	r := supctl(ctx, "help")
	if want := "$SUPD_SOCKET, else " + api.DefaultSocketPath() + "."; !strings.Contains(r.stdout, want) {
		t.Errorf("help does not show the default socket %q:\n%s", want, r.stdout)
	}
}

func TestLogsSinceAsksForEveryLineSinceThen(t *testing.T) {
	type call struct {
		n     int
		since time.Time
	}
	calls := make(chan call, 2)
	b := controltest.NewStore(fleet()...).Backend()
	b.LogsFunc = func(ctx context.Context, name string, n int, since time.Time, follow bool) (<-chan api.LogLine, error) {
		calls <- call{n, since}
		ch := make(chan api.LogLine)
		close(ch)
		return ch, nil
	}
	path := supd(t, b)
	ctx := controltest.Context(t)
	before := time.Now()
	supctl(ctx, "--socket", path, "logs", "--since", "10m", "api").want(t, 0, "")
	c := <-calls
	if c.n != -1 || c.since.Before(before.Add(-10*time.Minute-time.Second)) || c.since.After(time.Now().Add(-10*time.Minute)) {
		t.Errorf("--since 10m asked for n=%d since %v", c.n, c.since)
	}
	supctl(ctx, "--socket", path, "logs", "--since", "10m", "-n", "5", "api").want(t, 0, "")
	if c := <-calls; c.n != 5 {
		t.Errorf("--since 10m -n 5 asked for n=%d", c.n)
	}
}
