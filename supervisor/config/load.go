package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/zclconf/go-cty/cty"
)

// DefaultPath is what Load reads when it is given no path.
const DefaultPath = "./sup.hcl"

// fileSchema is the top level of a process file.
var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "supervisor"},
		{Type: "socket", LabelNames: []string{"name"}},
		{Type: "process", LabelNames: []string{"name"}},
		{Type: "hook", LabelNames: []string{"event"}},
	},
}

var (
	supervisorSchema = attrSchema("socket", "socket_mode", "socket_group", "http", "shutdown_timeout")
)

// attrSchema is a body of optional attributes and no blocks.
func attrSchema(names ...string) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range names {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	return s
}

// Load reads process files into a validated Config. Each path is an HCL
// file, or a directory whose *.hcl files are read in name order; all files
// form one configuration. With no path it reads DefaultPath. Relative paths
// in a file (dir, env_file, ready.unix, log.file, supervisor.socket) are
// relative to the directory of that file. Reading is bounded (see
// MaxFileSize, readFile, checkTokens and budget): whatever the files hold,
// Load returns in bounded time and memory.
//
// On any error Load returns a nil Config and an *Error holding every
// diagnostic found, not only the first. Warnings alone do not fail it: they
// are in Config.Warnings.
func Load(paths ...string) (*Config, error) {
	l := &loader{
		parser:  hclparse.NewParser(),
		defined: definitions{},
		budget:  newBudget(),
		cfg:     &Config{Supervisor: Supervisor{SocketMode: DefaultSocketMode, ShutdownTimeout: 30 * time.Second}},
	}
	if len(paths) == 0 {
		paths = []string{DefaultPath}
		if _, err := os.Lstat(DefaultPath); errors.Is(err, fs.ErrNotExist) {
			l.errorFile(DefaultPath, "No config", "no path was given and there is no ./sup.hcl here: "+
				"run `supd [--check] PATH...` with a process file or a directory of *.hcl files, or create ./sup.hcl")
			return l.result()
		}
	}
	l.parse(l.expand(paths))
	if !l.diags.HasErrors() { // syntax errors first: decoding half-parsed files only adds noise
		for _, src := range l.sources {
			l.decodeFile(src)
		}
		l.link()
		l.checkHooks()
		l.warnEmpty()
	}
	return l.result()
}

// loader holds the state of one Load.
type loader struct {
	parser  *hclparse.Parser
	sources []*source
	diags   hcl.Diagnostics
	defined definitions // top-level names and the supervisor block
	procs   []*procNode
	budget  *budget // what evaluation may still cost
	// unknownRefs counts depends_on and sockets names that are not
	// defined, to bound the suggestions computed.
	unknownRefs int
	host        hostChecks // for the warnings about this machine
	cfg         *Config
}

// source is one parsed file.
type source struct {
	path string // as given, or joined with its directory
	dir  string // absolute directory of the file
	file *hcl.File
}

// expand turns the paths given into the list of files to read.
func (l *loader) expand(paths []string) []string {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		switch {
		case err != nil:
			l.errorFile(p, "Cannot read config", err.Error())
		case info.IsDir():
			files = append(files, l.dirFiles(p)...)
		default:
			files = append(files, p)
		}
	}
	return files
}

// dirFiles lists the *.hcl files of dir, sorted by name.
func (l *loader) dirFiles(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		l.errorFile(dir, "Cannot read config directory", err.Error())
		return nil
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		l.errorFile(dir, "No config files", "the directory has no *.hcl file: give a file or a directory of *.hcl files")
	}
	return files
}

