package feel

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies a FEEL token.
type tokenKind int

const (
	tEOF      tokenKind = iota
	tNumber             // 12, 1.5, .5
	tString             // "text" (value holds the decoded text)
	tName               // a name, a keyword or a multi-word built-in function name ("string join")
	tQuoted             // `a name with spaces`
	tTemporal           // @"2020-04-06" (value holds the decoded text)
	tPunct              // operators and brackets
)

// token is one lexeme with its rune offset in the source.
type token struct {
	kind  tokenKind
	text  string // the source text (punctuation, number, name)
	value string // decoded string and temporal literals
	pos   int    // rune offset of the first character
}

// multiWord lists the built-in functions whose names contain spaces; the lexer joins their words into
// one name when a "(" follows, as FEEL does. Longer names come first so that "date and time" wins over
// "date".
var multiWord = [][]string{
	{"years", "and", "months", "duration"},
	{"date", "and", "time"},
	{"day", "time", "duration"},
	{"get", "or", "else"},
	{"string", "join"}, {"list", "contains"}, {"upper", "case"}, {"lower", "case"}, {"string", "length"},
	{"starts", "with"}, {"ends", "with"}, {"is", "defined"}, {"substring", "before"}, {"substring", "after"},
	{"distinct", "values"}, {"index", "of"}, {"is", "empty"}, {"get", "value"}, {"get", "entries"},
	{"context", "put"}, {"context", "merge"}, {"list", "replace"}, {"insert", "before"}, {"day", "of", "week"},
	{"day", "of", "year"}, {"month", "of", "year"}, {"week", "of", "year"}, {"round", "up"}, {"round", "down"},
	{"round", "half", "up"}, {"round", "half", "down"}, {"is", "null"},
}

// lexer turns FEEL source into tokens. Positions are rune offsets, converted to line and column only
// when an error is reported.
type lexer struct {
	src  []rune
	pos  int
	toks []token
}

// tokenize splits src into tokens, ending with tEOF; a malformed literal is an *Error.
func tokenize(src string) ([]token, *Error) {
	l := &lexer{src: []rune(src)}
	for {
		if err := l.skipSpace(); err != nil {
			return nil, err
		}
		if l.pos >= len(l.src) {
			l.toks = append(l.toks, token{kind: tEOF, pos: l.pos})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

// skipSpace skips white space and comments (// to the end of the line, /* ... */).
func (l *lexer) skipSpace() *Error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case unicode.IsSpace(c):
			l.pos++
		case c == '/' && l.peek(1) == '/':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && l.peek(1) == '*':
			start := l.pos
			l.pos += 2
			for l.pos < len(l.src) && !(l.src[l.pos] == '*' && l.peek(1) == '/') {
				l.pos++
			}
			if l.pos >= len(l.src) {
				return errAt(l.src, start, "comment", "the comment is not closed with */")
			}
			l.pos += 2
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) peek(n int) rune {
	if l.pos+n < len(l.src) {
		return l.src[l.pos+n]
	}
	return 0
}

func (l *lexer) emit(kind tokenKind, start int, value string) {
	l.toks = append(l.toks, token{kind: kind, text: string(l.src[start:l.pos]), value: value, pos: start})
}

func isNameStart(c rune) bool { return c == '_' || unicode.IsLetter(c) }
func isNamePart(c rune) bool  { return c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c) }
func isDigit(c rune) bool     { return c >= '0' && c <= '9' }

func (l *lexer) next() *Error {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case isDigit(c) || (c == '.' && isDigit(l.peek(1))):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos < len(l.src) && l.src[l.pos] == '.' && isDigit(l.peek(1)) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		if l.pos < len(l.src) && isNameStart(l.src[l.pos]) {
			return errAt(l.src, l.pos, "number", "a number must not be followed by a letter")
		}
		l.emit(tNumber, start, "")
	case c == '"':
		s, err := l.str()
		if err != nil {
			return err
		}
		l.emit(tString, start, s)
	case c == '@':
		l.pos++
		if l.pos >= len(l.src) || l.src[l.pos] != '"' {
			return errAt(l.src, start, "temporal literal", `@ must be followed by a string, as in @"2020-04-06"`)
		}
		s, err := l.str()
		if err != nil {
			return err
		}
		l.emit(tTemporal, start, s)
	case c == '`':
		l.pos++
		for l.pos < len(l.src) && l.src[l.pos] != '`' {
			l.pos++
		}
		if l.pos >= len(l.src) {
			return errAt(l.src, start, "name", "the `quoted name` is not closed")
		}
		l.pos++
		name := string(l.src[start+1 : l.pos-1])
		if strings.TrimSpace(name) == "" {
			return errAt(l.src, start, "name", "the `quoted name` is empty")
		}
		l.emit(tQuoted, start, name)
	case isNameStart(c):
		if words, end := l.multiWordAt(); end > 0 {
			l.pos = end
			l.toks = append(l.toks, token{kind: tName, text: words, pos: start})
			return nil
		}
		for l.pos < len(l.src) && isNamePart(l.src[l.pos]) {
			l.pos++
		}
		l.emit(tName, start, "")
	default:
		for _, op := range []string{"**", "!=", "<=", ">=", ".."} {
			if l.hasPrefix(op) {
				l.pos += len(op)
				l.emit(tPunct, start, "")
				return nil
			}
		}
		if strings.ContainsRune("+-*/=<>()[]{},.:?", c) {
			l.pos++
			l.emit(tPunct, start, "")
			return nil
		}
		return errAt(l.src, start, "character", "unexpected character "+quoteRune(c))
	}
	return nil
}

