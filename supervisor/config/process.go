package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sup-sh/sup/supervisor/bytesize"
	"github.com/zclconf/go-cty/cty"
)

// maxInstances bounds `instances`, so that a typo cannot make supd spawn a
// million processes.
const maxInstances = 10000

// processSchema is the body of a process block.
var processSchema = &hcl.BodySchema{
	Attributes: append([]hcl.AttributeSchema{{Name: "command", Required: true}},
		attrSchema("dir", "env", "env_file", "user", "instances", "type", "depends_on", "sockets", "critical").Attributes...),
	Blocks: []hcl.BlockHeaderSchema{{Type: "restart"}, {Type: "ready"}, {Type: "health"}, {Type: "stop"}, {Type: "log"}},
}

// blockSchemas are the bodies of the blocks inside a process block.
var blockSchemas = map[string]*hcl.BodySchema{
	"restart": attrSchema("policy", "backoff", "max_backoff", "reset_after", "max_restarts", "window"),
	"ready":   attrSchema("tcp", "unix", "http", "exec", "notify", "notification_fd", "log", "timeout"),
	"health":  attrSchema("http", "tcp", "exec", "interval", "failures", "max_memory"),
	"stop":    attrSchema("drain", "signal", "timeout"),
	"log":     attrSchema("file", "max_size", "max_files", "timestamps", "supd_stream"),
}

// invariant are the process attributes that must be the same for every
// instance: they are evaluated once, without `instance` in scope.
var invariant = []string{"instances", "type", "depends_on", "sockets", "critical"}

// procNode is a process as a node of the dependency graph, with the
// ranges of its references for the checks across processes.
type procNode struct {
	proc      *Process
	dependsOn []ref
	sockets   []ref
}

// process decodes a process block. One with an invalid or duplicate name
// is still checked, for its own errors, but left out of the config.
func (l *loader) process(src *source, b *hcl.Block) {
	name := b.Labels[0]
	keep := l.label("process", b) &&
		l.define(l.defined, b.LabelRanges[0], "Duplicate process name", fmt.Sprintf("process %q", name), "rename one of them")
	mark := len(l.diags)
	bodies := l.processBodies(b)
	node := &procNode{proc: &Process{Name: name, Type: Service, Range: b.DefRange}}
	n := l.invariants(bodies.process, node)
	bodies.sockets = l.socketVars(bodies, node.proc.Sockets)
	l.instances(src, bodies, node.proc, n)
	node.proc.eval = l.evalInstance(src, bodies, node.proc)
	l.checkType(node.proc, bodies)
	if !l.diags[mark:].HasErrors() {
		for _, s := range node.proc.Instances {
			l.warnHost(bodies.process, s)
		}
		l.warnPortWithoutReady(bodies.process, node.proc)
	}
	if keep {
		l.cfg.Processes = append(l.cfg.Processes, node.proc)
		l.procs = append(l.procs, node)
	}
}

// instances evaluates the n instances of p. It stops at the first instance
// with errors: the next ones would mostly repeat them. Errors that only a
// later instance has say which.
func (l *loader) instances(src *source, bodies processBodies, p *Process, n int) {
	for i := range n {
		mark := len(l.diags)
		p.Instances = append(p.Instances, l.spec(src, bodies, p, i, n))
		if errs := l.diags[mark:]; errs.HasErrors() {
			for _, d := range errs {
				if i > 0 && d.Severity == hcl.DiagError {
					d.Detail += fmt.Sprintf(" (with instance = %d)", i)
				}
			}
			return
		}
	}
}

// processBodies is a process block's attributes and the blocks inside it,
// each of which it may have at most once.
type processBodies struct {
	process body
	blocks  map[string]body // by block type; absent blocks are zero bodies
	sockets cty.Value       // `socket` in expressions (see socketVars)
}

func (l *loader) processBodies(b *hcl.Block) processBodies {
	c, diags := b.Body.Content(processSchema)
	l.diags = append(l.diags, diags...)
	bodies := processBodies{process: body{block: b, attrs: c.Attributes}, blocks: map[string]body{}}
	defs := definitions{}
	for _, inner := range c.Blocks {
		what := "a " + inner.Type + " block"
		if l.define(defs, inner.DefRange, "Duplicate "+inner.Type+" block", what, "merge them into one") {
			bodies.blocks[inner.Type] = l.content(inner, blockSchemas[inner.Type], inner.Type)
		}
	}
	return bodies
}

