package supervisor

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// shutdown is the state of an orderly stop of everything: a process is
// stopped once every process that depends on it is down, so processes stop
// in reverse depends_on order (in parallel where the graph allows). After
// shutdown_timeout whatever is left is killed.
type shutdown struct {
	code  int
	timer *time.Timer
}

// beginShutdown starts stopping everything; supd will exit with code.
func (s *Supervisor) beginShutdown(code int, why string) {
	if s.shutdown != nil {
		return
	}
	s.log.Info().Int("exit_code", code).Dur("timeout", s.cfg.Supervisor.ShutdownTimeout).Msg("shutting down: " + why)
	sd := &shutdown{code: code}
	s.shutdown = sd
	for _, i := range s.insts {
		if i.pid == 0 && !i.state.down() && i.state != Stopping {
			s.stop(i) // waiting for dependencies, or in backoff: nothing to signal
		}
	}
	sd.timer = s.after(s.cfg.Supervisor.ShutdownTimeout, s.killRemaining)
}

// complete stops whatever may be stopped now and reports whether
// everything is down.
func (sd *shutdown) complete(s *Supervisor) bool {
	all := true
	for _, name := range slices.Backward(s.cfg.Order) {
		if s.processDown(name) {
			continue
		}
		all = false
		if !s.dependentsDown(name) {
			continue
		}
		for _, i := range s.insts {
			if i.spec.Process == name {
				s.stop(i)
			}
		}
	}
	return all
}

func (s *Supervisor) dependentsDown(name string) bool {
	for _, d := range s.dependents(name) {
		if !s.processDown(d) {
			return false
		}
	}
	return true
}

// killRemaining: shutdown_timeout has passed. SIGKILL every process tree
// that is still there.
func (s *Supervisor) killRemaining() {
	for _, i := range s.insts {
		if i.state.down() {
			continue
		}
		s.log.Warn().Str("process", i.spec.Process).Int("instance", i.spec.Instance).
			Msg("shutdown_timeout passed: SIGKILL to its process tree")
		signalTree(i, unix.SIGKILL)
		if i.state != Stopping && i.pid == 0 {
			s.set(i, Stopped, false, "")
		}
	}
}
