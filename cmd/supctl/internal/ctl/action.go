package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
)

// ActionCommand is `supctl start|stop|restart|reload|wait`: it asks supd
// to act on processes and, unless --no-wait, to wait until the action is
// complete or --timeout has passed; then it prints the status of the
// targets. The action failing or timing out is an error.
type ActionCommand struct {
	env
	action control.Action
}

func (c *ActionCommand) Run(ctx context.Context, args []string) error {
	fs := c.flags()
	timeout := c.duration("timeout", control.DefaultWaitTimeout, "give up waiting after `D` (a duration: 30s, 2m)")
	noWait := new(bool)
	if c.action != control.ActionWait {
		fs.BoolVar(noWait, "no-wait", false, "return once supd has applied the action, without waiting until it is complete")
	}
	allowEmpty := new(bool)
	if c.action == control.ActionReload {
		fs.BoolVar(allowEmpty, "allow-empty", false, "apply a config that has no processes (it stops everything); refused without")
	}
	names, err := c.parse(args)
	switch {
	case err != nil:
		return err
	case len(names) == 0 && c.action != control.ActionReload && c.action != control.ActionWait:
		return c.usageError(errors.New("missing NAME (all: every process)"))
	}

	deadline := time.Now().Add(*timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(callTimeout))
	defer cancel()
	req := api.ActionRequest{Names: names, Wait: !*noWait, Timeout: timeout.String(), AllowEmpty: *allowEmpty}
	sts, err := c.do(ctx, req, deadline)
	if remote := (*control.RemoteError)(nil); errors.As(err, &remote) && remote.Diagnostics != "" {
		io.WriteString(c.stderr, strings.TrimRight(remote.Diagnostics, "\n")+"\n")
	}
	if err != nil {
		return err
	}
	if c.action == control.ActionReload && len(names) > 0 {
		c.noteGaps(sts)
	}
	return writeStatus(c.stdout, sts)
}

// noteGaps says which of the processes a `reload NAME` rolled hold no
// socket of supd's: each of their instances stopped before its new spawn
// started, a gap in which connections are refused.
func (c *ActionCommand) noteGaps(sts []api.Status) {
	var gaps []string
	for _, st := range sts {
		if len(st.Sockets) == 0 && !slices.Contains(gaps, st.Process) {
			gaps = append(gaps, st.Process)
		}
	}
	if len(gaps) > 0 {
		fmt.Fprintf(c.stderr, "note: no socket held by supd for %s: each instance stopped before its new spawn started "+
			"(a gap: connections were refused meanwhile); a socket block and sockets = [...] make reloads seamless\n",
			strings.Join(gaps, ", "))
	}
}

// retryInterval is how often `wait` tries to reach a supd not up yet.
const retryInterval = 100 * time.Millisecond

// do sends req. For `wait`, it also waits for supd itself: while the
// socket cannot be reached, it tries again until deadline, so that
// `supd & supctl wait` works.
func (c *ActionCommand) do(ctx context.Context, req api.ActionRequest, deadline time.Time) ([]api.Status, error) {
	client := c.client()
	for {
		sts, err := client.Do(ctx, c.action, req)
		var unreachable *control.UnreachableError
		if c.action != control.ActionWait || !errors.As(err, &unreachable) || unreachable.Refused {
			return sts, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retryInterval):
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, err
		}
		req.Timeout = remaining.String()
	}
}
