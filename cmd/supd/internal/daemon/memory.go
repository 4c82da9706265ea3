package daemon

import (
	"context"
	"runtime/debug"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
)

// releaser returns the heap that only start-up used (config parsing, the
// first spawns) to the kernel with debug.FreeOSMemory once start-up has
// settled: the first time no spawned process is starting
// (each is ready, or has failed, or waits to be restarted, or waits for a
// dependency that may never come: a fatal one). A reload runs the
// config loader again, so it releases again after each reload. No timer:
// an idle supd wakes for nothing.
type releaser struct {
	log     zerolog.Logger
	kick    chan struct{}
	settled bool // the loop's: set by summary
}

func newReleaser(log zerolog.Logger) *releaser {
	return &releaser{log: log, kick: make(chan struct{}, 1)}
}

// request asks run to release; it never blocks.
func (r *releaser) request() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// summary is called from the supervisor loop with every new Summary.
func (r *releaser) summary(s supervisor.Summary) {
	if !r.settled && s.Starting == 0 {
		r.settled = true
		r.request()
	}
}

// run releases on each request until ctx is done.
func (r *releaser) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		debug.FreeOSMemory()
		r.log.Debug().Msg("released start-up memory")
	}
}
