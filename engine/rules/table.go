package rules

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/rapportcrm/rapport/engine/expression"
)

// Hit policies and aggregations of decision tables (DMN names).
const (
	HitFirst    = "FIRST"
	HitUnique   = "UNIQUE"
	HitPriority = "PRIORITY"
	HitAny      = "ANY"
	HitCollect  = "COLLECT"

	AggSum   = "SUM"
	AggMin   = "MIN"
	AggMax   = "MAX"
	AggCount = "COUNT"
)

type compiledTable struct {
	def     *DecisionTable
	policy  string
	agg     string
	inputs  []*expression.Program
	cells   [][]*expression.Program // nil cell matches anything
	outputs [][]any                 // normalised literals per row
	rank    [][]int                 // PRIORITY: per row, per output column, index in Values
}

// comparisonPrefixes start a unary test that compares the input value.
var comparisonPrefixes = []string{"<=", ">=", "!=", "==", "<", ">", "not in ", "in ", "matches ", "contains ", "startsWith ", "endsWith "}

// cellSource turns a unary test into a boolean expression over the input
// expression, and returns how many bytes precede the entry on line 1 so
// error columns can point into the entry.
func cellSource(input, entry string) (string, int, bool) {
	e := strings.TrimSpace(entry)
	if e == "" || e == "-" {
		return "", 0, false
	}
	lead := len(entry) - len(strings.TrimLeft(entry, " \t"))
	prefix := "(" + input + ") "
	for _, p := range comparisonPrefixes {
		if strings.HasPrefix(e, p) {
			return prefix + e, len(prefix) - lead, true
		}
	}
	if strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]") && strings.Contains(e, "..") {
		lo, hi, _ := strings.Cut(e[1:len(e)-1], "..")
		src := fmt.Sprintf("(%s) >= (%s) && (%s) <= (%s)", input, strings.TrimSpace(lo), input, strings.TrimSpace(hi))
		return src, 0, true
	}
	prefix += "== ("
	return prefix + e + ")", len(prefix) - lead, true
}

