package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/sup-sh/sup/probe"
	"github.com/zclconf/go-cty/cty"
)

// socketSchema is the body of a socket block.
var socketSchema = &hcl.BodySchema{
	Attributes: append([]hcl.AttributeSchema{{Name: "listen", Required: true}},
		attrSchema("backlog", "mode", "user", "group").Attributes...),
}

// unixOnly are the socket attributes that only mean something for a file.
var unixOnly = []string{"mode", "user", "group"}

// defaultSocketMode is a Unix socket's mode when the block sets none: the
// owner and the group (a proxy's, with group = "www-data") may connect.
const defaultSocketMode os.FileMode = 0o660

// decodeSocket decodes the body of a socket block.
func (l *loader) decodeSocket(b *hcl.Block) *Socket {
	s := &Socket{Name: b.Labels[0], Mode: defaultSocketMode, Range: b.DefRange, attrs: map[string]hcl.Range{}}
	body, e := l.content(b, socketSchema, "socket"), l.static()
	var ep endpoint
	field(e, body, "listen", &ep, parseListen)
	s.Network, s.Address = ep.network, ep.address
	field(e, body, "backlog", &s.Backlog, between(1, math.MaxInt32))
	field(e, body, "mode", &s.Mode, parseSocketMode)
	e.decode(body, "user", &s.User)
	e.decode(body, "group", &s.Group)
	for name, a := range body.attrs {
		s.attrs[name] = a.Expr.Range()
		if s.Network == "tcp" && slices.Contains(unixOnly, name) {
			e.warnf(a.NameRange, "Ignored socket."+name,
				"%s applies to unix sockets only (this one listens on tcp://%s): it is ignored", name, s.Address)
		}
	}
	return s
}

// parseSocketMode parses a file mode written in octal, "0660".
func parseSocketMode(s string) (os.FileMode, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("invalid mode %q: want permission bits in octal, e.g. \"0660\"", s)
	}
	return os.FileMode(n), nil
}

// AttrRange is the range of the value of attribute name ("listen", "user"…)
// in the socket's block, or the block's own range when it is not set: where
// an error found while binding the socket is reported.
func (s *Socket) AttrRange(name string) hcl.Range {
	if r, ok := s.attrs[name]; ok {
		return r
	}
	return s.Range
}

// ErrorAt is an error at rng in one of c's files, printed like Load's
// errors (FILE:LINE:COL: error: summary: detail, then the source line).
// It is how problems found after loading, such as a socket that cannot be
// bound, are reported at their place in the file.
func (c *Config) ErrorAt(rng hcl.Range, summary, detail string) *Error {
	return &Error{Diags: hcl.Diagnostics{diagAt(hcl.DiagError, rng, summary, detail)}, Files: c.files}
}

// socketVars is the `socket` variable of a process's expressions:
// socket.NAME.fd is the fd NAME is passed on, 3 + its index in sockets. A
// reference to a socket the process does not list is an error at the
// reference (and evaluates to a placeholder, so that it is reported once).
func (l *loader) socketVars(bodies processBodies, listed []string) cty.Value {
	vars := map[string]cty.Value{}
	for k, name := range listed {
		vars[name] = cty.ObjectVal(map[string]cty.Value{"fd": cty.NumberIntVal(int64(3 + k))})
	}
	all := []hcl.Attributes{bodies.process.attrs}
	for _, b := range bodies.blocks {
		all = append(all, b.attrs)
	}
	for _, attrs := range all {
		for _, a := range attrs {
			for _, t := range a.Expr.Variables() {
				name, ok := socketRef(t)
				if !ok || slices.Contains(listed, name) {
					continue
				}
				detail := fmt.Sprintf("socket %q is not in this process's sockets, so it has no fd: add it to sockets = [...]", name)
				if len(listed) > 0 {
					detail += fmt.Sprintf(" (listed: %s)", strings.Join(listed, ", "))
				}
				l.errorAt(t.SourceRange(), "Invalid socket reference", detail)
				vars[name] = cty.ObjectVal(map[string]cty.Value{"fd": cty.NumberIntVal(0)})
			}
		}
	}
	return cty.ObjectVal(vars)
}

