package supervisor

import (
	"slices"
)

// shutdown is the state of an orderly stop of everything: a process is
// stopped once every process that depends on it is down, so processes stop
// in reverse depends_on order (in parallel where the graph allows). After
// shutdown_timeout whatever is left is killed.
type shutdown struct {
	code  int
	timer Timer
}

// byShutdown is the reason of an instance stopped by the shutdown.
const byShutdown = "supd is shutting down"

// beginShutdown starts stopping everything; supd will exit with code.
func (s *Supervisor) beginShutdown(code int, why string) {
	if s.shutdown != nil {
		return
	}
	s.log.Info().Int("exit_code", code).Dur("timeout", s.cfg.Supervisor.ShutdownTimeout).Msg("shutting down: " + why)
	sd := &shutdown{code: code}
	s.shutdown = sd
	for _, i := range s.insts {
		if i.phase == phWaiting || i.phase == phBackoff {
			s.handle(i, inStop{by: byShutdown}) // nothing to signal
		}
	}
	sd.timer = s.clock.AfterFunc(s.cfg.Supervisor.ShutdownTimeout, func() { s.post(s.killRemaining) })
}

// complete stops whatever may be stopped now and reports whether
// everything is down. Each call is O(instances + depends_on edges).
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
		for _, i := range s.byProc[name] {
			if i.phase == phStarting || i.phase == phRunning {
				s.handle(i, inStop{by: byShutdown})
			}
		}
	}
	return all
}

func (s *Supervisor) dependentsDown(name string) bool {
	for _, d := range s.revDeps[name] {
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
		s.handle(i, inKillAll{})
	}
}
