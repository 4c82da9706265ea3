package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// link checks what crosses processes: depends_on and sockets targets,
// dependency cycles; then it orders the processes.
func (l *loader) link() {
	byName := make(map[string]*procBlock, len(l.procs))
	var processes, sockets []string
	for _, pb := range l.procs {
		byName[pb.proc.Name] = pb
		processes = append(processes, pb.proc.Name)
	}
	for _, s := range l.cfg.Sockets {
		sockets = append(sockets, s.Name)
	}
	for _, pb := range l.procs {
		for _, r := range pb.dependsOn {
			if r.name == pb.proc.Name {
				l.errorf(r.rng, "Invalid depends_on", "process %q depends on itself: remove %q from its depends_on", r.name, r.name)
				continue
			}
			l.checkRef(r, "depends_on", "process", processes)
		}
		for _, r := range pb.sockets {
			l.checkRef(r, "sockets", "socket", sockets)
		}
	}
	if !l.checkCycles(byName) {
		return
	}
	l.cfg.Order = order(l.procs, byName)
}

// checkRef reports a name that is not among the defined ones, suggesting
// the closest one.
func (l *loader) checkRef(r ref, attr, kind string, defined []string) {
	if slices.Contains(defined, r.name) {
		return
	}
	detail := fmt.Sprintf("there is no %s named %q", kind, r.name)
	if s := suggest(r.name, defined); s != "" {
		detail += fmt.Sprintf("; did you mean %q?", s)
	} else if len(defined) > 0 {
		detail += fmt.Sprintf("; defined: %s", strings.Join(defined, ", "))
	} else {
		detail += fmt.Sprintf("; define it with a %s block", kind)
	}
	l.errorf(r.rng, "Invalid "+attr, "%s", detail)
}

// suggest returns the name closest to given, if it is close enough to be
// a likely typo.
func suggest(given string, names []string) string {
	best, dist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < dist {
			best, dist = n, d
		}
	}
	return best
}

func (l *loader) errorf(rng hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, diagAt(hcl.DiagError, rng, summary, fmt.Sprintf(format, args...)))
}

// checkCycles reports every dependency cycle once, at the depends_on element
// that leaves the first process of the cycle the search reached. It reports
// whether there is none.
func (l *loader) checkCycles(byName map[string]*procBlock) bool {
	const (
		unvisited = iota
		onPath
		done
	)
	state := make(map[*procBlock]int, len(byName))
	var path []*procBlock
	reported := map[string]bool{}
	var visit func(pb *procBlock)
	visit = func(pb *procBlock) {
		state[pb] = onPath
		path = append(path, pb)
		for _, next := range dependencies(pb, byName) {
			switch state[next] {
			case onPath:
				cycle := path[slices.Index(path, next):]
				if key := cycleKey(cycle); !reported[key] {
					reported[key] = true
					l.reportCycle(cycle)
				}
			case unvisited:
				visit(next)
			}
		}
		path = path[:len(path)-1]
		state[pb] = done
	}
	for _, pb := range l.procs {
		if state[pb] == unvisited {
			visit(pb)
		}
	}
	return len(reported) == 0
}

// dependencies are the defined processes pb depends on, itself excluded.
func dependencies(pb *procBlock, byName map[string]*procBlock) []*procBlock {
	var deps []*procBlock
	for _, r := range pb.dependsOn {
		if d := byName[r.name]; d != nil && d != pb {
			deps = append(deps, d)
		}
	}
	return deps
}

// cycleKey identifies a cycle whatever process it is read from.
func cycleKey(cycle []*procBlock) string {
	names := make([]string, len(cycle))
	for i, pb := range cycle {
		names[i] = pb.proc.Name
	}
	first := slices.Index(names, slices.Min(names))
	return strings.Join(slices.Concat(names[first:], names[:first]), " ")
}

// reportCycle reports cycle[0] -> cycle[1] -> ... -> cycle[0].
func (l *loader) reportCycle(cycle []*procBlock) {
	names := make([]string, 0, len(cycle)+1)
	for _, pb := range cycle {
		names = append(names, pb.proc.Name)
	}
	names = append(names, cycle[0].proc.Name)
	first := cycle[0]
	rng := first.proc.Range
	if i := slices.IndexFunc(first.dependsOn, func(r ref) bool { return r.name == names[1] }); i >= 0 {
		rng = first.dependsOn[i].rng
	}
	l.errorf(rng, "Invalid depends_on",
		"dependency cycle: %s; none of them can start first: remove one of these dependencies", strings.Join(names, " -> "))
}

// order returns the process names so that each comes after its
// dependencies; among processes that could go next, file order wins.
func order(procs []*procBlock, byName map[string]*procBlock) []string {
	placed := make(map[*procBlock]bool, len(procs))
	names := make([]string, 0, len(procs))
	for progress := true; progress; {
		progress = false
		for _, pb := range procs {
			if !placed[pb] && depsPlaced(pb, byName, placed) {
				placed[pb] = true
				names = append(names, pb.proc.Name)
				progress = true
				break
			}
		}
	}
	return names
}

func depsPlaced(pb *procBlock, byName map[string]*procBlock, placed map[*procBlock]bool) bool {
	for _, d := range dependencies(pb, byName) {
		if !placed[d] {
			return false
		}
	}
	return true
}
