package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultSocketPath is the control socket when the file sets none:
// /run/supd.sock for root, else $XDG_RUNTIME_DIR/supd.sock, else
// /tmp/supd-$UID.sock.
func DefaultSocketPath() string {
	return defaultSocketPath(os.Geteuid(), os.Getuid(), os.Getenv("XDG_RUNTIME_DIR"))
}

func defaultSocketPath(euid, uid int, runtimeDir string) string {
	switch {
	case euid == 0:
		return "/run/supd.sock"
	case runtimeDir != "":
		return filepath.Join(runtimeDir, "supd.sock")
	}
	return fmt.Sprintf("/tmp/supd-%d.sock", uid)
}

// Describe prints the resolved configuration, as `supd --check` shows it:
// the supervisor settings, the sockets, a header per process and one line
// per instance with every setting as key=value ("-" when unset), the hooks,
// the dependency order and what is not active yet. Lines start with a
// keyword (supervisor, socket, process, an instance name, hook, order), so
// they can be grepped.
func (c *Config) Describe(w io.Writer) error {
	var b strings.Builder
	s := c.Supervisor
	fmt.Fprintf(&b, "supervisor socket=%s http=%s shutdown_timeout=%s\n", word(s.Socket), word(s.HTTP), s.ShutdownTimeout)
	for _, so := range c.Sockets {
		fmt.Fprintf(&b, "socket %s %s %s\n", so.Name, so.Network, word(so.Address))
	}
	for _, p := range c.Processes {
		fmt.Fprintf(&b, "process %s (%s) instances=%d\n", p.Name, position(p.Range), len(p.Instances))
		for _, spec := range p.Instances {
			fmt.Fprintf(&b, "  %s\n", describeSpec(spec))
		}
	}
	for _, h := range c.Hooks {
		fmt.Fprintf(&b, "hook %s command=%s\n", h.Event, c.source(h))
	}
	fmt.Fprintf(&b, "order=%s\n", list(c.Order))
	if lines := c.Inactive(); len(lines) > 0 {
		b.WriteString("not active yet (validated, ignored by this version):\n")
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// describeSpec is the one line of an instance.
func describeSpec(s *Spec) string {
	fields := []string{
		s.Name,
		"type=" + string(s.Type),
		"command=" + quoted(s.Command),
		"dir=" + word(s.Dir),
		"env=" + list(envKeys(s.Env)),
		"user=" + word(s.User),
		"depends_on=" + list(s.DependsOn),
		"sockets=" + list(s.Sockets),
		"ready=" + list(readyChecks(s)),
		"ready_timeout=" + s.Ready.Timeout.String(),
		"health=" + list(healthChecks(s.Health)),
		"health_interval=" + s.Health.Interval.String(),
		"health_failures=" + strconv.Itoa(s.Health.Failures),
		"restart=" + string(s.Restart.Policy),
		"backoff=" + s.Restart.Backoff.String(),
		"max_backoff=" + s.Restart.MaxBackoff.String(),
		"reset_after=" + s.Restart.ResetAfter.String(),
		"max_restarts=" + strconv.Itoa(s.Restart.MaxRestarts),
		"window=" + s.Restart.Window.String(),
		"stop_signal=" + signalName(s.Stop.Signal),
		"stop_timeout=" + s.Stop.Timeout.String(),
		"drain=" + s.Stop.Drain.String(),
		"log_file=" + word(s.Log.File),
		"log_max_size=" + formatSize(s.Log.MaxSize),
		"log_max_files=" + strconv.Itoa(s.Log.MaxFiles),
		"critical=" + strconv.FormatBool(s.Critical),
	}
	return strings.Join(fields, " ")
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
		option{h.MaxMemory > 0, "max_memory=" + formatSize(h.MaxMemory)},
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
	rng := h.Command.Range()
	if f := c.files[rng.Filename]; f != nil {
		return strings.Join(strings.Fields(string(rng.SliceBytes(f.Bytes))), " ")
	}
	return "-"
}
