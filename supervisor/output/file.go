package output

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// File is a log file (`log { file }`) with size-based rotation: path, then
// path.1 (newest) to path.N. One File exists per path in supd (see
// OpenFile), shared by every sink that names it.
//
// Write never blocks on a full disk or an unwritable file: the lines that
// cannot be written are dropped and counted, the error is logged once, and
// the next writes try again (a file that cannot be opened is retried at
// most every retryOpen). Lines are written whole or not at all, each line
// in one file: a rotation happens between lines.
//
// The writer is its own (not lumberjack): lumberjack rotates by renaming
// to time-stamped backups (api-2026-12-07T04-31-57.000.log), not to
// path.1..N as the contract says; it may split a write across files only
// when one Write exceeds MaxSize, and it starts a goroutine per logger that
// Close does not end. What sup needs is 150 lines.
type File struct {
	path string
	log  zerolog.Logger

	mu       sync.Mutex
	maxSize  int64
	maxFiles int
	f        *os.File  // nil: not open (never opened, or closed after an error)
	size     int64     // of f
	failing  error     // the error that is dropping lines, nil when writing
	dropped  int64     // lines dropped since failing was set
	retryAt  time.Time // no open before then
	rotateAt time.Time // no rotation before then (a rotation failed)
}

// retryOpen is how long a file that cannot be opened (or a rotation that
// failed) is left alone before the next try.
const retryOpen = time.Second

var files = struct {
	sync.Mutex
	m map[string]*File
}{m: map[string]*File{}}

// OpenFile returns the File for path, creating it on first use with log
// (supd's own logger, for errors) and the given limits; a later call for
// the same path updates the limits (a reload). Nothing is opened until the
// first write, so OpenFile does not fail: a file that cannot be opened is a
// file whose lines are dropped and counted. Files stay open until supd
// exits; there is one per distinct path ever configured.
func OpenFile(path string, maxSize int64, maxFiles int, log zerolog.Logger) *File {
	path = filepath.Clean(path)
	files.Lock()
	defer files.Unlock()
	f := files.m[path]
	if f == nil {
		f = &File{path: path, log: log.With().Str("log_file", path).Logger()}
		files.m[path] = f
	}
	f.mu.Lock()
	f.maxSize, f.maxFiles = max(maxSize, 1), max(maxFiles, 1)
	f.mu.Unlock()
	return f
}

// Close closes the file; a later Write opens it again. supd closes its
// files once every pump is done.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}

// CloseFiles closes every log file (see Close).
func CloseFiles() error {
	files.Lock()
	defer files.Unlock()
	var errs []error
	for _, f := range files.m {
		if err := f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", f.path, err))
		}
	}
	return errors.Join(errs...)
}

// Failing is the error that makes the file drop lines now, nil when it
// takes them.
func (f *File) Failing() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Write appends p, which holds whole lines each ending in '\n', rotating
// before the file would pass its size limit. It returns how many lines it
// could not write (dropped). It does not keep p.
func (f *File) Write(p []byte) (dropped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(p) > 0 {
		if f.f == nil && !f.open() {
			return f.drop(p)
		}
		k := len(p)
		if f.size+int64(k) > f.maxSize && !time.Now().Before(f.rotateAt) {
			k = fit(p, f.maxSize-f.size)
			if k == 0 && f.size == 0 { // a line longer than the limit: alone in a file
				k = bytes.IndexByte(p, '\n') + 1
			}
		}
		if k > 0 {
			n, ok := f.write(p[:k])
			if p = p[n:]; !ok {
				return f.drop(p)
			}
		}
		if len(p) > 0 && !f.rotate() && f.f == nil {
			return f.drop(p)
		}
	}
	if f.failing != nil {
		f.log.Warn().Int64("dropped_lines", f.dropped).AnErr("was", f.failing).Msg("log file writable again")
		f.failing, f.dropped = nil, 0
	}
	return 0
}

