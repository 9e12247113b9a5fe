// Validation of variables against the process's declared types.

package process

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// validateVariables refuses values of the wrong type for declared variables.
func (r *runner) validateVariables(vars map[string]any) error {
	return ValidateVariables(r.model, vars, false)
}

// ValidateVariables checks variables against the process's declarations: a declared variable with a
// value of the wrong type is refused, and when start is set so is a missing required one (a default
// makes it optional). The API calls it before starting an instance; the interpreter calls it in the
// validators of updates that set variables.
func ValidateVariables(m *bpmn.Model, vars map[string]any, start bool) error {
	var problems []string
	for _, d := range m.Variables {
		v, ok := vars[d.Name]
		if !ok || v == nil {
			if start && d.Required && d.Default == "" {
				problems = append(problems, fmt.Sprintf("variable %q is required", d.Name))
			}
			continue
		}
		if err := checkType(d.Type, v); err != nil {
			problems = append(problems, fmt.Sprintf("variable %q: %v", d.Name, err))
		}
	}
	if len(problems) > 0 {
		return errors.New(joinProblems(problems))
	}
	return nil
}

func joinProblems(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

// checkType checks a JSON-decoded (or Go) value against a declared type name.
func checkType(typ string, v any) error {
	bad := func() error { return fmt.Errorf("want %s, got %T", typ, v) }
	switch kindOf(typ).String() {
	case kindOf("string").String():
		if _, ok := v.(string); !ok {
			return bad()
		}
	case kindOf("int").String():
		switch n := v.(type) {
		case int, int32, int64:
		case float64:
			if n != math.Trunc(n) {
				return bad()
			}
		case string:
			if _, err := strconv.ParseInt(n, 10, 64); err != nil {
				return bad()
			}
		default:
			return bad()
		}
	case kindOf("float").String():
		switch v.(type) {
		case int, int32, int64, float32, float64:
		default:
			return bad()
		}
	case kindOf("bool").String():
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case kindOf("time").String():
		switch tv := v.(type) {
		case time.Time:
		case string:
			if _, err := time.Parse(time.RFC3339Nano, tv); err != nil {
				return fmt.Errorf("want an RFC 3339 time: %w", err)
			}
		default:
			return bad()
		}
	case kindOf("duration").String():
		switch dv := v.(type) {
		case time.Duration, float64, int, int64:
		case string:
			if _, err := time.ParseDuration(dv); err != nil {
				if _, err2 := bpmn.ParseDuration(dv); err2 != nil {
					return fmt.Errorf("want a duration: %w", err)
				}
			}
		default:
			return bad()
		}
	case kindOf("list").String():
		switch v.(type) {
		case []any, []string:
		default:
			return bad()
		}
	default:
		if typ == "object" {
			if _, ok := v.(map[string]any); !ok {
				return bad()
			}
		}
	}
	return nil
}
