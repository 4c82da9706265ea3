package config

import (
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
)

// DefaultSocketMode is the control socket's mode when the file sets no
// socket_mode: supd's user only.
const DefaultSocketMode fs.FileMode = 0o600

// parseControlSocketMode parses `socket_mode`: an octal mode that gives
// the owner read and write, and may give the same to the group, never to
// others (the control socket stops and starts everything).
func parseControlSocketMode(s string) (fs.FileMode, error) {
	m, err := parseSocketMode(s)
	if err != nil {
		return 0, err
	}
	switch {
	case m&0o007 != 0:
		return 0, fmt.Errorf("mode %q lets every local user control supd: use \"0600\", or \"0660\" with socket_group", s)
	case m&0o600 != 0o600:
		return 0, fmt.Errorf("mode %q does not let supd's own user read and write it: use \"0600\" or \"0660\"", s)
	}
	return m, nil
}

// socketGroup is a resolved `socket_group`.
type socketGroup struct {
	name string
	gid  int
}

// parseSocketGroup resolves `socket_group`, a group name or number, to the
// group that may use the control socket (with a socket_mode that gives the
// group read and write).
func parseSocketGroup(s string) (socketGroup, error) {
	g, err := user.LookupGroup(s)
	if err != nil {
		if _, nerr := strconv.Atoi(s); nerr == nil {
			g, err = user.LookupGroupId(s)
		}
	}
	if err != nil {
		return socketGroup{}, fmt.Errorf("unknown group %q: create it (groupadd %s) or name an existing group", s, s)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return socketGroup{}, fmt.Errorf("group %q has a non-numeric id %q", s, g.Gid)
	}
	return socketGroup{name: g.Name, gid: gid}, nil
}
