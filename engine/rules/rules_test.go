package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
)

var now = time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC) // a Wednesday

func leadEnv(t testing.TB) *expression.Env {
	t.Helper()
	day := []calendar.Interval{{Start: "09:00", End: "17:00"}}
	support, err := calendar.New(calendar.Spec{Name: "support", TimeZone: "Europe/Berlin",
		Hours:    map[string][]calendar.Interval{"mon": day, "tue": day, "wed": day, "thu": day, "fri": day},
		Holidays: []string{"2025-04-18", "2025-04-21"}})
	if err != nil {
		t.Fatal(err)
	}
	env := expression.NewEnv(map[string]*expression.Type{
		"name":      expression.Scalar(expression.KindString),
		"email":     expression.Scalar(expression.KindString),
		"budget":    expression.Scalar(expression.KindFloat),
		"source":    expression.Scalar(expression.KindString),
		"score":     expression.Scalar(expression.KindInt),
		"employees": expression.Scalar(expression.KindInt),
		"country":   expression.Scalar(expression.KindString),
		"region":    expression.Scalar(expression.KindString),
		"severity":  expression.Scalar(expression.KindString),
		"tier":      expression.Scalar(expression.KindString),
		"tags":      expression.ListOf(expression.Scalar(expression.KindString)),
		"createdAt": expression.Scalar(expression.KindTime),
		"openedAt":  expression.Scalar(expression.KindTime),
		"ownerId":   expression.Scalar(expression.KindString),
		"fullName":  expression.Scalar(expression.KindString),
		"discount":  expression.Scalar(expression.KindFloat),
	}, expression.WithCalendars(map[string]expression.Calendar{"support": support}))
	if env.Err() != nil {
		t.Fatal(env.Err())
	}
	return env
}

func mustCompile(t testing.TB, rs *RuleSet) *Compiled {
	t.Helper()
	c, err := Compile(rs, leadEnv(t))
	if err != nil {
		t.Fatalf("compile %s: %v", rs.Key, err)
	}
	return c
}

