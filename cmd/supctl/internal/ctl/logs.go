package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
)

// LogsCommand is `supctl logs [-f] [-n N] NAME`.
type LogsCommand struct{ env }

func (c *LogsCommand) Run(ctx context.Context, args []string) error {
	fs := c.flags()
	follow := fs.Bool("f", false, "follow: print new lines as they come, until interrupted")
	n := fs.Int("n", control.DefaultLogLines, "print the last `N` lines")
	name, err := c.parseOne(args)
	switch {
	case err != nil:
		return err
	case *n < 0:
		return c.usageError(errors.New("-n must not be negative"))
	}
	if !*follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	p := &logPrinter{w: c.stdout}
	return interrupted(ctx, c.client().Logs(ctx, name, *n, *follow, p.print))
}

// logPrinter writes "NAME | line" (stderr: "NAME ! line"), names padded
// to the widest seen so far.
type logPrinter struct {
	w     io.Writer
	width int
}

func (p *logPrinter) print(l api.LogLine) error {
	p.width = max(p.width, utf8.RuneCountInString(l.Name))
	mark := "|"
	if l.Stream == "stderr" {
		mark = "!"
	}
	_, err := fmt.Fprintf(p.w, "%s %s %s\n", pad(l.Name, p.width), mark, l.Line)
	return err
}
