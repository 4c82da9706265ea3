// Package nginx reads nginx's configuration the way nginx does — the same
// tokens, quoting, comments and `include` globs — and lists where it sends
// requests: every `upstream { server }` and every proxy_pass, fastcgi_pass,
// uwsgi_pass, scgi_pass and grpc_pass, each with the FILE:LINE it is
// written at, and the `user` its workers run as.
//
// It reads a main file and its includes from disk (Load), or the output of
// `nginx -T`, which holds every file nginx read (ParseDump). It never runs
// nginx and never connects anywhere: matching the targets against what
// really listens is the caller's job.
package nginx

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Directive is one directive: its name, arguments (unquoted, escapes
// resolved) and, for a block directive, the directives inside it.
type Directive struct {
	Name  string
	Args  []string
	File  string
	Line  int
	Block []*Directive // nil when the directive has no block
}

// Where is "FILE:LINE".
func (d *Directive) Where() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// Error is a syntax error, or a file that cannot be read, at its position.
type Error struct {
	File string
	Line int // 0 when the error is about the file as a whole
	Msg  string
	Err  error // the cause, when a file cannot be read
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Limits that keep a hostile or broken config (an include of itself, a
// glob matching thousands of files) from costing more than a real one.
const (
	maxIncludeDepth = 32
	maxFiles        = 4096
	maxFileSize     = 16 << 20
	maxNesting      = 100
)

// source is where files come from: the disk, or a dump.
type source interface {
	read(path string) ([]byte, error)
	glob(pattern string) ([]string, error)
}

type disk struct{}

func (disk) read(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("larger than %d MiB", maxFileSize>>20)
	}
	return os.ReadFile(path)
}

func (disk) glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// dump is the files of an `nginx -T` output, by path.
type dump map[string][]byte

func (d dump) read(path string) ([]byte, error) {
	b, ok := d[path]
	if !ok {
		return nil, fmt.Errorf("not in nginx -T's output: %w", os.ErrNotExist)
	}
	return b, nil
}

func (d dump) glob(pattern string) ([]string, error) {
	var out []string
	for p := range d {
		if ok, err := filepath.Match(pattern, p); err != nil {
			return nil, err
		} else if ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Config is a parsed configuration: the main file's directives with every
// include replaced by the directives of the files it names, as nginx sees
// them.
type Config struct {
	Main       string       // the main file's path
	Files      []string     // every file read, in the order read
	Directives []*Directive // the main context
}

// Load reads the main file path and every file it includes. Relative
// include paths are taken from the main file's directory, as nginx does
// with its default prefix.
func Load(path string) (*Config, error) {
	return load(disk{}, path)
}

// ParseDump parses what `nginx -T` prints: "# configuration file PATH:"
// then the file's text, for every file nginx read, the main one first.
func ParseDump(out []byte) (*Config, error) {
	const header = "# configuration file "
	files := dump{}
	var main, cur string
	var text []byte
	flush := func() {
		if cur != "" {
			// nginx writes a newline after each file's text.
			files[cur] = bytes.TrimSuffix(text, []byte("\n"))
		}
	}
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		l := bytes.TrimRight(line, "\r\n")
		if bytes.HasPrefix(l, []byte(header)) && bytes.HasSuffix(l, []byte(":")) {
			flush()
			cur, text = string(l[len(header):len(l)-1]), nil
			if main == "" {
				main = cur
			}
			continue
		}
		if cur != "" {
			text = append(text, line...)
		}
	}
	flush()
	if main == "" {
		return nil, errors.New("nginx -T printed no configuration file")
	}
	return load(files, main)
}

func load(src source, main string) (*Config, error) {
	p := &parser{src: src, prefix: filepath.Dir(main), seen: map[string]bool{}}
	c := &Config{Main: main}
	ds, err := p.file(main, 0)
	c.Directives, c.Files = ds, p.files
	return c, err
}

// parser reads files and splices includes.
type parser struct {
	src    source
	prefix string
	files  []string
	seen   map[string]bool
}

// file parses the file at path, included at depth.
func (p *parser) file(path string, depth int) ([]*Directive, error) {
	if len(p.files) >= maxFiles {
		return nil, &Error{File: path, Msg: fmt.Sprintf("more than %d files included", maxFiles)}
	}
	b, err := p.src.read(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read: " + err.Error(), Err: err}
	}
	if !p.seen[path] {
		p.seen[path] = true
		p.files = append(p.files, path)
	}
	l := &lexer{file: path, src: b, line: 1}
	return p.block(l, depth, 0, nil)
}

// block parses directives until the end of the file, or the '}' that
// closes the block opened by open (nil for a file).
func (p *parser) block(l *lexer, depth, nesting int, open *Directive) ([]*Directive, error) {
	var out []*Directive
	for {
		d, end, err := p.directive(l, depth, nesting)
		if err != nil {
			return out, err
		}
		switch {
		case end == endFile && open != nil:
			return out, &Error{File: l.file, Line: l.line, Msg: fmt.Sprintf(`unexpected end of file, expecting "}" to close %q from line %d`, open.Name, open.Line)}
		case end == endFile:
			return out, nil
		case end == endBlock && open == nil:
			return out, &Error{File: l.file, Line: l.line, Msg: `unexpected "}"`}
		case end == endBlock:
			return out, nil
		}
		if d.Name == "include" && d.Block == nil {
			ds, err := p.include(d, depth)
			out = append(out, ds...)
			if err != nil {
				return out, err
			}
			continue
		}
		out = append(out, d)
	}
}

// include returns the directives of the files d names (a glob; no match is
// not an error, as in nginx, unless the path has no wildcard).
func (p *parser) include(d *Directive, depth int) ([]*Directive, error) {
	if len(d.Args) != 1 {
		return nil, &Error{File: d.File, Line: d.Line, Msg: `invalid number of arguments in "include" directive`}
	}
	if depth >= maxIncludeDepth {
		return nil, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("includes nested deeper than %d (does a file include itself?)", maxIncludeDepth)}
	}
	pattern := d.Args[0]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.prefix, pattern)
	}
	paths := []string{pattern}
	if strings.ContainsAny(pattern, "*?[") {
		var err error
		if paths, err = p.src.glob(pattern); err != nil {
			return nil, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %q: %v", d.Args[0], err)}
		}
	}
	var out []*Directive
	for _, path := range paths {
		ds, err := p.file(path, depth+1)
		out = append(out, ds...)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Line == 0 && e.File == path {
				// The file itself cannot be read: say where it is included.
				return out, &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf("include %s: %s", path, e.Msg), Err: e.Err}
			}
			return out, err
		}
	}
	return out, nil
}

