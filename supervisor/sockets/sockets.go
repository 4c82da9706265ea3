// Package sockets binds and holds the listening sockets of a sup config
// (its `socket` blocks) for supd's lifetime, and passes them to children
// with the systemd protocol (LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID).
//
// supd binds every socket before any process starts, and keeps its own
// copy open across crashes, restarts and reloads: while no process
// accepts, connections wait in the socket's accept queue instead of being
// refused. A Set is that collection of sockets; the daemon owns it, applies
// each config to it before the supervisor sees the config, and closes it
// when supd exits.
//
// LISTEN_PID must be the child's own pid, which a Go parent cannot know
// before the fork; Command makes the child start as supd itself in its
// trampoline mode (Trampoline), which sets LISTEN_PID and execs the
// command: no shell is needed, so it works in distroless images too.
package sockets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/supervisor/config"
	"golang.org/x/sys/unix"
)

// Set is the listening sockets supd holds, keyed by what they listen on.
// It is safe for concurrent use. The zero value is not usable: use NewSet.
type Set struct {
	mu      sync.Mutex
	held    map[string]*socket // by key: every socket of the last config applied
	retired []*socket          // sockets of earlier configs, open while a process uses them
	wake    chan struct{}      // Run: sockets were retired
}

// socket is one held listening socket.
type socket struct {
	key     string // "tcp:127.0.0.1:3000", "unix:/run/app.sock"
	network string
	address string
	file    *os.File // supd's copy; passed to children by dup
	inode   uint64   // of the socket (sock_diag, /proc/PID/fd)
	backlog int      // as given to listen(2)
	owner   owner    // unix only
	path    fileID   // unix only: the socket file bind created
}

// fileID names a file by device and inode.
type fileID struct{ dev, ino uint64 }

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{held: map[string]*socket{}, wake: make(chan struct{}, 1)}
}

// BindError is a socket of the config that could not be bound (or given
// its mode and owner). Attr is the attribute the error is about ("listen",
// "backlog", "user", "group"), for its position in the file; Holder is who
// holds the address when it is in use.
type BindError struct {
	Socket *config.Socket
	Attr   string
	Err    error
	Holder *probe.Holder
}

func (e *BindError) Error() string {
	msg := fmt.Sprintf("socket %q (%s://%s): %v", e.Socket.Name, e.Socket.Network, e.Socket.Address, e.Err)
	if e.Holder != nil {
		msg += fmt.Sprintf(": held by pid %d (%s)", e.Holder.Pid, e.Holder.Command)
	}
	return msg
}

func (e *BindError) Unwrap() error { return e.Err }

// Range is where the error is reported in the config.
func (e *BindError) Range() hcl.Range { return e.Socket.AttrRange(e.Attr) }

// Apply makes the set hold exactly the sockets of cfg. A socket whose
// network and address are held already is kept, the very same socket (a
// changed backlog, mode or owner is applied to it); every other one is
// bound. Sockets the new config does not have are retired: supd closes
// its copy once no other process holds them (Release).
//
// When any socket cannot be bound (or a held one given its new backlog,
// mode or owner: the settings already changed stay), Apply closes what it
// bound and keeps the sockets it held; the error is a *config.Error with one diagnostic per failed
// socket, at its attribute in the file (see BindError for the parts).
func (s *Set) Apply(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string]*socket, len(cfg.Sockets))
	var bound []*socket
	var failed []*BindError
	type change struct {
		sock *socket
		cfg  *config.Socket
		o    owner
	}
	var changes []change
	for _, c := range cfg.Sockets {
		key := c.Network + ":" + c.Address
		o, berr := resolveOwner(c)
		if berr != nil {
			failed = append(failed, berr)
			continue
		}
		if old := s.held[key]; old != nil {
			next[key] = old
			changes = append(changes, change{old, c, o})
			continue
		}
		if old := s.retiredAt(key); old != nil { // back to an address still open
			next[key] = old
			changes = append(changes, change{old, c, o})
			continue
		}
		sock, berr := bind(c, o)
		if berr != nil {
			failed = append(failed, berr)
			continue
		}
		bound = append(bound, sock)
		next[key] = sock
	}
	for _, ch := range changes {
		if len(failed) > 0 {
			break
		}
		if err := ch.sock.update(ch.cfg, ch.o); err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		for _, sock := range bound {
			sock.close()
		}
		return bindErrors(cfg, failed)
	}
	for key, sock := range s.held {
		if next[key] != sock {
			s.retired = append(s.retired, sock)
		}
	}
	s.retired = slices.DeleteFunc(s.retired, func(r *socket) bool { return next[r.key] == r })
	s.held = next
	if len(s.retired) > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Set) retiredAt(key string) *socket {
	for _, r := range s.retired {
		if r.key == key {
			return r
		}
	}
	return nil
}