func compileTable(ps *problems, t *DecisionTable, env *expression.Env) *compiledTable {
	ct := &compiledTable{def: t, policy: strings.ToUpper(strings.TrimSpace(t.HitPolicy)), agg: strings.ToUpper(strings.TrimSpace(t.Aggregation))}
	switch ct.policy {
	case HitFirst, HitUnique, HitPriority, HitAny, HitCollect:
	case "":
		ct.policy = HitUnique // DMN's default
	default:
		ps.add("table.hitPolicy", "unknown hit policy %q (want FIRST, UNIQUE, PRIORITY, ANY or COLLECT)", t.HitPolicy)
	}
	switch ct.agg {
	case "":
	case AggSum, AggMin, AggMax, AggCount:
		if ct.policy != HitCollect {
			ps.add("table.aggregation", "aggregation %s needs hit policy COLLECT", ct.agg)
		}
		if ct.agg != AggCount && len(t.Outputs) != 1 {
			ps.add("table.aggregation", "aggregation %s needs exactly one output column", ct.agg)
		}
	default:
		ps.add("table.aggregation", "unknown aggregation %q (want SUM, MIN, MAX or COUNT)", t.Aggregation)
	}
	if len(t.Inputs) == 0 {
		ps.add("table.inputs", "a decision table needs at least one input column")
	}
	if len(t.Outputs) == 0 {
		ps.add("table.outputs", "a decision table needs at least one output column")
	}
	if len(t.Rows) == 0 {
		ps.add("table.rows", "a decision table needs at least one row")
	}
	inKinds := make([]expression.Kind, len(t.Inputs))
	for i, in := range t.Inputs {
		path := fmt.Sprintf("table.inputs[%d]", i)
		k, ok := kindByName(in.Type)
		if !ok {
			ps.add(path+".type", "unknown type %q", in.Type)
		}
		inKinds[i] = k
		var opts []expression.Option
		if k != expression.KindAny {
			opts = append(opts, expression.Expect(k))
		}
		ct.inputs = append(ct.inputs, ps.compile(path+".expression", in.Expression, env, opts...))
	}
	outKinds := make([]expression.Kind, len(t.Outputs))
	names := map[string]bool{}
	for j, out := range t.Outputs {
		path := fmt.Sprintf("table.outputs[%d]", j)
		if out.Name == "" {
			ps.add(path+".name", "an output column needs a name")
		} else if names[out.Name] {
			ps.add(path+".name", "duplicate output column %q", out.Name)
		}
		names[out.Name] = true
		k, ok := kindByName(out.Type)
		if !ok {
			ps.add(path+".type", "unknown type %q", out.Type)
		}
		outKinds[j] = k
		if ct.policy == HitPriority && len(out.Values) == 0 {
			ps.add(path+".values", "a PRIORITY table needs the output values in priority order")
		}
		if (ct.agg == AggSum || ct.agg == AggMin || ct.agg == AggMax) && k != expression.KindInt && k != expression.KindFloat {
			ps.add(path+".type", "aggregation %s needs a numeric (int or float) output column", ct.agg)
		}
	}
	for r, row := range t.Rows {
		path := fmt.Sprintf("table.rows[%d]", r)
		if len(row.Inputs) != len(t.Inputs) {
			ps.add(path+".inputs", "has %d entries for %d input columns", len(row.Inputs), len(t.Inputs))
		}
		if len(row.Outputs) != len(t.Outputs) {
			ps.add(path+".outputs", "has %d values for %d output columns", len(row.Outputs), len(t.Outputs))
		}
		cells := make([]*expression.Program, len(t.Inputs))
		for i := 0; i < len(row.Inputs) && i < len(t.Inputs); i++ {
			if ct.inputs[i] == nil {
				continue // the column's own problem is reported once
			}
			src, shift, ok := cellSource(t.Inputs[i].Expression, row.Inputs[i])
			if !ok {
				continue
			}
			p, err := expression.Compile(src, env, expression.Expect(expression.KindBool))
			if err != nil {
				ps.addErr(fmt.Sprintf("%s.inputs[%d]", path, i), err, shift)
				continue
			}
			cells[i] = p
		}
		ct.cells = append(ct.cells, cells)
		outs := make([]any, len(t.Outputs))
		ranks := make([]int, len(t.Outputs))
		for j := 0; j < len(row.Outputs) && j < len(t.Outputs); j++ {
			v, err := normaliseLiteral(row.Outputs[j], outKinds[j])
			if err != nil {
				ps.add(fmt.Sprintf("%s.outputs[%d]", path, j), "%v", err)
			}
			outs[j] = v
			if vals := t.Outputs[j].Values; len(vals) > 0 {
				ranks[j] = -1
				for k, allowed := range vals {
					if a, _ := normaliseLiteral(allowed, outKinds[j]); reflect.DeepEqual(a, v) {
						ranks[j] = k
						break
					}
				}
				if ranks[j] < 0 {
					ps.add(fmt.Sprintf("%s.outputs[%d]", path, j), "%v is not one of the column's values %v", row.Outputs[j], vals)
				}
			}
		}
		ct.outputs = append(ct.outputs, outs)
		ct.rank = append(ct.rank, ranks)
	}
	return ct
}

