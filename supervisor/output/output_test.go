package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rs/zerolog"
)

// pumpString runs text through a Pump and returns the log records.
func pumpString(t *testing.T, text string) ([]map[string]any, *Ring) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	ring := NewRing("api:1", 1<<10)
	log := zerolog.New(w.Batched()).With().Str("process", "api").Int("instance", 1).Logger()
	Pump(io.NopCloser(strings.NewReader(text)), Stdout, NewSink(log, ring, w))
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
		recs = append(recs, m)
	}
	return recs, ring
}

func TestPumpKeepsEveryLineWithFields(t *testing.T) {
	recs, ring := pumpString(t, "one\r\ntwo\n\nlast without newline")
	want := []string{"one", "two", "", "last without newline"}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d: %v", len(recs), len(want), recs)
	}
	for k, r := range recs {
		if r["message"] != want[k] || r["process"] != "api" || r["instance"] != 1.0 || r["stream"] != "stdout" {
			t.Errorf("record %d: %v", k, r)
		}
	}
	if got := ring.Last(1); len(got) != 1 || got[0].Line != "last without newline" || got[0].Name != "api:1" {
		t.Errorf("ring: %+v", got)
	}
}

func TestPumpCutsOverlongLines(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	recs, _ := pumpString(t, long+"\nshort\n")
	if len(recs) != 3 || len(recs[0]["message"].(string)) != maxLine || recs[1]["message"] != "xxxxxxxxxx" || recs[2]["message"] != "short" {
		t.Fatalf("got %d records", len(recs))
	}
}

// Lines longer than the initial read buffer come out whole, however the
// reads are cut: the buffer grows when a partial line fills it.
func TestPumpGrowsForLongLines(t *testing.T) {
	long := strings.Repeat("y", 3*minBuf+5)
	text := "a\n" + long + "\n" + strings.Repeat("x", maxLine+10) + "\nend"
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole": func(r io.Reader) io.Reader { return r },
		"bytes": iotest.OneByteReader,
		"half":  iotest.HalfReader,
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		Pump(io.NopCloser(wrap(strings.NewReader(text))), Stdout, NewSink(zerolog.New(w.Batched()), NewRing("p", 1<<10), w))
		var got []string
		for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: record %q: %v", name, l, err)
			}
			got = append(got, m["message"].(string))
		}
		want := []string{"a", long, strings.Repeat("x", maxLine), "xxxxxxxxxx", "end"}
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", name, len(got), len(want))
		}
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("%s: record %d has %d bytes, want %d", name, k, len(got[k]), len(want[k]))
			}
		}
	}
}

func TestPlain(t *testing.T) {
	want := func(c byte) bool { return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' }
	for n := 0; n <= 17; n++ {
		for pos := 0; pos < n; pos++ {
			for v := 0; v < 256; v++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = byte(v)
				if got := plain(b); got != want(byte(v)) {
					t.Fatalf("plain(%q) = %v", b, got)
				}
			}
		}
	}
	if !plain(nil) || !plain([]byte(" ~}|{ !#$%&'()*+,-./09:;<=>?@AZ[]^_`az")) {
		t.Fatal("printable ASCII is plain")
	}
}

// Records written by a pump are exactly what zerolog writes for the same
// fields, whatever the line holds: the fast path only fills in zerolog's
// own record text.
func TestRecordsAreZerologs(t *testing.T) {
	lines := []string{"", "plain line", "tab\there", `quote " and \\ backslash`, "héllo wörld ✓",
		"bad utf-8 \xff\xfe end", "ctl \x00\x01\x1f\x7f", strings.Repeat("x", 1000), "</script>&<>"}
	for v := 0; v < 256; v++ {
		lines = append(lines, "byte "+string([]byte{byte(v)})+" in a line")
	}
	for _, fields := range []func(zerolog.Context) zerolog.Context{
		func(c zerolog.Context) zerolog.Context { return c.Str("process", "api").Int("instance", 3) },
		func(c zerolog.Context) zerolog.Context { return c.Str("process", `we"ird\\name`).Int("instance", 0) },
		func(c zerolog.Context) zerolog.Context { return c },
	} {
		for _, name := range []string{Stdout, Stderr} {
			var got bytes.Buffer
			w := NewWriter(&got)
			log := fields(zerolog.New(w.Batched()).With()).Logger()
			sink := NewSink(log, NewRing("p", 1<<10), w)
			if sink.out.prefix == nil || sink.err.prefix == nil {
				t.Fatal("no record template: every line would take the slow path")
			}
			now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)
			c := sink.chunk(name)
			c.begin(now)
			for _, l := range lines {
				c.line([]byte(l))
			}
			c.end()

			var want bytes.Buffer
			ref := fields(zerolog.New(&want).With()).Str("stream", name).Logger()
			for _, l := range lines {
				ref.Log().RawJSON(zerolog.TimestampFieldName, c.time).Bytes(zerolog.MessageFieldName, []byte(l)).Send()
			}
			if got.String() != want.String() {
				g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
				for k := range min(len(g), len(w)) {
					if g[k] != w[k] {
						t.Fatalf("%s: record %d:\n got %q\nwant %q", name, k, g[k], w[k])
					}
				}
				t.Fatalf("%s: %d records, want %d", name, len(g), len(w))
			}
		}
	}
}

