package control_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
	"github.com/sup-sh/sup/supervisor/control/controltest"
)

// testCtx bounds a test's waits.
// serve serves b and returns a client of it.
func serve(t *testing.T, b control.Backend) (*control.Client, string) {
	t.Helper()
	path := controltest.Serve(t, &control.Server{
		Backend: b,
		Log:     zerolog.New(zerolog.NewTestWriter(t)),
	})
	return control.NewClient(path), path
}

// inst is an instance in the given state; ready as the contract says.
func inst(name, state string) api.Status {
	process, _, _ := strings.Cut(name, ":")
	st := api.Status{Name: name, Process: process, State: state, Ready: state == api.StateRunning}
	if state == api.StateRunning || state == api.StateStarting || state == api.StateStopping {
		st.Pid = 100
	}
	return st
}

func ptr[T any](v T) *T { return &v }

// rawGet answers the raw status code and body of a GET on the socket.
func rawGet(t *testing.T, path, target string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	req, err := http.NewRequestWithContext(controltest.Context(t), http.MethodGet, "http://supd"+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// remoteErr asserts err is a *control.RemoteError with that code and a
// message containing want.
func remoteErr(t *testing.T, err error, code int, want string) *control.RemoteError {
	t.Helper()
	var re *control.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want a RemoteError %d", err, err, code)
	}
	if re.StatusCode != code || !strings.Contains(re.Message, want) {
		t.Fatalf("err = %d %q, want %d containing %q", re.StatusCode, re.Message, code, want)
	}
	return re
}

func names(sts []api.Status) []string {
	var out []string
	for _, st := range sts {
		out = append(out, st.Name)
	}
	return out
}

func TestListenMode0600AndParentDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "sup", "supd.sock")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want a socket with 0600", fi.Mode())
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supd.sock")
	// A socket nobody listens on, as a killed supd leaves it.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left in place: %v", err)
	}

	ln, err := control.Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestListenRefusesWhenSupdIsListening(t *testing.T) {
	_, path := serve(t, controltest.NewStore().Backend())
	_, err := control.Listen(path)
	if err == nil || !strings.HasPrefix(err.Error(), "another supd is listening on "+path+" (pid ") {
		t.Fatalf("err = %v, want another supd is listening", err)
	}
	// The running one is unharmed.
	if code, _ := rawGet(t, path, "/status"); code != http.StatusOK {
		t.Errorf("first supd answers %d", code)
	}
}

func TestListenLeavesOtherFilesAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supd.sock")
	if err := os.WriteFile(path, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := control.Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("err = %v, want not a socket", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Errorf("file changed: %q, %v", b, err)
	}
}

func TestServeRemovesSocketOnShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supd.sock")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(controltest.Context(t))
	done := make(chan error, 1)
	srv := &control.Server{Backend: controltest.NewStore().Backend(), Log: zerolog.Nop()}
	go func() { done <- srv.Serve(ctx, ln) }()

	// The socket is listening: the call waits in its backlog if need be.
	if _, err := control.NewClient(path).Status(controltest.Context(t), nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after shutdown: %v", err)
	}
}

