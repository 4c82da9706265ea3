package probe

import (
	"slices"
	"sync"
)

// Tree is the process tree of one spawned instance: the root pid, its
// descendants, and processes that left the tree by being re-parented (to
// supd as child subreaper, or to PID 1) after their parent died. Those stay
// members when they were seen in the tree earlier, or when they still share
// the root's process group (pgid == root pid, which is how supd spawns).
//
// A Tree learns its members from the tables given to Pids: a process that is
// born and orphaned between two calls is only kept through its process
// group. Members are remembered as pid+start time, so a reused pid is never
// mistaken for a member. A Tree is safe for concurrent use.
type Tree struct {
	root  int
	exact func() ([]int, error) // exact member list (a cgroup), or nil

	mu        sync.Mutex
	rootStart uint64         // start time of root, once seen
	rootSeen  bool           // rootStart is set
	members   map[int]uint64 // pid -> start time of every member seen alive
}

// NewTree returns the tree rooted at pid root.
func NewTree(root int) *Tree {
	return &Tree{root: root, members: make(map[int]uint64)}
}

// NewTreeOf returns the tree rooted at pid root whose members are listed
// exactly by members (the pids of the spawn's cgroup: descendants that
// left the process group or session included, strangers never). Pids
// then reads no parentage at all; when members fails, it falls back to
// tracking the tree like NewTree.
func NewTreeOf(root int, members func() ([]int, error)) *Tree {
	t := NewTree(root)
	t.exact = members
	return t
}

// Root returns the root pid.
func (t *Tree) Root() int { return t.root }

// Pids returns the live members in tab, ascending, and remembers them.
func (t *Tree) Pids(tab *ProcTable) []int {
	if t.exact != nil {
		if pids, err := t.exact(); err == nil {
			// As the table has them: a consistent view for the caller.
			return slices.DeleteFunc(pids, func(pid int) bool { _, ok := tab.Get(pid); return !ok })
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()

	if !t.rootSeen {
		if p, ok := tab.Get(t.root); ok {
			t.rootStart, t.rootSeen = p.StartTime, true
			t.members[t.root] = p.StartTime
		}
	}
	// Seeds: remembered members still alive, and the root's process group.
	// A process group id is not reused while the group has members, and
	// members are never older than the root; once the root's pid belongs
	// to another process, so may the group id.
	rootProc, alive := tab.Get(t.root)
	groupIsOurs := !alive || !t.rootSeen || rootProc.StartTime == t.rootStart
	var seeds []int
	for pid, start := range t.members {
		if p, ok := tab.Get(pid); ok && p.StartTime == start {
			seeds = append(seeds, pid)
		} else {
			delete(t.members, pid)
		}
	}
	for _, p := range tab.Procs() {
		if groupIsOurs && p.Pgid == t.root && (!t.rootSeen || p.StartTime >= t.rootStart) {
			seeds = append(seeds, p.Pid)
		}
	}

	seen := make(map[int]bool, len(seeds)+8)
	pids := make([]int, 0, len(seeds)+8)
	for len(seeds) > 0 {
		pid := seeds[len(seeds)-1]
		seeds = seeds[:len(seeds)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		pids = append(pids, pid)
		seeds = append(seeds, tab.Children(pid)...)
	}
	for _, pid := range pids {
		if _, ok := t.members[pid]; !ok {
			p, _ := tab.Get(pid)
			t.members[pid] = p.StartTime
		}
	}
	slices.Sort(pids)
	return pids
}
