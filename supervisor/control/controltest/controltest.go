// Package controltest provides a fake control.Backend, an in-memory
// process table to back it, and a control server on a temporary socket,
// for tests of the control server and of its clients (supctl).
package controltest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
)

// Backend is a control.Backend whose methods call its function fields.
// A nil field answers ErrNotImplemented, except SubscribeFunc: a nil one
// subscribes to nothing (the channel is closed when ctx is done).
type Backend struct {
	StatusFunc    func(ctx context.Context, names []string) ([]api.Status, error)
	StartFunc     ActionFunc
	StopFunc      ActionFunc
	RestartFunc   ActionFunc
	WaitFunc      ActionFunc
	ReloadFunc    func(ctx context.Context, names []string, allowEmpty bool) (<-chan error, error)
	ScaleFunc     func(ctx context.Context, process string, n int) (<-chan error, error)
	SignalFunc    func(ctx context.Context, names []string, sig syscall.Signal) error
	WhyFunc       func(ctx context.Context, name string) (api.Why, error)
	ProxyFunc     func(ctx context.Context, req api.ProxyCheckRequest) ([]api.ProxyCheck, error)
	LogsFunc      func(ctx context.Context, name string, n int, since time.Time, follow bool) (<-chan api.LogLine, error)
	SubscribeFunc func(ctx context.Context) <-chan api.Event
}

var _ control.Backend = (*Backend)(nil)

// ErrNotImplemented is answered by a Backend method whose field is nil.
var ErrNotImplemented = errors.New("controltest: not implemented")

func (b *Backend) Status(ctx context.Context, names []string) ([]api.Status, error) {
	if b.StatusFunc == nil {
		return nil, ErrNotImplemented
	}
	return b.StatusFunc(ctx, names)
}

// ActionFunc implements an action of control.Backend.
type ActionFunc func(ctx context.Context, names []string) (<-chan error, error)

func (b *Backend) Start(ctx context.Context, names []string) (<-chan error, error) {
	return callAction(b.StartFunc, ctx, names)
}

func (b *Backend) Stop(ctx context.Context, names []string) (<-chan error, error) {
	return callAction(b.StopFunc, ctx, names)
}

func (b *Backend) Restart(ctx context.Context, names []string) (<-chan error, error) {
	return callAction(b.RestartFunc, ctx, names)
}

func (b *Backend) Wait(ctx context.Context, names []string) (<-chan error, error) {
	return callAction(b.WaitFunc, ctx, names)
}

func (b *Backend) Reload(ctx context.Context, names []string, allowEmpty bool) (<-chan error, error) {
	if b.ReloadFunc == nil {
		return nil, ErrNotImplemented
	}
	return b.ReloadFunc(ctx, names, allowEmpty)
}

func callAction(f ActionFunc, ctx context.Context, names []string) (<-chan error, error) {
	if f == nil {
		return nil, ErrNotImplemented
	}
	return f(ctx, names)
}

func (b *Backend) Scale(ctx context.Context, process string, n int) (<-chan error, error) {
	if b.ScaleFunc == nil {
		return nil, ErrNotImplemented
	}
	return b.ScaleFunc(ctx, process, n)
}

func (b *Backend) SendSignal(ctx context.Context, names []string, sig syscall.Signal) error {
	if b.SignalFunc == nil {
		return ErrNotImplemented
	}
	return b.SignalFunc(ctx, names, sig)
}

// Done returns a channel that has already received err: an action
// complete at once.
func Done(err error) <-chan error {
	ch := make(chan error, 1)
	ch <- err
	return ch
}

func (b *Backend) Why(ctx context.Context, name string) (api.Why, error) {
	if b.WhyFunc == nil {
		return api.Why{}, ErrNotImplemented
	}
	return b.WhyFunc(ctx, name)
}

func (b *Backend) CheckProxy(ctx context.Context, req api.ProxyCheckRequest) ([]api.ProxyCheck, error) {
	if b.ProxyFunc == nil {
		return nil, ErrNotImplemented
	}
	return b.ProxyFunc(ctx, req)
}

func (b *Backend) Logs(ctx context.Context, name string, n int, since time.Time, follow bool) (<-chan api.LogLine, error) {
	if b.LogsFunc == nil {
		return nil, ErrNotImplemented
	}
	return b.LogsFunc(ctx, name, n, since, follow)
}

func (b *Backend) Subscribe(ctx context.Context) <-chan api.Event {
	if b.SubscribeFunc != nil {
		return b.SubscribeFunc(ctx)
	}
	ch := make(chan api.Event)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch
}

// Store is an in-memory process table that answers Status and Subscribe
// like a supervisor would, and emits an event on every change made with
// Update. It is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	sts     []api.Status
	subs    map[chan api.Event]struct{}
	changed chan struct{} // closed and replaced when subs changes
}

// NewStore returns a store holding sts, in that order.
func NewStore(sts ...api.Status) *Store {
	return &Store{
		sts:     slices.Clone(sts),
		subs:    map[chan api.Event]struct{}{},
		changed: make(chan struct{}),
	}
}

// Backend returns a Backend answering Status and Subscribe from s; set
// its other fields as the test needs.
func (s *Store) Backend() *Backend {
	return &Backend{StatusFunc: s.Status, SubscribeFunc: s.Subscribe, WaitFunc: s.Wait}
}