// socketRef returns NAME of a traversal socket.NAME… or socket["NAME"]….
func socketRef(t hcl.Traversal) (string, bool) {
	if len(t) < 2 || t.RootName() != "socket" {
		return "", false
	}
	switch step := t[1].(type) {
	case hcl.TraverseAttr:
		return step.Name, true
	case hcl.TraverseIndex:
		if step.Key.Type() == cty.String && step.Key.IsKnown() {
			return step.Key.AsString(), true
		}
	}
	return "", false
}

// linkSockets sets Spec.Listen, and the accept checks of every service instance with
// sockets (see probe.ReadySpec.Accepting): a held socket proves nothing by
// being bound, since the tree has it from its first instruction, so the
// tcp or unix check of a held address, or the absence of a ready block,
// means "accepting connections from it".
func (l *loader) linkSockets() {
	l.uniqueListens()
	for _, node := range l.procs {
		for _, spec := range node.proc.Instances {
			for _, name := range spec.Sockets {
				if s := l.cfg.Socket(name); s != nil {
					spec.Listen = append(spec.Listen, s.Network+"://"+s.Address)
				}
			}
			if spec.Type != Service || len(spec.Sockets) == 0 {
				continue
			}
			bare := !spec.Ready.HasChecks()
			for _, name := range spec.Sockets {
				s := l.cfg.Socket(name)
				if s == nil || s.Network == "" {
					continue // reported by checkRef, or its listen is invalid
				}
				if bare || s.covers(spec.Ready.TCP, spec.Ready.Unix) {
					spec.Ready.Accepting = append(spec.Ready.Accepting, probe.HeldSocket{Network: s.Network, Address: s.Address})
				}
			}
		}
	}
}

// uniqueListens reports a socket that listens where an earlier one does:
// supd could bind only one of them.
func (l *loader) uniqueListens() {
	first := map[string]*Socket{}
	for _, s := range l.cfg.Sockets {
		if s.Network == "" {
			continue
		}
		key := s.Network + "://" + s.Address
		if f := first[key]; f != nil {
			l.errorAt(s.AttrRange("listen"), "Invalid socket.listen", fmt.Sprintf(
				"socket %q listens on %s too (%s:%d): give each socket its own address, or list the one socket in several processes",
				f.Name, key, f.Range.Filename, f.Range.Start.Line))
			continue
		}
		first[key] = s
	}
}

// covers reports whether s is the socket that a ready check of tcp
// address tcp ("127.0.0.1:3000", "*:3000") or of unix path unixPath names.
func (s *Socket) covers(tcp, unixPath string) bool {
	if s.Network == "unix" {
		return unixPath != "" && unixPath == s.Address
	}
	checkHost, checkPort, err := net.SplitHostPort(tcp)
	if err != nil {
		return false
	}
	sockHost, sockPort, err := net.SplitHostPort(s.Address)
	if err != nil || sockPort != checkPort {
		return false
	}
	sock, err := netip.ParseAddr(sockHost)
	switch {
	case sockHost == "" || err == nil && sock.IsUnspecified():
		return true // a wildcard socket takes whatever address the check names
	case checkHost == anyHost:
		return false
	}
	check, cerr := netip.ParseAddr(checkHost)
	return err == nil && cerr == nil && check == sock
}

// socketOptions is what Describe shows after a socket's address: the
// backlog ("somaxconn" by default) and, for a unix socket, mode and owner.
func socketOptions(s *Socket) string {
	backlog := "somaxconn"
	if s.Backlog > 0 {
		backlog = strconv.Itoa(s.Backlog)
	}
	out := " backlog=" + backlog
	if s.Network == "unix" {
		out += fmt.Sprintf(" mode=%04o user=%s group=%s", uint32(s.Mode), word(s.User), word(s.Group))
	}
	return out
}
