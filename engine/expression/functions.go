package expression

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm/runtime"
)

var (
	anyReflect      = reflect.TypeOf((*any)(nil)).Elem()
	stringReflect   = reflect.TypeOf("")
	boolReflect     = reflect.TypeOf(true)
	intReflect      = reflect.TypeOf(0)
	floatReflect    = reflect.TypeOf(0.0)
	runStateReflect = reflect.TypeOf(&runState{})
	memberSet       = reflect.TypeOf(map[string]bool{})
)

// argKind classifies a checked argument type for hand-written validators.
type argKind int

const (
	argString argKind = iota
	argNumber
	argInt
	argTime
	argList
	argAnything
	argRun
)

// fits reports whether a checked argument type can be passed where k is
// expected; interface (unknown) types are accepted and checked at run time.
func fits(t reflect.Type, k argKind) bool {
	if t == nil || t.Kind() == reflect.Interface {
		return k != argRun
	}
	switch k {
	case argString:
		return t.Kind() == reflect.String
	case argNumber:
		kk := kindOfReflect(t)
		return kk == KindInt || kk == KindFloat
	case argInt:
		return kindOfReflect(t) == KindInt
	case argTime:
		return t == timeReflect
	case argList:
		return t.Kind() == reflect.Slice || t.Kind() == reflect.Array
	case argRun:
		return t == runStateReflect
	default:
		return true
	}
}

var argNames = map[argKind]string{argString: "string", argNumber: "number", argInt: "int", argTime: "time", argList: "list", argAnything: "any", argRun: "internal"}

// signature builds an expr validator: fixed kinds for the required
// arguments, optional trailing ones, and a result type.
func signature(name string, ret reflect.Type, required []argKind, optional ...argKind) func([]reflect.Type) (reflect.Type, error) {
	return func(args []reflect.Type) (reflect.Type, error) {
		if len(args) < len(required) || len(args) > len(required)+len(optional) {
			shown := 0
			for _, k := range required {
				if k != argRun {
					shown++
				}
			}
			return anyReflect, fmt.Errorf("%s expects %d to %d arguments, got %d", name, shown, shown+len(optional), len(args)-(len(required)-shown))
		}
		all := append(append([]argKind{}, required...), optional...)
		for i, t := range args {
			if !fits(t, all[i]) {
				pos := i
				if len(required) > 0 && required[0] == argRun {
					pos--
				}
				return anyReflect, fmt.Errorf("%s: argument %d must be %s, not %s", name, pos+1, argNames[all[i]], t)
			}
		}
		return ret, nil
	}
}

func toTime(v any) (time.Time, error) {
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("expected a time, got %T", v)
	}
	return t, nil
}

func toString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("expected a string, got %T", v)
	}
	return s, nil
}

func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case int:
		return float64(n), nil
	case float64:
		return n, nil
	case int64:
		return float64(n), nil
	case int32:
		return float64(n), nil
	case float32:
		return float64(n), nil
	}
	return 0, fmt.Errorf("expected a number, got %T", v)
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case int32:
		return int(n), nil
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || math.IsNaN(n) {
			return 0, fmt.Errorf("expected a whole number, got %v", n)
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("expected an int, got %T", v)
}

// durationOfHours converts fractional hours to a Duration, refusing values
// that would overflow.
func durationOfHours(h float64) (time.Duration, error) {
	d := h * float64(time.Hour)
	if math.IsNaN(d) || math.Abs(d) > float64(math.MaxInt64/2) {
		return 0, fmt.Errorf("duration of %v hours is out of range", h)
	}
	return time.Duration(d), nil
}

