// Package daemon is supd's main: flags, config, logging, signals, the
// control socket, sd_notify and the HTTP endpoint, wired around a
// supervisor.Supervisor. cmd/supd only calls Main.
package daemon

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/cmd/internal/flaghelp"
	"github.com/sup-sh/sup/supervisor"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/control"
	"github.com/sup-sh/sup/supervisor/hooks"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
	"github.com/sup-sh/sup/supervisor/sockets"
	"github.com/sup-sh/sup/supervisor/version"
)

// Exit codes of supd itself (a critical process's code is passed through).
const (
	exitOK     = 0
	exitConfig = 1 // bad config, or supd could not set itself up
	exitUsage  = 2
)

// options are supd's flags.
type options struct {
	check     bool
	version   bool
	logFormat string
	logLevel  string
	paths     []string
	// nginxConfig is Options.NginxConfig of the supervisor.
	nginxConfig string
}

// parseFlags parses supd's command line. -h prints the usage on stdout
// and returns flag.ErrHelp; any other error is the one line to print (the
// usage is not repeated under it).
func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("supd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, once
	fs.Usage = func() {}
	fs.BoolVar(&o.check, "check", false, "validate the config, print the resolved processes, and exit (0 valid, 1 invalid)")
	fs.BoolVar(&o.version, "version", false, "print the version and the commit supd was built from, and exit")
	fs.StringVar(&o.logFormat, "log-format", "auto", "log `FORMAT`: json, console, or auto (console on a TTY)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn, error")
	fs.StringVar(&o.nginxConfig, "nginx-config", "", "nginx's config `PATH`, for the upstreams `supctl why` names (default: what 'nginx -T' prints, else /etc/nginx/nginx.conf; \"off\": none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "usage: supd [--check] [--log-format json|console|auto] [--log-level LEVEL] [--nginx-config PATH] [PATH...]\n"+
				"       supd --version\n\n"+
				"PATH is an HCL process file or a directory of *.hcl files; default ./sup.hcl\n\nFlags:\n")
			flaghelp.Print(stdout, fs)
			return o, err
		}
		return o, fmt.Errorf("%w (supd -h lists the flags)", flaghelp.Dashes(err))
	}
	o.paths = fs.Args()
	switch o.logFormat {
	case "auto", "json", "console":
	default:
		return o, fmt.Errorf("--log-format %q: use json, console or auto", o.logFormat)
	}
	if _, err := zerolog.ParseLevel(o.logLevel); err != nil || o.logLevel == "" {
		return o, fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel)
	}
	return o, nil
}

// Main runs supd with args (without the program name) and returns its
// exit code.
func Main(args []string, stdout, stderr *os.File) int {
	sockets.Trampoline() // returns unless supd was started to exec a child with LISTEN_PID
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "supd:", err)
		return exitUsage
	}
	if o.version {
		fmt.Fprintln(stdout, "supd", version.Read())
		return exitOK
	}
	load := func() (*config.Config, error) { return config.Load(o.paths...) }
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	if cfg.Warnings != nil {
		fmt.Fprintln(stderr, cfg.Warnings)
	}
	if o.check {
		if err := cfg.Describe(stdout); err != nil {
			fmt.Fprintln(stderr, "supd:", err)
			return exitConfig
		}
		return exitOK
	}
	out := output.NewWriter(stderr)
	defer out.Flush()
	log := newLogger(o, out, stderr)
	return run(cfg, load, o.nginxConfig, log, out, childLines(o, out, stderr))
}

