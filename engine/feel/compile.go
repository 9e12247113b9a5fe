package feel

import (
	"errors"

	"github.com/rapportcrm/rapport/engine/expression"
)

// Compile translates a FEEL expression and compiles the result with engine/expression against env, so
// FEEL runs on the one expression engine with its limits and deterministic `now`. A translation error
// is an *Error; a compile error of the translation is an *expression.Error whose problems point at the
// FEEL source (line and column) and end with the expr text the FEEL became.
func Compile(src string, env *expression.Env, opts ...expression.Option) (*expression.Program, *Translation, error) {
	vars := env.Vars()
	t, err := Translate(src, Options{Variables: func(name string) bool { _, ok := vars[name]; return ok }})
	if err != nil {
		return nil, nil, err
	}
	p, err := expression.Compile(t.Expr, env, opts...)
	if err != nil {
		return nil, t, t.MapError(err)
	}
	return p, t, nil
}

// MapError rewrites the positions of an *expression.Error from the expr translation to the FEEL
// source and names the translation in each message; other errors are returned as they are.
func (t *Translation) MapError(err error) error {
	var ee *expression.Error
	if !errors.As(err, &ee) {
		return err
	}
	out := &expression.Error{Problems: make([]expression.Problem, len(ee.Problems))}
	for i, p := range ee.Problems {
		line, col := t.Position(p.Column)
		out.Problems[i] = expression.Problem{Line: line, Column: col, Message: p.Message + " (in the expr translation " + quoteExpr(t.Expr) + ")"}
	}
	return out
}

func quoteExpr(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return "`" + s + "`"
}

// ContextKeys returns the keys of a FEEL expression that is a context literal ({a: x, "b": y}) in
// the order written, so a caller can store each entry (Camunda connectors' resultExpression); ok is
// false for any other expression or one that does not parse.
func ContextKeys(src string) (keys []string, ok bool) {
	n, err := parse(src)
	if err != nil {
		return nil, false
	}
	c, isContext := n.(*contextLit)
	if !isContext {
		return nil, false
	}
	return append([]string(nil), c.keys...), true
}