// parse parses every file once, even when it is named twice.
func (l *loader) parse(files []string) {
	seen := map[string]bool{}
	for _, path := range files {
		abs, err := filepath.Abs(path)
		if err != nil {
			l.errorFile(path, "Cannot read config", err.Error())
			continue
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		if f := l.parseFile(path); f != nil {
			l.sources = append(l.sources, &source{path: path, dir: filepath.Dir(abs), file: f})
		}
	}
}

// parseFile reads, checks and parses one file, and prepares it for
// bounded evaluation. It returns nil when the file cannot be read or
// parsed at all.
func (l *loader) parseFile(path string) *hcl.File {
	src, err := readFile(path)
	if err != nil {
		l.errorFile(path, "Cannot read config", err.Error())
		return nil
	}
	if d := checkTokens(src, path); d != nil {
		l.parser.Files()[path] = &hcl.File{Bytes: src} // for the snippet
		l.diags = append(l.diags, d)
		return nil
	}
	f, diags := l.parser.ParseHCL(src, path)
	l.diags = append(l.diags, diags...)
	if body, ok := f.Body.(*hclsyntax.Body); ok && !diags.HasErrors() {
		l.diags = append(l.diags, instrument(body)...)
	}
	return f
}

// errorFile records an error about a whole file or directory.
func (l *loader) errorFile(path, summary, detail string) {
	l.errorAt(hcl.Range{Filename: path}, summary, detail)
}

// errorAt records an error at rng.
func (l *loader) errorAt(rng hcl.Range, summary, detail string) {
	l.diags = append(l.diags, diagAt(hcl.DiagError, rng, summary, detail))
}

func (l *loader) decodeFile(src *source) {
	content, diags := src.file.Body.Content(fileSchema)
	l.diags = append(l.diags, diags...)
	for _, b := range content.Blocks {
		switch b.Type {
		case "supervisor":
			l.supervisor(src, b)
		case "socket":
			l.socket(b)
		case "process":
			l.process(src, b)
		case "hook":
			l.hook(b)
		}
	}
}

// static is the evaluator for what does not depend on an instance.
func (l *loader) static() evaluator {
	return evaluator{ctx: evalContext(nil, l.budget), diags: &l.diags}
}

// instance is the evaluator for instance i of a process.
func (l *loader) instance(i int) evaluator {
	vars := map[string]cty.Value{"instance": cty.NumberIntVal(int64(i))}
	return evaluator{ctx: evalContext(vars, l.budget), diags: &l.diags}
}

// content decodes a block's body against its schema.
func (l *loader) content(b *hcl.Block, schema *hcl.BodySchema, name string) body {
	c, diags := b.Body.Content(schema)
	l.diags = append(l.diags, diags...)
	return body{name: name, block: b, attrs: c.Attributes}
}

func (l *loader) supervisor(src *source, b *hcl.Block) {
	if !l.define(l.defined, b.DefRange, "Duplicate supervisor block", "a supervisor block",
		"keep one supervisor block across all files") {
		return
	}
	sb := l.content(b, supervisorSchema, "supervisor")
	s, e := &l.cfg.Supervisor, l.static()
	field(e, sb, "socket", &s.Socket, within(src.dir))
	field(e, sb, "socket_mode", &s.SocketMode, parseControlSocketMode)
	var group socketGroup
	field(e, sb, "socket_group", &group, parseSocketGroup)
	s.SocketGroup, s.SocketGID = group.name, group.gid
	if a := sb.attrs["socket_group"]; a != nil && s.SocketGroup != "" && s.SocketMode&0o060 == 0 {
		e.errorf(a.Expr.Range(), "Invalid supervisor.socket_group", "socket_group %q has no effect with socket_mode %04o: set socket_mode = \"0660\"", s.SocketGroup, uint32(s.SocketMode))
	}
	field(e, sb, "http", &s.HTTP, parseListenAddr)
	field(e, sb, "shutdown_timeout", &s.ShutdownTimeout, positive)
}

// socket decodes a socket block; like a process, one with an invalid or
// duplicate name is checked but left out.
func (l *loader) socket(b *hcl.Block) {
	name := b.Labels[0]
	keep := l.label("socket", b) &&
		l.define(l.defined, b.LabelRanges[0], "Duplicate socket name", fmt.Sprintf("socket %q", name), "rename one of them")
	s := l.decodeSocket(b)
	if keep {
		l.cfg.Sockets = append(l.cfg.Sockets, s)
	}
}

// label checks the name of a process or socket block.
func (l *loader) label(kind string, b *hcl.Block) bool {
	if err := checkName(kind, b.Labels[0]); err != nil {
		l.errorAt(b.LabelRanges[0], "Invalid "+kind+" name", err.Error())
		return false
	}
	return true
}

// definitions maps what is defined ("process \"api\"") to where it first was.
type definitions map[string]hcl.Range

// define records that what is defined at rng. A second definition is an
// error at rng that says where the first one is and how to fix it.
func (l *loader) define(defs definitions, rng hcl.Range, summary, what, fix string) bool {
	first, dup := defs[what]
	if !dup {
		defs[what] = rng
		return true
	}
	detail := fmt.Sprintf("%s is already defined (first defined at %s:%d); %s", what, first.Filename, first.Start.Line, fix)
	l.errorAt(rng, summary, detail)
	return false
}

// result sorts the diagnostics and builds Load's return values.
func (l *loader) result() (*Config, error) {
	diags := l.sortedDiags()
	files := l.parser.Files()
	if diags.HasErrors() {
		return nil, &Error{Diags: diags, Files: files}
	}
	if len(diags) > 0 {
		l.cfg.Warnings = &Error{Diags: diags, Files: files}
	}
	if l.cfg.Supervisor.Socket == "" {
		l.cfg.Supervisor.Socket = api.DefaultSocketPath()
	}
	l.cfg.files = files
	return l.cfg, nil
}
