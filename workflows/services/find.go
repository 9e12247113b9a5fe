package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/workflows/process"
)

// TypeRecordFind is the task type of Find.
const TypeRecordFind = "record.find"

// DefaultFindLimit is how many records a record.find task returns when it names no limit; the most is
// records.MaxLimit.
const DefaultFindLimit = 100

// Find runs record.find tasks: the records of an entity matching a filter in the query language
// (engine/query), sorted and limited, through the records store's list path with the identity's
// scope and hidden fields applied (the same path as GET /api/v1/records/{entity}).
//
// Headers (or inputs of the same names): entity, filter, sort (e.g. "-updatedAt"), limit. The filter
// may name parameters as $name; each is replaced by the input of that name written as a literal of the
// query language (a string quoted, a time in RFC 3339, a list in brackets), so values from the process
// never change the filter's structure. The result is {"records": [...], "count": n, "more": bool};
// an output mapping reads `result.records`.
type Find struct{ Records Records }

// Handle runs one record.find task.
func (f Find) Handle(ctx context.Context, req process.TaskRequest) (map[string]any, error) {
	entity := entityOf(req)
	if entity == "" {
		return nil, &process.BPMNError{Code: "CONFIG", Message: "record.find needs an entity header"}
	}
	text := func(name string) string {
		if v, ok := req.Inputs[name].(string); ok {
			return v
		}
		return req.Headers[name]
	}
	limit := DefaultFindLimit
	if l := fmt.Sprint(firstNonNil(req.Inputs["limit"], req.Headers["limit"])); l != "" && l != "<nil>" {
		n, err := strconv.Atoi(strings.TrimSuffix(l, ".0"))
		if err != nil || n <= 0 || n > records.MaxLimit {
			return nil, &process.BPMNError{Code: "CONFIG", Message: fmt.Sprintf("record.find limit %q: want 1 to %d", l, records.MaxLimit)}
		}
		limit = n
	}
	filter, err := bindParams(text("filter"), req.Inputs)
	if err != nil {
		return nil, &process.BPMNError{Code: "CONFIG", Message: "record.find filter: " + err.Error()}
	}
	d, err := f.Records.decision(ctx, entity)
	if err != nil {
		return nil, err
	}
	p := records.ListParams{Filter: filter, Sort: text("sort"), Limit: limit}
	p.Access = d
	page, err := f.Records.Store.List(ctx, entity, p)
	if err != nil {
		var pe *records.ParamError
		if errors.As(err, &pe) {
			return nil, &process.BPMNError{Code: CodeValidation, Message: "record.find " + pe.Error()}
		}
		return nil, recordError(err)
	}
	list := make([]any, len(page.Items))
	for i, r := range page.Items {
		list[i] = r
	}
	return map[string]any{"records": list, "count": len(list), "more": page.Next != ""}, nil
}

func firstNonNil(a any, b string) any {
	if a != nil {
		return a
	}
	return b
}

// bindParams replaces $name outside string literals by the literal of params[name].
func bindParams(filter string, params map[string]any) (string, error) {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(filter); i++ {
		c := filter[i]
		switch {
		case quote != 0:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(filter) {
				i++
				b.WriteByte(filter[i])
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
			b.WriteByte(c)
		case c == '$':
			j := i + 1
			for j < len(filter) && (filter[j] == '_' || filter[j] >= 'a' && filter[j] <= 'z' || filter[j] >= 'A' && filter[j] <= 'Z' || j > i+1 && filter[j] >= '0' && filter[j] <= '9') {
				j++
			}
			name := filter[i+1 : j]
			if name == "" {
				return "", fmt.Errorf("column %d: $ without a parameter name", i+1)
			}
			v, ok := params[name]
			if !ok {
				return "", fmt.Errorf("column %d: no input named %q for $%s", i+1, name, name)
			}
			lit, err := literal(v)
			if err != nil {
				return "", fmt.Errorf("$%s: %w", name, err)
			}
			b.WriteString(lit)
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// literal writes a value as a query-language literal.
func literal(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "nil", nil
	case string:
		return strconv.Quote(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return strconv.Quote(x.UTC().Format(time.RFC3339Nano)), nil
	case json.Number:
		return x.String(), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", errors.New("not a finite number")
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := literal(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("a %T cannot be compared in a filter", v)
}
