package output

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor/api"
)

// fileSink returns a sink that writes to the log file path, with its
// supd stream discarded.
func fileSink(t *testing.T, path string, maxSize int64, maxFiles int, opts FileOptions) *Sink {
	t.Helper()
	w := NewWriter(io.Discard)
	log := zerolog.New(w.Batched())
	f := OpenFile(path, maxSize, maxFiles, zerolog.New(io.Discard))
	return NewSink(log, NewRing("api", 4<<10), w).LogTo(f, opts)
}

// pumpPipe runs a Pump on a real pipe fed by write, and returns when the
// pump has read it to the end.
func pumpPipe(t *testing.T, s *Sink, stream string, write func(w io.Writer)) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { Pump(r, stream, s); close(done) }()
	bw := bufio.NewWriterSize(w, 4096)
	write(bw)
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("pump did not finish")
	}
}

// fileLines reads the lines of a log file and its rotated files, oldest
// first, parsed; it fails the test on a partial or unparsable line.
func fileLines(t *testing.T, path string, maxFiles int) []api.LogLine {
	t.Helper()
	var out []api.LogLine
	if err := ScanFiles(path, maxFiles, func(l api.LogLine) error { out = append(out, l); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFileKeepsEveryLineOnceInOrderWithTimestamps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	s := fileSink(t, path, 100<<20, 5, FileOptions{Timestamps: true})
	before := time.Now()
	const n = 20000
	pumpPipe(t, s, Stdout, func(w io.Writer) {
		for i := range n {
			fmt.Fprintf(w, "line %d\n", i)
		}
		io.WriteString(w, "partial last line") // no newline: the child crashed
	})
	lines := fileLines(t, path, 5)
	if len(lines) != n+1 {
		t.Fatalf("%d lines in the file, want %d", len(lines), n+1)
	}
	for i, l := range lines[:n] {
		if l.Line != "line "+strconv.Itoa(i) || l.Stream != Stdout {
			t.Fatalf("line %d is %+v", i, l)
		}
		if l.Time.Before(before.Truncate(time.Microsecond)) || l.Time.After(time.Now()) {
			t.Fatalf("line %d: time %v is not when it was read", i, l.Time)
		}
	}
	if last := lines[n]; last.Line != "partial last line" {
		t.Errorf("last line %+v, want the partial line", last)
	}

	// Read back: the ring holds far fewer, the file has them all.
	ctx := context.Background()
	hist, _, err := s.History(ctx, n+1, time.Time{}, false)
	if err != nil || len(hist) != n+1 || hist[0].Line != "line 0" || hist[n].Line != "partial last line" || hist[0].Name != "api" {
		t.Fatalf("History: %d lines, err %v", len(hist), err)
	}
	if ring := s.Ring().Last(-1); len(ring) >= n {
		t.Fatalf("the ring holds %d lines: the test does not exercise the file", len(ring))
	}
	// --since: only the lines read at or after that time.
	mid := hist[n/2].Time
	hist, _, err = s.History(ctx, -1, mid, false)
	want := 0
	for _, l := range lines {
		if !l.Time.Before(mid) {
			want++
		}
	}
	if err != nil || len(hist) != want || hist[len(hist)-1].Line != "partial last line" {
		t.Fatalf("History since %v: %d lines (err %v), want %d", mid, len(hist), err, want)
	}
}

func TestFileMarksStderrAndInstance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	s := fileSink(t, path, 1<<20, 2, FileOptions{Name: "api:1"})
	pumpPipe(t, s, Stderr, func(w io.Writer) { io.WriteString(w, "oops\n") })
	pumpPipe(t, s, Stdout, func(w io.Writer) { io.WriteString(w, "fine\n") })
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "api:1 ! oops\napi:1 | fine\n"; string(b) != want {
		t.Errorf("file:\n%q\nwant\n%q", b, want)
	}
}

func TestRotationKeepsARunWithoutGapOrDuplicate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	const maxSize, maxFiles, n = 1 << 20, 3, 200000
	s := fileSink(t, path, maxSize, maxFiles, FileOptions{Timestamps: true})
	pumpPipe(t, s, Stdout, func(w io.Writer) {
		for i := range n {
			fmt.Fprintf(w, "%08d %s\n", i, strings.Repeat("x", 40))
		}
	})
	for k := 0; k <= maxFiles+1; k++ {
		name := path
		if k > 0 {
			name = path + "." + strconv.Itoa(k)
		}
		st, err := os.Stat(name)
		switch {
		case k == maxFiles+1:
			if err == nil {
				t.Errorf("%s exists: more than max_files=%d rotated files", name, maxFiles)
			}
		case err != nil:
			t.Fatalf("%s: %v", name, err)
		case st.Size() > maxSize:
			t.Errorf("%s is %d bytes, over max_size %d", name, st.Size(), maxSize)
		}
	}
	lines := fileLines(t, path, maxFiles)
	first, _ := strconv.Atoi(strings.Fields(lines[0].Line)[0])
	for k, l := range lines {
		if got, _ := strconv.Atoi(strings.Fields(l.Line)[0]); got != first+k {
			t.Fatalf("line %d of the kept run is %d, want %d (gap or duplicate)", k, got, first+k)
		}
	}
	if last := first + len(lines) - 1; last != n-1 {
		t.Errorf("the kept run ends at %d, want %d", last, n-1)
	}
	if len(lines) < 3*maxSize/80 {
		t.Errorf("only %d lines kept in %d files", len(lines), maxFiles+1)
	}
}

func TestFileUnwritableCountsAndResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	path := filepath.Join(dir, "api.log")
	s := fileSink(t, path, 1<<20, 2, FileOptions{})
	pumpPipe(t, s, Stdout, func(w io.Writer) { io.WriteString(w, "lost 1\nlost 2\n") })
	if d := s.Dropped(); d != 2 {
		t.Fatalf("dropped %d, want 2", d)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pumpPipe(t, s, Stdout, func(w io.Writer) { io.WriteString(w, "kept\n") })
		if b, _ := os.ReadFile(path); strings.Contains(string(b), "| kept\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writing did not resume once the directory existed")
		}
		time.Sleep(50 * time.Millisecond) // polling the retry, bounded by the deadline
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "lost") {
		t.Errorf("dropped lines in the file: %q", b)
	}
}

// tmpfs mounts a tmpfs of size bytes for the test.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

func TestDiskFullDropsWholeLinesAndResumes(t *testing.T) {
	dir := tmpfs(t, "1m")
	path := filepath.Join(dir, "api.log")
	s := fileSink(t, path, 100<<20, 2, FileOptions{Timestamps: true})
	t.Cleanup(func() { s.File().Close() }) // before the umount
	const n = 40000                        // 2 MB: twice the disk
	pumpPipe(t, s, Stdout, func(w io.Writer) {
		for i := range n {
			fmt.Fprintf(w, "%08d %s\n", i, strings.Repeat("y", 16))
		}
	})
	lines := fileLines(t, path, 2) // fails on a partial line
	dropped := s.Dropped()
	if dropped == 0 || int(dropped)+len(lines) != n {
		t.Fatalf("%d lines in the file + %d dropped, want %d in all with some dropped", len(lines), dropped, n)
	}
	for k, l := range lines {
		if !strings.HasPrefix(l.Line, fmt.Sprintf("%08d ", k)) {
			t.Fatalf("line %d is %q", k, l.Line)
		}
	}
	// Space comes back: writing resumes.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	pumpPipe(t, s, Stderr, func(w io.Writer) { io.WriteString(w, "after\n") })
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(string(b), "! after\n") {
		t.Errorf("after freeing space the file holds %q (%v)", b, err)
	}
	if s.Dropped() != dropped {
		t.Errorf("dropped went from %d to %d with space free", dropped, s.Dropped())
	}
}