// invariants decodes the attributes shared by all instances and returns
// the number of instances (1 when that is invalid, to check the rest).
func (l *loader) invariants(b body, node *procNode) int {
	static := body{block: b.block, attrs: hcl.Attributes{}}
	for _, name := range invariant {
		a := b.attrs[name]
		switch {
		case a == nil:
		case usesVariable(a.Expr, "instance"):
			l.errorAt(a.Expr.Range(), "Invalid "+name,
				name+" is evaluated once for the whole process, so it cannot use `instance`: write a value without it")
		default:
			static.attrs[name] = a
		}
	}
	e, n, p := l.static(), 1, node.proc
	field(e, static, "instances", &n, between(1, maxInstances))
	field(e, static, "type", &p.Type, oneOf(Service, Oneshot))
	e.decode(static, "critical", &p.Critical)
	node.dependsOn, node.sockets = refs(e, static, "depends_on"), refs(e, static, "sockets")
	p.DependsOn, p.Sockets = refNames(node.dependsOn), refNames(node.sockets)
	return n
}

// spec evaluates the process body for instance i of n.
func (l *loader) spec(src *source, bodies processBodies, p *Process, i, n int) *Spec {
	s := defaultSpec()
	s.Process, s.Instance, s.Name = p.Name, i, InstanceName(p.Name, i, n)
	s.Type, s.Critical = p.Type, p.Critical
	s.DependsOn, s.Sockets = slices.Clone(p.DependsOn), slices.Clone(p.Sockets)
	s.Dir = src.dir

	e, b := l.instance(i), bodies.process
	e.ctx.Variables["socket"] = bodies.sockets
	argv(e, b, "command", &s.Command, true)
	field(e, b, "dir", &s.Dir, within(src.dir))
	field(e, b, "env", &s.Env, envList)
	decodeEnvFiles(e, b, src.dir, &s.EnvFiles)
	e.decode(b, "user", &s.User)
	decodeRestart(e, bodies.blocks["restart"], &s.Restart)
	decodeReady(e, bodies.blocks["ready"], s.Dir, len(s.Sockets), &s.Ready)
	decodeHealth(e, bodies.blocks["health"], &s.Health)
	decodeStop(e, bodies.blocks["stop"], &s.Stop)
	decodeLog(e, bodies.blocks["log"], s.Dir, &s.Log)
	return s
}

// defaultSpec is a Spec with the contract's defaults.
func defaultSpec() *Spec {
	return &Spec{
		Type: Service,
		Restart: Restart{
			Policy:     Always,
			Backoff:    100 * time.Millisecond,
			MaxBackoff: 30 * time.Second,
			ResetAfter: 10 * time.Second,
			Window:     60 * time.Second,
		},
		Ready:  Ready{Timeout: 60 * time.Second},
		Health: Health{Interval: 10 * time.Second, Failures: 3},
		Stop:   Stop{Signal: syscall.SIGTERM, Timeout: 10 * time.Second},
		Log:    Log{MaxSize: 100 << 20, MaxFiles: 5, Timestamps: true, SupdStream: true},
	}
}

// InstanceName is the name of instance i of a process with n instances:
// "api" when n is 1, else "api:i".
func InstanceName(process string, i, n int) string {
	if n == 1 {
		return process
	}
	return process + ":" + strconv.Itoa(i)
}

