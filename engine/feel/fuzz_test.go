package feel

import (
	"errors"
	"testing"

	"github.com/rapportcrm/rapport/engine/expression"
)

// FuzzTranslate feeds arbitrary text to the FEEL front end: it must never panic, every refusal must be
// an *Error inside the source, and every translation must compile to an *expression.Error or a program
// that runs (or fails) without panicking within the expression limits.
func FuzzTranslate(f *testing.F) {
	for _, group := range feelCases {
		for _, c := range group.cases {
			f.Add(c.feel)
		}
	}
	types, values := testVars()
	env := expression.NewEnv(types, expression.WithLimits(expression.Limits{MemoryBudget: 10_000, MaxStringBytes: 64 << 10, MaxSteps: 20_000}))
	f.Fuzz(func(t *testing.T, src string) {
		p, tr, err := Compile(src, env)
		if err != nil {
			var fe *Error
			var ee *expression.Error
			switch {
			case errors.As(err, &fe):
				line, col := lineCol([]rune(src), len([]rune(src)))
				if fe.Line < 1 || fe.Column < 1 || fe.Line > line || (fe.Line == line && fe.Column > col+1) {
					t.Fatalf("error position %d:%d outside the source (%d:%d): %v", fe.Line, fe.Column, line, col, fe)
				}
				if fe.Construct == "" {
					t.Fatalf("error without construct: %v", fe)
				}
			case errors.As(err, &ee):
				if tr == nil {
					t.Fatalf("compile error without translation: %v", err)
				}
			default:
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		again, err := Translate(src, Options{Variables: func(n string) bool { _, ok := types[n]; return ok }})
		if err != nil || again.Expr != tr.Expr {
			t.Fatalf("translation not deterministic: %q vs %v, %v", tr.Expr, again, err)
		}
		_, _ = p.Run(values, testNow)
	})
}
