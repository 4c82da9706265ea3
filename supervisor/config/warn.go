package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// The warnings below are about the machine the config is loaded on, not
// about the file: a command, directory or user that does not exist here
// will fail at the first spawn. They do not fail Load (the file may be
// checked on a build machine for another), but `supd --check` prints them,
// as it does env("NAME") of a variable supd's environment lacks.
// Their summaries are fixed, for filtering:
const (
	WarnCommandNotFound = "Command not found"
	WarnNotExecutable   = "Command not executable"
	WarnDirNotFound     = "Directory not found"
	WarnUserNotFound    = "User not found"
	WarnUnsetEnv        = "Unset environment variable"
)

// hostChecks caches what the warnings look up, so that 100,000 processes
// running the same program cost one stat.
type hostChecks struct {
	commands map[[2]string]hostWarning // {command, dir} -> the warning, zero when fine
	dirs     map[string]bool           // dir -> exists
	users    map[string]bool           // user -> exists
}

// warnHost adds the warnings about the host for instance spec of a
// process block, at the attributes that set what is missing.
func (l *loader) warnHost(b body, s *Spec) {
	h := &l.host
	if h.commands == nil {
		h.commands, h.dirs, h.users = map[[2]string]hostWarning{}, map[string]bool{}, map[string]bool{}
	}
	e := l.static()
	if a := b.attrs["dir"]; a != nil {
		exists, ok := h.dirs[s.Dir]
		if !ok {
			info, err := os.Stat(s.Dir)
			exists = err == nil && info.IsDir()
			h.dirs[s.Dir] = exists
		}
		if !exists {
			e.warnf(a.Expr.Range(), WarnDirNotFound, "%s is not a directory on this machine: the process will fail to start (exit 126)", s.Dir)
			return // the command is looked up in it
		}
	}
	if a := b.attrs["user"]; a != nil && s.User != "" {
		exists, ok := h.users[s.User]
		if !ok {
			_, err := user.Lookup(s.User)
			exists = err == nil
			h.users[s.User] = exists
		}
		if !exists {
			e.warnf(a.Expr.Range(), WarnUserNotFound, "there is no user %q on this machine: the process will fail to start", s.User)
		}
	}
	// A process that depends on others may run a file they make (a
	// oneshot build step, as in the quickstart): a command given as a path
	// is then not checked. One looked up in PATH always is.
	built := len(s.DependsOn) > 0 && len(s.Command) > 0 && strings.Contains(s.Command[0], "/")
	if a := b.attrs["command"]; a != nil && len(s.Command) > 0 && !built {
		key := [2]string{s.Command[0], s.Dir}
		w, ok := h.commands[key]
		if !ok {
			w = checkCommand(s.Command[0], s.Dir, s.Env)
			h.commands[key] = w
		}
		if w.summary != "" {
			e.warnf(elemRange(a, 0), w.summary, "%s", w.detail)
		}
	}
}

// hostWarning is a warning's summary and detail; zero for none.
type hostWarning struct{ summary, detail string }

// checkCommand looks name up as the spawner will: in PATH (the one env
// sets, else supd's) when it has no slash, else relative to dir. It
// returns no warning when that is an executable file.
func checkCommand(name, dir string, env []string) hostWarning {
	path := name
	if !strings.Contains(name, "/") {
		pathVar := os.Getenv("PATH")
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				pathVar = v
			}
		}
		path = ""
		for _, d := range filepath.SplitList(pathVar) {
			if d == "" {
				d = "."
			}
			p := filepath.Join(d, name)
			if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
				return hostWarning{}
			}
		}
		return hostWarning{WarnCommandNotFound, fmt.Sprintf("%q is not in PATH on this machine: the process will fail to start (exit 127)", name)}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return hostWarning{WarnCommandNotFound, fmt.Sprintf("%s does not exist on this machine: the process will fail to start (exit 127)", path)}
	case err != nil:
		return hostWarning{WarnNotExecutable, fmt.Sprintf("%s: %v: the process will fail to start (exit 126)", path, err)}
	case info.IsDir() || info.Mode()&0o111 == 0:
		return hostWarning{WarnNotExecutable, fmt.Sprintf("%s is not an executable file: the process will fail to start (exit 126)", path)}
	}
	return hostWarning{}
}

// portArg matches an argument that names a port: a --port, --listen,
// --bind, --http-port… flag, or an address with a port (":3000",
// "0.0.0.0:8000", "localhost:3000", "tcp://[::]:80", "--bind=:80").
var portArg = regexp.MustCompile(`(?i)^--?([a-z]+-)*(port|listen|bind)([=\s].*)?$|(^|[=/@\s])(localhost|\*|\[[0-9a-f:.]*\]|\d{1,3}(\.\d{1,3}){3})?:\d{2,5}(/.*)?$`)

// warnPortWithoutReady warns about a service whose command mentions a port
// and that has no ready check: it is ready once spawned, long before it
// listens, which is the 502 sup exists to prevent.
func (l *loader) warnPortWithoutReady(b body, p *Process) {
	s := p.Instances[0]
	a := b.attrs["command"]
	if a == nil || p.Type != Service || s.Ready.HasChecks() || len(s.Sockets) > 0 {
		return
	}
	for i, arg := range s.Command[1:] {
		if portArg.MatchString(arg) {
			l.static().warnf(elemRange(a, i+1), "Port without a ready check", "the command mentions a port (%q) but the process has no ready check, "+
				"so it is ready once spawned, before it listens: add ready { tcp = \"127.0.0.1:PORT\" }", arg)
			return
		}
	}
}

// warnEmpty warns about a config without any process: supd would run
// nothing (and a reload to it is refused without --allow-empty).
func (l *loader) warnEmpty() {
	if len(l.cfg.Processes) > 0 || l.diags.HasErrors() || len(l.sources) == 0 {
		return
	}
	rng := hcl.Range{Filename: l.sources[0].path, Start: hcl.InitialPos, End: hcl.InitialPos}
	l.diags = append(l.diags, diagAt(hcl.DiagWarning, rng, "Empty config",
		"no process is defined (the files are empty or hold only comments and settings): supd would run nothing, and a reload to this config is refused unless --allow-empty"))
}
