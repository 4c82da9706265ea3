package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/internal/suptest"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
	"golang.org/x/sys/unix"
)

// The loop's logic, tested without processes and without sleeping: the
// clock and the launcher are fakes, and a Ping (a no-op message) is the
// barrier after which every input sent before it has been handled.

// fakeClock fires its timers only when Advance says so.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the time on by d and fires the timers due, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.stopped || t.at.After(c.now) {
			return t.stopped
		}
		t.stopped = true
		due = append(due, t)
		return true
	})
	c.mu.Unlock()
	slices.SortFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}

// fakeLauncher hands out fakeSpawns with pids from 1000.
type fakeLauncher struct {
	mu     sync.Mutex
	spawns []*fakeSpawn
	fail   error // the next Launch fails with it
	clock  *fakeClock
}

func (l *fakeLauncher) Launch(spec *config.Spec, _ *output.Sink, _ zerolog.Logger, onExit func(reaper.Exit)) (Spawn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.fail; err != nil {
		l.fail = nil
		return nil, err
	}
	sp := &fakeSpawn{name: spec.Name, pid: 1000 + len(l.spawns), onExit: onExit, clock: l.clock,
		ready: make(chan error, 1), alive: true}
	l.spawns = append(l.spawns, sp)
	return sp, nil
}

func (l *fakeLauncher) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.spawns)
}

func (l *fakeLauncher) last(t *testing.T) *fakeSpawn {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.spawns) == 0 {
		t.Fatal("nothing was spawned")
	}
	return l.spawns[len(l.spawns)-1]
}

// fakeSpawn is a process that does what the test says.
type fakeSpawn struct {
	name   string
	pid    int
	onExit func(reaper.Exit)
	clock  *fakeClock
	ready  chan error

	mu      sync.Mutex
	signals []unix.Signal
	alive   bool
	health  func(probe.HealthResult)
	exited  bool
}

func (p *fakeSpawn) Pid() int          { return p.pid }
func (p *fakeSpawn) Tree() *probe.Tree { return nil }
func (p *fakeSpawn) Held() string      { return "" }

func (p *fakeSpawn) Ready(ctx context.Context, progress func(probe.Result)) error {
	select {
	case err := <-p.ready:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *fakeSpawn) Health(ctx context.Context, report func(probe.HealthResult)) {
	p.mu.Lock()
	p.health = report
	p.mu.Unlock()
	<-ctx.Done()
}

func (p *fakeSpawn) Signal(sig unix.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signals = append(p.signals, sig)
}

func (p *fakeSpawn) Alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alive
}

func (p *fakeSpawn) sent() []unix.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.signals)
}

// exit makes the leader exit with code (and the whole tree go).
func (p *fakeSpawn) exit(code int) {
	p.mu.Lock()
	p.alive, p.exited = false, true
	p.mu.Unlock()
	p.onExit(reaper.Exit{Pid: p.pid, Status: unix.WaitStatus(code << 8), Time: p.clock.Now()})
}

// harness runs a Supervisor with the fakes.
type harness struct {
	t      *testing.T
	s      *Supervisor
	clock  *fakeClock
	l      *fakeLauncher
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan int

	mu     sync.Mutex
	events []Event
	next   *config.Config // what a config reload reads
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newHarness(t *testing.T, body string) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{now: time.Unix(1_000_000, 0)}, logs: &syncBuffer{}, done: make(chan int, 1)}
	h.l = &fakeLauncher{clock: h.clock}
	h.s = New(suptest.LoadConfig(t, body), Options{
		Log:      zerolog.New(h.logs),
		Output:   output.NewWriter(&syncBuffer{}),
		Clock:    h.clock,
		Launcher: h.l,
		OnEvent: func(ev Event) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.events = append(h.events, ev)
		},
		Reload: func() (*config.Config, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.next, nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		h.l.mu.Lock()
		spawns := slices.Clone(h.l.spawns)
		h.l.mu.Unlock()
		for _, sp := range spawns { // let the shutdown complete
			sp.mu.Lock()
			exited := sp.exited
			sp.mu.Unlock()
			if !exited {
				sp.exit(0)
			}
		}
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
		if strings.Contains(h.logs.String(), "transition not in the table") {
			t.Errorf("the loop made a move that is not in the table:\n%s", h.logs.String())
		}
	})
	h.sync()
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// sync returns once the loop has handled everything posted before.
func (h *harness) sync() {
	h.t.Helper()
	if err := h.s.Ping(h.ctx()); err != nil {
		h.t.Fatal(err)
	}
}

