// Package hooks runs the `hook "EVENT" { command, url }` blocks of the
// config when a process crashes, goes fatal, becomes ready or stops being
// ready.
//
// Fire is the one entry point and never blocks: events are queued (a full
// queue drops the event, counted and logged) and a Runner's own goroutine
// (Run) decides and starts the hook runs, each on a goroutine of its own,
// so a hook that sleeps delays nothing, not even the other hooks.
//
// A command runs in its own process group, started through the reaper
// (the one owner of wait4 in supd), with the SUP_* environment and the
// last output lines of the process on its stdin; its output lines go to
// supd's log; after the hook's timeout its whole group is killed. A url
// gets the same as a JSON object by POST. A failing or timed-out run is
// logged.
//
// While a process crash-loops, a hook runs at most once per process per
// Window: the events in between are counted, and the run at the end of
// the window stands for them (SUP_COUNT, "count").
package hooks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/reaper"
	"golang.org/x/sys/unix"
)

// Kind is what happened: the event a hook block names.
type Kind string

// The kinds of events, as hook blocks name them.
const (
	Crash   Kind = "crash"   // a service exited without being asked to
	Fatal   Kind = "fatal"   // supd gave up on it
	Ready   Kind = "ready"   // a spawn became ready
	Unready Kind = "unready" // was ready, no longer is
)

// Event is one occurrence that hooks may fire on.
type Event struct {
	Kind       Kind
	Time       time.Time
	Name       string // "api" or "api:2"
	Process    string
	Instance   int
	State      string // the instance's state after the event
	Pid        int    // of the spawn concerned; 0 when none
	ExitCode   *int   // of the last exit; nil when none or killed by a signal
	ExitSignal *string
	Restarts   int
	Reason     string
}

// Starter starts a command and calls onExit once when it exits: the reaper
// (reaper.Reaper.Start), never exec.Cmd.Wait, which would race it.
type Starter interface {
	Start(cmd *exec.Cmd, onExit func(reaper.Exit)) (int, error)
}

// Options configure a Runner.
type Options struct {
	Log     zerolog.Logger // supd's log: hook output and failures
	Starter Starter
	// Env is the environment hook commands start from (supd's own, minus
	// what children must not inherit); the SUP_* variables are added.
	Env []string
	// LastLines returns the last output lines of an instance, for a
	// command's stdin and a url's "lines". Nil: none. Called from the
	// Runner's goroutines, never from Fire.
	LastLines func(name string) []string
	// Window is the rate limit: at most one run of a hook per process per
	// Window. Zero: DefaultWindow.
	Window time.Duration
	// Client posts to urls; nil: a client of its own. The hook's timeout
	// bounds each post.
	Client *http.Client
}

// DefaultWindow is the contract's rate limit: once per process per 30 s.
const DefaultWindow = 30 * time.Second

// queueSize is how many events may wait for the Runner's goroutine.
const queueSize = 1024

// Runner runs hooks. Create it with New, start Run, then Fire.
type Runner struct {
	opts    Options
	queue   chan Event
	dropped atomic.Int64

	mu    sync.Mutex
	hooks []*config.Hook
	gates map[gateKey]*gate // by hook and process; only Run's goroutine
	runs  sync.WaitGroup
}

type gateKey struct {
	hook    *config.Hook
	process string
}

// gate is the rate limit of one hook for one process.
type gate struct {
	last    time.Time // when it last ran
	pending int       // events since, not run yet
	latest  Event     // the last of them
	timer   *time.Timer
}

// New returns a runner of hooks.
func New(hooks []*config.Hook, opts Options) *Runner {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	return &Runner{opts: opts, queue: make(chan Event, queueSize), hooks: hooks, gates: map[gateKey]*gate{}}
}

// SetHooks replaces the hooks (a config reload). Runs under way go on.
func (r *Runner) SetHooks(hooks []*config.Hook) {
	r.mu.Lock()
	r.hooks = hooks
	r.mu.Unlock()
}

