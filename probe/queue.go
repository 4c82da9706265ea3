package probe

import (
	"cmp"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// Queue is the accept queue of one listening socket: the connections the
// kernel has completed and that wait for the application's accept(2).
type Queue struct {
	Listen  string // "tcp:127.0.0.1:3000", "unix:/run/app.sock"
	Queued  int    // connections waiting to be accepted
	Backlog int    // the most that may wait: listen(2)'s backlog capped by somaxconn; 0 when unknown
}

// Full reports whether the queue is at its backlog. The kernel (TCP and
// Unix alike) refuses a new connection once more than Backlog wait: a TCP
// SYN is dropped, so the client retries and times out; a Unix connect fails
// with EAGAIN, which nginx reports as "(11: Resource temporarily
// unavailable)" and answers 502. At Backlog, the next one may still fit,
// the one after is dropped: that is already overload.
func (q Queue) Full() bool { return q.Backlog > 0 && q.Queued >= q.Backlog }

// queue is the accept queue of l.
func (l listener) queue() Queue {
	return Queue{Listen: l.String(), Queued: int(l.queued), Backlog: int(l.backlog)}
}

// queues returns the accept queues of the sockets in found that are among
// inodes, sorted by address, one per socket. It is never nil.
func queues(found map[uint64]listener, inodes map[uint64]bool) []Queue {
	out := []Queue{}
	for ino := range inodes {
		if l, ok := found[ino]; ok {
			out = append(out, l.queue())
		}
	}
	slices.SortFunc(out, func(a, b Queue) int {
		return cmp.Or(cmp.Compare(a.Listen, b.Listen), cmp.Compare(b.Queued, a.Queued))
	})
	return out
}

// FullQueues returns the accept queue of every listening socket of supd's
// network namespace whose queue is full, whoever holds it. It costs two
// sock_diag dumps and no /proc reading, so it can run every second; only
// when it finds something is it worth finding whose sockets they are (see
// Inspector.Inspect). Without netlink, /proc/net tells no backlog, so it
// finds nothing.
func FullQueues() ([]Queue, error) {
	socks := openSockTable()
	defer socks.Close()
	var full []Queue
	err := socks.tcp(0, func(l listener) {
		if l.backlog > 0 && l.queued >= l.backlog { // Queue.Full, before allocating the address
			full = append(full, l.queue())
		}
	})
	if err != nil {
		return full, fmt.Errorf("accept queues: %w", err)
	}
	err = socks.unix(func(u unixListener) {
		if u.backlog > 0 && u.queued >= u.backlog && len(u.name) > 0 {
			full = append(full, u.listener().queue())
		}
	})
	if err != nil {
		return full, fmt.Errorf("accept queues: %w", err)
	}
	return full, nil
}

// SocketQueues returns the accept queue of each listening socket among
// fds, open in this process (the sockets supd holds for its processes),
// in the order of fds; a fd that is no listening socket is left out.
func SocketQueues(fds []int) ([]Queue, error) {
	inodes := make([]uint64, 0, len(fds))
	for _, fd := range fds {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, fmt.Errorf("accept queue of fd %d: %w", fd, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFSOCK {
			inodes = append(inodes, st.Ino)
		}
	}
	return QueuesOf(inodes)
}

// QueuesOf returns the accept queue of each listening socket among the
// socket inodes, in their order, once each; an inode that is no listening
// socket is left out. It costs one sock_diag dump per kind, however many
// inodes.
func QueuesOf(inodes []uint64) ([]Queue, error) {
	set := make(map[uint64]bool, len(inodes))
	for _, ino := range inodes {
		set[ino] = true
	}
	socks := openSockTable()
	defer socks.Close()
	found, err := socks.resolve(set)
	if err != nil {
		return nil, fmt.Errorf("accept queues: %w", err)
	}
	out := []Queue{}
	for _, ino := range inodes {
		if l, ok := found[ino]; ok && set[ino] {
			out = append(out, l.queue())
			set[ino] = false
		}
	}
	return out, nil
}