// advance moves the clock on once the loop has handled what came before
// (and armed its timers).
func (h *harness) advance(d time.Duration) {
	h.sync()
	h.clock.Advance(d)
	h.sync()
}

// makeReady makes sp's ready checks pass and waits until the loop has
// seen it (Ready runs on its own goroutine: no barrier covers it).
func (h *harness) makeReady(sp *fakeSpawn) {
	h.t.Helper()
	sp.ready <- nil
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st := h.status(sp.name); st.Ready && st.Pid == sp.pid {
			return
		}
		time.Sleep(time.Millisecond)
	}
	h.t.Fatalf("%s (pid %d) never became ready", sp.name, sp.pid)
}

func (h *harness) status(name string) api.Status {
	h.t.Helper()
	h.sync()
	sts, err := h.s.Status(h.ctx(), []string{name})
	if err != nil {
		h.t.Fatal(err)
	}
	return sts[0]
}

// want checks the state, readiness and that the reason contains reason.
func (h *harness) want(name, state string, ready bool, reason string) api.Status {
	h.t.Helper()
	st := h.status(name)
	if st.State != state || st.Ready != ready || !strings.Contains(st.Reason, reason) {
		h.t.Fatalf("%s is %s ready=%v reason %q; want %s ready=%v reason containing %q",
			name, st.State, st.Ready, st.Reason, state, ready, reason)
	}
	return st
}

func (h *harness) kinds(k EventKind) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, ev := range h.events {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// wait reads done, which must be complete after the last sync.
func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	default:
		t.Fatal("the action is not complete")
		return nil
	}
}

func pending(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("the action completed early: %v", err)
	default:
	}
}

const webReady = `
process "web" {
  command = ["web"]
  ready {
    tcp     = "127.0.0.1:1"
    timeout = "5s"
  }
  stop {
    drain   = "2s"
    timeout = "3s"
  }
  restart { backoff = "100ms" }
}
`

// The diagram in state.go and the table are the same edges.
func TestTransitionsMatchTheDiagram(t *testing.T) {
	src, err := os.ReadFile("state.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]phase{}
	for p, n := range phaseNames {
		names[n] = phase(p)
	}
	diagram := map[[2]phase]bool{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		_, edge, ok := strings.Cut(sc.Text(), "edge: ")
		if !ok {
			continue
		}
		f := strings.Fields(edge)
		from, ok1 := names[f[0]]
		to, ok2 := names[f[2]]
		if len(f) < 3 || f[1] != "->" || !ok1 || !ok2 {
			t.Fatalf("bad diagram line %q", sc.Text())
		}
		diagram[[2]phase{from, to}] = true
	}
	table := map[[2]phase]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			table[[2]phase{from, to}] = true
			if !diagram[[2]phase{from, to}] {
				t.Errorf("%s -> %s is in the table, not in the diagram", from, to)
			}
		}
	}
	for e := range diagram {
		if !table[e] {
			t.Errorf("%s -> %s is in the diagram, not in the table", e[0], e[1])
		}
	}
	if len(diagram) < 30 {
		t.Errorf("only %d edges found in the diagram", len(diagram))
	}
}

