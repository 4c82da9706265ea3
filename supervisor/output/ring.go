package output

import (
	"context"
	"sync"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/fanout"
)

// Ring keeps the most recent lines of one instance in at most max bytes,
// without allocating per line once warm: lines are appended to the current
// generation, and when it is full the previous generation's storage is
// reused. It also fans new lines out to followers (`supctl logs -f`).
// Safe for concurrent use.
type Ring struct {
	name string
	max  int

	mu        sync.Mutex
	cur, prev generation
	followers fanout.Hub[api.LogLine]
}

type generation struct {
	data []byte
	recs []record
}

type record struct {
	unixNano int64
	stderr   bool
	off, n   int
}

// NewRing returns a ring for the instance called name, holding about
// maxBytes of recent lines.
func NewRing(name string, maxBytes int) *Ring {
	return &Ring{name: name, max: maxBytes}
}

// Add records a line; line is copied.
func (r *Ring) Add(t time.Time, stream string, line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(t, stream, line)
}

// add is Add under r.mu.
func (r *Ring) add(t time.Time, stream string, line []byte) {
	half := r.max / 2
	if len(line) > half {
		line = line[:half]
	}
	if len(r.cur.data)+len(line) > half {
		r.prev, r.cur = r.cur, generation{data: r.prev.data[:0], recs: r.prev.recs[:0]}
	}
	r.cur.recs = append(r.cur.recs, record{unixNano: t.UnixNano(), stderr: stream == Stderr, off: len(r.cur.data), n: len(line)})
	r.cur.data = append(r.cur.data, line...)
	if r.followers.Active() { // a slow follower misses lines; supd never waits
		r.followers.Publish(r.lineAt(&r.cur, len(r.cur.recs)-1))
	}
}

func (r *Ring) lineAt(g *generation, i int) api.LogLine {
	rec := g.recs[i]
	stream := Stdout
	if rec.stderr {
		stream = Stderr
	}
	return api.LogLine{
		Time:   time.Unix(0, rec.unixNano),
		Name:   r.name,
		Stream: stream,
		Line:   string(g.data[rec.off : rec.off+rec.n]),
	}
}

// Last returns up to n of the most recent lines, oldest first.
func (r *Ring) Last(n int) []api.LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	total := len(r.prev.recs) + len(r.cur.recs)
	if n > total || n < 0 {
		n = total
	}
	out := make([]api.LogLine, 0, n)
	for i := total - n; i < total; i++ {
		if i < len(r.prev.recs) {
			out = append(out, r.lineAt(&r.prev, i))
		} else {
			out = append(out, r.lineAt(&r.cur, i-len(r.prev.recs)))
		}
	}
	return out
}

// Follow returns a channel of every line added from now on, until ctx is
// done; then the channel is closed.
func (r *Ring) Follow(ctx context.Context) <-chan api.LogLine {
	return r.followers.Subscribe(ctx, 1024)
}
