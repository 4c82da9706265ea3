package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var hookSchema = attrSchema("command", "url", "processes", "timeout")

// hookEvents are the events a hook can be attached to.
var hookEvents = []string{"crash", "fatal", "ready", "unready"}

// hookVariables are the variables a hook command can use.
var hookVariables = []string{"process", "instance", "name", "state", "exit_code"}

func (l *loader) hook(b *hcl.Block) {
	event, err := oneOf(hookEvents...)(b.Labels[0])
	if err != nil {
		l.errorAt(b.LabelRanges[0], "Invalid hook event", err.Error())
	}
	hb := l.content(b, hookSchema, "hook")
	h := &Hook{Event: event, Timeout: 10 * time.Second, Range: b.DefRange}
	e := l.static()
	ok := err == nil
	if a := hb.attrs["command"]; a != nil {
		ok = l.checkHookCommand(a) && ok
		h.Command = a.Expr
	}
	field(e, hb, "url", &h.URL, parseHTTPURL)
	field(e, hb, "timeout", &h.Timeout, positive)
	if a, set := e.decode(hb, "processes", &h.Processes); set {
		h.processesRange = a.Expr.Range()
		if h.Processes == nil {
			h.Processes = []string{}
		}
	}
	if hb.attrs["command"] == nil && hb.attrs["url"] == nil {
		l.errorAt(b.DefRange, "Hook without an action", `set command (e.g. ["/usr/local/bin/alert", "${process}"]) or url, or both`)
		ok = false
	}
	if ok {
		l.cfg.Hooks = append(l.cfg.Hooks, h)
	}
}

// checkHooks checks that every process a hook names exists.
func (l *loader) checkHooks() {
	for _, h := range l.cfg.Hooks {
		for _, name := range h.Processes {
			if l.cfg.Process(name) == nil {
				var known []string
				for _, p := range l.cfg.Processes {
					known = append(known, p.Name)
				}
				l.errorAt(h.processesRange, "Unknown process in hook.processes",
					fmt.Sprintf("no process %q (known: %s)", name, strings.Join(known, ", ")))
			}
		}
	}
}

// checkHookCommand checks what it can of a command evaluated only when the
// hook fires: it is a literal list, uses only the hook's variables, and
// evaluates to a list of strings whatever their values.
func (l *loader) checkHookCommand(a *hcl.Attribute) bool {
	const summary = "Invalid hook.command"
	if elems, diags := hcl.ExprList(a.Expr); diags.HasErrors() || len(elems) == 0 {
		l.errorAt(a.Expr.Range(), summary, `command must be a list of strings, e.g. ["/usr/local/bin/alert", "${process}"]`)
		return false
	}
	if !l.hookVariablesKnown(a) {
		return false
	}
	vars := make(map[string]cty.Value, len(hookVariables))
	for _, name := range hookVariables {
		vars[name] = cty.DynamicVal // any value: only the shape is checked
	}
	v, diags := a.Expr.Value(evalContext(vars, l.budget))
	if !diags.HasErrors() {
		if _, err := convert.Convert(v, cty.List(cty.String)); err != nil {
			diags = append(diags, diagAt(hcl.DiagError, a.Expr.Range(), summary, "command must be a list of strings: "+err.Error()))
		}
	}
	l.diags = append(l.diags, diags...)
	return !diags.HasErrors()
}

// hookVariablesKnown reports whether a hook command uses only hookVariables.
func (l *loader) hookVariablesKnown(a *hcl.Attribute) bool {
	ok := true
	for _, t := range a.Expr.Variables() {
		if !slices.Contains(hookVariables, t.RootName()) {
			l.errorAt(t.SourceRange(), "Invalid hook.command",
				"unknown variable "+t.RootName()+": a hook command can use "+strings.Join(hookVariables, ", "))
			ok = false
		}
	}
	return ok
}

// HookVars are the values a hook command sees when it fires.
type HookVars struct {
	Process  string // "api"
	Instance int
	Name     string // "api:2"
	State    string // "fatal"
	ExitCode *int   // nil: no exit code (exit_code is "")
}

// Argv evaluates the hook's command for one firing.
func (h *Hook) Argv(v HookVars) ([]string, error) {
	if h.Command == nil {
		return nil, errors.New("hook has no command")
	}
	exit := cty.StringVal("")
	if v.ExitCode != nil {
		exit = cty.NumberIntVal(int64(*v.ExitCode))
	}
	ctx := evalContext(map[string]cty.Value{
		"process":   cty.StringVal(v.Process),
		"instance":  cty.NumberIntVal(int64(v.Instance)),
		"name":      cty.StringVal(v.Name),
		"state":     cty.StringVal(v.State),
		"exit_code": exit,
	}, newBudget())
	var argv []string
	set, diags := decodeExpr(h.Command, ctx, &argv, "Invalid hook.command")
	switch {
	case diags.HasErrors():
		return nil, diags
	case !set || len(argv) == 0:
		return nil, errors.New("hook command is empty")
	}
	return argv, nil
}
