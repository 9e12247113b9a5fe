package expression

import (
	"errors"
	"fmt"
	"reflect"
	"regexp/syntax"
	"sort"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Problem is one compile error at a 1-based line and column of the source,
// so editors can underline the exact spot.
type Problem struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// String renders the problem as "line:column: message".
func (p Problem) String() string { return fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Message) }

// Error is returned by Compile; it holds every problem found so callers can
// show them all at once and map them to rule paths.
type Error struct {
	Problems []Problem `json:"problems"`
}

// Error joins the problems into one line.
func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Option adjusts one compilation.
type Option func(*compileConfig)

type compileConfig struct {
	expect Kind
}

// Expect requires the expression's result to have kind k: statically when
// the checker knows the type, otherwise checked on every run. Int results
// are accepted (and converted) where a float is expected.
func Expect(k Kind) Option { return func(c *compileConfig) { c.expect = k } }

// Program is a compiled, immutable expression, safe for concurrent use; run
// it with Run or, on hot paths, with an Evaluator.
type Program struct {
	src      string
	prog     *vm.Program
	env      *Env
	fields   []string
	usesNow  bool
	expect   Kind
	static   Kind
	floatify bool
}

// Source returns the source text the program was compiled from.
func (p *Program) Source() string { return p.src }

// Fields returns the top-level variables the expression reads (without
// `now`), sorted and deduplicated, so analysts see what a rule depends on
// and schemas can order computed fields.
func (p *Program) Fields() []string { return append([]string{}, p.fields...) }

// UsesNow reports whether the expression reads `now`, i.e. whether its
// result changes over time even when the record does not.
func (p *Program) UsesNow() bool { return p.usesNow }

// ResultKind returns the statically known kind of the result (KindAny when
// the checker cannot tell).
func (p *Program) ResultKind() Kind {
	if p.expect == KindFloat && p.floatify {
		return KindFloat
	}
	return p.static
}

// Compile parses and type-checks src against env and compiles it once; all
// problems come back in an *Error with line and column.
func Compile(src string, env *Env, opts ...Option) (*Program, error) {
	if env == nil {
		return nil, &Error{Problems: []Problem{{Line: 1, Column: 1, Message: "no environment"}}}
	}
	if env.err != nil {
		return nil, &Error{Problems: []Problem{{Line: 1, Column: 1, Message: env.err.Error()}}}
	}
	var cfg compileConfig
	for _, o := range opts {
		o(&cfg)
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Problems: []Problem{{Line: 1, Column: 1, Message: "expression is empty"}}}
	}
	if len(src) > env.limits.MaxSourceLen {
		return nil, &Error{Problems: []Problem{{Line: 1, Column: 1,
			Message: fmt.Sprintf("expression is %d bytes long, the limit is %d", len(src), env.limits.MaxSourceLen)}}}
	}
	g := &guard{}
	options := make([]expr.Option, 0, len(env.base)+3)
	options = append(options, env.base...)
	options = append(options, expr.Patch(g), expr.Patch(&rewriter{}))
	switch cfg.expect {
	case KindBool:
		options = append(options, expr.AsBool())
	case KindFloat:
		options = append(options, expr.AsFloat64())
	}
	prog, err := compileSafely(src, options)
	if len(g.problems) > 0 {
		return nil, &Error{Problems: bindProblems(src, g.problems)}
	}
	if err != nil {
		e := toError(src, err)
		for i := range e.Problems {
			e.Problems[i].Message = env.suggest(e.Problems[i].Message)
		}
		return nil, e
	}
	p := &Program{src: src, prog: prog, env: env, expect: cfg.expect}
	node := prog.Node()
	p.static = kindOfReflect(node.Type())
	if node.Type() != nil && node.Type().Kind() == reflect.Interface {
		p.static = KindAny
	}
	p.floatify = cfg.expect == KindFloat
	if cfg.expect != KindAny && p.static != KindAny && p.static != cfg.expect &&
		!(cfg.expect == KindFloat && p.static == KindInt) {
		return nil, &Error{Problems: []Problem{{Line: 1, Column: 1,
			Message: fmt.Sprintf("expression returns %s, expected %s", p.static, cfg.expect)}}}
	}
	p.fields, p.usesNow = collectFields(node, env)
	return p, nil
}

// compileSafely turns a panic inside the compiler into an error so that
// arbitrary input can never crash the caller.
func compileSafely(src string, options []expr.Option) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("internal compiler error: %v", r)
		}
	}()
	return expr.Compile(src, options...)
}

// toError converts expr's error into positioned problems.
func toError(src string, err error) *Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		line, col := fe.Line, fe.Column+1
		if line == 0 {
			line, col = position(src, fe.From)
		}
		msg := fe.Message
		if msg == "" {
			msg = err.Error()
		}
		return &Error{Problems: []Problem{{Line: line, Column: col, Message: msg}}}
	}
	return &Error{Problems: []Problem{{Line: 1, Column: 1, Message: err.Error()}}}
}

type rawProblem struct {
	from int
	msg  string
}

func bindProblems(src string, raw []rawProblem) []Problem {
	out := make([]Problem, len(raw))
	for i, r := range raw {
		l, c := position(src, r.from)
		out[i] = Problem{Line: l, Column: c, Message: r.msg}
	}
	return out
}

