package instances

import (
	"strings"
	"testing"
	"time"
)

func TestFilterQuery(t *testing.T) {
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		f     Filter
		want  []string // parts the query must hold
		param string   // the parameter refused, when the filter is
	}{
		{name: "process instances only", f: Filter{}, want: []string{"WorkflowType = 'rapport.process'", "RapportProcessKey IS NOT NULL"}},
		{name: "process and version", f: Filter{ProcessKey: "lead", Version: 3}, want: []string{"RapportProcessKey = 'lead'", "RapportProcessVersion = 3"}},
		{name: "a version needs the process", f: Filter{Version: 3}, param: "version"},
		{name: "a negative version", f: Filter{ProcessKey: "lead", Version: -1}, param: "version"},
		{name: "states are alternatives", f: Filter{States: []string{"waiting", "cancelled"}},
			want: []string{"((ExecutionStatus = 'Running' AND RapportState = 'waiting') OR (ExecutionStatus = 'Canceled' OR"}},
		{name: "an unknown state", f: Filter{States: []string{"asleep"}}, param: "state"},
		{name: "quotes are escaped", f: Filter{BusinessKey: "O'Neil"}, want: []string{`RapportBusinessKey = 'O\'Neil'`}},
		{name: "a group matches its key and the overflow marker", f: Filter{Group: "sales"}, want: []string{"RapportAssignees IN ('group:sales', "}},
		{name: "a record needs its entity", f: Filter{RecordID: "r1"}, param: "record"},
		{name: "record", f: Filter{Entity: "lead", RecordID: "r1"}, want: []string{"RapportEntity = 'lead'", "RapportRecordID = 'r1'"}},
		{name: "times", f: Filter{StartedAfter: day, EndedBefore: day.Add(time.Hour)},
			want: []string{"StartTime >= '2026-03-02T09:00:00Z'", "CloseTime < '2026-03-02T10:00:00Z'"}},
		{name: "element and incident", f: Filter{Element: "Task_Call", Incident: "timeout"},
			want: []string{"RapportActiveElements = 'Task_Call'", "RapportIncident = 'timeout'"}},
		{name: "a selection of instances", f: Filter{ProcessKey: "lead", IDs: []string{"lead:api:1", "O'Neil"}},
			want: []string{"RapportProcessKey = 'lead'", `WorkflowId IN ('lead:api:1', 'O\'Neil')`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := c.f.Query()
			if c.param != "" {
				fe, ok := err.(*FilterError)
				if !ok || fe.Param != c.param {
					t.Fatalf("Query() = %q, %v; want a refusal of %s", q, err, c.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(q, w) {
					t.Errorf("query %q lacks %q", q, w)
				}
			}
		})
	}
}

func TestOperationCheck(t *testing.T) {
	cases := []struct {
		op    Operation
		field string
	}{
		{Operation{Kind: "explode", Reason: "r"}, "kind"},
		{Operation{Kind: OpSuspend, Reason: "  "}, "reason"},
		{Operation{Kind: OpSetVariables, Reason: "r"}, "variables"},
		{Operation{Kind: OpAssign, Reason: "r"}, "taskId"},
		{Operation{Kind: OpCorrelate, Reason: "r"}, "message/name"},
		{Operation{Kind: OpMove, Reason: "r"}, "activate"},
		{Operation{Kind: OpMigrate, Reason: "r"}, "toVersion"},
		{Operation{Kind: OpSuspend, Reason: "r"}, ""},
		{Operation{Kind: OpSetVariables, Reason: "r", Variables: map[string]any{"a": 1}}, ""},
	}
	for _, c := range cases {
		err := c.op.Check()
		oe, _ := err.(*OperationError)
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.op, err)
		case c.field != "" && (oe == nil || oe.Field != c.field):
			t.Errorf("%+v: %v, want a refusal of %s", c.op, err, c.field)
		}
	}
}