// bindErrors is the config error for failed binds.
func bindErrors(cfg *config.Config, failed []*BindError) error {
	var out *config.Error
	for _, f := range failed {
		e := cfg.ErrorAt(f.Range(), fmt.Sprintf("Cannot bind socket %q", f.Socket.Name), f.detail())
		if out == nil {
			out = e
		} else {
			out.Diags = append(out.Diags, e.Diags...)
		}
	}
	return out
}

func (e *BindError) detail() string {
	msg := fmt.Sprintf("%s://%s: %v", e.Socket.Network, e.Socket.Address, e.Err)
	if e.Holder != nil {
		msg += fmt.Sprintf(": held by pid %d (%s)", e.Holder.Pid, e.Holder.Command)
	}
	return msg
}

// resolveOwner looks up the user and group of a unix socket block.
func resolveOwner(c *config.Socket) (owner, *BindError) {
	o := owner{mode: c.Mode, uid: -1, gid: -1}
	if c.Network != "unix" {
		return o, nil
	}
	if c.User != "" {
		u, err := lookupUser(c.User)
		if err != nil {
			return o, &BindError{Socket: c, Attr: "user", Err: err}
		}
		o.uid = u
	}
	if c.Group != "" {
		g, err := lookupGroup(c.Group)
		if err != nil {
			return o, &BindError{Socket: c, Attr: "group", Err: err}
		}
		o.gid = g
	}
	return o, nil
}

func lookupUser(name string) (int, error) {
	return lookupID(name, func(n string) (string, error) {
		u, err := user.Lookup(n)
		if err != nil {
			return "", err
		}
		return u.Uid, nil
	})
}

func lookupGroup(name string) (int, error) {
	return lookupID(name, func(n string) (string, error) {
		g, err := user.LookupGroup(n)
		if err != nil {
			return "", err
		}
		return g.Gid, nil
	})
}

