package probe

import (
	"context"
	"strconv"
	"time"

	"github.com/sup-sh/sup/supervisor/bytesize"
)

// Health runs the liveness checks of one instance after it is ready: http
// (2xx), tcp (the tree listens covering the address, as for readiness),
// exec (exit 0) and max_memory (the tree's RSS). Use one per ready spawn.
type Health struct {
	name     string
	spec     HealthSpec
	http     *httpCheck
	exec     *execCheck
	tcp      *target
	tcpErr   error
	failures int // consecutive failed checks
}

// Defaults for a spec that was not through config's defaults.
const (
	defaultHealthInterval = 10 * time.Second
	maxHealthTimeout      = 10 * time.Second
)

// NewHealth prepares the checks of spec for the instance name. dir is the
// instance's working directory, where exec checks run; run is used by exec
// checks; without it they fail.
func NewHealth(name string, spec HealthSpec, dir string, run Runner) *Health {
	if spec.Interval <= 0 {
		spec.Interval = defaultHealthInterval
	}
	spec.Failures = max(spec.Failures, 1)
	h := &Health{name: name, spec: spec}
	timeout := min(spec.Interval, maxHealthTimeout)
	if spec.HTTP != "" {
		h.http = newHTTPCheck(spec.HTTP, timeout)
	}
	if len(spec.Exec) > 0 {
		h.exec = &execCheck{argv: spec.Exec, dir: dir, runner: run, timeout: timeout}
	}
	if spec.TCP != "" {
		h.tcp, h.tcpErr = newTarget("tcp", spec.TCP)
	}
	return h
}

// Run checks every spec.Interval, the first one interval after it starts,
// until ctx is done, and reports after every check from its own goroutine.
// Failures counts consecutive failed checks; Restart is set when it reaches
// spec.Failures, or at once when the tree's RSS exceeds spec.MaxMemory.
// Without any check configured Run returns at once. A tcp check keeps one
// sock_diag socket for the whole Run, and remembers who holds the address
// outside the tree until the holder changes.
func (h *Health) Run(ctx context.Context, tree *Tree, report func(HealthResult)) {
	if !h.spec.HasChecks() {
		return
	}
	var sock *socketCheck
	if h.tcp != nil && h.tcpErr == nil {
		sock = newSocketCheck(h.name, *h.tcp, tree)
		defer sock.Close()
	}
	ticker := time.NewTicker(h.spec.Interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		res := h.check(ctx, tree, sock)
		if ctx.Err() != nil {
			return
		}
		report(res)
	}
}

// check runs every check once; sock is the tcp check, or nil.
func (h *Health) check(ctx context.Context, tree *Tree, sock *socketCheck) HealthResult {
	if reason := h.overMemory(tree); reason != "" {
		h.failures++
		return HealthResult{Reason: reason, Failures: h.failures, Restart: true}
	}
	reason := h.firstFailure(ctx, sock)
	if reason == "" {
		h.failures = 0
		return HealthResult{OK: true}
	}
	h.failures++
	return HealthResult{
		Reason: "health: " + reason + " (" + strconv.Itoa(h.failures) + "/" +
			strconv.Itoa(h.spec.Failures) + " failures)",
		Failures: h.failures,
		Restart:  h.failures >= h.spec.Failures,
	}
}

// firstFailure runs the http, tcp and exec checks in that order and
// returns why the first failing one fails, or "".
func (h *Health) firstFailure(ctx context.Context, sock *socketCheck) string {
	if h.http != nil {
		if reason := h.http.get(ctx); reason != "" {
			return reason
		}
	}
	if h.tcpErr != nil {
		return h.tcpErr.Error()
	}
	if sock != nil {
		if reason := sock.health(); reason != "" {
			return reason
		}
	}
	if h.exec != nil {
		if h.exec.runner == nil {
			return "exec check without a runner"
		}
		return h.exec.run(ctx)
	}
	return ""
}

// overMemory returns "memory 600MiB over max_memory 512MiB" when the
// tree's RSS exceeds max_memory, else "".
func (h *Health) overMemory(tree *Tree) string {
	if h.spec.MaxMemory <= 0 {
		return ""
	}
	tab, err := ScanProcs()
	if err != nil {
		return ""
	}
	var rss int64
	for _, pid := range tree.Pids(tab) {
		p, _ := tab.Get(pid)
		rss += p.RSS
	}
	if rss <= h.spec.MaxMemory {
		return ""
	}
	return "memory " + bytesize.Format(rss) + " over max_memory " + bytesize.Format(h.spec.MaxMemory)
}
