package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
	"golang.org/x/sys/unix"
)

// envFileError is an env_file that cannot be read or parsed at a spawn.
// It is a passing reason (retried with backoff): a file that a deployment
// writes next to the config, such as a mounted secret, may come later or
// be fixed.
type envFileError struct{ err error }

func (e envFileError) Error() string { return e.err.Error() }
func (e envFileError) Unwrap() error { return e.err }

// spawnError is a spawn that failed before the process existed, with the
// exit code a shell would give it (127 not found, 126 not executable).
type spawnError struct {
	code int
	msg  string
	err  error // the cause, when there is one (an errno of fork/exec)
}

func (e *spawnError) Error() string { return e.msg }
func (e *spawnError) Unwrap() error { return e.err }

// inheritedNot are variables of supd's environment that belong to supd
// alone: a child must not answer supd's systemd or socket activation.
var inheritedNot = []string{"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"}

func childEnv(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(inheritedNot, k)
	})
}

// launch forks and execs the instance with its stdout and stderr pumped
// into its sink, and registers onExit with the reaper. The child gets its
// own process group, fds 0-2 plus what rd passes, and nothing else.
func (l *procLauncher) launch(spec *config.Spec, sink *output.Sink, rd *probe.Readiness, onExit func(reaper.Exit)) (int, error) {
	environ, err := spec.Environ() // env files are read at each spawn
	if err != nil {
		return 0, envFileError{err}
	}
	env := append(slices.Clone(l.env), environ...)
	env = append(env, "SUPD_PROCESS="+spec.Process, "SUPD_INSTANCE="+strconv.Itoa(spec.Instance))
	env = append(env, rd.Env()...)
	path, err := resolveCommand(spec.Command[0], spec.Dir, env)
	if err != nil {
		return 0, err
	}
	cmd := &exec.Cmd{Path: path, Args: spec.Command, Dir: spec.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cg, err := l.contain.place(spec.Name, cmd.SysProcAttr)
	if err != nil {
		return 0, err
	}
	if spec.User != "" {
		cred, home, err := credential(spec.User)
		if err != nil {
			return 0, err
		}
		cmd.SysProcAttr.Credential = cred
		env = append(env, "USER="+spec.User, "LOGNAME="+spec.User, "HOME="+home)
	}
	cmd.Env = env
	cmd.ExtraFiles = extraFiles(rd.Files())
	if err := l.passSockets(cmd, spec, rd.Files()); err != nil {
		return 0, err
	}

	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return 0, fmt.Errorf("stderr pipe: %w", err)
	}
	// A larger pipe lets a chatty child write while supd formats. Not
	// through outR.Fd(): that would put the pipe in blocking mode, and every
	// pump would then hold an OS thread in read(2).
	setPipeSize(outR, 1<<20)
	cmd.Stdout, cmd.Stderr = outW, errW
	pid, err := l.reaper.Start(cmd, onExit)
	cg.Placed()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return 0, startError(path, spec.Dir, spec.User, err)
	}
	l.pumps.pump(outR, output.Stdout, sink)
	l.pumps.pump(errR, output.Stderr, sink)
	return pid, nil
}

// setPipeSize sets the capacity of pipe f, keeping it non-blocking (in the
// runtime's poller).
func setPipeSize(f *os.File, size int) {
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size) })
	}
}

// resolveCommand finds the executable as exec would, but answers with the
// shell's exit codes and a message that says where it looked.
func resolveCommand(name, dir string, env []string) (string, error) {
	path := name
	if !strings.Contains(name, "/") {
		found, err := lookPath(name, env)
		if err != nil {
			return "", &spawnError{code: 127, msg: fmt.Sprintf("command not found: %q is not in PATH", name)}
		}
		path = found
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(dir, abs)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &spawnError{code: 127, msg: fmt.Sprintf("command not found: %s (in %s)", name, dir)}
	case err != nil:
		return "", &spawnError{126, fmt.Sprintf("cannot execute %s: %v", name, err), err}
	case st.IsDir() || st.Mode()&0o111 == 0:
		return "", &spawnError{code: 126, msg: fmt.Sprintf("cannot execute %s: permission denied (not an executable file)", abs)}
	}
	return abs, nil
}

// lookPath searches the child's PATH (or supd's when the child has none).
func lookPath(name string, env []string) (string, error) {
	pathVar := os.Getenv("PATH")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// startError explains a failed fork/exec. The errno alone does not say
// whether the executable or the working directory was the problem, so the
// message names both (and the user, whose permissions apply).
func startError(path, dir, user string, err error) error {
	as := ""
	if user != "" {
		as = " as user " + user
	}
	if errors.Is(err, fs.ErrPermission) {
		if derr := unix.Access(dir, unix.X_OK); derr == nil && user != "" {
			return &spawnError{126, fmt.Sprintf("cannot start %s in %s%s: permission denied (can %s enter %s and execute %s?)", path, dir, as, user, dir, path), err}
		}
		return &spawnError{126, fmt.Sprintf("cannot start %s in %s%s: %v", path, dir, as, err), err}
	}
	if errors.Is(err, fs.ErrNotExist) {
		// The executable was found before the fork: the directory (or the
		// executable's interpreter) is what is missing.
		return &spawnError{1, fmt.Sprintf("cannot start %s in %s: %v (does the directory exist?)", path, dir, err), err}
	}
	return &spawnError{1, fmt.Sprintf("cannot start %s in %s%s: %v", path, dir, as, err), err}
}

// credential looks up a user for `user = "..."`.
func credential(name string) (*syscall.Credential, string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", &spawnError{1, fmt.Sprintf("user %q: %v", name, err), err}
	}
	if os.Geteuid() != 0 && strconv.Itoa(os.Geteuid()) != u.Uid {
		return nil, "", &spawnError{code: 1, msg: fmt.Sprintf("user = %q needs supd to run as root", name)}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	var groups []uint32
	if ids, err := u.GroupIds(); err == nil {
		for _, g := range ids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				groups = append(groups, uint32(n))
			}
		}
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, u.HomeDir, nil
}

// extraFiles lays out fd number -> file as exec.Cmd.ExtraFiles (fd 3 is
// index 0); gaps are nil, which the child sees as closed.
func extraFiles(files map[int]*os.File) []*os.File {
	var out []*os.File
	for fd, f := range files {
		for len(out) <= fd-3 {
			out = append(out, nil)
		}
		out[fd-3] = f
	}
	return out
}
