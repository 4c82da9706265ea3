package output

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
)

// History returns what `supctl logs` shows of the instance: up to n of its
// most recent lines (n < 0: no limit) at or after since (zero: no limit),
// oldest first, and, when follow is set, a channel of every later line
// (with markers for missed ones, see Ring) until ctx is done.
//
// The lines come from the ring when it holds enough of them, else from the
// log file and its rotated files, read from the end. Both are joined under
// the ring's lock, so the history and the followed lines neither overlap
// nor leave a gap. When the file cannot be read, the ring's lines are
// returned with the error.
func (s *Sink) History(ctx context.Context, n int, since time.Time, follow bool) ([]api.LogLine, <-chan api.LogLine, error) {
	r := s.ring
	r.mu.Lock()
	recent := r.last(n, since)
	var live <-chan api.LogLine
	if follow {
		live = r.follow(ctx)
	}
	var files []*os.File
	var size int64
	fromFile := s.file != nil && (n < 0 || len(recent) < n)
	if fromFile {
		files, size = s.file.snapshot()
	}
	r.mu.Unlock()
	if !fromFile || len(files) == 0 {
		return recent, live, nil
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	lines, err := s.readBack(files, size, n, since)
	if err != nil {
		return recent, live, fmt.Errorf("read back %s: %w", s.file.Path(), err)
	}
	return lines, live, nil
}

// readBack reads the lines of this sink's instance from files (newest
// first; the first one up to size) backwards, until it has n of them or
// reaches one older than since.
func (s *Sink) readBack(files []*os.File, size int64, n int, since time.Time) ([]api.LogLine, error) {
	var out []api.LogLine // newest first
	done := false
	take := func(b []byte) bool {
		l, ok := parseFileLine(b)
		switch {
		case !ok || (s.opts.Name != "" && l.Name != s.opts.Name):
			return true // another instance's line, or not a line of ours
		case !since.IsZero() && l.Time.Before(since):
			done = true
			return false
		}
		l.Name = s.ring.name
		out = append(out, l)
		done = n >= 0 && len(out) >= n
		return !done
	}
	for k, f := range files {
		end := size
		if k > 0 || end < 0 {
			st, err := f.Stat()
			if err != nil {
				return nil, err
			}
			end = st.Size()
		}
		if err := readBackward(f, end, take); err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	slices.Reverse(out)
	return out, nil
}

// readBlock is how much readBackward reads at a time.
const readBlock = 64 << 10

// readBackward calls fn with each line of r's first end bytes, last line
// first, until fn returns false. A last line without '\n' counts as one.
func readBackward(r io.ReaderAt, end int64, fn func([]byte) bool) error {
	var carry []byte // text at pos, before the lines already given to fn
	pos, first := end, true
	for {
		i := bytes.LastIndexByte(carry, '\n')
		if i < 0 && pos > 0 {
			n := min(readBlock, pos)
			buf := make([]byte, int(n)+len(carry))
			if _, err := r.ReadAt(buf[:n], pos-n); err != nil {
				return err
			}
			copy(buf[n:], carry)
			carry, pos = buf, pos-n
			if first && len(carry) > 0 && carry[len(carry)-1] == '\n' {
				carry = carry[:len(carry)-1]
			}
			first = false
			continue
		}
		if i < 0 { // the first line of the file
			if len(carry) > 0 {
				fn(carry)
			}
			return nil
		}
		if !fn(carry[i+1:]) {
			return nil
		}
		carry = carry[:i]
	}
}

// parseFileLine reads a line of a log file back: an optional time, an
// optional instance name, the stream mark ("|" stdout, "!" stderr), a
// space, the text.
func parseFileLine(b []byte) (api.LogLine, bool) {
	var l api.LogLine
	for k := 0; k < 3; k++ {
		if len(b) > 0 && (b[0] == '|' || b[0] == '!') && (len(b) == 1 || b[1] == ' ') {
			l.Stream = Stdout
			if b[0] == '!' {
				l.Stream = Stderr
			}
			if len(b) > 1 {
				b = b[2:]
			} else {
				b = nil
			}
			l.Line = string(b)
			return l, true
		}
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return l, false
		}
		word := b[:sp]
		b = b[sp+1:]
		if t, err := time.Parse(time.RFC3339Nano, string(word)); k == 0 && err == nil {
			l.Time = t
		} else {
			l.Name = string(word)
		}
	}
	return l, false
}

// ScanFiles calls fn with every line of the log file path and its rotated
// files (path.maxFiles … path.1, then path: oldest first), parsed, until
// fn returns an error, which it returns. A file that does not exist is
// skipped; a file that ends in a partial line or holds a line that is not
// a log file line is an error. For tests and tools that check a log.
func ScanFiles(path string, maxFiles int, fn func(api.LogLine) error) error {
	for k := maxFiles; k >= 0; k-- {
		name := path
		if k > 0 {
			name = path + "." + strconv.Itoa(k)
		}
		if err := scanFile(name, fn); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func scanFile(name string, fn func(api.LogLine) error) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	const longest = maxLine + 4<<10 // the longest line, with its time, name and mark
	r := bufio.NewReaderSize(f, longest)
	for n := 1; ; n++ {
		b, err := r.ReadSlice('\n')
		switch {
		case err == io.EOF && len(b) == 0:
			return nil
		case err == io.EOF:
			return fmt.Errorf("%s: ends in a partial line %q", name, b)
		case err == bufio.ErrBufferFull:
			return fmt.Errorf("%s:%d: line longer than %d bytes", name, n, longest)
		case err != nil:
			return err
		}
		l, ok := parseFileLine(b[:len(b)-1])
		if !ok {
			return fmt.Errorf("%s:%d: not a log file line: %q", name, n, b)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}
