package daemon

import (
	"fmt"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeOnExecInherited marks every fd above stderr close-on-exec.
//
// Go opens its own fds close-on-exec, but fds supd inherited (from a
// shell, a CI runner, a container runtime's shim) are not, and os/exec
// does not close them in the child: without this every supervised
// process would get them too. supd uses none of them (it has no socket
// activation of its own), so no child needs them either.
func closeOnExecInherited() error {
	err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	// Before Linux 5.11: one fd at a time.
	entries, rerr := os.ReadDir("/proc/self/fd")
	if rerr != nil {
		return fmt.Errorf("close_range: %v; list /proc/self/fd: %w", err, rerr)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		// The fd of the directory read above is closed by now: EBADF.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return fmt.Errorf("fd %d: set close-on-exec: %w", fd, err)
		}
	}
	return nil
}
