package ctl

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sup-sh/sup/probe/nginx"
	"github.com/sup-sh/sup/supervisor/api"
)

// CheckProxyCommand is `supctl check-proxy [--json] [FILE]`: nginx's
// upstream targets against what really listens. supctl reads and parses
// nginx's config (so a syntax error is reported here, at its FILE:LINE);
// supd, which can read every process's sockets, gives the verdicts.
type CheckProxyCommand struct{ env }

func (c *CheckProxyCommand) Run(ctx context.Context, args []string) error {
	asJSON := c.flags().Bool("json", false, "print a JSON array, one object per target")
	files, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		return c.usageError(fmt.Errorf("one FILE only, got %d", len(files)))
	}
	path := ""
	if len(files) == 1 {
		path = files[0]
	}
	cfg, from, err := nginx.Read(ctx, path)
	if err != nil {
		return err // an *nginx.Error reads FILE:LINE: message
	}
	user, group, _ := cfg.User()
	req := api.ProxyCheckRequest{User: user, Group: group}
	for _, t := range cfg.Targets() {
		req.Targets = append(req.Targets, api.ProxyTarget{
			Address: t.Address, Where: t.Where(), Directive: t.Directive, Upstream: t.Upstream,
		})
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rows, err := c.client().CheckProxy(ctx, req)
	if err != nil {
		return err
	}
	if *asJSON {
		err = writeJSON(c.stdout, rows)
	} else {
		err = writeCheckProxy(c.stdout, from, len(cfg.Files), user, rows)
	}
	if err != nil {
		return err
	}
	bad := 0
	for _, r := range rows {
		if !r.OK() {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d upstream targets not ok", bad, len(rows))
	}
	return nil
}

// writeCheckProxy writes a header line and one row per target, its detail
// on the line below:
//
//	nginx config: /etc/nginx/nginx.conf (12 files), workers run as www-data
//	TARGET              WHERE                               PROCESS  VERDICT
//	127.0.0.1:3000      /etc/nginx/conf.d/app.conf:2        api      ok
//	unix:/run/api.sock  /etc/nginx/conf.d/app.conf:5        app      listens on unix:/run/app.sock instead
//	  ↳ unix socket path differs: /run/api.sock vs /run/app.sock
func writeCheckProxy(w io.Writer, from string, files int, user string, rows []api.ProxyCheck) error {
	plural := "s"
	if files == 1 {
		plural = ""
	}
	if _, err := fmt.Fprintf(w, "nginx config: %s (%d file%s), workers run as %s\n", from, files, plural, user); err != nil {
		return err
	}
	if len(rows) == 0 {
		_, err := io.WriteString(w, "no upstream targets (upstream server, proxy_pass, fastcgi_pass, uwsgi_pass, scgi_pass, grpc_pass)\n")
		return err
	}
	t := table{}
	t.add("", "TARGET", "WHERE", "PROCESS", "VERDICT")
	for _, r := range rows {
		t.add(r.Detail, r.Address, r.Where, cmp.Or(r.Process, "-"), r.Verdict)
	}
	var b strings.Builder
	if err := t.write(&b); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}
