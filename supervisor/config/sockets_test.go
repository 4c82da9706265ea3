package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sup-sh/sup/probe"
)

func TestSocketBlock(t *testing.T) {
	cfg, _ := loadOK(t, map[string]string{"sup.hcl": `
socket "web" {
  listen  = "tcp://0.0.0.0:3000"
  backlog = 4096
}
socket "app" {
  listen = "unix:///run/app.sock"
  mode   = "0640"
  user   = "app"
  group  = "www-data"
}
socket "plain" { listen = "unix:///run/plain.sock" }
process "api" {
  command = ["gunicorn", "--bind", "fd://${socket.web.fd}", "--bind", "fd://${socket["app"].fd}"]
  sockets = ["web", "app"]
}
`})
	web, app, plain := cfg.Socket("web"), cfg.Socket("app"), cfg.Socket("plain")
	if web.Network != "tcp" || web.Address != "0.0.0.0:3000" || web.Backlog != 4096 {
		t.Errorf("web = %+v", web)
	}
	if app.Network != "unix" || app.Address != "/run/app.sock" || app.Mode != 0o640 || app.User != "app" || app.Group != "www-data" || app.Backlog != 0 {
		t.Errorf("app = %+v", app)
	}
	if plain.Mode != 0o660 || plain.User != "" || plain.Group != "" {
		t.Errorf("plain = %+v, want mode 0660 and supd's owner", plain)
	}
	if got := cfg.Process("api").Instances[0].Command; !reflect.DeepEqual(got, []string{"gunicorn", "--bind", "fd://3", "--bind", "fd://4"}) {
		t.Errorf("command = %q, want socket.web.fd = 3, socket.app.fd = 4", got)
	}
	if r := web.AttrRange("backlog"); r.Start.Line != 4 || r.Start.Column != 13 {
		t.Errorf("AttrRange(backlog) = %v, want line 4 column 13", r)
	}
	if r := web.AttrRange("user"); r != web.Range {
		t.Errorf("AttrRange of an unset attribute = %v, want the block %v", r, web.Range)
	}
}

func TestSocketErrors(t *testing.T) {
	for _, tt := range []struct {
		name, file, pos, msg string
	}{
		{"bad mode", `socket "s" {
  listen = "unix:///run/s.sock"
  mode   = "rw-rw----"
}`, "sup.hcl:3:12", `invalid mode "rw-rw----": want permission bits in octal`},
		{"mode too big", `socket "s" {
  listen = "unix:///run/s.sock"
  mode   = "4777"
}`, "sup.hcl:3:12", `invalid mode "4777"`},
		{"zero backlog", `socket "s" {
  listen  = "tcp://:80"
  backlog = 0
}`, "sup.hcl:3:13", "0 is out of range"},
		{"fd of an unlisted socket", `socket "web" { listen = "tcp://:80" }
socket "admin" { listen = "tcp://:81" }
process "api" {
  command = ["app", "--fd", "${socket.admin.fd}"]
  sockets = ["web"]
}`, "sup.hcl:4:32", `socket "admin" is not in this process's sockets, so it has no fd: add it to sockets = [...] (listed: web)`},
		{"same listen twice", `socket "a" { listen = "tcp://127.0.0.1:3000" }
socket "b" { listen = "tcp://127.0.0.1:3000" }`, "sup.hcl:2:23", `socket "a" listens on tcp://127.0.0.1:3000 too (sup.hcl:1)`},
		{"fd without sockets", `process "api" {
  command = ["app", "--fd", "${socket.web.fd}"]
}`, "sup.hcl:2:32", `Invalid socket reference: socket "web" is not in this process's sockets`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, one(tt.file))
			cfg, err := Load(dir)
			var cerr *Error
			if cfg != nil || !errors.As(err, &cerr) {
				t.Fatalf("Load = %v, %v; want a config error", cfg, err)
			}
			text := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			first, _, _ := strings.Cut(text, "\n")
			if !strings.HasPrefix(first, tt.pos+": error: ") || !strings.Contains(first, tt.msg) {
				t.Errorf("error:\n%s\nwant at %s: %q", text, tt.pos, tt.msg)
			}
			if n := len(cerr.Diags); n != 1 {
				t.Errorf("%d diagnostics, want 1:\n%s", n, text)
			}
		})
	}
}

func TestAcceptingChecks(t *testing.T) {
	cfg, _ := loadOK(t, map[string]string{"sup.hcl": `
socket "web" { listen = "tcp://*:3000" }
socket "local" { listen = "tcp://127.0.0.1:3001" }
socket "sock" { listen = "unix:///run/app.sock" }
process "bare" {
  command = ["x"]
  sockets = ["web", "sock"]
}
process "tcp" {
  command = ["x"]
  sockets = ["web", "local"]
  ready { tcp = "127.0.0.1:3000" }
}
process "unix" {
  command = ["x"]
  sockets = ["sock"]
  ready { unix = "/run/app.sock" }
}
process "other" {
  command = ["x"]
  sockets = ["local"]
  ready { tcp = "127.0.0.1:4000" }
}
process "noheld" {
  command = ["x"]
  ready { tcp = "127.0.0.1:3001" }
}
process "job" {
  command = ["x"]
  type    = "oneshot"
  sockets = ["web"]
}
`})
	web := probe.HeldSocket{Network: "tcp", Address: ":3000"}
	sock := probe.HeldSocket{Network: "unix", Address: "/run/app.sock"}
	for name, want := range map[string][]probe.HeldSocket{
		"bare":   {web, sock},
		"tcp":    {web},
		"unix":   {sock},
		"other":  nil,
		"noheld": nil,
		"job":    nil,
	} {
		if got := cfg.Process(name).Instances[0].Ready.Accepting; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Accepting = %+v, want %+v", name, got, want)
		}
	}
}

func TestErrorAt(t *testing.T) {
	cfg, dir := loadOK(t, one(`socket "web" {
  listen = "tcp://127.0.0.1:3000"
}`))
	err := cfg.ErrorAt(cfg.Socket("web").AttrRange("listen"), "Cannot bind socket \"web\"", "address in use")
	want := filepath.Join(dir, "sup.hcl") + `:2:12: error: Cannot bind socket "web": address in use` + "\n" +
		`    2 |   listen = "tcp://127.0.0.1:3000"`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("ErrorAt:\n%s\nwant prefix\n%s", err, want)
	}
}

// mode, user and group on a tcp socket (as in the contract's own example)
// are ignored with a warning at the attribute.
func TestUnixOnlyAttributesOnTCPWarn(t *testing.T) {
	cfg, dir := loadOK(t, map[string]string{"sup.hcl": `socket "web" {
  listen = "tcp://127.0.0.1:3000"
  mode   = "0600"
  group  = "www-data"
}`})
	if cfg.Warnings == nil {
		t.Fatal("no warning for mode and group on a tcp socket")
	}
	text := strings.ReplaceAll(cfg.Warnings.Error(), dir+string(filepath.Separator), "")
	for _, want := range []string{"sup.hcl:3:3: warning: Ignored socket.mode", "sup.hcl:4:3: warning: Ignored socket.group"} {
		if !strings.Contains(text, want) {
			t.Errorf("warnings:\n%s\nwant %q", text, want)
		}
	}
}
