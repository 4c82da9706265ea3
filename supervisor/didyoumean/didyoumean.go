// Package didyoumean suggests the known name a user probably meant when
// they mistyped one: a process, a command, a config reference.
package didyoumean

import (
	"github.com/agext/levenshtein"
)

// Closest returns the name of known closest to given when it is close
// enough to be a likely typo (at most 2 edits, and fewer edits than given
// has characters), else "". The first of equally close names wins.
func Closest(given string, known []string) string {
	best, dist := "", 3
	for _, n := range known {
		if d := levenshtein.Distance(given, n, nil); d < dist && d < len(given) {
			best, dist = n, d
		}
	}
	return best
}
