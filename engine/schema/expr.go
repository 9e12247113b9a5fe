package schema

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/expression"
)

// EnvFor returns the expression environment of an entity's records: every
// field (and system field) as a typed variable. It is the one place that
// maps field types to expression types, so computed fields, validation
// rules, rule sets and BPMN conditions over records agree. References are
// their record ID (a string); dates are times at midnight UTC; money is an
// object {amount, currency}.
func EnvFor(e Entity, opts ...expression.EnvOption) *expression.Env {
	vars := make(map[string]*expression.Type, len(e.Fields)+len(systemFields))
	for i := range systemFields {
		vars[systemFields[i].Name] = ExprType(&systemFields[i])
	}
	for i := range e.Fields {
		vars[e.Fields[i].Name] = ExprType(&e.Fields[i])
	}
	return expression.NewEnv(vars, opts...)
}

// ExprType maps one field to its expression type.
func ExprType(f *Field) *expression.Type {
	switch f.Type {
	case TypeInteger:
		return expression.Scalar(expression.KindInt)
	case TypeDecimal:
		return expression.Scalar(expression.KindFloat)
	case TypeBoolean:
		return expression.Scalar(expression.KindBool)
	case TypeDate, TypeDateTime:
		return expression.Scalar(expression.KindTime)
	case TypeMoney:
		return expression.ObjectOf(map[string]*expression.Type{
			"amount":   expression.Scalar(expression.KindFloat),
			"currency": expression.Scalar(expression.KindString),
		})
	case TypeList:
		if f.Item == nil {
			return expression.ListOf(nil)
		}
		return expression.ListOf(ExprType(f.Item))
	case TypeObject:
		fields := make(map[string]*expression.Type, len(f.Fields))
		for i := range f.Fields {
			fields[f.Fields[i].Name] = ExprType(&f.Fields[i])
		}
		return expression.ObjectOf(fields)
	}
	return expression.Scalar(expression.KindString)
}

// computedKind is the result kind a computed field's expression must have;
// ok is false for types a computed field cannot have.
func computedKind(t Type) (expression.Kind, bool) {
	switch t {
	case TypeString, TypeText, TypeEnum, TypeEmail, TypePhone, TypeURL, TypeReference:
		return expression.KindString, true
	case TypeInteger:
		return expression.KindInt, true
	case TypeDecimal:
		return expression.KindFloat, true
	case TypeBoolean:
		return expression.KindBool, true
	case TypeDate, TypeDateTime:
		return expression.KindTime, true
	}
	return expression.KindAny, false
}

type computedField struct {
	field *Field
	prog  *expression.Program
}

type compiledRule struct {
	field string
	rule  Rule
	prog  *expression.Program
}

// compiledExprs holds the entity's compiled computed fields (in dependency
// order) and rules.
type compiledExprs struct {
	env      *expression.Env
	computed []computedField
	rules    []compiledRule
}

// compileExprs compiles every expression of the entity; problems come back
// as a *DefinitionError with pointers to the offending definition keys and
// line:column positions inside the expression.
func compileExprs(e Entity) (*compiledExprs, error) {
	has := false
	for i := range e.Fields {
		if e.Fields[i].Computed != "" || len(e.Fields[i].Rules) > 0 {
			has = true
		}
	}
	if !has {
		return nil, nil
	}
	c := &compiledExprs{env: EnvFor(e)}
	var problems []FieldError
	addErr := func(ptr string, err error) {
		var xe *expression.Error
		if errors.As(err, &xe) {
			for _, p := range xe.Problems {
				problems = append(problems, FieldError{Pointer: ptr, Message: fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Message)})
			}
			return
		}
		problems = append(problems, FieldError{Pointer: ptr, Message: err.Error()})
	}
	byName := map[string]computedField{}
	for i := range e.Fields {
		f := &e.Fields[i]
		base := "/fields/" + strconv.Itoa(i)
		if f.Computed != "" {
			k, ok := computedKind(f.Type)
			if !ok {
				problems = append(problems, FieldError{Pointer: base + "/computed", Message: fmt.Sprintf("a %s field cannot be computed", f.Type)})
			} else if p, err := expression.Compile(f.Computed, c.env, expression.Expect(k)); err != nil {
				addErr(base+"/computed", err)
			} else {
				byName[f.Name] = computedField{field: f, prog: p}
			}
		}
		for j, r := range f.Rules {
			p, err := expression.Compile(r.Expr, c.env, expression.Expect(expression.KindBool))
			if err != nil {
				addErr(base+"/rules/"+strconv.Itoa(j)+"/expr", err)
				continue
			}
			c.rules = append(c.rules, compiledRule{field: f.Name, rule: r, prog: p})
		}
	}
	order, cycle := computeOrder(byName)
	if cycle != "" {
		problems = append(problems, FieldError{Pointer: "/fields", Message: "computed fields depend on each other in a cycle: " + cycle})
	}
	if len(problems) > 0 {
		return nil, &DefinitionError{Entity: e.Name, Problems: problems}
	}
	for _, n := range order {
		c.computed = append(c.computed, byName[n])
	}
	return c, nil
}

