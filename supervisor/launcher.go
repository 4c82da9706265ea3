package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/cgroup"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
	"golang.org/x/sys/unix"
)

// Launcher starts spawns for the loop, and only the loop calls it. The
// default one forks real processes; tests inject one that does not.
type Launcher interface {
	// Launch starts one run of spec with its output going to sink. onExit
	// is called once, from another goroutine, when the leader is reaped;
	// it is never called when Launch returns an error.
	Launch(spec *config.Spec, sink *output.Sink, log zerolog.Logger, onExit func(reaper.Exit)) (Spawn, error)
}

// Spawn is one started run of an instance: its process tree and the
// checks that watch it. Ready and Health block and are run on their own
// goroutines; Signal and Alive are called from the loop.
//
// Signal and Alive are the seam for containment: the default sends to the
// process group and to the members of the tree that left it (found in
// /proc); a cgroup can replace both.
type Spawn interface {
	Pid() int
	// Tree is the process tree for status and why; nil when there is none.
	Tree() *probe.Tree
	// Held says who held a configured ready address before the spawn
	// ("" when nobody): that process cannot be part of the new tree.
	Held() string
	// Ready runs the ready checks until they pass (nil) or ctx ends,
	// calling progress with each intermediate result. It is called at most
	// once, and only for a service with ready checks.
	Ready(ctx context.Context, progress func(probe.Result)) error
	// Health runs the liveness checks until ctx ends.
	Health(ctx context.Context, report func(probe.HealthResult))
	// Signal sends sig to the whole process tree.
	Signal(sig unix.Signal)
	// Alive reports whether anything of the tree is left (zombies included,
	// until they are reaped).
	Alive() bool
}

// procLauncher forks real processes, registered with one reaper.
type procLauncher struct {
	env    []string // supd's environment minus what children must not inherit
	reaper *reaper.Reaper
	pumps  *pumps // output pumps still reading a child's pipe
	procs  procCache
	// passSockets gives a spawn the sockets supd holds for it (Supervisor.passSockets).
	passSockets func(cmd *exec.Cmd, spec *config.Spec, readiness map[int]*os.File) error
	contain     containment // cgroups (see contain.go)
}

// procCache shares one scan of /proc between the signals sent close
// together: stopping 1,000 processes scans /proc a few times, not 1,000
// times. A scan is reused for at most procCacheFor; a process in it that
// is gone since only gets a signal that finds nobody.
type procCache struct {
	mu  sync.Mutex
	tab *probe.ProcTable
	at  time.Time
}

const procCacheFor = 100 * time.Millisecond

func (c *procCache) table() (*probe.ProcTable, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tab != nil && time.Since(c.at) < procCacheFor {
		return c.tab, nil
	}
	tab, err := probe.ScanProcs()
	if err != nil {
		return nil, err
	}
	c.tab, c.at = tab, time.Now()
	return tab, nil
}

func (l *procLauncher) Launch(spec *config.Spec, sink *output.Sink, log zerolog.Logger, onExit func(reaper.Exit)) (Spawn, error) {
	rd, err := probe.NewReadiness(spec.Name, spec.Ready, spec.Dir, l.reaper)
	if err != nil {
		return nil, &spawnError{code: 1, msg: fmt.Sprintf("readiness setup: %v", err)}
	}
	held := heldBefore(spec)
	// The log check sees the lines from the first one: a line printed at
	// once must not go by before Ready runs.
	sink.Observe(rd.Line)
	pid, err := l.launch(spec, sink, rd, onExit)
	if err != nil {
		sink.Observe(nil)
		rd.Close()
		return nil, err
	}
	rd.Started(pid)
	cg := l.contain.group(spec.Name)
	sp := &procSpawn{pid: pid, pgid: pid, tree: newTree(pid, cg), cg: cg, held: held, spec: spec, sink: sink, log: log,
		reaper: l.reaper, procs: &l.procs}
	if spec.Type == config.Oneshot || !spec.Ready.HasChecks() {
		sink.Observe(nil)
		rd.Close()
	} else {
		sp.rd = rd
	}
	return sp, nil
}

// heldBefore says, before a spawn, whether a configured address is
// already held by someone (who then cannot be part of the new tree).
func heldBefore(spec *config.Spec) string {
	for _, a := range expected(spec.Ready) {
		holders, err := probe.HeldBy(a.network, a.address)
		if err != nil || len(holders) == 0 {
			continue
		}
		return probe.HeldReason(a.address, holders[0], spec.Name)
	}
	return ""
}

// procSpawn is a real process tree.
type procSpawn struct {
	pid, pgid int
	tree      *probe.Tree
	held      string
	spec      *config.Spec
	sink      *output.Sink
	log       zerolog.Logger
	reaper    *reaper.Reaper
	rd        *probe.Readiness // nil when there are no ready checks
	procs     *procCache
	strays    []int         // members of the tree found outside its group by Signal
	cg        *cgroup.Group // the spawn's cgroup; nil without containment
}

func (p *procSpawn) Pid() int          { return p.pid }
func (p *procSpawn) Tree() *probe.Tree { return p.tree }
func (p *procSpawn) Held() string      { return p.held }

func (p *procSpawn) Ready(ctx context.Context, progress func(probe.Result)) error {
	defer p.rd.Close()
	defer p.sink.Observe(nil) // observing since Launch
	return p.rd.Wait(ctx, p.tree, progress)
}

func (p *procSpawn) Health(ctx context.Context, report func(probe.HealthResult)) {
	probe.NewHealth(p.spec.Name, p.spec.Health, p.spec.Dir, p.reaper).Run(ctx, p.tree, report)
}

// Signal sends sig to the process group and to its strays: the members
// of the tree (descendants, and orphans seen among them before) that left
// its process group with setsid or setpgid, as daemonizing children do. A
// signal to the group misses them, and they would outlive a stop, and
// supd. The strays are found first: once the group is gone, a stray that
// was never seen cannot be told from any other orphan.
func (p *procSpawn) Signal(sig unix.Signal) {
	if p.signalGroup(sig) {
		return
	}
	tab, err := p.procs.table()
	if err != nil {
		p.log.Warn().Err(err).Msg("cannot find the processes that left its process group")
	}
	var out []int
	if tab != nil {
		for _, pid := range p.tree.Pids(tab) {
			if q, ok := tab.Get(pid); ok && q.Pgid != p.pgid {
				out = append(out, pid)
			}
		}
	}
	_ = unix.Kill(-p.pgid, sig) // ESRCH: the group is gone already
	for _, pid := range out {
		_ = unix.Kill(pid, sig)
		if !slices.Contains(p.strays, pid) {
			p.strays = append(p.strays, pid)
		}
	}
}

// Alive reports whether the process group, or a stray found by Signal, is
// left (zombies count until reaped). It reads no /proc table: at the
// exit of each of 1,000 processes being stopped it is O(1).
func (p *procSpawn) Alive() bool {
	if p.cg != nil {
		return p.cg.Populated()
	}
	if unix.Kill(-p.pgid, 0) == nil {
		return true
	}
	for _, pid := range p.strays {
		if unix.Kill(pid, 0) == nil {
			return true
		}
	}
	return false
}

// address is one configured ready address.
type address struct{ network, address string }

func (a address) String() string { return a.network + ":" + a.address }

func expected(r config.Ready) []address {
	var out []address
	if r.TCP != "" {
		out = append(out, address{"tcp", r.TCP})
	}
	if r.Unix != "" {
		out = append(out, address{"unix", r.Unix})
	}
	return out
}