// lookupID is a user or group id: name itself when it is a number, else
// what lookup finds.
func lookupID(name string, lookup func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	id, err := lookup(name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(id)
}

// bind binds one socket of the config.
func bind(c *config.Socket, o owner) (*socket, *BindError) {
	backlog := c.Backlog
	if backlog == 0 {
		backlog = somaxconn()
	}
	var fd int
	var err error
	switch c.Network {
	case "tcp":
		fd, err = bindTCP(c.Address, backlog)
	case "unix":
		fd, err = bindUnix(c.Address, backlog, o)
	default:
		err = fmt.Errorf("unknown network %q", c.Network)
	}
	if err != nil {
		berr := &BindError{Socket: c, Attr: "listen", Err: err}
		if oerr := (*ownerError)(nil); errors.As(err, &oerr) {
			berr.Attr = ownerAttr(c, oerr.attr)
		}
		if errors.Is(err, unix.EADDRINUSE) {
			berr.Holder = holder(c)
		}
		return nil, berr
	}
	sock := &socket{key: c.Network + ":" + c.Address, network: c.Network, address: c.Address,
		file: os.NewFile(uintptr(fd), c.Network+"://"+c.Address), backlog: backlog, owner: o}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err == nil {
		sock.inode = st.Ino
	}
	if c.Network == "unix" {
		if err := unix.Stat(c.Address, &st); err == nil {
			sock.path = fileID{st.Dev, st.Ino}
		}
	}
	return sock, nil
}

// ownerAttr is the attribute a chown ("user") or chmod ("mode") error is
// reported at: user, else group, for a chown.
func ownerAttr(c *config.Socket, attr string) string {
	if attr == "user" && c.User == "" {
		return "group"
	}
	return attr
}

// holder finds who holds the address of c, for the error.
func holder(c *config.Socket) *probe.Holder {
	addresses := []string{c.Address}
	if c.Network == "tcp" {
		// A socket on another address of the same port is in the way too
		// (0.0.0.0:3000 against 127.0.0.1:3000).
		addresses = append(addresses, "*"+c.Address[lastColon(c.Address):])
	}
	for _, a := range addresses {
		if hs, err := probe.HeldBy(c.Network, a); err == nil && len(hs) > 0 {
			return &hs[0]
		}
	}
	return nil
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return 0
}

// update applies a changed backlog, mode or owner to a held socket.
func (sock *socket) update(c *config.Socket, o owner) *BindError {
	backlog := c.Backlog
	if backlog == 0 {
		backlog = somaxconn()
	}
	if backlog != sock.backlog {
		// listen(2) on a listening socket only changes its backlog.
		if err := unix.Listen(int(sock.file.Fd()), backlog); err != nil {
			return &BindError{Socket: c, Attr: "backlog", Err: fmt.Errorf("listen: %w", err)}
		}
		sock.backlog = backlog
	}
	if sock.network == "unix" && o != sock.owner {
		if err := setOwner(sock.address, o); err != nil {
			attr := "mode"
			if oerr := (*ownerError)(nil); errors.As(err, &oerr) {
				attr = ownerAttr(c, oerr.attr)
			}
			return &BindError{Socket: c, Attr: attr, Err: err}
		}
		sock.owner = o
	}
	return nil
}

// close closes supd's copy and removes the socket file bind created
// (only that one: not a file put there since).
func (sock *socket) close() error {
	err := sock.file.Close()
	if sock.network == "unix" {
		var st unix.Stat_t
		if unix.Lstat(sock.address, &st) == nil && (fileID{st.Dev, st.Ino}) == sock.path {
			_ = unix.Unlink(sock.address)
		}
	}
	return err
}

// Files returns supd's copies of the sockets of the config blocks socks,
// in that order, for exec.Cmd.ExtraFiles. They stay owned by the Set: the
// caller must not close them. A socket that is not held is an error (the
// config was not applied to the set).
func (s *Set) Files(socks []*config.Socket) ([]*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	files := make([]*os.File, len(socks))
	for k, c := range socks {
		key := c.Network + ":" + c.Address
		sock := s.held[key]
		if sock == nil {
			sock = s.retiredAt(key)
		}
		if sock == nil {
			return nil, fmt.Errorf("socket %q (%s://%s) is not held by supd", c.Name, c.Network, c.Address)
		}
		files[k] = sock.file
	}
	return files, nil
}

// Inode returns the inode of the held socket that listens like c, or 0.
func (s *Set) Inode(c *config.Socket) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sock := s.held[c.Network+":"+c.Address]; sock != nil {
		return sock.inode
	}
	return 0
}

// Release closes every retired socket that no process but supd holds, and
// returns how many retired ones are still in use.
func (s *Set) Release() (inUse int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	s.retired = slices.DeleteFunc(s.retired, func(sock *socket) bool {
		users, err := probe.SocketHolders(sock.inode, os.Getpid())
		if err != nil {
			errs = append(errs, err)
			return false
		}
		if len(users) > 0 {
			return false
		}
		if err := sock.close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", sock.key, err))
		}
		return true
	})
	return len(s.retired), errors.Join(errs...)
}

// Run calls Release every interval while sockets are retired, until ctx is
// done; with none retired it sleeps until Apply retires one (supd idle
// makes no wake-up). Errors go to report (which may be nil).
func (s *Set) Run(ctx context.Context, interval time.Duration, report func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for inUse := 1; inUse > 0; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
			var err error
			inUse, err = s.Release()
			if err != nil && report != nil {
				report(err)
			}
		}
	}
}

// Close closes every socket, held and retired, and removes the unix socket
// files supd created. supd calls it when it exits, after its children.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, sock := range s.held {
		errs = append(errs, sock.close())
	}
	for _, sock := range s.retired {
		errs = append(errs, sock.close())
	}
	s.held, s.retired = map[string]*socket{}, nil
	return errors.Join(errs...)
}
