package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sup-sh/sup/supervisor/api"
)

// writeFiles writes name -> content into a new temporary directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadOK loads files that must be valid.
func loadOK(t *testing.T, files map[string]string) (*Config, string) {
	t.Helper()
	dir := writeFiles(t, files)
	cfg, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg, dir
}

// spec is a Spec with the defaults, as Load makes it, changed by edit.
func spec(name, dir string, edit func(*Spec)) *Spec {
	s := defaultSpec()
	s.Process, s.Name, s.Dir = name, name, dir
	if edit != nil {
		edit(s)
	}
	return s
}

func allSpecs(cfg *Config) []*Spec {
	var specs []*Spec
	for _, p := range cfg.Processes {
		specs = append(specs, p.Instances...)
	}
	return specs
}

// specValue returns a copy of s in which the regexp is its source, so that
// specs compare with reflect.DeepEqual.
func specValue(s *Spec) (Spec, string) {
	c := *s
	var re string
	if c.Ready.Log != nil {
		re = c.Ready.Log.String()
		c.Ready.Log = nil
	}
	return c, re
}

func TestLoadSpecs(t *testing.T) {
	t.Setenv("SUP_TEST_DB", "postgres://db")
	tests := []struct {
		name string
		file string
		want func(dir string) []*Spec
	}{{
		name: "defaults",
		file: `process "a" { command = ["x"] }`,
		want: func(dir string) []*Spec {
			return []*Spec{{
				Process: "a", Name: "a", Command: []string{"x"}, Dir: dir, Type: Service,
				Restart: Restart{Policy: Always, Backoff: 100 * time.Millisecond, MaxBackoff: 30 * time.Second,
					ResetAfter: 10 * time.Second, Window: 60 * time.Second},
				Ready:  Ready{Timeout: 60 * time.Second},
				Health: Health{Interval: 10 * time.Second, Failures: 3},
				Stop:   Stop{Signal: syscall.SIGTERM, Timeout: 10 * time.Second},
				Log:    Log{MaxSize: 100 << 20, MaxFiles: 5, Timestamps: true, SupdStream: true},
			}}
		},
	}, {
		name: "instances with expressions",
		file: `process "api" {
  command   = ["./api", "--port", "${3000 + instance}", 7]
  instances = 3
  ready { tcp = "localhost:${3000 + instance}" }
}`,
		want: func(dir string) []*Spec {
			var specs []*Spec
			for i, port := range []string{"3000", "3001", "3002"} {
				specs = append(specs, spec("api", dir, func(s *Spec) {
					s.Instance, s.Name = i, "api:"+string(rune('0'+i))
					s.Command = []string{"./api", "--port", port, "7"}
					s.Ready.TCP = "127.0.0.1:" + port
				}))
			}
			return specs
		},
	}, {
		name: "env function and sorted env",
		file: `process "a" {
  command = ["x"]
  env     = { Z = "last", DB_URL = env("SUP_TEST_DB"), N = 5, UNSET = env("SUP_TEST_UNSET") }
}`,
		want: func(dir string) []*Spec {
			return []*Spec{spec("a", dir, func(s *Spec) {
				s.Env = []string{"DB_URL=postgres://db", "N=5", "UNSET=", "Z=last"}
			})}
		},
	}, {
		name: "every block",
		file: `process "a" {
  command  = ["x"]
  dir      = "srv/a"
  user     = "app"
  env      = null
  type     = "oneshot"
  critical = true
  restart {
    policy       = "on-failure"
    backoff      = "0s"
    max_backoff  = "1m"
    reset_after  = "5s"
    max_restarts = 4
    window       = "2m"
  }
  ready {
    unix            = "run/a.sock"
    http            = "https://[::1]:8443/ready"
    exec            = ["check", "--quiet"]
    notify          = true
    notification_fd = 3
    log             = "listening on .*"
    timeout         = "90s"
  }
  stop {
    drain   = "2s"
    signal  = "int"
    timeout = "1m30s"
  }
  log {
    file      = "a.log"
    max_size  = "10MB"
    max_files = 2
    timestamps = false
    supd_stream = false
  }
}`,
		want: func(dir string) []*Spec {
			return []*Spec{spec("a", filepath.Join(dir, "srv/a"), func(s *Spec) {
				s.Command, s.User, s.Type, s.Critical = []string{"x"}, "app", Oneshot, true
				s.Restart = Restart{Policy: OnFailure, MaxBackoff: time.Minute, ResetAfter: 5 * time.Second,
					MaxRestarts: 4, Window: 2 * time.Minute}
				s.Ready = Ready{Unix: filepath.Join(dir, "srv/a/run/a.sock"), HTTP: "https://[::1]:8443/ready",
					Exec: []string{"check", "--quiet"}, Notify: true, NotificationFD: 3,
					Log: regexp.MustCompile("listening on .*"), Timeout: 90 * time.Second}
				s.Stop = Stop{Drain: 2 * time.Second, Signal: syscall.SIGINT, Timeout: 90 * time.Second}
				s.Log = Log{File: filepath.Join(dir, "srv/a/a.log"), MaxSize: 10e6, MaxFiles: 2}
			})}
		},
	}, {
		name: "health and address forms",
		file: `process "a" {
  command = ["x"]
  dir     = "/srv"
  ready   { tcp = "*:80" }
  health {
    tcp        = "[::0001]:3000"
    http       = "http://127.0.0.1:3000/health"
    exec       = ["true"]
    interval   = "1s"
    failures   = 1
    max_memory = "512MiB"
  }
}
process "b" {
  command = ["x"]
  dir     = "/srv"
  ready   { tcp = ":80" }
  health {
    tcp        = "0.0.0.0:80"
    max_memory = 1024
  }
  stop    { signal = "SIGHUP" }
}`,
		want: func(string) []*Spec {
			return []*Spec{
				spec("a", "/srv", func(s *Spec) {
					s.Ready.TCP = "*:80"
					s.Health = Health{TCP: "[::1]:3000", HTTP: "http://127.0.0.1:3000/health", Exec: []string{"true"},
						Interval: time.Second, Failures: 1, MaxMemory: 512 << 20}
				}),
				spec("b", "/srv", func(s *Spec) {
					s.Ready.TCP = "*:80"
					s.Health.TCP, s.Health.MaxMemory = "0.0.0.0:80", 1024
					s.Stop.Signal = syscall.SIGHUP
				}),
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, dir := loadOK(t, map[string]string{"sup.hcl": tt.file})
			got, want := allSpecs(cfg), tt.want(dir)
			if len(got) != len(want) {
				t.Fatalf("got %d specs, want %d", len(got), len(want))
			}
			for i := range want {
				if want[i].Command == nil {
					want[i].Command = []string{"x"}
				}
				g, gre := specValue(got[i])
				w, wre := specValue(want[i])
				if !reflect.DeepEqual(g, w) || gre != wre {
					t.Errorf("spec %d:\n got %+v %q\nwant %+v %q", i, g, gre, w, wre)
				}
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	cfg, dir := loadOK(t, map[string]string{
		"b.hcl": `
supervisor {
  socket           = "run/supd.sock"
  http             = "localhost:9900"
  shutdown_timeout = "5s"
}
socket "web" { listen = "tcp://*:3000" }
socket "ctl" { listen = "unix:///run/app/../app.sock" }
process "web" {
  command    = ["web"]
  depends_on = ["api", "cache"]
  sockets    = ["web", "ctl"]
  ready { notification_fd = 5 }
}
process "cache" { command = ["cache"] }
`,
		"a.hcl": `process "api" {
  command    = ["api"]
  depends_on = ["db"]
}
process "db" { command = ["db"] }
`,
		"sub/c.hcl":   `process "ignored" { command = ["x"] }`,
		"notes.txt":   `not hcl`,
		"x.hcl.dir/x": ``,
	})
	want := Supervisor{Socket: filepath.Join(dir, "run/supd.sock"), SocketMode: DefaultSocketMode, HTTP: "127.0.0.1:9900", ShutdownTimeout: 5 * time.Second}
	if cfg.Supervisor != want {
		t.Errorf("supervisor = %+v, want %+v", cfg.Supervisor, want)
	}
	var names []string
	for _, p := range cfg.Processes {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, " "); got != "api db web cache" {
		t.Errorf("processes in file order = %q, want a.hcl then b.hcl", got)
	}
	if got := strings.Join(cfg.Order, " "); got != "db api cache web" {
		t.Errorf("order = %q", got)
	}
	web := cfg.Process("web")
	if !reflect.DeepEqual(web.DependsOn, []string{"api", "cache"}) || !reflect.DeepEqual(web.Sockets, []string{"web", "ctl"}) {
		t.Errorf("web = %+v", web)
	}
	if s := cfg.Socket("web"); s.Network != "tcp" || s.Address != ":3000" {
		t.Errorf("socket web = %+v", s)
	}
	if s := cfg.Socket("ctl"); s.Network != "unix" || s.Address != "/run/app.sock" {
		t.Errorf("socket ctl = %+v", s)
	}
	if p := cfg.Process("api"); p.Range.Filename != filepath.Join(dir, "a.hcl") || p.Range.Start.Line != 1 {
		t.Errorf("api range = %v", p.Range)
	}
}

func TestLoadDefaultSocket(t *testing.T) {
	cfg, _ := loadOK(t, map[string]string{"sup.hcl": `process "a" { command = ["x"] }`})
	if cfg.Supervisor.Socket != api.DefaultSocketPath() || cfg.Supervisor.ShutdownTimeout != 30*time.Second {
		t.Errorf("supervisor = %+v", cfg.Supervisor)
	}
}

func TestLoadNoPath(t *testing.T) {
	dir := writeFiles(t, map[string]string{"sup.hcl": `process "a" { command = ["x"] }`})
	t.Chdir(dir)
	cfg, err := Load()
	if err != nil || cfg.Processes[0].Instances[0].Dir != dir {
		t.Fatalf("Load() = %v, %v", cfg, err)
	}
}

// badCases each hold one mistake; pos is where it must be reported,
// relative to the test directory ("sup.hcl:3:5").
var badCases = []struct {
	name  string
	files map[string]string // default: none
	load  string            // path to load, relative to the test directory; default the directory
	pos   string
	msg   string
}{
	{name: "syntax", files: one(`process "a" {`), pos: "sup.hcl:1:13", msg: "Unclosed configuration block"},
	{name: "unknown attribute", files: one(`process "a" {
  comand = ["x"]
}`), pos: "sup.hcl:2:3", msg: `Unsupported argument: An argument named "comand" is not expected here. Did you mean "command"?`},
	{name: "unknown block", files: one(`process "a" {
  command = ["x"]
  readiness {}
}`), pos: "sup.hcl:3:3", msg: `Unsupported block type`},
	{name: "unknown top-level block", files: one(`program "a" {}`), pos: "sup.hcl:1:1", msg: `Unsupported block type`},
	{name: "missing command", files: one(`process "a" {}`), pos: "sup.hcl:1:13", msg: `The argument "command" is required`},
	{name: "wrong type", files: one(`process "a" { command = "x" }`), pos: "sup.hcl:1:25", msg: "Invalid command: unsuitable value: list of string required"},
	{name: "empty command", files: one(`process "a" { command = [] }`), pos: "sup.hcl:1:25", msg: "Invalid command: command is empty"},
	{name: "null command", files: one(`process "a" { command = null }`), pos: "sup.hcl:1:25", msg: "Invalid command: command is empty"},
	{name: "empty command element", files: one(`process "a" { command = ["x", ""] }`), pos: "sup.hcl:1:31", msg: "element 1 of command is empty"},
	{name: "bad duration", files: proc(`restart { backoff = "10 seconds" }`), pos: "sup.hcl:3:23", msg: `Invalid restart.backoff: invalid duration "10 seconds": use a Go duration such as "10s" or "1m30s"`},
	{name: "negative duration", files: proc(`stop { drain = "-1s" }`), pos: "sup.hcl:3:18", msg: `duration "-1s" is negative`},
	{name: "zero timeout", files: proc(`ready {
  tcp = ":80"
  timeout = "0s"
}`), pos: "sup.hcl:5:13", msg: `Invalid ready.timeout: duration "0s" must be greater than 0`},
	{name: "max_backoff below backoff", files: proc(`restart { backoff = "1m" }`), pos: "sup.hcl:3:23", msg: "max_backoff (30s) is less than backoff (1m0s)"},
	{name: "bad size", files: proc(`health { max_memory = "12 parsecs" }`), pos: "sup.hcl:3:25", msg: `invalid size "12 parsecs": use a whole number with a unit, one of B, KiB, MiB, GiB, KB, MB, GB`},
	{name: "zero log size", files: proc(`log { max_size = "0MiB" }`), pos: "sup.hcl:3:20", msg: "must be greater than 0"},
	{name: "bad signal", files: proc(`stop { signal = "SIGFOO" }`), pos: "sup.hcl:3:19", msg: `unknown signal "SIGFOO": use a name such as SIGTERM`},
	{name: "hostname address", files: proc(`ready { tcp = "example.com:80" }`), pos: "sup.hcl:3:17", msg: `host "example.com" in "example.com:80" is not an IP address`},
	{name: "bad port", files: proc(`health { tcp = "127.0.0.1:70000" }`), pos: "sup.hcl:3:18", msg: `invalid port "70000"`},
	{name: "missing port", files: proc(`ready { tcp = "127.0.0.1" }`), pos: "sup.hcl:3:17", msg: `want host:port`},
	{name: "bad listen", files: one(`socket "web" { listen = "udp://127.0.0.1:53" }`), pos: "sup.hcl:1:25", msg: `want "tcp://host:port" or "unix:///path"`},
	{name: "relative unix listen", files: one(`socket "web" { listen = "unix://app.sock" }`), pos: "sup.hcl:1:25", msg: "want an absolute path"},
	{name: "bad http listen", files: one(`supervisor { http = "9900" }`), pos: "sup.hcl:1:21", msg: "Invalid supervisor.http"},
	{name: "bad url", files: proc(`ready { http = "ftp://x/health" }`), pos: "sup.hcl:3:18", msg: `invalid URL "ftp://x/health": want http:// or https://`},
	{name: "url without host", files: proc(`health { http = "http:///health" }`), pos: "sup.hcl:3:19", msg: "Invalid health.http"},
	{name: "notification_fd below 3", files: proc(`ready { notification_fd = 2 }`), pos: "sup.hcl:3:29", msg: "fd 2 is stdin, stdout or stderr: use 3 or more"},
	{name: "notification_fd on a socket", files: one(`socket "a" { listen = "tcp://:1" }
socket "b" { listen = "tcp://:2" }
process "a" {
  command = ["x"]
  sockets = ["a", "b"]
  ready { notification_fd = 4 }
}`), pos: "sup.hcl:6:29", msg: "fd 4 is taken by the process's sockets (fds 3 to 4): use 5 or more"},
	{name: "bad regexp", files: proc(`ready { log = "((" }`), pos: "sup.hcl:3:17", msg: "error parsing regexp: missing closing )"},
	{name: "bad policy", files: proc(`restart { policy = "sometimes" }`), pos: "sup.hcl:3:22", msg: `"sometimes" is not valid: use one of "always", "on-failure", "never"`},
	{name: "bad type", files: one(`process "a" {
  command = ["x"]
  type = "daemon"
}`), pos: "sup.hcl:3:10", msg: `Invalid type: "daemon" is not valid: use one of "service", "oneshot"`},
	{name: "bad hook event", files: one(`hook "crsh" { command = ["x"] }`), pos: "sup.hcl:1:6", msg: `use one of "crash", "fatal", "ready", "unready"`},
	{name: "hook command not a list", files: one(`hook "crash" { command = "alert" }`), pos: "sup.hcl:1:26", msg: "command must be a list of strings"},
	{name: "hook without action", files: one(`hook "crash" { timeout = "1s" }`), pos: "sup.hcl:1:1", msg: "set command"},
	{name: "hook bad url", files: one(`hook "crash" { url = "ftp://x/y" }`), pos: "sup.hcl:1:22", msg: "want http:// or https://"},
	{name: "hook unknown process", files: one(`process "a" { command = ["x"] }
hook "ready" {
  url       = "http://127.0.0.1:9/h"
  processes = ["a", "b"]
}`), pos: "sup.hcl:4:15", msg: `no process "b" (known: a)`},
	{name: "hook bad timeout", files: one(`hook "crash" {
  command = ["x"]
  timeout = "0s"
}`), pos: "sup.hcl:3:13", msg: "must be greater than 0"},
	{name: "log timestamps not bool", files: proc(`log { timestamps = "often" }`), pos: "sup.hcl:3:22", msg: "bool"},
	{name: "hook unknown variable", files: one(`hook "crash" { command = ["alert", "${proc}"] }`), pos: "sup.hcl:1:39", msg: "unknown variable proc: a hook command can use process"},
	{name: "duplicate process", files: one(`process "a" { command = ["x"] }
process "a" { command = ["y"] }`), pos: "sup.hcl:2:9", msg: `process "a" is already defined (first defined at sup.hcl:1)`},
	{name: "duplicate process across files", files: map[string]string{
		"a.hcl": `process "a" { command = ["x"] }`,
		"b.hcl": `process "a" { command = ["y"] }`,
	}, pos: "b.hcl:1:9", msg: `first defined at a.hcl:1`},
	{name: "duplicate socket", files: one(`socket "s" { listen = "tcp://:1" }
socket "s" { listen = "tcp://:2" }`), pos: "sup.hcl:2:8", msg: `Duplicate socket name: socket "s" is already defined (first defined at sup.hcl:1)`},
	{name: "duplicate block in process", files: proc(`stop {}
  stop {}`), pos: "sup.hcl:4:3", msg: "Duplicate stop block: a stop block is already defined (first defined at sup.hcl:3)"},
	{name: "two supervisor blocks in a directory", files: map[string]string{
		"a.hcl": `supervisor {}`,
		"b.hcl": "\nsupervisor {}",
	}, pos: "b.hcl:2:1", msg: "Duplicate supervisor block: a supervisor block is already defined (first defined at a.hcl:1)"},
	{name: "unknown depends_on", files: one(`process "cache" { command = ["x"] }
process "a" {
  command    = ["x"]
  depends_on = ["cache", "cahce"]
}`), pos: "sup.hcl:4:26", msg: `there is no process named "cahce"; did you mean "cache"?`},
	{name: "unknown depends_on without suggestion", files: one(`process "a" {
  command    = ["x"]
  depends_on = ["postgres"]
}`), pos: "sup.hcl:3:17", msg: `there is no process named "postgres"; defined: a`},
	{name: "repeated depends_on", files: one(`process "b" { command = ["x"] }
process "a" {
  command    = ["x"]
  depends_on = ["b", "b"]
}`), pos: "sup.hcl:4:22", msg: `"b" is listed twice`},
	{name: "unknown socket", files: one(`socket "web" { listen = "tcp://:80" }
process "a" {
  command = ["x"]
  sockets = ["wbe"]
}`), pos: "sup.hcl:4:14", msg: `there is no socket named "wbe"; did you mean "web"?`},
	{name: "self dependency", files: one(`process "a" {
  command    = ["x"]
  depends_on = ["a"]
}`), pos: "sup.hcl:3:17", msg: `process "a" depends on itself`},
	{name: "dependency cycle", files: one(`process "a" {
  command    = ["x"]
  depends_on = ["b"]
}
process "b" {
  command    = ["x"]
  depends_on = ["c"]
}
process "c" {
  command    = ["x"]
  depends_on = ["a"]
}`), pos: "sup.hcl:3:17", msg: "dependency cycle: a -> b -> c -> a"},
	{name: "instances below 1", files: one(`process "a" {
  command   = ["x"]
  instances = 0
}`), pos: "sup.hcl:3:15", msg: "Invalid instances: 0 is out of range: use a number from 1 to 10000"},
	{name: "instances not whole", files: one(`process "a" {
  command   = ["x"]
  instances = 1.5
}`), pos: "sup.hcl:3:15", msg: "Invalid instances: unsuitable value"},
	{name: "error in one instance", files: one(`process "a" {
  command   = ["x"]
  instances = 3
  ready { tcp = "127.0.0.1:${65534 + instance}" }
}`), pos: "sup.hcl:4:17", msg: `invalid port "65536" in "127.0.0.1:65536": use a number from 1 to 65535 (with instance = 2)`},
	{name: "invariant uses instance", files: one(`process "a" {
  command  = ["x"]
  critical = instance == 0
}`), pos: "sup.hcl:3:14", msg: "critical is evaluated once for the whole process, so it cannot use `instance`"},
	{name: "oneshot with health", files: one(`process "a" {
  command = ["x"]
  type    = "oneshot"
  health { tcp = ":80" }
}`), pos: "sup.hcl:4:3", msg: "a oneshot is done once it exits, so it has no liveness to check"},
	{name: "bad process name", files: one(`process "api:2" { command = ["x"] }`), pos: "sup.hcl:1:9", msg: `process name "api:2" is not valid`},
	{name: "bad env name", files: proc(`}
process "b" {
  command = ["x"]
  env = { "A=B" = "x" }`), pos: "sup.hcl:6:9", msg: `variable name "A=B" is not valid`},
	{name: "unknown function", files: proc(`ready { tcp = upper("x") }`), pos: "sup.hcl:3:17", msg: "Call to unknown function"},
	{name: "missing file", load: "nope.hcl", pos: "nope.hcl", msg: "Cannot read config: stat nope.hcl: no such file or directory"},
	{name: "path through a file", files: one(`process "a" { command = ["x"] }`), load: "sup.hcl/x.hcl", pos: "sup.hcl/x.hcl", msg: "Cannot read config: stat sup.hcl/x.hcl: not a directory"},
	{name: "binary", files: one("process \"a\" {}\n" + strings.Repeat("\x00\x01%$\xff", 200)), pos: "sup.hcl:2:1", msg: "Not a process file: 800 characters that HCL does not allow"},
	{name: "NUL in command", files: one("process \"a\" { command = [\"x\", \"a\\u0000b\"] }"), pos: "sup.hcl:1:31", msg: "element 1 of command contains a NUL byte"},
	{name: "NUL in env", files: proc(`env = { A = "x\u0000" }`), pos: "sup.hcl:3:9", msg: "the value of A contains a NUL byte"},
	{name: "NUL in dir", files: proc(`dir = "a\u0000"`), pos: "sup.hcl:3:9", msg: "the path contains a NUL byte"},
	{name: "deep nesting", files: one("process \"a\" {\n  command = [\"x\"]\n  instances = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "\n}"),
		pos: "sup.hcl:3:" + strconv.Itoa(15+maxNesting-1), msg: "Nesting too deep: brackets, parentheses, braces, strings and operators nest more than 256 levels"},
	{name: "operator chain", files: proc("env = { A = " + strings.Repeat("1+", 100000) + "1 }"), pos: "sup.hcl:3:" + strconv.Itoa(16+2*(maxNesting-2)), msg: "Nesting too deep"},
	{name: "unary chain", files: proc("env = { A = " + strings.Repeat("-", 100000) + "1 }"), pos: "sup.hcl:3:" + strconv.Itoa(13+maxNesting), msg: "Nesting too deep"},
	{name: "conditional chain", files: proc("env = { A = " + strings.Repeat("true ? 1 : ", 100000) + "1 }"), pos: "sup.hcl:3:" + strconv.Itoa(15+(maxNesting-1)/2*11+5), msg: "Nesting too deep"},
	{name: "index chain", files: proc("env = { A = [1]" + strings.Repeat("[instance]", 100000) + " }"), pos: "sup.hcl:3:" + strconv.Itoa(18+(maxNesting-3)*10), msg: "Nesting too deep"},
	{name: "deep nesting in a string", files: one("process \"a\" {\n  command = [\"" + strings.Repeat("${\"", 1000) + "\"]\n}"),
		pos: "sup.hcl:2:" + strconv.Itoa(15+(maxNesting-3)/2*3+2), msg: "Nesting too deep"},
	{name: "template bomb", files: one(templateBomb), pos: "sup.hcl:3:" + strconv.Itoa(len("%{for a in ")+len(list1000)+2), msg: "Expression too large: the for-expressions of this config expand to more than 16 MiB"},
	{name: "iteration bomb", files: one("process \"a\" { command = [for a in " + list1000 + " : [for b in " + list1000 + " : \"x\"]] }"),
		pos: "sup.hcl:1:" + strconv.Itoa(25+len("[for a in ")+len(list1000)+len(" : ")), msg: "more than 100000 iterations"},
	{name: "huge number", files: proc(`env = { A = "${1e300000000}" }`), pos: "sup.hcl:3:18", msg: "Invalid number: the number is too large or too small"},
	{name: "huge product", files: proc(`env = { A = "${1e900 * 1e900}" }`), pos: "sup.hcl:3:18", msg: "the number is too large or too small"},
	{name: "missing env_file", files: proc(`env_file = ["a.env", "nope.env"]`), pos: "sup.hcl:3:24", msg: "Invalid env_file: env file "},
	{name: "malformed env_file", files: map[string]string{"sup.hcl": proc(`env_file = ["a.env"]`)["sup.hcl"], "a.env": "A=\"unterminated\n"}, pos: "sup.hcl:3:15", msg: "Invalid env_file: env file a.env: unterminated quoted value"},
	{name: "empty directory", files: map[string]string{"x.txt": ""}, pos: "", msg: "No config files: the directory has no *.hcl file"},
}

// templateBomb is two nested %{for} over 1,000 items, 7 KB of text that
// would expand to gigabytes.
var templateBomb = "process \"a\" {\n  command = [\"x\", <<EOT\n%{for a in " + list1000 + "}%{for b in " + list1000 + "}" +
	strings.Repeat("x", 100) + "%{endfor}%{endfor}\nEOT\n  ]\n}\n"

// list1000 is an HCL list of 1,000 numbers.
var list1000 = func() string {
	items := make([]string, 1000)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	return "[" + strings.Join(items, ",") + "]"
}()

// one is a single file sup.hcl.
func one(content string) map[string]string {
	return map[string]string{"sup.hcl": content}
}

// proc is a file whose process "a" has body inside, from line 3.
func proc(body string) map[string]string {
	return one("process \"a\" {\n  command = [\"x\"]\n  " + body + "\n}")
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range badCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			cfg, err := Load(filepath.Join(dir, tt.load))
			if cfg != nil || err == nil {
				t.Fatalf("Load succeeded, want an error at %s", tt.pos)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error is %T, want *Error", err)
			}
			text := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			text = strings.ReplaceAll(text, dir+": ", ": ")
			want := tt.pos + ": error: "
			for line := range strings.SplitSeq(text, "\n") {
				if strings.HasPrefix(line, want) && strings.Contains(line, tt.msg) {
					return
				}
			}
			t.Errorf("no line %q...%q in\n%s", want, tt.msg, text)
		})
	}
}

func TestLoadReportsAllErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl": `process "a" {
  command = ["x"]
  restart { backoff = "soon" }
  stop    { signal = "SIGNOPE" }
  depends_on = ["b"]
}`,
		"b.hcl": `process "a" { command = [] }
process "c" {
  comand = ["x"]
  command = ["x"]
}`,
	})
	_, err := Load(dir)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	want := []string{"a.hcl:3:23", "a.hcl:4:22", "a.hcl:5:17", "b.hcl:1:9", "b.hcl:1:25", "b.hcl:3:3"}
	var got []string
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if pos, _, ok := strings.Cut(line, ": error: "); ok {
			got = append(got, strings.TrimPrefix(pos, dir+"/"))
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors at %q, want %q in file order:\n%s", got, want, err)
	}
}

func TestErrorSnippet(t *testing.T) {
	dir := writeFiles(t, map[string]string{"sup.hcl": "process \"a\" {\n\tcomand = [\"x\"]\n  command = [\"x\"]\n  ready {\n    tcp = \"x\"\n  }\n}\n"})
	_, err := Load(filepath.Join(dir, "sup.hcl"))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	path := filepath.Join(dir, "sup.hcl")
	want := path + `:2:2: error: Unsupported argument: An argument named "comand" is not expected here.
    2 | 	comand = ["x"]
      | 	^^^^^^
` + path + `:5:11: error: Invalid ready.tcp: invalid address "x": want host:port, e.g. "127.0.0.1:3000", "[::1]:3000" or "*:3000"
    5 |     tcp = "x"
      |           ^^^
`
	var b strings.Builder
	if err := err.(*Error).Write(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if err.Error() != strings.TrimSuffix(want, "\n") {
		t.Errorf("Error() differs from Write")
	}
}

func TestSnippetMultiline(t *testing.T) {
	src := []byte("a = [\n  1,\n  2\n]\nb = 1\n")
	rng := rangeOf(src, "[\n  1,\n  2\n]", 1)
	var b strings.Builder
	writeSnippet(&b, src, rng)
	want := `    1 | a = [
      |     ^
    2 |   1,
      |   ^^
    3 |   2
      |   ^
    4 | ]
      | ^
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// rangeOf is the range of sub in src, which starts on line.
func rangeOf(src []byte, sub string, line int) (r hcl.Range) {
	i := strings.Index(string(src), sub)
	r.Start.Byte, r.End.Byte, r.Start.Line = i, i+len(sub), line
	return r
}

func TestDescribe(t *testing.T) {
	cfg, dir := loadOK(t, map[string]string{"sup.hcl": `socket "web" { listen = "tcp://127.0.0.1:3000" }
process "db" {
  command = ["db"]
  type    = "oneshot"
}
process "api" {
  command    = ["./api", "--port", "${3000 + instance}"]
  instances  = 2
  depends_on = ["db"]
  sockets    = ["web"]
  env        = { SECRET = "hunter2" }
  env_file   = [".env"]
  log { file = "/var/log/api.log" }
}
hook "crash" { command = ["alert", "${name}"] }
`, ".env": "TOKEN=s3cret\n"})
	path := filepath.Join(dir, "sup.hcl")
	var b strings.Builder
	if err := cfg.Describe(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"\nsocket web  tcp 127.0.0.1:3000 backlog=somaxconn\n",
		"\nprocess api (" + path + ":6:1) instances=2\n",
		"\n  db\n    command     [\"db\"] type=oneshot\n    dir         " + dir + " user=- env=[] env_file=[]\n",
		"\n    ready       [exited-0] timeout=1m0s\n",
		"\n  api:1\n" +
			"    command     [\"./api\" \"--port\" \"3001\"] type=service\n" +
			"    dir         " + dir + " user=- env=[SECRET] env_file=[" + filepath.Join(dir, ".env") + "]\n" +
			"    depends_on  [db] sockets=[web] critical=false\n" +
			"    ready       [accepting:tcp:127.0.0.1:3000] timeout=1m0s\n" +
			"    health      [] interval=10s failures=3\n" +
			"    restart     always backoff=100ms max_backoff=30s reset_after=10s max_restarts=0 window=1m0s\n" +
			"    stop        SIGTERM timeout=10s drain=0s\n" +
			"    log         file=/var/log/api.log max_size=100MiB max_files=5 timestamps=true supd_stream=true\n",
		"\nhook crash  command=[\"alert\", \"${name}\"] url=- processes=* timeout=10s\n",
		"\nstart order: db, api\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe() lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "s3cret") || strings.Contains(out, "not active") {
		t.Error("Describe() prints env values, or a feature as not active")
	}
}

func TestHooksSeveralPerEvent(t *testing.T) {
	cfg, _ := loadOK(t, map[string]string{"sup.hcl": `
process "api" { command = ["x"] }
process "db" { command = ["y"] }
hook "crash" { command = ["alert"] }
hook "crash" {
  url       = "https://alerts.example/sup"
  processes = ["db"]
  timeout   = "3s"
}`})
	if len(cfg.Hooks) != 2 {
		t.Fatalf("%d hooks, want 2", len(cfg.Hooks))
	}
	h0, h1 := cfg.Hooks[0], cfg.Hooks[1]
	if h0.URL != "" || h0.Timeout != 10*time.Second || !h0.Applies("api") || !h0.Applies("db") {
		t.Errorf("hook 0: %+v", h0)
	}
	if h1.Command != nil || h1.URL != "https://alerts.example/sup" || h1.Timeout != 3*time.Second || h1.Applies("api") || !h1.Applies("db") {
		t.Errorf("hook 1: %+v", h1)
	}
	if _, err := h1.Argv(HookVars{}); err == nil {
		t.Error("Argv of a url-only hook: no error")
	}
}

func TestHookArgv(t *testing.T) {
	cfg, _ := loadOK(t, map[string]string{"sup.hcl": `hook "fatal" { command = ["alert", "${name} ${state} ${exit_code}", process, instance] }`})
	code := 3
	got, err := cfg.Hooks[0].Argv(HookVars{Process: "api", Instance: 2, Name: "api:2", State: "fatal", ExitCode: &code})
	if want := []string{"alert", "api:2 fatal 3", "api", "2"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Argv = %q, %v; want %q", got, err, want)
	}
}

func TestParsers(t *testing.T) {
	checkParser(t, "parseSignal", parseSignal,
		map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "TERM": syscall.SIGTERM, "sigterm": syscall.SIGTERM,
			"kill": syscall.SIGKILL, " SIGUSR1 ": syscall.SIGUSR1},
		"", "SIG", "SIGFOO", "15")
	checkParser(t, "parseCheckAddr", parseCheckAddr,
		map[string]string{"127.0.0.1:1": "127.0.0.1:1", "localhost:80": "127.0.0.1:80", "[::1]:80": "[::1]:80",
			"*:80": "*:80", ":80": "*:80", "[::]:80": "[::]:80", "[fe80::1%eth0]:80": "[fe80::1%eth0]:80"},
		"", "80", "host:80", "1.2.3.4:0", "1.2.3.4:http", "[::1]:65536", "::1:80")
	checkParser(t, "parseListenAddr", parseListenAddr,
		map[string]string{"*:80": ":80", ":80": ":80", "localhost:80": "127.0.0.1:80", "[::1]:80": "[::1]:80"},
		"80", "[::1]")
	checkParser(t, "nonNegative", nonNegative,
		map[string]time.Duration{"0s": 0, "0": 0, "1m30s": 90 * time.Second, "100ms": 100 * time.Millisecond},
		"", "10", "10 seconds", "-1s")
	checkParser(t, "positive", positive, map[string]time.Duration{"1ns": 1}, "0s", "-1s")
}

