package supervisor

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/sockets"
)

// SocketFiles gives spawns the listening sockets supd holds; a
// *sockets.Set implements it. The files stay owned by it.
type SocketFiles interface {
	Files(socks []*config.Socket) ([]*os.File, error)
}

// passSockets rewrites cmd, a spawn of spec, to receive the sockets of
// spec: dup'ed onto fds 3, 4, … in `sockets` order (before the readiness
// files, which the config puts above them), with LISTEN_FDS,
// LISTEN_FDNAMES and LISTEN_PID set by supd's trampoline mode. Loop only
// (it reads the current config).
func (s *Supervisor) passSockets(cmd *exec.Cmd, spec *config.Spec, readiness map[int]*os.File) error {
	if len(spec.Sockets) == 0 {
		return nil
	}
	if s.sockets == nil || s.supd == "" {
		return &spawnError{code: 1, msg: "sockets: this supd cannot pass sockets (no socket set or no path to supd for LISTEN_PID)"}
	}
	blocks := make([]*config.Socket, len(spec.Sockets))
	for k, name := range spec.Sockets {
		if blocks[k] = s.cfg.Socket(name); blocks[k] == nil {
			return &spawnError{code: 1, msg: fmt.Sprintf("sockets: socket %q is not in the config", name)}
		}
	}
	files, err := s.sockets.Files(blocks)
	if err != nil {
		return &spawnError{code: 1, msg: "sockets: " + err.Error()}
	}
	for fd := range readiness {
		if fd < 3+len(files) {
			return &spawnError{code: 1, msg: fmt.Sprintf("sockets: fd %d of the ready check is one of the sockets' (3 to %d)", fd, 2+len(files))}
		}
	}
	extra := extraFiles(readiness)
	if len(extra) < len(files) {
		extra = append(extra, make([]*os.File, len(files)-len(extra))...)
	}
	copy(extra, files)
	cmd.ExtraFiles = extra
	cmd.Path, cmd.Args, cmd.Env = sockets.Command(s.supd, cmd.Path, cmd.Args, cmd.Env, spec.Sockets)
	return nil
}