// position converts a rune offset to a 1-based line and column.
func position(src string, from int) (int, int) {
	line, col, n := 1, 1, 0
	for _, r := range src {
		if n == from {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		n++
	}
	return line, col
}

// guard rejects syntax that would break isolation: reserved identifiers and
// the host-dependent time.Local().
type guard struct {
	problems []rawProblem
}

// Visit implements ast.Visitor.
func (g *guard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if strings.HasPrefix(n.Value, "__") {
			g.problems = append(g.problems, rawProblem{n.Location().From, fmt.Sprintf("identifier %q is reserved", n.Value)})
		}
	case *ast.MemberNode:
		if s, ok := n.Property.(*ast.StringNode); ok && s.Value == "Local" {
			g.problems = append(g.problems, rawProblem{n.Location().From, "Local() depends on the host's time zone; use In(timezone(\"Area/City\")) instead"})
		}
	case *ast.BinaryNode:
		if n.Operator == "matches" {
			if msg := checkPattern(n.Right); msg != "" {
				g.problems = append(g.problems, rawProblem{n.Location().From, msg})
			}
		}
	}
}

// MaxPatternInstructions bounds the compiled size of a `matches` pattern. RE2 matches in time linear in
// the input times the pattern's size, so with literal patterns of bounded size every match is bounded.
const MaxPatternInstructions = 1000

// checkPattern requires the pattern of `matches` to be a string literal that compiles within
// MaxPatternInstructions: a pattern built at run time is compiled on every evaluation and may be as
// large as the string budget allows, which makes one evaluation take minutes.
func checkPattern(n ast.Node) string {
	lit, ok := n.(*ast.StringNode)
	if !ok {
		return "the pattern of matches must be a string literal, so it is compiled once when the expression is saved"
	}
	re, err := syntax.Parse(lit.Value, syntax.Perl)
	if err != nil {
		return fmt.Sprintf("invalid pattern for matches: %v", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return fmt.Sprintf("invalid pattern for matches: %v", err)
	}
	if len(prog.Inst) > MaxPatternInstructions {
		return fmt.Sprintf("the pattern of matches is too complex (%d instructions, the limit is %d)", len(prog.Inst), MaxPatternInstructions)
	}
	return ""
}

// rewriter threads the run budget into string builders and turns `+` on
// strings (or on values of unknown type) into budgeted calls.
type rewriter struct{}

// Visit implements ast.Visitor.
func (rewriter) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		// Every iteration of a predicate (all, any, map, filter, reduce...)
		// first charges one step, so nested loops cannot run unbounded.
		if seq, ok := n.Node.(*ast.SequenceNode); ok && len(seq.Nodes) == 2 {
			if c, ok := seq.Nodes[0].(*ast.CallNode); ok {
				if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == tickFn {
					return
				}
			}
		}
		runID := &ast.IdentifierNode{Value: runVar}
		runID.SetLocation(n.Location())
		callee := &ast.IdentifierNode{Value: tickFn}
		callee.SetLocation(n.Location())
		tick := &ast.CallNode{Callee: callee, Arguments: []ast.Node{runID}}
		tick.SetLocation(n.Location())
		seq := &ast.SequenceNode{Nodes: []ast.Node{tick, n.Node}}
		seq.SetLocation(n.Node.Location())
		n.Node = seq
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || !budgetedFns[id.Value] {
			return
		}
		if len(n.Arguments) > 0 {
			if first, ok := n.Arguments[0].(*ast.IdentifierNode); ok && first.Value == runVar {
				return
			}
		}
		r := &ast.IdentifierNode{Value: runVar}
		r.SetLocation(n.Location())
		n.Arguments = append([]ast.Node{r}, n.Arguments...)
	case *ast.BinaryNode:
		if n.Operator != "+" {
			return
		}
		l, r := n.Left.Type(), n.Right.Type()
		fn := ""
		switch {
		case isString(l) && isString(r):
			fn = concatFn
		case isUnknown(l) && (isUnknown(r) || isString(r)), isString(l) && isUnknown(r):
			fn = addFn
		default:
			return
		}
		runID := &ast.IdentifierNode{Value: runVar}
		runID.SetLocation(n.Location())
		callee := &ast.IdentifierNode{Value: fn}
		callee.SetLocation(n.Location())
		ast.Patch(node, &ast.CallNode{Callee: callee, Arguments: []ast.Node{runID, n.Left, n.Right}})
	}
}

func isString(t reflect.Type) bool  { return t != nil && t.Kind() == reflect.String }
func isUnknown(t reflect.Type) bool { return t == nil || t.Kind() == reflect.Interface }

// collectFields lists the declared variables an expression reads.
func collectFields(node ast.Node, env *Env) ([]string, bool) {
	c := &fieldCollector{env: env, seen: map[string]bool{}}
	ast.Walk(&node, c)
	out := make([]string, 0, len(c.seen))
	for f := range c.seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out, c.now
}

type fieldCollector struct {
	env  *Env
	seen map[string]bool
	now  bool
}

// Visit implements ast.Visitor.
func (c *fieldCollector) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if id.Value == NowVar {
		c.now = true
		return
	}
	if _, ok := c.env.vars[id.Value]; ok {
		c.seen[id.Value] = true
	}
}

// suggest appends the closest declared variable to an "unknown name"
// message, since most unknown names are typos of field names.
func (e *Env) suggest(msg string) string {
	name, ok := strings.CutPrefix(msg, "unknown name ")
	if !ok || strings.ContainsAny(name, " \t") {
		return msg
	}
	best, bestDist := "", 3
	for v := range e.vars {
		if d := editDistance(strings.ToLower(name), strings.ToLower(v)); d < bestDist || (d == bestDist && v < best) {
			best, bestDist = v, d
		}
	}
	if best == "" {
		return msg
	}
	return fmt.Sprintf("%s (did you mean %q?)", msg, best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
