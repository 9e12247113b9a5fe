package bpmn

import (
	"strings"
	"sync"

	"github.com/rapportcrm/rapport/engine/expression"
)

// EntityTypes resolves a record trigger's entity to the expression type of its records, so conditions
// over `record` are checked field by field; nil (or an unknown entity) makes `record` untyped.
type EntityTypes func(entity string) (*expression.Type, bool)

// DefaultExprChecker compiles expressions with engine/expression against the site's variables (declared
// types, "any" for assigned ones) plus `record` for record-triggered processes. It is what Validate uses
// when Options.CheckExpr is nil. The returned checker caches environments by variable set (a process's
// sites share one), is safe for concurrent use, and should be dropped with the validation it served.
func DefaultExprChecker(entities EntityTypes) ExprChecker {
	var (
		mu   sync.Mutex
		envs = map[string]*expression.Env{}
	)
	return func(site ExprSite) error {
		var key strings.Builder
		key.WriteString(site.Entity)
		for _, v := range site.Variables {
			key.WriteString("\x00" + v.Name + ":" + v.Type)
			if v.Shape != nil {
				key.WriteString("=" + v.Shape.String())
			}
		}
		mu.Lock()
		env, ok := envs[key.String()]
		mu.Unlock()
		if !ok {
			env = newSiteEnv(site, entities)
			mu.Lock()
			envs[key.String()] = env
			mu.Unlock()
		}
		var opts []expression.Option
		if k, ok := resultKind(site.Result); ok {
			opts = append(opts, expression.Expect(k))
		}
		// The error already lists line:column problems; the validator adds the element and field.
		_, err := expression.Compile(site.Source, env, opts...)
		return err
	}
}

// newSiteEnv builds the expression environment for a site's variables.
func newSiteEnv(site ExprSite, entities EntityTypes) *expression.Env {
	vars := make(map[string]*expression.Type, len(site.Variables)+1)
	for _, v := range site.Variables {
		vars[v.Name] = expression.Scalar(KindOf(v.Type))
		if v.Shape != nil {
			vars[v.Name] = v.Shape
		}
	}
	if site.Entity != "" {
		t := expression.Scalar(expression.KindAny)
		if entities != nil {
			if et, ok := entities(site.Entity); ok && et != nil {
				t = et
			}
		}
		if _, declared := vars["record"]; !declared {
			vars["record"] = t
		}
	}
	return expression.NewEnv(vars)
}

// KindOf is the expression kind of a declared variable or form field type (aliases included), so the
// validator, the interpreter and the dry run type a declared name alike.
func KindOf(t string) expression.Kind {
	switch normalizeType(t) {
	case "string":
		return expression.KindString
	case "int":
		return expression.KindInt
	case "float":
		return expression.KindFloat
	case "bool":
		return expression.KindBool
	case "time":
		return expression.KindTime
	case "duration":
		return expression.KindDuration
	case "list":
		return expression.KindList
	}
	// "object" stays KindAny: a declared object has no field list, and an empty strict object type
	// would refuse every field access.
	return expression.KindAny
}

func resultKind(r ExprResult) (expression.Kind, bool) {
	switch r {
	case ResultBool:
		return expression.KindBool, true
	case ResultString:
		return expression.KindString, true
	case ResultTime:
		return expression.KindTime, true
	case ResultDuration:
		return expression.KindDuration, true
	case ResultList:
		return expression.KindList, true
	}
	return expression.KindAny, false
}
