package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// MaxInstances bounds the number of instances of a process, in the file
// (`instances`) and at run time (`supctl scale`): a typo must not make supd
// spawn a million processes.
const MaxInstances = maxInstances

// Spec evaluates instance k of the process as if the file said
// `instances = n`: with `instance` bound to k, and named for n (InstanceName).
// It lets supd run more (or fewer) instances than the file says (`supctl
// scale`) with each one's own command, ports and checks. k may be beyond
// len(p.Instances); 0 <= k < n <= MaxInstances. The files are not read
// again: the expressions are those loaded, evaluated anew (env() reads
// supd's environment now). An error is an *Error with the positions of the
// attributes that fail for k.
func (p *Process) Spec(k, n int) (*Spec, error) {
	switch {
	case n < 1 || n > MaxInstances:
		return nil, fmt.Errorf("%d instances of %s: use 1 to %d", n, p.Name, MaxInstances)
	case k < 0 || k >= n:
		return nil, fmt.Errorf("instance %d of %s is not among 0 to %d", k, p.Name, n-1)
	case p.eval == nil:
		return nil, fmt.Errorf("process %s was not loaded from a file: its instances cannot be evaluated", p.Name)
	}
	return p.eval(k, n)
}

// evalInstance returns the evaluator of Process.Spec for process p, whose
// block bodies (already decoded once) are kept for it.
func (l *loader) evalInstance(src *source, bodies processBodies, p *Process) func(k, n int) (*Spec, error) {
	parser := l.parser
	return func(k, n int) (*Spec, error) {
		sub := &loader{parser: parser}
		spec := sub.spec(src, bodies, p, k, n)
		if !sub.diags.HasErrors() {
			return spec, nil
		}
		for _, d := range sub.diags {
			if d.Severity == hcl.DiagError {
				d.Detail += fmt.Sprintf(" (with instance = %d)", k)
			}
		}
		return nil, &Error{Diags: sub.diags, Files: parser.Files()}
	}
}