// Fire queues e for the hooks that name its kind. It never blocks: when
// the queue is full, e is dropped, counted (Dropped) and logged.
func (r *Runner) Fire(e Event) {
	select {
	case r.queue <- e:
	default:
		n := r.dropped.Add(1)
		r.opts.Log.Warn().Str("event", string(e.Kind)).Str("process", e.Process).Int64("dropped_events", n).
			Msg("hook queue full: event dropped")
	}
}

// Dropped is how many events Fire dropped.
func (r *Runner) Dropped() int64 { return r.dropped.Load() }

// Run handles queued events until ctx is done, then kills the hook
// commands still running and returns once they have exited.
func (r *Runner) Run(ctx context.Context) {
	flush := make(chan gateKey, 64)
	defer r.runs.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.queue:
			r.mu.Lock()
			hooks := r.hooks
			r.mu.Unlock()
			for _, h := range hooks {
				if h.Event == string(e.Kind) && h.Applies(e.Process) {
					r.admit(ctx, gateKey{h, e.Process}, e, flush)
				}
			}
		case k := <-flush:
			g := r.gates[k]
			if g.pending > 0 {
				r.start(ctx, k.hook, g.latest, g.pending)
				g.last, g.pending, g.timer = time.Now(), 0, nil
			} else {
				g.timer = nil
			}
		}
	}
}

// admit runs the hook for e now, or counts e for the run at the end of
// the hook's window for that process.
func (r *Runner) admit(ctx context.Context, k gateKey, e Event, flush chan<- gateKey) {
	g := r.gates[k]
	if g == nil {
		g = &gate{}
		r.gates[k] = g
	}
	now := time.Now()
	if g.last.IsZero() || now.Sub(g.last) >= r.opts.Window {
		g.last = now
		r.start(ctx, k.hook, e, 1)
		return
	}
	g.pending++
	g.latest = e
	if g.timer == nil {
		g.timer = time.AfterFunc(g.last.Add(r.opts.Window).Sub(now), func() {
			select {
			case flush <- k:
			case <-ctx.Done():
			}
		})
	}
}

// start runs h for e, standing for count events, on a goroutine.
func (r *Runner) start(ctx context.Context, h *config.Hook, e Event, count int) {
	r.runs.Add(1)
	go func() {
		defer r.runs.Done()
		var lines []string
		if r.opts.LastLines != nil {
			lines = r.opts.LastLines(e.Name)
		}
		log := r.opts.Log.With().Str("hook", h.Event).Str("process", e.Process).Int("instance", e.Instance).Logger()
		if h.Command != nil {
			r.runCommand(ctx, h, e, count, lines, log)
		}
		if h.URL != "" {
			r.post(ctx, h, e, count, lines, log)
		}
	}()
}

// Env is the SUP_* environment of a hook run.
func Env(e Event, count int) []string {
	code, sig := "", ""
	if e.ExitCode != nil {
		code = strconv.Itoa(*e.ExitCode)
	}
	if e.ExitSignal != nil {
		sig = *e.ExitSignal
	}
	return []string{
		"SUP_EVENT=" + string(e.Kind),
		"SUP_PROCESS=" + e.Process,
		"SUP_INSTANCE=" + strconv.Itoa(e.Instance),
		"SUP_NAME=" + e.Name,
		"SUP_PID=" + strconv.Itoa(e.Pid),
		"SUP_EXIT_CODE=" + code,
		"SUP_EXIT_SIGNAL=" + sig,
		"SUP_RESTARTS=" + strconv.Itoa(e.Restarts),
		"SUP_REASON=" + e.Reason,
		"SUP_COUNT=" + strconv.Itoa(count),
	}
}

