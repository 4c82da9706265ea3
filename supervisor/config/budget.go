package config

import (
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Bounds on evaluation. A file of a few kilobytes can ask for gigabytes:
// two nested `for` over 1,000 items each make a million copies of their
// body. What a Load may evaluate is bounded instead: for-expression
// iterations and the bytes their values add up to (strings by length,
// collections by element count), across every expression of one Load, or
// of one Hook.Argv.
const (
	maxIterations = 100_000
	maxForBytes   = 16 << 20
	// maxExponent bounds the binary exponent of numbers: printing
	// 1e300000000 as a string would take 300 MB. 3,400 is about 1e1023.
	maxExponent = 3400
)

// budget is what is left to evaluate. Its counters are atomic: hooks may
// evaluate their commands concurrently.
type budget struct {
	iterations atomic.Int64
	bytes      atomic.Int64
	spent      atomic.Bool // the error was reported: later charges fail silently
}

func newBudget() *budget {
	b := &budget{}
	b.iterations.Store(maxIterations)
	b.bytes.Store(maxForBytes)
	return b
}

// budgetVar holds the budget in an eval context. It is not an identifier,
// so no expression can refer to it.
const budgetVar = " budget"

var budgetType = cty.Capsule("budget", reflect.TypeOf(budget{}))

func (b *budget) val() cty.Value { return cty.CapsuleVal(budgetType, b) }

// budgetOf finds the budget of ctx or of one of its parents.
func budgetOf(ctx *hcl.EvalContext) *budget {
	for c := ctx; c != nil; c = c.Parent() {
		if v, ok := c.Variables[budgetVar]; ok {
			return v.EncapsulatedValue().(*budget)
		}
	}
	return nil
}

// boundedExpr is the value, key or condition of a for-expression, charged
// to the budget at each evaluation. Once the budget is spent it returns an
// unknown value without evaluating anything, so that the loops around it
// end at once instead of running out their iterations.
type boundedExpr struct {
	hclsyntax.Expression
	loop hcl.Range // the whole for-expression, for the error
}

func (e *boundedExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	b := budgetOf(ctx)
	if b == nil {
		return e.Expression.Value(ctx)
	}
	if b.spent.Load() || b.iterations.Add(-1) < 0 {
		return b.fail(e.loop, fmt.Sprintf("%d iterations", maxIterations))
	}
	v, diags := e.Expression.Value(ctx)
	if b.bytes.Add(-valueSize(v)) < 0 {
		v, more := b.fail(e.loop, fmt.Sprintf("%d MiB", maxForBytes>>20))
		return v, append(diags, more...)
	}
	return v, diags
}

// fail reports the budget spent, once.
func (b *budget) fail(rng hcl.Range, limit string) (cty.Value, hcl.Diagnostics) {
	if b.spent.Swap(true) {
		return cty.DynamicVal, nil
	}
	return cty.DynamicVal, hcl.Diagnostics{diagAt(hcl.DiagError, rng, "Expression too large", fmt.Sprintf(
		"the for-expressions of this config expand to more than %s: a process file must not expand to that much; use fewer or smaller loops", limit))}
}

// valueSize is what v costs the budget: a string its length, a collection
// its element count (its elements were charged when they were made).
func valueSize(v cty.Value) int64 {
	if !v.IsKnown() || v.IsNull() {
		return 1
	}
	v, _ = v.Unmark()
	ty := v.Type()
	switch {
	case ty == cty.String:
		return int64(len(v.AsString())) + 1
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		return int64(v.LengthInt()) + 1
	}
	return 1
}

// instrument prepares a parsed file for bounded evaluation, and returns
// the warnings it can give by reading the syntax: it wraps the parts of
// every for-expression in boundedExpr, makes arithmetic refuse numbers
// too large to print, rejects such number literals, and warns about
// env("NAME") of a variable supd's environment does not have.
func instrument(body hclsyntax.Node) hcl.Diagnostics {
	var loops []*hclsyntax.ForExpr
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.ForExpr:
			loops = append(loops, e) // wrapped after the walk, which must see the originals
		case *hclsyntax.BinaryOpExpr:
			e.Op = boundedOp(e.Op)
		case *hclsyntax.LiteralValueExpr:
			if err := checkNumber(e.Val); err != nil {
				diags = append(diags, diagAt(hcl.DiagError, e.SrcRange, "Invalid number", err.Error()))
			}
		case *hclsyntax.FunctionCallExpr:
			diags = append(diags, checkEnvCall(e)...)
		}
		return nil
	})
	for _, e := range loops {
		e.ValExpr = &boundedExpr{e.ValExpr, e.SrcRange}
		if e.KeyExpr != nil {
			e.KeyExpr = &boundedExpr{e.KeyExpr, e.SrcRange}
		}
		if e.CondExpr != nil {
			e.CondExpr = &boundedExpr{e.CondExpr, e.SrcRange}
		}
	}
	return diags
}

// checkEnvCall warns about env("NAME") when supd's environment has no
// NAME: the value is then "", which is rarely what the file means.
func checkEnvCall(e *hclsyntax.FunctionCallExpr) hcl.Diagnostics {
	if e.Name != "env" || len(e.Args) != 1 {
		return nil
	}
	arg, diags := e.Args[0].Value(nil) // only a name that needs no variables
	if diags.HasErrors() || !arg.IsKnown() || arg.IsNull() || arg.Type() != cty.String {
		return nil
	}
	name := arg.AsString()
	if _, set := os.LookupEnv(name); set {
		return nil
	}
	return hcl.Diagnostics{diagAt(hcl.DiagWarning, e.Range(), WarnUnsetEnv, fmt.Sprintf(
		"supd's environment has no %s, so env(%q) is \"\": set it before starting supd, or write \"\" if empty is meant", name, name))}
}

// checkNumber refuses a number too large (or too close to zero) to print.
func checkNumber(v cty.Value) error {
	if v.Type() != cty.Number || !v.IsKnown() || v.IsNull() {
		return nil
	}
	v, _ = v.Unmark()
	if exp := v.AsBigFloat().MantExp(nil); exp > maxExponent || exp < -maxExponent {
		return fmt.Errorf("the number is too large or too small (more than about 1000 digits): use a number between 1e-1000 and 1e1000")
	}
	return nil
}

// boundedOps are hcl's operations with checkNumber applied to their
// results, made once per operation.
var boundedOps sync.Map // *hclsyntax.Operation -> *hclsyntax.Operation

func boundedOp(op *hclsyntax.Operation) *hclsyntax.Operation {
	if b, ok := boundedOps.Load(op); ok {
		return b.(*hclsyntax.Operation)
	}
	bounded := *op
	impl := op.Impl
	bounded.Impl = function.New(&function.Spec{
		Params:   impl.Params(),
		VarParam: impl.VarParam(),
		Type:     impl.ReturnTypeForValues,
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := impl.Call(args)
			if err == nil {
				err = checkNumber(v)
			}
			return v, err
		},
	})
	b, _ := boundedOps.LoadOrStore(op, &bounded)
	return b.(*hclsyntax.Operation)
}
