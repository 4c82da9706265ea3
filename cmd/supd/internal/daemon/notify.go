package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor"
	"golang.org/x/sys/unix"
)

// notifier speaks sd_notify to systemd (or anything that set
// NOTIFY_SOCKET): READY=1 once every process is ready, STATUS= with a
// one-line summary, RELOADING=1/READY=1 around reloads, STOPPING=1, and
// WATCHDOG=1 while the supervisor loop answers. Without NOTIFY_SOCKET every
// method is a no-op.
type notifier struct {
	log     zerolog.Logger
	enabled bool

	mu        sync.Mutex
	readySent bool
	last      supervisor.Summary
}

func newNotifier(log zerolog.Logger) *notifier {
	// The supervisor strips NOTIFY_SOCKET from children's environment;
	// supd itself keeps it for the whole run.
	_, enabled := lookupEnv("NOTIFY_SOCKET")
	return &notifier{log: log, enabled: enabled}
}

func (n *notifier) send(state string) {
	if !n.enabled {
		return
	}
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn().Err(err).Msg("sd_notify")
	}
}

// summary is the supervisor's Notify option: called from its loop.
func (n *notifier) summary(s supervisor.Summary) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.last = s
	switch {
	case s.Stopping:
		n.send("STOPPING=1\nSTATUS=stopping")
	case s.Ready == s.Total && !n.readySent:
		n.readySent = true
		n.send("READY=1\nSTATUS=" + statusLine(s))
	default:
		n.send("STATUS=" + statusLine(s))
	}
}

// statusLine is "3/3 ready" or "2/3 ready; not ready: api:1 (starting: ...)".
func statusLine(s supervisor.Summary) string {
	line := fmt.Sprintf("%d/%d ready", s.Ready, s.Total)
	if len(s.NotReady) > 0 {
		line += "; not ready: " + strings.Join(s.NotReady, ", ")
	}
	if len(line) > 400 {
		line = line[:400] + "..."
	}
	return line
}

// reload is the supervisor's Reloading option: RELOADING=1 (with the
// MONOTONIC_USEC that Type=notify-reload wants) before, READY=1 after.
func (n *notifier) reload(begin bool) {
	if begin {
		var ts unix.Timespec
		_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		n.send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000))
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.send("READY=1\nSTATUS=" + statusLine(n.last))
}

// watchdog pings WATCHDOG=1 at half of $WATCHDOG_USEC, but only after the
// supervisor loop has answered: a stuck loop stops the pings and systemd
// restarts supd.
func (n *notifier) watchdog(ctx context.Context, sup *supervisor.Supervisor) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 || !n.enabled {
		return
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, interval/2)
		err := sup.Ping(pingCtx)
		cancel()
		if err != nil {
			n.log.Error().Err(err).Msg("supervisor loop is not answering: no watchdog ping")
			continue
		}
		n.send("WATCHDOG=1")
	}
}
