// Package cgroup contains supd's processes in cgroup v2: one cgroup per
// spawn, so that a process tree is known exactly (cgroup.procs: every
// descendant, also those that called setsid or double-forked) and stopped
// whole (cgroup.kill).
//
// Layout: supd's own cgroup (from /proc/self/cgroup) gets one directory
// per supd, named for a key (supd's control socket path, which only one
// live supd can hold), and that one a directory per spawn:
//
//	<supd's cgroup>/supd-<hash of key>/p-<name>-<seq>
//
// No controller is enabled anywhere below: the groups only contain and
// count. A supd that was SIGKILLed leaves its directory behind with
// whatever still runs in it; the next supd of the same key kills that
// generation before it starts anything (Open).
//
// Usable only with a writable cgroup v2 hierarchy and a kernel with
// cgroup.kill (5.14) and CLONE_INTO_CGROUP (5.7); Open says why not
// otherwise (not root, read-only in a container, cgroup v1 only), and supd
// falls back to process-tree tracking.
package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnavailable wraps every reason Open cannot contain processes.
var ErrUnavailable = errors.New("cgroup v2 containment unavailable")

// Manager is the cgroup directory of one supd. It is safe for concurrent
// use.
type Manager struct {
	dir string

	mu      sync.Mutex
	seq     uint64
	retired []*Group // groups to remove once their last process is gone
}

// Open finds supd's cgroup v2 directory, kills and removes what a previous
// supd of the same key left there, and creates it afresh. leftover is the
// number of processes of that previous generation it killed. An error
// wraps ErrUnavailable when containment cannot be used here.
func Open(key string) (m *Manager, leftover int, err error) {
	base, err := ownCgroupDir()
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	dir := filepath.Join(base, fmt.Sprintf("supd-%016x", h.Sum64()))
	if _, err := os.Stat(dir); err == nil {
		if leftover, err = removeTree(dir, 10*time.Second); err != nil {
			return nil, leftover, fmt.Errorf("cgroup %s left by a previous supd: %w", dir, err)
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, leftover, fmt.Errorf("%w: create %s: %v", ErrUnavailable, dir, err)
	}
	// cgroup.kill exists only in non-root cgroups of kernels >= 5.14.
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		os.Remove(dir)
		return nil, leftover, fmt.Errorf("%w: %s has no cgroup.kill (kernel older than 5.14)", ErrUnavailable, dir)
	}
	return &Manager{dir: dir}, leftover, nil
}

// Dir is the manager's cgroup directory.
func (m *Manager) Dir() string { return m.dir }

// New creates the cgroup of one spawn of name (e.g. "api:2"). The caller
// places the child in it at the fork (Group.FD) and removes it once the
// tree is gone (Group.Remove).
func (m *Manager) New(name string) (*Group, error) {
	m.mu.Lock()
	m.seq++
	seq := m.seq
	m.sweepLocked()
	m.mu.Unlock()
	dir := filepath.Join(m.dir, fmt.Sprintf("p-%s-%d", sanitize(name), seq))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup for %s: %w", name, err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("cgroup for %s: open %s: %w", name, dir, err)
	}
	return &Group{dir: dir, fd: fd}, nil
}

// Retire removes g once its processes are gone: now if it is empty, else
// at a later Retire or New (it never waits). It does not signal them: a
// retired group may still hold a run being replaced, stopped by its
// owner; Close kills whatever is left at the end.
func (m *Manager) Retire(g *Group) {
	if g == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retired = append(m.retired, g)
	m.sweepLocked()
}

// sweepLocked removes the retired groups that are empty.
func (m *Manager) sweepLocked() {
	keep := m.retired[:0]
	for _, g := range m.retired {
		g.Placed()
		if err := unix.Rmdir(g.dir); err != nil && !errors.Is(err, unix.ENOENT) {
			keep = append(keep, g) // EBUSY: not empty yet
		}
	}
	clear(m.retired[len(keep):])
	m.retired = keep
}

// Place returns the group for the next spawn of name: prev, the group of
// its previous spawn, when it can be reused (Group.Reuse), else a new one
// (prev is then retired). prev may be nil.
func (m *Manager) Place(name string, prev *Group) (*Group, error) {
	if prev != nil && prev.Reuse() {
		m.mu.Lock()
		m.sweepLocked() // what earlier spawns left may be gone by now
		m.mu.Unlock()
		return prev, nil
	}
	m.Retire(prev)
	return m.New(name)
}

// Close kills every process left in any group of the manager, waits (at
// most timeout) for them to be gone, and removes the manager's
// directories. It returns how many processes it killed.
func (m *Manager) Close(timeout time.Duration) (int, error) {
	return removeTree(m.dir, timeout)
}

// Group is the cgroup of one spawn.
type Group struct {
	dir    string
	fd     int  // O_PATH fd of dir, for SysProcAttr.CgroupFD; -1 once removed
	killed bool // cgroup.kill was used on it: never reused
}

// Dir is the group's directory.
func (g *Group) Dir() string { return g.dir }

// FD is an fd of the group's directory for SysProcAttr{UseCgroupFD: true,
// CgroupFD: FD()}: the child is born in the group (clone3
// CLONE_INTO_CGROUP), so not even a fork right after exec escapes it.
func (g *Group) FD() int { return g.fd }

