// Package ctl is supctl, the control CLI of supd. Each command is a type
// with Run(ctx, args) error; Main parses the global flags and dispatches
// to them; ExitCode maps their errors to supctl's exit codes. Nothing
// here calls os.Exit or reads the process's globals: Main is given its
// outputs and environment.
package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/sup-sh/sup/cmd/internal/flaghelp"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
	"github.com/sup-sh/sup/supervisor/didyoumean"
	"github.com/sup-sh/sup/supervisor/version"
)

// Exit codes of supctl.
const (
	ExitOK          = 0 // success
	ExitFailed      = 1 // the action failed, or the answer is "no" (why: not ready)
	ExitUsage       = 2 // the command line is wrong
	ExitUnreachable = 3 // cannot reach supd
)

// ExitCode is the exit code of supctl for the error err returned by
// Main.Run or a command.
func ExitCode(err error) int {
	var (
		usage       *UsageError
		unreachable *control.UnreachableError
		remote      *control.RemoteError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	case errors.As(err, &unreachable):
		return ExitUnreachable
	case errors.As(err, &remote) && (remote.StatusCode == http.StatusNotFound || remote.StatusCode == http.StatusBadRequest):
		return ExitUsage // an unknown NAME, or a request supd cannot make sense of
	}
	return ExitFailed
}

// UsageError is a command line supctl does not understand.
type UsageError struct {
	Err   error
	Usage string // the usage text of the command, to show with the error
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Main is supctl's command line.
type Main struct {
	Stdin  io.Reader           // keys of top; os.Stdin when nil
	Stdout io.Writer           // results
	Stderr io.Writer           // diagnostics of a failed reload
	Getenv func(string) string // os.Getenv when nil
}

// Run runs the command line args (without the program name):
// [--socket PATH] COMMAND [ARGS], where --socket may also come after
// COMMAND. Help goes to Stdout and returns nil.
func (m *Main) Run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("supctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", m.defaultSocket(), "")
	showVersion := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, err := io.WriteString(m.Stdout, m.usage())
			return err
		}
		return &UsageError{Err: flaghelp.Dashes(err), Usage: m.usage()}
	}
	args = fs.Args()
	if *showVersion {
		_, err := fmt.Fprintln(m.Stdout, "supctl", version.Read())
		return err
	}
	if len(args) == 0 {
		return &UsageError{Err: errors.New("missing command"), Usage: m.usage()}
	}
	name, args := args[0], args[1:]
	if name == "help" {
		return m.help(ctx, args)
	}
	info, err := m.command(name)
	if err != nil {
		return err
	}
	err = info.new(env{stdin: m.Stdin, stdout: m.Stdout, stderr: m.Stderr, socket: *socket, info: info}).Run(ctx, args)
	var unreachable *control.UnreachableError
	switch {
	case errors.Is(err, flag.ErrHelp): // the command printed its usage
		return nil
	case errors.As(err, &unreachable):
		return err // it says what is at the socket path, and what to do
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return errors.New("interrupted")
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("supd did not answer in time: %w", err)
	}
	return err
}

// help is `supctl help [COMMAND]`.
func (m *Main) help(ctx context.Context, args []string) error {
	if len(args) == 0 {
		_, err := io.WriteString(m.Stdout, m.usage())
		return err
	}
	info, err := m.command(args[0])
	if err != nil {
		return err
	}
	// A command asked for its help prints its usage.
	return m.Run(ctx, []string{info.name, "-h"})
}

// command looks up a command by name; an unknown one is a usage error
// that suggests the closest command.
func (m *Main) command(name string) (*commandInfo, error) {
	if info := lookup(name); info != nil {
		return info, nil
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	if guess := didyoumean.Closest(name, names); guess != "" {
		return nil, &UsageError{Err: fmt.Errorf("unknown command %q; did you mean %q?", name, guess), Usage: m.usage()}
	}
	return nil, &UsageError{Err: fmt.Errorf("unknown command %q", name), Usage: m.usage()}
}

// defaultSocket is $SUPD_SOCKET, else the default control socket path.
func (m *Main) defaultSocket() string {
	getenv := m.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("SUPD_SOCKET"); p != "" {
		return p
	}
	return api.DefaultSocketPath()
}

func (m *Main) usage() string {
	var b strings.Builder
	b.WriteString("usage: supctl [--socket PATH] COMMAND [ARGS]\n       supctl --version\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-11s %s\n", c.name, c.args)
	}
	fmt.Fprintf(&b, `
NAME is a process (all its instances), one instance, as api:2, or all
(every process); an unknown NAME is a usage error (exit 2). Durations
take a unit: 30s, 2m, 1m30s.
Run 'supctl COMMAND -h' for the details of a command.

The control socket is --socket PATH (before or after COMMAND), else
$SUPD_SOCKET, else %s.

Exit codes: 0 success, 1 the action failed, 2 usage error, 3 cannot reach supd.
`, api.DefaultSocketPath())
	return b.String()
}
