package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/sup-sh/sup/probe"
	"github.com/sup-sh/sup/probe/nginx"
	"github.com/sup-sh/sup/supervisor/api"
)

// connectTimeout is how long why's connect to an address waits for an
// answer.
const connectTimeout = time.Second

// diagnose fills what why says beyond the status: a connect to each
// configured address, the file at each configured Unix socket path, and
// nginx's upstreams that point at the process. It runs off the loop; it
// takes about a second at most (the connects run at once).
func (s *Supervisor) diagnose(ctx context.Context, w *api.Why) {
	w.Connects = make([]api.Connect, len(w.Expect))
	var wg sync.WaitGroup
	for i, a := range w.Expect {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := probe.ConnectTo(ctx, a, connectTimeout)
			w.Connects[i] = api.Connect{Address: a, Accepted: c.Accepted, Ms: float64(c.Took.Microseconds()) / 1000, Result: c.Result}
		}()
	}

	var id *probe.Identity
	w.Upstreams = []api.ProxyCheck{}
	if cfg, from, err := s.readNginx(ctx); err != nil {
		w.Nginx = err.Error()
	} else if cfg != nil {
		w.Nginx = from
		user, group, _ := cfg.User()
		if ident, err := probe.LookupIdentity(user, group); err == nil {
			id = &ident
		} else if ident, err := probe.LookupIdentity(user, ""); err == nil {
			id = &ident
		}
		w.Upstreams = s.upstreamsOf(ctx, cfg, w.Status)
	}

	w.UnixSockets = []api.UnixSocket{}
	for i, a := range w.Expect {
		path, ok := strings.CutPrefix(a, "unix:")
		if !ok {
			continue
		}
		u := api.UnixSocket{Path: path}
		if f, err := probe.StatSocket(path); err == nil {
			u.Exists, u.Mode, u.Owner, u.Group, u.Stale = f.Exists, f.Mode, f.Owner, f.Group, f.Stale()
		}
		if id != nil && u.Exists {
			if why, err := probe.CanConnect(*id, path); err == nil {
				u.ProxyAccess = why
			}
		}
		if i < len(w.Holders) && w.Holders[i].Pid == 0 && u.Stale {
			w.Holders[i].StaleFile = true
		}
		w.UnixSockets = append(w.UnixSockets, u)
	}
	wg.Wait()
}

// readNginx reads nginx's config as Options.NginxConfig says: nil, "", nil
// when it is off, or when nginx is not installed and its default file
// does not exist.
func (s *Supervisor) readNginx(ctx context.Context) (*nginx.Config, string, error) {
	if s.nginxConfig == "off" {
		return nil, "", nil
	}
	cfg, from, err := nginx.Read(ctx, s.nginxConfig)
	if err != nil && s.nginxConfig == "" && errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil // no nginx here
	}
	if err != nil {
		return nil, "", fmt.Errorf("nginx config not read: %w", err)
	}
	return cfg, from, nil
}

// upstreamsOf checks every target of cfg and keeps those served by, or
// meant for, the process of st.
func (s *Supervisor) upstreamsOf(ctx context.Context, cfg *nginx.Config, st api.Status) []api.ProxyCheck {
	user, group, _ := cfg.User()
	req := api.ProxyCheckRequest{User: user, Group: group}
	for _, t := range cfg.Targets() {
		req.Targets = append(req.Targets, api.ProxyTarget{Address: t.Address, Where: t.Where(), Directive: t.Directive, Upstream: t.Upstream})
	}
	rows, err := s.CheckProxy(ctx, req)
	out := []api.ProxyCheck{}
	if err != nil {
		return out
	}
	for _, r := range rows {
		if r.Process == st.Name || r.Process == st.Process || strings.HasPrefix(r.Process, st.Process+":") {
			out = append(out, r)
		}
	}
	return out
}

// diagnosisChecks are the checklist's lines for what diagnose found, and
// the accept queues.
func diagnosisChecks(w api.Why) []api.Check {
	var cs []api.Check
	for _, q := range w.Status.AcceptQueue {
		c := api.Check{Question: "accept queue", OK: !q.Full()}
		switch {
		case q.Full():
			c.Answer = fmt.Sprintf("full on %s (%d/%d): new connections are dropped", q.Shown(), q.Queued, q.Backlog)
		case q.Backlog > 0:
			c.Answer = fmt.Sprintf("%s: %d waiting, backlog %d", q.Shown(), q.Queued, q.Backlog)
		default:
			c.Answer = fmt.Sprintf("%s: %d waiting", q.Shown(), q.Queued)
		}
		cs = append(cs, c)
	}
	for _, c := range w.Connects {
		cs = append(cs, api.Check{Question: "connect", OK: c.Accepted, Answer: c.Address + ": " + c.Result})
	}
	for _, u := range w.UnixSockets {
		c := api.Check{Question: "unix socket", OK: u.Exists && !u.Stale && u.ProxyAccess == ""}
		switch {
		case !u.Exists:
			c.Answer = "no socket file at " + u.Path
		case u.Stale:
			c.Answer = fmt.Sprintf("%s (%s %s:%s) is a stale socket file: nobody listens on it, connections are refused", u.Path, u.Mode, u.Owner, u.Group)
		default:
			c.Answer = fmt.Sprintf("%s: %s %s:%s", u.Path, u.Mode, u.Owner, u.Group)
		}
		if u.ProxyAccess != "" {
			c.Answer += "; " + u.ProxyAccess
		}
		cs = append(cs, c)
	}
	for _, r := range w.Upstreams {
		a := fmt.Sprintf("%s %s %s: %s", r.Where, r.Directive, r.Address, r.Verdict)
		if r.Detail != "" {
			a += " (" + r.Detail + ")"
		}
		cs = append(cs, api.Check{Question: "proxy upstream", OK: r.OK(), Answer: a})
	}
	if w.Nginx != "" && len(w.Upstreams) == 0 && strings.HasPrefix(w.Nginx, "nginx config not read") {
		cs = append(cs, api.Check{Question: "proxy upstream", OK: false, Answer: w.Nginx})
	}
	return cs
}
