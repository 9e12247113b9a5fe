package expression

import (
	"time"

	"github.com/expr-lang/expr/ast"
)

// fastCond evaluates a simple condition over prefetched variable slots. ok
// is false when a value does not have its declared Go type; the caller then
// falls back to the virtual machine, which defines the semantics.
type fastCond func(slots []any) (result, ok bool)

// fastBuilder compiles the simple subset of conditions — comparisons of
// scalar variables with literals or with each other, `in` over literal
// lists, and boolean logic — into Go closures with exactly expr's
// semantics for well-typed values. Anything else is left to the VM.
type fastBuilder struct {
	env   *Env
	slots map[string]int
}

func (fb *fastBuilder) kindOf(name string) (Kind, int, bool) {
	i, ok := fb.slots[name]
	if !ok {
		return KindAny, 0, false
	}
	if name == NowVar {
		return KindTime, i, true
	}
	t := fb.env.vars[name]
	if t == nil {
		return KindAny, 0, false
	}
	return t.Kind, i, true
}

type literal struct {
	kind Kind
	i    int
	f    float64
	s    string
	b    bool
}

func literalOf(n ast.Node) (literal, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return literal{kind: KindInt, i: n.Value, f: float64(n.Value)}, true
	case *ast.FloatNode:
		return literal{kind: KindFloat, f: n.Value}, true
	case *ast.StringNode:
		return literal{kind: KindString, s: n.Value}, true
	case *ast.BoolNode:
		return literal{kind: KindBool, b: n.Value}, true
	case *ast.UnaryNode:
		if n.Operator == "-" {
			if l, ok := literalOf(n.Node); ok && (l.kind == KindInt || l.kind == KindFloat) {
				l.i, l.f = -l.i, -l.f
				return l, true
			}
		}
	}
	return literal{}, false
}

var flipped = map[string]string{"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}

func (fb *fastBuilder) build(n ast.Node) fastCond {
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func([]any) (bool, bool) { return v, true }
	case *ast.IdentifierNode:
		k, i, ok := fb.kindOf(n.Value)
		if !ok || k != KindBool {
			return nil
		}
		return func(s []any) (bool, bool) { b, ok := s[i].(bool); return b, ok }
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil
		}
		inner := fb.build(n.Node)
		if inner == nil {
			return nil
		}
		return func(s []any) (bool, bool) { v, ok := inner(s); return !v, ok }
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and", "||", "or":
			l, r := fb.build(n.Left), fb.build(n.Right)
			if l == nil || r == nil {
				return nil
			}
			if n.Operator == "&&" || n.Operator == "and" {
				return func(s []any) (bool, bool) {
					a, ok := l(s)
					if !ok || !a {
						return false, ok
					}
					return r(s)
				}
			}
			return func(s []any) (bool, bool) {
				a, ok := l(s)
				if !ok || a {
					return a, ok
				}
				return r(s)
			}
		case "in", "not in":
			c := fb.in(n.Left, n.Right)
			if c == nil || n.Operator == "in" {
				return c
			}
			return func(s []any) (bool, bool) { v, ok := c(s); return !v, ok }
		case "==", "!=", "<", ">", "<=", ">=":
			return fb.compare(n.Operator, n.Left, n.Right)
		}
	}
	return nil
}

// in handles `field in [literal, ...]` for string and int fields.
func (fb *fastBuilder) in(left, right ast.Node) fastCond {
	id, ok := left.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	k, i, ok := fb.kindOf(id.Value)
	arr, isArr := right.(*ast.ArrayNode)
	if !ok || !isArr {
		return nil
	}
	switch k {
	case KindString:
		set := make(map[string]bool, len(arr.Nodes))
		for _, el := range arr.Nodes {
			l, ok := literalOf(el)
			if !ok || l.kind != KindString {
				return nil
			}
			set[l.s] = true
		}
		return func(s []any) (bool, bool) { v, ok := s[i].(string); return ok && set[v], ok }
	case KindInt:
		set := make(map[int]bool, len(arr.Nodes))
		for _, el := range arr.Nodes {
			l, ok := literalOf(el)
			if !ok || l.kind != KindInt {
				return nil
			}
			set[l.i] = true
		}
		return func(s []any) (bool, bool) { v, ok := s[i].(int); return ok && set[v], ok }
	}
	return nil
}

