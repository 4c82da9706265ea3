package sockets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The trampoline mode is selected by two things together, neither of which
// a user sets by accident: argv[0] is trampolineArg0 (a shell always puts
// the program's name there), and LISTEN_PID holds pidPlaceholder. The
// trampoline replaces the placeholder with the pid, so the command finds
// exactly the variables it would get from systemd, and no other.
const (
	trampolineArg0 = "supd (LISTEN_PID trampoline)"
	pidPlaceholder = "supd-sets-this-to-the-pid"
)

// Trampoline returns at once, unless this process was started by Command:
// then it sets LISTEN_PID to its own pid and execs the command in its
// place, so that the command runs as this very pid; it never returns. supd
// calls it first thing in main. When the exec fails it exits 127 (no such
// file) or 126 (any other reason), like a shell.
func Trampoline() {
	if len(os.Args) < 3 || os.Args[0] != trampolineArg0 {
		return
	}
	env := os.Environ()
	k := slices.Index(env, "LISTEN_PID="+pidPlaceholder)
	if k < 0 {
		return
	}
	env[k] = "LISTEN_PID=" + strconv.Itoa(os.Getpid())
	err := syscall.Exec(os.Args[1], os.Args[2:], env)
	fmt.Fprintf(os.Stderr, "supd: exec %s: %v\n", os.Args[1], err)
	if errors.Is(err, fs.ErrNotExist) {
		os.Exit(127)
	}
	os.Exit(126)
}

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
		"LISTEN_PID="+pidPlaceholder)
	cmdArgv = append([]string{trampolineArg0, path}, argv...)
	return supd, cmdArgv, cmdEnv
}
