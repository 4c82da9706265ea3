package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
)

// LogsCommand is `supctl logs [-f] [-n N] [--since D] NAME`.
type LogsCommand struct{ env }

func (c *LogsCommand) Run(ctx context.Context, args []string) error {
	fs := c.flags()
	follow := fs.Bool("f", false, "follow: print new lines as they come, until interrupted")
	n := fs.Int("n", control.DefaultLogLines, "print the last `N` lines")
	since := fs.Duration("since", 0, "print the lines of the last `D` (e.g. 10m), all of them unless -n is given")
	name, err := c.parseOne(args)
	switch {
	case err != nil:
		return err
	case *n < 0:
		return c.usageError(errors.New("-n must not be negative"))
	case *since < 0:
		return c.usageError(errors.New("--since must not be negative"))
	}
	var from time.Time
	if *since > 0 {
		from = time.Now().Add(-*since)
		if !flagSet(fs, "n") {
			*n = -1 // every line since then
		}
	}
	if !*follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	p := &logPrinter{w: c.stdout}
	return interrupted(ctx, c.client().Logs(ctx, name, *n, from, *follow, p.print))
}

// flagSet reports whether the flag called name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// logTime is how supctl logs shows when a line was read: local time, to
// the millisecond, RFC 3339.
const logTime = "2006-01-02T15:04:05.000Z07:00"

// logPrinter writes "TIME NAME | line" (stderr: "TIME NAME ! line"),
// names padded to the widest seen so far; a line without a time (from a
// log file without timestamps) has none. A marker of missed lines is
// "TIME NAME ~ N lines missed (...)".
type logPrinter struct {
	w     io.Writer
	width int
	buf   []byte
}

func (p *logPrinter) print(l api.LogLine) error {
	p.width = max(p.width, utf8.RuneCountInString(l.Name))
	b := p.buf[:0]
	if !l.Time.IsZero() {
		b = append(l.Time.Local().AppendFormat(b, logTime), ' ')
	}
	b = append(b, pad(l.Name, p.width)...)
	switch {
	case l.Missed > 0:
		b = fmt.Appendf(b, " ~ %d lines missed (this reader fell behind; they are in the log file, if the process has one)", l.Missed)
	case l.Stream == "stderr":
		b = append(append(b, " ! "...), l.Line...)
	default:
		b = append(append(b, " | "...), l.Line...)
	}
	p.buf = append(b, '\n')
	_, err := p.w.Write(p.buf)
	return err
}
