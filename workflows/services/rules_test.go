package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/workflows/process"
	"github.com/rapportcrm/rapport/workflows/services"
)

// TestRulesReadRecordsInTheProcessScope: a rules.evaluate task given only a recordId reads the record
// as its process's run-as identity may, like a record.get task: a record outside the identity's scope
// is not found (before, the rule set read any record of its entity), and one inside is scored.
func TestRulesReadRecordsInTheProcessScope(t *testing.T) {
	ctx := context.Background()
	putRuleset(t, map[string]any{"key": "team-scoring", "kind": "scoring", "entity": "lead",
		"rules": []any{map[string]any{"name": "south", "when": `team == "south-rules"`, "points": 10}},
		"tests": []any{map[string]any{"name": "south", "input": map[string]any{"team": "south-rules"}, "expect": map[string]any{"score": 10}}}})
	status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/records/lead", env.AdminToken,
		map[string]any{"source": "api", "name": "Rules Scope", "status": "new", "team": "south-rules"})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create lead: %d %s %v", status, body, err)
	}
	id := jsonField(t, body, "id")

	rules := services.Rules{Rulesets: env.Stack.Rulesets, Records: services.Records{Store: env.Stack.Records, Access: env.Stack.Access}}
	as := func(teams ...string) context.Context {
		return services.WithIdentity(ctx, services.Identity{RunAs: definitions.RunAs{Principal: "process:scope@1"},
			Subject: access.Subject{UserID: "process:scope@1", Roles: []string{access.RoleManager}, Teams: teams}})
	}
	tests := []struct {
		name     string
		ctx      context.Context
		wantCode string
		score    float64
	}{
		{"another team's record is not found", as("north-rules"), services.CodeNotFound, 0},
		{"the team's own record is scored", as("south-rules"), "", 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := rules.Evaluate(tc.ctx, "team-scoring", "", map[string]any{"recordId": id})
			var be *process.BPMNError
			switch {
			case tc.wantCode != "":
				if !errors.As(err, &be) || be.Code != tc.wantCode {
					t.Fatalf("got %v, %v; want BPMN error %s", out, err, tc.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			case toFloat(out["score"]) != tc.score:
				t.Fatalf("score %v, want %v (%v)", out["score"], tc.score, out)
			}
		})
	}
}

func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	s, _ := m[name].(string)
	if s == "" {
		t.Fatalf("no %s in %s", name, body)
	}
	return s
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	case int64:
		return float64(n)
	}
	return -1
}
