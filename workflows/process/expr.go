package process

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/expression"
)

// exprs compiles and runs the model's expressions against the instance's variables. Declared variables
// keep their types; every other name is typed any. The environment is rebuilt only when a new variable
// name appears, and programs are cached per environment, so a hot loop compiles each source once.
// Compiling is deterministic, so the cache (which lives only in worker memory) never affects replay.
type exprs struct {
	declared map[string]*expression.Type
	names    map[string]bool
	env      *expression.Env
	declEnv  *expression.Env
	progs    map[string]*expression.Program
	opts     []expression.EnvOption
	// shared and envFP: the worker's environments and programs, and the fingerprint of env there
	// ("" when env is the instance's own).
	shared *shared
	envFP  string
}

// newExprs prepares the expressions of a model. With assigned set (behaviour level 1) every name the
// process assigns itself (form fields, output and input targets, script targets, result variables,
// loop variables) is known from the start, so an expression reading one that has no value yet (an
// optional form field left empty) sees nil instead of failing with an unknown name. cals are the
// business calendars addBusinessHours and businessHoursBetween may name.
// sh, when set, shares environments and compiled programs with the worker's other instances.
func newExprs(m *bpmn.Model, assigned bool, cals map[string]expression.Calendar, sh *shared) *exprs {
	x := &exprs{declared: map[string]*expression.Type{}, names: map[string]bool{}, shared: sh}
	for _, v := range m.Variables {
		x.declared[v.Name] = expression.Scalar(kindOf(v.Type))
	}
	x.declEnv, _ = sh.env(x.declared, nil)
	// Names every run may see, so the environment rarely changes.
	for _, n := range []string{bpmn.ResultVar, "record", "error"} {
		x.names[n] = true
	}
	if assigned {
		for _, n := range assignedNames(m) {
			if _, ok := x.declared[n]; !ok && n != expression.NowVar {
				x.names[n] = true
			}
		}
	}
	if len(cals) > 0 {
		x.opts = append(x.opts, expression.WithCalendars(cals))
	}
	return x
}

// assignedNames lists the variables the process assigns itself (the root of dotted targets).
func assignedNames(m *bpmn.Model) []string {
	var out []string
	add := func(name string) {
		if root, _, _ := strings.Cut(name, "."); root != "" && !slices.Contains(out, root) {
			out = append(out, root)
		}
	}
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if n.User != nil {
			for _, f := range n.User.Fields {
				add(f.Name)
			}
		}
		for _, o := range n.Outputs {
			add(o.Target)
		}
		for _, in := range n.Inputs {
			add(in.Target)
		}
		for _, a := range n.Script {
			add(a.Target)
		}
		if n.Rules != nil {
			add(n.Rules.ResultVariable)
		}
		if n.Loop != nil {
			add(n.Loop.InputElement)
			add(n.Loop.OutputCollection)
			add(loopCounter)
		}
	}
	return out
}

// kindOf maps a declared variable type to an expression kind (objects stay any: they have no fields).
func kindOf(t string) expression.Kind {
	switch strings.ToLower(t) {
	case "string":
		return expression.KindString
	case "int", "integer":
		return expression.KindInt
	case "float", "number":
		return expression.KindFloat
	case "bool", "boolean":
		return expression.KindBool
	case "time", "date", "datetime":
		return expression.KindTime
	case "duration":
		return expression.KindDuration
	case "list", "array":
		return expression.KindList
	}
	return expression.KindAny
}

// ensure rebuilds the environment when vars hold a name it does not know yet.
func (x *exprs) ensure(vars map[string]any) {
	changed := x.env == nil
	for k := range vars {
		if _, ok := x.declared[k]; ok || x.names[k] || k == expression.NowVar {
			continue
		}
		x.names[k] = true
		changed = true
	}
	if !changed {
		return
	}
	types := make(map[string]*expression.Type, len(x.declared)+len(x.names))
	for n := range x.names {
		types[n] = expression.Scalar(expression.KindAny)
	}
	for n, t := range x.declared {
		types[n] = t
	}
	x.env, x.envFP = x.shared.env(types, x.opts)
	x.progs = map[string]*expression.Program{}
}

// coerce converts declared variables to their Go types (JSON decodes numbers as float64) and gives
// missing declared variables their zero value.
func (x *exprs) coerce(vars map[string]any) error {
	if err := x.declEnv.Coerce(vars); err != nil {
		return fmt.Errorf("coerce variables: %w", err)
	}
	return nil
}

// eval runs src over vars plus extra (e.g. result) at workflow time now.
func (x *exprs) eval(src string, vars, extra map[string]any, now time.Time) (any, error) {
	src = strings.TrimPrefix(strings.TrimSpace(src), "=")
	x.ensure(vars)
	x.ensure(extra)
	p, ok := x.progs[src]
	if !ok {
		var err error
		p, err = x.shared.compile(src, x.env, x.envFP)
		if err != nil {
			return nil, fmt.Errorf("compile %q: %w", src, err)
		}
		x.progs[src] = p
	}
	run := vars
	if len(extra) > 0 {
		run = make(map[string]any, len(vars)+len(extra))
		for k, v := range vars {
			run[k] = v
		}
		for k, v := range extra {
			run[k] = v
		}
	}
	out, err := p.Run(run, now)
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", src, err)
	}
	return out, nil
}

// evalBool evaluates a condition.
func (x *exprs) evalBool(src string, vars map[string]any, now time.Time) (bool, error) {
	v, err := x.eval(src, vars, nil, now)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q gave %T, not a bool", src, v)
	}
	return b, nil
}

// value resolves a literal-or-expression attribute to its value.
func (x *exprs) value(e bpmn.Expr, vars map[string]any, now time.Time) (any, error) {
	if e.Expression != "" {
		return x.eval(e.Expression, vars, nil, now)
	}
	return e.Literal, nil
}

// stringList turns a value into a list of strings (comma-separated text or a list).
func stringList(v any) []string {
	var out []string
	switch t := v.(type) {
	case nil:
	case string:
		for _, p := range strings.Split(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	case []string:
		out = append(out, t...)
	case []any:
		for _, e := range t {
			out = append(out, fmt.Sprint(e))
		}
	default:
		out = append(out, fmt.Sprint(t))
	}
	return out
}

// sortedKeys returns the keys of m in order, so loops over maps never decide anything by map order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