// While supd's output blocks (nobody reads it), a pump waits, but the
// instance's recent lines can still be read (`supctl logs`, `why`), even
// when the pump blocks in the middle of a read's lines.
func TestRingAnswersWhileOutputBlocks(t *testing.T) {
	w := &stuckWriter{blocked: make(chan struct{}), release: make(chan struct{})}
	ring := NewRing("p", 64<<10)
	sink := NewSink(zerolog.New(nil), ring, NewWriter(w))
	data := strings.Repeat("z\n", 1<<20) // one read encodes to more than maxBatch
	done := make(chan struct{})
	go func() { Pump(io.NopCloser(strings.NewReader(data)), Stdout, sink); close(done) }()
	select {
	case <-w.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the pump never wrote a full batch")
	}
	read := make(chan int)
	go func() { read <- len(ring.Last(3)) }()
	select {
	case n := <-read:
		if n != 3 {
			t.Fatalf("Last(3) gave %d lines", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the ring did not answer while the output was blocked")
	}
	close(w.release)
	<-done
}

// stuckWriter blocks every write of a full batch until release is closed.
type stuckWriter struct {
	once             sync.Once
	blocked, release chan struct{}
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	if len(p) >= maxBatch {
		w.once.Do(func() { close(w.blocked) })
		<-w.release
	}
	return len(p), nil
}

// A real pipe whose writer is gone delivers everything, partial line too.
func TestPumpPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	wr := NewWriter(&out)
	ring := NewRing("p", 64<<10)
	done := make(chan struct{})
	go func() { Pump(r, Stderr, NewSink(zerolog.New(wr.Batched()), ring, wr)); close(done) }()
	for k := 0; k < 1000; k++ {
		fmt.Fprintf(w, "line %d\n", k)
	}
	fmt.Fprint(w, "partial")
	w.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("pump did not finish")
	}
	if n := strings.Count(out.String(), "\n"); n != 1001 {
		t.Fatalf("%d records, want 1001", n)
	}
	last := ring.Last(2)
	if last[0].Line != "line 999" || last[1].Line != "partial" || last[1].Stream != Stderr {
		t.Fatalf("ring: %+v", last)
	}
}

func TestRingBoundedAndOrdered(t *testing.T) {
	ring := NewRing("p", 100)
	now := time.Now()
	for k := 0; k < 1000; k++ {
		ring.Add(now, Stdout, []byte(fmt.Sprintf("%04d", k)))
	}
	got := ring.Last(-1)
	if len(got) == 0 || len(got)*4 > 100 {
		t.Fatalf("kept %d lines of 4 bytes in 100 bytes", len(got))
	}
	for k, l := range got {
		if want := fmt.Sprintf("%04d", 1000-len(got)+k); l.Line != want {
			t.Fatalf("line %d = %q, want %q", k, l.Line, want)
		}
	}
	if got := ring.Last(3); len(got) != 3 || got[2].Line != "0999" {
		t.Fatalf("Last(3) = %+v", got)
	}
}

func TestRingFollow(t *testing.T) {
	ring := NewRing("p", 1<<10)
	ctx, cancel := context.WithCancel(context.Background())
	ch := ring.Follow(ctx)
	ring.Add(time.Now(), Stdout, []byte("hello"))
	select {
	case l := <-ch:
		if l.Line != "hello" {
			t.Fatalf("got %q", l.Line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no line")
	}
	cancel()
	for range ch { // closed once ctx is done
	}
}

// BenchmarkPump measures lines per second through one Pump (as supd runs
// one per pipe) into a discarded log, against a baseline that only splits
// lines. Each op is 10,000 lines of 100 bytes, read in pieces as large as
// the pump asks for.
func BenchmarkPump(b *testing.B) {
	line := strings.Repeat("a", 99) + "\n"
	chunk := []byte(strings.Repeat(line, 10000))
	b.Run("split-only", func(b *testing.B) {
		b.SetBytes(int64(len(chunk)))
		for n := 0; n < b.N; n++ {
			for rest := chunk; len(rest) > 0; {
				i := bytes.IndexByte(rest, '\n')
				rest = rest[i+1:]
			}
		}
	})
	b.Run("pump", func(b *testing.B) {
		w := NewWriter(io.Discard)
		sink := NewSink(zerolog.New(w.Batched()).With().Str("process", "p").Int("instance", 0).Logger(), NewRing("p", 64<<10), w)
		b.SetBytes(int64(len(chunk)))
		Pump(io.NopCloser(&repeatReader{chunk: chunk, n: b.N}), Stdout, sink)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/line")
	})
}

// repeatReader reads as chunk repeated n times.
type repeatReader struct {
	chunk []byte
	n     int
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.chunk[r.off:])
	if r.off += k; r.off == len(r.chunk) {
		r.off, r.n = 0, r.n-1
	}
	return k, nil
}