// runCommand runs h's command to completion or its timeout.
func (r *Runner) runCommand(ctx context.Context, h *config.Hook, e Event, count int, lines []string, log zerolog.Logger) {
	argv, err := h.Argv(config.HookVars{Process: e.Process, Instance: e.Instance, Name: e.Name, State: e.State, ExitCode: e.ExitCode})
	if err != nil {
		log.Error().Err(err).Msg("hook command cannot be evaluated")
		return
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		log.Error().Err(err).Msg("hook: stdin pipe")
		return
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		log.Error().Err(err).Msg("hook: output pipe")
		return
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), r.opts.Env...), Env(e, count)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, outW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited := make(chan reaper.Exit, 1)
	started := time.Now()
	pid, err := r.opts.Starter.Start(cmd, func(x reaper.Exit) { exited <- x })
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		log.Error().Err(err).Strs("command", argv).Msg("hook command cannot be started")
		return
	}
	go func() { // the child may not read its stdin: never wait on it
		for _, l := range lines {
			if _, err := io.WriteString(inW, l+"\n"); err != nil {
				break
			}
		}
		inW.Close()
	}()
	output := make(chan struct{})
	go func() {
		defer close(output)
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 4096), 64<<10)
		for sc.Scan() {
			log.Info().Int("hook_pid", pid).Str("stream", "hook").Msg(sc.Text())
		}
	}()
	timeout := time.NewTimer(h.Timeout)
	defer timeout.Stop()
	var x reaper.Exit
	select {
	case x = <-exited:
	case <-timeout.C:
		_ = unix.Kill(-pid, unix.SIGKILL)
		<-exited
		log.Error().Int("hook_pid", pid).Dur("timeout", h.Timeout).Strs("command", argv).Msg("hook timed out: killed its process group")
		awaitOutput(output, outR)
		return
	case <-ctx.Done():
		_ = unix.Kill(-pid, unix.SIGKILL)
		select { // the reaper may be gone with supd's supervisor
		case <-exited:
		case <-time.After(time.Second):
		}
		log.Warn().Int("hook_pid", pid).Msg("hook killed: supd is stopping")
		awaitOutput(output, outR)
		return
	}
	_ = unix.Kill(-pid, unix.SIGKILL) // what it left behind in its group
	awaitOutput(output, outR)
	if code := x.Code(); code != 0 {
		log.Error().Int("hook_pid", pid).Int("exit_code", code).Strs("command", argv).Msg("hook failed")
		return
	}
	log.Debug().Int("hook_pid", pid).Dur("took", time.Since(started)).Msg("hook ran")
}

// awaitOutput waits briefly for the hook's output to end (a descendant
// that left its group may hold the pipe), then closes it.
func awaitOutput(done <-chan struct{}, r *os.File) {
	select {
	case <-done:
	case <-time.After(100 * time.Millisecond):
	}
	r.Close()
	<-done
}

// Payload is what a url hook receives, as JSON.
type Payload struct {
	Event      Kind      `json:"event"`
	Time       time.Time `json:"time"`
	Process    string    `json:"process"`
	Instance   int       `json:"instance"`
	Name       string    `json:"name"`
	State      string    `json:"state"`
	Pid        int       `json:"pid"`
	ExitCode   *int      `json:"exit_code"`
	ExitSignal *string   `json:"exit_signal"`
	Restarts   int       `json:"restarts"`
	Reason     string    `json:"reason"`
	Count      int       `json:"count"` // events this run stands for (SUP_COUNT)
	Lines      []string  `json:"lines"` // the last output lines
}

// post sends the event to h's url.
func (r *Runner) post(ctx context.Context, h *config.Hook, e Event, count int, lines []string, log zerolog.Logger) {
	if lines == nil {
		lines = []string{}
	}
	body, err := json.Marshal(Payload{
		Event: e.Kind, Time: e.Time, Process: e.Process, Instance: e.Instance, Name: e.Name, State: e.State,
		Pid: e.Pid, ExitCode: e.ExitCode, ExitSignal: e.ExitSignal, Restarts: e.Restarts, Reason: e.Reason,
		Count: count, Lines: lines,
	})
	if err != nil {
		log.Error().Err(err).Msg("hook: encode event")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		log.Error().Err(err).Str("url", h.URL).Msg("hook: bad request")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "supd")
	resp, err := r.opts.Client.Do(req)
	if err != nil {
		log.Error().Err(err).Str("url", h.URL).Msg("hook post failed")
		return
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		log.Error().Str("url", h.URL).Int("status", resp.StatusCode).Str("answer", strings.TrimSpace(string(msg))).
			Msg("hook post failed")
		return
	}
	log.Debug().Str("url", h.URL).Int("status", resp.StatusCode).Msg("hook posted")
}