func TestParseIssueExample(t *testing.T) {
	rs, err := ParseRuleSet([]byte(`{"key": "lead-score", "kind": "scoring", "entity": "lead",
	 "rules": [{"name": "big budget", "when": "budget > 1000000", "points": 30},
	           {"name": "referral", "when": "source == \"partner\"", "points": 20}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := mustCompile(t, rs)
	o, err := c.Evaluate(map[string]any{"budget": 2e6, "source": "partner"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Score != 50 || len(o.Fired) != 2 || o.Fired[1].Name != "referral" {
		t.Fatalf("got %+v", o)
	}
	if got := c.Fields(); !reflect.DeepEqual(got, []string{"budget", "source"}) {
		t.Fatalf("fields %v", got)
	}
	if _, err := ParseRuleSet([]byte(`{"key":"x","kind":"scoring","rulez":[]}`)); err == nil {
		t.Fatal("unknown JSON field accepted")
	}
}

func TestCompileReportsAllProblems(t *testing.T) {
	rs := &RuleSet{Key: "bad", Kind: KindScoring, Rules: []Rule{
		{Name: "a", When: "budget > 10", Points: 5},
		{Name: "a", When: "budget >\n  bugdet", Points: 5},
		{Name: "c", When: `source == 1`, Points: 1},
		{Name: "d", When: "budget", Points: 1},
		{Name: "e", When: "score > 1"},
	}, Table: &DecisionTable{}}
	_, err := Compile(rs, leadEnv(t))
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("want *Error, got %v", err)
	}
	want := []Problem{
		{Path: "rules[1].name", Message: `duplicate rule name "a"`},
		{Path: "rules[1].when", Line: 2, Column: 3, Message: "unknown name bugdet"},
		{Path: "rules[2].when", Line: 1, Column: 8, Message: "mismatched types"},
		{Path: "rules[3].when", Line: 1, Column: 1, Message: "bool"},
		{Path: "rules[4].points", Message: "non-zero points"},
		{Path: "table", Message: "only used by decision_table"},
	}
	if len(re.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d: %v", len(re.Problems), len(want), re)
	}
	for i, w := range want {
		g := re.Problems[i]
		if g.Path != w.Path || g.Line != w.Line || (w.Column > 0 && g.Column != w.Column) || !strings.Contains(g.Message, w.Message) {
			t.Errorf("problem %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestCompileKindProblems(t *testing.T) {
	tests := []struct {
		name string
		rs   RuleSet
		path string
	}{
		{"no key", RuleSet{Kind: KindScoring, Rules: []Rule{{Name: "a", When: "true", Points: 1}}}, "key"},
		{"unknown kind", RuleSet{Key: "k", Kind: "magic"}, "kind"},
		{"no rules", RuleSet{Key: "k", Kind: KindDecision}, "rules"},
		{"validation message", RuleSet{Key: "k", Kind: KindValidation, Rules: []Rule{{Name: "a", When: "budget < 0"}}}, "rules[0].message"},
		{"validation field", RuleSet{Key: "k", Kind: KindValidation, Rules: []Rule{{Name: "a", When: "budget < 0", Message: "m", Field: "nope"}}}, "rules[0].field"},
		{"computed type", RuleSet{Key: "k", Kind: KindComputed, Rules: []Rule{{Name: "a", Field: "fullName", Value: "score + 1"}}}, "rules[0].value"},
		{"decision outcome", RuleSet{Key: "k", Kind: KindDecision, Rules: []Rule{{Name: "a", When: "true"}}}, "rules[0].outcome"},
		{"decision policy", RuleSet{Key: "k", Kind: KindDecision, HitPolicy: "random", Rules: []Rule{{Name: "a", When: "true", Outcome: 1}}}, "hitPolicy"},
		{"table missing", RuleSet{Key: "k", Kind: KindDecisionTable}, "table"},
		{"sla calendar", RuleSet{Key: "k", Kind: KindSLA, SLA: &SLAPolicy{Calendar: "nope", Targets: []SLATarget{{Name: "a", Response: "1h"}}}}, "sla.calendar"},
		{"sla duration", RuleSet{Key: "k", Kind: KindSLA, SLA: &SLAPolicy{Targets: []SLATarget{{Name: "a", Response: "soon"}}}}, "sla.targets[0].response"},
		{"route both", RuleSet{Key: "k", Kind: KindAssignment, Assignment: &AssignmentPolicy{Routes: []Route{{Name: "a", Queue: "q", Team: "t"}}}}, "assignment.routes[0]"},
		{"route strategy", RuleSet{Key: "k", Kind: KindAssignment, Assignment: &AssignmentPolicy{Routes: []Route{{Name: "a", Team: "t", Strategy: "coin"}}}}, "assignment.routes[0].strategy"},
		{"test without expect", RuleSet{Key: "k", Kind: KindScoring, Rules: []Rule{{Name: "a", When: "true", Points: 1}}, Tests: []TestCase{{Name: "t"}}}, "tests[0].expect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(&tt.rs, leadEnv(t))
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, p := range re.Problems {
				if p.Path == tt.path {
					return
				}
			}
			t.Fatalf("no problem at %s: %v", tt.path, re)
		})
	}
}

func TestValidation(t *testing.T) {
	c := mustCompile(t, &RuleSet{Key: "lead-valid", Kind: KindValidation, Rules: []Rule{
		{Name: "budget positive", When: "budget < 0", Message: "Budget cannot be negative", Field: "budget"},
		{Name: "email", When: `email != "" && !(email matches "^[^@ ]+@[^@ ]+$")`, Message: "Email is malformed", Field: "email"},
		{Name: "off", When: "true", Message: "never", Disabled: true},
	}})
	tests := []struct {
		rec  map[string]any
		msgs []string
	}{
		{map[string]any{"budget": 10.0, "email": "a@b.c"}, nil},
		{map[string]any{"budget": -1.0, "email": "nope"}, []string{"Budget cannot be negative", "Email is malformed"}},
		{map[string]any{}, nil}, // missing fields take zero values
	}
	for _, tt := range tests {
		o, err := c.Evaluate(tt.rec, now)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range o.Violations {
			got = append(got, v.Message)
		}
		if !reflect.DeepEqual(got, tt.msgs) || o.Valid != (len(tt.msgs) == 0) {
			t.Errorf("%v: got valid=%v %v, want %v", tt.rec, o.Valid, got, tt.msgs)
		}
	}
}

func TestComputed(t *testing.T) {
	c := mustCompile(t, &RuleSet{Key: "lead-computed", Kind: KindComputed, Rules: []Rule{
		{Name: "full name", Field: "fullName", Value: `trim(name) + " <" + normalizeEmail(email) + ">"`},
		{Name: "discount", Field: "discount", When: "budget > 100000", Value: "budget * 0.05"},
		{Name: "age", Field: "ageDays", Value: "daysBetween(createdAt, now)"},
	}})
	o, err := c.Evaluate(map[string]any{"name": " Ann ", "email": "ANN@X.ORG", "budget": 1e6, "createdAt": "2025-03-01T10:00:00Z"}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"fullName": "Ann <ann@x.org>", "discount": 50000.0, "ageDays": 4}
	if !reflect.DeepEqual(o.Values, want) {
		t.Fatalf("got %#v, want %#v", o.Values, want)
	}
	o, err = c.Evaluate(map[string]any{"budget": 10.0}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := o.Values["discount"]; ok {
		t.Fatalf("conditional computed rule applied: %v", o.Values)
	}
}

func TestDecision(t *testing.T) {
	rules := []Rule{
		{Name: "enterprise", When: "employees >= 1000", Outcome: "enterprise"},
		{Name: "mid", When: "employees >= 100", Outcome: "mid-market"},
		{Name: "partner", When: `source == "partner"`, Outcome: "partner"},
	}
	first := mustCompile(t, &RuleSet{Key: "segment", Kind: KindDecision, Rules: rules, Default: "smb"})
	collect := mustCompile(t, &RuleSet{Key: "segment-all", Kind: KindDecision, HitPolicy: "collect", Rules: rules})
	tests := []struct {
		rec                    map[string]any
		firstWant, collectWant any
		matched                []string
	}{
		{map[string]any{"employees": 5000, "source": "partner"}, "enterprise", []any{"enterprise", "mid-market", "partner"}, []string{"enterprise"}},
		{map[string]any{"employees": 150.0}, "mid-market", []any{"mid-market"}, []string{"mid"}},
		{map[string]any{"employees": 3}, "smb", []any{}, []string{}},
	}
	for _, tt := range tests {
		o, err := first.Evaluate(tt.rec, now)
		if err != nil {
			t.Fatal(err)
		}
		if o.Decision != tt.firstWant || !reflect.DeepEqual(o.Matched, tt.matched) {
			t.Errorf("first %v: got %v %v", tt.rec, o.Decision, o.Matched)
		}
		o, err = collect.Evaluate(tt.rec, now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(o.Decision, tt.collectWant) {
			t.Errorf("collect %v: got %#v, want %#v", tt.rec, o.Decision, tt.collectWant)
		}
	}
}

func discountTable(policy, agg string) *RuleSet {
	return &RuleSet{Key: "discount", Kind: KindDecisionTable, Table: &DecisionTable{
		HitPolicy: policy, Aggregation: agg,
		Inputs: []InputColumn{
			{Name: "tier", Expression: "tier", Type: "string"},
			{Name: "budget", Expression: "budget", Type: "float"},
		},
		Outputs: []OutputColumn{{Name: "discount", Type: "int", Values: []any{20.0, 10.0, 5.0, 0.0}}},
		Rows: []TableRow{
			{Inputs: []string{`"gold"`, "> 100000"}, Outputs: []any{20.0}},
			{Inputs: []string{`in ["gold", "silver"]`, "-"}, Outputs: []any{10.0}},
			{Inputs: []string{"-", "[1000..100000]"}, Outputs: []any{5.0}},
			{Inputs: []string{`"bronze"`, ""}, Outputs: []any{0.0}},
		},
	}}
}

func TestDecisionTableHitPolicies(t *testing.T) {
	gold := map[string]any{"tier": "gold", "budget": 500000.0}   // rows 1, 2
	silver := map[string]any{"tier": "silver", "budget": 5000.0} // rows 2, 3
	bronze := map[string]any{"tier": "bronze", "budget": 10.0}   // row 4
	none := map[string]any{"tier": "lead", "budget": 1.0}        // no row
	tests := []struct {
		policy, agg string
		rec         map[string]any
		want        any
		rows        []int
		err         string
	}{
		{HitFirst, "", gold, 20, []int{1}, ""},
		{HitFirst, "", silver, 10, []int{2}, ""},
		{HitFirst, "", none, nil, []int{}, ""},
		{HitUnique, "", bronze, 0, []int{4}, ""},
		{HitUnique, "", gold, nil, nil, "rows 1, 2 all match"},
		{HitPriority, "", silver, 10, []int{2}, ""},
		{HitPriority, "", map[string]any{"tier": "silver", "budget": 1e6}, 10, []int{2}, ""},
		{HitAny, "", gold, nil, nil, "different outputs"},
		{HitCollect, "", gold, []any{20, 10}, []int{1, 2}, ""},
		{HitCollect, "", none, []any{}, []int{}, ""},
		{HitCollect, AggSum, gold, 30, []int{1, 2}, ""},
		{HitCollect, AggMin, silver, 5, []int{2, 3}, ""},
		{HitCollect, AggMax, silver, 10, []int{2, 3}, ""},
		{HitCollect, AggCount, gold, 2, []int{1, 2}, ""},
		{HitCollect, AggCount, none, 0, []int{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.policy+" "+tt.agg, func(t *testing.T) {
			c := mustCompile(t, discountTable(tt.policy, tt.agg))
			o, err := c.Evaluate(tt.rec, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want error %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.Table.Output, tt.want) || !reflect.DeepEqual(o.Table.Rows, tt.rows) {
				t.Fatalf("got %#v rows %v, want %#v rows %v", o.Table.Output, o.Table.Rows, tt.want, tt.rows)
			}
		})
	}
}

func TestDecisionTableMultipleOutputsAndPriority(t *testing.T) {
	rs := &RuleSet{Key: "routing", Kind: KindDecisionTable, Table: &DecisionTable{
		HitPolicy: HitPriority,
		Inputs:    []InputColumn{{Name: "severity", Expression: "severity"}, {Name: "tags", Expression: "tags"}},
		Outputs: []OutputColumn{
			{Name: "priority", Type: "string", Values: []any{"urgent", "high", "normal"}},
			{Name: "queue", Type: "string", Values: []any{"vip", "support"}},
		},
		Rows: []TableRow{
			{Inputs: []string{"-", "-"}, Outputs: []any{"normal", "support"}},
			{Inputs: []string{`== "high"`, "-"}, Outputs: []any{"high", "support"}},
			{Inputs: []string{`"high"`, `contains "x"`}, Outputs: []any{"high", "vip"}},
		},
	}}
	_, err := Compile(rs, leadEnv(t))
	// `tags contains "x"` is a type error: contains works on strings.
	var re *Error
	if !errors.As(err, &re) || re.Problems[0].Path != "table.rows[2].inputs[1]" {
		t.Fatalf("want a problem in rows[2].inputs[1], got %v", err)
	}
	// Testing list membership is done with a boolean input column instead.
	rs.Table.Inputs[1] = InputColumn{Name: "vip", Expression: `"vip" in tags`, Type: "bool"}
	rs.Table.Rows[0].Inputs[1] = "-"
	rs.Table.Rows[1].Inputs[1] = "false"
	rs.Table.Rows[2].Inputs[1] = "true"
	c := mustCompile(t, rs)
	o, err := c.Evaluate(map[string]any{"severity": "high", "tags": []any{"vip"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"priority": "high", "queue": "vip"}
	if !reflect.DeepEqual(o.Table.Output, want) || !reflect.DeepEqual(o.Table.Rows, []int{3}) {
		t.Fatalf("got %v rows %v", o.Table.Output, o.Table.Rows)
	}
}

func TestDecisionTableProblems(t *testing.T) {
	rs := &RuleSet{Key: "t", Kind: KindDecisionTable, Table: &DecisionTable{
		HitPolicy: "PRIORITY", Aggregation: "SUM",
		Inputs:  []InputColumn{{Name: "b", Expression: "budget", Type: "float"}},
		Outputs: []OutputColumn{{Name: "o", Type: "int"}},
		Rows: []TableRow{
			{Inputs: []string{"> nope"}, Outputs: []any{"x"}},
			{Inputs: []string{"1", "2"}, Outputs: []any{1.0}},
		},
	}}
	_, err := Compile(rs, leadEnv(t))
	var re *Error
	if !errors.As(err, &re) {
		t.Fatalf("want *Error, got %v", err)
	}
	paths := map[string]Problem{}
	for _, p := range re.Problems {
		paths[p.Path] = p
	}
	for _, want := range []string{"table.aggregation", "table.outputs[0].values", "table.rows[0].inputs[0]", "table.rows[0].outputs[0]", "table.rows[1].inputs"} {
		if _, ok := paths[want]; !ok {
			t.Errorf("no problem at %s: %v", want, re)
		}
	}
	// The column points into the cell text ("> nope": "nope" is at column 3).
	if p := paths["table.rows[0].inputs[0]"]; p.Line != 1 || p.Column != 3 {
		t.Errorf("cell problem at %d:%d, want 1:3 (%s)", p.Line, p.Column, p.Message)
	}
}

func assignmentSet() *RuleSet {
	return &RuleSet{Key: "lead-owner", Kind: KindAssignment, Assignment: &AssignmentPolicy{
		Routes: []Route{
			{Name: "existing owner", When: `ownerId != ""`, AssigneeFrom: "ownerId", Team: "north"},
			{Name: "north", When: `region == "north"`, Team: "north"},
			{Name: "south big", When: `region == "south" && budget > 100000`, Team: "south", Strategy: StrategyLeastLoaded},
			{Name: "abroad", When: `country != "DE"`, Queue: "international"},
		},
		Default: &Route{Name: "fallback", Queue: "unassigned"},
	}}
}

func TestAssignment(t *testing.T) {
	c := mustCompile(t, assignmentSet())
	teams := map[string][]Candidate{
		"north": {{ID: "ann"}, {ID: "bob", Unavailable: true}, {ID: "cid"}},
		"south": {{ID: "dan", OpenWork: 7}, {ID: "eve", OpenWork: 2}, {ID: "fay", OpenWork: 2, Unavailable: true}, {ID: "gus", OpenWork: 2}},
	}
	tests := []struct {
		name     string
		rec      map[string]any
		cursors  map[string]int
		assignee string
		queue    string
		cursor   int
		err      error
	}{
		{"round robin from cursor 0", map[string]any{"region": "north", "country": "DE"}, nil, "ann", "", 1, nil},
		{"round robin skips unavailable", map[string]any{"region": "north", "country": "DE"}, map[string]int{"north": 1}, "cid", "", 0, nil},
		{"round robin wraps", map[string]any{"region": "north", "country": "DE"}, map[string]int{"north": 5}, "cid", "", 0, nil},
		{"least loaded, ties from cursor", map[string]any{"region": "south", "budget": 1e6, "country": "DE"}, nil, "eve", "", 2, nil},
		{"least loaded, ties rotate", map[string]any{"region": "south", "budget": 1e6, "country": "DE"}, map[string]int{"south": 2}, "gus", "", 0, nil},
		{"owner from record", map[string]any{"ownerId": "cid", "region": "south"}, nil, "cid", "", 0, nil},
		{"unavailable owner falls back to team", map[string]any{"ownerId": "bob"}, map[string]int{"north": 1}, "cid", "", 0, nil},
		{"queue by field", map[string]any{"country": "FR"}, nil, "", "international", 0, nil},
		{"default route", map[string]any{"country": "DE", "region": "east"}, nil, "", "unassigned", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := c.Assign(tt.rec, now, &AssignContext{Teams: teams, Cursors: tt.cursors})
			if err != nil {
				t.Fatal(err)
			}
			if a.Assignee != tt.assignee || a.Queue != tt.queue || (a.Assignee != "" && a.Cursor != tt.cursor) {
				t.Fatalf("got %+v", a)
			}
			if a.Reason == "" {
				t.Fatal("assignment without a reason")
			}
		})
	}
	_, err := c.Assign(map[string]any{"region": "north"}, now, &AssignContext{Teams: map[string][]Candidate{"north": {{ID: "x", Unavailable: true}}}})
	if !errors.Is(err, ErrNoneAvailable) {
		t.Fatalf("got %v, want ErrNoneAvailable", err)
	}
	// Round robin over a sequence distributes evenly, advancing the cursor.
	counts := map[string]int{}
	cursor := 0
	for i := 0; i < 10; i++ {
		a, err := c.Assign(map[string]any{"region": "north", "country": "DE"}, now, &AssignContext{Teams: teams, Cursors: map[string]int{"north": cursor}})
		if err != nil {
			t.Fatal(err)
		}
		counts[a.Assignee]++
		cursor = a.Cursor
	}
	if counts["ann"] != 5 || counts["cid"] != 5 || counts["bob"] != 0 {
		t.Fatalf("uneven round robin: %v", counts)
	}
}

func TestSLA(t *testing.T) {
	c := mustCompile(t, &RuleSet{Key: "complaint-sla", Kind: KindSLA, SLA: &SLAPolicy{
		Calendar: "support", Start: "openedAt",
		Targets: []SLATarget{
			{Name: "critical gold", When: `severity == "critical" && tier == "gold"`, Response: "1h", Resolution: "8h"},
			{Name: "critical", When: `severity == "critical"`, Response: "4h", Resolution: "16h"},
		},
		Default: &SLATarget{Name: "standard", Response: "8h", Resolution: "40h"},
	}})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name                 string
		rec                  map[string]any
		target               string
		response, resolution time.Time
	}{
		{"gold on a Friday afternoon", map[string]any{"severity": "critical", "tier": "gold", "openedAt": at("2025-03-07 16:30")},
			"critical gold", at("2025-03-10 09:30"), at("2025-03-10 16:30")},
		{"critical over Easter", map[string]any{"severity": "critical", "openedAt": at("2025-04-17 15:00")},
			"critical", at("2025-04-22 11:00"), at("2025-04-23 15:00")},
		{"standard opened at night (UTC input)", map[string]any{"severity": "low", "openedAt": "2025-03-04T23:00:00Z"},
			"standard", at("2025-03-05 17:00"), at("2025-03-11 17:00")},
		{"over the DST change", map[string]any{"severity": "critical", "openedAt": at("2025-03-28 15:00")},
			"critical", at("2025-03-31 11:00"), at("2025-04-01 15:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := c.Evaluate(tt.rec, now)
			if err != nil {
				t.Fatal(err)
			}
			if o.SLA.Target != tt.target || !o.SLA.ResponseDue.Equal(tt.response) || !o.SLA.ResolutionDue.Equal(tt.resolution) {
				t.Fatalf("got %s %v %v, want %s %v %v", o.SLA.Target, o.SLA.ResponseDue, o.SLA.ResolutionDue, tt.target, tt.response, tt.resolution)
			}
		})
	}
	// Without a calendar, durations are calendar time from now.
	plain := mustCompile(t, &RuleSet{Key: "plain", Kind: KindSLA, SLA: &SLAPolicy{Targets: []SLATarget{{Name: "all", Response: "30m"}}}})
	o, err := plain.Evaluate(map[string]any{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !o.SLA.ResponseDue.Equal(now.Add(30*time.Minute)) || !o.SLA.ResolutionDue.IsZero() {
		t.Fatalf("got %+v", o.SLA)
	}
}

func TestContentHash(t *testing.T) {
	a, err := ParseRuleSet([]byte(`{"key":"s","kind":"scoring","rules":[{"name":"a","when":"budget > 1","points":3}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseRuleSet([]byte(`{"rules":[{"points":3,"when":"budget > 1","name":"a"}],"kind":"scoring","key":"s"}`))
	if err != nil {
		t.Fatal(err)
	}
	ha, err := ContentHash(a)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := ContentHash(b)
	if ha != hb || !strings.HasPrefix(ha, "sha256:") || len(ha) != len("sha256:")+64 {
		t.Fatalf("hashes %s %s", ha, hb)
	}
	b.Rules[0].Points = 4
	if hc, _ := ContentHash(b); hc == ha {
		t.Fatal("changed content kept its hash")
	}
	canon, _ := CanonicalJSON(a)
	if string(canon) != `{"key":"s","kind":"scoring","rules":[{"name":"a","points":3,"when":"budget > 1"}]}` {
		t.Fatalf("canonical JSON %s", canon)
	}
}

func TestRunTests(t *testing.T) {
	rs, err := ParseRuleSet([]byte(`{"key":"s","kind":"scoring","rules":[
		{"name":"big budget","when":"budget > 1000000","points":30},
		{"name":"referral","when":"source == \"partner\"","points":20}],
	 "tests":[
		{"name":"both","input":{"budget":2000000,"source":"partner"},"expect":{"score":50,"fired":["big budget","referral"]}},
		{"name":"none","input":{"budget":5},"expect":{"score":0}},
		{"name":"wrong","input":{"budget":5},"expect":{"score":10}},
		{"name":"bad key","input":{},"expect":{"queue":"x"}},
		{"name":"bad input","input":{"budget":"lots"},"expect":{"error":"budget"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c := mustCompile(t, rs)
	rep := RunTests(c, rs.Tests, now)
	if rep.Passed != 3 || rep.Failed != 2 {
		t.Fatalf("passed %d failed %d: %+v", rep.Passed, rep.Failed, rep.Results)
	}
	wantPass := map[string]bool{"both": true, "none": true, "wrong": false, "bad key": false, "bad input": true}
	for _, r := range rep.Results {
		if r.Passed != wantPass[r.Name] {
			t.Errorf("%s: passed=%v %v", r.Name, r.Passed, r.Mismatches)
		}
	}
	if m := rep.Results[2].Mismatches; len(m) != 1 || m[0] != "score: got 0, want 10" {
		t.Errorf("mismatch text %q", m)
	}
}

func TestRunTestsAssignmentWithContext(t *testing.T) {
	rs := assignmentSet()
	rs.Tests = []TestCase{{Name: "north rr", Input: map[string]any{"region": "north", "country": "DE"},
		Context: &AssignContext{Teams: map[string][]Candidate{"north": {{ID: "ann"}, {ID: "bob"}}}, Cursors: map[string]int{"north": 1}},
		Expect:  map[string]any{"assignee": "bob", "team": "north"}}}
	c := mustCompile(t, rs)
	if rep := RunTests(c, rs.Tests, now); rep.Failed != 0 {
		t.Fatalf("%+v", rep.Results)
	}
}

func TestWhatIf(t *testing.T) {
	published := mustCompile(t, &RuleSet{Key: "qualified", Kind: KindDecision, Default: false,
		Rules: []Rule{{Name: "budget", When: "budget >= 10000", Outcome: true}}})
	draft := mustCompile(t, &RuleSet{Key: "qualified", Kind: KindDecision, Default: false,
		Rules: []Rule{{Name: "budget", When: "budget >= 50000", Outcome: true}}})
	var recs []map[string]any
	for i := 0; i < 500; i++ {
		recs = append(recs, map[string]any{"budget": float64(i * 200)}) // 0 .. 99800
	}
	rep := WhatIf(draft, published, recs, now)
	// budget in [10000, 50000) → 50..249 → 200 records lose qualification.
	if rep.Total != 500 || rep.Changed != 200 || rep.Errors != 0 {
		t.Fatalf("total %d changed %d errors %d", rep.Total, rep.Changed, rep.Errors)
	}
	if !reflect.DeepEqual(rep.Summary, []string{"200 of 500 would no longer qualify"}) {
		t.Fatalf("summary %q", rep.Summary)
	}
	if !rep.Records[60].Changed || rep.Records[10].Changed {
		t.Fatal("per-record change flags wrong")
	}

	routedA := mustCompile(t, assignmentSet())
	rsB := assignmentSet()
	rsB.Assignment.Routes[3].Queue = "export"
	routedB := mustCompile(t, rsB)
	rep = WhatIf(routedB, routedA, []map[string]any{{"country": "FR"}, {"country": "IT"}, {"country": "DE", "region": "north"}}, now)
	if !reflect.DeepEqual(rep.Summary, []string{`2 of 3 would be routed from "queue international" to "queue export"`}) {
		t.Fatalf("summary %q", rep.Summary)
	}

	scoreA := mustCompile(t, &RuleSet{Key: "s", Kind: KindScoring, Rules: []Rule{{Name: "a", When: "budget > 10", Points: 10}}})
	scoreB := mustCompile(t, &RuleSet{Key: "s", Kind: KindScoring, Rules: []Rule{{Name: "a", When: "budget > 10", Points: 15}}})
	rep = WhatIf(scoreB, scoreA, []map[string]any{{"budget": 20.0}, {"budget": 1.0}, {"budget": "bad"}}, now)
	want := []string{"1 of 3 would score differently (1 higher, 0 lower, average change +5.0 points)", "1 of 3 failed to evaluate in the draft or the published version"}
	if !reflect.DeepEqual(rep.Summary, want) {
		t.Fatalf("summary %q", rep.Summary)
	}
}

func TestConcurrentUse(t *testing.T) {
	env := leadEnv(t)
	c, err := Compile(scoring20(), env)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := handScore20(benchLead(), nil)
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			// Compiling against a shared Env and scoring with a shared
			// Compiled (one Session per goroutine) must be safe.
			if _, err := Compile(discountTable(HitFirst, ""), env); err != nil {
				done <- err
				return
			}
			s := c.NewSession()
			rec := benchLead()
			for i := 0; i < 200; i++ {
				got, _, err := s.Score(rec, now)
				if err != nil {
					done <- err
					return
				}
				if got != want {
					done <- fmt.Errorf("score %v, want %v", got, want)
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// The business calendar is the implementation behind the expression
// helpers addBusinessHours and businessHoursBetween.
var _ expression.Calendar = (*calendar.Calendar)(nil)

func TestBusinessHoursInExpressions(t *testing.T) {
	c := mustCompile(t, &RuleSet{Key: "follow-up", Kind: KindComputed, Rules: []Rule{
		{Name: "due", Field: "followUpDue", Value: `addBusinessHours(openedAt, 4, "support")`},
		{Name: "overdue", Field: "overdue", Value: `businessHoursBetween(openedAt, now, "support") > 4`},
	}})
	// Opened Friday 15:00 Berlin: 2h on Friday, 2h on Monday → Monday 11:00.
	o, err := c.Evaluate(map[string]any{"openedAt": "2025-03-07T14:00:00Z"}, time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if due := o.Values["followUpDue"].(time.Time); !due.Equal(time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("due %v", due)
	}
	// Friday 15:00–17:00 plus Monday 09:00–10:30 Berlin = 3.5 business hours.
	if o.Values["overdue"] != false {
		t.Fatalf("overdue %v", o.Values["overdue"])
	}
}

func TestDiff(t *testing.T) {
	a := scoring20()
	b := scoring20()
	b.Rules[0].Points = 35
	b.Rules = append(b.Rules[:2], b.Rules[3:]...) // remove "small budget"
	b.Rules = append(b.Rules, Rule{Name: "new", When: "score > 90", Points: 5})
	b.Rules[0], b.Rules[1] = b.Rules[1], b.Rules[0]
	b.Description = "tuned"
	changes, err := Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.Op+" "+c.Path)
	}
	want := []string{
		"added description",
		`changed rules["big budget"].points`,
		`removed rules["small budget"]`,
		`added rules["new"]`,
		"changed rules",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if changes, _ := Diff(a, scoring20()); len(changes) != 0 {
		t.Fatalf("identical versions differ: %v", changes)
	}
}

func TestCheckPublishable(t *testing.T) {
	rs := scoring20()
	c := mustCompile(t, rs)
	if _, err := CheckPublishable(c, now); !errors.Is(err, ErrTestsFailed) {
		t.Fatalf("a rule set without tests must not be publishable, got %v", err)
	}
	rs.Tests = []TestCase{
		{Name: "big", Input: map[string]any{"budget": 2e6}, Expect: map[string]any{"fired": []any{"big budget", "tiny", "low prior score"}}},
		{Name: "wrong", Input: map[string]any{"budget": 2e6}, Expect: map[string]any{"score": 1}},
	}
	c = mustCompile(t, rs)
	rep, err := CheckPublishable(c, now)
	if !errors.Is(err, ErrTestsFailed) || rep.Passed != 1 || rep.Failed != 1 || !strings.Contains(err.Error(), "[wrong]") {
		t.Fatalf("got %v, %+v", err, rep)
	}
	rs.Tests = rs.Tests[:1]
	c = mustCompile(t, rs)
	if _, err := CheckPublishable(c, now); err != nil {
		t.Fatal(err)
	}
}

func TestCompileAgainstBrokenEnv(t *testing.T) {
	env := expression.NewEnv(map[string]*expression.Type{"now": expression.Scalar(expression.KindTime)})
	_, err := Compile(scoring20(), env)
	var re *Error
	if !errors.As(err, &re) || len(re.Problems) != 1 || re.Problems[0].Path != "entity" {
		t.Fatalf("want one entity problem, got %v", err)
	}
}

func TestScoreErrorNamesTheRule(t *testing.T) {
	c := mustCompile(t, scoring20())
	rec := benchLead()
	rec["employees"] = "many" // not coerced: the native batch falls back and the VM reports it
	_, _, err := c.NewSession().Score(rec, now)
	if err == nil || !strings.Contains(err.Error(), `rule "enterprise"`) {
		t.Fatalf("got %v, want an error naming the first failing rule", err)
	}
}