// functions returns the documented helper functions (see doc.go), each
// closed over this Env's zones, calendars, segments and limits.
func (e *Env) functions() []*builtin.Function {
	maxStr := e.limits.MaxStringBytes
	maxSteps := e.limits.MaxSteps
	zone := func(args []any, i int, t time.Time) (*time.Location, error) {
		if len(args) <= i {
			return t.Location(), nil
		}
		name, err := toString(args[i])
		if err != nil {
			return nil, err
		}
		return e.zones.get(name)
	}
	calendar := func(v any) (Calendar, error) {
		name, err := toString(v)
		if err != nil {
			return nil, err
		}
		c, ok := e.calendars[name]
		if !ok {
			return nil, fmt.Errorf("unknown business calendar %q", name)
		}
		return c, nil
	}
	timeRet := timeReflect
	return []*builtin.Function{
		{
			Name: "addDays",
			Func: func(args ...any) (any, error) {
				t, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				n, err := toInt(args[1])
				if err != nil {
					return nil, err
				}
				return t.AddDate(0, 0, n), nil
			},
			Validate: signature("addDays", timeRet, []argKind{argTime, argInt}),
		},
		{
			Name: "addHours",
			Func: func(args ...any) (any, error) {
				t, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				h, err := toFloat(args[1])
				if err != nil {
					return nil, err
				}
				d, err := durationOfHours(h)
				if err != nil {
					return nil, err
				}
				return t.Add(d), nil
			},
			Validate: signature("addHours", timeRet, []argKind{argTime, argNumber}),
		},
		{
			Name: "addMinutes",
			Func: func(args ...any) (any, error) {
				t, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				m, err := toFloat(args[1])
				if err != nil {
					return nil, err
				}
				d, err := durationOfHours(m / 60)
				if err != nil {
					return nil, err
				}
				return t.Add(d), nil
			},
			Validate: signature("addMinutes", timeRet, []argKind{argTime, argNumber}),
		},
		{
			Name: "daysBetween",
			Func: func(args ...any) (any, error) {
				a, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				b, err := toTime(args[1])
				if err != nil {
					return nil, err
				}
				return int(b.Sub(a) / (24 * time.Hour)), nil
			},
			Validate: signature("daysBetween", intReflect, []argKind{argTime, argTime}),
		},
		{
			Name: "hoursBetween",
			Func: func(args ...any) (any, error) {
				a, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				b, err := toTime(args[1])
				if err != nil {
					return nil, err
				}
				return b.Sub(a).Hours(), nil
			},
			Validate: signature("hoursBetween", floatReflect, []argKind{argTime, argTime}),
		},
		{
			Name: "startOfDay",
			Func: func(args ...any) (any, error) {
				t, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				loc, err := zone(args, 1, t)
				if err != nil {
					return nil, err
				}
				l := t.In(loc)
				return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc), nil
			},
			Validate: signature("startOfDay", timeRet, []argKind{argTime}, argString),
		},
		{
			Name: "weekday",
			Func: func(args ...any) (any, error) {
				t, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				loc, err := zone(args, 1, t)
				if err != nil {
					return nil, err
				}
				return int(t.In(loc).Weekday()), nil
			},
			Validate: signature("weekday", intReflect, []argKind{argTime}, argString),
		},
		{
			Name: "addBusinessHours",
			Func: func(args ...any) (any, error) {
				t, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				h, err := toFloat(args[1])
				if err != nil {
					return nil, err
				}
				d, err := durationOfHours(h)
				if err != nil {
					return nil, err
				}
				c, err := calendar(args[2])
				if err != nil {
					return nil, err
				}
				return c.AddBusinessDuration(t, d)
			},
			Validate: signature("addBusinessHours", timeRet, []argKind{argTime, argNumber, argString}),
		},
		{
			Name: "businessHoursBetween",
			Func: func(args ...any) (any, error) {
				a, err := toTime(args[0])
				if err != nil {
					return nil, err
				}
				b, err := toTime(args[1])
				if err != nil {
					return nil, err
				}
				c, err := calendar(args[2])
				if err != nil {
					return nil, err
				}
				d, err := c.BusinessDurationBetween(a, b)
				if err != nil {
					return nil, err
				}
				return d.Hours(), nil
			},
			Validate: signature("businessHoursBetween", floatReflect, []argKind{argTime, argTime, argString}),
		},
		{
			Name: "normalizeEmail",
			Func: func(args ...any) (any, error) {
				s, err := toString(args[0])
				if err != nil {
					return nil, err
				}
				return strings.ToLower(strings.TrimSpace(s)), nil
			},
			Validate: signature("normalizeEmail", stringReflect, []argKind{argString}),
		},
		{
			Name: "digitsOnly",
			Func: func(args ...any) (any, error) {
				s, err := toString(args[0])
				if err != nil {
					return nil, err
				}
				return strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return r
					}
					return -1
				}, s), nil
			},
			Validate: signature("digitsOnly", stringReflect, []argKind{argString}),
		},
		{
			Name: "normalizeSpace",
			Func: func(args ...any) (any, error) {
				s, err := toString(args[0])
				if err != nil {
					return nil, err
				}
				return strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " "), nil
			},
			Validate: signature("normalizeSpace", stringReflect, []argKind{argString}),
		},
		{
			Name: "inList",
			Func: func(args ...any) (any, error) {
				return listContains(args[1], args[0])
			},
			Validate: signature("inList", boolReflect, []argKind{argAnything, argList}),
		},
		{
			Name: "hasAny",
			Func: func(args ...any) (any, error) {
				return listOverlap(args[0], args[1], false)
			},
			Validate: signature("hasAny", boolReflect, []argKind{argList, argList}),
		},
		{
			Name: "hasAll",
			Func: func(args ...any) (any, error) {
				return listOverlap(args[0], args[1], true)
			},
			Validate: signature("hasAll", boolReflect, []argKind{argList, argList}),
		},
		{
			Name: "segment",
			Func: func(args ...any) (any, error) {
				name, err := toString(args[0])
				if err != nil {
					return nil, err
				}
				if e.segments == nil {
					return nil, fmt.Errorf("segment %q: no segments configured", name)
				}
				return e.segments.Members(name)
			},
			Validate: signature("segment", memberSet, []argKind{argString}),
		},
		{
			Name: "inSegment",
			Func: func(args ...any) (any, error) {
				key, err := toString(args[0])
				if err != nil {
					return nil, err
				}
				name, err := toString(args[1])
				if err != nil {
					return nil, err
				}
				if e.segments == nil {
					return nil, fmt.Errorf("segment %q: no segments configured", name)
				}
				m, err := e.segments.Members(name)
				if err != nil {
					return nil, err
				}
				return m[key], nil
			},
			Validate: signature("inSegment", boolReflect, []argKind{argString, argString}),
		},
		{
			Name: "timezone",
			Func: func(args ...any) (any, error) {
				name, err := toString(args[0])
				if err != nil {
					return nil, err
				}
				return e.zones.get(name)
			},
			Validate: signature("timezone", reflect.TypeOf(time.UTC), []argKind{argString}),
		},
		{
			Name: "date",
			Func: func(args ...any) (any, error) {
				s, err := toString(args[0])
				if err != nil {
					return nil, err
				}
				loc := time.UTC
				if len(args) == 3 {
					name, err := toString(args[2])
					if err != nil {
						return nil, err
					}
					if loc, err = e.zones.get(name); err != nil {
						return nil, err
					}
				}
				if len(args) >= 2 {
					layout, err := toString(args[1])
					if err != nil {
						return nil, err
					}
					return time.ParseInLocation(layout, s, loc)
				}
				for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
					if t, err := time.ParseInLocation(layout, s, loc); err == nil {
						return t, nil
					}
				}
				return nil, fmt.Errorf("date: cannot parse %q (use RFC 3339 or YYYY-MM-DD, or pass a layout)", s)
			},
			Validate: signature("date", timeRet, []argKind{argString}, argString, argString),
		},
		// Budgeted string builders; the compiler inserts the hidden first argument.
		{
			Name: "repeat",
			Func: func(args ...any) (any, error) {
				s, err := toString(args[1])
				if err != nil {
					return nil, err
				}
				n, err := toInt(args[2])
				if err != nil {
					return nil, err
				}
				if n < 0 {
					return nil, fmt.Errorf("repeat: negative count %d", n)
				}
				if len(s) > 0 && n > maxStr/len(s)+1 {
					return nil, fmt.Errorf("string budget exceeded: repeat of %d bytes %d times", len(s), n)
				}
				if err := run(args[0]).charge(len(s)*n, maxStr); err != nil {
					return nil, err
				}
				return strings.Repeat(s, n), nil
			},
			Validate: signature("repeat", stringReflect, []argKind{argRun, argString, argInt}),
		},
		{
			Name: "replace",
			Func: func(args ...any) (any, error) {
				s, err := toString(args[1])
				if err != nil {
					return nil, err
				}
				old, err := toString(args[2])
				if err != nil {
					return nil, err
				}
				repl, err := toString(args[3])
				if err != nil {
					return nil, err
				}
				n := strings.Count(s, old)
				size := len(s)
				if growth := len(repl) - len(old); growth > 0 {
					if n > 0 && growth > maxStr/n {
						return nil, fmt.Errorf("string budget exceeded: replace would grow %d bytes %d times", growth, n)
					}
					size += n * growth
				}
				if err := run(args[0]).charge(size, maxStr); err != nil {
					return nil, err
				}
				return strings.ReplaceAll(s, old, repl), nil
			},
			Validate: signature("replace", stringReflect, []argKind{argRun, argString, argString, argString}),
		},
		{
			Name: "join",
			Func: func(args ...any) (any, error) {
				sep := ""
				if len(args) == 3 {
					s, err := toString(args[2])
					if err != nil {
						return nil, err
					}
					sep = s
				}
				v := reflect.ValueOf(args[1])
				if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
					return nil, fmt.Errorf("join: expected a list, got %T", args[1])
				}
				parts := make([]string, v.Len())
				size := 0
				for i := range parts {
					s, ok := v.Index(i).Interface().(string)
					if !ok {
						return nil, fmt.Errorf("join: element %d is %T, not a string", i, v.Index(i).Interface())
					}
					size += len(s) + len(sep)
					if size > maxStr {
						return nil, fmt.Errorf("string budget exceeded: join over %d bytes", maxStr)
					}
					parts[i] = s
				}
				if err := run(args[0]).charge(size, maxStr); err != nil {
					return nil, err
				}
				return strings.Join(parts, sep), nil
			},
			Validate: signature("join", stringReflect, []argKind{argRun, argList}, argString),
		},
		{
			Name: "string",
			Func: func(args ...any) (any, error) {
				if s, ok := args[1].(string); ok {
					return s, nil
				}
				size, ok := estimateSize(args[1], maxStr, 0)
				if !ok {
					return nil, fmt.Errorf("string budget exceeded: value too large to format")
				}
				if err := run(args[0]).charge(size, maxStr); err != nil {
					return nil, err
				}
				return fmt.Sprintf("%v", args[1]), nil
			},
			Validate: signature("string", stringReflect, []argKind{argRun, argAnything}),
		},
		{
			Name:     "split",
			Func:     splitBudgeted(false, maxStr),
			Validate: signature("split", reflect.TypeOf([]string{}), []argKind{argRun, argString, argString}, argInt),
		},
		{
			Name:     "splitAfter",
			Func:     splitBudgeted(true, maxStr),
			Validate: signature("splitAfter", reflect.TypeOf([]string{}), []argKind{argRun, argString, argString}, argInt),
		},
		{
			Name: tickFn,
			Func: func(args ...any) (any, error) {
				s := run(args[0])
				if s == nil {
					return true, nil
				}
				s.steps++
				if s.steps > maxSteps {
					return nil, fmt.Errorf("step limit exceeded: more than %d loop iterations", maxSteps)
				}
				return true, nil
			},
			Validate: signature(tickFn, boolReflect, []argKind{argRun}),
		},
		{
			Name: concatFn,
			Func: func(args ...any) (any, error) {
				a, err := toString(args[1])
				if err != nil {
					return nil, err
				}
				b, err := toString(args[2])
				if err != nil {
					return nil, err
				}
				if err := run(args[0]).charge(len(a)+len(b), maxStr); err != nil {
					return nil, err
				}
				return a + b, nil
			},
			Validate: signature(concatFn, stringReflect, []argKind{argRun, argString, argString}),
		},
		{
			Name: addFn,
			Func: func(args ...any) (any, error) {
				a, aok := args[1].(string)
				b, bok := args[2].(string)
				if aok && bok {
					if err := run(args[0]).charge(len(a)+len(b), maxStr); err != nil {
						return nil, err
					}
					return a + b, nil
				}
				return runtime.Add(args[1], args[2]), nil
			},
			Validate: signature(addFn, anyReflect, []argKind{argRun, argAnything, argAnything}),
		},
	}
}

