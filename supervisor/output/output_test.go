package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
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
	Pump(io.NopCloser(strings.NewReader(text)), Stdout, NewSink(log, ring, w.Flush))
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
		Pump(io.NopCloser(wrap(strings.NewReader(text))), Stdout, NewSink(zerolog.New(w.Batched()), NewRing("p", 1<<10), w.Flush))
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
	go func() { Pump(r, Stderr, NewSink(zerolog.New(wr.Batched()), ring, wr.Flush)); close(done) }()
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

// BenchmarkPump measures lines per second through a Pump into a discarded
// log, against a baseline that only splits lines.
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
		sink := NewSink(zerolog.New(w.Batched()).With().Str("process", "p").Int("instance", 0).Logger(), NewRing("p", 64<<10), w.Flush)
		b.SetBytes(int64(len(chunk)))
		for n := 0; n < b.N; n++ {
			Pump(io.NopCloser(bytes.NewReader(chunk)), Stdout, sink)
		}
	})
}