// fit is the length of the longest run of whole lines at the start of p
// that is at most room bytes.
func fit(p []byte, room int64) int {
	if room <= 0 {
		return 0
	}
	if int64(len(p)) <= room {
		return len(p)
	}
	return bytes.LastIndexByte(p[:room], '\n') + 1
}

// open opens the file for appending. Called with f.mu held.
func (f *File) open() bool {
	if time.Now().Before(f.retryAt) {
		return false
	}
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	var st os.FileInfo
	if err == nil {
		if st, err = file.Stat(); err != nil {
			file.Close()
		}
	}
	if err != nil {
		f.fail(fmt.Errorf("open log file: %w", err))
		f.retryAt = time.Now().Add(retryOpen)
		return false
	}
	f.f, f.size = file, st.Size()
	return true
}

// write writes whole lines and returns how many bytes of p are in the
// file. On a short write it cuts the file back to the last whole line
// written (a full disk must not leave half a line) and reports false.
// Called with f.mu held.
func (f *File) write(p []byte) (int, bool) {
	n, err := f.f.Write(p)
	if err == nil {
		f.size += int64(n)
		return n, true
	}
	whole := bytes.LastIndexByte(p[:n], '\n') + 1
	if whole < n {
		if terr := f.f.Truncate(f.size + int64(whole)); terr != nil {
			err = errors.Join(err, fmt.Errorf("cut back a partial line: %w", terr))
		}
	}
	f.size += int64(whole)
	f.fail(fmt.Errorf("write log file: %w", err))
	if !errors.Is(err, unix.ENOSPC) && !errors.Is(err, unix.EDQUOT) && !errors.Is(err, unix.EFBIG) {
		f.f.Close() // EIO, EBADF, a file gone bad: reopen later
		f.f = nil
		f.retryAt = time.Now().Add(retryOpen)
	}
	return whole, false
}

// drop counts the lines of p as dropped. Called with f.mu held.
func (f *File) drop(p []byte) int {
	n := bytes.Count(p, []byte{'\n'})
	f.dropped += int64(n)
	return n
}

// fail records err as the reason lines are dropped, logging it when it is
// new. Called with f.mu held.
func (f *File) fail(err error) {
	if f.failing == nil || f.failing.Error() != err.Error() {
		f.log.Error().Err(err).Msg("cannot write log file: dropping lines (counted in log_dropped) until it can")
	}
	f.failing = err
}

// rotate renames path.N-1 to path.N … path to path.1 and opens a new path.
// When a rename fails, it logs why and keeps appending to the current file
// (a line is never lost to a failed rotation), trying again after
// retryOpen. Called with f.mu held; reports whether it rotated.
func (f *File) rotate() bool {
	for k := f.maxFiles - 1; k >= 1; k-- {
		err := os.Rename(f.backup(k), f.backup(k+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return f.rotateFailed(err)
		}
	}
	if err := os.Rename(f.path, f.backup(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return f.rotateFailed(err)
	}
	f.f.Close()
	f.f = nil
	return f.open()
}

func (f *File) rotateFailed(err error) bool {
	f.log.Error().Err(err).Msg("cannot rotate log file: appending past max_size for now")
	f.rotateAt = time.Now().Add(retryOpen)
	return false
}

func (f *File) backup(k int) string { return f.path + "." + strconv.Itoa(k) }

// snapshot opens, for reading, the file and its rotated files, newest
// first, and returns them with the size of the current file: the lines
// written so far and none after. The caller closes them. Files that do not
// exist are left out.
func (f *File) snapshot() ([]*os.File, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*os.File
	size := int64(-1)
	for k := 0; k <= f.maxFiles; k++ {
		name := f.path
		if k > 0 {
			name = f.backup(k)
		}
		r, err := os.Open(name)
		if err != nil {
			continue
		}
		if k == 0 {
			size = f.size
			if f.f == nil {
				if st, err := r.Stat(); err == nil {
					size = st.Size()
				}
			}
		}
		out = append(out, r)
	}
	return out, size
}
