package daemon

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/cgroup"
	"golang.org/x/sys/unix"
)

// openContainment opens supd's cgroup, keyed by its control socket path:
// supd holds that socket, so no other live supd has the key, and what is
// in the cgroup was left by a previous supd of this socket that died
// (SIGKILL, OOM): it is killed before anything starts. nil when cgroup v2
// cannot be used here (logged): supd then tracks process trees instead.
func openContainment(socket string, log zerolog.Logger) *cgroup.Manager {
	m, leftover, err := cgroup.Open(socket)
	if leftover > 0 {
		log.Warn().Int("processes", leftover).Msg("killed what a previous supd of this socket left running")
	}
	switch {
	case errors.Is(err, cgroup.ErrUnavailable):
		log.Info().Err(err).Msg("processes are tracked by parentage, not contained in cgroups")
		return nil
	case err != nil:
		log.Warn().Err(err).Msg("processes are tracked by parentage, not contained in cgroups")
		return nil
	}
	log.Debug().Str("cgroup", m.Dir()).Msg("each process runs in a cgroup of its own")
	return m
}

// leftoverGrace is how long unattributed orphans get between SIGTERM and
// SIGKILL when supd exits.
const leftoverGrace = time.Second

// closeContainment runs once every process has stopped: nothing supd
// started is left running. The cgroups are killed and removed; without
// them, supd's remaining children (orphans re-parented to supd, the
// subreaper, that no process tree could claim) get SIGTERM, then SIGKILL
// after leftoverGrace.
func closeContainment(m *cgroup.Manager, log zerolog.Logger) {
	if m != nil {
		if n, err := m.Close(5 * time.Second); err != nil {
			log.Warn().Err(err).Msg("cgroup cleanup")
		} else if n > 0 {
			log.Info().Int("processes", n).Msg("killed processes left in cgroups")
		}
	}
	orphans := children()
	if len(orphans) == 0 {
		return
	}
	log.Info().Ints("pids", orphans).Msg("stopping orphans left by processes")
	var fds []unix.PollFd // pidfds: readable once the process has exited
	for _, pid := range orphans {
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			defer unix.Close(fd)
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
		}
		_ = unix.Kill(pid, unix.SIGTERM) // ESRCH: gone already
	}
	waitExited(fds, time.Now().Add(leftoverGrace))
	for _, pid := range children() {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// waitExited waits until every pidfd in fds is readable (its process has
// exited), or until deadline.
func waitExited(fds []unix.PollFd, deadline time.Time) {
	for len(fds) > 0 {
		ms := time.Until(deadline).Milliseconds()
		if ms <= 0 {
			return
		}
		n, err := unix.Poll(fds, int(ms))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n > 0 {
			fds = slices.DeleteFunc(fds, func(p unix.PollFd) bool { return p.Revents != 0 })
		}
	}
}

// children are supd's live child processes (zombies excluded).
func children() []int {
	tab, err := probe.ScanProcs()
	if err != nil {
		return nil
	}
	var out []int
	for _, pid := range tab.Children(os.Getpid()) {
		if !zombie(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}