func (fb *fastBuilder) compare(op string, left, right ast.Node) fastCond {
	if lit, ok := literalOf(left); ok {
		if _, isLit := literalOf(right); isLit {
			return nil
		}
		return fb.compare(flipped[op], right, &literalNode{lit: lit})
	}
	id, ok := left.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	k, i, ok := fb.kindOf(id.Value)
	if !ok {
		return nil
	}
	var lit literal
	switch r := right.(type) {
	case *literalNode:
		lit = r.lit
	case *ast.IdentifierNode:
		k2, j, ok := fb.kindOf(r.Value)
		if !ok || k2 != k {
			return nil
		}
		return compareSlots(op, k, i, j)
	default:
		var isLit bool
		if lit, isLit = literalOf(right); !isLit {
			return nil
		}
	}
	switch {
	case k == KindFloat && (lit.kind == KindInt || lit.kind == KindFloat):
		return cmpFloat(op, i, lit.f)
	case k == KindInt && lit.kind == KindInt:
		return cmpInt(op, i, lit.i)
	case k == KindInt && lit.kind == KindFloat:
		return cmpIntFloat(op, i, lit.f)
	case k == KindString && lit.kind == KindString:
		return cmpString(op, i, lit.s)
	case k == KindBool && lit.kind == KindBool && (op == "==" || op == "!="):
		want := lit.b == (op == "==")
		return func(s []any) (bool, bool) { v, ok := s[i].(bool); return v == want, ok }
	}
	return nil
}

// literalNode carries a literal moved to the right-hand side.
type literalNode struct {
	ast.NilNode
	lit literal
}

func cmpFloat(op string, i int, c float64) fastCond {
	get := func(s []any) (float64, bool) { v, ok := s[i].(float64); return v, ok }
	switch op {
	case "==":
		return func(s []any) (bool, bool) { v, ok := get(s); return v == c, ok }
	case "!=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v != c, ok }
	case "<":
		return func(s []any) (bool, bool) { v, ok := get(s); return v < c, ok }
	case "<=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v <= c, ok }
	case ">":
		return func(s []any) (bool, bool) { v, ok := get(s); return v > c, ok }
	case ">=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v >= c, ok }
	}
	return nil
}

func cmpIntFloat(op string, i int, c float64) fastCond {
	get := func(s []any) (float64, bool) { v, ok := s[i].(int); return float64(v), ok }
	switch op {
	case "==":
		return func(s []any) (bool, bool) { v, ok := get(s); return v == c, ok }
	case "!=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v != c, ok }
	case "<":
		return func(s []any) (bool, bool) { v, ok := get(s); return v < c, ok }
	case "<=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v <= c, ok }
	case ">":
		return func(s []any) (bool, bool) { v, ok := get(s); return v > c, ok }
	case ">=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v >= c, ok }
	}
	return nil
}

func cmpInt(op string, i int, c int) fastCond {
	get := func(s []any) (int, bool) { v, ok := s[i].(int); return v, ok }
	switch op {
	case "==":
		return func(s []any) (bool, bool) { v, ok := get(s); return v == c, ok }
	case "!=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v != c, ok }
	case "<":
		return func(s []any) (bool, bool) { v, ok := get(s); return v < c, ok }
	case "<=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v <= c, ok }
	case ">":
		return func(s []any) (bool, bool) { v, ok := get(s); return v > c, ok }
	case ">=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v >= c, ok }
	}
	return nil
}

func cmpString(op string, i int, c string) fastCond {
	get := func(s []any) (string, bool) { v, ok := s[i].(string); return v, ok }
	switch op {
	case "==":
		return func(s []any) (bool, bool) { v, ok := get(s); return v == c, ok }
	case "!=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v != c, ok }
	case "<":
		return func(s []any) (bool, bool) { v, ok := get(s); return v < c, ok }
	case "<=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v <= c, ok }
	case ">":
		return func(s []any) (bool, bool) { v, ok := get(s); return v > c, ok }
	case ">=":
		return func(s []any) (bool, bool) { v, ok := get(s); return v >= c, ok }
	}
	return nil
}

// compareSlots compares two variables of the same kind.
func compareSlots(op string, k Kind, i, j int) fastCond {
	switch k {
	case KindInt:
		return func(s []any) (bool, bool) {
			a, ok1 := s[i].(int)
			b, ok2 := s[j].(int)
			return orderResult(op, a < b, a == b), ok1 && ok2
		}
	case KindFloat:
		return func(s []any) (bool, bool) {
			a, ok1 := s[i].(float64)
			b, ok2 := s[j].(float64)
			return floatResult(op, a, b), ok1 && ok2
		}
	case KindString:
		return func(s []any) (bool, bool) {
			a, ok1 := s[i].(string)
			b, ok2 := s[j].(string)
			return orderResult(op, a < b, a == b), ok1 && ok2
		}
	case KindTime:
		return func(s []any) (bool, bool) {
			a, ok1 := s[i].(time.Time)
			b, ok2 := s[j].(time.Time)
			return orderResult(op, a.Before(b), a.Equal(b)), ok1 && ok2
		}
	}
	return nil
}

// orderResult derives a comparison from "less" and "equal" for totally
// ordered values.
func orderResult(op string, less, equal bool) bool {
	switch op {
	case "==":
		return equal
	case "!=":
		return !equal
	case "<":
		return less
	case "<=":
		return less || equal
	case ">":
		return !less && !equal
	default: // ">="
		return !less
	}
}

// floatResult compares floats directly so NaN behaves as in Go and expr.
func floatResult(op string, a, b float64) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	default:
		return a >= b
	}
}
