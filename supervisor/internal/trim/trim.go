// Package trim gives back to the kernel the memory that only supd's
// start-up used: the free pages of the Go heap, and the pages of supd's own
// executable (code and read-only data) that loading the config and starting
// the processes touched. It is the user-space counterpart of the kernel
// freeing its __init sections after boot.
//
// The executable's pages are clean and file-backed: madvise(MADV_DONTNEED)
// only drops this process's mapping of them; they stay in the page cache,
// and any page supd runs again is mapped back by an ordinary minor fault.
// A page that was ever written (copy-on-write: relocated read-only data of a
// PIE build, a debugger's breakpoint) is anonymous memory that DONTNEED
// would throw away, so a mapping holding any such page is left alone.
package trim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"

	"golang.org/x/sys/unix"
)

// Released is what one Release gave back, in bytes.
type Released struct {
	Executable int64 // resident pages of the executable's read-only mappings
	Heap       int64 // free heap pages returned to the kernel
}

// Release returns the free heap pages to the kernel, then drops this
// process's resident pages of its own executable's read-only mappings. It
// is safe to call at any time and from any goroutine; it costs a garbage
// collection and a read of /proc/self/smaps.
func Release() (Released, error) {
	var r Released
	before := heapReleased()
	debug.FreeOSMemory()
	r.Heap = max(heapReleased()-before, 0)

	maps, err := executableMappings()
	if err != nil {
		return r, err
	}
	for _, m := range maps {
		if !m.releasable() {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return r, fmt.Errorf("madvise %x-%x: %w", m.start, m.end, errno)
		}
		r.Executable += m.rss
	}
	return r, nil
}

func heapReleased() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// mapping is one VMA of the executable, from /proc/self/smaps.
type mapping struct {
	start, end uintptr
	perms      string // "r-xp"
	rss        int64  // bytes resident
	anon       int64  // bytes of private (copied) pages: written at some time
	swap       int64
}

// releasable: read-only, private, and every page still the file's own.
func (m mapping) releasable() bool {
	return len(m.perms) == 4 && m.perms[1] == '-' && m.perms[3] == 'p' &&
		m.anon == 0 && m.swap == 0 && m.rss > 0
}

// executableMappings lists the mappings of the running executable's file,
// recognised by device and inode (its path may read "(deleted)" once the
// binary was replaced on disk).
func executableMappings() ([]mapping, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return nil, fmt.Errorf("the executable: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSmaps(f, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}

// parseSmaps returns the mappings of smaps whose file is device
// major:minor, inode ino.
func parseSmaps(r io.Reader, major, minor uint32, ino uint64) ([]mapping, error) {
	var (
		out  []mapping
		cur  *mapping
		dev  = []byte(fmt.Sprintf("%02x:%02x", major, minor))
		sc   = bufio.NewScanner(r)
		inod = []byte(strconv.FormatUint(ino, 10))
	)
	for sc.Scan() {
		line := sc.Bytes()
		fields := bytes.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !bytes.HasSuffix(fields[0], []byte(":")) { // a mapping's header line
			cur = nil
			if len(fields) < 5 || !bytes.Equal(fields[3], dev) || !bytes.Equal(fields[4], inod) {
				continue
			}
			start, end, ok := bytes.Cut(fields[0], []byte("-"))
			if !ok {
				return nil, fmt.Errorf("smaps: bad range %q", fields[0])
			}
			s, err1 := strconv.ParseUint(string(start), 16, 64)
			e, err2 := strconv.ParseUint(string(end), 16, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("smaps: bad range %q", fields[0])
			}
			out = append(out, mapping{start: uintptr(s), end: uintptr(e), perms: string(fields[1])})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil || len(fields) < 2 {
			continue
		}
		var dst *int64
		switch string(fields[0]) {
		case "Rss:":
			dst = &cur.rss
		case "Anonymous:":
			dst = &cur.anon
		case "Swap:":
			dst = &cur.swap
		default:
			continue
		}
		kb, err := strconv.ParseInt(string(fields[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("smaps: %s: %w", line, err)
		}
		*dst = kb << 10
	}
	return out, sc.Err()
}
