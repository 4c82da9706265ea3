package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadHostileFiles: paths that are not a regular file of a sane size
// are refused at once, with the file and the cause, and never block.
func TestLoadHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.hcl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.hcl")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	large := filepath.Join(dir, "large.hcl")
	if err := os.WriteFile(large, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(large, MaxFileSize+1); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	withFIFO := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(withFIFO, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withFIFO, "a.hcl"), []byte(`process "a" { command = ["x"] }`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(withFIFO, "b.hcl"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, pos, msg string }{
		{fifo, fifo, "Cannot read config: it is a FIFO, not a regular file"},
		{zero, zero, "Cannot read config: it is a device, not a regular file"},
		{large, large, "Cannot read config: the file is larger than 16 MiB"},
		{withFIFO, filepath.Join(withFIFO, "b.hcl"), "Cannot read config: it is a FIFO"},
	} {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := Load(tt.path); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Load blocked") // the FIFO has no writer: opening it for reading would block
			}
			if want := tt.pos + ": error: " + tt.msg; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load(%s) = %v, want %q...", tt.path, err, want)
			}
		})
	}
}

func TestDiagnosticsBounded(t *testing.T) {
	// A megabyte of garbage made of valid tokens makes hcl report an
	// error on every line.
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		b.WriteString([]string{"a", "=", " ", "\"", "\t", "b c", "#\n", "==", "\n", "1"}[i*7%10])
	}
	dir := writeFiles(t, map[string]string{"sup.hcl": b.String()})
	_, err := Load(dir)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load = %v, want an *Error", err)
	}
	text := err.Error()
	if n := strings.Count(text, ": error: "); n != maxShown || len(cerr.Diags) <= maxShown {
		t.Errorf("%d diagnostics of %d printed, want %d", n, len(cerr.Diags), maxShown)
	}
	if !strings.Contains(text, "more diagnostics, not shown") {
		t.Errorf("no line says some were left out:\n%s", text[len(text)-300:])
	}
	if len(text) > maxShown*4*(maxSnippetWidth+200) {
		t.Errorf("%d bytes of diagnostics for 1 MiB of input", len(text))
	}
}

func TestSnippetWindow(t *testing.T) {
	line := strings.Repeat("a", 1000) + "BAD" + strings.Repeat("z", 1000)
	src := []byte("x = 1\n" + line + "\n")
	rng := rangeOf(src, "BAD", 2)
	var b strings.Builder
	writeSnippet(&b, src, rng)
	lines := strings.Split(b.String(), "\n")
	text, marks := lines[0], lines[1]
	if !strings.HasPrefix(text, "    2 | …aaa") || !strings.HasSuffix(text, "zzz…") || len(text) > maxSnippetWidth+20 {
		t.Errorf("line not cut around the range: %q", text)
	}
	if i, j := strings.Index(text, "BAD"), strings.Index(marks, "^^^"); len([]rune(text[:i])) != len([]rune(marks[:j])) || strings.Count(marks, "^") != 3 {
		t.Errorf("carets do not mark BAD:\n%s\n%s", text, marks)
	}
}

