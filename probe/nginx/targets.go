package nginx

import (
	"net"
	"os/user"
	"strings"
)

// Target is one address nginx sends requests to.
type Target struct {
	// Directive is "server" for a server of an upstream block, else the
	// directive that names the address: "proxy_pass", "fastcgi_pass",
	// "uwsgi_pass", "scgi_pass" or "grpc_pass".
	Directive string
	Upstream  string // the upstream block's name, for its servers
	// Address is where nginx connects: "127.0.0.1:3000", "localhost:3000",
	// "[::1]:3000" (the host as written, the port made explicit) or
	// "unix:/run/app.sock".
	Address string
	File    string
	Line    int
}

// Where is "FILE:LINE".
func (t Target) Where() string { return (&Directive{File: t.File, Line: t.Line}).Where() }

// Unix returns the socket path of a "unix:" target.
func (t Target) Unix() (path string, ok bool) { return strings.CutPrefix(t.Address, "unix:") }

// passes are the directives that send a request to an address, with the
// schemes they accept and the port a scheme implies.
var passes = map[string]map[string]string{
	"proxy_pass":   {"http": "80", "https": "443"},
	"grpc_pass":    {"grpc": "80", "grpcs": "443", "": "80"},
	"uwsgi_pass":   {"uwsgi": "", "suwsgi": "", "": ""},
	"fastcgi_pass": {"": ""},
	"scgi_pass":    {"": ""},
}

// Targets returns every address the configuration sends requests to, in
// the order they are written: each server of each upstream block once
// (whether or not a *_pass uses it), then each *_pass that names an
// address rather than an upstream. A *_pass whose address holds a
// variable ($host) is decided per request by nginx and is left out, as
// is a proxy_pass in a stream {} block naming no address.
func (c *Config) Targets() []Target {
	upstreams := map[string]bool{}
	var out []Target
	walk(c.Directives, func(d *Directive, parent *Directive) {
		if d.Name == "upstream" && d.Block != nil && len(d.Args) == 1 {
			upstreams[d.Args[0]] = true
			for _, s := range d.Block {
				if s.Name == "server" && len(s.Args) > 0 {
					if a, ok := hostPort(s.Args[0], "80"); ok {
						out = append(out, Target{Directive: "server", Upstream: d.Args[0], Address: a, File: s.File, Line: s.Line})
					}
				}
			}
		}
	})
	walk(c.Directives, func(d *Directive, parent *Directive) {
		schemes, ok := passes[d.Name]
		if !ok || len(d.Args) == 0 || strings.Contains(d.Args[0], "$") {
			return
		}
		arg := d.Args[0]
		scheme, rest, hasScheme := strings.Cut(arg, "://")
		if !hasScheme {
			scheme, rest = "", arg
		}
		defPort, known := schemes[scheme]
		if !known {
			if hasScheme || d.Name != "proxy_pass" {
				return
			}
			defPort = "" // stream {} proxy_pass: host:port, unix:, or an upstream
		}
		host := rest
		if strings.HasPrefix(rest, "unix:") {
			// http://unix:/path:/uri — the path ends at the next ':'.
			path, _, _ := strings.Cut(strings.TrimPrefix(rest, "unix:"), ":")
			if hasScheme {
				host = "unix:" + path
			}
		} else if i := strings.IndexByte(rest, '/'); i >= 0 {
			host = rest[:i]
		}
		if upstreams[host] {
			return // its servers are listed with the upstream
		}
		if a, ok := hostPort(host, defPort); ok {
			out = append(out, Target{Directive: d.Name, Address: a, File: d.File, Line: d.Line})
		}
	})
	return out
}

// walk calls fn for every directive, depth first, in order.
func walk(ds []*Directive, fn func(d, parent *Directive)) {
	var rec func(ds []*Directive, parent *Directive)
	rec = func(ds []*Directive, parent *Directive) {
		for _, d := range ds {
			fn(d, parent)
			if d.Block != nil {
				rec(d.Block, d)
			}
		}
	}
	rec(ds, nil)
}

// hostPort makes an address explicit: "unix:/path" as it is, "host" with
// defPort, "host:port" and "[v6]:port" as they are. It fails for a host
// with no port when defPort is "" (an implicit upstream nginx would
// reject).
func hostPort(s, defPort string) (string, bool) {
	if strings.HasPrefix(s, "unix:") {
		return s, len(s) > len("unix:")
	}
	if _, port, err := net.SplitHostPort(s); err == nil && port != "" {
		return s, true
	}
	if defPort == "" || s == "" {
		return "", false
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), defPort), true
}

// User is the user and group nginx's workers run as: the main context's
// `user` directive (whose group defaults to the user's name, as nginx's
// ngx_set_user does), else nginx's built-in default, nobody with the group
// nogroup where that group exists (Debian), else nobody. Explicit is false
// when the config does not say.
func (c *Config) User() (name, group string, explicit bool) {
	for _, d := range c.Directives {
		if d.Name == "user" && len(d.Args) >= 1 {
			if len(d.Args) >= 2 {
				return d.Args[0], d.Args[1], true
			}
			return d.Args[0], d.Args[0], true
		}
	}
	if _, err := user.LookupGroup("nogroup"); err == nil {
		return "nobody", "nogroup", false
	}
	return "nobody", "nobody", false
}
