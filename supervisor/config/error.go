package config

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Error is a configuration that could not be loaded: every diagnostic found
// (errors and warnings, in file order) and the parsed files, so that each
// diagnostic is shown with its source line.
type Error struct {
	Diags hcl.Diagnostics
	Files map[string]*hcl.File // by file name, as in each diagnostic's Subject
}

// Error returns what Write prints, without the final newline.
func (e *Error) Error() string {
	return strings.TrimSuffix(e.text(), "\n")
}

// Write prints every diagnostic as a first line with its position,
// severity ("error" or "warning"), summary and detail, followed by the
// source lines with the range marked:
//
//	sup.hcl:4:3: error: Unsupported argument: An argument named "comand" is not expected here.
//	    4 |   comand = ["x"]
//	      |   ^^^^^^
func (e *Error) Write(w io.Writer) error {
	_, err := io.WriteString(w, e.text())
	return err
}

// maxShown bounds the diagnostics Write prints: past it, a file of
// garbage would print mostly noise, and a lot of it.
const maxShown = 50

func (e *Error) text() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i == maxShown {
			fmt.Fprintf(&b, "... and %d more diagnostics, not shown: fix the ones above first\n", len(e.Diags)-maxShown)
			break
		}
		b.WriteString(headline(d))
		b.WriteByte('\n')
		if d.Subject == nil {
			continue
		}
		if f := e.Files[d.Subject.Filename]; f != nil {
			writeSnippet(&b, f.Bytes, *d.Subject)
		}
	}
	return b.String()
}

// headline is the first line of a diagnostic.
func headline(d *hcl.Diagnostic) string {
	severity := "error"
	if d.Severity == hcl.DiagWarning {
		severity = "warning"
	}
	msg := severity + ": " + d.Summary
	if d.Detail != "" {
		msg += ": " + strings.Join(strings.Fields(d.Detail), " ")
	}
	if d.Subject == nil {
		return msg
	}
	return position(*d.Subject) + ": " + msg
}

// position is "FILE:LINE:COL", or "FILE" for a range that names only a file.
func position(r hcl.Range) string {
	if r.Start.Line == 0 {
		return r.Filename
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// maxSnippetLines bounds the lines shown for a range spanning many, and
// maxSnippetWidth the bytes shown of one line: a long line is cut around
// the range, with "…" where it was cut.
const (
	maxSnippetLines = 5
	maxSnippetWidth = 160
)

// writeSnippet prints the source lines of rng, each followed by a line
// that marks the part in rng with carets. Tabs before the range are kept so
// that the carets line up.
func writeSnippet(b *strings.Builder, src []byte, rng hcl.Range) {
	start := min(max(rng.Start.Byte, 0), len(src))
	end := min(max(rng.End.Byte, start), len(src))
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	for n := range maxSnippetLines {
		lineEnd := len(src)
		if i := bytes.IndexByte(src[lineStart:], '\n'); i >= 0 {
			lineEnd = lineStart + i
		}
		text := strings.TrimSuffix(string(src[lineStart:lineEnd]), "\r")
		from := len(text) - len(strings.TrimLeft(text, " \t")) // continuation lines: from the first non-blank
		if n == 0 {
			from = min(start-lineStart, len(text))
		}
		to := max(min(end-lineStart, len(text)), from)
		text, from, to = window(printable(text), from, to)
		fmt.Fprintf(b, "%5d | %s\n", rng.Start.Line+n, text)
		fmt.Fprintf(b, "%5s | %s%s\n", "", blank(text[:from]), strings.Repeat("^", max(utf8.RuneCountInString(text[from:to]), 1)))
		if end <= lineEnd+1 || lineEnd == len(src) {
			return
		}
		lineStart = lineEnd + 1
	}
}

// window cuts text to at most about maxSnippetWidth bytes around from,
// on rune boundaries, and moves from and to along.
func window(text string, from, to int) (string, int, int) {
	if len(text) <= maxSnippetWidth {
		return text, from, to
	}
	begin := max(from-maxSnippetWidth/4, 0)
	for begin > 0 && !utf8.RuneStart(text[begin]) {
		begin--
	}
	end := min(begin+maxSnippetWidth, len(text))
	for end < len(text) && !utf8.RuneStart(text[end]) {
		end++
	}
	out := text[begin:end]
	from, to = from-begin, min(to, end)-begin
	if begin > 0 {
		out = "…" + out
		from, to = from+len("…"), to+len("…")
	}
	if end < len(text) {
		out += "…"
	}
	return out, from, max(to, from)
}

// printable replaces control characters but tabs by '?', byte for byte,
// so that a snippet of a binary file does not drive the terminal.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

// blank replaces every character of s by a space, keeping tabs.
func blank(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' {
			return r
		}
		return ' '
	}, s)
}

// sortedDiags returns the diagnostics without repeats (an expression wrong
// for every instance is reported once), in file order.
func (l *loader) sortedDiags() hcl.Diagnostics {
	seen := map[string]bool{}
	var diags hcl.Diagnostics
	for _, d := range l.diags {
		key := fmt.Sprint(d.Severity, d.Summary, d.Detail, d.Subject)
		if !seen[key] {
			seen[key] = true
			diags = append(diags, d)
		}
	}
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int { return l.compare(a.Subject, b.Subject) })
	return diags
}

// compare orders ranges by file, in the order the files were read, then by
// offset; no range and files that were not read come first.
func (l *loader) compare(a, b *hcl.Range) int {
	key := func(r *hcl.Range) (int, int) {
		if r == nil {
			return -2, 0
		}
		for i, src := range l.sources {
			if src.path == r.Filename {
				return i, r.Start.Byte
			}
		}
		return -1, 0
	}
	af, ab := key(a)
	bf, bb := key(b)
	if af != bf {
		return af - bf
	}
	return ab - bb
}
