package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/internal/suptest"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
	"github.com/sup-sh/sup/supervisor/api"
)

// Scaling down and up again while the instance scaled away is still
// stopping brings that instance back instead of forgetting it; the names
// follow the count ("api" alone, "api:0" among several).
func TestScaleBackUpWhileStopping(t *testing.T) {
	cfg := suptest.LoadConfig(t, `
process "api" {
  # Ignores SIGTERM (sleep inherits the ignored disposition across exec):
  # a stop lasts until the SIGKILL after stop.timeout.
  command = ["sh", "-c", "trap '' TERM; exec sleep 1000"]
  stop { timeout = "1s" }
}
`)
	sup := supervisor.New(cfg, supervisor.Options{Log: zerolog.Nop()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan int)
	go func() { done <- sup.Run(runCtx) }()
	defer func() {
		stop()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return within 20s of its context's end")
		}
	}()

	// until polls the status until ok holds for it.
	until := func(what string, ok func(map[string]api.Status) bool) map[string]api.Status {
		t.Helper()
		for {
			sts, err := sup.Status(ctx, nil)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			m := map[string]api.Status{}
			for _, st := range sts {
				m[st.Name] = st
			}
			if ok(m) {
				return m
			}
			select {
			case <-ctx.Done():
				t.Fatalf("not %s; status: %+v", what, m)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	running := func(sts map[string]api.Status, names ...string) bool {
		keys := make([]string, 0, len(sts))
		for n, st := range sts {
			if !st.Ready {
				return false
			}
			keys = append(keys, n)
		}
		slices.Sort(keys)
		return slices.Equal(keys, names)
	}

	first := until("api running", func(m map[string]api.Status) bool { return running(m, "api") })["api"]
	if _, err := sup.Scale(ctx, "api", 2); err != nil {
		t.Fatal(err)
	}
	sts := until("api:0 and api:1 running", func(m map[string]api.Status) bool { return running(m, "api:0", "api:1") })
	if sts["api:0"].Pid != first.Pid || sts["api:0"].ScaledInstances != 2 || sts["api:0"].ConfigInstances != 1 {
		t.Fatalf("api:0 = %+v; want the first spawn (pid %d), scaled 2 of the config's 1", sts["api:0"], first.Pid)
	}
	second := sts["api:1"]

	if _, err := sup.Scale(ctx, "api", 1); err != nil {
		t.Fatal(err)
	}
	until("api:1 stopping", func(m map[string]api.Status) bool { return m["api:1"].State == api.StateStopping })
	scaled, err := sup.Scale(ctx, "api", 2) // while api:1 ignores its SIGTERM
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-scaled:
		if err != nil {
			t.Fatalf("scale back to 2: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("scale back to 2 never done")
	}
	sts = until("api:1 back with a new process", func(m map[string]api.Status) bool {
		return running(m, "api:0", "api:1") && m["api:1"].Pid != second.Pid
	})
	if sts["api:0"].Pid != first.Pid {
		t.Errorf("api:0 was respawned: pid %d, was %d", sts["api:0"].Pid, first.Pid)
	}

	if _, err := sup.Scale(ctx, "nope", 2); !errors.Is(err, api.ErrUnknown) {
		t.Errorf("Scale(nope) = %v, want ErrUnknown", err)
	}
	if err := sup.SendSignal(ctx, []string{"api:1"}, 0); err != nil {
		t.Errorf("SendSignal(api:1, 0) = %v", err)
	}
}
