package probe

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Usage is what one tree uses, for `supctl status`.
type Usage struct {
	CPUPercent float64  // of one core, summed over the tree
	RSS        int64    // bytes, summed over the tree
	Listening  []string // what the tree listens on, as Listening returns it
	// AcceptQueue has one entry per listening socket the tree holds
	// (its own, or inherited from supd), sorted by address.
	AcceptQueue []Queue
	Pids        []int // the live members, ascending
}

// Inspector computes Usage for many trees at once. It remembers the CPU
// time of every process it saw, so that CPU% covers the interval since the
// previous Inspect. Safe for concurrent use.
type Inspector struct {
	mu   sync.Mutex
	prev map[procKey]cpuSample
}

// procKey names a process across pid reuse.
type procKey struct {
	pid   int
	start uint64
}

type cpuSample struct {
	ticks uint64
	at    time.Time
}

// cpuWindow is how recent a previous sample must be to be used: an older
// one would smooth CPU% over minutes, so the average since start is used.
const cpuWindow = time.Minute

func NewInspector() *Inspector {
	return &Inspector{prev: make(map[procKey]cpuSample)}
}

// Inspect returns the usage of each tree, in the same order; a nil *Tree
// gives a zero Usage. It scans /proc once and dumps the listening sockets
// once for all trees. CPU% of a process is over the interval since the
// previous Inspect that saw it if that was less than a minute ago, else the
// average since it started. When listing sockets fails the usages are
// still returned, without Listening and AcceptQueue, with the error.
func (i *Inspector) Inspect(trees []*Tree) ([]Usage, error) {
	tab, err := ScanProcs()
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	now := time.Now()
	uptime := bootTime()

	usages := make([]Usage, len(trees))
	inodes := make([]map[uint64]bool, len(trees))
	all := make(map[uint64]bool)
	var fds fdScanner

	i.mu.Lock()
	next := make(map[procKey]cpuSample, len(i.prev))
	for n, tree := range trees {
		if tree == nil {
			continue
		}
		u := &usages[n]
		u.Pids = tree.Pids(tab)
		for _, pid := range u.Pids {
			p, _ := tab.Get(pid)
			u.RSS += p.RSS
			key := procKey{pid, p.StartTime}
			u.CPUPercent += cpuPercent(p, i.prev[key], now, uptime)
			next[key] = cpuSample{ticks: p.CPUTicks, at: now}
		}
		inodes[n] = make(map[uint64]bool)
		fds.collect(u.Pids, inodes[n])
		for ino := range inodes[n] {
			all[ino] = true
		}
	}
	i.prev = next
	i.mu.Unlock()

	socks := openSockTable()
	defer socks.Close()
	found, err := socks.resolve(all)
	if err != nil {
		err = fmt.Errorf("inspect: %w", err)
	}
	for n, tree := range trees {
		if tree != nil {
			usages[n].Listening = addresses(found, inodes[n])
			usages[n].AcceptQueue = queues(found, inodes[n])
		}
	}
	return usages, err
}

// cpuPercent is p's CPU use in percent of one core: since prev when prev is
// recent, else since p started (uptime is the time since boot).
func cpuPercent(p Proc, prev cpuSample, now time.Time, uptime time.Duration) float64 {
	ticks, span := p.CPUTicks, uptime-time.Duration(p.StartTime)*time.Second/userHZ
	if age := now.Sub(prev.at); !prev.at.IsZero() && age > 0 && age < cpuWindow && p.CPUTicks >= prev.ticks {
		ticks, span = p.CPUTicks-prev.ticks, age
	}
	// CPU time comes in ticks of 1/userHZ s: over a shorter span than
	// minCPUSpan the figure is mostly rounding (one tick in 3 ms of life
	// reads 333%), and no process uses more than every core.
	if span < minCPUSpan {
		return 0
	}
	return min(float64(ticks)/userHZ/span.Seconds()*100, float64(100*runtime.NumCPU()))
}

// minCPUSpan is the shortest span a CPU% is computed over: 10 ticks.
const minCPUSpan = 10 * time.Second / userHZ

// bootTime is the time since boot, on the clock of /proc/PID/stat's
// starttime.
func bootTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
