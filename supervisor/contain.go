package supervisor

import (
	"fmt"
	"syscall"

	"github.com/sup-sh/sup/probe"
	"golang.org/x/sys/unix"
)

// Containment: where supd has a cgroup v2 hierarchy (Options.Cgroups),
// each spawn is born in a cgroup of its own, so its tree is exactly the
// cgroup's members, whatever setsid or double fork they did, and it is
// stopped whole. Elsewhere the tree is tracked from parentage
// (probe.Tree) and its process group. Either way a child gets SIGKILL if
// supd dies (Pdeathsig; the reaper forks from a thread that lives as long
// as supd), and what it left behind is stopped by the next supd (the
// cgroup) or at supd's exit.

// place prepares attr so that the next spawn of i is contained: born in
// a cgroup of its own (i.cg: the previous spawn's when nothing of it is
// left, else a new one and the previous retired), killed when supd dies.
func (s *Supervisor) place(i *instance, attr *syscall.SysProcAttr) error {
	attr.Pdeathsig = syscall.SIGKILL
	if s.cgroups == nil {
		return nil
	}
	g, err := s.cgroups.Place(i.spec.Name, i.cg)
	i.cg = g // nil on error: the previous one is retired
	if err != nil {
		return fmt.Errorf("contain %s: %w", i.spec.Name, err)
	}
	attr.UseCgroupFD, attr.CgroupFD = true, i.cg.FD()
	return nil
}

// placed: the fork of i's spawn is done (or failed); its cgroup's
// directory fd is no longer needed.
func (s *Supervisor) placed(i *instance) {
	if i.cg != nil {
		i.cg.Placed()
	}
}

// newTree is the process tree of the spawn of i just started as pid:
// its cgroup's members when it has one.
func (s *Supervisor) newTree(i *instance, pid int) *probe.Tree {
	if i.cg == nil {
		return probe.NewTree(pid)
	}
	return probe.NewTreeOf(pid, i.cg.Procs)
}

// signalGroup sends sig to every process of i's cgroup (SIGKILL:
// cgroup.kill, atomic against forks). It reports false when i has no
// cgroup, for the caller to fall back to its process group and strays.
func signalGroup(i *instance, sig unix.Signal) bool {
	if i.cg == nil {
		return false
	}
	if err := i.cg.Signal(sig); err != nil {
		i.log.Warn().Err(err).Str("signal", unix.SignalName(sig)).Msg("cannot signal its cgroup")
		_ = unix.Kill(-i.pgid, sig)
	}
	return true
}
