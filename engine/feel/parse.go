package feel

import "strings"

// node is one FEEL syntax-tree node; pos is the rune offset where it starts.
type node interface{ at() int }

type (
	numLit struct {
		pos  int
		text string
	}
	strLit struct {
		pos int
		val string
	}
	boolLit struct {
		pos int
		val bool
	}
	nullLit  struct{ pos int }
	temporal struct {
		pos int
		val string
	}
	nameRef struct {
		pos  int
		name string
	}
	path struct {
		pos  int
		base node
		key  string
	}
	filter struct {
		pos  int
		base node
		cond node
	}
	call struct {
		pos  int
		fn   string
		args []node
	}
	neg struct {
		pos int
		x   node
	}
	binary struct {
		pos  int
		op   string // FEEL operator: or and = != < <= > >= + - * / **
		l, r node
	}
	between struct {
		pos       int
		x, lo, hi node
	}
	inTest struct {
		pos  int
		x    node
		test *unaryTest
	}
	ifNode struct {
		pos     int
		c, a, b node
	}
	iteration struct {
		pos  int
		name string
		in   node
	}
	forNode struct {
		pos  int
		its  []iteration
		body node
	}
	quantified struct {
		pos   int
		every bool
		its   []iteration
		cond  node
	}
	listLit struct {
		pos   int
		elems []node
	}
	contextLit struct {
		pos  int
		keys []string
		vals []node
	}
	rangeLit struct {
		pos    int
		lo, hi node
	}
)

func (n *numLit) at() int     { return n.pos }
func (n *strLit) at() int     { return n.pos }
func (n *boolLit) at() int    { return n.pos }
func (n *nullLit) at() int    { return n.pos }
func (n *temporal) at() int   { return n.pos }
func (n *nameRef) at() int    { return n.pos }
func (n *path) at() int       { return n.pos }
func (n *filter) at() int     { return n.pos }
func (n *call) at() int       { return n.pos }
func (n *neg) at() int        { return n.pos }
func (n *binary) at() int     { return n.pos }
func (n *between) at() int    { return n.pos }
func (n *inTest) at() int     { return n.pos }
func (n *ifNode) at() int     { return n.pos }
func (n *forNode) at() int    { return n.pos }
func (n *quantified) at() int { return n.pos }
func (n *listLit) at() int    { return n.pos }
func (n *contextLit) at() int { return n.pos }
func (n *rangeLit) at() int   { return n.pos }

// unaryTest is the right side of `x in ...`: a comparison (`< 5`), an interval (`[1..10)`), a
// parenthesised list of tests (`("a", "b")`) or a plain expression (a value or a list).
type unaryTest struct {
	pos            int
	op             string // "<" "<=" ">" ">=" "=" "!=" "interval" "any" "expr"
	e              node
	lo, hi         node
	openLo, openHi bool
	tests          []*unaryTest
}

// maxDepth bounds the nesting of the FEEL source so that a hostile expression cannot exhaust the stack.
const maxDepth = 200

// parser is a recursive-descent parser over the token list. Errors are raised by panicking with an
// *Error and recovered in parse, which keeps the grammar functions short.
type parser struct {
	src   []rune
	toks  []token
	i     int
	depth int
}

// parse parses a whole FEEL expression.
func parse(src string) (n node, err *Error) {
	toks, lexErr := tokenize(src)
	if lexErr != nil {
		return nil, lexErr
	}
	p := &parser{src: []rune(src), toks: toks}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			n, err = nil, e
		}
	}()
	if p.peek().kind == tEOF {
		p.fail(p.peek().pos, "expression", "the expression is empty")
	}
	n = p.expr()
	if t := p.peek(); t.kind != tEOF {
		p.fail(t.pos, describe(t), "unexpected "+describe(t)+" after a complete expression")
	}
	return n, nil
}

func (p *parser) fail(pos int, construct, msg string) { panic(errAt(p.src, pos, construct, msg)) }

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// is reports whether the next token is the punctuation or name s.
func (p *parser) is(s string) bool {
	t := p.peek()
	return (t.kind == tPunct || t.kind == tName) && t.text == s
}

func (p *parser) accept(s string) bool {
	if p.is(s) {
		p.advance()
		return true
	}
	return false
}

func (p *parser) expect(s, construct string) token {
	if !p.is(s) {
		t := p.peek()
		p.fail(t.pos, construct, "expected "+quoteTok(s)+", found "+describe(t))
	}
	return p.advance()
}

func quoteTok(s string) string { return "'" + s + "'" }

// describe names a token for error messages.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the expression"
	case tString:
		return "a string"
	case tNumber:
		return "the number " + t.text
	case tTemporal:
		return "a temporal literal"
	}
	return quoteTok(t.text)
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.peek().pos, "expression", "the expression is nested too deeply")
	}
}

func (p *parser) leave() { p.depth-- }

