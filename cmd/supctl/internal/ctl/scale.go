package ctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
	"github.com/sup-sh/sup/supervisor/signame"
)

// ScaleCommand is `supctl scale NAME N`: run N instances of a process
// until the next config reload, and (unless --no-wait) wait until the new
// ones are ready and the removed ones gone. It prints the process's
// instances and how their number compares with the file's.
type ScaleCommand struct{ env }

func (c *ScaleCommand) Run(ctx context.Context, args []string) error {
	fs := c.flags()
	timeout := c.duration("timeout", control.DefaultWaitTimeout, "give up waiting after `D` (a duration: 30s, 2m)")
	noWait := fs.Bool("no-wait", false, "return once supd has started and stopped instances, without waiting until they are ready or gone")
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return c.usageError(fmt.Errorf("want NAME and N, got %d arguments", len(pos)))
	}
	n, err := strconv.Atoi(pos[1])
	if err != nil || n < 1 {
		return c.usageError(fmt.Errorf("N = %q: give a number of instances, 1 or more (supctl stop %s stops them all)", pos[1], pos[0]))
	}
	deadline := time.Now().Add(*timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(callTimeout))
	defer cancel()
	req := api.ScaleRequest{Process: pos[0], Instances: n, Wait: !*noWait, Timeout: timeout.String()}
	sts, err := c.client().Scale(ctx, req)
	if err != nil {
		return err
	}
	if err := writeStatus(c.stdout, sts); err != nil { // with the note on the difference from the file
		return err
	}
	if len(scaledNotes(sts)) == 0 {
		_, err = fmt.Fprintf(c.stdout, "* %s: %s, as the config says\n", pos[0], api.Count(n, "instance"))
	}
	return err
}

// SignalCommand is `supctl signal SIGNAL NAME...`.
type SignalCommand struct{ env }

func (c *SignalCommand) Run(ctx context.Context, args []string) error {
	c.flags()
	pos, err := c.parse(args)
	switch {
	case err != nil:
		return err
	case len(pos) == 0:
		return c.usageError(errors.New("missing SIGNAL and NAME"))
	case len(pos) == 1:
		return c.usageError(errors.New("missing NAME (all: every process)"))
	}
	sig, err := signame.Parse(pos[0])
	if err != nil {
		return c.usageError(err)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	sts, err := c.client().Signal(ctx, api.SignalRequest{Names: pos[1:], Signal: signame.Name(sig)})
	if err != nil {
		return err
	}
	var sent []string
	for _, st := range sts {
		if st.Pid != 0 {
			sent = append(sent, fmt.Sprintf("%s (pid %d)", st.Name, st.Pid))
		}
	}
	for _, s := range sent {
		if _, err := fmt.Fprintf(c.stdout, "%s -> %s\n", signame.Name(sig), s); err != nil {
			return err
		}
	}
	return nil
}