type end int

const (
	endNone end = iota
	endFile
	endBlock
)

// directive reads one directive, or reports the end of the file or block.
func (p *parser) directive(l *lexer, depth, nesting int) (*Directive, end, error) {
	var d *Directive
	for {
		tok, err := l.next()
		if err != nil {
			return nil, endNone, err
		}
		switch {
		case tok.kind == tokEOF:
			if d != nil {
				return nil, endNone, &Error{File: l.file, Line: l.line, Msg: fmt.Sprintf(`unexpected end of file, expecting ";" or "}" after %q`, d.Name)}
			}
			return nil, endFile, nil
		case tok.kind == tokClose:
			if d != nil {
				return nil, endNone, &Error{File: l.file, Line: tok.line, Msg: `unexpected "}"`}
			}
			return nil, endBlock, nil
		case tok.kind == tokSemi:
			if d == nil {
				return nil, endNone, &Error{File: l.file, Line: tok.line, Msg: `unexpected ";"`}
			}
			return d, endNone, nil
		case tok.kind == tokOpen:
			if d == nil {
				return nil, endNone, &Error{File: l.file, Line: tok.line, Msg: `unexpected "{"`}
			}
			if nesting >= maxNesting {
				return nil, endNone, &Error{File: l.file, Line: tok.line, Msg: fmt.Sprintf("blocks nested deeper than %d", maxNesting)}
			}
			if strings.HasSuffix(d.Name, "_by_lua_block") {
				// Lua code, not nginx syntax: skipped whole.
				if err := l.skipBlock(); err != nil {
					return nil, endNone, err
				}
				d.Block = []*Directive{}
				return d, endNone, nil
			}
			block, err := p.block(l, depth, nesting+1, d)
			if err != nil {
				return nil, endNone, err
			}
			d.Block = append([]*Directive{}, block...)
			return d, endNone, nil
		case d == nil:
			// A quoted, even empty, name is a key of a map or types block.
			d = &Directive{Name: tok.text, File: l.file, Line: tok.line}
		default:
			d.Args = append(d.Args, tok.text)
		}
	}
}
