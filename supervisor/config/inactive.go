package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// feature is something whose every use the loader notes, so that Inactive
// can point at them.
type feature string

const (
	featureSocket  feature = "socket"
	featureSockets feature = "process.sockets"
)

// inactive lists the features that are parsed and validated but not acted
// on in this version, with what Inactive says about them. Delete an entry
// when its feature ships.
var inactive = map[feature]string{
	featureSocket:  "socket blocks (sockets held by supd and passed as LISTEN_FDS)",
	featureSockets: "the sockets attribute (LISTEN_FDS socket passing)",
}

// use is one use of a feature in a file.
type use struct {
	feature feature
	rng     hcl.Range
}

func (l *loader) note(f feature, rng hcl.Range) {
	l.cfg.uses = append(l.cfg.uses, use{f, rng})
}

// noteFeatures notes the features a process block uses.
func (l *loader) noteFeatures(bodies processBodies) {
	if a := bodies.process.attrs["sockets"]; a != nil {
		l.note(featureSockets, a.Range)
	}
}

// Inactive returns one line per use, in file order, of a feature that this
// version validates but does not act on:
//
//	sup.hcl:12:3: not active yet: log blocks (log files with rotation)
func (c *Config) Inactive() []string {
	var lines []string
	for _, u := range c.uses {
		if what, ok := inactive[u.feature]; ok {
			lines = append(lines, fmt.Sprintf("%s: not active yet: %s", position(u.rng), what))
		}
	}
	return lines
}
