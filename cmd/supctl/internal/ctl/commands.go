package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sup-sh/sup/cmd/internal/flaghelp"
	"github.com/sup-sh/sup/supervisor/control"
)

// callTimeout bounds a call that does not wait for anything (status,
// why, logs without -f); a wait is bounded by its --timeout plus this.
const callTimeout = 30 * time.Second

// runner is a command.
type runner interface {
	Run(ctx context.Context, args []string) error
}

// commandInfo describes a command for dispatch and help.
type commandInfo struct {
	name string
	args string // synopsis after the name
	help string // what it does
	new  func(env) runner
}

func actionCommand(a control.Action) func(env) runner {
	return func(e env) runner { return &ActionCommand{env: e, action: a} }
}

var commands = []*commandInfo{
	{"status", "[NAME...] [--json]", `Show the process instances: state, readiness, pid, uptime, restarts, what
they listen on, CPU, memory and last exit. An instance that is not ready
has the reason on the line below it. --json prints a JSON array, one
object per instance.`,
		func(e env) runner { return &StatusCommand{env: e} }},
	{"start", "NAME... [--no-wait] [--timeout D]", `Start processes and wait until they are ready.`,
		actionCommand(control.ActionStart)},
	{"stop", "NAME... [--no-wait] [--timeout D]", `Stop processes and wait until they are down.`,
		actionCommand(control.ActionStop)},
	{"restart", "NAME... [--no-wait] [--timeout D]", `Restart processes and wait until the new instances are ready.`,
		actionCommand(control.ActionRestart)},
	{"reload", "[--allow-empty] [NAME...] [--no-wait] [--timeout D]", `Restart the named processes one instance at a time, without downtime, and
wait until they are ready. With no NAME, re-read the config (as SIGHUP
to supd does) and apply the difference: start added processes, stop
removed ones, roll changed ones. A bad config changes nothing: its errors
are printed and supctl exits 1.`,
		actionCommand(control.ActionReload)},
	{"wait", "[--timeout D] [NAME...]", `Wait until processes are ready: with no NAME, every process except those
stopped by request. Until supd's socket answers (supd & supctl wait),
keep trying to reach it.`,
		actionCommand(control.ActionWait)},
	{"logs", "[-f] [-n N] [--since D] NAME", `Print the recent output of a process (all its instances, in time order) or
an instance, as "TIME NAME | line" (stderr: "NAME ! line"), TIME being when
supd read the line. With a log file, lines older than the in-memory buffer
are read back from it. --since 10m: only lines of the last 10 minutes (all
of them unless -n is given). all: every process, interleaved. -f follows until interrupted, across log
rotation; a follower that falls behind gets a line saying how many lines it
missed, never a silent gap.`,
		func(e env) runner { return &LogsCommand{env: e} }},
	{"scale", "NAME N [--no-wait] [--timeout D]", `Run N instances of a process until the next config reload (which goes
back to the file's number). New instances are evaluated from the file
with their own instance number (their command, ports and ready checks),
started, and waited for until ready; scaling down stops the highest
instances. status shows the difference from the file.`,
		func(e env) runner { return &ScaleCommand{env: e} }},
	{"signal", "SIGNAL NAME...", `Send a signal to the process trees of the named processes or instances
(all: every process): SIGHUP, HUP or hup, as kill -l lists them; numbers
are refused (they differ between systems). Instances without a process
are skipped; it fails when none of them has one.`,
		func(e env) runner { return &SignalCommand{env: e} }},
	{"top", "", `A live full-screen view: the status table (CPU, memory, restarts,
readiness, reasons), updated as events come, and the last output lines
of the selected process. Keys: up/down select, r restart, s stop, S
start, l follow its logs full-screen, q quit.`,
		func(e env) runner { return &TopCommand{env: e} }},
	{"why", "NAME [--json]", `Answer the 502 checklist for a process or instance: is it running, what
does it listen on, is that what the config says, who holds the configured
address if not it, its last exit and last output lines, its last probe;
then its accept queues, a connect from supd to each configured address,
its Unix socket files (mode, owner, stale, nginx's access) and nginx's
upstreams that point at it. Exits 1 when it is not ready.`,
		func(e env) runner { return &WhyCommand{env: e} }},
	{"check-proxy", "[--json] [FILE]", `Check nginx's upstreams against what really listens: every upstream server,
proxy_pass, fastcgi_pass, uwsgi_pass, scgi_pass and grpc_pass of FILE and
the files it includes (default: what 'nginx -T' prints, else
/etc/nginx/nginx.conf), one row each: where it is configured, the
supervised process serving it, and the verdict (ok, not ready, nobody
listening, held by another process, listens elsewhere, socket not
accessible to nginx's user, overloaded). Exits 0 when every target is ok,
1 otherwise.`,
		func(e env) runner { return &CheckProxyCommand{env: e} }},
	{"events", "[--json]", `Stream state changes until interrupted. --json prints one JSON object per
line.`,
		func(e env) runner { return &EventsCommand{env: e} }},
	{"completion", "bash|zsh|fish", `Print a shell completion script: commands, flags, and process names
(asked of supd as you type). bash: source <(supctl completion bash);
zsh: source <(supctl completion zsh); fish: supctl completion fish |
source.`,
		func(e env) runner { return &CompletionCommand{env: e} }},
}

