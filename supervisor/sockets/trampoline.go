package sockets

import (
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sup-sh/sup/supervisor/sockets/trampoline"
)

// Trampoline runs the trampoline mode (see package trampoline) when this
// process was started by Command, from os.Args: it never returns then. The
// trampoline package's init does the same earlier, through /proc; supd's
// main calls this too, for a system without /proc.
func Trampoline() { trampoline.Exec(os.Args) }

// Command returns what to start instead of path with argv and env, so that
// the process gets the sockets named names (the files at fds 3, 4, … of
// the child, which the caller passes as the first exec.Cmd.ExtraFiles) with
// LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID: supd, the executable at supd
// (use "/proc/self/exe": it names supd's own binary in the forked child,
// even after supd was replaced on disk by an upgrade), in trampoline mode.
// Any LISTEN_* variable already in env is replaced.
func Command(supd, path string, argv, env, names []string) (cmdPath string, cmdArgv, cmdEnv []string) {
	cmdEnv = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "LISTEN_FDS" || k == "LISTEN_FDNAMES" || k == "LISTEN_PID"
	})
	cmdEnv = append(cmdEnv,
		"LISTEN_FDS="+strconv.Itoa(len(names)),
		"LISTEN_FDNAMES="+strings.Join(names, ":"),
		"LISTEN_PID="+trampoline.Placeholder)
	cmdArgv = append([]string{trampoline.Arg0, path}, argv...)
	return supd, cmdArgv, cmdEnv
}