// expr parses a textual expression (if, for, some/every, function definitions) or a disjunction.
func (p *parser) expr() node {
	p.enter()
	defer p.leave()
	t := p.peek()
	if t.kind == tName {
		switch t.text {
		case "if":
			p.advance()
			c := p.expr()
			p.expect("then", "if then else")
			a := p.expr()
			p.expect("else", "if then else")
			b := p.expr()
			return &ifNode{pos: t.pos, c: c, a: a, b: b}
		case "for":
			p.advance()
			its := p.iterations("for", "return")
			return &forNode{pos: t.pos, its: its, body: p.expr()}
		case "some", "every":
			if p.peekAt(1).kind == tName && p.peekAt(2).kind == tName && p.peekAt(2).text == "in" {
				p.advance()
				its := p.iterations(t.text, "satisfies")
				return &quantified{pos: t.pos, every: t.text == "every", its: its, cond: p.expr()}
			}
		case "function":
			if p.peekAt(1).text == "(" {
				p.fail(t.pos, "function definition", "function definitions are not supported; write the expression inline")
			}
		}
	}
	return p.disjunction()
}

// iterations parses `name in list, name in list ... <end>` of for and some/every.
func (p *parser) iterations(construct, end string) []iteration {
	var its []iteration
	for {
		t := p.peek()
		if t.kind != tName || isKeyword(t.text) {
			p.fail(t.pos, construct, "expected a variable name, found "+describe(t))
		}
		p.advance()
		p.expect("in", construct)
		in := p.disjunction()
		if p.accept("..") {
			in = &rangeLit{pos: in.at(), lo: in, hi: p.disjunction()}
		}
		its = append(its, iteration{pos: t.pos, name: t.text, in: in})
		if !p.accept(",") {
			break
		}
	}
	p.expect(end, construct)
	return its
}

func (p *parser) disjunction() node {
	l := p.conjunction()
	for p.is("or") {
		t := p.advance()
		l = &binary{pos: t.pos, op: "or", l: l, r: p.conjunction()}
	}
	return l
}

func (p *parser) conjunction() node {
	l := p.comparison()
	for p.is("and") {
		t := p.advance()
		l = &binary{pos: t.pos, op: "and", l: l, r: p.comparison()}
	}
	return l
}

func (p *parser) comparison() node {
	l := p.additive()
	t := p.peek()
	switch {
	case t.kind == tPunct && (t.text == "=" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		p.advance()
		if p.is("=") {
			p.fail(p.peek().pos, "comparison", "FEEL compares with a single '=' (write a = b, not a == b)")
		}
		return &binary{pos: t.pos, op: t.text, l: l, r: p.additive()}
	case t.kind == tName && t.text == "between":
		p.advance()
		lo := p.additive()
		p.expect("and", "between")
		return &between{pos: t.pos, x: l, lo: lo, hi: p.additive()}
	case t.kind == tName && t.text == "in":
		p.advance()
		return &inTest{pos: t.pos, x: l, test: p.unaryTest()}
	case t.kind == tName && t.text == "instance" && p.peekAt(1).text == "of":
		p.fail(t.pos, "instance of", "type checks with 'instance of' are not supported")
	}
	return l
}

func (p *parser) additive() node {
	l := p.multiplicative()
	for p.is("+") || p.is("-") {
		t := p.advance()
		l = &binary{pos: t.pos, op: t.text, l: l, r: p.multiplicative()}
	}
	return l
}

func (p *parser) multiplicative() node {
	l := p.power()
	for p.is("*") || p.is("/") {
		t := p.advance()
		l = &binary{pos: t.pos, op: t.text, l: l, r: p.power()}
	}
	return l
}

func (p *parser) power() node {
	l := p.unary()
	for p.is("**") {
		t := p.advance()
		l = &binary{pos: t.pos, op: "**", l: l, r: p.unary()}
	}
	return l
}

func (p *parser) unary() node {
	if p.is("-") {
		t := p.advance()
		p.enter()
		defer p.leave()
		return &neg{pos: t.pos, x: p.unary()}
	}
	return p.postfix()
}

// postfix parses path access (a.b), filters and indexes (a[c]).
func (p *parser) postfix() node {
	n := p.primary()
	for {
		switch {
		case p.is("."):
			p.advance()
			t := p.advance()
			switch {
			case t.kind == tName && !strings.Contains(t.text, " "):
				n = &path{pos: t.pos, base: n, key: t.text}
			case t.kind == tQuoted:
				n = &path{pos: t.pos, base: n, key: t.value}
			default:
				p.fail(t.pos, "path", "expected a name after '.', found "+describe(t))
			}
		case p.is("["):
			t := p.advance()
			p.enter()
			c := p.expr()
			p.leave()
			p.expect("]", "filter")
			n = &filter{pos: t.pos, base: n, cond: c}
		default:
			return n
		}
	}
}

func (p *parser) primary() node {
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.advance()
		return &numLit{pos: t.pos, text: t.text}
	case tString:
		p.advance()
		return &strLit{pos: t.pos, val: t.value}
	case tTemporal:
		p.advance()
		return &temporal{pos: t.pos, val: t.value}
	case tQuoted:
		p.advance()
		return &nameRef{pos: t.pos, name: t.value}
	case tEOF:
		p.fail(t.pos, "expression", "the expression ends too early")
	case tName:
		return p.name()
	}
	switch t.text {
	case "(":
		p.advance()
		p.enter()
		n := p.expr()
		p.leave()
		p.expect(")", "parentheses")
		return n
	case "[":
		p.advance()
		l := &listLit{pos: t.pos}
		for !p.is("]") {
			p.enter()
			l.elems = append(l.elems, p.expr())
			p.leave()
			if !p.accept(",") {
				break
			}
		}
		p.expect("]", "list")
		return l
	case "{":
		return p.context()
	case "?":
		p.fail(t.pos, "?", "the input value '?' exists only in decision tables")
	}
	p.fail(t.pos, describe(t), "unexpected "+describe(t))
	return nil
}

