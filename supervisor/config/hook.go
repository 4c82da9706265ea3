package config

import (
	"errors"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var hookSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "command", Required: true}}}

// hookEvents are the events a hook can be attached to.
var hookEvents = []string{"crash", "fatal", "ready", "unready"}

// hookVariables are the variables a hook command can use.
var hookVariables = []string{"process", "instance", "name", "state", "exit_code"}

func (l *loader) hook(b *hcl.Block) {
	event, err := oneOf(hookEvents...)(b.Labels[0])
	if err != nil {
		l.errorAt(b.LabelRanges[0], "Invalid hook event", err.Error())
	}
	a := l.content(b, hookSchema, "hook").attrs["command"]
	if a == nil || !l.checkHookCommand(a) || err != nil {
		return
	}
	l.cfg.Hooks = append(l.cfg.Hooks, &Hook{Event: event, Command: a.Expr, Range: b.DefRange})
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