func quoteRune(c rune) string {
	if !unicode.IsPrint(c) {
		return fmt.Sprintf("%U", c)
	}
	return "'" + string(c) + "'"
}

func (l *lexer) hasPrefix(s string) bool {
	for i, r := range s {
		if l.peek(i) != r {
			return false
		}
	}
	return true
}

// multiWordAt reports a multi-word built-in function name starting at the current position and
// followed by "(", with the offset just past its last word.
func (l *lexer) multiWordAt() (string, int) {
	for _, words := range multiWord {
		p := l.pos
		ok := true
		for i, w := range words {
			if i > 0 {
				q := p
				for q < len(l.src) && unicode.IsSpace(l.src[q]) {
					q++
				}
				if q == p {
					ok = false
					break
				}
				p = q
			}
			if !l.wordAt(p, w) {
				ok = false
				break
			}
			p += len([]rune(w))
		}
		if !ok {
			continue
		}
		q := p
		for q < len(l.src) && unicode.IsSpace(l.src[q]) {
			q++
		}
		if q < len(l.src) && l.src[q] == '(' {
			return strings.Join(words, " "), p
		}
	}
	return "", 0
}

// wordAt reports whether the whole word w stands at p (not followed by another name character).
func (l *lexer) wordAt(p int, w string) bool {
	rw := []rune(w)
	if p+len(rw) > len(l.src) {
		return false
	}
	for i, r := range rw {
		if l.src[p+i] != r {
			return false
		}
	}
	return p+len(rw) == len(l.src) || !isNamePart(l.src[p+len(rw)])
}

// str reads a double-quoted string literal at the current position and decodes its escapes
// (\" \' \\ \n \r \t \uXXXX \U00XXXXXX).
func (l *lexer) str() (string, *Error) {
	start := l.pos
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '"':
			l.pos++
			return b.String(), nil
		case '\\':
			esc := l.peek(1)
			switch esc {
			case '"', '\'', '\\':
				b.WriteRune(esc)
				l.pos += 2
			case 'n':
				b.WriteByte('\n')
				l.pos += 2
			case 'r':
				b.WriteByte('\r')
				l.pos += 2
			case 't':
				b.WriteByte('\t')
				l.pos += 2
			case 'u', 'U':
				n := 4
				if esc == 'U' {
					n = 6
				}
				if l.pos+2+n > len(l.src) {
					return "", errAt(l.src, l.pos, "string", "incomplete \\"+string(esc)+" escape")
				}
				var r rune
				for _, h := range l.src[l.pos+2 : l.pos+2+n] {
					d := hexDigit(h)
					if d < 0 {
						return "", errAt(l.src, l.pos, "string", "invalid \\"+string(esc)+" escape")
					}
					r = r*16 + rune(d)
				}
				if !utf8.ValidRune(r) {
					return "", errAt(l.src, l.pos, "string", "the escape is not a valid character")
				}
				b.WriteRune(r)
				l.pos += 2 + n
			default:
				return "", errAt(l.src, l.pos, "string", "unknown escape \\"+string(esc))
			}
		default:
			b.WriteRune(c)
			l.pos++
		}
	}
	return "", errAt(l.src, start, "string", "the string is not closed with \"")
}

func hexDigit(c rune) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
