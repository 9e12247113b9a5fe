package expression

import (
	"strings"
	"testing"
)

// FuzzCompileRun compiles and runs arbitrary expressions against the lead
// environment: nothing may panic, and limits must hold.
func FuzzCompileRun(f *testing.F) {
	for _, s := range []string{
		`budget > 1000000`,
		`source == "partner" && "vip" in tags`,
		`daysBetween(createdAt, now) > 30`,
		`reduce(1..64, #acc + #acc, "ab")`,
		`repeat(name, score)`,
		`map(1..100000, #)`,
		`let x = name + name; x + x`,
	} {
		f.Add(s)
	}
	env := NewEnv(leadVars(),
		WithCalendars(map[string]Calendar{"office": fixedCalendar{}}),
		WithSegments(SegmentSet{"top": {"L-1": true}}),
		WithLimits(Limits{MemoryBudget: 10_000, MaxStringBytes: 64 << 10, MaxSteps: 20_000}),
	)
	ev := env.NewEvaluator()
	fixed, err := Compile(`budget > 1000 && "vip" in tags`, env)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, env)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("compile error of type %T: %v", err, err)
			}
			return
		}
		if len(src) > env.Limits().MaxSourceLen {
			t.Fatalf("accepted %d bytes over the limit", len(src))
		}
		rec := leadRecord()
		ev.Bind(rec, testNow)
		out, err := ev.Eval(p, rec)
		if b, ok := out.(bool); ok && err == nil {
			// Differential check: a batch must agree with the lone program.
			if batch, berr := CompileBatch([]*Program{p, fixed}); berr == nil {
				res := make([]bool, 2)
				if err := ev.EvalBatch(batch, rec, res); err != nil || res[0] != b || !res[1] {
					t.Fatalf("batch gave %v, %v; program gave %v", res, err, b)
				}
			}
		}
		if err != nil {
			return
		}
		if s, ok := out.(string); ok && len(s) > 2*env.Limits().MaxStringBytes+len(src) {
			t.Fatalf("result of %d bytes exceeds the string budget", len(s))
		}
		for _, f := range p.Fields() {
			if !strings.Contains(src, f) {
				t.Fatalf("field %q not in source", f)
			}
		}
	})
}
