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
	"encoding/binary"
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
// Pumps write the line records of one read in one piece; records written
// through Batched reach the destination at the next Flush, and supd's own
// records go through Direct and are flushed at once.
type Writer struct {
	mu  sync.Mutex
	dst io.Writer
	buf *bufio.Writer
}

// NewWriter wraps w (supd's stderr, typically).
func NewWriter(w io.Writer) *Writer {
	return &Writer{dst: w, buf: bufio.NewWriterSize(w, 256<<10)}
}

// write writes whole records at once, after anything buffered.
func (w *Writer) write(p []byte) {
	w.mu.Lock()
	if w.buf.Buffered() > 0 {
		_ = w.buf.Flush()
	}
	_, _ = w.dst.Write(p)
	w.mu.Unlock()
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

// Sink is where the lines of one instance go: supd's log (records with the
// fields of a logger per stream, which carries the process, instance and
// stream fields), the instance's Ring, and an optional observer that
// changes with every spawn.
type Sink struct {
	out, err stream
	ring     *Ring
	w        *Writer
	observe  atomic.Pointer[LineFunc]

	// Set once by LogTo, before the first line.
	file     *File
	opts     FileOptions
	dropped  atomic.Int64 // lines the file could not take
	noStream bool         // lines do not go to supd's own stream

	pipes pipes // being read into the sink (Reading, Drained)
}

// stream is how the records of one stream are encoded: by zerolog, and for
// the common line (printable ASCII without quote or backslash) by filling
// the same record's text around the time and the message, which is what
// zerolog would write, at a fraction of the cost.
type stream struct {
	name string
	log  zerolog.Logger
	// The record split around its two values: prefix, the time value, mid
	// (up to the message's opening quote), the message, suffix. Nil when
	// the logger's records cannot be split so: every line then goes
	// through zerolog.
	prefix, mid, suffix []byte
}

func newStream(log zerolog.Logger, name string) stream {
	st := stream{name: name, log: log.With().Str("stream", name).Logger()}
	const timeMark, msgMark = `"\u0000sup-time"`, "\x01sup-message"
	var rec recordBuf
	probe := st.log.Output(&rec)
	probe.Log().RawJSON(zerolog.TimestampFieldName, []byte(timeMark)).
		Bytes(zerolog.MessageFieldName, []byte(msgMark)).Send()
	msgJSON := []byte(`"\u0001sup-message"`)
	t, m := bytes.Index(rec, []byte(timeMark)), bytes.Index(rec, msgJSON)
	if t < 0 || m < t+len(timeMark) || bytes.Count(rec, []byte(timeMark)) != 1 || bytes.Count(rec, msgJSON) != 1 {
		return st
	}
	st.prefix = rec[:t:t]
	st.mid = rec[t+len(timeMark) : m+1 : m+1]
	st.suffix = rec[m+len(msgJSON)-1:]
	return st
}

// NewSink returns a sink writing line records to w, with the fields of log
// (which should carry the process and instance fields; its own writer is
// not used), and keeping lines in ring. Line records get the time of the
// read that brought them, formatted as zerolog.TimeFieldFormat says (RFC
// 3339 when that is a layout).
func NewSink(log zerolog.Logger, ring *Ring, w *Writer) *Sink {
	return &Sink{out: newStream(log, Stdout), err: newStream(log, Stderr), ring: ring, w: w}
}

// Observe sets the observer of every following line (nil: none).
func (s *Sink) Observe(f LineFunc) {
	if f == nil {
		s.observe.Store(nil)
		return
	}
	s.observe.Store(&f)
}

// FileOptions say how a sink writes its lines to a log file.
type FileOptions struct {
	// Timestamps starts each line with the time supd read it, RFC 3339
	// with microseconds (fixed width, so the file sorts).
	Timestamps bool
	// Name, when set, follows the time: the instance name, for the
	// instances of a process sharing one file.
	Name string
	// NoStream keeps the lines out of supd's own stream: the file (and the
	// ring, for supctl logs and why) has them.
	NoStream bool
}

// LogTo makes the sink also write every line to f, formatted by opts:
//
//	2026-12-07T04:31:57.123456Z | a line of stdout
//	2026-12-07T04:31:57.123456Z ! a line of stderr
//	2026-12-07T04:31:57.123456Z api:1 | a line of instance 1
//
// Call it before the first line; it returns s.
func (s *Sink) LogTo(f *File, opts FileOptions) *Sink {
	s.file, s.opts, s.noStream = f, opts, opts.NoStream
	return s
}

// File returns the sink's log file, or nil.
func (s *Sink) File() *File { return s.file }

// Dropped is how many lines the log file could not take (disk full,
// unwritable), since the sink was made.
func (s *Sink) Dropped() int64 { return s.dropped.Load() }

// fileTime is the layout of a log file line's time: RFC 3339, fixed width.
const fileTime = "2006-01-02T15:04:05.000000Z07:00"

// Ring returns the sink's ring of recent lines.
func (s *Sink) Ring() *Ring { return s.ring }

// recordBuf collects encoded records.
type recordBuf []byte

func (b *recordBuf) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

// maxBatch is how much encoded output a pump gathers before writing it.
const maxBatch = 256 << 10

// chunk is one read's worth of lines on their way out: they share the time
// of the read, encoded once, and are written out together.
type chunk struct {
	sink    *Sink
	st      *stream
	slow    *zerolog.Logger // st.log writing into batch, made at the first line that needs it
	now     time.Time
	time    []byte // JSON value of the time field
	head    []byte // st.prefix + time + st.mid
	batch   recordBuf
	ringing bool   // holding the ring's lock, from begin to end
	fhead   []byte // the log file line's start: time, name, stream mark
	fbatch  []byte // log file lines not written yet
}

func (s *Sink) chunk(name string) *chunk {
	st := &s.out
	if name == Stderr {
		st = &s.err
	}
	return &chunk{sink: s, st: st}
}

// begin starts the lines of a read made at now.
func (c *chunk) begin(now time.Time) {
	c.now = now
	c.time = append(c.time[:0], '"')
	layout := zerolog.TimeFieldFormat
	if layout == "" || layout == zerolog.TimeFormatUnix || layout == zerolog.TimeFormatUnixMs ||
		layout == zerolog.TimeFormatUnixMicro || layout == zerolog.TimeFormatUnixNano {
		layout = time.RFC3339Nano
	}
	c.time = append(now.AppendFormat(c.time, layout), '"')
	if c.st.prefix != nil {
		c.head = append(append(append(c.head[:0], c.st.prefix...), c.time...), c.st.mid...)
	}
	if s := c.sink; s.file != nil {
		c.fhead = c.fhead[:0]
		if s.opts.Timestamps {
			c.fhead = append(now.AppendFormat(c.fhead, fileTime), ' ')
		}
		if s.opts.Name != "" {
			c.fhead = append(append(c.fhead, s.opts.Name...), ' ')
		}
		mark := "| "
		if c.st.name == Stderr {
			mark = "! "
		}
		c.fhead = append(c.fhead, mark...)
	}
	c.sink.ring.mu.Lock()
	c.ringing = true
}

// end writes out the lines since begin.
func (c *chunk) end() {
	c.flushFile()
	if c.ringing {
		c.sink.ring.mu.Unlock()
		c.ringing = false
	}
	c.flush()
}

// flushFile writes the log file's lines. It runs with the ring locked, so
// that whoever holds the lock sees the file hold every line the ring holds
// (History joins the two there).
func (c *chunk) flushFile() {
	if len(c.fbatch) == 0 {
		return
	}
	if d := c.sink.file.Write(c.fbatch); d > 0 {
		c.sink.dropped.Add(int64(d))
	}
	c.fbatch = c.fbatch[:0]
}

// flush writes out the batch. The write may block (nobody reads supd's
// output): the ring is not locked meanwhile, so `supctl logs` still answers.
func (c *chunk) flush() {
	c.flushFile()
	if len(c.batch) == 0 {
		return
	}
	if c.ringing {
		c.sink.ring.mu.Unlock()
		defer c.sink.ring.mu.Lock()
	}
	c.sink.w.write(c.batch)
	c.batch = c.batch[:0]
}

// lines delivers line, cut into pieces of at most maxLine bytes.
func (c *chunk) lines(line []byte) {
	for len(line) > maxLine {
		c.line(line[:maxLine])
		line = line[maxLine:]
	}
	c.line(line)
}

func (c *chunk) line(line []byte) {
	// Into the ring first: when the ring is unlocked (flush), every line in
	// the file is also in the ring, and the other way round.
	c.sink.ring.add(c.now, c.st.name, line)
	if f := c.sink.observe.Load(); f != nil {
		(*f)(c.st.name, line)
	}
	if c.sink.file != nil {
		c.fbatch = append(append(append(c.fbatch, c.fhead...), line...), '\n')
		if len(c.fbatch) >= maxBatch {
			c.flushFile()
		}
	}
	switch {
	case c.sink.noStream:
	case c.st.prefix != nil && plain(line):
		c.batch = append(c.batch, c.head...)
		c.batch = append(c.batch, line...)
		c.batch = append(c.batch, c.st.suffix...)
	default:
		if c.slow == nil {
			slow := c.st.log.Output(&c.batch)
			c.slow = &slow
		}
		c.slow.Log().RawJSON(zerolog.TimestampFieldName, c.time).Bytes(zerolog.MessageFieldName, line).Send()
	}
	if len(c.batch) >= maxBatch {
		c.flush()
	}
}

// plain reports whether zerolog writes b in a JSON string as it is: every
// byte printable ASCII (0x20 to 0x7e) but '"' and '\\'. Eight bytes at a
// time: each term of bad has the high bit of some byte set if, and only
// if, some byte of x is out of range (carries and borrows can only mark
// bytes next to one that really is).
func plain(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; len(b) >= 8; b = b[8:] {
		x := binary.LittleEndian.Uint64(b)
		quote, slash := x^(ones*'"'), x^(ones*'\\') // a zero byte where x has one
		bad := (x - ones*0x20) &^ x                 // a byte < 0x20
		bad |= (x + ones*(0x7f-0x7e)) | x           // a byte > 0x7e
		bad |= (quote - ones) &^ quote
		bad |= (slash - ones) &^ slash
		if bad&highs != 0 {
			return false
		}
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Pump's read buffer starts small, as most children say little and a
// pump lives as long as its child, and doubles up to maxBuf whenever a read
// fills it: a chatty child is then read in large chunks. At maxBuf, a
// partial line (shorter than maxLine) always leaves room to read more.
const (
	minBuf = 512
	maxBuf = 2 * maxLine
)

// Pump reads r until EOF or a read error, sending every line to s, and
// closes r. It returns when r is exhausted; run it on its own goroutine.
// Lines are terminated by '\n' (a trailing '\r' is dropped); the last line
// is delivered even without a newline. The records of one read are written
// to the Writer in one piece.
func Pump(r io.ReadCloser, stream string, s *Sink) {
	defer r.Close()
	buf := make([]byte, minBuf)
	start, end := 0, 0
	c := s.chunk(stream)
	for {
		n, err := r.Read(buf[end:])
		full := end+n == len(buf)
		end += n
		c.begin(time.Now())
		for {
			i := bytes.IndexByte(buf[start:end], '\n')
			if i < 0 {
				break
			}
			c.lines(trimCR(buf[start : start+i]))
			start += i + 1
		}
		if end-start >= maxLine {
			c.lines(buf[start : start+maxLine])
			start += maxLine
		}
		if err != nil {
			if start < end {
				c.lines(trimCR(buf[start:end]))
			}
			c.end()
			return
		}
		c.end()
		// Keep the partial line at the front. When the read filled the
		// buffer, it grows, so a partial line never leaves it full.
		end = copy(buf, buf[start:end])
		start = 0
		if full && len(buf) < maxBuf {
			grown := make([]byte, min(2*len(buf), maxBuf))
			copy(grown, buf[:end])
			buf = grown
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
