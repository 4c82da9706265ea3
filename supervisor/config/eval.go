package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/gocty"
)

// envFunc is env("NAME"): supd's environment variable NAME, "" when unset.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable of supd, or an empty string.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(os.Getenv(args[0].AsString())), nil
	},
})

// evalContext is what expressions in a file see: env() and vars. What
// they evaluate is charged to b.
func evalContext(vars map[string]cty.Value, b *budget) *hcl.EvalContext {
	if vars == nil {
		vars = map[string]cty.Value{}
	}
	vars[budgetVar] = b.val()
	return &hcl.EvalContext{
		Variables: vars,
		Functions: map[string]function.Function{"env": envFunc},
	}
}

// body is the attributes of one block, named for messages: the "tcp"
// attribute of the "ready" block is reported as "ready.tcp". A block that is
// not in the file is a body with a nil block and no attributes, so decoding
// it leaves the defaults alone.
type body struct {
	name  string // "" for a process body itself
	block *hcl.Block
	attrs hcl.Attributes
}

func (b body) qualify(attr string) string {
	if b.name == "" {
		return attr
	}
	return b.name + "." + attr
}

// has reports whether any of attrs is set.
func (b body) has(attrs ...string) bool {
	_, set := b.valueRange(attrs...)
	return set
}

// valueRange is the range of the first of attrs that is set, for errors
// about a combination of attributes.
func (b body) valueRange(attrs ...string) (hcl.Range, bool) {
	for _, name := range attrs {
		if a := b.attrs[name]; a != nil {
			return a.Expr.Range(), true
		}
	}
	return hcl.Range{}, false
}

// evaluator decodes attributes in one eval context (one instance, or none)
// and appends every problem to diags.
type evaluator struct {
	ctx   *hcl.EvalContext
	diags *hcl.Diagnostics
}

// decode evaluates attribute name of b into dst, which must be a pointer
// gocty can decode into. It returns the attribute when it is in the file
// and evaluates without error, and whether dst was set: not when the value
// is null, which leaves the default like leaving the attribute out.
func (e evaluator) decode(b body, name string, dst any) (a *hcl.Attribute, set bool) {
	a = b.attrs[name]
	if a == nil {
		return nil, false
	}
	set, diags := decodeExpr(a.Expr, e.ctx, dst, "Invalid "+b.qualify(name))
	*e.diags = append(*e.diags, diags...)
	if diags.HasErrors() {
		return nil, false
	}
	return a, set
}

// decodeExpr evaluates expr into dst, a pointer gocty can decode into, and
// reports whether it did: not when there are errors or the value is null.
// It is gohcl.DecodeExpression with a summary that names the attribute and
// the whole value as the subject of a type error.
func decodeExpr(expr hcl.Expression, ctx *hcl.EvalContext, dst any, summary string) (bool, hcl.Diagnostics) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() || v.IsNull() {
		return false, diags
	}
	ty, err := gocty.ImpliedType(dst)
	if err == nil {
		v, err = convert.Convert(v, ty)
	}
	if err == nil {
		err = gocty.FromCtyValue(v, dst)
	}
	if err != nil {
		diags = append(diags, diagAt(hcl.DiagError, expr.Range(), summary, "unsuitable value: "+err.Error()))
	}
	return err == nil, diags
}

func (e evaluator) errorf(rng hcl.Range, summary, format string, args ...any) {
	*e.diags = append(*e.diags, diagAt(hcl.DiagError, rng, summary, fmt.Sprintf(format, args...)))
}

func (e evaluator) warnf(rng hcl.Range, summary, format string, args ...any) {
	*e.diags = append(*e.diags, diagAt(hcl.DiagWarning, rng, summary, fmt.Sprintf(format, args...)))
}

// field decodes attribute name of b as a T, converts it with conv and
// stores the result in dst. A conversion error becomes an "Invalid NAME"
// diagnostic at the value; dst keeps its default when the attribute is
// absent or invalid.
func field[T, V any](e evaluator, b body, name string, dst *V, conv func(T) (V, error)) {
	var raw T
	a, set := e.decode(b, name, &raw)
	if !set {
		return
	}
	v, err := conv(raw)
	if err != nil {
		e.errorf(a.Expr.Range(), "Invalid "+b.qualify(name), "%s", err)
		return
	}
	*dst = v
}

// argv decodes a command line: a list of at least one string, none empty.
// Null is an error when the attribute is required, else it leaves dst alone.
func argv(e evaluator, b body, name string, dst *[]string, required bool) {
	var args []string
	a, set := e.decode(b, name, &args)
	if a == nil || !set && !required {
		return
	}
	summary := "Invalid " + b.qualify(name)
	if len(args) == 0 {
		e.errorf(a.Expr.Range(), summary, "%s is empty: give the program and its arguments, e.g. [\"./api\", \"--port\", \"3000\"]", name)
		return
	}
	for i, arg := range args {
		if arg == "" {
			e.errorf(elemRange(a, i), summary, "element %d of %s is empty: remove it or give it a value", i, name)
			return
		}
		if strings.ContainsRune(arg, 0) {
			e.errorf(elemRange(a, i), summary, "element %d of %s contains a NUL byte, which no program argument can hold: remove it", i, name)
			return
		}
	}
	*dst = args
}

// ref is a name in a list attribute (depends_on, sockets), with the range
// of its element so that an unknown name is reported where it is written.
type ref struct {
	name string
	rng  hcl.Range
}

// refs decodes a list of names, rejecting repeats.
func refs(e evaluator, b body, name string) []ref {
	var names []string
	a, set := e.decode(b, name, &names)
	if !set {
		return nil
	}
	out := make([]ref, 0, len(names))
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if seen[n] {
			e.errorf(elemRange(a, i), "Invalid "+b.qualify(name), "%q is listed twice: remove one", n)
			continue
		}
		seen[n] = true
		out = append(out, ref{n, elemRange(a, i)})
	}
	return out
}

func refNames(refs []ref) []string {
	if len(refs) == 0 {
		return nil
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.name
	}
	return names
}

// elemRange is the range of element i of a list attribute written as a
// literal list, else the range of the whole value.
func elemRange(a *hcl.Attribute, i int) hcl.Range {
	if elems, diags := hcl.ExprList(a.Expr); !diags.HasErrors() && i < len(elems) {
		return elems[i].Range()
	}
	return a.Expr.Range()
}

// usesVariable reports whether expr refers to the variable name.
func usesVariable(expr hcl.Expression, name string) bool {
	for _, t := range expr.Variables() {
		if t.RootName() == name {
			return true
		}
	}
	return false
}

func diagAt(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}
