package supervisor_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sup-sh/sup/supervisor/internal/suptest"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
	"github.com/sup-sh/sup/supervisor/output"
)

// slowWriter is a destination that takes its time over every write, like
// a busy log collector at the other end of supd's stderr.
type slowWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(2 * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// A process that wrote a lot and exited has lines left in its pipe; when
// supd exits right after it (a critical process), they still reach supd's
// output.
func TestOutputIsDrainedBeforeRunReturns(t *testing.T) {
	cfg := suptest.LoadConfig(t, `
process "talker" {
  command  = ["seq", "1", "100000"]
  type     = "oneshot"
  critical = true
}
`)
	dst := &slowWriter{}
	sup := supervisor.New(cfg, supervisor.Options{Log: zerolog.Nop(), Output: output.NewWriter(dst)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := sup.Run(ctx); code != 0 {
		t.Fatalf("Run returned %d", code)
	}
	dst.mu.Lock()
	defer dst.mu.Unlock()
	if n := bytes.Count(dst.buf.Bytes(), []byte("\n")); n != 100000 {
		t.Fatalf("%d lines in supd's output, want 100000", n)
	}
	if !bytes.Contains(dst.buf.Bytes(), []byte(`"message":"100000"`)) {
		t.Fatal("the last line is missing")
	}
}
