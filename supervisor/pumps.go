package supervisor

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sup-sh/sup/supervisor/output"
)

// pumps are the output pumps still reading a child's pipe. They count
// their reads, so that the drain at exit can tell a pipe still delivering
// lines (wait for it: they must not be lost) from one held open by an idle
// descendant that got away (give up).
type pumps struct {
	wg    sync.WaitGroup
	reads atomic.Uint64
}

// pump reads f into sink until EOF, then closes f.
func (p *pumps) pump(f *os.File, stream string, sink *output.Sink) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		output.Pump(countingReader{f, &p.reads}, stream, sink)
	}()
}

// drain waits until every pump has read its pipe to the end. It gives up
// once no pipe delivered anything for idle, or after limit in all (a
// descendant that never stops writing). It reports whether all ended.
func (p *pumps) drain(idle, limit time.Duration) bool {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	tick := time.NewTicker(idle)
	defer tick.Stop()
	deadline := time.After(limit)
	last := p.reads.Load()
	for {
		select {
		case <-done:
			return true
		case <-deadline:
			return false
		case <-tick.C:
			n := p.reads.Load()
			if n == last {
				return false
			}
			last = n
		}
	}
}

type countingReader struct {
	f     *os.File
	reads *atomic.Uint64
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

func (c countingReader) Close() error { return c.f.Close() }