func TestStatus(t *testing.T) {
	store := controltest.NewStore(inst("api:0", api.StateRunning), inst("api:1", api.StateStarting), inst("db", api.StateStopped))
	c, path := serve(t, store.Backend())
	ctx := controltest.Context(t)

	all, err := c.Status(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); !slices.Equal(got, []string{"api:0", "api:1", "db"}) {
		t.Errorf("all = %v", got)
	}
	some, err := c.Status(ctx, []string{"api", "db"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(some); !slices.Equal(got, []string{"api:0", "api:1", "db"}) {
		t.Errorf("api, db = %v", got)
	}

	// The contract's field names, and listening never null.
	code, body := rawGet(t, path, "/status?name=db")
	if code != http.StatusOK {
		t.Fatalf("code %d", code)
	}
	for _, field := range []string{`"name":"db"`, `"process":"db"`, `"instance":0`, `"state":"stopped"`,
		`"ready":false`, `"pid":0`, `"restarts":0`, `"uptime_ms":0`, `"exit_code":null`,
		`"exit_signal":null`, `"listening":[]`, `"reason":""`} {
		if !strings.Contains(body, field) {
			t.Errorf("body lacks %s: %s", field, body)
		}
	}
}

func TestUnknownNameIs404WithKnownNames(t *testing.T) {
	store := controltest.NewStore(inst("api:0", api.StateRunning), inst("api:1", api.StateRunning), inst("db", api.StateRunning))
	b := store.Backend()
	b.WhyFunc = func(context.Context, string) (api.Why, error) {
		return api.Why{}, fmt.Errorf("%w: %q", api.ErrUnknown, "apu")
	}
	b.StartFunc = func(ctx context.Context, names []string) (<-chan error, error) {
		_, err := store.Status(ctx, names)
		return controltest.Done(nil), err
	}
	c, _ := serve(t, b)
	ctx := controltest.Context(t)

	_, err := c.Status(ctx, []string{"api", "apu"})
	remoteErr(t, err, http.StatusNotFound, `no process named "apu"; did you mean "api"? (known: api, db)`)
	_, err = c.Why(ctx, "apu")
	remoteErr(t, err, http.StatusNotFound, `no process named "apu"; did you mean "api"? (known: api, db)`)
	_, err = c.Do(ctx, control.ActionStart, api.ActionRequest{Names: []string{"api:7"}, Wait: true})
	remoteErr(t, err, http.StatusNotFound, `no instance "api:7" (api has api:0, api:1)`)
}

func TestActionsCallBackendWithNames(t *testing.T) {
	store := controltest.NewStore(inst("api", api.StateRunning))
	b := store.Backend()
	var calls []string
	record := func(action string) controltest.ActionFunc {
		return func(_ context.Context, names []string) (<-chan error, error) {
			calls = append(calls, action+" "+strings.Join(names, ","))
			return controltest.Done(nil), nil
		}
	}
	b.StartFunc, b.StopFunc, b.RestartFunc = record("start"), record("stop"), record("restart")
	reload := record("reload")
	b.ReloadFunc = func(ctx context.Context, names []string, _ bool) (<-chan error, error) { return reload(ctx, names) }
	c, _ := serve(t, b)
	ctx := controltest.Context(t)

	for _, a := range []control.Action{control.ActionStart, control.ActionStop, control.ActionRestart, control.ActionReload} {
		sts, err := c.Do(ctx, a, api.ActionRequest{Names: []string{"api"}})
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		if got := names(sts); !slices.Equal(got, []string{"api"}) {
			t.Errorf("%s answered %v", a, got)
		}
	}
	if _, err := c.Do(ctx, control.ActionReload, api.ActionRequest{Wait: true}); err != nil {
		t.Fatalf("reload of the config: %v", err)
	}
	want := []string{"start api", "stop api", "restart api", "reload api", "reload "}
	if !slices.Equal(calls, want) {
		t.Errorf("calls = %q, want %q", calls, want)
	}
}

func TestBadRequests(t *testing.T) {
	c, path := serve(t, controltest.NewStore(inst("api", api.StateRunning)).Backend())
	ctx := controltest.Context(t)
	for _, tc := range []struct {
		a    control.Action
		req  api.ActionRequest
		want string
	}{
		{control.ActionStart, api.ActionRequest{}, "start: no process named"},
		{control.ActionStop, api.ActionRequest{}, "stop: no process named"},
		{control.ActionRestart, api.ActionRequest{}, "restart: no process named"},
		{control.ActionWait, api.ActionRequest{Timeout: "soon"}, `bad timeout "soon"`},
		{control.ActionStart, api.ActionRequest{Names: []string{"api"}, Wait: true, Timeout: "-1s"}, `bad timeout "-1s"`},
	} {
		_, err := c.Do(ctx, tc.a, tc.req)
		remoteErr(t, err, http.StatusBadRequest, tc.want)
	}
	for _, target := range []string{"/why", "/logs", "/logs?name=api&n=x", "/logs?name=api&follow=maybe", "/logs?name=api&since=yesterday"} {
		if code, body := rawGet(t, path, target); code != http.StatusBadRequest || !strings.Contains(body, `"error":`) {
			t.Errorf("GET %s = %d %s, want 400 with an api.Error", target, code, body)
		}
	}
}

func TestReloadBadConfig(t *testing.T) {
	b := controltest.NewStore().Backend()
	diag := "sup.hcl:3:5: error: unknown attribute \"comand\"\n"
	b.ReloadFunc = func(context.Context, []string, bool) (<-chan error, error) {
		return nil, &api.ReloadError{Diagnostics: diag}
	}
	c, _ := serve(t, b)

	_, err := c.Do(controltest.Context(t), control.ActionReload, api.ActionRequest{})
	re := remoteErr(t, err, http.StatusUnprocessableEntity, "bad config")
	if re.Diagnostics != diag {
		t.Errorf("diagnostics = %q, want %q", re.Diagnostics, diag)
	}
}

func TestBackendErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
	}{
		{errors.New("disk on fire"), http.StatusInternalServerError},
		{fmt.Errorf("stop: %w", api.ErrShuttingDown), http.StatusServiceUnavailable},
	} {
		b := controltest.NewStore(inst("api", api.StateRunning)).Backend()
		b.StopFunc = func(context.Context, []string) (<-chan error, error) { return nil, tt.err }
		c, _ := serve(t, b)
		_, err := c.Do(controltest.Context(t), control.ActionStop, api.ActionRequest{Names: []string{"api"}})
		remoteErr(t, err, tt.code, tt.err.Error())
	}
}