// envList turns env = { K = "V" } into sorted "K=V" strings.
func envList(env map[string]string) ([]string, error) {
	keys := make([]string, 0, len(env))
	for k := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("variable name %q is not valid: it must be non-empty and contain no '=' or NUL byte", k)
		}
		if strings.ContainsRune(env[k], 0) {
			return nil, fmt.Errorf("the value of %s contains a NUL byte, which no environment variable can hold: remove it", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	list := make([]string, len(keys))
	for i, k := range keys {
		list[i] = k + "=" + env[k]
	}
	return list, nil
}

func decodeRestart(e evaluator, b body, r *Restart) {
	field(e, b, "policy", &r.Policy, oneOf(Always, OnFailure, Never))
	field(e, b, "backoff", &r.Backoff, nonNegative)
	field(e, b, "max_backoff", &r.MaxBackoff, positive)
	field(e, b, "reset_after", &r.ResetAfter, nonNegative)
	field(e, b, "max_restarts", &r.MaxRestarts, atLeast(0))
	field(e, b, "window", &r.Window, positive)
	if rng, set := b.valueRange("max_backoff", "backoff"); set && r.MaxBackoff < r.Backoff {
		e.errorf(rng, "Invalid restart.max_backoff",
			"max_backoff (%s) is less than backoff (%s): raise max_backoff or lower backoff", r.MaxBackoff, r.Backoff)
	}
}

func decodeReady(e evaluator, b body, dir string, sockets int, r *Ready) {
	field(e, b, "tcp", &r.TCP, parseCheckAddr)
	field(e, b, "unix", &r.Unix, within(dir))
	field(e, b, "http", &r.HTTP, parseHTTPURL)
	argv(e, b, "exec", &r.Exec, false)
	e.decode(b, "notify", &r.Notify)
	field(e, b, "notification_fd", &r.NotificationFD, notificationFD(sockets))
	field(e, b, "log", &r.Log, regexp.Compile)
	field(e, b, "timeout", &r.Timeout, positive)
	// With held sockets a ready block of only a timeout is fine: the
	// process is ready once it accepts from them (linkSockets).
	if b.block != nil && sockets == 0 && !b.has("tcp", "unix", "http", "exec", "notify", "notification_fd", "log") {
		e.warnf(b.block.DefRange, "Ready block without a check",
			"with no check a process is ready once spawned: set tcp, unix, http, exec, notify, notification_fd or log")
	}
}

// notificationFD checks an fd number given to a process with that many
// sockets, which take fds 3 to 3+sockets-1.
func notificationFD(sockets int) func(int) (int, error) {
	return func(fd int) (int, error) {
		switch {
		case fd < 3:
			return 0, fmt.Errorf("fd %d is stdin, stdout or stderr: use 3 or more", fd)
		case fd < 3+sockets:
			return 0, fmt.Errorf("fd %d is taken by the process's sockets (fds 3 to %d): use %d or more", fd, 2+sockets, 3+sockets)
		}
		return fd, nil
	}
}

func decodeHealth(e evaluator, b body, h *Health) {
	field(e, b, "http", &h.HTTP, parseHTTPURL)
	field(e, b, "tcp", &h.TCP, parseCheckAddr)
	argv(e, b, "exec", &h.Exec, false)
	field(e, b, "interval", &h.Interval, positive)
	field(e, b, "failures", &h.Failures, atLeast(1))
	field(e, b, "max_memory", &h.MaxMemory, bytesize.Parse)
	if b.block != nil && !b.has("http", "tcp", "exec", "max_memory") {
		e.warnf(b.block.DefRange, "Health block without a check",
			"it checks nothing: set http, tcp, exec or max_memory, or remove the block")
	}
}

func decodeStop(e evaluator, b body, s *Stop) {
	field(e, b, "drain", &s.Drain, nonNegative)
	field(e, b, "signal", &s.Signal, parseSignal)
	field(e, b, "timeout", &s.Timeout, positive)
}

func decodeLog(e evaluator, b body, dir string, l *Log) {
	field(e, b, "file", &l.File, within(dir))
	field(e, b, "max_size", &l.MaxSize, positiveSize)
	field(e, b, "max_files", &l.MaxFiles, atLeast(1))
	e.decode(b, "timestamps", &l.Timestamps)
	e.decode(b, "supd_stream", &l.SupdStream)
}

func positiveSize(s string) (int64, error) {
	n, err := bytesize.Parse(s)
	if err == nil && n == 0 {
		err = fmt.Errorf("size %q must be greater than 0, e.g. \"100MiB\"", s)
	}
	return n, err
}

// checkType rejects what a process's type makes meaningless.
func (l *loader) checkType(p *Process, bodies processBodies) {
	if h := bodies.blocks["health"].block; p.Type == Oneshot && h != nil {
		l.errorAt(h.DefRange, "Invalid health block",
			"a oneshot is done once it exits, so it has no liveness to check: remove the health block or use type = \"service\"")
	}
}