// hiddenCommands work but are not listed in the help: they serve scripts.
var hiddenCommands = []*commandInfo{
	{"names", "", `Print every process and instance name, and all, one a line (for
completion scripts; nothing when supd cannot be reached).`,
		func(e env) runner { return &NamesCommand{env: e} }},
}

// durationFlag is a --timeout: a Go duration, positive. A bare number is
// refused with the likely meaning ("5": did you mean 5s?), not read as
// nanoseconds or rejected as a parse error.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := parseDuration(s)
	if err == nil {
		*f.d = d
	}
	return err
}

// parseDuration reads a positive Go duration such as "30s" or "1m30s".
func parseDuration(s string) (time.Duration, error) {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit: did you mean %ss?", s, s)
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration: use a number with a unit, such as 30s, 2m or 1m30s", s)
	case d <= 0:
		return 0, fmt.Errorf("%q: use a positive duration, such as 30s", s)
	}
	return d, nil
}

// duration defines a --NAME duration flag with that default.
func (e *env) duration(name string, def time.Duration, usage string) *time.Duration {
	d := def
	e.fs.Var(durationFlag{&d}, name, usage)
	return &d
}

func lookup(name string) *commandInfo {
	for _, c := range append(commands, hiddenCommands...) {
		if c.name == name {
			return c
		}
	}
	return nil
}

// env is what every command is given: where to write, how to reach supd
// and how to explain itself. Commands embed it.
type env struct {
	stdin          io.Reader // nil: os.Stdin
	stdout, stderr io.Writer
	socket         string // the default; the command's --socket overrides it
	info           *commandInfo
	fs             *flag.FlagSet // set by flags
}

// flags returns the command's flag set, --socket already defined.
func (e *env) flags() *flag.FlagSet {
	e.fs = flag.NewFlagSet("supctl "+e.info.name, flag.ContinueOnError)
	e.fs.SetOutput(io.Discard) // errors are returned, help is printed by parse
	e.fs.StringVar(&e.socket, "socket", e.socket, "control socket `PATH` of supd")
	return e.fs
}

// parse parses args with the flag set of flags. Flags may come before,
// among or after the positional arguments, which it returns; "--" ends
// the flags. -h prints the usage and returns flag.ErrHelp.
func (e *env) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := e.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				if _, werr := io.WriteString(e.stdout, e.usage()); werr != nil {
					return nil, werr
				}
				return nil, err
			}
			return nil, e.usageError(flaghelp.Dashes(err))
		}
		rest := e.fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// parseOne parses args that must hold exactly one NAME.
func (e *env) parseOne(args []string) (string, error) {
	names, err := e.parse(args)
	switch {
	case err != nil:
		return "", err
	case len(names) == 0:
		return "", e.usageError(errors.New("missing NAME"))
	case len(names) > 1:
		return "", e.usageError(fmt.Errorf("one NAME only, got %d", len(names)))
	}
	return names[0], nil
}

func (e *env) usageError(err error) error {
	return &UsageError{Err: err, Usage: e.usage()}
}

func (e *env) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: supctl %s %s\n\n%s\n\nFlags:\n", e.info.name, e.info.args, e.info.help)
	flaghelp.Print(&b, e.fs) // a strings.Builder does not fail
	return b.String()
}

func (e *env) client() *control.Client {
	return control.NewClient(e.socket)
}

// interrupted maps the end of a stream the user asked for (ctx done:
// Ctrl-C) to success.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}