func TestHistoryAndFollowNeitherOverlapNorGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.log")
	s := fileSink(t, path, 256<<10, 20, FileOptions{Timestamps: true})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pumped := make(chan struct{})
	go func() { Pump(r, Stdout, s); close(pumped) }()
	const n = 100000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bw := bufio.NewWriter(w)
		for i := range n {
			fmt.Fprintf(bw, "%d\n", i)
		}
		bw.Flush()
		w.Close()
	}()
	// Join while the flood is under way: every line exactly once, across
	// the file, rotations and the live stream.
	for len(s.Ring().Last(1)) == 0 {
		time.Sleep(time.Millisecond) // polling for the first line, bounded below
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hist, live, err := s.History(ctx, 1000, time.Time{}, true)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	<-pumped
	next := -1
	check := func(l api.LogLine) {
		if l.Missed > 0 {
			next += l.Missed
			return
		}
		v, _ := strconv.Atoi(l.Line)
		if next >= 0 && v != next {
			t.Fatalf("got line %d, want %d", v, next)
		}
		next = v + 1
	}
	for _, l := range hist {
		check(l)
	}
	if len(hist) == 0 || len(hist) > 1000 {
		t.Fatalf("history has %d lines, want 1 to 1000", len(hist))
	}
	for next < n {
		select {
		case l := <-live:
			check(l)
		case <-time.After(10 * time.Second):
			t.Fatalf("follower stuck at %d of %d", next, n)
		}
	}
}

func TestFollowerThatFallsBehindGetsAMarker(t *testing.T) {
	ring := NewRing("api", 1<<20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := ring.Follow(ctx)
	const total = followBuffer + 10
	for i := range total {
		ring.Add(time.Now(), Stdout, []byte(strconv.Itoa(i)))
	}
	// The lines it had room for, then, at the end of the burst and without
	// a further line, the marker for the rest.
	got := 0
	for l := range live {
		if l.Missed > 0 {
			if got < followBuffer || got+l.Missed != total {
				t.Fatalf("marker of %d after %d lines, want %d in all", l.Missed, got, total)
			}
			break
		}
		if l.Line != strconv.Itoa(got) {
			t.Fatalf("line %d is %+v", got, l)
		}
		got++
	}
	ring.Add(time.Now(), Stdout, []byte("after"))
	if l := <-live; l.Line != "after" {
		t.Fatalf("got %+v after the marker", l)
	}
}

func TestReadBackward(t *testing.T) {
	long := strings.Repeat("z", 3*readBlock+7)
	for _, text := range []string{"", "a\n", "a\nb\n", "a\n\nb", long + "\nshort\n" + long + "\n"} {
		var got []string
		readBackward(bytes.NewReader([]byte(text)), int64(len(text)), func(b []byte) bool {
			got = append([]string{string(b)}, got...)
			return true
		})
		want := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if text == "" {
			want = nil
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
			t.Errorf("%.20q: got %d lines, want %d", text, len(got), len(want))
		}
	}
}

func TestParseFileLine(t *testing.T) {
	for _, c := range []struct {
		in           string
		ok           bool
		name, stream string
		line         string
		timed        bool
	}{
		{"2026-12-07T04:31:57.123456Z | hello | world", true, "", Stdout, "hello | world", true},
		{"2026-12-07T04:31:57.123456+01:00 api:1 ! err", true, "api:1", Stderr, "err", true},
		{"| plain", true, "", Stdout, "plain", false},
		{"api:2 |", true, "api:2", Stdout, "", false},
		{"no mark here at all", false, "", "", "", false},
	} {
		l, ok := parseFileLine([]byte(c.in))
		if ok != c.ok || (ok && (l.Name != c.name || l.Stream != c.stream || l.Line != c.line || l.Time.IsZero() == c.timed)) {
			t.Errorf("%q: got %+v %v", c.in, l, ok)
		}
	}
}