func newLogger(o options, out *output.Writer, stderr *os.File) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldFormat = zerolog.DurationFormatString // timeout=30s, not timeout=30000
	level, _ := zerolog.ParseLevel(o.logLevel)
	var w io.Writer = out.Direct()
	if console(o, stderr) {
		w = zerolog.ConsoleWriter{Out: out.Direct(), TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// console reports whether supd's records, and the output lines of its
// children, are printed for a human rather than as JSON.
func console(o options, stderr *os.File) bool {
	return o.logFormat == "console" || (o.logFormat == "auto" && isatty.IsTerminal(stderr.Fd()))
}

// childLines is the supervisor's Lines option: nil (JSON records) unless
// supd prints for a human, then a console writer.
func childLines(o options, out *output.Writer, stderr *os.File) io.Writer {
	if !console(o, stderr) {
		return nil
	}
	return perLine{zerolog.ConsoleWriter{Out: out.Direct(), TimeFormat: "15:04:05.000",
		PartsOrder:    []string{zerolog.TimestampFieldName, "process", "instance", "stream", zerolog.MessageFieldName},
		FieldsExclude: []string{"process", "instance", "stream"}}}
}

// perLine hands w one line at a time: a zerolog.ConsoleWriter formats
// one record per Write, and child output comes in batches of records.
type perLine struct{ w io.Writer }

func (p perLine) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		if _, err := p.w.Write(line); err != nil {
			return n - len(b), err
		}
		b = rest
	}
	return n, nil
}

// run supervises cfg until a stop signal or a critical process ends.
func run(cfg *config.Config, load func() (*config.Config, error), nginxConfig string, log zerolog.Logger, out *output.Writer, lines io.Writer) int {
	if err := closeOnExecInherited(); err != nil {
		log.Warn().Err(err).Msg("fds supd inherited may leak into its children")
	}
	if err := reaper.BecomeSubreaper(); err != nil {
		log.Warn().Err(err).Msg("orphaned grandchildren will not be reaped by supd")
	}
	held := sockets.NewSet()
	defer held.Close() // after every child is gone: sup.Run has returned
	if err := held.Apply(cfg); err != nil {
		fmt.Fprintln(out.Direct(), err)
		log.Error().Msg("cannot bind the sockets of the config; nothing started")
		return exitConfig
	}
	// A reload binds the sockets of the new config before the supervisor
	// sees it: a socket that cannot be bound fails the reload, and nothing
	// changes.
	load = bindOnLoad(load, held)
	ln, err := control.ListenWith(cfg.Supervisor.Socket, control.Access{
		Mode: cfg.Supervisor.SocketMode, Group: cfg.Supervisor.SocketGroup, GID: cfg.Supervisor.SocketGID,
	})
	if err != nil {
		log.Error().Err(err).Msg("cannot open the control socket; nothing started")
		return exitConfig
	}
	cgroups := openContainment(cfg.Supervisor.Socket, log)
	defer func() { closeContainment(cgroups, log) }() // when nothing was started

	notifier := newNotifier(log)
	release := newReleaser(log)
	// The HTTP endpoint reads sup, and sup reports ready times to it: it is
	// built from sup below, before sup.Run makes the first report.
	var ep *endpoint
	var hookRunner *hooks.Runner // set before sup.Run, which calls load and OnEvent
	loadWithHooks := func() (*config.Config, error) {
		cfg, err := load()
		if err == nil {
			hookRunner.SetHooks(cfg.Hooks)
			if cfg.Warnings != nil {
				log.Warn().Str("warnings", cfg.Warnings.Error()).Msg("the reloaded config has warnings")
			}
		}
		return cfg, err
	}
	sup := supervisor.New(cfg, supervisor.Options{
		Log: log, Output: out, Lines: lines, Reload: loadWithHooks,
		OnEvent: func(ev supervisor.Event) {
			if he, ok := hookEvent(ev); ok {
				hookRunner.Fire(he) // never blocks
			}
			switch ev.Kind {
			case supervisor.EventSummary:
				notifier.summary(ev.Summary)
				release.summary(ev.Summary)
			case supervisor.EventReloadBegin:
				notifier.reload(true)
			case supervisor.EventReloadEnd:
				notifier.reload(false)
				release.request()
			case supervisor.EventReady:
				ep.observeReady(ev.Process, ev.Instance, ev.ReadyAfter)
			case supervisor.EventRemoved:
				ep.forget(ev.Process)
			}
		},
		Sockets:     held,
		Supd:        "/proc/self/exe", // supd's own binary in the forked child, even once replaced on disk
		Cgroups:     cgroups,
		NginxConfig: nginxConfig,
	})

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ep, err = startEndpoint(ctx, cfg.Supervisor.HTTP, sup, log)
	if err != nil {
		ln.Close() // removes the control socket file
		log.Error().Err(err).Msg("cannot open the HTTP endpoint; nothing started")
		return exitConfig
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, handledSignals...)
	defer signal.Stop(signals)
	resetIgnoredSignals() // children start with default dispositions

	runCtx, shutdown := context.WithCancel(ctx)
	srv := &control.Server{Backend: sup, Log: log.With().Str("component", "control").Logger()}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error().Err(err).Msg("control socket failed")
		}
	}()
	go notifier.watchdog(ctx, sup)
	go sup.WatchQueues(ctx, queueWatchInterval)
	go release.run(ctx)
	go held.Run(ctx, time.Second, func(err error) { log.Warn().Err(err).Msg("sockets of an earlier config") })
	hookRunner = newHooks(ctx, cfg, sup, log)
	go handleSignals(ctx, signals, sup, shutdown, log)

	log.Info().Str("socket", cfg.Supervisor.Socket).Int("processes", len(cfg.Processes)).Int("pid", os.Getpid()).Msg("supd started")
	code := sup.Run(runCtx)
	// Nothing supd started is left once it exits; and that is done while
	// it still holds the socket, the key of its cgroup.
	closeContainment(cgroups, log)
	cgroups = nil
	stop()
	// Serve closes the listener, which removes the socket file: supd must
	// not exit before, or the next supctl finds a dead socket.
	<-served
	if err := output.CloseFiles(); err != nil {
		log.Warn().Err(err).Msg("closing log files")
	}
	ep.wait()
	return code
}

