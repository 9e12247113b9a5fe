package expression

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"time"
)

// kindOfValue classifies a Go value the way expressions see it.
func kindOfValue(v any) Kind {
	if v == nil {
		return KindAny
	}
	return kindOfReflect(reflect.TypeOf(v))
}

// Coerce converts vars in place to the declared types so that values from
// JSON or MongoDB (float64 or int64 numbers, RFC 3339 strings, []string)
// have the exact Go types compiled programs expect, and fills missing
// declared variables with their kind's zero value (so `budget > 0` on a
// record without a budget is false, not an error). Undeclared keys are kept.
func (e *Env) Coerce(vars map[string]any) error {
	names := make([]string, 0, len(e.vars))
	for n := range e.vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := coerceValue(vars[name], e.vars[name], name)
		if err != nil {
			return err
		}
		vars[name] = v
	}
	return nil
}

// ZeroValue returns the value a missing variable of type t takes.
func ZeroValue(t *Type) any {
	if t == nil {
		return nil
	}
	switch t.Kind {
	case KindString:
		return ""
	case KindInt:
		return 0
	case KindFloat:
		return 0.0
	case KindBool:
		return false
	case KindTime:
		return time.Time{}
	case KindDuration:
		return time.Duration(0)
	case KindList:
		return []any{}
	case KindObject:
		m := make(map[string]any, len(t.Fields))
		for n, ft := range t.Fields {
			m[n] = ZeroValue(ft)
		}
		return m
	}
	return nil
}

func coerceValue(v any, t *Type, path string) (any, error) {
	if t == nil || t.Kind == KindAny {
		return v, nil
	}
	if v == nil {
		return ZeroValue(t), nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("field %q: cannot use %v (%T) as %s", path, v, v, t)
	}
	switch t.Kind {
	case KindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return bad()
	case KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return bad()
	case KindInt:
		switch n := v.(type) {
		case int:
			return n, nil
		case int8:
			return int(n), nil
		case int16:
			return int(n), nil
		case int32:
			return int(n), nil
		case int64:
			return int(n), nil
		case uint8:
			return int(n), nil
		case uint16:
			return int(n), nil
		case uint32:
			return int(n), nil
		case float32:
			return floatToInt(float64(n), bad)
		case float64:
			return floatToInt(n, bad)
		case json.Number:
			i, err := n.Int64()
			if err != nil {
				return bad()
			}
			return int(i), nil
		}
		return bad()
	case KindFloat:
		switch n := v.(type) {
		case float64:
			return n, nil
		case float32:
			return float64(n), nil
		case int:
			return float64(n), nil
		case int32:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case json.Number:
			f, err := n.Float64()
			if err != nil {
				return bad()
			}
			return f, nil
		}
		return bad()
	case KindTime:
		switch x := v.(type) {
		case time.Time:
			return x, nil
		case interface{ Time() time.Time }: // e.g. bson.DateTime
			return x.Time().UTC(), nil
		case string:
			ts, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				if ts, err = time.Parse("2006-01-02", x); err != nil {
					return bad()
				}
			}
			return ts, nil
		}
		return bad()
	case KindDuration:
		switch x := v.(type) {
		case time.Duration:
			return x, nil
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return bad()
			}
			return d, nil
		}
		return bad()
	case KindList:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return bad()
		}
		out := make([]any, rv.Len())
		for i := range out {
			ev, err := coerceValue(rv.Index(i).Interface(), t.Elem, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		return out, nil
	case KindObject:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			return bad()
		}
		// Named map types (bson.M) are copied into a plain map[string]any.
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().String()] = it.Value().Interface()
		}
		out := make(map[string]any, len(m))
		for k, fv := range m {
			out[k] = fv
		}
		for _, name := range sortedNames(t.Fields) {
			ft := t.Fields[name]
			fv, err := coerceValue(m[name], ft, path+"."+name)
			if err != nil {
				return nil, err
			}
			out[name] = fv
		}
		return out, nil
	}
	return v, nil
}

func floatToInt(f float64, bad func() (any, error)) (any, error) {
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return bad()
	}
	return int(f), nil
}

// sortedNames returns the keys of fields in order, so error messages do not
// depend on map iteration order.
func sortedNames(fields map[string]*Type) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
