package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// TestResult is the outcome of one saved test case.
type TestResult struct {
	Name       string         `json:"name"`
	Passed     bool           `json:"passed"`
	Got        map[string]any `json:"got,omitempty"`
	Mismatches []string       `json:"mismatches,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// TestReport summarises RunTests; publishing requires Failed == 0.
type TestReport struct {
	Passed  int          `json:"passed"`
	Failed  int          `json:"failed"`
	Results []TestResult `json:"results"`
}

// RunTests runs test cases (usually the rule set's own Tests) and reports
// each pass or failure. Cases without Now use defaultNow. An expected key
// "error" with a string value expects evaluation to fail with a message
// containing it.
func RunTests(c *Compiled, cases []TestCase, defaultNow time.Time) *TestReport {
	rep := &TestReport{Results: make([]TestResult, 0, len(cases))}
	for _, tc := range cases {
		res := runTest(c, tc, defaultNow)
		if res.Passed {
			rep.Passed++
		} else {
			rep.Failed++
		}
		rep.Results = append(rep.Results, res)
	}
	return rep
}

func runTest(c *Compiled, tc TestCase, defaultNow time.Time) TestResult {
	now := defaultNow
	if tc.Now != nil {
		now = *tc.Now
	}
	res := TestResult{Name: tc.Name}
	var o *Outcome
	var err error
	if c.set.Kind == KindAssignment && tc.Context != nil {
		var a *Assignment
		if a, err = c.Assign(tc.Input, now, tc.Context); err == nil {
			o = &Outcome{Kind: KindAssignment, Assignment: a}
		}
	} else {
		o, err = c.Evaluate(tc.Input, now)
	}
	wantErr, expectsErr := tc.Expect["error"].(string)
	if err != nil {
		res.Error = err.Error()
		res.Passed = expectsErr && strings.Contains(err.Error(), wantErr)
		if !res.Passed {
			res.Mismatches = append(res.Mismatches, "evaluation failed: "+err.Error())
		}
		return res
	}
	if expectsErr {
		res.Mismatches = append(res.Mismatches, fmt.Sprintf("expected an error containing %q", wantErr))
	}
	got := o.Result()
	res.Got = got
	for _, key := range sortedKeys(tc.Expect) {
		if key == "error" {
			continue
		}
		g, ok := got[key]
		if !ok {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("%s: not part of a %s result", key, c.set.Kind))
			continue
		}
		if !jsonEqual(g, tc.Expect[key]) {
			res.Mismatches = append(res.Mismatches, fmt.Sprintf("%s: got %s, want %s", key, jsonText(g), jsonText(tc.Expect[key])))
		}
	}
	res.Passed = len(res.Mismatches) == 0
	return res
}

// jsonEqual compares values as JSON would carry them, so 50 and 50.0 match.
func jsonEqual(a, b any) bool {
	return reflect.DeepEqual(jsonNormal(a), jsonNormal(b))
}

func jsonNormal(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		return string(raw)
	}
	return out
}

func jsonText(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}

// WhatIfRecord compares the draft and published outcomes for one record.
type WhatIfRecord struct {
	Index          int            `json:"index"`
	Draft          map[string]any `json:"draft,omitempty"`
	Published      map[string]any `json:"published,omitempty"`
	DraftError     string         `json:"draftError,omitempty"`
	PublishedError string         `json:"publishedError,omitempty"`
	Changed        bool           `json:"changed"`
}

// WhatIfReport is the test bench's comparison of a draft with the
// published version over real records.
type WhatIfReport struct {
	Total   int            `json:"total"`
	Changed int            `json:"changed"`
	Errors  int            `json:"errors"`
	Records []WhatIfRecord `json:"records"`
	// Summary lines such as "37 of 500 would no longer qualify".
	Summary []string `json:"summary"`
}

// WhatIf evaluates draft and published over the records at time now and
// summarises what would change. Assignment rule sets are compared by route
// (team or queue) since people are picked at assignment time.
func WhatIf(draft, published *Compiled, records []map[string]any, now time.Time) *WhatIfReport {
	rep := &WhatIfReport{Total: len(records), Records: make([]WhatIfRecord, 0, len(records))}
	ds, ps := draft.NewSession(), published.NewSession()
	var pairs [][2]*Outcome
	for i, rec := range records {
		wr := WhatIfRecord{Index: i}
		d, derr := ds.Evaluate(rec, now)
		p, perr := ps.Evaluate(rec, now)
		if derr != nil {
			wr.DraftError = derr.Error()
		} else {
			wr.Draft = d.Result()
		}
		if perr != nil {
			wr.PublishedError = perr.Error()
		} else {
			wr.Published = p.Result()
		}
		if derr != nil || perr != nil {
			rep.Errors++
			wr.Changed = (derr == nil) != (perr == nil)
		} else {
			wr.Changed = !jsonEqual(wr.Draft, wr.Published)
			pairs = append(pairs, [2]*Outcome{d, p})
		}
		if wr.Changed {
			rep.Changed++
		}
		rep.Records = append(rep.Records, wr)
	}
	rep.Summary = summarise(draft.set.Kind, pairs, rep)
	return rep
}

// headline extracts the value a summary talks about for each kind.
func headline(o *Outcome) any {
	switch o.Kind {
	case KindValidation:
		return o.Valid
	case KindComputed:
		return o.Values
	case KindScoring:
		return o.Score
	case KindDecision:
		return o.Decision
	case KindDecisionTable:
		return o.Table.Output
	case KindAssignment:
		if o.Assignment.Queue != "" {
			return "queue " + o.Assignment.Queue
		}
		if o.Assignment.Team != "" {
			return "team " + o.Assignment.Team
		}
		return o.Assignment.Assignee
	case KindSLA:
		return o.SLA.Target
	}
	return nil
}

func summarise(kind Kind, pairs [][2]*Outcome, rep *WhatIfReport) []string {
	total := rep.Total
	var lines []string
	if rep.Changed == 0 && rep.Errors == 0 {
		return []string{fmt.Sprintf("no change for any of %d records", total)}
	}
	transitions := map[string]int{}
	boolLost, boolGained, scoreUp, scoreDown := 0, 0, 0, 0
	var scoreDelta float64
	for _, pr := range pairs {
		d, p := headline(pr[0]), headline(pr[1])
		if jsonEqual(d, p) {
			continue
		}
		db, dok := d.(bool)
		pb, pok := p.(bool)
		switch {
		case dok && pok:
			if pb && !db {
				boolLost++
			} else {
				boolGained++
			}
		case kind == KindScoring:
			delta := pr[0].Score - pr[1].Score
			scoreDelta += delta
			if delta > 0 {
				scoreUp++
			} else {
				scoreDown++
			}
		default:
			transitions[fmt.Sprintf("from %s to %s", jsonText(p), jsonText(d))]++
		}
	}
	switch kind {
	case KindValidation:
		if boolLost > 0 {
			lines = append(lines, fmt.Sprintf("%d of %d would newly fail validation", boolLost, total))
		}
		if boolGained > 0 {
			lines = append(lines, fmt.Sprintf("%d of %d would newly pass validation", boolGained, total))
		}
	default:
		if boolLost > 0 {
			lines = append(lines, fmt.Sprintf("%d of %d would no longer qualify", boolLost, total))
		}
		if boolGained > 0 {
			lines = append(lines, fmt.Sprintf("%d of %d would newly qualify", boolGained, total))
		}
	}
	if scoreUp+scoreDown > 0 {
		lines = append(lines, fmt.Sprintf("%d of %d would score differently (%d higher, %d lower, average change %+.1f points)",
			scoreUp+scoreDown, total, scoreUp, scoreDown, scoreDelta/float64(scoreUp+scoreDown)))
	}
	keys := sortedKeys(transitions)
	sort.SliceStable(keys, func(i, j int) bool { return transitions[keys[i]] > transitions[keys[j]] })
	verb := "would change"
	switch kind {
	case KindAssignment:
		verb = "would be routed"
	case KindSLA:
		verb = "would get another SLA target"
	}
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%d of %d %s %s", transitions[k], total, verb, k))
	}
	if len(lines) == 0 && rep.Changed > 0 {
		lines = append(lines, fmt.Sprintf("%d of %d would change in detail (same headline result)", rep.Changed, total))
	}
	if rep.Errors > 0 {
		lines = append(lines, fmt.Sprintf("%d of %d failed to evaluate in the draft or the published version", rep.Errors, total))
	}
	return lines
}