// queueWatchInterval is how often supd looks for full accept queues, to
// send a warning event (supervisor.WatchQueues).
const queueWatchInterval = time.Second

// handledSignals are caught so that supd decides: stop, reload, forward,
// or ignore. Catching (instead of ignoring) SIGPIPE and the job-control
// signals matters: children of a Go program get caught signals reset to
// their defaults, but inherit ignored ones.
var handledSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH,
	syscall.SIGPIPE, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU,
}

func handleSignals(ctx context.Context, signals <-chan os.Signal, sup *supervisor.Supervisor, shutdown func(), log zerolog.Logger) {
	stopping := false
	for {
		var sig os.Signal
		select {
		case <-ctx.Done():
			return
		case sig = <-signals:
		}
		switch sig {
		case syscall.SIGTERM, syscall.SIGINT:
			if stopping {
				log.Warn().Str("signal", sig.String()).Msg("already stopping; waiting for processes to exit (SIGKILL after shutdown_timeout)")
				continue
			}
			stopping = true
			shutdown()
		case syscall.SIGHUP:
			go reload(ctx, sup, log)
		case syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH:
			sup.Signal(sig.(syscall.Signal))
		default:
			// SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU: never stop or kill supd.
			log.Debug().Str("signal", sig.String()).Msg("ignored")
		}
	}
}

func reload(ctx context.Context, sup *supervisor.Supervisor, log zerolog.Logger) {
	_, err := sup.Reload(ctx, nil, false)
	var rerr *api.ReloadError
	switch {
	case errors.As(err, &rerr):
		log.Error().Msg("reload refused, nothing changed:\n" + strings.TrimRight(rerr.Diagnostics, "\n"))
	case err != nil:
		log.Error().Err(err).Msg("reload")
	}
}

// bindOnLoad wraps a config loader so that every config it returns has its
// sockets bound in held (sockets.Set.Apply); a bind failure is a config
// error at the socket's attribute. Whatever may refuse a config must be
// checked before this: Apply retires the sockets the config drops.
func bindOnLoad(load func() (*config.Config, error), held *sockets.Set) func() (*config.Config, error) {
	return func() (*config.Config, error) {
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		if err := held.Apply(cfg); err != nil {
			return nil, err
		}
		return cfg, nil
	}
}
