package probe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the clock-tick fields of /proc/PID/stat. Linux
// reports them in USER_HZ, which is 100 on every architecture Go supports.
const userHZ = 100

// Proc is one process as /proc/PID/stat shows it.
type Proc struct {
	Pid, PPid, Pgid int
	Comm            string // executable name, at most 15 bytes
	StartTime       uint64 // clock ticks (1/100 s) since boot; with Pid it names a process across pid reuse
	RSS             int64  // resident memory, bytes
	CPUTicks        uint64 // utime+stime, clock ticks
}

// ProcTable is a snapshot of /proc: one entry per live process (zombies
// included, threads not). It is immutable and safe for concurrent use.
type ProcTable struct {
	procs    []Proc        // sorted by pid
	children map[int][]int // ppid -> pids, ascending
}

// ScanProcs reads /proc/[0-9]*/stat once. A process that exits during the
// scan is left out.
func ScanProcs() (*ProcTable, error) {
	dir, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("scan processes: open /proc: %w", err)
	}
	defer unix.Close(dir)

	buf := scanBufs.Get().(*scanBuf)
	defer scanBufs.Put(buf)
	pageSize := int64(unix.Getpagesize())
	tab := &ProcTable{procs: make([]Proc, 0, 512)}
	err = readDir(dir, buf.dirents[:], func(name []byte) bool {
		pid, ok := atoiDigits(name)
		if !ok {
			return true
		}
		p, ok := readStat(dir, name, buf.stat[:])
		if ok && p.Pid == pid {
			p.RSS *= pageSize
			tab.procs = append(tab.procs, p)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	slices.SortFunc(tab.procs, func(a, b Proc) int { return a.Pid - b.Pid })
	tab.children = make(map[int][]int, len(tab.procs)/2)
	for _, p := range tab.procs {
		tab.children[p.PPid] = append(tab.children[p.PPid], p.Pid)
	}
	return tab, nil
}

// Len is the number of processes.
func (t *ProcTable) Len() int { return len(t.procs) }

// Procs returns every process, sorted by pid. The slice is shared: do not
// modify it.
func (t *ProcTable) Procs() []Proc { return t.procs }

// Get returns the process with that pid.
func (t *ProcTable) Get(pid int) (Proc, bool) {
	i, ok := slices.BinarySearchFunc(t.procs, pid, func(p Proc, pid int) int { return p.Pid - pid })
	if !ok {
		return Proc{}, false
	}
	return t.procs[i], true
}

// Children returns the pids whose parent is pid, ascending. The slice is
// shared: do not modify it.
func (t *ProcTable) Children(pid int) []int { return t.children[pid] }

// scanBuf holds the buffers of one ScanProcs call; they are pooled so that
// frequent scans do not allocate them again.
type scanBuf struct {
	dirents [32 << 10]byte
	stat    [1 << 10]byte
}

var scanBufs = sync.Pool{New: func() any { return new(scanBuf) }}

// readStat reads and parses DIR/NAME/stat, where dir is an open /proc.
func readStat(dir int, name []byte, buf []byte) (Proc, bool) {
	path := string(name) + "/stat"
	fd, err := unix.Openat(dir, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Proc{}, false
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return Proc{}, false
	}
	return parseStat(buf[:n])
}

// parseStat parses one /proc/PID/stat line (see proc(5)). RSS is left in
// pages.
func parseStat(b []byte) (Proc, bool) {
	// "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses,
	// so it ends at the last ')'.
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open || end+2 > len(b) {
		return Proc{}, false
	}
	pid, ok := atoiDigits(bytes.TrimSpace(b[:open]))
	if !ok {
		return Proc{}, false
	}
	p := Proc{Pid: pid, Comm: string(b[open+1 : end])}
	// Fields after comm, 0-based: 0 state, 1 ppid, 2 pgrp, 11 utime,
	// 12 stime, 19 starttime, 21 rss (pages).
	var utime, stime uint64
	field := 0
	for rest := b[end+2:]; len(rest) > 0 && field <= 21; field++ {
		var f []byte
		f, rest, _ = bytes.Cut(rest, []byte{' '})
		switch field {
		case 1:
			p.PPid, ok = atoiDigits(f)
		case 2:
			p.Pgid, ok = atoiSigned(f)
		case 11:
			utime, ok = atouDigits(f)
		case 12:
			stime, ok = atouDigits(f)
		case 19:
			p.StartTime, ok = atouDigits(f)
		case 21:
			var rss int
			rss, ok = atoiSigned(f)
			p.RSS = int64(rss)
		}
		if !ok {
			return Proc{}, false
		}
	}
	if field <= 21 {
		return Proc{}, false
	}
	p.CPUTicks = utime + stime
	return p, true
}

// atouDigits parses a non-empty run of ASCII digits.
func atouDigits(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func atoiDigits(b []byte) (int, bool) {
	n, ok := atouDigits(b)
	return int(n), ok
}

// atoiSigned parses a decimal that may be negative (pgrp of some kernel
// threads, rss in odd cases).
func atoiSigned(b []byte) (int, bool) {
	if len(b) > 0 && b[0] == '-' {
		n, ok := atoiDigits(b[1:])
		return -n, ok
	}
	return atoiDigits(b)
}

// readDir calls fn with the name of every entry of the open directory fd
// (but "." and ".."), until fn returns false. buf is the getdents buffer.
// The name is only valid during the call.
func readDir(fd int, buf []byte, fn func(name []byte) bool) error {
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("getdents: %w", err)
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name.
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return errors.New("getdents: bad record")
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			if string(name) == "." || string(name) == ".." {
				continue
			}
			if !fn(name) {
				return nil
			}
		}
	}
}
