package probe

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// socketCheck looks for a listening socket that covers a target and is held
// by a tree: the tcp and unix checks of the ready and health blocks. One
// look is a kernel-filtered sock_diag dump; only when a covering socket
// exists does it read the fds of the tree (the root first, which needs no
// /proc scan). It reuses its buffers, so it is not safe for concurrent use;
// the owner closes it.
type socketCheck struct {
	process string // for reasons: "… which is not part of api"
	target  target
	tree    *Tree
	socks   *sockTable
	fds     fdScanner
	scan    func() (*ProcTable, error) // ScanProcs; tests replace it
	cands   []listener                 // covering listeners at the last look
	inodes  []uint64                   // their inodes

	holderOf []uint64 // the candidates that holder was found for
	holder   string   // "pid 4242 (node)", or "" when nobody readable
}

// socketState is the outcome of one look.
type socketState int

const (
	socketNone      socketState = iota // nothing listening covers the target
	socketElsewhere                    // something does, outside the tree
	socketHeld                         // the tree does
)

func newSocketCheck(process string, t target, tree *Tree) *socketCheck {
	return &socketCheck{process: process, target: t, tree: tree, socks: openSockTable(), scan: ScanProcs}
}

// Close releases the netlink socket.
func (c *socketCheck) Close() { c.socks.Close() }

// look checks once. With socketHeld, held is the listener the tree holds.
func (c *socketCheck) look() (state socketState, held listener, err error) {
	c.cands, err = c.socks.covering(c.target, c.cands[:0])
	if err != nil || len(c.cands) == 0 {
		return socketNone, listener{}, err
	}
	c.inodes = c.inodes[:0]
	for _, l := range c.cands {
		c.inodes = append(c.inodes, l.inode)
	}
	ino, ok, err := c.treeHolds()
	switch {
	case err != nil:
		return socketNone, listener{}, err
	case !ok:
		return socketElsewhere, listener{}, nil
	}
	i := slices.IndexFunc(c.cands, func(l listener) bool { return l.inode == ino })
	return socketHeld, c.cands[i], nil
}

// treeHolds returns the inode of a candidate that a member of the tree
// holds. Without /proc it cannot tell whether the tree holds one: that is
// an error, not "held elsewhere".
func (c *socketCheck) treeHolds() (uint64, bool, error) {
	var found uint64
	holds := func(pid int) bool {
		return c.fds.sockets(pid, func(ino uint64) bool {
			if slices.Contains(c.inodes, ino) {
				found = ino
				return false
			}
			return true
		})
	}
	root := c.tree.Root()
	if holds(root) {
		return found, true, nil
	}
	tab, err := c.scan()
	if err != nil {
		return 0, false, fmt.Errorf("listening, but the process tree cannot be read: %w", err)
	}
	for _, pid := range c.tree.Pids(tab) {
		if pid != root && holds(pid) {
			return found, true, nil
		}
	}
	return 0, false, nil
}

// elsewhere says who holds the candidates of the last look:
// "127.0.0.1:3000 is held by pid 4242 (node), which is not part of api".
// Finding the holder reads the fds of every process, so it is only done
// again when the candidates change.
func (c *socketCheck) elsewhere() string {
	if !slices.Equal(c.inodes, c.holderOf) {
		c.holderOf = append(c.holderOf[:0], c.inodes...)
		c.holder = ""
		if tab, err := c.scan(); err == nil {
			if hs := holdersOf(tab, c.cands); len(hs) > 0 {
				c.holder = "pid " + strconv.Itoa(hs[0].Pid) + " (" + hs[0].Command + ")"
			}
		}
	}
	return heldElsewhere(c.target.String(), c.holder, c.process)
}

// HeldReason is the reason given when address is held by h, outside the
// tree of process: "127.0.0.1:3000 is held by pid 4242 (node), which is
// not part of api".
func HeldReason(address string, h Holder, process string) string {
	return heldElsewhere(address, "pid "+strconv.Itoa(h.Pid)+" ("+h.Command+")", process)
}

func heldElsewhere(address, holder, process string) string {
	if holder == "" {
		holder = "another process"
	}
	return address + " is held by " + holder + ", which is not part of " + process
}

