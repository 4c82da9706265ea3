// Package output carries child processes' stdout and stderr into supd's
// log, one record per line, and keeps the most recent lines of each instance
// for `supctl logs` and `supctl why`.
//
// A Pump owns the read end of one pipe. It splits lines without allocating,
// never drops a line (a final line without a newline is kept too), and
// treats "the process exited" and "the pipe reached EOF" as unrelated: a
// grandchild may keep the pipe open long after the process is gone.
package output

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Stream names, as they appear in the `stream` log field.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// maxLine is the longest line kept whole; a longer one is cut into pieces
// of this size, each logged as a line.
const maxLine = 64 << 10

// Writer is supd's shared log output: a buffered writer behind a mutex.
// Line records go through Batched and reach the destination when a pump has
// drained its pipe (one write per burst instead of one per line); supd's
// own records go through Direct and are flushed at once.
type Writer struct {
	mu  sync.Mutex
	buf *bufio.Writer
}

// NewWriter wraps w (supd's stderr, typically).
func NewWriter(w io.Writer) *Writer {
	return &Writer{buf: bufio.NewWriterSize(w, 256<<10)}
}

// Batched returns an io.Writer whose writes are buffered until Flush.
func (w *Writer) Batched() io.Writer { return batched{w} }

// Direct returns an io.Writer whose every write is flushed.
func (w *Writer) Direct() io.Writer { return direct{w} }

// Flush writes out what is buffered.
func (w *Writer) Flush() {
	w.mu.Lock()
	_ = w.buf.Flush()
	w.mu.Unlock()
}

type batched struct{ w *Writer }

func (b batched) Write(p []byte) (int, error) {
	b.w.mu.Lock()
	n, err := b.w.buf.Write(p)
	b.w.mu.Unlock()
	return n, err
}

type direct struct{ w *Writer }

func (d direct) Write(p []byte) (int, error) {
	d.w.mu.Lock()
	n, err := d.w.buf.Write(p)
	if err == nil {
		err = d.w.buf.Flush()
	}
	d.w.mu.Unlock()
	return n, err
}

// LineFunc observes a line (readiness `log` checks). It must not block and
// must not keep line, whose bytes are reused.
type LineFunc func(stream string, line []byte)

// Sink is where the lines of one instance go: supd's log (through a logger
// per stream that carries the process, instance and stream fields), the
// instance's Ring, and an optional observer that changes with every spawn.
type Sink struct {
	out, err zerolog.Logger
	ring     *Ring
	flush    func()
	observe  atomic.Pointer[LineFunc]
}

// NewSink returns a sink logging through log (which should write to a
// Writer's Batched side and carry the process and instance fields; flush is
// that Writer's Flush) and keeping lines in ring. Line records get the
// time of the read that brought them, formatted as zerolog.TimeFieldFormat
// says (RFC 3339 when that is a layout).
func NewSink(log zerolog.Logger, ring *Ring, flush func()) *Sink {
	return &Sink{
		out:   log.With().Str("stream", Stdout).Logger(),
		err:   log.With().Str("stream", Stderr).Logger(),
		ring:  ring,
		flush: flush,
	}
}

// Observe sets the observer of every following line (nil: none).
func (s *Sink) Observe(f LineFunc) {
	if f == nil {
		s.observe.Store(nil)
		return
	}
	s.observe.Store(&f)
}

// Ring returns the sink's ring of recent lines.
func (s *Sink) Ring() *Ring { return s.ring }

// chunk is what the lines of one read share: their time, encoded once.
type chunk struct {
	now  time.Time
	time []byte // JSON value of the time field
}

func (c *chunk) set(now time.Time) {
	c.now = now
	c.time = append(c.time[:0], '"')
	layout := zerolog.TimeFieldFormat
	if layout == "" || layout == zerolog.TimeFormatUnix || layout == zerolog.TimeFormatUnixMs ||
		layout == zerolog.TimeFormatUnixMicro || layout == zerolog.TimeFormatUnixNano {
		layout = time.RFC3339Nano
	}
	c.time = append(now.AppendFormat(c.time, layout), '"')
}

// lines delivers line, cut into pieces of at most maxLine bytes.
func (s *Sink) lines(stream string, c *chunk, line []byte) {
	for len(line) > maxLine {
		s.line(stream, c, line[:maxLine])
		line = line[maxLine:]
	}
	s.line(stream, c, line)
}

func (s *Sink) line(stream string, c *chunk, line []byte) {
	log := &s.out
	if stream == Stderr {
		log = &s.err
	}
	log.Log().RawJSON(zerolog.TimestampFieldName, c.time).Bytes(zerolog.MessageFieldName, line).Send()
	s.ring.Add(c.now, stream, line)
	if f := s.observe.Load(); f != nil {
		(*f)(stream, line)
	}
}

// Pump's read buffer starts small, as most children say little and a
// pump lives as long as its child, and doubles up to maxBuf whenever a read
// fills it: a chatty child is then read in large chunks. At maxBuf, a
// partial line (shorter than maxLine) always leaves room to read more.
const (
	minBuf = 4 << 10
	maxBuf = 2 * maxLine
)

// Pump reads r until EOF or a read error, sending every line to s, and
// closes r. It returns when r is exhausted; run it on its own goroutine.
// Lines are terminated by '\n' (a trailing '\r' is dropped); the last line
// is delivered even without a newline.
func Pump(r io.ReadCloser, stream string, s *Sink) {
	defer r.Close()
	buf := make([]byte, minBuf)
	start, end := 0, 0
	var c chunk
	for {
		n, err := r.Read(buf[end:])
		full := end+n == len(buf)
		end += n
		c.set(time.Now())
		for {
			i := bytes.IndexByte(buf[start:end], '\n')
			if i < 0 {
				break
			}
			s.lines(stream, &c, trimCR(buf[start:start+i]))
			start += i + 1
		}
		if end-start >= maxLine {
			s.lines(stream, &c, buf[start:start+maxLine])
			start += maxLine
		}
		if err != nil {
			if start < end {
				s.lines(stream, &c, trimCR(buf[start:end]))
			}
			s.flush()
			return
		}
		// Keep the partial line at the front. When the read filled the
		// buffer, it grows, so a partial line never leaves it full.
		end = copy(buf, buf[start:end])
		start = 0
		if full && len(buf) < maxBuf {
			grown := make([]byte, min(2*len(buf), maxBuf))
			copy(grown, buf[:end])
			buf = grown
		}
		s.flush()
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
