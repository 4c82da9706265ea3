package ctl_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control/controltest"
)

// check-proxy sends supd the targets it parsed (with nginx's user) and
// prints supd's verdicts; exit 0 when all are ok, 1 otherwise; a syntax
// error is reported at its FILE:LINE without asking supd.
func TestCheckProxy(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	os.WriteFile(conf, []byte("user www-data;\nevents {}\nhttp {\n  upstream api { server 127.0.0.1:3000; }\n  server {\n    location / { proxy_pass http://api; }\n    location /s { fastcgi_pass unix:/run/php.sock; }\n  }\n}\n"), 0o644)
	var got api.ProxyCheckRequest
	verdicts := map[string]api.ProxyCheck{
		"127.0.0.1:3000":     {Process: "api", Kind: api.VerdictOK, Verdict: "ok"},
		"unix:/run/php.sock": {Kind: api.VerdictNobodyListening, Verdict: "nobody listening", Detail: "stale socket file /run/php.sock"},
	}
	b := controltest.NewStore(fleet()...).Backend()
	b.ProxyFunc = func(_ context.Context, req api.ProxyCheckRequest) ([]api.ProxyCheck, error) {
		got = req
		var rows []api.ProxyCheck
		for _, t := range req.Targets {
			r := verdicts[t.Address]
			r.ProxyTarget = t
			rows = append(rows, r)
		}
		return rows, nil
	}
	path := supd(t, b)
	ctx := controltest.Context(t)

	r := supctl(ctx, "--socket", path, "check-proxy", conf)
	r.want(t, 1, "1 of 2 upstream targets not ok")
	if got.User != "www-data" || got.Group != "www-data" || len(got.Targets) != 2 ||
		got.Targets[0] != (api.ProxyTarget{Address: "127.0.0.1:3000", Where: conf + ":4", Directive: "server", Upstream: "api"}) ||
		got.Targets[1] != (api.ProxyTarget{Address: "unix:/run/php.sock", Where: conf + ":7", Directive: "fastcgi_pass"}) {
		t.Errorf("request %+v", got)
	}
	for _, want := range []string{
		"nginx config: " + conf + " (1 file), workers run as www-data\n",
		"127.0.0.1:3000      " + conf + ":4  api      ok\n",
		"unix:/run/php.sock  " + conf + ":7  -        nobody listening\n  ↳ stale socket file /run/php.sock\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	verdicts["unix:/run/php.sock"] = api.ProxyCheck{Process: "php", Kind: api.VerdictOK, Verdict: "ok"}
	r = supctl(ctx, "--socket", path, "check-proxy", "--json", conf)
	r.want(t, 0, "")
	if !strings.Contains(r.stdout, `"kind": "ok"`) || !strings.Contains(r.stdout, `"where": "`+conf+`:7"`) {
		t.Errorf("--json:\n%s", r.stdout)
	}

	os.WriteFile(conf, []byte("events {}\nhttp {\n  server {\n"), 0o644)
	got = api.ProxyCheckRequest{}
	r = supctl(ctx, "--socket", path, "check-proxy", conf)
	r.want(t, 1, conf+`:4: unexpected end of file, expecting "}" to close "server" from line 3`)
	if got.Targets != nil {
		t.Error("a broken config was sent to supd")
	}
	supctl(ctx, "--socket", path, "check-proxy", conf, "other").want(t, 2, "one FILE only")
}
