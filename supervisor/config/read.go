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
// first place where expressions nest deeper than maxNesting, or more than
// maxInvalid invalid characters, whichever starts first.
//
// hcl's parser and evaluator recurse once per level of the syntax tree,
// and the lexer does not. The depth counted is an upper bound of the
// tree's: one per open bracket, parenthesis, brace, string or template
// sequence, plus one per operator (unary, binary, conditional) and per
// chained index (`x[0][1]`) in each of them, since `1+1+…+1` and `---…1`
// nest as deeply as parentheses. A comma ends an operand; so does a
// newline in a block or an object.
func checkTokens(src []byte, filename string) *hcl.Diagnostic {
	tokens, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos) // its errors are the parser's to report
	type frame struct {
		brace bool // a block or an object: a newline ends an item
		ops   int
	}
	frames := []frame{{brace: true}} // the file's body
	depth, invalid := 0, 0           // depth: open frames and operators in them
	var first hcl.Range
	var tooDeep *hcl.Diagnostic // the first place too deep; the scan goes on to count invalid characters
	prev := hclsyntax.TokenNil
	deeper := func(t hclsyntax.Token) {
		if depth++; depth > maxNesting && tooDeep == nil {
			tooDeep = diagAt(hcl.DiagError, t.Range, "Nesting too deep", fmt.Sprintf(
				"brackets, parentheses, braces, strings and operators nest more than %d levels deep here: no process file needs that many; simplify the expression", maxNesting))
		}
	}
	for _, t := range tokens {
		top := &frames[len(frames)-1]
		switch t.Type {
		case hclsyntax.TokenInvalid, hclsyntax.TokenBadUTF8:
			if invalid++; invalid == 1 {
				first = t.Range
			}
		case hclsyntax.TokenOBrack, hclsyntax.TokenOBrace, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			if t.Type == hclsyntax.TokenOBrack && chains(prev) { // an index: x[0]
				top.ops++
				deeper(t)
			}
			frames = append(frames, frame{brace: t.Type == hclsyntax.TokenOBrace})
			deeper(t)
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(frames) > 1 {
				depth -= 1 + top.ops
				frames = frames[:len(frames)-1]
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
			hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual,
			hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenQuestion, hclsyntax.TokenColon:
			top.ops++
			deeper(t)
		case hclsyntax.TokenComma, hclsyntax.TokenNewline:
			if t.Type == hclsyntax.TokenComma || top.brace {
				depth -= top.ops
				top.ops = 0
			}
		}
		if t.Type != hclsyntax.TokenNewline {
			prev = t.Type
		}
	}
	if invalid > maxInvalid && (tooDeep == nil || first.Start.Byte < tooDeep.Subject.Start.Byte) {
		return diagAt(hcl.DiagError, first, "Not a process file", fmt.Sprintf(
			"%d characters that HCL does not allow, the first here: this is not a process file (a binary, a log?); give a process file or a directory of them", invalid))
	}
	return tooDeep
}

// chains reports whether a '[' after a token of type prev indexes what
// that token ends, rather than opening a list.
func chains(prev hclsyntax.TokenType) bool {
	switch prev {
	case hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCBrace, hclsyntax.TokenIdent,
		hclsyntax.TokenCQuote, hclsyntax.TokenNumberLit:
		return true
	}
	return false
}