func TestWarnings(t *testing.T) {
	t.Setenv("SUP_TEST_SET", "x")
	os.Unsetenv("SUP_TEST_UNSET")
	tests := []struct {
		name string
		file string
		want []string // "LINE:COL: Summary" in file order
	}{
		{name: "clean", file: `process "a" {
  command = ["true"]
  env     = { A = env("SUP_TEST_SET") }
  dir     = "/"
  user    = "root"
}`},
		{name: "ready block without a check", file: `process "a" {
  command = ["true"]
  ready { timeout = "5s" }
}`, want: []string{"3:3: Ready block without a check"}},
		{name: "command not in PATH", file: `process "a" { command = ["sup-no-such-program", "x"] }`,
			want: []string{"1:26: Command not found"}},
		{name: "relative command", file: `process "a" { command = ["./nope"] }`, want: []string{"1:26: Command not found"}},
		{name: "built by a dependency", file: `process "build" {
  command = ["true"]
  type    = "oneshot"
}
process "a" {
  command    = ["./bin/a"]
  depends_on = ["build"]
}`},
		{name: "in PATH, with a dependency", file: `process "build" {
  command = ["true"]
  type    = "oneshot"
}
process "a" {
  command    = ["sup-no-such-program"]
  depends_on = ["build"]
}`, want: []string{"6:17: Command not found"}},
		{name: "not executable", file: `process "a" {
  command = ["./sup.hcl"]
}`, want: []string{"2:14: Command not executable"}},
		{name: "a directory", file: `process "a" { command = ["/"] }`, want: []string{"1:26: Command not executable"}},
		{name: "PATH from env", file: `process "a" {
  command = ["true"]
  env     = { PATH = "/nonexistent" }
}`, want: []string{"2:14: Command not found"}},
		{name: "missing dir", file: `process "a" {
  command = ["true"]
  dir     = "nope"
}`, want: []string{"3:13: Directory not found"}},
		{name: "missing user", file: `process "a" {
  command = ["true"]
  user    = "sup-no-such-user"
}`, want: []string{"3:13: User not found"}},
		{name: "unset env", file: `process "a" {
  command = ["true"]
  env     = { A = env("SUP_TEST_UNSET"), B = env("SUP_TEST_SET") }
}`, want: []string{"3:19: Unset environment variable"}},
		{name: "empty", file: ``, want: []string{"1:1: Empty config"}},
		{name: "comments only", file: "# nothing yet\n// really\n", want: []string{"1:1: Empty config"}},
		{name: "settings only", file: `supervisor { shutdown_timeout = "5s" }`, want: []string{"1:1: Empty config"}},
		{name: "port flag without ready", file: `process "a" { command = ["true", "--port", "3000"] }`, want: []string{"1:34: Port without a ready check"}},
		{name: "address without ready", file: `process "a" { command = ["true", "serve", "--bind=0.0.0.0:8000"] }`, want: []string{"1:43: Port without a ready check"}},
		{name: "port with ready", file: `process "a" {
  command = ["true", "--port", "3000"]
  ready { tcp = "127.0.0.1:3000" }
}`},
		{name: "port in a oneshot", file: `process "a" {
  command = ["true", "--port", "3000"]
  type    = "oneshot"
}`},
		{name: "no port", file: `process "a" { command = ["true", "1000", "a:b", "--report", "x:1"] }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, dir := loadOK(t, map[string]string{"sup.hcl": tt.file})
			var got []string
			if cfg.Warnings != nil {
				for line := range strings.SplitSeq(cfg.Warnings.Error(), "\n") {
					pos, msg, ok := strings.Cut(line, ": warning: ")
					if ok {
						summary, _, _ := strings.Cut(msg, ": ")
						got = append(got, strings.TrimPrefix(pos, filepath.Join(dir, "sup.hcl")+":")+": "+summary)
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("warnings %q, want %q\n%v", got, tt.want, cfg.Warnings)
			}
			if cfg.Empty() != (len(tt.want) > 0 && strings.HasSuffix(tt.want[0], "Empty config")) {
				t.Errorf("Empty() = %v", cfg.Empty())
			}
		})
	}
}

func TestPortArg(t *testing.T) {
	for arg, want := range map[string]bool{
		"--port": true, "-port": true, "--http-port": true, "--port=3000": true, "--listen": true, "--bind": true,
		"--bind=:80": true, ":3000": true, "0.0.0.0:8000": true, "127.0.0.1:3000": true, "localhost:3000": true,
		"tcp://[::]:80": true, "http://127.0.0.1:8080/health": true, "*:80": true,
		"--report": false, "3000": false, "a:b": false, "x:1": false, "--portable": false, "sleep": false, "-p": false,
		"2024-01-01T10:00": false,
	} {
		if got := portArg.MatchString(arg); got != want {
			t.Errorf("portArg(%q) = %v, want %v", arg, got, want)
		}
	}
}

func TestEnvFile(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // env files
		attr  string            // env_file and env attributes
		want  []string
	}{
		{name: "syntax", files: map[string]string{"a.env": `# a comment
export EXPORTED=1
PLAIN=plain value # trailing comment
SINGLE='single $SUP_TEST_HOME \n'
DOUBLE="double\nline \"quoted\" x"
EXPANDED="${PLAIN}/app"
EMPTY=
`}, attr: `env_file = ["a.env"]`, want: []string{
			"DOUBLE=double\nline \"quoted\" x", "EMPTY=", "EXPANDED=plain value/app", "EXPORTED=1",
			"PLAIN=plain value", `SINGLE=single $SUP_TEST_HOME \n`}},
		{name: "later file and env win", files: map[string]string{"a.env": "A=a\nB=a\nC=a\n", "sub/b.env": "B=b\nC=b\n"},
			attr: `env_file = ["a.env", "sub/b.env"]
  env = { C = "env" }`, want: []string{"A=a", "B=b", "C=env"}},
		{name: "none", attr: `env = { C = "env" }`, want: []string{"C=env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"sup.hcl": "process \"a\" {\n  command = [\"true\"]\n  dir = \"/\"\n  " + tt.attr + "\n}"}
			for name, content := range tt.files {
				files[name] = content
			}
			cfg, _ := loadOK(t, files)
			got, err := cfg.Processes[0].Instances[0].Environ()
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Environ() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestEnvFileReadAtEachSpawn: Environ reads the files when it is called,
// so a changed file counts at the next spawn, and a file gone is an error
// naming it.
func TestEnvFileReadAtEachSpawn(t *testing.T) {
	cfg, dir := loadOK(t, map[string]string{"sup.hcl": `process "a" {
  command  = ["true"]
  env_file = ["app.env"]
}`, "app.env": "V=1\n"})
	spec := cfg.Processes[0].Instances[0]
	path := filepath.Join(dir, "app.env")
	if got, err := spec.Environ(); err != nil || !reflect.DeepEqual(got, []string{"V=1"}) {
		t.Fatalf("Environ() = %q, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("V=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := spec.Environ(); err != nil || !reflect.DeepEqual(got, []string{"V=2"}) {
		t.Errorf("after the edit, Environ() = %q, %v; want V=2", got, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Environ(); err == nil || !strings.Contains(err.Error(), "env file "+path+": stat "+path+": no such file") {
		t.Errorf("without the file, Environ() error = %v", err)
	}
}

// BenchmarkLoad loads n processes, each depending on the one before: the
// time per process must stay flat as n grows (it was quadratic: 76 s for
// 100,000). go test -run '^$' -bench Load -benchtime 1x ./supervisor/config/
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var src strings.Builder
			for i := range n {
				fmt.Fprintf(&src, "process \"p%d\" {\n  command = [\"/bin/sleep\", \"1000\"]\n", i)
				if i > 0 {
					fmt.Fprintf(&src, "  depends_on = [\"p%d\"]\n", i-1)
				}
				src.WriteString("}\n")
			}
			dir := writeFiles(b, map[string]string{"sup.hcl": src.String()})
			b.ResetTimer()
			for b.Loop() {
				if _, err := Load(dir); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/process")
		})
	}
}
