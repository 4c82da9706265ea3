package probe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runHealth runs h until stop accepts a result (or 10s pass) and returns
// every result.
func runHealth(t *testing.T, h *Health, tree *Tree, stop func([]HealthResult) bool) []HealthResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var results []HealthResult
	h.Run(ctx, tree, func(r HealthResult) {
		results = append(results, r)
		if stop(results) {
			cancel()
		}
	})
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("health never got there: %+v", results)
	}
	return results
}

func TestHealthFailuresRestart(t *testing.T) {
	sick := filepath.Join(t.TempDir(), "sick")
	_, tree, addr := startReady(t, "--health-file", sick)
	url := "http://" + addr + "/health"
	h := NewHealth("api", HealthSpec{HTTP: url, TCP: addr, Interval: 250 * time.Millisecond, Failures: 3}, "", nil)
	ok := runHealth(t, h, tree, func(rs []HealthResult) bool { return len(rs) == 2 })
	for _, r := range ok {
		if !r.OK || r.Failures != 0 || r.Restart || r.Reason != "" {
			t.Errorf("healthy result %+v", r)
		}
	}

	os.WriteFile(sick, nil, 0o644)
	sickResults := runHealth(t, h, tree, func(rs []HealthResult) bool { return rs[len(rs)-1].Restart })
	if len(sickResults) != 3 {
		t.Fatalf("results %+v, want 3 failures", sickResults)
	}
	for i, r := range sickResults {
		want := HealthResult{
			Reason:   fmt.Sprintf("health: %s: 500 Internal Server Error (%d/3 failures)", url, i+1),
			Failures: i + 1,
			Restart:  i == 2,
		}
		if r != want {
			t.Errorf("result %d = %+v, want %+v", i, r, want)
		}
	}

	os.Remove(sick)
	back := runHealth(t, h, tree, func(rs []HealthResult) bool { return true })
	if !back[0].OK || back[0].Failures != 0 {
		t.Errorf("after recovery %+v", back[0])
	}
}

// A health exec check runs in the instance's directory, as its command
// and readiness exec checks do: a relative script is found there.
func TestHealthExecRunsInDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "check.sh"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := NewHealth("api", HealthSpec{Exec: []string{"./check.sh"}, Interval: 250 * time.Millisecond, Failures: 1}, dir, execRunner{})
	rs := runHealth(t, h, NewTree(os.Getpid()), func([]HealthResult) bool { return true })
	if last := rs[len(rs)-1]; !last.OK {
		t.Fatalf("relative exec check in its dir: %+v", last)
	}
}

func TestHealthTCPAndExec(t *testing.T) {
	_, tree, addr := startReady(t)
	flag := filepath.Join(t.TempDir(), "flag")
	spec := HealthSpec{TCP: addr, Exec: []string{"test", "-e", flag}, Interval: 250 * time.Millisecond, Failures: 2}
	h := NewHealth("api", spec, "", execRunner{})
	rs := runHealth(t, h, tree, func([]HealthResult) bool { return true })
	if got := rs[len(rs)-1].Reason; !strings.HasPrefix(got, "health: exec [test -e ") || !strings.HasSuffix(got, ": exit 1 (1/2 failures)") {
		t.Errorf("reason %q", got)
	}
	os.WriteFile(flag, nil, 0o644)
	runHealth(t, h, tree, func(rs []HealthResult) bool { return rs[len(rs)-1].OK })

	// Nothing in the tree listens on another port.
	other := freePort(t)
	h = NewHealth("api", HealthSpec{TCP: tcpAddr(other), Interval: 250 * time.Millisecond, Failures: 1}, "", nil)
	rs = runHealth(t, h, tree, func([]HealthResult) bool { return true })
	want := HealthResult{Reason: "health: nothing listening on " + tcpAddr(other) + " (1/1 failures)", Failures: 1, Restart: true}
	if rs[0] != want {
		t.Errorf("got %+v, want %+v", rs[0], want)
	}
}

func TestHealthMemory(t *testing.T) {
	a := startApp(t, appOpts{})
	h := NewHealth("api", HealthSpec{MaxMemory: 1 << 10, Interval: 250 * time.Millisecond}, "", nil)
	rs := runHealth(t, h, NewTree(a.pid), func([]HealthResult) bool { return true })
	r := rs[0]
	if r.OK || !r.Restart || !strings.HasPrefix(r.Reason, "memory ") || !strings.HasSuffix(r.Reason, "MiB over max_memory 1KiB") {
		t.Errorf("result %+v", r)
	}
}

func TestHealthNoChecks(t *testing.T) {
	done := make(chan struct{})
	go func() {
		NewHealth("api", HealthSpec{}, "", nil).Run(context.Background(), NewTree(os.Getpid()), func(HealthResult) {})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run without checks did not return")
	}
}
