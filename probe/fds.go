package probe

import (
	"bytes"
	"strconv"

	"golang.org/x/sys/unix"
)

// fdScanner reads which sockets a process holds, from the links
// /proc/PID/fd/N -> "socket:[INODE]". It reuses its buffers, so it is not
// safe for concurrent use; the zero value is ready.
type fdScanner struct {
	dirents []byte
	link    []byte
}

// sockets calls fn with the inode of every socket pid holds open, until fn
// returns false. It reports whether it stopped early. A process that is gone,
// or whose fds may not be read, holds nothing.
func (s *fdScanner) sockets(pid int, fn func(ino uint64) bool) (stopped bool) {
	if s.dirents == nil {
		s.dirents = make([]byte, 8<<10)
		s.link = make([]byte, 64)
	}
	dir, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(dir)
	_ = readDir(dir, s.dirents, func(name []byte) bool {
		n, err := unix.Readlinkat(dir, string(name), s.link)
		if err != nil {
			return true
		}
		if ino, ok := socketInode(s.link[:n]); ok && !fn(ino) {
			stopped = true
			return false
		}
		return true
	})
	return stopped
}

// collect adds the socket inodes of every pid to set.
func (s *fdScanner) collect(pids []int, set map[uint64]bool) {
	for _, pid := range pids {
		s.sockets(pid, func(ino uint64) bool {
			set[ino] = true
			return true
		})
	}
}

// socketInode parses the target of an fd link, "socket:[12345]".
func socketInode(link []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	return atouDigits(rest[:len(rest)-1])
}
