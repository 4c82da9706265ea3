package nginx

import "fmt"

type tokKind int

const (
	tokWord tokKind = iota
	tokSemi
	tokOpen
	tokClose
	tokEOF
)

type token struct {
	kind   tokKind
	text   string
	line   int
	quoted bool
}

// lexer splits a file into nginx's tokens (ngx_conf_read_token): words
// separated by spaces, ";", "{" and "}" on their own, "#" comments to the
// end of the line where a token may start, '…' and "…" strings with \"
// \' \\ \n \r \t escapes, \ escaping any character in a bare word, and
// "${name}" kept whole inside a word.
type lexer struct {
	file string
	src  []byte
	pos  int
	line int
}

func (l *lexer) errorf(line int, format string, args ...any) error {
	return &Error{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) next() (token, error) {
	// Skip spaces and comments.
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '\n':
			l.line++
			l.pos++
		case ' ', '\t', '\r':
			l.pos++
		case '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			goto token
		}
	}
	return token{kind: tokEOF, line: l.line}, nil
token:
	line := l.line
	switch c := l.src[l.pos]; c {
	case ';':
		l.pos++
		return token{kind: tokSemi, line: line}, nil
	case '{':
		l.pos++
		return token{kind: tokOpen, line: line}, nil
	case '}':
		l.pos++
		return token{kind: tokClose, line: line}, nil
	case '"', '\'':
		return l.quoted(c)
	}
	var word []byte
	variable := false
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if c == '{' && variable {
			word = append(word, c)
			l.pos++
			continue
		}
		variable = false
		switch c {
		case ' ', '\t', '\r', '\n', ';', '{':
			return token{kind: tokWord, text: string(word), line: line}, nil
		case '\\':
			if l.pos+1 < len(l.src) {
				word = append(word, '\\', l.src[l.pos+1])
				if l.src[l.pos+1] == '\n' {
					l.line++
				}
				l.pos += 2
				continue
			}
		case '$':
			variable = true
		}
		word = append(word, c)
		l.pos++
	}
	return token{kind: tokWord, text: string(word), line: line}, nil
}

// quoted reads a string opened by q at l.pos.
func (l *lexer) quoted(q byte) (token, error) {
	line := l.line
	l.pos++
	var s []byte
	for l.pos < len(l.src) {
		switch c := l.take(); c {
		case '\\':
			if l.pos < len(l.src) {
				switch e := l.take(); e {
				case '"', '\'', '\\':
					s = append(s, e)
				case 'n':
					s = append(s, '\n')
				case 'r':
					s = append(s, '\r')
				case 't':
					s = append(s, '\t')
				default:
					s = append(s, '\\', e)
				}
				continue
			}
			s = append(s, c)
		case q:
			if l.pos < len(l.src) {
				switch l.src[l.pos] {
				case ' ', '\t', '\r', '\n', ';', '{', '}':
				default:
					return token{}, l.errorf(l.line, "unexpected %q after a quoted string", l.src[l.pos])
				}
			}
			return token{kind: tokWord, text: string(s), line: line, quoted: true}, nil
		default:
			s = append(s, c)
		}
	}
	return token{}, l.errorf(line, "unexpected end of file in a string opened here")
}

// take returns the next byte and moves past it, counting lines.
func (l *lexer) take() byte {
	c := l.src[l.pos]
	l.pos++
	if c == '\n' {
		l.line++
	}
	return c
}

// skipBlock skips a block whose '{' was just read, counting braces outside
// Lua strings and comments: *_by_lua_block directives hold Lua, not nginx
// syntax.
func (l *lexer) skipBlock() error {
	start := l.line
	depth := 1
	for l.pos < len(l.src) {
		switch c := l.take(); c {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return nil
			}
		case '"', '\'':
			for l.pos < len(l.src) && l.src[l.pos] != c && l.src[l.pos] != '\n' {
				if l.src[l.pos] == '\\' {
					l.pos++
				}
				l.pos++
			}
			l.pos++
		case '-':
			if l.pos < len(l.src) && l.src[l.pos] == '-' {
				for l.pos < len(l.src) && l.src[l.pos] != '\n' {
					l.pos++
				}
			}
		}
	}
	return l.errorf(start, "unexpected end of file in a Lua block opened here")
}
