package probe

import "fmt"

// SocketHolders returns the pids, ascending, of the processes other than
// except that hold the socket with inode ino open: the users of a socket
// supd passed to its children. It reads the fds of every process.
// Processes whose fds may not be read are not found.
func SocketHolders(ino uint64, except int) ([]int, error) {
	tab, err := ScanProcs()
	if err != nil {
		return nil, fmt.Errorf("socket holders: %w", err)
	}
	var fds fdScanner
	var pids []int
	for _, p := range tab.Procs() {
		if p.Pid == except {
			continue
		}
		if fds.sockets(p.Pid, func(i uint64) bool { return i != ino }) {
			pids = append(pids, p.Pid)
		}
	}
	return pids, nil
}
