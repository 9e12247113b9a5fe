package feel

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Options tune one translation.
type Options struct {
	// Variables reports whether a name is a variable of the surrounding scope (a process variable).
	// Inside a filter (`orders[amount > 100]`) a name that is neither `item`, nor bound by for/some/
	// every, nor a variable is read from the current element, as FEEL does for contexts. Nil means no
	// name is known, so every free name in a filter is an element property.
	Variables func(name string) bool
}

// Translation is the result of translating one FEEL expression: the expr source and a map from
// positions in it back to the FEEL source, so compile errors point at what the analyst wrote.
type Translation struct {
	// FEEL is the source as given.
	FEEL string
	// Expr is the equivalent expr source (one line).
	Expr  string
	spans []span
	feel  []rune
}

// span records that expr output from rune offset out on was produced by FEEL source at rune offset src.
type span struct{ out, src int }

// Position maps a 1-based column of the expr source (it is one line) to the 1-based line and column of
// the FEEL source that produced it.
func (t *Translation) Position(column int) (int, int) {
	off := column - 1
	i := sort.Search(len(t.spans), func(i int) bool { return t.spans[i].out > off }) - 1
	if i < 0 {
		return 1, 1
	}
	return lineCol(t.feel, t.spans[i].src)
}

// Translate parses a FEEL expression (without Camunda's leading "=") and returns the equivalent expr
// source. Constructs outside the supported subset, and malformed FEEL, are an *Error naming the
// construct and its position.
func Translate(src string, opts Options) (*Translation, error) {
	n, err := parse(src)
	if err != nil {
		return nil, err
	}
	g := &gen{src: []rune(src), opts: opts, root: n}
	if err := g.run(n); err != nil {
		return nil, err
	}
	return &Translation{FEEL: src, Expr: g.out.String(), spans: g.spans, feel: g.src}, nil
}

// binding is a FEEL name bound by for, some/every or a filter, and the expr name it was given.
type binding struct {
	feel, expr string
	element    bool // the current element of a filter (`item`, and the context its properties come from)
}

// gen writes expr source for a FEEL tree.
type gen struct {
	src    []rune
	opts   Options
	out    strings.Builder
	outLen int // runes written
	spans  []span
	scope  []binding
	fresh  int
	root   node // written without enclosing parentheses
}

func (g *gen) run(n node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	g.node(n)
	return nil
}

func (g *gen) fail(pos int, construct, msg string) { panic(errAt(g.src, pos, construct, msg)) }

// mark attributes the output written from now on to FEEL offset pos.
func (g *gen) mark(pos int) {
	if k := len(g.spans); k > 0 && g.spans[k-1].out == g.outLen {
		g.spans[k-1].src = pos
		return
	}
	g.spans = append(g.spans, span{out: g.outLen, src: pos})
}

func (g *gen) w(parts ...string) {
	for _, s := range parts {
		g.out.WriteString(s)
		g.outLen += utf8.RuneCountInString(s)
	}
}

