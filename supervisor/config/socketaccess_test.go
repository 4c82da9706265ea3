package config

import (
	"strings"
	"testing"
)

func TestSocketAccess(t *testing.T) {
	cfg, _ := loadOK(t, one(`supervisor {
  socket_mode  = "0660"
  socket_group = "daemon"
}`))
	if s := cfg.Supervisor; s.SocketMode != 0o660 || s.SocketGroup != "daemon" || s.SocketGID != 1 {
		t.Errorf("supervisor = %+v, want mode 0660, group daemon (1)", s)
	}
	cfg, _ = loadOK(t, one(`supervisor {
  socket_mode  = "0660"
  socket_group = "1"
}`))
	if s := cfg.Supervisor; s.SocketGroup != "daemon" || s.SocketGID != 1 {
		t.Errorf("socket_group by number: %+v, want daemon (1)", s)
	}
	cfg, _ = loadOK(t, one(`process "a" { command = ["x"] }`))
	if s := cfg.Supervisor; s.SocketMode != 0o600 || s.SocketGroup != "" {
		t.Errorf("defaults: %+v, want mode 0600 and no group", s)
	}
}

func TestSocketAccessErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, pos, msg string }{
		{"others", `supervisor { socket_mode = "0666" }`, "sup.hcl:1:28", "lets every local user control supd"},
		{"not octal", `supervisor { socket_mode = "rw-rw----" }`, "sup.hcl:1:28", `want permission bits in octal`},
		{"owner cannot write", `supervisor { socket_mode = "0460" }`, "sup.hcl:1:28", "does not let supd's own user read and write it"},
		{"setuid bits", `supervisor { socket_mode = "4600" }`, "sup.hcl:1:28", "want permission bits in octal"},
		{"unknown group", `supervisor { socket_group = "no-such-group-sup" }`, "sup.hcl:1:29", `unknown group "no-such-group-sup"`},
		{"group without mode", `supervisor { socket_group = "daemon" }`, "sup.hcl:1:29", `set socket_mode = "0660"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, one(tt.src))
			_, err := Load(dir)
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tt.pos) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %v\nwant %s and %q", err, tt.pos, tt.msg)
			}
		})
	}
}
