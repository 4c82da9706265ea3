package output

import "sync"

// pipes counts the pipes a sink is still being fed from, so that someone
// who needs a process's last lines (a crash hook) can wait until they are
// all read.
type pipes struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil while nobody waits
}

// Reading adds delta to the pipes being read into s: +1 before a pump
// starts (before the process can exit), -1 once it reached EOF.
func (s *Sink) Reading(delta int) {
	p := &s.pipes
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += delta
	if p.n == 0 && p.zero != nil {
		close(p.zero)
		p.zero = nil
	}
}

// Drained returns a channel closed once no pipe is being read into s: every
// line written by the processes whose pumps ended is in the ring (and
// file). A descendant that holds a pipe open keeps it from closing.
func (s *Sink) Drained() <-chan struct{} {
	p := &s.pipes
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	if p.zero == nil {
		p.zero = make(chan struct{})
	}
	return p.zero
}
