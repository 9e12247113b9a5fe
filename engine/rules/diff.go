package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"
)

// Change is one difference between two versions of a rule set.
type Change struct {
	// Path locates the change, e.g. `rules["big budget"].points`;
	// list elements that have a name are matched by name, others by index.
	Path string `json:"path"`
	// Op is "added", "removed" or "changed".
	Op   string `json:"op"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// Diff lists the differences from version a to version b in a stable
// order, for the "diff two versions" view of the admin UI.
func Diff(a, b *RuleSet) ([]Change, error) {
	ga, err := generic(a)
	if err != nil {
		return nil, err
	}
	gb, err := generic(b)
	if err != nil {
		return nil, err
	}
	var out []Change
	diffValue("", ga, gb, &out)
	return out, nil
}

func generic(rs *RuleSet) (any, error) {
	canon, err := CanonicalJSON(rs)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(canon))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode rule set: %w", err)
	}
	return v, nil
}

func diffValue(path string, a, b any, out *[]Change) {
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			keys := map[string]bool{}
			for k := range x {
				keys[k] = true
			}
			for k := range y {
				keys[k] = true
			}
			for _, k := range sortedKeys(keys) {
				p := k
				if path != "" {
					p = path + "." + k
				}
				av, aok := x[k]
				bv, bok := y[k]
				switch {
				case !aok:
					*out = append(*out, Change{Path: p, Op: "added", To: bv})
				case !bok:
					*out = append(*out, Change{Path: p, Op: "removed", From: av})
				default:
					diffValue(p, av, bv, out)
				}
			}
			return
		}
	case []any:
		if y, ok := b.([]any); ok {
			if named(x) && named(y) {
				diffNamed(path, x, y, out)
				return
			}
			for i := 0; i < len(x) || i < len(y); i++ {
				p := fmt.Sprintf("%s[%d]", path, i)
				switch {
				case i >= len(x):
					*out = append(*out, Change{Path: p, Op: "added", To: y[i]})
				case i >= len(y):
					*out = append(*out, Change{Path: p, Op: "removed", From: x[i]})
				default:
					diffValue(p, x[i], y[i], out)
				}
			}
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, Change{Path: path, Op: "changed", From: a, To: b})
	}
}

// named reports whether every element is an object with a unique name.
func named(list []any) bool {
	seen := map[string]bool{}
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return false
		}
		n, ok := m["name"].(string)
		if !ok || n == "" || seen[n] {
			return false
		}
		seen[n] = true
	}
	return len(list) > 0
}

func diffNamed(path string, a, b []any, out *[]Change) {
	index := func(list []any) map[string]any {
		m := make(map[string]any, len(list))
		for _, el := range list {
			m[el.(map[string]any)["name"].(string)] = el
		}
		return m
	}
	ia, ib := index(a), index(b)
	order := func(list []any) []string {
		names := make([]string, len(list))
		for i, el := range list {
			names[i] = el.(map[string]any)["name"].(string)
		}
		return names
	}
	for _, n := range order(a) {
		p := fmt.Sprintf("%s[%q]", path, n)
		if bv, ok := ib[n]; ok {
			diffValue(p, ia[n], bv, out)
		} else {
			*out = append(*out, Change{Path: p, Op: "removed", From: ia[n]})
		}
	}
	for _, n := range order(b) {
		if _, ok := ia[n]; !ok {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%q]", path, n), Op: "added", To: ib[n]})
		}
	}
	if oa, ob := commonOrder(order(a), ib), commonOrder(order(b), ia); !reflect.DeepEqual(oa, ob) {
		*out = append(*out, Change{Path: path, Op: "changed", From: "order " + fmt.Sprint(oa), To: "order " + fmt.Sprint(ob)})
	}
}

// commonOrder keeps the names also present in other, in list order, so a
// reordering of rules (which matters for first-match kinds) is reported.
func commonOrder(names []string, other map[string]any) []string {
	var out []string
	for _, n := range names {
		if _, ok := other[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// ErrTestsFailed is returned by CheckPublishable when a saved test fails.
var ErrTestsFailed = errors.New("saved tests fail")

// CheckPublishable runs the rule set's saved tests and refuses publishing
// unless there is at least one and all pass; the report is returned either
// way so the UI can show it.
func CheckPublishable(c *Compiled, defaultNow time.Time) (*TestReport, error) {
	tests := c.set.Tests
	rep := RunTests(c, tests, defaultNow)
	if len(tests) == 0 {
		return rep, fmt.Errorf("rule set %q has no test cases: %w", c.set.Key, ErrTestsFailed)
	}
	if rep.Failed > 0 {
		var names []string
		for _, r := range rep.Results {
			if !r.Passed {
				names = append(names, r.Name)
			}
		}
		sort.Strings(names)
		return rep, fmt.Errorf("rule set %q: %d of %d tests fail (%v): %w", c.set.Key, rep.Failed, len(tests), names, ErrTestsFailed)
	}
	return rep, nil
}
