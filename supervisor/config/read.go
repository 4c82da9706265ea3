package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"golang.org/x/sys/unix"
)

// Bounds on what a config may cost supd to read. A config is read at start
// and at every reload, inside supd: whatever a file holds, reading it must
// end with a config or diagnostics, in bounded time and memory.
const (
	// MaxFileSize is the largest config file read.
	MaxFileSize = 16 << 20
	// maxNesting bounds how deeply brackets, parentheses, braces, strings
	// and template sequences may nest. hcl's parser recurses once per
	// level (several frames each), so this is checked on the tokens before
	// parsing.
	maxNesting = 256
)

// readFile reads a config file: a regular file of at most MaxFileSize
// bytes. It never blocks on a FIFO or a device: the path is checked with
// stat, opened with O_NONBLOCK (a FIFO with no writer would block open
// itself), and checked again on the open file, so that a file swapped in
// between cannot get through. Errors say what the path is and what to use.
func readFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, err
	}
	// The size may grow after the fstat: read one byte more than allowed
	// to notice.
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxFileSize {
		return nil, errTooLarge
	}
	return src, nil
}

var errTooLarge = fmt.Errorf("the file is larger than %d MiB: a process file this large is a mistake (a log, a binary)", MaxFileSize>>20)

// checkRegular accepts a regular file of at most MaxFileSize bytes.
func checkRegular(info fs.FileInfo) error {
	mode := info.Mode()
	switch {
	case mode.IsRegular():
		if info.Size() > MaxFileSize {
			return errTooLarge
		}
		return nil
	case mode&fs.ModeNamedPipe != 0:
		return errors.New("it is a FIFO, not a regular file: give a process file or a directory of them")
	case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return errors.New("it is a device, not a regular file: give a process file or a directory of them")
	case mode&fs.ModeSocket != 0:
		return errors.New("it is a socket, not a regular file: give a process file or a directory of them")
	}
	return fmt.Errorf("it is not a regular file (%s): give a process file or a directory of them", mode.Type())
}

// maxInvalid is how many characters HCL does not allow a file may have
// before it is taken for something else than a process file (a binary, a
// log): parsing it would make a diagnostic every few bytes, hundreds of
// megabytes of them for a large file.
const maxInvalid = 100

// checkTokens reports what makes src unfit to parse, on hcl's own tokens
// (so strings, comments and heredocs are what the parser will see): the
// first place where it nests deeper than maxNesting (the lexer does not
// recurse; the parser would, once per level), or more than maxInvalid
// invalid characters.
func checkTokens(src []byte, filename string) *hcl.Diagnostic {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos) // its errors are the parser's to report
	depth, invalid := 0, 0
	var first hcl.Range
	for _, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenInvalid, hclsyntax.TokenBadUTF8:
			if invalid++; invalid == 1 {
				first = t.Range
			}
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
			if depth > maxNesting {
				return diagAt(hcl.DiagError, t.Range, "Nesting too deep", fmt.Sprintf(
					"brackets, parentheses, braces and strings nest more than %d levels deep here: no process file needs that many; simplify the expression", maxNesting))
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			depth = max(depth-1, 0)
		}
	}
	if invalid > maxInvalid {
		return diagAt(hcl.DiagError, first, "Not a process file", fmt.Sprintf(
			"%d characters that HCL does not allow, the first here: this is not a process file (a binary, a log?); give a process file or a directory of them", invalid))
	}
	return nil
}
