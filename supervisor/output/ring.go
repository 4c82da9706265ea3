package output

import (
	"context"
	"sync"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
)

// Ring keeps the most recent lines of one instance in at most max bytes,
// without allocating per line once warm: lines are appended to the current
// generation, and when it is full the previous generation's storage is
// reused. It also hands new lines to followers (`supctl logs -f`) without
// ever waiting for them: a follower that falls behind misses lines, and
// gets a marker line saying how many (api.LogLine.Missed) before the next
// line it does get. Safe for concurrent use.
type Ring struct {
	name string
	max  int

	mu        sync.Mutex
	cur, prev generation
	followers map[*follower]struct{}
}

// follower is one `supctl logs -f`.
type follower struct {
	ch     chan api.LogLine // filled by publish, never blocking
	missed int              // lines not handed over since the last marker; under Ring.mu
}

// followBuffer is how many lines a follower may fall behind before it
// misses some: about a second of a fast child, a few MiB at most.
const followBuffer = 16384

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
	if len(r.followers) > 0 {
		r.publish(r.lineAt(&r.cur, len(r.cur.recs)-1))
	}
}

// publish hands l to every follower that has room, a marker first to one
// that missed lines. Called with r.mu held.
func (r *Ring) publish(l api.LogLine) {
	for f := range r.followers {
		if f.missed > 0 {
			select {
			case f.ch <- api.LogLine{Time: l.Time, Name: r.name, Missed: f.missed}:
				f.missed = 0
			default:
				f.missed++
				continue
			}
		}
		select {
		case f.ch <- l:
		default:
			f.missed++
		}
	}
}

// follow subscribes to every line added from now on until ctx is done;
// then the channel is closed. Called with r.mu held.
//
// A goroutine hands the follower's lines over, and when it has handed
// over all of them and lines were missed since, the marker: a follower
// learns of the lines it missed at the end of a burst without waiting for
// the next line.
func (r *Ring) follow(ctx context.Context) <-chan api.LogLine {
	f := &follower{ch: make(chan api.LogLine, followBuffer)}
	if r.followers == nil {
		r.followers = make(map[*follower]struct{})
	}
	r.followers[f] = struct{}{}
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		delete(r.followers, f)
		r.mu.Unlock()
	})
	out := make(chan api.LogLine)
	go func() {
		defer close(out)
		for {
			var l api.LogLine
			select {
			case l = <-f.ch:
			default: // all handed over: now the missed ones, if any
				r.mu.Lock()
				missed := f.missed
				f.missed = 0
				r.mu.Unlock()
				if missed > 0 {
					l = api.LogLine{Time: time.Now(), Name: r.name, Missed: missed}
					break
				}
				select {
				case l = <-f.ch:
				case <-ctx.Done():
					return
				}
			}
			select {
			case out <- l:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
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
	return r.last(n, time.Time{})
}

// last returns up to n (n < 0: all) of the most recent lines at or after
// since, oldest first. Called with r.mu held.
func (r *Ring) last(n int, since time.Time) []api.LogLine {
	total := len(r.prev.recs) + len(r.cur.recs)
	if n > total || n < 0 {
		n = total
	}
	at := func(i int) (*generation, int) {
		if i < len(r.prev.recs) {
			return &r.prev, i
		}
		return &r.cur, i - len(r.prev.recs)
	}
	first := total - n
	for ; first < total && !since.IsZero(); first++ {
		g, k := at(first)
		if g.recs[k].unixNano >= since.UnixNano() {
			break
		}
	}
	out := make([]api.LogLine, 0, total-first)
	for i := first; i < total; i++ {
		out = append(out, r.lineAt(at(i)))
	}
	return out
}

// Follow returns a channel of every line added from now on, with markers
// for missed lines, until ctx is done; then the channel is closed.
func (r *Ring) Follow(ctx context.Context) <-chan api.LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.follow(ctx)
}