// at writes parts attributed to pos and then returns attribution to the caller's node.
func (g *gen) node(n node) {
	g.mark(n.at())
	switch n := n.(type) {
	case *numLit:
		t := n.text
		if strings.HasPrefix(t, ".") {
			t = "0" + t
		}
		if strings.Contains(t, ".") {
			g.w(t)
			return
		}
		if _, err := strconv.ParseInt(t, 10, 64); err != nil {
			// Larger than an int: FEEL numbers are decimals, expr's closest is a float.
			g.w(t, ".0")
			return
		}
		g.w(t)
	case *strLit:
		g.w(strconv.Quote(n.val))
	case *boolLit:
		g.w(strconv.FormatBool(n.val))
	case *nullLit:
		g.w("nil")
	case *temporal:
		g.temporalLiteral(n.pos, n.val, "temporal literal")
	case *nameRef:
		g.name(n)
	case *path:
		if isList(n.base) {
			// A path on a list selects the key of every element.
			g.w("map(")
			g.node(n.base)
			g.mark(n.pos)
			g.w(", #")
			g.key(n.key)
			g.w(")")
			return
		}
		g.node(n.base)
		g.mark(n.pos)
		g.key(n.key)
	case *filter:
		g.filter(n)
	case *call:
		g.call(n)
	case *neg:
		g.w("-(")
		g.node(n.x)
		g.w(")")
	case *binary:
		g.binary(n)
	case *between:
		g.withValue(n.x, func(x func()) {
			g.w("(")
			x()
			g.w(" >= ")
			g.node(n.lo)
			g.w(" && ")
			x()
			g.w(" <= ")
			g.node(n.hi)
			g.w(")")
		})
	case *inTest:
		g.withValue(n.x, func(x func()) { g.unaryTest(x, n.test) })
	case *ifNode:
		g.w("(")
		g.condition(n.c)
		g.w(" ? ")
		g.node(n.a)
		g.w(" : ")
		g.node(n.b)
		g.w(")")
	case *forNode:
		g.forLoop(n.its, n.body)
	case *quantified:
		g.quantified(n.every, n.its, n.cond)
	case *listLit:
		g.w("[")
		for i, e := range n.elems {
			if i > 0 {
				g.w(", ")
			}
			g.node(e)
		}
		g.w("]")
	case *contextLit:
		g.w("{")
		for i, k := range n.keys {
			if i > 0 {
				g.w(", ")
			}
			g.w(strconv.Quote(k), ": ")
			g.node(n.vals[i])
		}
		g.w("}")
	case *rangeLit:
		g.w("(")
		g.node(n.lo)
		g.w(")..(")
		g.node(n.hi)
		g.w(")")
	}
}

// condition writes a FEEL condition so that only true selects: FEEL treats null and non-booleans as
// not satisfied. Obviously boolean expressions are written as they are.
func (g *gen) condition(c node) {
	if isBoolean(c) {
		g.node(c)
		return
	}
	g.w("(")
	g.node(c)
	g.w(") == true")
}

var binaryOps = map[string]string{"or": "||", "and": "&&", "=": "==", "!=": "!=", "<": "<", "<=": "<=",
	">": ">", ">=": ">=", "+": "+", "-": "-", "*": "*", "/": "/", "**": "**"}

func (g *gen) binary(n *binary) {
	top := node(n) == g.root
	if n.op == "/" && isDurationLiteral(n.r) {
		// Dividing a duration by a duration is a number in FEEL ((now() - start) / duration("PT1S")
		// counts seconds); expr has no such operator, so both are measured in seconds.
		g.w("((")
		g.node(n.l)
		g.mark(n.pos)
		g.w(").Seconds() / (")
		g.node(n.r)
		g.w(").Seconds())")
		return
	}
	if !top {
		g.w("(")
	}
	g.node(n.l)
	g.mark(n.pos)
	g.w(" ", binaryOps[n.op], " ")
	g.node(n.r)
	if !top {
		g.w(")")
	}
}

// isDurationLiteral reports whether n is a duration written literally: duration("P...") or @"P...".
func isDurationLiteral(n node) bool {
	switch v := n.(type) {
	case *temporal:
		return strings.HasPrefix(v.val, "P") || strings.HasPrefix(v.val, "-P")
	case *call:
		if v.fn != "duration" || len(v.args) != 1 {
			return false
		}
		s, ok := v.args[0].(*strLit)
		return ok && (strings.HasPrefix(s.val, "P") || strings.HasPrefix(s.val, "-P"))
	}
	return false
}

// name writes a variable reference: a bound name, a property of the filter's current element, or a
// variable of the environment.
func (g *gen) name(n *nameRef) {
	for i := len(g.scope) - 1; i >= 0; i-- {
		if g.scope[i].feel == n.name {
			g.w(g.scope[i].expr)
			return
		}
	}
	if el := g.element(); el != "" && (g.opts.Variables == nil || !g.opts.Variables(n.name)) {
		g.w(el)
		g.key(n.name)
		return
	}
	g.variable(n.name)
}

