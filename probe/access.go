package probe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Identity is who a process runs as, as the kernel checks file access:
// its uid, its gid and supplementary groups.
type Identity struct {
	User   string
	Uid    int
	Groups []int // the gid first, then the supplementary groups
}

// LookupIdentity returns the identity of a process that does what nginx's
// workers do at start: setgid(group), initgroups(name, group), setuid(name).
// The supplementary groups are those of /etc/group that list name as a
// member (users and groups from other NSS sources are looked up through
// os/user, without their supplementary groups).
func LookupIdentity(name, group string) (Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Identity{}, fmt.Errorf("user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return Identity{}, fmt.Errorf("user %s: uid %q", name, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return Identity{}, fmt.Errorf("user %s: gid %q", name, u.Gid)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return Identity{}, fmt.Errorf("group %s: %w", group, err)
		}
		if gid, err = strconv.Atoi(g.Gid); err != nil {
			return Identity{}, fmt.Errorf("group %s: gid %q", group, g.Gid)
		}
	}
	id := Identity{User: name, Uid: uid, Groups: []int{gid}}
	for _, g := range memberOf("/etc/group", name) {
		if !slices.Contains(id.Groups, g) {
			id.Groups = append(id.Groups, g)
		}
	}
	return id, nil
}

// memberOf returns the gids of the groups of file (in /etc/group's format)
// that list name as a member.
func memberOf(file, name string) []int {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	var gids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// name:password:gid:member,member
		fields := bytes.Split(sc.Bytes(), []byte{':'})
		if len(fields) != 4 {
			continue
		}
		gid, err := strconv.Atoi(string(fields[2]))
		if err != nil {
			continue
		}
		for _, m := range bytes.Split(fields[3], []byte{','}) {
			if string(bytes.TrimSpace(m)) == name {
				gids = append(gids, gid)
				break
			}
		}
	}
	return gids
}

// SocketFile describes the file at a Unix socket's path.
type SocketFile struct {
	Path   string
	Exists bool
	Socket bool   // it is a socket
	Mode   string // "srwxrwx---", as ls shows it
	Owner  string // user name, or the uid when it has none
	Group  string // group name, or the gid
	// Listening is true when a listening socket is bound to this very
	// file. A socket file that exists and has no listener is stale: a
	// connect to it is refused (nginx: "111: Connection refused").
	Listening bool
}

// Stale reports whether the file is a socket nobody listens on.
func (f SocketFile) Stale() bool { return f.Socket && !f.Listening }

// String is "srwxrwx--- app:www-data".
func (f SocketFile) String() string { return f.Mode + " " + f.Owner + ":" + f.Group }

// StatSocket describes the file at path and whether something listens on
// it.
func StatSocket(path string) (SocketFile, error) {
	f := SocketFile{Path: path}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return f, nil
		}
		return f, fmt.Errorf("stat %s: %w", path, err)
	}
	f.Exists = true
	f.Socket = st.Mode&unix.S_IFMT == unix.S_IFSOCK
	f.Mode, f.Owner, f.Group = modeString(st), userName(st.Uid), groupName(st.Gid)
	if f.Socket {
		hs, err := HeldBy("unix", path)
		if err != nil {
			return f, err
		}
		f.Listening = len(hs) > 0
	}
	return f, nil
}

// CanConnect says why id cannot connect to the Unix socket at path, or ""
// when it can: connecting needs search (x) permission on every directory
// on the way and write permission on the socket file. The checks are the
// kernel's mode bits (owner, else group, else other; uid 0 passes); POSIX
// ACLs and LSMs (AppArmor, SELinux) are not read. Example: "www-data
// cannot write /run/app.sock (srwxr-xr-x root:root)".
func CanConnect(id Identity, path string) (string, error) {
	if id.Uid == 0 {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	dir := "/"
	for _, part := range strings.Split(strings.TrimPrefix(filepath.Dir(abs), "/"), "/") {
		if why, err := id.lacks(dir, 1, "search"); why != "" || err != nil {
			return why, err
		}
		if part != "" {
			dir = filepath.Join(dir, part)
		}
	}
	if dir != "/" {
		if why, err := id.lacks(dir, 1, "search"); why != "" || err != nil {
			return why, err
		}
	}
	return id.lacks(abs, 2, "write")
}

// lacks says that id lacks permission bit (1 x, 2 w, 4 r) on path, or "".
func (id Identity) lacks(path string, bit uint32, verb string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return path + " does not exist", nil
		}
		return "", fmt.Errorf("stat %s: %w", path, err)
	}
	shift := uint32(0) // other
	switch {
	case int(st.Uid) == id.Uid:
		shift = 6
	case slices.Contains(id.Groups, int(st.Gid)):
		shift = 3
	}
	if st.Mode>>shift&bit != 0 {
		return "", nil
	}
	return fmt.Sprintf("%s cannot %s %s (%s %s:%s)", id.User, verb, path, modeString(st), userName(st.Uid), groupName(st.Gid)), nil
}

// modeString is st's mode as ls shows it: "srwxr-x---", "drwxrwxrwt".
func modeString(st unix.Stat_t) string {
	b := []byte("?rwxrwxrwx")
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		b[0] = 's'
	case unix.S_IFDIR:
		b[0] = 'd'
	case unix.S_IFREG:
		b[0] = '-'
	case unix.S_IFLNK:
		b[0] = 'l'
	}
	for i := range 9 {
		if st.Mode&(1<<(8-i)) == 0 {
			b[1+i] = '-'
		}
	}
	special := func(flag uint32, at int, set, unset byte) {
		if st.Mode&flag != 0 {
			if b[at] == 'x' {
				b[at] = set
			} else {
				b[at] = unset
			}
		}
	}
	special(unix.S_ISUID, 3, 's', 'S')
	special(unix.S_ISGID, 6, 's', 'S')
	special(unix.S_ISVTX, 9, 't', 'T')
	return string(b)
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}