// Wait implements Backend.Wait from the table, as a supervisor would:
// the channel receives nil once every named instance (none: every one not
// stopped by request) is ready, or an *api.OutcomeError once one is
// fatal, exited without being ready, or stopped by request. It watches
// the table until ctx is done.
func (s *Store) Wait(ctx context.Context, names []string) (<-chan error, error) {
	if _, err := s.Status(ctx, names); err != nil {
		return nil, err
	}
	events := s.Subscribe(ctx)
	done := make(chan error, 1)
	go func() {
		for {
			sts, _ := s.Status(ctx, names)
			if finished, err := outcome(sts, len(names) == 0); finished {
				done <- err
				return
			}
			if _, ok := <-events; !ok {
				return
			}
		}
	}()
	return done, nil
}

func outcome(sts []api.Status, all bool) (bool, error) {
	pending := false
	for _, st := range sts {
		switch {
		case all && st.StoppedByRequest(), st.Ready:
		case st.StoppedByRequest():
			return true, &api.OutcomeError{Msg: st.Name + " is stopped by request"}
		case st.State == api.StateFatal || st.State == api.StateExited:
			return true, &api.OutcomeError{Msg: api.Describe(st)}
		default:
			pending = true
		}
	}
	return !pending, nil
}

// Status returns the instances matching names (by instance or process
// name), all when names is empty; an unknown name wraps api.ErrUnknown.
func (s *Store) Status(_ context.Context, names []string) ([]api.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(names) == 0 {
		return slices.Clone(s.sts), nil
	}
	var out []api.Status
	for _, name := range names {
		n := len(out)
		for _, st := range s.sts {
			if st.Name == name || st.Process == name {
				out = append(out, st)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%w: %q", api.ErrUnknown, name)
		}
	}
	return out, nil
}

// Update applies f to every instance matching name (instance or process
// name) and emits one event for each. It panics on an unknown name.
func (s *Store) Update(name string, f func(*api.Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for i := range s.sts {
		st := &s.sts[i]
		if st.Name != name && st.Process != name {
			continue
		}
		found = true
		from := st.State
		f(st)
		s.publishLocked(*st, from)
	}
	if !found {
		panic(fmt.Sprintf("controltest: no instance %q", name))
	}
}

// Add appends st, as a scale up does, and emits an event for it.
func (s *Store) Add(st api.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sts = append(s.sts, st)
	s.publishLocked(st, api.StateStopped)
}

// Remove drops the instance called name, as a scale down does once it is
// down, and emits an event. It panics on an unknown name.
func (s *Store) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, st := range s.sts {
		if st.Name == name {
			s.sts = slices.Delete(s.sts, i, i+1)
			s.publishLocked(st, st.State)
			return
		}
	}
	panic(fmt.Sprintf("controltest: no instance %q", name))
}

// publishLocked sends the event of st's change from state from to every
// subscriber. s.mu is held.
func (s *Store) publishLocked(st api.Status, from string) {
	ev := api.Event{
		Time: time.Now(), Name: st.Name, Process: st.Process, Instance: st.Instance,
		From: from, State: st.State, Ready: st.Ready, Pid: st.Pid, Restarts: st.Restarts,
		ExitCode: st.ExitCode, ExitSignal: st.ExitSignal, Reason: st.Reason,
	}
	for ch := range s.subs {
		select {
		case ch <- ev:
		default: // a slow subscriber misses it
		}
	}
}

// Action returns an implementation of a Backend action (StartFunc, ...)
// that behaves like a supervisor: it fails on an unknown name; applies set
// to the named instances before it returns (the transition is applied);
// then, unless later is nil, applies later to them from another goroutine,
// as the process gets there, and completes with outcome (nil: the targets
// got there). With later nil the action never completes. Each change
// emits an event.
func (s *Store) Action(set, later func(*api.Status), outcome error) ActionFunc {
	return func(ctx context.Context, names []string) (<-chan error, error) {
		if _, err := s.Status(ctx, names); err != nil {
			return nil, err
		}
		for _, n := range names {
			s.Update(n, set)
		}
		done := make(chan error, 1)
		if later != nil {
			go func() {
				for _, n := range names {
					s.Update(n, later)
				}
				done <- outcome
			}()
		}
		return done, nil
	}
}

// Subscribe returns a channel of every change from now on, closed when ctx
// is done.
func (s *Store) Subscribe(ctx context.Context) <-chan api.Event {
	ch := make(chan api.Event, 64)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.notifyLocked()
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, ch)
		close(ch)
		s.notifyLocked()
	})
	return ch
}

// WaitSubscribers blocks until there are at least n live subscriptions,
// or ctx is done.
func (s *Store) WaitSubscribers(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		have, changed := len(s.subs), s.changed
		s.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d subscribers, want %d: %w", have, n, ctx.Err())
		}
	}
}

func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Context returns a context that ends when the test does or after 10s,
// to bound every wait of a test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Serve serves srv on a socket in a fresh temporary directory until the
// test ends, and returns the socket's path. srv.Log may be left zero.
func Serve(t testing.TB, srv *control.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "supd.sock")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("control server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("control server did not stop within 10s")
		}
	})
	return path
}