// key writes a null-safe member access.
func (g *gen) key(k string) {
	if isIdent(k) && !exprReserved[k] {
		g.w("?.", k)
		return
	}
	g.w("?.[", strconv.Quote(k), "]")
}

// variable writes a reference to an environment variable; names expr cannot spell as identifiers (with
// spaces, or expr keywords) are read through $env.
func (g *gen) variable(name string) {
	if isIdent(name) && !exprReserved[name] {
		g.w(name)
		return
	}
	g.w("$env[", strconv.Quote(name), "]")
}

// element returns the expr name of the innermost filter's current element, if inside a filter.
func (g *gen) element() string {
	for i := len(g.scope) - 1; i >= 0; i-- {
		if g.scope[i].element {
			return g.scope[i].expr
		}
	}
	return ""
}

// bind adds a bound name and returns its expr name ($name, numbered when shadowing): "$" cannot start
// a variable in the environment, so bound names never collide with process variables.
func (g *gen) bind(feelName string, element bool) string {
	base := "$" + sanitize(feelName)
	name := base
	for g.used(name) {
		g.fresh++
		name = base + "_" + strconv.Itoa(g.fresh)
	}
	g.scope = append(g.scope, binding{feel: feelName, expr: name, element: element})
	return name
}

func (g *gen) used(name string) bool {
	for _, b := range g.scope {
		if b.expr == name {
			return true
		}
	}
	return false
}

func (g *gen) unbind(n int) { g.scope = g.scope[:len(g.scope)-n] }

// withValue evaluates x once and lets body refer to it as often as it needs: simple references are
// repeated, anything else is bound with let.
func (g *gen) withValue(x node, body func(x func())) {
	if isSimple(x) {
		body(func() { g.node(x) })
		return
	}
	g.w("(let ")
	name := g.bind("v", false)
	g.w(name, " = ")
	g.node(x)
	g.w("; ")
	body(func() { g.w(name) })
	g.unbind(1)
	g.w(")")
}

// isList reports expressions that are lists by their form.
func isList(n node) bool {
	switch n := n.(type) {
	case *listLit, *forNode:
		return true
	case *filter:
		_, index := literalIndex(n.cond)
		return !index && (isBoolean(n.cond) || !isNumeric(n.cond))
	}
	return false
}

// isSimple reports expressions cheap and safe to repeat.
func isSimple(n node) bool {
	switch n := n.(type) {
	case *nameRef, *numLit, *strLit, *boolLit, *nullLit:
		return true
	case *path:
		return isSimple(n.base)
	}
	return false
}

// unaryTest writes `x in test`.
func (g *gen) unaryTest(x func(), u *unaryTest) {
	g.mark(u.pos)
	switch u.op {
	case "<", "<=", ">", ">=", "!=":
		g.w("(")
		x()
		g.w(" ", u.op, " ")
		g.node(u.e)
		g.w(")")
	case "=":
		g.w("(")
		x()
		g.w(" == ")
		g.node(u.e)
		g.w(")")
	case "interval":
		lo, hi := ">=", "<="
		if u.openLo {
			lo = ">"
		}
		if u.openHi {
			hi = "<"
		}
		g.w("(")
		x()
		g.w(" ", lo, " ")
		g.node(u.lo)
		g.w(" && ")
		x()
		g.w(" ", hi, " ")
		g.node(u.hi)
		g.w(")")
	case "any":
		g.w("(")
		for i, t := range u.tests {
			if i > 0 {
				g.w(" || ")
			}
			g.unaryTest(x, t)
		}
		g.w(")")
	case "expr":
		switch u.e.(type) {
		case *listLit, *nameRef, *path, *filter, *forNode, *call:
			// A list (literal or variable): membership.
			g.w("(")
			x()
			g.w(" in ")
			g.node(u.e)
			g.w(")")
		default:
			g.w("(")
			x()
			g.w(" == ")
			g.node(u.e)
			g.w(")")
		}
	}
}

