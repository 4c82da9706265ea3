package probe

import (
	"cmp"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// Listening returns what the processes pids listen on: sorted and
// deduplicated, "tcp:127.0.0.1:3000", "tcp:[::]:8080", "unix:/run/a.sock".
// It is never nil. Sockets are matched by inode against each process's
// open fds, so a socket shared by several pids is listed once.
func Listening(pids []int) ([]string, error) {
	socks := openSockTable()
	defer socks.Close()
	var fds fdScanner
	return listeningOf(socks, &fds, pids)
}

// listeningOf is Listening with the caller's sockTable and fdScanner.
func listeningOf(socks *sockTable, fds *fdScanner, pids []int) ([]string, error) {
	inodes := make(map[uint64]bool)
	fds.collect(pids, inodes)
	found, err := socks.resolve(inodes)
	if err != nil {
		err = fmt.Errorf("listening: %w", err)
	}
	return addresses(found, inodes), err
}

// addresses returns the sorted, deduplicated addresses in found of the
// sockets in inodes. It is never nil.
func addresses(found map[uint64]listener, inodes map[uint64]bool) []string {
	out := []string{}
	for ino := range inodes {
		if l, ok := found[ino]; ok {
			out = append(out, l.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// HeldBy returns who holds a listening socket that covers an address, by
// pid then address; empty when nobody does. network is "tcp" with address
// "127.0.0.1:3000", "[::1]:3000" or "*:3000", or "unix" with a path. A
// wildcard listener (0.0.0.0, [::]) covers the addresses it accepts
// connections for. Processes whose fds may not be read are not found.
func HeldBy(network, address string) ([]Holder, error) {
	t, err := parseTarget(network, address)
	if err != nil {
		return nil, fmt.Errorf("held by: %w", err)
	}
	socks := openSockTable()
	defer socks.Close()
	ls, err := socks.covering(t, nil)
	if err != nil || len(ls) == 0 {
		return nil, err
	}
	tab, err := ScanProcs()
	if err != nil {
		return nil, fmt.Errorf("held by: %w", err)
	}
	return holdersOf(tab, ls), nil
}

// holdersOf returns the processes of tab that hold any of ls, by pid then
// address. It reads the fds of every process: it is the expensive call.
func holdersOf(tab *ProcTable, ls []listener) []Holder {
	var fds fdScanner
	var hs []Holder
	for _, p := range tab.Procs() {
		fds.sockets(p.Pid, func(ino uint64) bool {
			for _, l := range ls {
				if l.inode == ino {
					hs = append(hs, Holder{Pid: p.Pid, Command: p.Comm, Address: l.String()})
				}
			}
			return true
		})
	}
	slices.SortFunc(hs, func(a, b Holder) int {
		return cmp.Or(cmp.Compare(a.Pid, b.Pid), cmp.Compare(a.Address, b.Address))
	})
	return slices.Compact(hs)
}

// covering appends to dst the listening sockets that cover t. A tcp target
// is first looked up exactly (see diagConn.reachable); only when a listener
// would take its connections are the listeners on its port dumped. For a unix
// target the socket file must exist and be a socket; when sock_diag tells
// each socket's file, it must be the one now at t.path (so a listener whose
// file was unlinked and replaced does not count, and one bound through a
// relative path does).
func (s *sockTable) covering(t target, dst []listener) ([]listener, error) {
	if !t.unix {
		if !s.mayCover(t) {
			return dst, nil
		}
		err := s.tcp(t.port, func(l listener) {
			if l.covers(t) {
				dst = append(dst, l)
			}
		})
		return dst, err
	}
	var st unix.Stat_t
	if err := unix.Stat(t.path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return dst, nil
	}
	file := fileID{dev: st.Dev, ino: st.Ino}
	err := s.unix(func(u unixListener) {
		if u.file == file || (u.file == fileID{} && string(u.name) == t.path) {
			dst = append(dst, listener{inode: u.inode, unix: true, path: t.path, queued: u.queued, backlog: u.backlog})
		}
	})
	return dst, err
}