// Names of the functions the compiler substitutes for `+` on strings and
// inserts into every predicate iteration.
const (
	concatFn = "__concat"
	addFn    = "__add"
	tickFn   = "__tick"
)

// budgetedFns take the hidden run-state argument.
var budgetedFns = map[string]bool{
	"repeat": true, "replace": true, "join": true, "string": true, "split": true, "splitAfter": true,
	concatFn: true, addFn: true, tickFn: true,
}

// splitBudgeted splits like strings.Split(N)/SplitAfter(N) and charges 16
// bytes per part to the string budget, since splitting one string into a
// million parts is the cheapest way to build a huge list.
func splitBudgeted(after bool, maxStr int) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		s, err := toString(args[1])
		if err != nil {
			return nil, err
		}
		sep, err := toString(args[2])
		if err != nil {
			return nil, err
		}
		n := -1
		if len(args) == 4 {
			if n, err = toInt(args[3]); err != nil {
				return nil, err
			}
		}
		parts := strings.Count(s, sep) + 1
		if sep == "" {
			parts = len(s)
		}
		if n >= 0 && n < parts {
			parts = n
		}
		if err := run(args[0]).charge(16*parts, maxStr); err != nil {
			return nil, err
		}
		if after {
			return strings.SplitAfterN(s, sep, n), nil
		}
		return strings.SplitN(s, sep, n), nil
	}
}