// Reuse prepares g for another spawn when nothing of the previous one is
// left in it (not Populated): it reopens FD and reports true. A spawn that
// reuses its predecessor's empty group saves a mkdir and an rmdir of
// cgroupfs, which take the kernel's cgroup lock. A group that was ever
// killed through cgroup.kill is never reused: on some kernels a child
// born in it with CLONE_INTO_CGROUP gets SIGKILL at once (the kill
// sequence is compared with the parent's cgroup, not the target's).
func (g *Group) Reuse() bool {
	if g.killed || g.Populated() {
		return false
	}
	g.Placed()
	fd, err := unix.Open(g.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	g.fd = fd
	return true
}

// Placed closes FD once the child is forked (or failed to be): a group
// costs supd no fd while its processes run. A nil g is allowed.
func (g *Group) Placed() {
	if g != nil && g.fd >= 0 {
		unix.Close(g.fd)
		g.fd = -1
	}
}

// Procs returns the pids in the group, ascending (cgroup.procs).
func (g *Group) Procs() ([]int, error) { return readProcs(g.dir) }

// Populated reports whether any process is left in the group (zombies
// included: a process leaves its cgroup when reaped).
func (g *Group) Populated() bool {
	b, err := os.ReadFile(filepath.Join(g.dir, "cgroup.events"))
	if err != nil {
		return false // removed: nothing can be in it
	}
	return bytes.Contains(b, []byte("populated 1"))
}

// Signal sends sig to every process of the group. SIGKILL goes through
// cgroup.kill, which the kernel applies to the whole group atomically (a
// process forking meanwhile cannot escape); other signals go to each pid
// in cgroup.procs.
func (g *Group) Signal(sig unix.Signal) error {
	if sig == unix.SIGKILL {
		if !g.Populated() {
			return nil // nothing to kill: keep the group reusable
		}
		g.killed = true
		return killGroup(g.dir)
	}
	pids, err := g.Procs()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		_ = unix.Kill(pid, sig) // ESRCH: it ended meanwhile
	}
	return nil
}

// Remove kills what is left in the group, and removes it once empty
// (within timeout). It closes FD.
func (g *Group) Remove(timeout time.Duration) error {
	g.Placed()
	_, err := removeTree(g.dir, timeout)
	return err
}

// ownCgroupDir is the cgroup v2 directory supd runs in.
func ownCgroupDir() (string, error) {
	mount, err := v2Mount()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			dir := filepath.Join(mount, filepath.Clean("/"+rest))
			if unix.Access(dir, unix.W_OK) != nil {
				return "", fmt.Errorf("%s is not writable (not root, or read-only in a container)", dir)
			}
			return dir, nil
		}
	}
	return "", errors.New("supd is in no cgroup v2 (/proc/self/cgroup has no 0:: line)")
}

// v2Mount is where the cgroup2 filesystem is mounted (first in
// /proc/self/mountinfo: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a
// hybrid host).
func v2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		fields := strings.Fields(pre)
		if len(fields) < 5 {
			continue
		}
		if strings.Contains(","+fields[5]+",", ",ro,") {
			return "", fmt.Errorf("cgroup2 at %s is mounted read-only", fields[4])
		}
		return fields[4], nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 filesystem is mounted")
}

func readProcs(dir string) ([]int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func killGroup(dir string) error {
	err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed: nothing to kill
	}
	return err
}

// removeTree kills every process under dir (cgroup.kill covers
// descendants), waits until none is left, and removes the directories,
// deepest first. It returns how many processes there were.
func removeTree(dir string, timeout time.Duration) (int, error) {
	var dirs []string
	killed := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			pids, _ := readProcs(p)
			killed += len(pids)
		}
		return nil
	})
	if err != nil {
		return killed, err
	}
	if len(dirs) == 0 {
		return 0, nil
	}
	if killed > 0 {
		if err := killGroup(dir); err != nil {
			return killed, fmt.Errorf("kill %s: %w", dir, err)
		}
	}
	deadline := time.Now().Add(timeout)
	for i := len(dirs) - 1; i >= 0; i-- {
		for {
			err := unix.Rmdir(dirs[i])
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				return killed, fmt.Errorf("remove %s: %w", dirs[i], err)
			}
			// Killed processes leave the group once reaped: by supd when
			// they are its children, by their parent or init otherwise.
			waitEvents(dirs[i], deadline)
		}
	}
	return killed, nil
}

// waitEvents blocks until the group's cgroup.events changes (the kernel
// notifies a change of "populated" as POLLPRI once the file was read), or
// for at most 100ms (until deadline): the caller checks again. A group
// found empty already is retried after 5ms, not in a spin.
func waitEvents(dir string, deadline time.Time) {
	f, err := os.Open(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return // gone: the caller's rmdir says so
	}
	defer f.Close()
	b := make([]byte, 128)
	n, _ := f.Read(b) // also arms the notification
	wait := 100 * time.Millisecond
	if bytes.Contains(b[:n], []byte("populated 0")) {
		wait = 5 * time.Millisecond // emptied meanwhile: the rmdir may go through now
	}
	ms := min(time.Until(deadline), wait).Milliseconds()
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLPRI}}
	_, _ = unix.Poll(fds, int(max(ms, 1))) // EINTR or timeout: check again
}

// sanitize makes name a safe directory name.
func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
}
