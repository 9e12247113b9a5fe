package rules

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rapportcrm/rapport/engine/expression"
)

// Violation is a failed validation rule.
type Violation struct {
	Rule    string `json:"rule"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// FiredRule is a scoring rule that fired, kept as the explanation of a score.
type FiredRule struct {
	Name   string  `json:"name"`
	Points float64 `json:"points"`
}

// SLAResult holds the deadlines an SLA policy sets.
type SLAResult struct {
	Target        string    `json:"target"`
	Start         time.Time `json:"start"`
	ResponseDue   time.Time `json:"responseDue,omitzero"`
	ResolutionDue time.Time `json:"resolutionDue,omitzero"`
}

// Outcome is the result of evaluating a rule set over one record; which
// fields are set depends on the kind.
type Outcome struct {
	Kind Kind `json:"kind"`
	// Validation.
	Valid      bool        `json:"valid,omitempty"`
	Violations []Violation `json:"violations,omitempty"`
	// Computed fields: field name → value.
	Values map[string]any `json:"values,omitempty"`
	// Scoring.
	Score float64     `json:"score,omitempty"`
	Fired []FiredRule `json:"fired,omitempty"`
	// Decision: the outcome (a list for hit policy collect) and the names
	// of the matching rules.
	Decision any      `json:"decision,omitempty"`
	Matched  []string `json:"matched,omitempty"`
	// Decision table.
	Table *TableResult `json:"table,omitempty"`
	// Assignment.
	Assignment *Assignment `json:"assignment,omitempty"`
	// SLA.
	SLA *SLAResult `json:"sla,omitempty"`
}

// Result flattens the outcome into the keys test cases and the what-if
// report compare:
//
//	validation:     valid, messages
//	computed:       values
//	scoring:        score, fired
//	decision:       outcome, matched
//	decision_table: output, rows
//	assignment:     route, queue, team, assignee
//	sla:            target, responseDue, resolutionDue (RFC 3339)
func (o *Outcome) Result() map[string]any {
	switch o.Kind {
	case KindValidation:
		msgs := make([]any, len(o.Violations))
		for i, v := range o.Violations {
			msgs[i] = v.Message
		}
		return map[string]any{"valid": o.Valid, "messages": msgs}
	case KindComputed:
		return map[string]any{"values": o.Values}
	case KindScoring:
		names := make([]any, len(o.Fired))
		for i, f := range o.Fired {
			names[i] = f.Name
		}
		return map[string]any{"score": o.Score, "fired": names}
	case KindDecision:
		m := make([]any, len(o.Matched))
		for i, n := range o.Matched {
			m[i] = n
		}
		return map[string]any{"outcome": o.Decision, "matched": m}
	case KindDecisionTable:
		rows := make([]any, len(o.Table.Rows))
		for i, r := range o.Table.Rows {
			rows[i] = r
		}
		return map[string]any{"output": o.Table.Output, "rows": rows}
	case KindAssignment:
		a := o.Assignment
		return map[string]any{"route": a.Route, "queue": a.Queue, "team": a.Team, "assignee": a.Assignee}
	case KindSLA:
		s := o.SLA
		f := func(t time.Time) any {
			if t.IsZero() {
				return nil
			}
			return t.UTC().Format(time.RFC3339)
		}
		return map[string]any{"target": s.Target, "responseDue": f(s.ResponseDue), "resolutionDue": f(s.ResolutionDue)}
	}
	return map[string]any{}
}

// Session evaluates one compiled rule set repeatedly with a reused
// expression evaluator: the hot path for batch scoring. It is not safe for
// concurrent use.
type Session struct {
	c       *Compiled
	ev      *expression.Evaluator
	fired   []int
	results []bool
}

// NewSession returns a session for hot-path evaluation.
func (c *Compiled) NewSession() *Session {
	s := &Session{c: c, ev: c.env.NewEvaluator(), fired: make([]int, 0, len(c.rules))}
	if c.batch != nil {
		s.results = make([]bool, c.batch.Len())
	}
	return s
}

// Score evaluates a scoring rule set without allocating: vars must already
// hold values of the declared Go types (see expression.Env.Coerce) and may
// receive `now` and a reserved key (remove them with expression.Unbind
// before storing the map). It returns the score and the indexes of the
// fired rules (valid until the next call; names via RuleName).
func (s *Session) Score(vars map[string]any, now time.Time) (float64, []int, error) {
	if s.c.set.Kind != KindScoring {
		return 0, nil, fmt.Errorf("rule set %q is a %s rule set, not scoring", s.c.set.Key, s.c.set.Kind)
	}
	s.fired = s.fired[:0]
	score := 0.0
	if s.c.batch != nil {
		if s.c.batch.NeedsBind() {
			s.ev.Bind(vars, now)
		}
		if err := s.ev.EvalBatch(s.c.batch, vars, s.results); err == nil {
			for j, ok := range s.results {
				if ok {
					i := s.c.batchRules[j]
					score += s.c.rules[i].rule.Points
					s.fired = append(s.fired, i)
				}
			}
			return score, s.fired, nil
		}
		// A failing condition: run the rules one by one to name it.
	}
	s.ev.Bind(vars, now)
	for i := range s.c.rules {
		r := &s.c.rules[i]
		if r.rule.Disabled {
			continue
		}
		ok, err := s.ev.EvalBool(r.when, vars)
		if err != nil {
			return 0, nil, fmt.Errorf("rule %q: %w", r.rule.Name, err)
		}
		if ok {
			score += r.rule.Points
			s.fired = append(s.fired, i)
		}
	}
	return score, s.fired, nil
}

// RuleName returns the name of rule i, for explaining Session.Score.
func (c *Compiled) RuleName(i int) string { return c.rules[i].rule.Name }

// Evaluate runs the rule set over a record at time now. The record is
// copied and coerced to the declared types first, so JSON input is fine.
// Assignment rule sets only route here (no person is picked); use Assign.
func (c *Compiled) Evaluate(record map[string]any, now time.Time) (*Outcome, error) {
	return c.NewSession().evaluate(record, now, nil)
}

// Assign runs an assignment rule set and picks a person from the candidates
// in ctx; the caller stores Assignment.Cursor for the team.
func (c *Compiled) Assign(record map[string]any, now time.Time, ctx *AssignContext) (*Assignment, error) {
	if c.set.Kind != KindAssignment {
		return nil, fmt.Errorf("rule set %q is a %s rule set, not assignment", c.set.Key, c.set.Kind)
	}
	if ctx == nil {
		ctx = &AssignContext{}
	}
	o, err := c.NewSession().evaluate(record, now, ctx)
	if err != nil {
		return nil, err
	}
	return o.Assignment, nil
}

// Evaluate is Compiled.Evaluate reusing the session's evaluator.
func (s *Session) Evaluate(record map[string]any, now time.Time) (*Outcome, error) {
	return s.evaluate(record, now, nil)
}

func (s *Session) evaluate(record map[string]any, now time.Time, ctx *AssignContext) (*Outcome, error) {
	c := s.c
	vars := make(map[string]any, len(record)+2)
	for k, v := range record {
		vars[k] = v
	}
	if err := c.env.Coerce(vars); err != nil {
		return nil, fmt.Errorf("rule set %q: %w", c.set.Key, err)
	}
	s.ev.Bind(vars, now)
	o := &Outcome{Kind: c.set.Kind}
	var err error
	switch c.set.Kind {
	case KindValidation:
		o.Valid = true
		o.Violations = []Violation{}
		if c.batch != nil && s.ev.EvalBatch(c.batch, vars, s.results) == nil {
			for j, ok := range s.results {
				if r := c.rules[c.batchRules[j]].rule; ok {
					o.Valid = false
					o.Violations = append(o.Violations, Violation{Rule: r.Name, Field: r.Field, Message: r.Message})
				}
			}
			break
		}
		for _, r := range c.rules {
			if r.rule.Disabled {
				continue
			}
			ok, e := s.ev.EvalBool(r.when, vars)
			if e != nil {
				err = errors.Join(err, fmt.Errorf("rule %q: %w", r.rule.Name, e))
				continue
			}
			if ok {
				o.Valid = false
				o.Violations = append(o.Violations, Violation{Rule: r.rule.Name, Field: r.rule.Field, Message: r.rule.Message})
			}
		}
	case KindComputed:
		o.Values = map[string]any{}
		for _, r := range c.rules {
			if r.rule.Disabled {
				continue
			}
			if r.when != nil {
				ok, e := s.ev.EvalBool(r.when, vars)
				if e != nil {
					err = errors.Join(err, fmt.Errorf("rule %q: %w", r.rule.Name, e))
					continue
				}
				if !ok {
					continue
				}
			}
			v, e := s.ev.Eval(r.value, vars)
			if e != nil {
				err = errors.Join(err, fmt.Errorf("rule %q: %w", r.rule.Name, e))
				continue
			}
			o.Values[r.rule.Field] = v
			// Later computed rules see earlier results.
			vars[r.rule.Field] = v
		}
	case KindScoring:
		score, fired, e := s.Score(vars, now)
		if e != nil {
			err = e
			break
		}
		o.Score = score
		o.Fired = make([]FiredRule, len(fired))
		for i, idx := range fired {
			o.Fired[i] = FiredRule{Name: c.rules[idx].rule.Name, Points: c.rules[idx].rule.Points}
		}
	case KindDecision:
		collect := c.set.HitPolicy == "collect"
		var all []any
		o.Matched = []string{}
		for _, r := range c.rules {
			if r.rule.Disabled {
				continue
			}
			ok, e := s.ev.EvalBool(r.when, vars)
			if e != nil {
				err = fmt.Errorf("rule %q: %w", r.rule.Name, e)
				break
			}
			if !ok {
				continue
			}
			o.Matched = append(o.Matched, r.rule.Name)
			if !collect {
				o.Decision = r.rule.Outcome
				break
			}
			all = append(all, r.rule.Outcome)
		}
		if collect {
			if all == nil {
				all = []any{}
			}
			o.Decision = all
		}
		if len(o.Matched) == 0 && c.set.Default != nil {
			o.Decision = c.set.Default
		}
	case KindDecisionTable:
		o.Table, err = c.table.evaluate(s.ev, vars)
	case KindAssignment:
		o.Assignment, err = c.assign.assign(s.ev, vars, ctx)
	case KindSLA:
		o.SLA, err = c.sla.evaluate(s.ev, vars, now)
	}
	if err != nil {
		return nil, fmt.Errorf("rule set %q: %w", c.set.Key, err)
	}
	return o, nil
}

func (s *compiledSLA) evaluate(ev *expression.Evaluator, vars map[string]any, now time.Time) (*SLAResult, error) {
	start := now
	if s.start != nil {
		v, err := ev.Eval(s.start, vars)
		if err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
		start = v.(time.Time)
	}
	var target *compiledTarget
	for i := range s.targets {
		t := &s.targets[i]
		if t.when == nil {
			target = t
			break
		}
		ok, err := ev.EvalBool(t.when, vars)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", t.name, err)
		}
		if ok {
			target = t
			break
		}
	}
	if target == nil {
		target = s.def
	}
	if target == nil {
		return nil, errors.New("no SLA target matched and there is no default")
	}
	res := &SLAResult{Target: target.name, Start: start}
	due := func(d time.Duration) (time.Time, error) {
		if d == 0 {
			return time.Time{}, nil
		}
		if s.calendar == nil {
			return start.Add(d), nil
		}
		return s.calendar.AddBusinessDuration(start, d)
	}
	var err error
	if res.ResponseDue, err = due(target.response); err != nil {
		return nil, fmt.Errorf("target %q response: %w", target.name, err)
	}
	if res.ResolutionDue, err = due(target.resolution); err != nil {
		return nil, fmt.Errorf("target %q resolution: %w", target.name, err)
	}
	return res, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