// filter writes a[c]: a 1-based index when c is a number, else the elements for which c holds.
func (g *gen) filter(n *filter) {
	if idx, ok := literalIndex(n.cond); ok {
		if idx == 0 {
			g.fail(n.pos, "list index", "FEEL lists start at 1: [0] is always null")
		}
		if idx > 0 {
			idx--
		}
		g.w("get(")
		g.node(n.base)
		g.w(", ", strconv.FormatInt(idx, 10), ")")
		return
	}
	if !isBoolean(n.cond) && isNumeric(n.cond) {
		g.w("get(")
		g.node(n.base)
		g.w(", (")
		g.node(n.cond)
		g.w(") - 1)")
		return
	}
	g.w("filter(")
	g.node(n.base)
	g.w(", let ")
	el := g.bind("item", true)
	g.w(el, " = #; ")
	g.condition(n.cond)
	g.unbind(1)
	g.w(")")
}

// literalIndex reports a filter that is an integer literal (possibly negative).
func literalIndex(n node) (int64, bool) {
	sign := int64(1)
	if ng, ok := n.(*neg); ok {
		sign, n = -1, ng.x
	}
	num, ok := n.(*numLit)
	if !ok || strings.Contains(num.text, ".") {
		return 0, false
	}
	v, err := strconv.ParseInt(num.text, 10, 64)
	if err != nil {
		return 0, false
	}
	return sign * v, true
}

// isNumeric reports filters that are read as an index: variables, paths and arithmetic
// (`items[loopCounter]`, `items[i + 1]`).
func isNumeric(n node) bool {
	switch n := n.(type) {
	case *numLit, *nameRef, *path:
		return true
	case *neg:
		return isNumeric(n.x)
	case *binary:
		switch n.op {
		case "+", "-", "*", "/", "**":
			return true
		}
	case *call:
		switch n.fn {
		case "count", "string length", "floor", "ceiling", "abs", "number":
			return true
		}
	}
	return false
}

// isBoolean reports expressions whose value is a boolean by their form.
func isBoolean(n node) bool {
	switch n := n.(type) {
	case *boolLit, *between, *inTest, *quantified:
		return true
	case *binary:
		switch n.op {
		case "+", "-", "*", "/", "**":
			return false
		}
		return true
	case *call:
		return booleanFns[n.fn]
	}
	return false
}

var booleanFns = map[string]bool{"not": true, "contains": true, "starts with": true, "ends with": true,
	"matches": true, "list contains": true, "is defined": true, "is empty": true, "even": true, "odd": true,
	"all": true, "any": true, "is null": true}

// forLoop writes for a in x, b in y return e: one map per iteration, flattened when there are several.
func (g *gen) forLoop(its []iteration, body node) {
	if len(its) > 1 {
		g.w("flatten(")
	}
	for _, it := range its {
		g.mark(it.pos)
		g.w("map(")
		g.node(it.in)
		g.w(", let ")
		g.w(g.bind(it.name, false), " = #; ")
	}
	g.node(body)
	for range its {
		g.w(")")
	}
	g.unbind(len(its))
	if len(its) > 1 {
		g.w(")")
	}
}

// quantified writes some/every ... satisfies c as nested any/all.
func (g *gen) quantified(every bool, its []iteration, cond node) {
	fn := "any("
	if every {
		fn = "all("
	}
	for _, it := range its {
		g.mark(it.pos)
		g.w(fn)
		g.node(it.in)
		g.w(", let ")
		g.w(g.bind(it.name, false), " = #; ")
	}
	g.condition(cond)
	for range its {
		g.w(")")
	}
	g.unbind(len(its))
}

// isIdent reports whether s is a valid expr identifier.
func isIdent(s string) bool { return s != "" && sanitize(s) == s }

// sanitize turns a FEEL name into expr identifier characters.
func sanitize(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// exprReserved lists words expr reads as operators or literals, which FEEL allows as variable names.
var exprReserved = map[string]bool{"in": true, "not": true, "and": true, "or": true, "let": true,
	"if": true, "else": true, "nil": true, "true": true, "false": true, "matches": true, "contains": true,
	"startsWith": true, "endsWith": true}