func run(v any) *runState { s, _ := v.(*runState); return s }

// estimateSize returns a rough upper bound of the formatted size of v and
// false as soon as it exceeds limit, without formatting anything.
func estimateSize(v any, limit, depth int) (int, bool) {
	if depth > 64 {
		return 0, false
	}
	switch x := v.(type) {
	case nil, bool, int, float64, time.Duration:
		return 32, true
	case string:
		return len(x), len(x) <= limit
	case time.Time:
		return 64, true
	}
	rv := reflect.ValueOf(v)
	total := 2
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			n, ok := estimateSize(rv.Index(i).Interface(), limit-total, depth+1)
			if !ok {
				return 0, false
			}
			total += n + 1
			if total > limit {
				return 0, false
			}
		}
	case reflect.Map:
		it := rv.MapRange()
		for it.Next() {
			k, ok := estimateSize(it.Key().Interface(), limit-total, depth+1)
			if !ok {
				return 0, false
			}
			n, ok := estimateSize(it.Value().Interface(), limit-total-k, depth+1)
			if !ok {
				return 0, false
			}
			total += k + n + 2
			if total > limit {
				return 0, false
			}
		}
	default:
		total = 64
	}
	return total, total <= limit
}

// listContains reports whether list holds x, using expr's equality so that
// 1 and 1.0 compare equal as they do in `in`.
func listContains(list, x any) (bool, error) {
	if list == nil {
		return false, nil
	}
	v := reflect.ValueOf(list)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return false, fmt.Errorf("expected a list, got %T", list)
	}
	for i := 0; i < v.Len(); i++ {
		if runtime.Equal(v.Index(i).Interface(), x) {
			return true, nil
		}
	}
	return false, nil
}

// listOverlap reports whether a holds any (or, with all, every) element of b.
func listOverlap(a, b any, all bool) (bool, error) {
	if b == nil {
		return all, nil
	}
	bv := reflect.ValueOf(b)
	if bv.Kind() != reflect.Slice && bv.Kind() != reflect.Array {
		return false, fmt.Errorf("expected a list, got %T", b)
	}
	for i := 0; i < bv.Len(); i++ {
		ok, err := listContains(a, bv.Index(i).Interface())
		if err != nil {
			return false, err
		}
		if ok && !all {
			return true, nil
		}
		if !ok && all {
			return false, nil
		}
	}
	return all, nil
}