// checkParser checks that parse turns each key of good into its value and
// fails on every one of bad.
func checkParser[T comparable](t *testing.T, name string, parse func(string) (T, error), good map[string]T, bad ...string) {
	t.Helper()
	for in, want := range good {
		if got, err := parse(in); err != nil || got != want {
			t.Errorf("%s(%q) = %v, %v; want %v", name, in, got, err, want)
		}
	}
	for _, in := range bad {
		if got, err := parse(in); err == nil {
			t.Errorf("%s(%q) = %v, want an error", name, in, got)
		}
	}
}

func TestContractExample(t *testing.T) {
	t.Setenv("DB_URL", "postgres://db")
	cfg, err := Load("testdata")
	if err != nil {
		t.Fatal(err)
	}
	api := cfg.Process("api")
	if len(api.Instances) != 2 || api.Instances[1].Name != "api:1" || api.Instances[1].Ready.TCP != "127.0.0.1:3001" {
		t.Errorf("api instances = %+v", api.Instances)
	}
	if got := api.Instances[0].Env; !reflect.DeepEqual(got, []string{"DB_URL=postgres://db", "NODE_ENV=production"}) {
		t.Errorf("env = %q", got)
	}
	if w := fileWarnings(cfg); len(w) > 0 {
		t.Errorf("warnings: %v", w)
	}
}

