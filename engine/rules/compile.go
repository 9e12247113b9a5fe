package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/expression"
)

// Problem is one thing wrong with a rule set: where (a path such as
// "rules[2].when" or "table.rows[3].inputs[1]"), the 1-based line and column
// inside that expression when known, and what.
type Problem struct {
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// String renders "path:line:column: message".
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", p.Path, p.Line, p.Column, p.Message)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Message)
}

// Error holds every problem of a rule set so the editor can show them all.
type Error struct {
	Problems []Problem `json:"problems"`
}

// Error joins the problems.
func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "rule set: " + strings.Join(parts, "; ")
}

// problems collects problems while compiling.
type problems struct{ list []Problem }

func (ps *problems) add(path, format string, args ...any) {
	ps.list = append(ps.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// addErr records a compile error, keeping expression positions; shift is
// subtracted from first-line columns when the source was wrapped.
func (ps *problems) addErr(path string, err error, shift int) {
	var ee *expression.Error
	if !errors.As(err, &ee) {
		ps.add(path, "%v", err)
		return
	}
	for _, p := range ee.Problems {
		col := p.Column
		if p.Line == 1 && shift > 0 {
			col -= shift
			if col < 1 {
				col = 1
			}
		}
		ps.list = append(ps.list, Problem{Path: path, Line: p.Line, Column: col, Message: p.Message})
	}
}

// compile compiles src at path, recording problems; it returns nil on error.
func (ps *problems) compile(path, src string, env *expression.Env, opts ...expression.Option) *expression.Program {
	if strings.TrimSpace(src) == "" {
		ps.add(path, "expression is required")
		return nil
	}
	p, err := expression.Compile(src, env, opts...)
	if err != nil {
		ps.addErr(path, err, 0)
		return nil
	}
	return p
}

// Compiled is a rule set compiled against an Env; it is immutable and safe
// for concurrent use (use one Session per goroutine for hot paths).
type Compiled struct {
	set    RuleSet
	env    *expression.Env
	rules  []compiledRule
	table  *compiledTable
	assign *compiledAssignment
	sla    *compiledSLA
	// batch evaluates all enabled conditions of a scoring or validation
	// rule set in one run; batchRules maps its slots to rule indexes.
	batch      *expression.Batch
	batchRules []int
}

type compiledRule struct {
	index int
	rule  Rule
	when  *expression.Program
	value *expression.Program
}

// RuleSet returns the definition the rule set was compiled from.
func (c *Compiled) RuleSet() *RuleSet { rs := c.set; return &rs }

// Env returns the environment the rule set was compiled against.
func (c *Compiled) Env() *expression.Env { return c.env }

// Fields returns every record field the rule set reads, sorted, so
// analysts see what it depends on.
func (c *Compiled) Fields() []string {
	seen := map[string]bool{}
	add := func(p *expression.Program) {
		if p == nil {
			return
		}
		for _, f := range p.Fields() {
			seen[f] = true
		}
	}
	for _, r := range c.rules {
		add(r.when)
		add(r.value)
	}
	if c.table != nil {
		for _, in := range c.table.inputs {
			add(in)
		}
		for _, row := range c.table.cells {
			for _, cell := range row {
				add(cell)
			}
		}
	}
	if c.assign != nil {
		for _, r := range c.assign.routes {
			add(r.when)
			add(r.from)
		}
	}
	if c.sla != nil {
		add(c.sla.start)
		for _, t := range c.sla.targets {
			add(t.when)
		}
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Compile checks and compiles a rule set against env (built from the
// entity schema or the process variables). Every problem is reported at
// once in an *Error.
func Compile(rs *RuleSet, env *expression.Env) (*Compiled, error) {
	if rs == nil {
		return nil, &Error{Problems: []Problem{{Path: "", Message: "no rule set"}}}
	}
	if env == nil {
		return nil, &Error{Problems: []Problem{{Path: "", Message: "no expression environment"}}}
	}
	ps := &problems{}
	c := &Compiled{set: *rs, env: env}
	if strings.TrimSpace(rs.Key) == "" {
		ps.add("key", "key is required")
	}
	if err := env.Err(); err != nil {
		// Every expression would fail the same way; report it once.
		ps.add("entity", "%v", err)
		return nil, &Error{Problems: ps.list}
	}
	usesRules := false
	switch rs.Kind {
	case KindValidation, KindComputed, KindScoring, KindDecision:
		usesRules = true
		c.compileRules(ps)
	case KindDecisionTable:
		if rs.Table == nil {
			ps.add("table", "a decision_table rule set needs a table")
		} else {
			c.table = compileTable(ps, rs.Table, env)
		}
	case KindAssignment:
		if rs.Assignment == nil {
			ps.add("assignment", "an assignment rule set needs an assignment policy")
		} else {
			c.assign = compileAssignment(ps, rs.Assignment, env)
		}
	case KindSLA:
		if rs.SLA == nil {
			ps.add("sla", "an sla rule set needs an sla policy")
		} else {
			c.sla = compileSLA(ps, rs.SLA, env)
		}
	default:
		ps.add("kind", "unknown kind %q (want validation, computed, scoring, decision, decision_table, assignment or sla)", rs.Kind)
	}
	if !usesRules && len(rs.Rules) > 0 {
		ps.add("rules", "rules are not used by a %s rule set", rs.Kind)
	}
	if rs.Kind != KindDecisionTable && rs.Table != nil {
		ps.add("table", "a table is only used by decision_table rule sets")
	}
	if rs.Kind != KindAssignment && rs.Assignment != nil {
		ps.add("assignment", "an assignment policy is only used by assignment rule sets")
	}
	if rs.Kind != KindSLA && rs.SLA != nil {
		ps.add("sla", "an sla policy is only used by sla rule sets")
	}
	if rs.Kind != KindDecision && (rs.HitPolicy != "" || rs.Default != nil) {
		ps.add("hitPolicy", "hitPolicy and default are only used by decision rule sets")
	}
	names := map[string]int{}
	for i, tc := range rs.Tests {
		path := fmt.Sprintf("tests[%d]", i)
		if tc.Name == "" {
			ps.add(path+".name", "a test case needs a name")
		} else if j, dup := names[tc.Name]; dup {
			ps.add(path+".name", "duplicate test name %q (also tests[%d])", tc.Name, j)
		} else {
			names[tc.Name] = i
		}
		if len(tc.Expect) == 0 {
			ps.add(path+".expect", "a test case needs at least one expected value")
		}
	}
	if len(ps.list) > 0 {
		return nil, &Error{Problems: ps.list}
	}
	if rs.Kind == KindScoring || rs.Kind == KindValidation {
		c.compileBatch()
	}
	return c, nil
}

// compileBatch combines the enabled conditions for hot-path evaluation;
// when they cannot be combined the rules are simply run one by one.
func (c *Compiled) compileBatch() {
	var progs []*expression.Program
	var idx []int
	for i, r := range c.rules {
		if r.rule.Disabled || r.when == nil {
			continue
		}
		progs = append(progs, r.when)
		idx = append(idx, i)
	}
	if len(progs) < 2 {
		return
	}
	b, err := expression.CompileBatch(progs)
	if err != nil {
		return
	}
	c.batch, c.batchRules = b, idx
}

func (c *Compiled) compileRules(ps *problems) {
	rs := &c.set
	if len(rs.Rules) == 0 {
		ps.add("rules", "a %s rule set needs at least one rule", rs.Kind)
	}
	if rs.Kind == KindDecision {
		switch rs.HitPolicy {
		case "", "first", "collect":
		default:
			ps.add("hitPolicy", "unknown hit policy %q (want first or collect)", rs.HitPolicy)
		}
	}
	vars := c.env.Vars()
	seen := map[string]int{}
	for i, r := range rs.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		if strings.TrimSpace(r.Name) == "" {
			ps.add(path+".name", "a rule needs a name")
		} else if j, dup := seen[r.Name]; dup {
			ps.add(path+".name", "duplicate rule name %q (also rules[%d])", r.Name, j)
		} else {
			seen[r.Name] = i
		}
		cr := compiledRule{index: i, rule: r}
		switch rs.Kind {
		case KindComputed:
			if r.Field == "" {
				ps.add(path+".field", "a computed rule needs the field it writes")
			}
			var opts []expression.Option
			if t, ok := vars[r.Field]; ok && t != nil && t.Kind != expression.KindAny {
				opts = append(opts, expression.Expect(t.Kind))
			}
			cr.value = ps.compile(path+".value", r.Value, c.env, opts...)
			if r.When != "" {
				cr.when = ps.compile(path+".when", r.When, c.env, expression.Expect(expression.KindBool))
			}
		default:
			cr.when = ps.compile(path+".when", r.When, c.env, expression.Expect(expression.KindBool))
		}
		switch rs.Kind {
		case KindValidation:
			if strings.TrimSpace(r.Message) == "" {
				ps.add(path+".message", "a validation rule needs a message")
			}
			if r.Field != "" {
				if _, ok := vars[r.Field]; !ok {
					ps.add(path+".field", "unknown field %q", r.Field)
				}
			}
		case KindDecision:
			if r.Outcome == nil {
				ps.add(path+".outcome", "a decision rule needs an outcome")
			}
		case KindScoring:
			if r.Points == 0 {
				ps.add(path+".points", "a scoring rule needs non-zero points")
			}
		}
		c.rules = append(c.rules, cr)
	}
}

// kindByName maps the type names used in tables to kinds.
func kindByName(name string) (expression.Kind, bool) {
	switch name {
	case "":
		return expression.KindAny, true
	case "string":
		return expression.KindString, true
	case "int":
		return expression.KindInt, true
	case "float", "number":
		return expression.KindFloat, true
	case "bool", "boolean":
		return expression.KindBool, true
	case "time":
		return expression.KindTime, true
	case "duration":
		return expression.KindDuration, true
	}
	return expression.KindAny, false
}

type compiledSLA struct {
	calendar expression.Calendar
	start    *expression.Program
	targets  []compiledTarget
	def      *compiledTarget
}

type compiledTarget struct {
	name       string
	when       *expression.Program
	response   time.Duration
	resolution time.Duration
}

func compileSLA(ps *problems, p *SLAPolicy, env *expression.Env) *compiledSLA {
	s := &compiledSLA{}
	if p.Calendar != "" {
		cal, ok := env.Calendar(p.Calendar)
		if !ok {
			ps.add("sla.calendar", "unknown business calendar %q", p.Calendar)
		}
		s.calendar = cal
	}
	if p.Start != "" {
		s.start = ps.compile("sla.start", p.Start, env, expression.Expect(expression.KindTime))
	}
	if len(p.Targets) == 0 && p.Default == nil {
		ps.add("sla.targets", "an sla policy needs at least one target")
	}
	target := func(path string, t SLATarget, needWhen bool) compiledTarget {
		ct := compiledTarget{name: t.Name}
		if t.Name == "" {
			ps.add(path+".name", "a target needs a name")
		}
		if needWhen || t.When != "" {
			ct.when = ps.compile(path+".when", t.When, env, expression.Expect(expression.KindBool))
		}
		parse := func(field, v string) time.Duration {
			if v == "" {
				return 0
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				ps.add(path+"."+field, "%q is not a positive duration such as \"4h\" or \"30m\"", v)
				return 0
			}
			return d
		}
		ct.response = parse("response", t.Response)
		ct.resolution = parse("resolution", t.Resolution)
		if t.Response == "" && t.Resolution == "" {
			ps.add(path, "a target needs a response or a resolution time")
		}
		return ct
	}
	for i, t := range p.Targets {
		s.targets = append(s.targets, target(fmt.Sprintf("sla.targets[%d]", i), t, false))
	}
	if p.Default != nil {
		d := target("sla.default", *p.Default, false)
		s.def = &d
	}
	return s
}