func TestWhy(t *testing.T) {
	want := api.Why{
		Status:   inst("api", api.StateRunning),
		Expect:   []string{"tcp:127.0.0.1:3000"},
		LastExit: "exited 1 at 12:01:02 after 2.1s",
		Checks:   []api.Check{{Question: "running", OK: true, Answer: "pid 100"}},
	}
	b := controltest.NewStore().Backend()
	b.WhyFunc = func(_ context.Context, name string) (api.Why, error) {
		if name != "api" {
			return api.Why{}, fmt.Errorf("%w: %q", api.ErrUnknown, name)
		}
		return want, nil
	}
	c, _ := serve(t, b)
	got, err := c.Why(controltest.Context(t), "api")
	if err != nil {
		t.Fatal(err)
	}
	want.Status.Listening, want.Status.Expect, want.Status.AcceptQueue = []string{}, []string{}, []api.ListenQueue{} // as the wire has them
	if !reflect.DeepEqual(got, want) {
		t.Errorf("why = %+v\nwant %+v", got, want)
	}
}

func TestLogs(t *testing.T) {
	b := controltest.NewStore().Backend()
	type call struct {
		name   string
		n      int
		since  time.Time
		follow bool
	}
	calls := make(chan call, 1)
	live := make(chan api.LogLine)
	b.LogsFunc = func(ctx context.Context, name string, n int, since time.Time, follow bool) (<-chan api.LogLine, error) {
		if name != "api" {
			return nil, fmt.Errorf("%w: %q", api.ErrUnknown, name)
		}
		calls <- call{name, n, since, follow}
		ch := make(chan api.LogLine)
		go func() {
			defer close(ch)
			for i := range n {
				ch <- api.LogLine{Name: "api", Stream: "stdout", Line: fmt.Sprint("line ", i)}
			}
			for follow {
				select {
				case l := <-live:
					ch <- l
				case <-ctx.Done():
					return
				}
			}
		}()
		return ch, nil
	}
	c, _ := serve(t, b)
	ctx := controltest.Context(t)

	var got []string
	collect := func(l api.LogLine) error { got = append(got, l.Line); return nil }
	since := time.Date(2026, 12, 7, 4, 31, 57, 123456789, time.UTC)
	if err := c.Logs(ctx, "api", 3, since, false, collect); err != nil {
		t.Fatal(err)
	}
	if want := []string{"line 0", "line 1", "line 2"}; !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if cl := <-calls; cl.name != "api" || cl.n != 3 || !cl.since.Equal(since) || cl.follow {
		t.Errorf("backend called with %+v", cl)
	}

	// Follow: lines keep coming until the client leaves.
	fctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case live <- api.LogLine{Name: "api", Stream: "stderr", Line: "new"}:
		case <-fctx.Done():
		}
	}()
	var followed []api.LogLine
	err := c.Logs(fctx, "api", 0, time.Time{}, true, func(l api.LogLine) error {
		followed = append(followed, l)
		cancel()
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(followed) != 1 || followed[0].Line != "new" || followed[0].Stream != "stderr" {
		t.Errorf("followed %+v", followed)
	}
	if cl := <-calls; cl != (call{"api", 0, time.Time{}, true}) {
		t.Errorf("backend called with %+v", cl)
	}

	err = c.Logs(ctx, "nope", 3, time.Time{}, false, collect)
	remoteErr(t, err, http.StatusNotFound, `no process named "nope"`)
}

func TestEventsStreamAndShutdown(t *testing.T) {
	store := controltest.NewStore(inst("api", api.StateStarting))
	path := filepath.Join(t.TempDir(), "supd.sock")
	ctx := controltest.Context(t)
	srvCtx, stop := context.WithCancel(ctx)
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- (&control.Server{Backend: store.Backend()}).Serve(srvCtx, ln) }()

	got := make(chan api.Event, 10)
	streamed := make(chan error, 1)
	go func() {
		streamed <- control.NewClient(path).Events(ctx, func(e api.Event) error { got <- e; return nil })
	}()
	if err := store.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	store.Update("api", func(st *api.Status) { st.State, st.Ready = api.StateRunning, true })
	select {
	case e := <-got:
		if e.Name != "api" || e.From != api.StateStarting || e.State != api.StateRunning || !e.Ready {
			t.Errorf("event = %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}

	// Shutting supd down ends the stream and Serve returns; for the
	// client, whose stream follows, that is a lost connection.
	stop()
	for name, ch := range map[string]chan error{"stream": streamed, "Serve": served} {
		select {
		case err := <-ch:
			var unreachable *control.UnreachableError
			if name == "stream" && !errors.As(err, &unreachable) {
				t.Errorf("stream ended with %v, want an UnreachableError", err)
			}
			if name == "Serve" && err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-ctx.Done():
			t.Fatalf("%s did not end", name)
		}
	}
}

func TestUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supd.sock")
	_, err := control.NewClient(path).Status(controltest.Context(t), nil)
	var ue *control.UnreachableError
	if !errors.As(err, &ue) || ue.Path != path {
		t.Fatalf("err = %v, want UnreachableError", err)
	}
	if want := "cannot reach supd at " + path + ": connect: no such file or directory (no socket there; is supd running? set --socket PATH or $SUPD_SOCKET)"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// --- Waiting ---

// lifecycle is a store and a backend answering from it.
type lifecycle struct {
	*controltest.Store
	b *controltest.Backend
}

func newLifecycle(sts ...api.Status) *lifecycle {
	s := controltest.NewStore(sts...)
	return &lifecycle{Store: s, b: s.Backend()}
}

func starting(st *api.Status) {
	st.State, st.Ready, st.Pid, st.Reason = api.StateStarting, false, 200, "starting"
}
func ready(st *api.Status) { st.State, st.Ready, st.Reason = api.StateRunning, true, "" }

func TestStartWaitsUntilComplete(t *testing.T) {
	l := newLifecycle(inst("api:0", api.StateStopped), inst("api:1", api.StateStopped))
	l.b.StartFunc = l.Action(starting, ready, nil)
	c, _ := serve(t, l.b)

	sts, err := c.Do(controltest.Context(t), control.ActionStart, api.ActionRequest{Names: []string{"api"}, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if !st.Ready || st.State != api.StateRunning {
			t.Errorf("answered %s %s ready=%v", st.Name, st.State, st.Ready)
		}
	}
	if len(sts) != 2 {
		t.Errorf("answered %d instances, want 2", len(sts))
	}
}

// The backend decides when an action is complete: a status that already
// looks ready (the old spawn of a restart) does not end the wait.
func TestWaitEndsOnlyWhenTheBackendSaysSo(t *testing.T) {
	l := newLifecycle(inst("api", api.StateRunning))
	release := make(chan error)
	l.b.RestartFunc = func(context.Context, []string) (<-chan error, error) {
		return release, nil
	}
	c, _ := serve(t, l.b)
	ctx := controltest.Context(t)
	answered := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, control.ActionRestart, api.ActionRequest{Names: []string{"api"}, Wait: true})
		answered <- err
	}()
	select {
	case err := <-answered:
		t.Fatalf("answered before the restart was complete: %v", err)
	case release <- nil:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
}

func TestOutcomeErrorIs409(t *testing.T) {
	l := newLifecycle(inst("api", api.StateStopped))
	fatal := func(st *api.Status) {
		st.State, st.Pid, st.ExitCode, st.Reason = api.StateFatal, 0, ptr(1), "exited 1 before binding"
	}
	l.b.StartFunc = l.Action(starting, fatal, &api.OutcomeError{Msg: "api is fatal: exited 1 before binding"})
	c, _ := serve(t, l.b)
	_, err := c.Do(controltest.Context(t), control.ActionStart, api.ActionRequest{Names: []string{"api"}, Wait: true, Timeout: "1m"})
	remoteErr(t, err, http.StatusConflict, "api is fatal: exited 1 before binding")
}

func TestStartTimesOut(t *testing.T) {
	l := newLifecycle(inst("api", api.StateStopped))
	l.b.StartFunc = l.Action(func(st *api.Status) {
		starting(st)
		st.Reason = "nothing listens on 127.0.0.1:3000 yet"
	}, nil, nil)
	c, _ := serve(t, l.b)
	_, err := c.Do(controltest.Context(t), control.ActionStart, api.ActionRequest{Names: []string{"api"}, Wait: true, Timeout: "50ms"})
	remoteErr(t, err, http.StatusGatewayTimeout, "not ready after 50ms: api is starting: nothing listens on 127.0.0.1:3000 yet")
}

func TestNoWaitReturnsAtOnce(t *testing.T) {
	l := newLifecycle(inst("api", api.StateStopped))
	l.b.StartFunc = l.Action(starting, nil, nil) // never ready
	l.b.ReloadFunc = func(context.Context, []string, bool) (<-chan error, error) {
		return make(chan error), nil // a roll that never ends
	}
	c, _ := serve(t, l.b)
	sts, err := c.Do(controltest.Context(t), control.ActionStart, api.ActionRequest{Names: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].State != api.StateStarting {
		t.Errorf("state = %s, want starting", sts[0].State)
	}
	if _, err := c.Do(controltest.Context(t), control.ActionReload, api.ActionRequest{}); err != nil {
		t.Fatal(err)
	}
}

// A config reload waits (and times out) like any action.
func TestReloadTimesOut(t *testing.T) {
	l := newLifecycle(inst("api", api.StateRunning))
	l.b.ReloadFunc = func(context.Context, []string, bool) (<-chan error, error) {
		l.Update("api", starting)
		return make(chan error), nil
	}
	c, _ := serve(t, l.b)
	_, err := c.Do(controltest.Context(t), control.ActionReload, api.ActionRequest{Wait: true, Timeout: "30ms"})
	remoteErr(t, err, http.StatusGatewayTimeout, "not ready after 30ms: api is starting: starting")
}

func TestReloadPassesAllowEmpty(t *testing.T) {
	b := controltest.NewStore().Backend()
	var got []bool
	b.ReloadFunc = func(_ context.Context, _ []string, allowEmpty bool) (<-chan error, error) {
		got = append(got, allowEmpty)
		return controltest.Done(nil), nil
	}
	c, _ := serve(t, b)
	for _, allow := range []bool{false, true} {
		if _, err := c.Do(controltest.Context(t), control.ActionReload, api.ActionRequest{AllowEmpty: allow}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, []bool{false, true}) {
		t.Errorf("allowEmpty = %v, want [false true]", got)
	}
}

func TestStopWaitsUntilDown(t *testing.T) {
	l := newLifecycle(inst("api", api.StateRunning), inst("db", api.StateRunning))
	l.b.StopFunc = l.Action(
		func(st *api.Status) { st.State, st.Ready = api.StateStopping, false },
		func(st *api.Status) { st.State, st.Pid, st.ExitSignal = api.StateStopped, 0, ptr("SIGTERM") }, nil)
	c, _ := serve(t, l.b)
	sts, err := c.Do(controltest.Context(t), control.ActionStop, api.ActionRequest{Names: []string{"api", "db"}, Wait: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.State != api.StateStopped {
			t.Errorf("%s is %s, want stopped", st.Name, st.State)
		}
	}

	// One that never stops times out, naming it.
	l.b.StopFunc = l.Action(func(st *api.Status) { st.State, st.Ready = api.StateStopping, false }, nil, nil)
	l.Update("api", ready)
	_, err = c.Do(controltest.Context(t), control.ActionStop, api.ActionRequest{Names: []string{"api"}, Wait: true, Timeout: "30ms"})
	remoteErr(t, err, http.StatusGatewayTimeout, "not stopped after 30ms: api is stopping")
}

func TestWaitDefaultTimeout(t *testing.T) {
	b := controltest.NewStore(inst("api", api.StateStarting)).Backend()
	b.WaitFunc = func(context.Context, []string) (<-chan error, error) { return make(chan error), nil }
	path := controltest.Serve(t, &control.Server{Backend: b, WaitTimeout: 20 * time.Millisecond})
	_, err := control.NewClient(path).Do(controltest.Context(t), control.ActionWait, api.ActionRequest{Names: []string{"api"}})
	remoteErr(t, err, http.StatusGatewayTimeout, "not ready after 20ms: api is starting")
}
