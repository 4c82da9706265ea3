package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sup-sh/sup/supervisor/api"
)

// EventsCommand is `supctl events [--json]`: state changes, until
// interrupted or supd stops.
type EventsCommand struct{ env }

func (c *EventsCommand) Run(ctx context.Context, args []string) error {
	asJSON := c.flags().Bool("json", false, "print one JSON object per line")
	names, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return c.usageError(fmt.Errorf("unexpected argument %q", names[0]))
	}
	emit := func(e api.Event) error { return writeEvent(c.stdout, e) }
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		emit = func(e api.Event) error { return enc.Encode(e) }
	}
	return interrupted(ctx, c.client().Events(ctx, emit))
}

// writeEvent writes "15:04:05.000 api:1 starting -> running ready", with
// the reason or last exit after a colon when there is one; a warning event
// as "15:04:05.000 api:1 warning: overloaded: …" or "… warning cleared".
func writeEvent(w io.Writer, e api.Event) error {
	var b strings.Builder
	if e.Type == api.EventWarning {
		fmt.Fprintf(&b, "%s %s warning", e.Time.Local().Format("15:04:05.000"), e.Name)
		if e.Warning == "" {
			b.WriteString(" cleared\n")
		} else {
			b.WriteString(": " + e.Warning + "\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "%s %s %s -> %s", e.Time.Local().Format("15:04:05.000"), e.Name, e.From, e.State)
	if e.Ready {
		b.WriteString(" ready")
	}
	if detail := api.Detail(e.State, e.Reason, e.ExitCode, e.ExitSignal); detail != "" {
		b.WriteString(": " + detail)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
