package ctl

import (
	"context"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/sup-sh/sup/supervisor/api"
)

// WhyCommand is `supctl why NAME [--json]`: the 502 checklist. It fails
// (exit 1) when NAME is not ready.
type WhyCommand struct{ env }

func (c *WhyCommand) Run(ctx context.Context, args []string) error {
	asJSON := c.flags().Bool("json", false, "print the answer as JSON")
	name, err := c.parseOne(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	why, err := c.client().Why(ctx, name)
	if err != nil {
		return err
	}
	if *asJSON {
		err = writeJSON(c.stdout, why)
	} else {
		err = writeWhy(c.stdout, why)
	}
	if err == nil && !why.Status.Ready {
		err = fmt.Errorf("%s is not ready", why.Status.Name)
	}
	return err
}

// writeWhy renders the checklist:
//
//	api:1  running, ready
//	  ✓ running        pid 4242, up 3m12s, 1 restart
//	  ✗ listening      on 127.0.0.1:3001 — config says 127.0.0.1:3000
//	  last exit        exited 1 at 12:01:02 after 2.1s
//	    | Error: listen EADDRINUSE ...
//	  last probe       tcp 127.0.0.1:3000: connection refused
//
// The last exit and the last probe get a line of their own unless a check
// already says the same; the last output lines go below the last exit.
func writeWhy(w io.Writer, why api.Why) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s\n", why.Status.Name, stateSummary(why.Status))
	width := 14
	for _, c := range why.Checks {
		width = max(width, utf8.RuneCountInString(c.Question)+1)
	}
	lastLines := func() {
		for _, l := range why.LastLines {
			fmt.Fprintf(&b, "    | %s\n", l.Line)
		}
	}
	exitShown, probeShown := false, false
	for _, c := range why.Checks {
		mark := "✗"
		if c.OK {
			mark = "✓"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", mark, pad(c.Question, width), c.Answer)
		if why.LastExit != "" && c.Answer == why.LastExit && !exitShown {
			exitShown = true
			lastLines()
		}
		probeShown = probeShown || c.Answer == why.Probe
	}
	// Labels start where the marks do.
	label := func(name, value string) {
		fmt.Fprintln(&b, strings.TrimRight("  "+pad(name, width+2)+" "+value, " "))
	}
	switch {
	case exitShown:
	case why.LastExit != "":
		label("last exit", why.LastExit)
		lastLines()
	case len(why.LastLines) > 0:
		label("recent output", "")
		lastLines()
	}
	if why.Probe != "" && !probeShown {
		label("last probe", why.Probe)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// stateSummary is "running, ready" or "starting, not ready: REASON".
func stateSummary(st api.Status) string {
	if st.Ready {
		return st.State + ", ready"
	}
	if st.Reason == "" {
		return st.State + ", not ready"
	}
	return st.State + ", not ready: " + st.Reason
}
