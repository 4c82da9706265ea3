package daemon

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
	"github.com/sup-sh/sup/supervisor/internal/trim"
)

// settleTimeout bounds how long start-up memory is kept when not every
// process becomes ready (a crash loop, a long depends_on chain).
const settleTimeout = 10 * time.Second

// releaser gives back the memory that only start-up used (trim.Release)
// once start-up has settled: when every process is first ready, or
// settleTimeout after start, whichever comes first. A reload runs the config
// loader again, so it releases again after each reload.
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
	if !r.settled && s.Total > 0 && s.Ready == s.Total {
		r.settled = true
		r.request()
	}
}

// reloaded is the supervisor's Reloading option's end half.
func (r *releaser) reloaded(begin bool) {
	if !begin {
		r.request()
	}
}

// run releases on each request until ctx is done.
func (r *releaser) run(ctx context.Context) {
	settle := time.NewTimer(settleTimeout)
	defer settle.Stop()
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-settle.C:
			if !first {
				continue
			}
		case <-r.kick:
		}
		first = false
		rel, err := trim.Release()
		if err != nil {
			r.log.Warn().Err(err).Msg("releasing start-up memory")
			continue
		}
		r.log.Debug().Int64("executable_kib", rel.Executable>>10).Int64("heap_kib", rel.Heap>>10).
			Msg("released start-up memory")
	}
}
