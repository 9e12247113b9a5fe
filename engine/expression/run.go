package expression

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Run evaluates the program over vars with `now` as the current time.
// vars is not modified. It copies vars and allocates a fresh evaluator;
// hot paths should reuse an Evaluator instead.
func (p *Program) Run(vars map[string]any, now time.Time) (any, error) {
	m := make(map[string]any, len(vars)+2)
	for k, v := range vars {
		m[k] = v
	}
	ev := p.env.NewEvaluator()
	ev.Bind(m, now)
	return ev.Eval(p, m)
}

// Evaluator runs programs with a reused virtual machine so that evaluating
// many records allocates nothing per evaluation. It is not safe for
// concurrent use; create one per goroutine.
type Evaluator struct {
	vm       vm.VM
	state    runState
	now      time.Time
	nowBoxed any
	stateAny any
	slots    []any
}

// NewEvaluator returns an evaluator using this Env's run-time limits.
func (e *Env) NewEvaluator() *Evaluator {
	ev := &Evaluator{vm: vm.VM{MemoryBudget: e.limits.MemoryBudget}, state: runState{limit: e.limits.MaxStringBytes}}
	ev.stateAny = &ev.state
	return ev
}

// Bind writes `now` and the evaluator's budget (under a reserved "__" key)
// into vars; call it once per record (or whenever now changes) before Eval,
// and call Unbind before storing the map. Reusing the same now across
// records reuses the boxed value, so binding does not allocate.
func (ev *Evaluator) Bind(vars map[string]any, now time.Time) {
	if ev.nowBoxed == nil || ev.now != now {
		ev.now = now
		ev.nowBoxed = now
	}
	vars[NowVar] = ev.nowBoxed
	vars[runVar] = ev.stateAny
}

// Unbind removes what Bind wrote, so a record map can be stored again.
func Unbind(vars map[string]any) {
	delete(vars, NowVar)
	delete(vars, runVar)
}

// Eval runs p over vars previously prepared with Bind. Errors (type errors
// on unexpected input, budgets exceeded, helper failures) are returned, never
// panicked.
func (ev *Evaluator) Eval(p *Program, vars map[string]any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("evaluate %q: %v", p.src, r)
		}
	}()
	ev.state.used, ev.state.steps = 0, 0
	out, err = ev.vm.Run(p.prog, vars)
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", p.src, err)
	}
	if p.expect != KindAny && p.static == KindAny {
		if out, err = conform(out, p.expect); err != nil {
			return nil, fmt.Errorf("evaluate %q: %w", p.src, err)
		}
	}
	return out, nil
}

// EvalBool runs a condition; it exists so hot paths avoid a type switch at
// every call site.
func (ev *Evaluator) EvalBool(p *Program, vars map[string]any) (bool, error) {
	out, err := ev.Eval(p, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("evaluate %q: result is %T, not a bool", p.src, out)
	}
	return b, nil
}

// conform checks a dynamically typed result against the expected kind.
func conform(v any, k Kind) (any, error) {
	switch k {
	case KindBool:
		if _, ok := v.(bool); ok {
			return v, nil
		}
	case KindString:
		if _, ok := v.(string); ok {
			return v, nil
		}
	case KindInt:
		switch n := v.(type) {
		case int:
			return v, nil
		case float64:
			if n == float64(int(n)) {
				return int(n), nil
			}
		}
	case KindFloat:
		switch n := v.(type) {
		case float64:
			return v, nil
		case int:
			return float64(n), nil
		}
	case KindTime:
		if _, ok := v.(time.Time); ok {
			return v, nil
		}
	case KindDuration:
		if _, ok := v.(time.Duration); ok {
			return v, nil
		}
	case KindList:
		if kindOfValue(v) == KindList {
			return v, nil
		}
	case KindObject:
		if kindOfValue(v) == KindObject {
			return v, nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("result %v (%T) is not a %s", v, v, k)
}