// computeOrder sorts computed fields so each runs after the computed fields
// it reads; it reports a cycle as "a -> b -> a".
func computeOrder(cf map[string]computedField) ([]string, string) {
	names := make([]string, 0, len(cf))
	for n := range cf {
		names = append(names, n)
	}
	sort.Strings(names)
	state := map[string]int{} // 1 visiting, 2 done
	var order []string
	var stack []string
	var visit func(n string) string
	visit = func(n string) string {
		switch state[n] {
		case 2:
			return ""
		case 1:
			return strings.Join(append(stack, n), " -> ")
		}
		state[n] = 1
		stack = append(stack, n)
		for _, dep := range cf[n].prog.Fields() {
			if _, ok := cf[dep]; ok {
				if c := visit(dep); c != "" {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = 2
		order = append(order, n)
		return ""
	}
	for _, n := range names {
		if c := visit(n); c != "" {
			return nil, c
		}
	}
	return order, ""
}

// apply evaluates computed fields (writing their values into rec) and then
// the rules, over the record (Create) or the stored record merged with the
// patch (Patch with WithCurrent; without it nothing is evaluated).
func (c *compiledExprs) apply(v *Validator, rec map[string]any, mode Mode, o *validateOpts) []FieldError {
	var full map[string]any
	switch {
	case mode == Create:
		full = rec
	case o.current != nil:
		cur, err := plain(o.current)
		if err != nil {
			return []FieldError{{Message: fmt.Sprintf("stored record cannot be read: %v", err)}}
		}
		full = MergePatch(cur.(map[string]any), rec)
	default:
		return nil
	}
	vars := make(map[string]any, len(full)+2)
	for k, val := range full {
		pv, err := plain(val)
		if err != nil {
			return []FieldError{{Pointer: Pointer(k), Message: err.Error()}}
		}
		vars[k] = pv
	}
	if err := c.env.Coerce(vars); err != nil {
		return []FieldError{{Message: fmt.Sprintf("record cannot be evaluated: %v", err)}}
	}
	ev := c.env.NewEvaluator()
	ev.Bind(vars, o.now)
	var errs []FieldError
	for _, cf := range c.computed {
		out, err := ev.Eval(cf.prog, vars)
		ptr := Pointer(cf.field.Name)
		if err != nil {
			errs = append(errs, FieldError{Pointer: ptr, Message: fmt.Sprintf("could not be computed: %v", err)})
			continue
		}
		vars[cf.field.Name] = out
		rec[cf.field.Name] = storedComputed(cf.field.Type, out)
	}
	for _, r := range c.rules {
		ok, err := ev.EvalBool(r.prog, vars)
		ptr := Pointer(r.field)
		switch {
		case err != nil:
			errs = append(errs, FieldError{Pointer: ptr, Message: fmt.Sprintf("rule %q could not be evaluated: %v", r.rule.Expr, err)})
		case !ok:
			errs = append(errs, FieldError{Pointer: ptr, Message: r.rule.Message.Text(o.lang)})
		}
	}
	return errs
}

// storedComputed converts an expression result into the stored form of a
// field of type t.
func storedComputed(t Type, v any) any {
	switch t {
	case TypeInteger:
		if i, ok := v.(int); ok {
			return int64(i)
		}
	case TypeDate:
		if tm, ok := v.(time.Time); ok {
			return tm.Format(time.DateOnly)
		}
	case TypeDateTime:
		if tm, ok := v.(time.Time); ok {
			return tm.UTC()
		}
	}
	return v
}

// MergePatch applies an RFC 7396 JSON merge patch to a copy of doc and
// returns it: objects merge recursively, null removes, anything else
// replaces. doc is not modified.
func MergePatch(doc, patch map[string]any) map[string]any {
	out := make(map[string]any, len(doc)+len(patch))
	for k, v := range doc {
		out[k] = v
	}
	for k, pv := range patch {
		if pv == nil {
			delete(out, k)
			continue
		}
		if pm, ok := pv.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = MergePatch(dm, pm)
				continue
			}
			out[k] = MergePatch(map[string]any{}, pm)
			continue
		}
		out[k] = pv
	}
	return out
}