// normaliseLiteral converts a JSON literal to the Go type of kind k
// (float64 → int for int columns) and rejects mismatches.
func normaliseLiteral(v any, k expression.Kind) (any, error) {
	switch k {
	case expression.KindAny:
		return v, nil
	case expression.KindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case expression.KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case expression.KindInt:
		switch n := v.(type) {
		case int:
			return n, nil
		case float64:
			if n == float64(int(n)) {
				return int(n), nil
			}
		}
	case expression.KindFloat:
		switch n := v.(type) {
		case float64:
			return n, nil
		case int:
			return float64(n), nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("%v (%T) is not a %s", v, v, k)
}

// TableResult is the outcome of a decision table.
type TableResult struct {
	// Rows are the 1-based numbers of the matching rows (for PRIORITY and
	// FIRST, the chosen row only).
	Rows []int `json:"rows"`
	// Output is the result: the single output value (one output column) or
	// a map of column name to value; a list of those for COLLECT; a number
	// for COLLECT with an aggregation; nil when nothing matched.
	Output any `json:"output"`
}

func (ct *compiledTable) rowOutput(r int) any {
	if len(ct.def.Outputs) == 1 {
		return ct.outputs[r][0]
	}
	m := make(map[string]any, len(ct.def.Outputs))
	for j, col := range ct.def.Outputs {
		m[col.Name] = ct.outputs[r][j]
	}
	return m
}

func (ct *compiledTable) matches(ev *expression.Evaluator, vars map[string]any, r int) (bool, error) {
	for i, cell := range ct.cells[r] {
		if cell == nil {
			continue
		}
		ok, err := ev.EvalBool(cell, vars)
		if err != nil {
			return false, fmt.Errorf("row %d, input %q: %w", r+1, ct.def.Inputs[i].Name, err)
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func (ct *compiledTable) evaluate(ev *expression.Evaluator, vars map[string]any) (*TableResult, error) {
	// Input expressions are checked once so a type error in the data is
	// reported against the column rather than against every row.
	for i, in := range ct.inputs {
		if _, err := ev.Eval(in, vars); err != nil {
			return nil, fmt.Errorf("input %q: %w", ct.def.Inputs[i].Name, err)
		}
	}
	res := &TableResult{Rows: []int{}}
	var matched []int
	for r := range ct.cells {
		ok, err := ct.matches(ev, vars, r)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if ct.policy == HitFirst {
			res.Rows = []int{r + 1}
			res.Output = ct.rowOutput(r)
			return res, nil
		}
		matched = append(matched, r)
	}
	for _, r := range matched {
		res.Rows = append(res.Rows, r+1)
	}
	if len(matched) == 0 {
		if ct.policy == HitCollect && ct.agg == AggCount {
			res.Output = 0
		} else if ct.policy == HitCollect && ct.agg == "" {
			res.Output = []any{}
		}
		return res, nil
	}
	switch ct.policy {
	case HitUnique:
		if len(matched) > 1 {
			return nil, fmt.Errorf("hit policy UNIQUE: rows %s all match", joinInts(res.Rows))
		}
		res.Output = ct.rowOutput(matched[0])
	case HitAny:
		for _, r := range matched[1:] {
			if !reflect.DeepEqual(ct.outputs[r], ct.outputs[matched[0]]) {
				return nil, fmt.Errorf("hit policy ANY: rows %d and %d match with different outputs", matched[0]+1, r+1)
			}
		}
		res.Output = ct.rowOutput(matched[0])
	case HitPriority:
		best := matched[0]
		for _, r := range matched[1:] {
			if lessRank(ct.rank[r], ct.rank[best]) {
				best = r
			}
		}
		res.Rows = []int{best + 1}
		res.Output = ct.rowOutput(best)
	case HitCollect:
		switch ct.agg {
		case AggCount:
			res.Output = len(matched)
		case AggSum, AggMin, AggMax:
			res.Output = aggregate(ct.agg, matched, ct.outputs)
		default:
			list := make([]any, len(matched))
			for i, r := range matched {
				list[i] = ct.rowOutput(r)
			}
			res.Output = list
		}
	}
	return res, nil
}

func lessRank(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// aggregate combines the single numeric output column of the matched rows;
// the result is an int when every value is an int.
func aggregate(agg string, rows []int, outputs [][]any) any {
	allInt := true
	vals := make([]float64, len(rows))
	for i, r := range rows {
		switch n := outputs[r][0].(type) {
		case int:
			vals[i] = float64(n)
		case float64:
			vals[i] = n
			allInt = false
		}
	}
	acc := vals[0]
	for _, v := range vals[1:] {
		switch agg {
		case AggSum:
			acc += v
		case AggMin:
			if v < acc {
				acc = v
			}
		case AggMax:
			if v > acc {
				acc = v
			}
		}
	}
	if allInt {
		return int(acc)
	}
	return acc
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ", ")
}
