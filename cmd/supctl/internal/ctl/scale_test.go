package ctl_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control/controltest"
)

func TestScaleSignalAll(t *testing.T) {
	var mu sync.Mutex
	sts := fleet()
	var signalled []string
	var sigs []syscall.Signal
	b := controltestBackend(&mu, &sts)
	b.ScaleFunc = func(_ context.Context, process string, n int) (<-chan error, error) {
		mu.Lock()
		defer mu.Unlock()
		if process != "api" {
			return nil, fmt.Errorf("%w: %q", api.ErrUnknown, process)
		}
		sts = slices.DeleteFunc(sts, func(st api.Status) bool { return st.Process == "api" && st.Instance >= n })
		for k := 2; k < n; k++ {
			sts = append(sts, api.Status{Name: fmt.Sprintf("api:%d", k), Process: "api", Instance: k,
				State: api.StateRunning, Ready: true, Pid: 5000 + k})
		}
		for k := range sts {
			if sts[k].Process == "api" {
				sts[k].ScaledInstances, sts[k].ConfigInstances = n, 2
			}
		}
		return controltest.Done(nil), nil
	}
	b.SignalFunc = func(_ context.Context, names []string, sig syscall.Signal) error {
		mu.Lock()
		defer mu.Unlock()
		signalled, sigs = append(signalled, names...), append(sigs, sig)
		return nil
	}
	path := supd(t, b)
	ctx := context.Background()

	r := supctl(ctx, "--socket", path, "scale", "api", "4", "--no-wait")
	r.want(t, 0, "")
	for _, want := range []string{"api:3  running   yes    5003", "* api: scaled to 4 instances until the next config reload (the config says 2)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("scale printed:\n%s\nwant it to contain %q", r.stdout, want)
		}
	}
	r = supctl(ctx, "--socket", path, "status")
	if !strings.Contains(r.stdout, "* api: scaled to 4 instances") {
		t.Errorf("status does not say api is scaled:\n%s", r.stdout)
	}
	r = supctl(ctx, "--socket", path, "scale", "apu", "3")
	r.want(t, 2, `no process named "apu"; did you mean "api"?`)
	r = supctl(ctx, "--socket", path, "scale", "api:1", "3")
	r.want(t, 2, "name a process, not an instance (scale api N)")

	r = supctl(ctx, "--socket", path, "signal", "usr1", "api:0", "worker")
	r.want(t, 0, "")
	if r.stdout != "SIGUSR1 -> api:0 (pid 4242)\n" {
		t.Errorf("signal printed %q", r.stdout)
	}
	r = supctl(ctx, "--socket", path, "signal", "HUP", "all")
	r.want(t, 0, "")
	mu.Lock()
	if want := []string{"api:0", "worker", "api", "worker"}; !slices.Equal(signalled, want) || !slices.Equal(sigs, []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP}) {
		t.Errorf("signalled %v with %v, want %v with USR1 then HUP (all expanded to every process)", signalled, sigs, want)
	}
	mu.Unlock()

	r = supctl(ctx, "--socket", path, "status", "all", "--json")
	r.want(t, 0, "")
	if strings.Count(r.stdout, `"name"`) != 5 {
		t.Errorf("status all: want the 5 instances:\n%s", r.stdout)
	}
	r = supctl(ctx, "--socket", path, "names")
	if r.stdout != "api\napi:0\napi:1\nworker\napi:2\napi:3\nall\n" {
		t.Errorf("names printed %q", r.stdout)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := supctl(context.Background(), "completion", shell)
		r.want(t, 0, "")
		for _, want := range []string{"scale", "signal", "supctl names"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("completion %s does not mention %q:\n%s", shell, want, r.stdout)
			}
		}
	}
}

// controltestBackend answers Status from *sts, which the test's other
// functions change under mu.
func controltestBackend(mu *sync.Mutex, sts *[]api.Status) *controltest.Backend {
	return &controltest.Backend{StatusFunc: func(_ context.Context, names []string) ([]api.Status, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(names) == 0 {
			return slices.Clone(*sts), nil
		}
		var out []api.Status
		for _, n := range names {
			found := false
			for _, st := range *sts {
				if st.Name == n || st.Process == n {
					out, found = append(out, st), true
				}
			}
			if !found {
				return nil, fmt.Errorf("%w: %q", api.ErrUnknown, n)
			}
		}
		return out, nil
	}}
}

func TestTopNeedsATerminal(t *testing.T) {
	r := supctl(context.Background(), "top")
	r.want(t, 1, "top needs a terminal")
}
