package supervisor

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/api"
)

// resolveTimeout bounds the lookup of a target's host name.
const resolveTimeout = 2 * time.Second

// CheckProxy implements control.Backend: for each target of a proxy's
// config, whether what listens there is the supervised process meant for
// it, ready, not overloaded, and reachable by the proxy's user. It runs
// in supd, which can read every process's fds (supctl may not).
func (s *Supervisor) CheckProxy(ctx context.Context, req api.ProxyCheckRequest) ([]api.ProxyCheck, error) {
	v, err := s.proxyView(ctx)
	if err != nil {
		return nil, err
	}
	if req.User != "" {
		id, err := probe.LookupIdentity(req.User, req.Group)
		if err != nil && req.Group != "" {
			// nginx itself would not start ("user nobody;" names the
			// group nobody, which Debian lacks): judge by the user's
			// own group rather than not at all.
			id, err = probe.LookupIdentity(req.User, "")
		}
		v.id, v.idErr = &id, err
	}
	out := make([]api.ProxyCheck, 0, len(req.Targets))
	for _, t := range req.Targets {
		out = append(out, v.check(ctx, t))
	}
	return out, nil
}

// proxyView is the supervised instances as check-proxy and why see them.
type proxyView struct {
	sts   []api.Status
	owner map[int]int // pid of a tree member -> index in sts
	id    *probe.Identity
	idErr error
}

func (s *Supervisor) proxyView(ctx context.Context) (*proxyView, error) {
	snaps, err := s.snapshots(ctx, nil)
	if err != nil {
		return nil, err
	}
	v := &proxyView{sts: s.inspect(snaps), owner: map[int]int{}}
	tab, err := probe.ScanProcs()
	if err != nil {
		return nil, fmt.Errorf("check proxy: %w", err)
	}
	for k, sn := range snaps {
		if sn.status.Pid != 0 && sn.tree != nil {
			for _, pid := range sn.tree.Pids(tab) {
				v.owner[pid] = k
			}
		}
	}
	return v, nil
}