// treeListening returns what the tree listens on now. It scans /proc.
func (c *socketCheck) treeListening() ([]string, error) {
	tab, err := c.scan()
	if err != nil {
		return nil, err
	}
	return listeningOf(c.socks, &c.fds, c.tree.Pids(tab))
}

// misplaced is the reason when the tree listens, but not where the config
// says: "listening on 127.0.0.1:3001, config says 127.0.0.1:3000". For a
// tcp target tcp addresses are shown bare, as in the config.
func (c *socketCheck) misplaced(listening []string) string {
	shown := make([]string, len(listening))
	for i, a := range listening {
		shown[i] = a
		if !c.target.unix {
			shown[i] = strings.TrimPrefix(a, "tcp:")
		}
	}
	return "listening on " + strings.Join(shown, ", ") + ", config says " + c.target.String()
}

// health is the liveness form of the check: "" when the tree holds a
// covering socket, else why not.
func (c *socketCheck) health() string {
	state, _, err := c.look()
	switch {
	case err != nil:
		return c.target.String() + ": " + err.Error()
	case state == socketHeld:
		return ""
	case state == socketElsewhere:
		return c.elsewhere()
	}
	return "nothing listening on " + c.target.String()
}

// socketWait is the readiness form of a socketCheck, a poller: it looks
// every startDelay, every 50ms while the address is held outside the tree,
// and diagnoses what the tree listens on instead every 100ms, slowing down
// to every second.
type socketWait struct {
	*socketCheck
	started time.Time

	nextDiag  time.Time
	diagEvery time.Duration
	listening []string // the tree's sockets at the last diagnosis
	wrong     string   // misplaced reason at the last diagnosis, or ""

	idle   string    // "nothing listening yet (starting 2.1s)"
	idleAt time.Time // when idle was formatted; it is refreshed every second
}

const (
	elsewhereDelay = 50 * time.Millisecond
	firstDiagnosis = 100 * time.Millisecond
	maxDiagnosis   = time.Second
)

func newSocketWait(c *socketCheck, started time.Time) *socketWait {
	return &socketWait{socketCheck: c, started: started,
		nextDiag: started.Add(firstDiagnosis), diagEvery: firstDiagnosis}
}

func (w *socketWait) run(ctx context.Context, report func(checkState)) bool {
	defer w.Close()
	return polled{w}.run(ctx, report)
}

func (w *socketWait) attempt(context.Context) (checkState, time.Duration) {
	now := time.Now()
	state, held, err := w.look()
	switch {
	case err != nil:
		return checkState{reason: fmt.Sprintf("%s: %v", w.target, err), listening: w.listening}, maxDiagnosis
	case state == socketHeld:
		return checkState{listening: merge(w.listening, held.String())}, 0
	case state == socketElsewhere:
		return checkState{reason: w.elsewhere(), listening: w.listening}, elsewhereDelay
	}
	if !now.Before(w.nextDiag) {
		w.diagnose()
		w.nextDiag = now.Add(w.diagEvery)
		w.diagEvery = min(2*w.diagEvery, maxDiagnosis)
	}
	elapsed := now.Sub(w.started)
	return checkState{reason: w.idleReason(now, elapsed), listening: w.listening}, startDelay(elapsed)
}

// diagnose finds what the tree listens on.
func (w *socketWait) diagnose() {
	ls, err := w.treeListening()
	if err != nil {
		return
	}
	if !slices.Equal(ls, w.listening) {
		w.listening, w.wrong = ls, ""
		if len(ls) > 0 {
			w.wrong = w.misplaced(ls)
		}
	}
}

func (w *socketWait) idleReason(now time.Time, elapsed time.Duration) string {
	if w.wrong != "" {
		return w.wrong
	}
	if w.idle == "" || now.Sub(w.idleAt) >= time.Second {
		w.idle, w.idleAt = "nothing listening yet (starting "+seconds(elapsed)+")", now
	}
	return w.idle
}

// merge returns the sorted set of list and a.
func merge(list []string, a string) []string {
	if slices.Contains(list, a) {
		return list
	}
	out := append(slices.Clip(list), a)
	slices.Sort(out)
	return out
}
