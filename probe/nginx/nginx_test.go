package nginx

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// debian copies testdata/debian (Debian's nginx.conf, mime.types,
// fastcgi.conf, snippets and sites-enabled/default, plus an app's
// conf.d/app.conf) to a temporary directory standing for /etc/nginx, and
// returns that directory.
func debian(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir("testdata/debian", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/debian", path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b = []byte(strings.ReplaceAll(string(b), "/etc/nginx", dir))
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func wantTargets(dir string) []string {
	app, def := filepath.Join(dir, "conf.d/app.conf"), filepath.Join(dir, "sites-enabled/default")
	return []string{
		"server api 127.0.0.1:3000 " + app + ":2",
		"server api localhost:3001 " + app + ":3",
		"server api [::1]:3002 " + app + ":4",
		"server api unix:/run/api.sock " + app + ":5",
		"proxy_pass  127.0.0.1:4000 " + app + ":24",
		"proxy_pass  localhost:80 " + app + ":25",
		"proxy_pass  unix:/run/web.sock " + app + ":26",
		"uwsgi_pass  127.0.0.1:6000 " + app + ":28",
		"scgi_pass  unix:/run/scgi.sock " + app + ":29",
		"grpc_pass  [::1]:50051 " + app + ":30",
		"fastcgi_pass  unix:/run/php/php8.2-fpm.sock " + def + ":31",
	}
}

func targetLines(c *Config) []string {
	var got []string
	for _, t := range c.Targets() {
		got = append(got, fmt.Sprintf("%s %s %s %s", t.Directive, t.Upstream, t.Address, t.Where()))
	}
	return got
}

// Debian's configuration, includes and globs followed: every upstream
// target, with its FILE:LINE, and the user.
func TestLoadDebian(t *testing.T) {
	dir := debian(t)
	c, err := Load(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := targetLines(c), wantTargets(dir); !slices.Equal(got, want) {
		t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range []string{"mime.types", "conf.d/app.conf", "sites-enabled/default", "snippets/fastcgi-php.conf", "fastcgi.conf", "uwsgi_params"} {
		if !slices.Contains(c.Files, filepath.Join(dir, f)) {
			t.Errorf("%s not read; read %q", f, c.Files)
		}
	}
	if name, group, explicit := c.User(); name != "www-data" || !explicit || group != "www-data" {
		t.Errorf("User() = %q %q %v", name, group, explicit)
	}
}

// `nginx -T` prints every file after a header; the same targets come out,
// with the same positions.
func TestParseDump(t *testing.T) {
	dir := debian(t)
	c, err := Load(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	dump.WriteString("nginx: the configuration file " + c.Main + " syntax is ok\n")
	for _, f := range c.Files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&dump, "# configuration file %s:\n%s\n", f, b)
	}
	for _, f := range c.Files { // the dump is all there is: the files are gone
		os.Remove(f)
	}
	d, err := ParseDump([]byte(dump.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := targetLines(d), wantTargets(dir); !slices.Equal(got, want) {
		t.Errorf("targets from nginx -T:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := ParseDump([]byte("nginx: [emerg] unknown directive\n")); err == nil {
		t.Error("a dump with no file parsed")
	}
}

func TestDefaultUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nginx.conf")
	os.WriteFile(path, []byte("events {}\nhttp { server { location / { proxy_pass http://127.0.0.1:3000; } } }\n"), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if name, _, explicit := c.User(); name != "nobody" || explicit {
		t.Errorf("User() = %q %v, want nobody, not explicit", name, explicit)
	}
	if got := targetLines(c); len(got) != 1 || !strings.HasPrefix(got[0], "proxy_pass  127.0.0.1:3000 "+path+":2") {
		t.Errorf("targets %q", got)
	}
}

// A broken config is an *Error at its FILE:LINE, in the included file
// where the mistake is; never a panic.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, main, inc, want string }{
		{"missing semicolon in include", "http {\n include inc.conf;\n}\n", "server {\n  listen 80\n}\n", "inc.conf:3: unexpected \"}\""},
		{"unclosed block", "http {\n server {\n", "", `nginx.conf:3: unexpected end of file, expecting "}" to close "server" from line 2`},
		{"stray brace", "events {}\n}\n", "", `nginx.conf:2: unexpected "}"`},
		{"unterminated string", "events {}\nhttp { add_header X \"abc;\n}\n", "", "nginx.conf:2: unexpected end of file in a string opened here"},
		{"missing include", "events {}\ninclude nope.conf;\n", "", "nginx.conf:2: include "},
		{"self include", "include nginx.conf;\n", "", "includes nested deeper than"},
		{"bad quote", "user \"a\"b;\n", "", "nginx.conf:1: unexpected 'b' after a quoted string"},
		{"directive at eof", "events {}\nuser www-data", "", `nginx.conf:2: unexpected end of file, expecting ";" or "}" after "user"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(tc.main), 0o644)
			os.WriteFile(filepath.Join(dir, "inc.conf"), []byte(tc.inc), 0o644)
			_, err := Load(filepath.Join(dir, "nginx.conf"))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), dir+"/") {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLexer(t *testing.T) {
	src := `a "b c" 'd\'e' f\ g ${h}i "x\"y" # comment ;
	k;`
	l := &lexer{file: "f", src: []byte(src), line: 1}
	var got []string
	for {
		tok, err := l.next()
		if err != nil {
			t.Fatal(err)
		}
		if tok.kind == tokEOF {
			break
		}
		got = append(got, fmt.Sprintf("%d:%q", tok.line, tok.text))
	}
	want := []string{`1:"a"`, `1:"b c"`, `1:"d'e"`, `1:"f\\ g"`, `1:"${h}i"`, `1:"x\"y"`, `2:"k"`, `2:""`}
	if !slices.Equal(got, want) {
		t.Errorf("tokens %v\nwant   %v", got, want)
	}
}

// Read with no path runs `nginx -T` (here a script in $PATH printing a
// dump) and parses its output; when nginx fails, it reads DefaultPath.
func TestReadRunsNginxT(t *testing.T) {
	dir := t.TempDir()
	dump := filepath.Join(dir, "dump")
	os.WriteFile(dump, []byte("# configuration file /etc/nginx/nginx.conf:\nevents {}\nhttp {\n  include /etc/nginx/conf.d/*.conf;\n}\n\n"+
		"# configuration file /etc/nginx/conf.d/a.conf:\nserver { location / { proxy_pass http://127.0.0.1:3000; } }\n\n"), 0o644)
	script := filepath.Join(dir, "nginx")
	os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = -T ] || exit 2\n/bin/cat "+dump+"\n"), 0o755)
	t.Setenv("PATH", dir)
	c, from, err := Read(context.Background(), "")
	if err != nil || from != "nginx -T" {
		t.Fatalf("Read = %v, %q", err, from)
	}
	if got := targetLines(c); len(got) != 1 || got[0] != "proxy_pass  127.0.0.1:3000 /etc/nginx/conf.d/a.conf:1" {
		t.Errorf("targets %q", got)
	}

	os.WriteFile(script, []byte("#!/bin/sh\necho 'nginx: [emerg] unexpected \"}\"' >&2\nexit 1\n"), 0o755)
	if _, err := os.Stat(DefaultPath); err == nil {
		t.Skip(DefaultPath + " exists here: the fallback would read it")
	}
	_, from, err = Read(context.Background(), "")
	if from != DefaultPath || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read with a failing nginx = %v, %q; want %s not found", err, from, DefaultPath)
	}
}