// candidates are the addresses nginx may connect to for a target, in the
// contract's form: "unix:PATH", or "tcp:IP:PORT" for each address its host
// resolves to (localhost is usually both 127.0.0.1 and ::1; nginx tries
// the next when one fails).
func candidates(ctx context.Context, address string) ([]string, error) {
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		return []string{"unix:" + path}, nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", address, err)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{"tcp:" + net.JoinHostPort(ip.Unmap().String(), port)}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	var out []string
	for _, ip := range ips {
		a := "tcp:" + net.JoinHostPort(ip.Unmap().String(), port)
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// check decides one target: the best verdict over its candidates, with
// what the others would give in the detail.
func (v *proxyView) check(ctx context.Context, t api.ProxyTarget) api.ProxyCheck {
	cands, err := candidates(ctx, t.Address)
	if err != nil || len(cands) == 0 {
		c := api.ProxyCheck{ProxyTarget: t, Kind: api.VerdictNobodyListening, Verdict: "nobody listening"}
		if err != nil {
			c.Detail = err.Error()
		}
		return c
	}
	var best api.ProxyCheck
	var others []string
	for i, a := range cands {
		c := v.checkOne(t, a)
		switch {
		case i == 0:
			best = c
		case c.OK() && !best.OK():
			others = append(others, shown(cands[0])+": "+best.Verdict)
			best = c
		case !c.OK():
			others = append(others, shown(a)+": "+c.Verdict)
		}
	}
	if best.OK() && len(others) > 0 {
		best.Detail = join(best.Detail, fmt.Sprintf("%s also resolves to %s (nginx tries it too)", hostOf(t.Address), strings.Join(others, ", ")))
	}
	return best
}

// checkOne decides one candidate address of t.
func (v *proxyView) checkOne(t api.ProxyTarget, addr string) api.ProxyCheck {
	c := api.ProxyCheck{ProxyTarget: t}
	network, a, _ := strings.Cut(addr, ":")
	meant := v.configuredFor(addr)
	if meant >= 0 {
		c.Process = v.sts[meant].Name
	}
	holders, err := probe.HeldBy(network, a)
	if err != nil {
		c.Kind, c.Verdict, c.Detail = api.VerdictNobodyListening, "nobody listening", err.Error()
		return c
	}
	for _, h := range holders {
		if k, ok := v.owner[h.Pid]; ok {
			return v.served(c, k, h, addr)
		}
	}
	if slices.ContainsFunc(holders, func(h probe.Holder) bool { return h.Pid == os.Getpid() }) {
		// A socket supd holds for a process (socket blocks) while no
		// instance has it: connections wait in its queue.
		c.Kind, c.Verdict = api.VerdictNotReady, "not ready (supd holds the socket, no instance is taking connections: they wait in its queue)"
		return c
	}
	if len(holders) > 0 {
		h := holders[0]
		c.Kind, c.Verdict = api.VerdictHeldElsewhere, fmt.Sprintf("held by pid %d (%s), not supervised", h.Pid, h.Command)
		if meant >= 0 {
			c.Detail = fmt.Sprintf("%s is configured for %s", c.Process, shown(addr))
		}
		return c
	}
	if meant >= 0 {
		st := v.sts[meant]
		if len(st.Listening) > 0 {
			c.Kind, c.Verdict = api.VerdictListensElsewhere, "listens on "+shownList(st.Listening)+" instead"
			c.Detail = mismatch(addr, st.Listening)
			return c
		}
		c.Kind, c.Verdict = api.VerdictNotReady, "not ready ("+notReady(st)+")"
		return c
	}
	c.Kind, c.Verdict = api.VerdictNobodyListening, "nobody listening"
	if network == "unix" {
		// A file in the way (a stale socket) is the cause, whatever
		// listens nearby.
		if c.Detail = socketFileDetail(a); c.Detail != "" {
			if why := v.access(a); why != "" {
				c.Detail += "; and " + why // what nginx reports first: 13, not 111
			}
			return c
		}
	}
	if k, near := v.nearest(addr); k >= 0 {
		c.Process = v.sts[k].Name
		c.Kind, c.Verdict = api.VerdictListensElsewhere, "listens on "+shown(near)+" instead"
		c.Detail = mismatch(addr, []string{near})
	} else if network == "unix" {
		c.Detail = "no socket file at " + a
	}
	return c
}

// served is the verdict for a target held by instance k's tree.
func (v *proxyView) served(c api.ProxyCheck, k int, h probe.Holder, addr string) api.ProxyCheck {
	st := v.sts[k]
	c.Process = st.Name
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if why := v.access(path); why != "" {
			c.Kind, c.Verdict, c.Detail = api.VerdictNotAccessible, "socket not accessible to nginx's user", why
			return c
		}
	}
	for _, q := range st.AcceptQueue {
		if q.Listen == h.Address && q.Full() {
			c.Kind, c.Verdict = api.VerdictOverloaded, "overloaded"
			c.Detail = fmt.Sprintf("accept queue full on %s (%d/%d); new connections are dropped", q.Shown(), q.Queued, q.Backlog)
			return c
		}
	}
	if !st.Ready {
		c.Kind, c.Verdict = api.VerdictNotReady, "not ready ("+notReady(st)+")"
		return c
	}
	c.Kind, c.Verdict = api.VerdictOK, "ok"
	return c
}

// access says why the proxy's user cannot connect to the socket at path,
// or "" when it can or no user was given.
func (v *proxyView) access(path string) string {
	switch {
	case v.id == nil:
		return ""
	case v.idErr != nil:
		return "cannot tell whether nginx's user can connect: " + v.idErr.Error()
	}
	why, err := probe.CanConnect(*v.id, path)
	if err != nil {
		return "cannot tell whether " + v.id.User + " can connect: " + err.Error()
	}
	return why
}

// configuredFor returns the index of the first instance whose config says
// it listens on addr (its ready tcp/unix checks), or -1.
func (v *proxyView) configuredFor(addr string) int {
	return slices.IndexFunc(v.sts, func(st api.Status) bool {
		return slices.ContainsFunc(st.Expect, func(e string) bool { return probe.Covers(e, addr) })
	})
}

// nearest finds a supervised instance listening on an address close to
// addr, the likely mistake: a Unix socket in the same directory or with
// the same file name (the longest common prefix wins), a TCP socket on the
// same port of another address. It returns its index and that address,
// or -1.
func (v *proxyView) nearest(addr string) (int, string) {
	network, a, _ := strings.Cut(addr, ":")
	best, bestAddr, bestScore := -1, "", -1
	for k, st := range v.sts {
		for _, l := range st.Listening {
			ln, la, _ := strings.Cut(l, ":")
			score := -1
			switch {
			case ln != network:
			case network == "unix" && (filepath.Dir(la) == filepath.Dir(a) || filepath.Base(la) == filepath.Base(a)):
				score = commonPrefix(la, a)
			case network == "tcp":
				_, lp, _ := net.SplitHostPort(la)
				if _, tp, _ := net.SplitHostPort(a); lp == tp {
					score = 0
				}
			}
			if score > bestScore {
				best, bestAddr, bestScore = k, l, score
			}
		}
	}
	return best, bestAddr
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// mismatch names the nearest difference between a target and what the
// process listens on: "unix socket path differs: /run/api.sock vs
// /run/app.sock", "port differs: 127.0.0.1:3000 vs 127.0.0.1:3001",
// "address differs: 127.0.0.1:3000 vs [::1]:3000".
func mismatch(target string, listening []string) string {
	tn, ta, _ := strings.Cut(target, ":")
	for _, l := range listening {
		ln, la, _ := strings.Cut(l, ":")
		if ln != tn {
			continue
		}
		if tn == "unix" {
			return fmt.Sprintf("unix socket path differs: %s vs %s", ta, la)
		}
		th, tp, _ := net.SplitHostPort(ta)
		lh, lp, _ := net.SplitHostPort(la)
		switch {
		case th == lh:
			return fmt.Sprintf("port differs: %s vs %s", ta, la)
		case tp == lp:
			return fmt.Sprintf("address differs: %s vs %s", ta, la)
		}
	}
	if len(listening) > 0 {
		return fmt.Sprintf("proxy connects to %s, the process listens on %s", shown(target), shownList(listening))
	}
	return ""
}

// socketFileDetail says what is in the way at the path of a Unix target
// nobody listens on: a stale socket file, or a file that is no socket;
// "" when there is nothing.
func socketFileDetail(path string) string {
	f, err := probe.StatSocket(path)
	switch {
	case err != nil:
		return err.Error()
	case f.Stale():
		return fmt.Sprintf("stale socket file %s (%s): nobody listens on it, connections are refused", path, f)
	case f.Exists && !f.Socket:
		return fmt.Sprintf("%s is not a socket (%s)", path, f)
	}
	return "" // nothing there, or a live socket
}

// notReady is why st is not ready: its reason, else its state.
func notReady(st api.Status) string {
	if d := api.Detail(st.State, st.Reason, st.ExitCode, st.ExitSignal); d != "" {
		return st.State + ": " + d
	}
	return st.State
}

// shown is an address as messages show it: TCP ones bare.
func shown(a string) string { return strings.TrimPrefix(a, "tcp:") }

func shownList(as []string) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = shown(a)
	}
	return strings.Join(out, ", ")
}

// hostOf is the host of "host:port".
func hostOf(address string) string {
	if h, _, err := net.SplitHostPort(address); err == nil {
		return h
	}
	return address
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