// name parses a literal keyword, a variable or a function call.
func (p *parser) name() node {
	t := p.advance()
	switch t.text {
	case "true", "false":
		return &boolLit{pos: t.pos, val: t.text == "true"}
	case "null":
		return &nullLit{pos: t.pos}
	}
	if p.is("(") {
		p.advance()
		c := &call{pos: t.pos, fn: t.text}
		for !p.is(")") {
			if p.peek().kind == tName && p.peekAt(1).text == ":" {
				p.fail(p.peek().pos, "named arguments", "named arguments are not supported; pass the arguments by position")
			}
			p.enter()
			c.args = append(c.args, p.expr())
			p.leave()
			if !p.accept(",") {
				break
			}
		}
		p.expect(")", "function "+quoteTok(t.text))
		return c
	}
	if isKeyword(t.text) {
		p.fail(t.pos, quoteTok(t.text), "unexpected keyword "+quoteTok(t.text))
	}
	return &nameRef{pos: t.pos, name: t.text}
}

// context parses {key: value, "other key": value}.
func (p *parser) context() node {
	open := p.advance()
	c := &contextLit{pos: open.pos}
	seen := map[string]bool{}
	for !p.is("}") {
		t := p.peek()
		var key string
		switch t.kind {
		case tString, tQuoted:
			key = t.value
			p.advance()
		case tName:
			// A key may be several words ({first name: "Ann"}).
			words := []string{}
			for p.peek().kind == tName && !p.is(":") {
				words = append(words, p.advance().text)
			}
			key = strings.Join(words, " ")
		default:
			p.fail(t.pos, "context", "expected a key, found "+describe(t))
		}
		if seen[key] {
			p.fail(t.pos, "context", "the key "+quoteTok(key)+" appears twice")
		}
		seen[key] = true
		p.expect(":", "context")
		p.enter()
		c.keys = append(c.keys, key)
		c.vals = append(c.vals, p.expr())
		p.leave()
		if !p.accept(",") {
			break
		}
	}
	p.expect("}", "context")
	return c
}

// unaryTest parses the right side of `in`.
func (p *parser) unaryTest() *unaryTest {
	p.enter()
	defer p.leave()
	t := p.peek()
	if t.kind == tPunct {
		switch t.text {
		case "<", "<=", ">", ">=", "=", "!=":
			p.advance()
			return &unaryTest{pos: t.pos, op: t.text, e: p.additive()}
		case "]":
			return p.interval()
		case "(", "[":
			if p.looksLikeInterval() {
				return p.interval()
			}
			if t.text == "(" {
				p.advance()
				u := &unaryTest{pos: t.pos, op: "any"}
				for {
					u.tests = append(u.tests, p.unaryTest())
					if !p.accept(",") {
						break
					}
				}
				p.expect(")", "unary tests")
				if len(u.tests) == 1 {
					return u.tests[0]
				}
				return u
			}
		}
	}
	return &unaryTest{pos: t.pos, op: "expr", e: p.additive()}
}

// looksLikeInterval reports whether the bracket at the current position opens an interval: an
// expression followed by "..".
func (p *parser) looksLikeInterval() (ok bool) {
	save, depth := p.i, p.depth
	defer func() {
		if r := recover(); r != nil {
			if _, isErr := r.(*Error); !isErr {
				panic(r)
			}
			ok = false
		}
		p.i, p.depth = save, depth
	}()
	p.advance()
	p.additive()
	return p.is("..")
}

// interval parses [a..b], (a..b), ]a..b[ and their mixes.
func (p *parser) interval() *unaryTest {
	open := p.advance()
	u := &unaryTest{pos: open.pos, op: "interval", openLo: open.text != "["}
	u.lo = p.additive()
	p.expect("..", "interval")
	u.hi = p.additive()
	cl := p.peek()
	switch {
	case cl.kind == tPunct && cl.text == "]":
		u.openHi = false
	case cl.kind == tPunct && (cl.text == ")" || cl.text == "["):
		u.openHi = true
	default:
		p.fail(cl.pos, "interval", "expected ']', ')' or '[' to close the interval, found "+describe(cl))
	}
	p.advance()
	return u
}

// isKeyword reports the FEEL words that cannot name a variable.
func isKeyword(s string) bool {
	switch s {
	case "and", "or", "if", "then", "else", "for", "in", "return", "some", "every", "satisfies",
		"between", "instance", "of", "true", "false", "null", "function":
		return true
	}
	return false
}
