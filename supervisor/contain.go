package supervisor

import (
	"fmt"
	"syscall"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/cgroup"
	"golang.org/x/sys/unix"
)

// Containment: where supd has a cgroup v2 hierarchy (Options.Cgroups),
// each spawn is born in a cgroup of its own, so its tree is exactly the
// cgroup's members, whatever setsid or double fork they did, and it is
// signalled and stopped whole (procSpawn.Signal and Alive). Elsewhere the
// tree is tracked from parentage (probe.Tree) and its process group.
// Either way a child gets SIGKILL if supd dies (Pdeathsig; the reaper
// forks from a thread that lives as long as supd), and what it left
// behind is stopped by the next supd (the cgroup) or at supd's exit.

// containment places the launcher's spawns in cgroups. Only the loop
// uses it (through Launch).
type containment struct {
	m    *cgroup.Manager          // nil: no cgroups
	last map[string]*cgroup.Group // instance name -> group of its last spawn
}

// place prepares attr so that the next spawn of name is contained: born
// in a cgroup of its own (the previous spawn's when it is empty and was
// never killed, else a new one), killed when supd dies. It returns the
// group, nil without cgroups; the caller calls Placed on it after the fork.
func (c *containment) place(name string, attr *syscall.SysProcAttr) (*cgroup.Group, error) {
	attr.Pdeathsig = syscall.SIGKILL
	if c.m == nil {
		return nil, nil
	}
	if c.last == nil {
		c.last = make(map[string]*cgroup.Group)
	}
	g, err := c.m.Place(name, c.last[name])
	if err != nil {
		delete(c.last, name) // Place retired it
		return nil, fmt.Errorf("contain %s: %w", name, err)
	}
	c.last[name] = g
	attr.UseCgroupFD, attr.CgroupFD = true, g.FD()
	return g, nil
}

// group is the cgroup the last launch of name was placed in, nil without.
func (c *containment) group(name string) *cgroup.Group { return c.last[name] }

// newTree is the process tree of a spawn started as pid in cg: the
// cgroup's members when there is one.
func newTree(pid int, cg *cgroup.Group) *probe.Tree {
	if cg == nil {
		return probe.NewTree(pid)
	}
	return probe.NewTreeOf(pid, cg.Procs)
}

// signalGroup sends sig to every process of cg (SIGKILL: cgroup.kill,
// atomic against forks). It reports false when there is no cgroup, for
// the caller to fall back to the process group and strays.
func (p *procSpawn) signalGroup(sig unix.Signal) bool {
	if p.cg == nil {
		return false
	}
	if err := p.cg.Signal(sig); err != nil {
		p.log.Warn().Err(err).Str("signal", unix.SignalName(sig)).Msg("cannot signal its cgroup")
		_ = unix.Kill(-p.pgid, sig)
	}
	return true
}