func TestStartReadyStop(t *testing.T) {
	h := newHarness(t, webReady)
	h.want("web", api.StateStarting, false, "starting")
	sp := h.l.last(t)
	h.makeReady(sp)
	h.want("web", api.StateRunning, true, "")
	if n := len(h.kinds(EventReady)); n != 1 {
		t.Errorf("%d ready events, want 1", n)
	}

	done, err := h.s.Stop(h.ctx(), []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	h.want("web", api.StateStopping, false, "draining for 2s")
	if got := sp.sent(); len(got) != 0 {
		t.Fatalf("signalled %v while draining", got)
	}
	h.advance(2 * time.Second)
	if got := sp.sent(); !slices.Equal(got, []unix.Signal{unix.SIGTERM}) {
		t.Fatalf("sent %v after the drain, want SIGTERM", got)
	}
	pending(t, done)
	sp.exit(0)
	st := h.want("web", api.StateStopped, false, "stopped by request")
	if st.Desired != api.DesiredStopped {
		t.Errorf("desired = %q", st.Desired)
	}
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if n := len(h.kinds(EventUnready)); n != 1 {
		t.Errorf("%d unready events, want 1 (ready -> draining)", n)
	}
	if n := len(h.kinds(EventCrash)); n != 0 {
		t.Errorf("a stop by request was reported as %d crashes", n)
	}
}

func TestExitWhileDraining(t *testing.T) {
	h := newHarness(t, webReady)
	sp := h.l.last(t)
	h.makeReady(sp)
	h.want("web", api.StateRunning, true, "")
	if _, err := h.s.Stop(h.ctx(), []string{"web"}); err != nil {
		t.Fatal(err)
	}
	sp.exit(0)
	h.want("web", api.StateStopped, false, "stopped by request")
	h.advance(10 * time.Second) // the drain and kill timers of the old phases are gone
	if got := sp.sent(); len(got) != 0 {
		t.Fatalf("sent %v to a process that was already gone", got)
	}
	h.want("web", api.StateStopped, false, "stopped by request")
}

func TestHealthFailureDuringDrainIsIgnored(t *testing.T) {
	h := newHarness(t, `
process "web" {
  command = ["web"]
  health {
    http     = "http://127.0.0.1:1/health"
    interval = "1s"
    failures = 1
  }
  stop { drain = "2s" }
}
`)
	sp := h.l.last(t)
	h.want("web", api.StateRunning, true, "")
	var report func(probe.HealthResult)
	deadline := time.Now().Add(5 * time.Second)
	for report == nil && time.Now().Before(deadline) { // Health runs on its own goroutine
		sp.mu.Lock()
		report = sp.health
		sp.mu.Unlock()
		h.sync()
	}
	if report == nil {
		t.Fatal("health checks never started")
	}
	if _, err := h.s.Stop(h.ctx(), []string{"web"}); err != nil {
		t.Fatal(err)
	}
	report(probe.HealthResult{OK: false, Restart: true, Reason: "health: 500"})
	h.want("web", api.StateStopping, false, "draining")
	if got := sp.sent(); len(got) != 0 {
		t.Fatalf("a health result during the drain sent %v", got)
	}
}

func TestStaleBackoffTimerAfterStopStart(t *testing.T) {
	h := newHarness(t, webReady)
	h.l.last(t).exit(1)
	h.want("web", api.StateBackoff, false, "restarting in 100ms")
	if n := len(h.kinds(EventCrash)); n != 1 {
		t.Errorf("%d crash events, want 1", n)
	}
	if _, err := h.s.Stop(h.ctx(), []string{"web"}); err != nil {
		t.Fatal(err)
	}
	h.want("web", api.StateStopped, false, "stopped by request")
	if _, err := h.s.Start(h.ctx(), []string{"web"}); err != nil {
		t.Fatal(err)
	}
	h.want("web", api.StateStarting, false, "starting")
	h.advance(100 * time.Millisecond) // the backoff timer of before must not spawn again
	if n := h.l.count(); n != 2 {
		t.Fatalf("%d spawns, want 2", n)
	}
}

func TestReadyTimeoutEndsTheRun(t *testing.T) {
	h := newHarness(t, webReady)
	sp := h.l.last(t)
	h.advance(5 * time.Second)
	h.want("web", api.StateStopping, false, "not ready after 5s")
	if got := sp.sent(); !slices.Equal(got, []unix.Signal{unix.SIGTERM}) {
		t.Fatalf("sent %v, want SIGTERM", got)
	}
	h.advance(3 * time.Second) // stop.timeout
	if got := sp.sent(); !slices.Equal(got, []unix.Signal{unix.SIGTERM, unix.SIGKILL}) {
		t.Fatalf("sent %v, want SIGTERM then SIGKILL", got)
	}
	h.want("web", api.StateStopping, false, "not ready after 5s")
	sp.exit(137)
	st := h.want("web", api.StateBackoff, false, "not ready after 5s")
	if !strings.Contains(st.Reason, "restarting in") {
		t.Errorf("reason %q does not say it restarts", st.Reason)
	}
	if n := len(h.kinds(EventCrash)); n != 0 {
		t.Errorf("a run supd ended was reported as a crash")
	}
}

func TestRestartCompletesWithTheNewSpawn(t *testing.T) {
	h := newHarness(t, webReady)
	first := h.l.last(t)
	h.makeReady(first)
	h.want("web", api.StateRunning, true, "")
	done, err := h.s.Restart(h.ctx(), []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	h.advance(2 * time.Second) // drain
	h.sync()
	pending(t, done)
	first.exit(0)
	h.want("web", api.StateStarting, false, "starting")
	pending(t, done)
	second := h.l.last(t)
	if second == first {
		t.Fatal("not respawned")
	}
	h.makeReady(second)
	h.want("web", api.StateRunning, true, "")
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if st := h.status("web"); st.Restarts != 1 {
		t.Errorf("restarts = %d", st.Restarts)
	}
}

func TestStartFailsWhenFatal(t *testing.T) {
	h := newHarness(t, `
process "web" {
  command = ["web"]
  ready { tcp = "127.0.0.1:1" }
  restart {
    policy = "never"
  }
}
`)
	done, err := h.s.Start(h.ctx(), []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	h.l.last(t).exit(3)
	h.sync()
	var oe *api.OutcomeError
	if err := wait(t, done); !errors.As(err, &oe) || !strings.Contains(oe.Msg, "web is exited") {
		t.Fatalf("start completed with %v", err)
	}
}

func TestSpawnFailures(t *testing.T) {
	h := newHarness(t, webReady)
	h.l.last(t).exit(1)
	h.l.mu.Lock()
	h.l.fail = &spawnError{code: 1, msg: "cannot start web: too many open files", err: unix.EMFILE}
	h.l.mu.Unlock()
	h.advance(100 * time.Millisecond)
	h.want("web", api.StateBackoff, false, "too many open files")
	h.advance(time.Second)
	h.want("web", api.StateStarting, false, "starting")

	h.l.mu.Lock()
	h.l.fail = &spawnError{code: 127, msg: `command not found: "web" is not in PATH`}
	h.l.mu.Unlock()
	h.l.last(t).exit(1)
	h.advance(time.Second)
	st := h.want("web", api.StateFatal, false, "command not found")
	if st.ExitCode == nil || *st.ExitCode != 127 {
		t.Errorf("exit code %v, want 127", st.ExitCode)
	}
	if n := len(h.kinds(EventFatal)); n != 1 {
		t.Errorf("%d fatal events, want 1", n)
	}
}

// Waiting for depends_on changes the reason, not the state: not an event.
func TestWaitingIsOneEvent(t *testing.T) {
	h := newHarness(t, webReady+`
process "app" {
  command    = ["app"]
  depends_on = ["web"]
}
`)
	sub := h.s.Subscribe(h.ctx())
	h.want("app", api.StateStarting, false, "waiting for web")
	for range 3 {
		h.s.post(func() {
			for _, i := range h.s.insts {
				if i.spec.Process == "web" {
					h.s.handle(i, inProgress{ofSpawn{i.gen}, probe.Result{Reason: "nothing listening yet " + h.clock.Now().String()}})
				}
			}
		})
		h.advance(time.Second)
	}
	h.want("app", api.StateStarting, false, "waiting for web (starting: nothing listening yet")
	select {
	case ev := <-sub:
		t.Fatalf("event while nothing changed state: %+v", ev)
	default:
	}
	h.makeReady(h.l.last(t))
	h.want("app", api.StateRunning, true, "")
}

func TestConfigReload(t *testing.T) {
	h := newHarness(t, webReady)
	first := h.l.last(t)
	h.makeReady(first)
	h.want("web", api.StateRunning, true, "")

	// An empty config is refused unless allowed.
	h.mu.Lock()
	h.next = suptest.LoadConfig(t, "")
	h.mu.Unlock()
	_, err := h.s.Reload(h.ctx(), nil, false)
	var re *api.ReloadError
	if !errors.As(err, &re) || !strings.Contains(re.Diagnostics, "--allow-empty") {
		t.Fatalf("reload to an empty config: %v", err)
	}
	h.want("web", api.StateRunning, true, "")

	// A changed process is rolled; Reload returns once applied, and the
	// roll completes only once the new spawn is ready.
	h.mu.Lock()
	h.next = suptest.LoadConfig(t, strings.Replace(webReady, `["web"]`, `["web", "-v"]`, 1))
	h.mu.Unlock()
	done, err := h.s.Reload(h.ctx(), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	h.sync()
	pending(t, done)
	h.want("web", api.StateStopping, false, "draining")
	h.advance(2 * time.Second)
	first.exit(0)
	h.want("web", api.StateStarting, false, "")
	pending(t, done)
	h.makeReady(h.l.last(t))
	h.want("web", api.StateRunning, true, "")
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if n := len(h.kinds(EventReloadBegin)); n != 2 {
		t.Errorf("%d reload-begin events, want 2", n)
	}

	// Allowed: everything stops, and the metrics of web are to go.
	h.mu.Lock()
	h.next = suptest.LoadConfig(t, "")
	h.mu.Unlock()
	done, err = h.s.Reload(h.ctx(), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	h.sync()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	if ev := h.kinds(EventRemoved); len(ev) != 1 || ev[0].Process != "web" {
		t.Errorf("removed events %+v", ev)
	}
}

// heldWeb is webReady with a socket held by supd.
var heldWeb = `
socket "web" {
  listen = "tcp://127.0.0.1:1"
}
` + strings.Replace(webReady, `command = ["web"]`, "command = [\"web\"]\n  sockets = [\"web\"]", 1)

// startRoll starts `reload web` with web ready and serving a socket held
// by supd: it returns the harness, the serving spawn and the reload's
// outcome.
func startRoll(t *testing.T) (*harness, *fakeSpawn, <-chan error) {
	h := newHarness(t, heldWeb)
	serving := h.l.last(t)
	h.makeReady(serving)
	done, err := h.s.Reload(h.ctx(), []string{"web"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return h, serving, done
}

// With held sockets, reload NAME starts a new spawn beside the old one;
// the old one is drained and stopped only once the new one is ready, and
// the instance stays ready throughout.
func TestReplacementRoll(t *testing.T) {
	h, old, done := startRoll(t)
	st := h.want("web", api.StateStarting, true, "replacing pid")
	neu := h.l.last(t)
	if neu == old || st.Pid != neu.pid || st.ReplacingPid != old.pid {
		t.Fatalf("status pid %d replacing %d; want the new %d replacing %d", st.Pid, st.ReplacingPid, neu.pid, old.pid)
	}
	if got := old.sent(); len(got) != 0 {
		t.Fatalf("the old spawn got %v before the new one was ready", got)
	}
	pending(t, done)
	h.makeReady(neu)
	h.sync()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	st = h.want("web", api.StateRunning, true, "")
	if st.ReplacingPid != old.pid {
		t.Errorf("replacing_pid %d while the old spawn drains", st.ReplacingPid)
	}
	h.advance(2 * time.Second) // drain
	if got := old.sent(); !slices.Equal(got, []unix.Signal{unix.SIGTERM}) {
		t.Fatalf("old spawn got %v after the drain, want SIGTERM", got)
	}
	old.exit(0)
	if st := h.want("web", api.StateRunning, true, ""); st.ReplacingPid != 0 || st.Pid != neu.pid {
		t.Errorf("after the roll: pid %d replacing %d", st.Pid, st.ReplacingPid)
	}
	if n := len(h.kinds(EventCrash)); n != 0 {
		t.Errorf("the retired spawn was reported as %d crashes", n)
	}
	if got := neu.sent(); len(got) != 0 {
		t.Errorf("the new spawn got %v", got)
	}
}

// A replacement not ready in time is stopped, the old spawn keeps
// serving, and the reload fails with the reason.
func TestReplacementNotReady(t *testing.T) {
	h, old, done := startRoll(t)
	neu := h.l.last(t)
	h.advance(5 * time.Second)
	if got := neu.sent(); !slices.Equal(got, []unix.Signal{unix.SIGTERM}) {
		t.Fatalf("the late replacement got %v, want SIGTERM", got)
	}
	pending(t, done)
	neu.exit(143)
	st := h.want("web", api.StateRunning, true, "")
	if st.Pid != old.pid || st.ReplacingPid != 0 {
		t.Errorf("pid %d replacing %d; want the old %d serving alone", st.Pid, st.ReplacingPid, old.pid)
	}
	var oe *api.OutcomeError
	if err := wait(t, done); !errors.As(err, &oe) || !strings.Contains(oe.Msg, "not ready after 5s") || !strings.Contains(oe.Msg, "keeps serving") {
		t.Fatalf("reload completed with %v", err)
	}
	if got := old.sent(); len(got) != 0 {
		t.Errorf("the old spawn got %v", got)
	}
	// The old one is still supervised: its exit is a crash as usual.
	old.exit(1)
	h.want("web", api.StateBackoff, false, "exited 1")
}

// A reload while the spawn replaced by the previous one is still being
// retired (drained, stopped) waits until it is gone, then rolls again: the
// current spawn is never stopped first.
func TestReplacementRollWhileTheLastOneRetires(t *testing.T) {
	h, first, done := startRoll(t)
	h.sync()
	second := h.l.last(t)
	h.makeReady(second)
	h.sync()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
	// first drains; a second roll is asked for.
	done, err := h.s.Reload(h.ctx(), []string{"web"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if st := h.want("web", api.StateRunning, true, ""); st.Pid != second.pid || st.ReplacingPid != first.pid {
		t.Fatalf("pid %d replacing %d; want %d serving while %d retires", st.Pid, st.ReplacingPid, second.pid, first.pid)
	}
	pending(t, done)
	h.advance(2 * time.Second) // first's drain
	first.exit(0)
	st := h.want("web", api.StateStarting, true, "replacing pid")
	third := h.l.last(t)
	if third == second || st.ReplacingPid != second.pid {
		t.Fatalf("pid %d replacing %d; want a new spawn replacing %d", st.Pid, st.ReplacingPid, second.pid)
	}
	if got := second.sent(); len(got) != 0 {
		t.Fatalf("the serving spawn got %v before its replacement was ready", got)
	}
	h.makeReady(third)
	h.sync()
	if err := wait(t, done); err != nil {
		t.Fatal(err)
	}
}

// Without held sockets, reload NAME stops the old spawn first.
func TestRollWithoutHeldSocketsStopsFirst(t *testing.T) {
	h := newHarness(t, webReady)
	old := h.l.last(t)
	h.makeReady(old)
	if _, err := h.s.Reload(h.ctx(), []string{"web"}, false); err != nil {
		t.Fatal(err)
	}
	h.want("web", api.StateStopping, false, "no held sockets: it stops before the new spawn starts (a gap)")
	if n := h.l.count(); n != 1 {
		t.Errorf("%d spawns while the old one drains", n)
	}
}

// why: the last probe is about the current spawn only, and a run supd
// ended says so under "last exit".
func TestWhyAfterReadyTimeout(t *testing.T) {
	h := newHarness(t, webReady)
	sp := h.l.last(t)
	h.s.post(func() {
		for _, i := range h.s.insts {
			h.s.handle(i, inProgress{ofSpawn{i.gen}, probe.Result{Reason: "nothing listening yet"}})
		}
	})
	h.advance(5 * time.Second)
	sp.exit(143)
	h.want("web", api.StateBackoff, false, "not ready after 5s")
	w, err := h.s.Why(h.ctx(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if w.Probe != "" {
		t.Errorf("why shows the probe %q of a spawn that is gone", w.Probe)
	}
	if !strings.Contains(w.LastExit, "not ready after 5s") || !strings.Contains(w.LastExit, "ended by supd") {
		t.Errorf("last exit %q does not say supd ended the run", w.LastExit)
	}
}

// The lines under "last exit" are those of that run: not those of the
// next one, whatever order they arrived in.
func TestRunLines(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int, line string) api.LogLine {
		return api.LogLine{Time: t0.Add(time.Duration(s) * time.Second), Line: line}
	}
	lines := []api.LogLine{at(0, "before"), at(1, "a1"), at(3, "b1"), at(2, "a2"), at(4, "b2")}
	got := runLines(lines, t0.Add(time.Second), t0.Add(3*time.Second), 10)
	var text []string
	for _, l := range got {
		text = append(text, l.Line)
	}
	if !slices.Equal(text, []string{"a1", "a2"}) {
		t.Errorf("lines of the run = %v, want a1 a2", text)
	}
	if got := runLines(lines, t0, time.Time{}, 2); len(got) != 2 || got[1].Line != "b2" {
		t.Errorf("last 2 of the current run = %v", got)
	}
}
