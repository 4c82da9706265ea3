// Package fanout hands values to subscribers without ever making the
// sender wait: a subscriber that does not keep up misses values. supd uses
// it for state-change events (`supctl events`, waits) and for followed log
// lines (`supctl logs -f`).
package fanout

import (
	"context"
	"sync"
	"sync/atomic"
)

// Hub is a set of subscribers. The zero value is ready to use; it is safe
// for concurrent use.
type Hub[T any] struct {
	n    atomic.Int32 // len(subs), readable without the lock
	mu   sync.Mutex
	subs map[chan T]struct{}
}

// Subscribe returns a channel of every value published from now on, with
// room for buf values, until ctx is done; then the channel is closed.
func (h *Hub[T]) Subscribe(ctx context.Context, buf int) <-chan T {
	ch := make(chan T, buf)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[chan T]struct{})
	}
	h.subs[ch] = struct{}{}
	h.n.Add(1)
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.n.Add(-1)
		h.mu.Unlock()
		close(ch)
	})
	return ch
}

// Active reports whether anyone is subscribed: a sender can skip building
// a value nobody will receive. It costs one atomic load.
func (h *Hub[T]) Active() bool { return h.n.Load() > 0 }

// Publish offers v to every subscriber; it never blocks.
func (h *Hub[T]) Publish(v T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- v:
		default:
		}
	}
}
