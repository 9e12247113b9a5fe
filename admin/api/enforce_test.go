package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRuleSetsApplyToRecordWrites publishes a validation and a computed-field rule set for deals: every
// deal written afterwards is refused when it breaks the rule (naming the field) and gets the computed
// value stored; archiving the rule set lifts it.
func TestRuleSetsApplyToRecordWrites(t *testing.T) {
	validation := map[string]any{"key": "deal-won-certain", "kind": "validation", "entity": "deal",
		"rules": []any{map[string]any{"name": "won is certain", "when": `stage == "won" && probability < 100`,
			"message": "a won deal has probability 100", "field": "probability"}},
		"tests": []any{map[string]any{"name": "won at 50", "input": map[string]any{"stage": "won", "probability": 50},
			"expect": map[string]any{"valid": false}}}}
	computed := map[string]any{"key": "deal-lost-zero", "kind": "computed", "entity": "deal",
		"rules": []any{map[string]any{"name": "lost is zero", "field": "probability", "when": `stage == "lost"`, "value": "0"}},
		"tests": []any{map[string]any{"name": "lost", "input": map[string]any{"stage": "lost", "probability": 30},
			"expect": map[string]any{"values": map[string]any{"probability": 0}}}}}
	for _, rs := range []map[string]any{validation, computed} {
		if r := rsDo(t, http.MethodPost, "/api/v1/rulesets", rs); r.Status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", rs["key"], r.Status, r.Raw)
		}
		if r := rsDo(t, http.MethodPost, "/api/v1/rulesets/"+rs["key"].(string)+"/publish", nil); r.Status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", rs["key"], r.Status, r.Raw)
		}
	}
	deal := func(stage string, probability int) map[string]any {
		return map[string]any{"name": "Deal " + stage, "stage": stage, "probability": probability,
			"amount": map[string]any{"amount": 1000, "currency": "EUR"}}
	}
	r := recDo(t, http.MethodPost, "/api/v1/records/deal", deal("won", 60))
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Raw), "/probability") || !strings.Contains(string(r.Raw), "a won deal has probability 100") {
		t.Fatalf("won deal at 60%%: %d %s", r.Status, r.Raw)
	}
	r = recDo(t, http.MethodPost, "/api/v1/records/deal", deal("negotiation", 60)).want(t, http.StatusCreated)
	id, _ := r.Body["id"].(string)
	if p := recDo(t, http.MethodPatch, "/api/v1/records/deal/"+id, map[string]any{"stage": "won"}); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("patch to won at 60%%: %d %s", p.Status, p.Raw)
	}
	p := recDo(t, http.MethodPatch, "/api/v1/records/deal/"+id, map[string]any{"stage": "lost"}).want(t, http.StatusOK)
	if v, _ := p.Body["probability"].(float64); v != 0 {
		t.Fatalf("computed probability of a lost deal: %s", p.Raw)
	}
	g := recDo(t, http.MethodGet, "/api/v1/records/deal/"+id, nil).want(t, http.StatusOK)
	if v, _ := g.Body["probability"].(float64); v != 0 {
		t.Fatalf("computed value not stored: %s", g.Raw)
	}
	rsDo(t, http.MethodPost, "/api/v1/rulesets/deal-won-certain/archive", nil)
	rsDo(t, http.MethodPost, "/api/v1/rulesets/deal-lost-zero/archive", nil)
	recDo(t, http.MethodPost, "/api/v1/records/deal", deal("won", 60)).want(t, http.StatusCreated)
}
