package config

import (
	"fmt"
	"github.com/sup-sh/sup/supervisor/reaper"
	"io"
	"strconv"
	"strings"

	"github.com/sup-sh/sup/supervisor/bytesize"
)

// Describe prints the resolved configuration, as `supd --check` shows it:
// the supervisor settings, the sockets, then per process a header and, for
// each instance, one line per block of the process file (command, ready,
// health, restart, stop, log…) with every setting resolved ("-" when
// unset, defaults filled in, env values left out), the hooks and the start
// order.
func (c *Config) Describe(w io.Writer) error {
	var b strings.Builder
	s := c.Supervisor
	fmt.Fprintf(&b, "supervisor  socket=%s socket_mode=%04o socket_group=%s http=%s shutdown_timeout=%s\n",
		word(s.Socket), uint32(s.SocketMode), word(s.SocketGroup), word(s.HTTP), s.ShutdownTimeout)
	for _, so := range c.Sockets {
		fmt.Fprintf(&b, "socket %s  %s %s%s\n", so.Name, so.Network, word(so.Address), socketOptions(so))
	}
	for _, p := range c.Processes {
		fmt.Fprintf(&b, "\nprocess %s (%s) instances=%d\n", p.Name, position(p.Range), len(p.Instances))
		for _, spec := range p.Instances {
			describeSpec(&b, spec)
		}
	}
	if len(c.Hooks) > 0 {
		b.WriteString("\n")
	}
	for _, h := range c.Hooks {
		procs := "*"
		if h.Processes != nil {
			procs = list(h.Processes)
		}
		fmt.Fprintf(&b, "hook %s  command=%s url=%s processes=%s timeout=%s\n", h.Event, c.source(h), word(h.URL), procs, h.Timeout)
	}
	fmt.Fprintf(&b, "\nstart order: %s\n", strings.Join(c.Order, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}

// describeSpec writes an instance: its name, then a line per block.
func describeSpec(b *strings.Builder, s *Spec) {
	fmt.Fprintf(b, "  %s\n", s.Name)
	for _, l := range [][]string{
		{"command", quoted(s.Command), "type=" + string(s.Type)},
		{"dir", word(s.Dir), "user=" + word(s.User), "env=" + list(envKeys(s.Env)), "env_file=" + list(words(s.EnvFiles))},
		{"depends_on", list(s.DependsOn), "sockets=" + list(s.Sockets), "critical=" + strconv.FormatBool(s.Critical)},
		{"ready", list(readyChecks(s)), "timeout=" + s.Ready.Timeout.String()},
		{"health", list(healthChecks(s.Health)), "interval=" + s.Health.Interval.String(), "failures=" + strconv.Itoa(s.Health.Failures)},
		{"restart", string(s.Restart.Policy), "backoff=" + s.Restart.Backoff.String(), "max_backoff=" + s.Restart.MaxBackoff.String(),
			"reset_after=" + s.Restart.ResetAfter.String(), "max_restarts=" + strconv.Itoa(s.Restart.MaxRestarts), "window=" + s.Restart.Window.String()},
		{"stop", reaper.SignalName(s.Stop.Signal), "timeout=" + s.Stop.Timeout.String(), "drain=" + s.Stop.Drain.String()},
		{"log", "file=" + word(s.Log.File), "max_size=" + bytesize.Format(s.Log.MaxSize), "max_files=" + strconv.Itoa(s.Log.MaxFiles),
			"timestamps=" + strconv.FormatBool(s.Log.Timestamps), "supd_stream=" + strconv.FormatBool(s.Log.SupdStream)},
	} {
		fmt.Fprintf(b, "    %-11s %s\n", l[0], strings.Join(l[1:], " "))
	}
}

// readyChecks lists the readiness checks; with none, what ready means.
func readyChecks(s *Spec) []string {
	r := s.Ready
	checks := present(
		option{r.TCP != "", "tcp=" + r.TCP},
		option{r.Unix != "", "unix=" + word(r.Unix)},
		option{r.HTTP != "", "http=" + r.HTTP},
		option{len(r.Exec) > 0, "exec=" + quoted(r.Exec)},
		option{r.Notify, "notify"},
		option{r.NotificationFD != 0, "notification_fd=" + strconv.Itoa(r.NotificationFD)},
		option{r.Log != nil, "log=" + regexpString(r)},
	)
	for _, h := range r.Accepting {
		checks = append(checks, "accepting:"+h.Network+":"+h.Address)
	}
	switch {
	case len(checks) > 0:
		return checks
	case s.Type == Oneshot:
		return []string{"exited-0"}
	}
	return []string{"spawned"}
}

func regexpString(r Ready) string {
	if r.Log == nil {
		return ""
	}
	return strconv.Quote(r.Log.String())
}

func healthChecks(h Health) []string {
	return present(
		option{h.HTTP != "", "http=" + h.HTTP},
		option{h.TCP != "", "tcp=" + h.TCP},
		option{len(h.Exec) > 0, "exec=" + quoted(h.Exec)},
		option{h.MaxMemory > 0, "max_memory=" + bytesize.Format(h.MaxMemory)},
	)
}

// option is a setting printed only when it is set.
type option struct {
	set  bool
	text string
}

func present(opts ...option) []string {
	var out []string
	for _, o := range opts {
		if o.set {
			out = append(out, o.text)
		}
	}
	return out
}

func envKeys(env []string) []string {
	keys := make([]string, len(env))
	for i, kv := range env {
		keys[i], _, _ = strings.Cut(kv, "=")
	}
	return keys
}

// word prints a value as one word: "-" when empty, quoted when it has
// spaces or quotes.
func word(s string) string {
	if s == "" {
		return "-"
	}
	if strings.ContainsAny(s, " \t\n\"'[]") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}

// words prints each of items as a word.
func words(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = word(s)
	}
	return out
}

// list prints names as [a b c].
func list(items []string) string {
	return "[" + strings.Join(items, " ") + "]"
}

// quoted prints an argv as ["./api" "--port" "3000"].
func quoted(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return list(q)
}

// source is a hook command as written in the file.
func (c *Config) source(h *Hook) string {
	if h.Command == nil {
		return "-"
	}
	rng := h.Command.Range()
	if f := c.files[rng.Filename]; f != nil {
		return strings.Join(strings.Fields(string(rng.SliceBytes(f.Bytes))), " ")
	}
	return "-"
}