// fileWarnings are the warnings about the file itself, without those about
// the machine it is loaded on (a command, dir or user of another machine).
func fileWarnings(cfg *Config) hcl.Diagnostics {
	if cfg.Warnings == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, d := range cfg.Warnings.Diags {
		switch d.Summary {
		case WarnCommandNotFound, WarnNotExecutable, WarnDirNotFound, WarnUserNotFound:
		default:
			diags = append(diags, d)
		}
	}
	return diags
}

// TestExamples loads every example shipped with sup: each examples/*.hcl
// file alone, each examples/* directory with *.hcl files as a whole.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.hcl")
	inDirs, _ := filepath.Glob("../../examples/*/*.hcl")
	for _, f := range inDirs {
		if d := filepath.Dir(f); !slices.Contains(files, d) {
			files = append(files, d)
		}
	}
	if len(files) == 0 {
		t.Skip("no examples yet")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s:\n%v", f, err)
		}
	}
}

// FuzzLoad: whatever a process file holds, Load returns a config that
// Describe prints, or an *Error whose every diagnostic starts with the
// file and, within it, a position ("FILE:LINE:COL: error: …"). Run it with
// go test -run '^$' -fuzz FuzzLoad -fuzztime 2m ./supervisor/config/
func FuzzLoad(f *testing.F) {
	for _, tt := range badCases {
		for _, content := range tt.files {
			f.Add(content)
		}
	}
	f.Add(`process "a" {
  command = ["x", "${instance}"]
  instances = 3
  ready { tcp = "*:${3000 + instance}" }
}`)
	f.Fuzz(func(t *testing.T, content string) {
		dir := writeFiles(t, map[string]string{"sup.hcl": content})
		cfg, err := Load(dir)
		if err != nil {
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Diags) == 0 || err.Error() == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			file := filepath.Join(dir, "sup.hcl")
			for _, d := range cerr.Diags {
				if h := headline(d); !strings.HasPrefix(h, file+":") {
					t.Fatalf("a diagnostic without FILE:LINE:COL: %q", h)
				}
			}
			return
		}
		if err := cfg.Describe(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}
