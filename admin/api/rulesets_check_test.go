package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// problemAt returns the message of the check's problem at pointer, and whether there is one.
func problemAt(r rsResp, pointer string) (string, bool) {
	for _, p := range r.Body["problems"].([]any) {
		if m := p.(map[string]any); m["pointer"] == pointer {
			return m["message"].(string), true
		}
	}
	return "", false
}

// TestRulesetCheck: POST /api/v1/rulesets/check compiles a rule set exactly as saving would and stores
// nothing, so the editor can underline problems at their line and column as the analyst types.
func TestRulesetCheck(t *testing.T) {
	valid := leadScoring("check-valid", 30, 50)
	typo := leadScoring("check-typo", 30, 50)
	typo["rules"].([]any)[1].(map[string]any)["when"] = `sorce == "partner"`
	position := regexp.MustCompile(`^line 1, column \d+: .*sorce`)

	tests := []struct {
		name  string
		body  any
		check func(t *testing.T, r rsResp)
	}{
		{"a valid rule set compiles and names the fields it reads", valid, func(t *testing.T, r rsResp) {
			if r.Body["valid"] != true || len(r.Body["problems"].([]any)) != 0 || !strings.Contains(string(r.Raw), `"fields":["budget","source"]`) {
				t.Errorf("check %s", r.Raw)
			}
		}},
		{"a typo is reported at its rule, line and column", typo, func(t *testing.T, r rsResp) {
			if r.Body["valid"] != false {
				t.Fatalf("check %s", r.Raw)
			}
			msg, ok := problemAt(r, "/rules/1/when")
			if !ok || !position.MatchString(msg) {
				t.Errorf("problem at /rules/1/when = %q (%v) in %s", msg, ok, r.Raw)
			}
		}},
		{"an unknown kind is named", map[string]any{"key": "check-kind", "kind": "astrology", "entity": "lead"}, func(t *testing.T, r rsResp) {
			if msg, ok := problemAt(r, "/kind"); !ok || !strings.Contains(msg, "astrology") {
				t.Errorf("check %s", r.Raw)
			}
		}},
		{"an unknown entity is named", map[string]any{"key": "check-entity", "kind": "scoring", "entity": "nosuch", "rules": []any{}}, func(t *testing.T, r rsResp) {
			if _, ok := problemAt(r, "/entity"); !ok || r.Body["valid"] != false {
				t.Errorf("check %s", r.Raw)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rsDo(t, http.MethodPost, "/api/v1/rulesets/check", tc.body)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Raw)
			}
			tc.check(t, r)
		})
	}
	t.Run("nothing is stored", func(t *testing.T) {
		if r := rsDo(t, http.MethodGet, "/api/v1/rulesets/check-valid", nil); r.Status != http.StatusNotFound {
			t.Fatalf("after a check GET says %d: %s", r.Status, r.Raw)
		}
	})
	t.Run("needs rulesets.write", func(t *testing.T) {
		_, viewer := newUser(t, "check-viewer@example.test", []string{"viewer"}, nil)
		mustStatus(t, http.StatusForbidden, http.MethodPost, "/api/v1/rulesets/check", viewer, valid, nil)
	})
}
