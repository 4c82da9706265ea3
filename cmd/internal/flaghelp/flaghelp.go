// Package flaghelp prints the flags of supd and supctl the way their
// users type them: "--socket PATH", one spelling in every help (package
// flag's PrintDefaults writes "-socket"). Both dashes are accepted either
// way, as package flag does.
package flaghelp

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// flagInError is a flag as package flag's errors name it: "-timeout".
var flagInError = regexp.MustCompile(`(^|[ (])-([a-zA-Z][a-zA-Z0-9-]+)`)

// Dashes rewrites the flag names in an error of package flag as Print
// writes them: `invalid value "5" for flag --timeout: ...`, `flag provided
// but not defined: --bogus`. One-letter flags keep one dash.
func Dashes(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errors.New(flagInError.ReplaceAllString(err.Error(), "${1}--${2}"))
}

// Print writes one entry per flag of fs, in name order:
//
//	--timeout D
//	      give up waiting after D (a duration: 30s, 2m) (default 1m0s)
//
// A one-letter flag is written "-f", as it is usually typed. The value's
// name is the usage's `quoted` word, as for PrintDefaults; a boolean flag
// has none.
func Print(w io.Writer, fs *flag.FlagSet) error {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		dashes := "--"
		if len(f.Name) == 1 {
			dashes = "-"
		}
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  %s%s", dashes, f.Name)
		if name != "" {
			b.WriteString(" " + strings.ToUpper(name))
		}
		b.WriteString("\n        " + strings.ReplaceAll(usage, "\n", "\n        "))
		if def := f.DefValue; def != "" && def != "false" && def != "0" {
			fmt.Fprintf(&b, " (default %s)", def)
		}
		b.WriteByte('\n')
	})
	_, err := io.WriteString(w, b.String())
	return err
}
