package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// rsResp is a decoded response of the rule set API.
type rsResp struct{ stacktest.Response }

// rsDo sends a request as the administrator; headers come in name, value pairs.
func rsDo(t testing.TB, method, path string, body any, headers ...string) rsResp {
	t.Helper()
	return rsResp{env.Call(t, method, path, env.AdminToken, body, headers...)}
}

// at reads a value by a slash-separated path of keys and list indexes, e.g. "whatIf/records/0/draft".
func (r rsResp) at(path string) any {
	var cur any = r.Body
	for _, part := range strings.Split(path, "/") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// errorAt returns the message of the problem's error at pointer, and whether there is one.
func (r rsResp) errorAt(pointer string) (string, bool) {
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		if m["pointer"] == pointer {
			msg, _ := m["message"].(string)
			return msg, true
		}
	}
	return "", false
}

func leadScoring(key string, bigPoints, expectScore float64) map[string]any {
	return map[string]any{
		"key": key, "kind": "scoring", "entity": "lead",
		"rules": []any{
			map[string]any{"name": "big budget", "when": "budget.amount > 1000000", "points": bigPoints},
			map[string]any{"name": "partner", "when": `source == "partner"`, "points": 20},
		},
		"tests": []any{map[string]any{
			"name":   "big partner lead",
			"input":  map[string]any{"budget": map[string]any{"amount": 2000000, "currency": "EUR"}, "source": "partner"},
			"expect": map[string]any{"score": expectScore},
		}},
	}
}

type rsStep struct {
	name    string
	method  string
	path    string
	body    any
	headers []string
	status  int
	check   func(t *testing.T, r rsResp)
}

func runSteps(t *testing.T, steps []rsStep) {
	t.Helper()
	for _, st := range steps {
		r := rsDo(t, st.method, st.path, st.body, st.headers...)
		if r.Status != st.status {
			t.Fatalf("%s: %s %s: status %d, want %d: %s", st.name, st.method, st.path, r.Status, st.status, r.Raw)
		}
		if st.check != nil {
			t.Run(st.name, func(t *testing.T) { st.check(t, r) })
		}
	}
}

func wantEqual(t *testing.T, r rsResp, path string, want any) {
	t.Helper()
	got := r.at(path)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v in %s", path, got, want, r.Raw)
	}
}

func TestRulesetsLifecycle(t *testing.T) {
	key := fmt.Sprintf("lead-score-%d", time.Now().UnixNano()%1_000_000)
	base := "/api/v1/rulesets/" + key
	// Two leads: one the draft's higher points change, one it does not.
	for _, lead := range []map[string]any{
		{"source": "partner", "name": "Big partner", "status": "new", "budget": map[string]any{"amount": 5000000, "currency": "EUR"}},
		{"source": "call", "name": "Small caller", "status": "new", "budget": map[string]any{"amount": 1000, "currency": "EUR"}},
	} {
		if r := rsDo(t, http.MethodPost, "/api/v1/records/lead", lead); r.Status != http.StatusCreated {
			t.Fatalf("create lead: %d %s", r.Status, r.Raw)
		}
	}
	var v1Hash string
	runSteps(t, []rsStep{
		{"create", http.MethodPost, "/api/v1/rulesets", leadScoring(key, 30, 50), nil, http.StatusCreated, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "revision", 1)
			wantEqual(t, r, "latestVersion", 0)
			wantEqual(t, r, "fields", "[budget source]")
			if r.Header.Get("ETag") != `"1"` {
				t.Errorf("ETag %q", r.Header.Get("ETag"))
			}
		}},
		{"evaluate before publishing", http.MethodPost, base + "/evaluate", map[string]any{"record": map[string]any{}}, nil, http.StatusConflict, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "type", "https://rapport.dev/problems/not-published")
		}},
		{"publish v1", http.MethodPost, base + "/publish", map[string]any{"note": "first"}, []string{"If-Match", `"1"`}, http.StatusCreated, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "version", 1)
			if by, _ := r.at("publishedBy").(string); by == "" {
				t.Errorf("no publisher: %s", r.Raw)
			}
			wantEqual(t, r, "tests/passed", 1)
			v1Hash, _ = r.at("hash").(string)
			if !strings.HasPrefix(v1Hash, "sha256:") {
				t.Errorf("hash %q", v1Hash)
			}
		}},
		{"publish unchanged", http.MethodPost, base + "/publish", nil, nil, http.StatusConflict, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "type", "https://rapport.dev/problems/unchanged")
		}},
		{"update draft", http.MethodPut, base, leadScoring(key, 40, 60), []string{"If-Match", `"1"`}, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "revision", 2)
			wantEqual(t, r, "published", false)
			wantEqual(t, r, "draft/rules/0/points", 40)
		}},
		{"stale update", http.MethodPut, base, leadScoring(key, 45, 65), []string{"If-Match", `"1"`}, http.StatusPreconditionFailed, nil},
		{"version 1 unchanged", http.MethodGet, base + "/versions/1", nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "ruleSet/rules/0/points", 30)
			wantEqual(t, r, "hash", v1Hash)
		}},
		{"diff v1 to draft", http.MethodGet, base + "/diff?from=1&to=draft", nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			if !strings.Contains(string(r.Raw), "points") {
				t.Errorf("diff does not mention points: %s", r.Raw)
			}
		}},
		{"test bench", http.MethodPost, base + "/test", map[string]any{
			"record": map[string]any{"budget": map[string]any{"amount": 3000000, "currency": "EUR"}, "source": "web"},
			"last":   50, "tests": true,
		}, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "sample/result/score", 40)
			wantEqual(t, r, "sample/outcome/fired/0/name", "big budget")
			wantEqual(t, r, "tests/passed", 1)
			wantEqual(t, r, "whatIf/publishedVersion", 1)
			total, _ := r.at("whatIf/total").(float64)
			changed, _ := r.at("whatIf/changed").(float64)
			// At least the big partner lead changes (50 → 60); the small caller (0 → 0) does not.
			if total < 2 || changed < 1 || changed >= total {
				t.Errorf("what-if total %v changed %v: %s", total, changed, r.Raw)
			}
			if s, _ := r.at("whatIf/summary").([]any); len(s) == 0 {
				t.Errorf("no what-if summary: %s", r.Raw)
			}
		}},
		{"publish v2", http.MethodPost, base + "/publish", nil, []string{"If-Match", `"2"`}, http.StatusCreated, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "version", 2)
		}},
		{"get with versions", http.MethodGet, base, nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "latestVersion", 2)
			wantEqual(t, r, "versions/0/version", 2)
			wantEqual(t, r, "versions/1/version", 1)
			wantEqual(t, r, "versions/1/note", "first")
			wantEqual(t, r, "published", true)
		}},
		{"evaluate latest", http.MethodPost, base + "/evaluate", map[string]any{
			"record": map[string]any{"budget": map[string]any{"amount": 2000000, "currency": "EUR"}, "source": "partner"}},
			nil, http.StatusOK, func(t *testing.T, r rsResp) {
				wantEqual(t, r, "version", 2)
				wantEqual(t, r, "result/score", 60)
			}},
		{"evaluate pinned", http.MethodPost, base + "/evaluate", map[string]any{"version": 1,
			"record": map[string]any{"budget": map[string]any{"amount": 2000000, "currency": "EUR"}, "source": "partner"}},
			nil, http.StatusOK, func(t *testing.T, r rsResp) {
				wantEqual(t, r, "version", 1)
				wantEqual(t, r, "hash", v1Hash)
				wantEqual(t, r, "result/score", 50)
			}},
		{"evaluate missing version", http.MethodPost, base + "/evaluate", map[string]any{"version": 9, "record": map[string]any{}}, nil, http.StatusNotFound, nil},
		{"published versions cannot be changed", http.MethodPut, base + "/versions/1", leadScoring(key, 1, 21), nil, http.StatusMethodNotAllowed, nil},
		{"published versions cannot be deleted", http.MethodDelete, base + "/versions/1", nil, nil, http.StatusMethodNotAllowed, nil},
		{"archive", http.MethodPost, base + "/archive", nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "archived", true)
		}},
		{"update archived", http.MethodPut, base, leadScoring(key, 41, 61), nil, http.StatusConflict, nil},
		{"evaluate archived", http.MethodPost, base + "/evaluate", map[string]any{"record": map[string]any{}}, nil, http.StatusConflict, nil},
		{"archived still readable", http.MethodGet, base + "/versions/2", nil, nil, http.StatusOK, nil},
		{"hidden from the list", http.MethodGet, "/api/v1/rulesets?entity=lead", nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			if strings.Contains(string(r.Raw), `"key":"`+key+`"`) {
				t.Errorf("archived rule set listed: %s", r.Raw)
			}
		}},
		{"listed when asked", http.MethodGet, "/api/v1/rulesets?entity=lead&archived=true", nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			if !strings.Contains(string(r.Raw), `"key":"`+key+`"`) {
				t.Errorf("archived rule set not listed: %s", r.Raw)
			}
		}},
	})
	// Every change and publish is audited.
	for action, want := range map[string]int64{"ruleset.create": 1, "ruleset.update": 1, "ruleset.publish": 2, "ruleset.archive": 1} {
		n, err := env.DB.Collection("audit_log").CountDocuments(context.Background(),
			bson.D{{Key: "action", Value: action}, {Key: "target.id", Value: key}, {Key: "outcome", Value: "success"}})
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%d %s audit entries, want %d", n, action, want)
		}
	}
}

func TestRulesetsRefusals(t *testing.T) {
	key := fmt.Sprintf("refuse-%d", time.Now().UnixNano()%1_000_000)
	if r := rsDo(t, http.MethodPost, "/api/v1/rulesets", leadScoring(key, 30, 50)); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	// A draft whose saved test fails, and one without tests.
	failing := key + "-failing"
	if r := rsDo(t, http.MethodPost, "/api/v1/rulesets", leadScoring(failing, 30, 99)); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	untested := leadScoring(key+"-untested", 30, 50)
	delete(untested, "tests")
	if r := rsDo(t, http.MethodPost, "/api/v1/rulesets", untested); r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Raw)
	}
	with := func(mut func(m map[string]any)) map[string]any {
		m := leadScoring(key+"-new", 30, 50)
		mut(m)
		return m
	}
	setWhen := func(i int, when string) func(m map[string]any) {
		return func(m map[string]any) { m["rules"].([]any)[i].(map[string]any)["when"] = when }
	}
	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		status   int
		pointer  string
		contains string
	}{
		{"syntax error", http.MethodPost, "/api/v1/rulesets", with(setWhen(1, "source == ")), 422, "/rules/1/when", "line 1, column"},
		{"unknown field", http.MethodPost, "/api/v1/rulesets", with(setWhen(0, "budget.amount > 1 && sauce == 2")), 422, "/rules/0/when", "column"},
		{"type mismatch", http.MethodPost, "/api/v1/rulesets", with(setWhen(1, `source > 5`)), 422, "/rules/1/when", "line 1"},
		{"unknown entity", http.MethodPost, "/api/v1/rulesets", with(func(m map[string]any) { m["entity"] = "spaceship" }), 422, "/entity", "spaceship"},
		{"misspelt property", http.MethodPost, "/api/v1/rulesets", with(func(m map[string]any) { m["rulez"] = []any{} }), 422, "", ""},
		{"duplicate key", http.MethodPost, "/api/v1/rulesets", leadScoring(key, 30, 50), 409, "", "exists"},
		{"kind change", http.MethodPut, "/api/v1/rulesets/" + key, func() map[string]any {
			m := leadScoring(key, 30, 50)
			m["kind"] = "validation"
			return m
		}(), 422, "/kind", "scoring"},
		{"key mismatch", http.MethodPut, "/api/v1/rulesets/" + key, leadScoring(key+"-other", 30, 50), 422, "/key", key},
		{"failing test", http.MethodPost, "/api/v1/rulesets/" + failing + "/publish", nil, 422, "/tests/0", "big partner lead"},
		{"no tests", http.MethodPost, "/api/v1/rulesets/" + key + "-untested/publish", nil, 422, "/tests", "at least one"},
		{"missing rule set", http.MethodGet, "/api/v1/rulesets/nothing-here", nil, 404, "", ""},
		{"missing version", http.MethodGet, "/api/v1/rulesets/" + key + "/versions/4", nil, 404, "", ""},
		{"bad diff version", http.MethodGet, "/api/v1/rulesets/" + key + "/diff?from=first", nil, 422, "", ""},
		{"nothing to test", http.MethodPost, "/api/v1/rulesets/" + key + "/test", map[string]any{}, 422, "/record", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rsDo(t, tt.method, tt.path, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Raw)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("content type %q", ct)
			}
			if tt.pointer != "" {
				msg, ok := r.errorAt(tt.pointer)
				if !ok {
					t.Fatalf("no error at %s: %s", tt.pointer, r.Raw)
				}
				if !strings.Contains(msg, tt.contains) {
					t.Errorf("message %q does not contain %q", msg, tt.contains)
				}
			} else if tt.contains != "" && !strings.Contains(string(r.Raw), tt.contains) {
				t.Errorf("%s does not contain %q", r.Raw, tt.contains)
			}
		})
	}
	// Nothing refused above was saved or published.
	r := rsDo(t, http.MethodGet, "/api/v1/rulesets/"+failing, nil)
	if r.Status != http.StatusOK || r.at("latestVersion") != float64(0) {
		t.Fatalf("failing rule set after refusal: %d %s", r.Status, r.Raw)
	}
	if r := rsDo(t, http.MethodGet, "/api/v1/rulesets/"+key+"-new", nil); r.Status != http.StatusNotFound {
		t.Fatalf("refused rule set was saved: %d %s", r.Status, r.Raw)
	}
}

func TestCalendarsAndSLA(t *testing.T) {
	suffix := fmt.Sprint(time.Now().UnixNano() % 1_000_000)
	name := "support" + suffix
	cal := map[string]any{"name": name, "timeZone": "Europe/Berlin",
		"hours": map[string]any{
			"mon": []any{map[string]any{"start": "09:00", "end": "17:00"}},
			"tue": []any{map[string]any{"start": "09:00", "end": "17:00"}},
			"wed": []any{map[string]any{"start": "09:00", "end": "17:00"}},
		},
		"holidays": []any{"2026-03-03"}}
	sla := map[string]any{"key": "complaint-sla-" + suffix, "kind": "sla", "entity": "complaint",
		"sla": map[string]any{"calendar": name, "targets": []any{
			map[string]any{"name": "critical", "when": `severity == "critical"`, "response": "4h"}},
			"default": map[string]any{"name": "standard", "response": "16h"}}}
	broken := map[string]any{"name": "broken" + suffix, "timeZone": "Mars/Olympus", "hours": map[string]any{}}
	runSteps(t, []rsStep{
		{"create", http.MethodPost, "/api/v1/calendars", cal, nil, http.StatusCreated, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "revision", 1)
			wantEqual(t, r, "timeZone", "Europe/Berlin")
		}},
		{"duplicate", http.MethodPost, "/api/v1/calendars", cal, nil, http.StatusConflict, nil},
		{"invalid zone", http.MethodPost, "/api/v1/calendars", broken, nil, http.StatusUnprocessableEntity, nil},
		{"get", http.MethodGet, "/api/v1/calendars/" + name, nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "holidays/0", "2026-03-03")
		}},
		{"sla rule set", http.MethodPost, "/api/v1/rulesets", sla, nil, http.StatusCreated, nil},
		// Monday 16:00 Berlin + 4 business hours: 1h on Monday, Tuesday is a holiday, 3h on Wednesday.
		{"business time across a holiday", http.MethodPost, "/api/v1/rulesets/complaint-sla-" + suffix + "/test", map[string]any{
			"record": map[string]any{"severity": "critical"}, "now": "2026-03-02T15:00:00Z"}, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "sample/result/target", "critical")
			wantEqual(t, r, "sample/result/responseDue", "2026-03-04T11:00:00Z")
		}},
		{"stale update", http.MethodPut, "/api/v1/calendars/" + name, cal, []string{"If-Match", `"7"`}, http.StatusPreconditionFailed, nil},
		{"update", http.MethodPut, "/api/v1/calendars/" + name, func() map[string]any {
			c := map[string]any{}
			for k, v := range cal {
				c[k] = v
			}
			c["holidays"] = []any{}
			return c
		}(), []string{"If-Match", `"1"`}, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "revision", 2)
		}},
		{"new hours apply", http.MethodPost, "/api/v1/rulesets/complaint-sla-" + suffix + "/test", map[string]any{
			"record": map[string]any{"severity": "critical"}, "now": "2026-03-02T15:00:00Z"}, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			wantEqual(t, r, "sample/result/responseDue", "2026-03-03T11:00:00Z")
		}},
		{"delete in use", http.MethodDelete, "/api/v1/calendars/" + name, nil, nil, http.StatusConflict, nil},
		{"unknown calendar in a rule set", http.MethodPost, "/api/v1/rulesets", func() map[string]any {
			m := map[string]any{"key": "complaint-sla-x" + suffix, "kind": "sla", "entity": "complaint",
				"sla": map[string]any{"calendar": "nowhere", "targets": []any{map[string]any{"name": "all", "response": "1h"}}}}
			return m
		}(), nil, http.StatusUnprocessableEntity, nil},
		{"list", http.MethodGet, "/api/v1/calendars", nil, nil, http.StatusOK, func(t *testing.T, r rsResp) {
			if !strings.Contains(string(r.Raw), `"name":"`+name+`"`) {
				t.Errorf("calendar not listed: %s", r.Raw)
			}
		}},
	})
	// A calendar nothing uses can be deleted.
	spare := map[string]any{"name": "spare" + suffix, "timeZone": "UTC", "hours": map[string]any{"mon": []any{map[string]any{"start": "00:00", "end": "24:00"}}}}
	runSteps(t, []rsStep{
		{"create spare", http.MethodPost, "/api/v1/calendars", spare, nil, http.StatusCreated, nil},
		{"delete spare", http.MethodDelete, "/api/v1/calendars/spare" + suffix, nil, nil, http.StatusNoContent, nil},
		{"gone", http.MethodGet, "/api/v1/calendars/spare" + suffix, nil, nil, http.StatusNotFound, nil},
	})
}

func TestRulesetsOpenAPI(t *testing.T) {
	r := rsDo(t, http.MethodGet, "/api/openapi.json", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("openapi: %d", r.Status)
	}
	tests := []struct {
		path, method string
		body         bool
	}{
		{"/api/v1/rulesets", "get", false},
		{"/api/v1/rulesets", "post", true},
		{"/api/v1/rulesets/{key}", "get", false},
		{"/api/v1/rulesets/{key}", "put", true},
		{"/api/v1/rulesets/{key}/versions/{version}", "get", false},
		{"/api/v1/rulesets/{key}/diff", "get", false},
		{"/api/v1/rulesets/{key}/test", "post", true},
		{"/api/v1/rulesets/{key}/publish", "post", true},
		{"/api/v1/rulesets/{key}/archive", "post", false},
		{"/api/v1/rulesets/{key}/evaluate", "post", true},
		{"/api/v1/calendars", "get", false},
		{"/api/v1/calendars", "post", true},
		{"/api/v1/calendars/{name}", "get", false},
		{"/api/v1/calendars/{name}", "put", true},
		{"/api/v1/calendars/{name}", "delete", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			op, ok := lookupOp(r.Body, tt.path, tt.method)
			if !ok {
				t.Fatalf("operation missing")
			}
			if op["x-permission"] == nil || op["x-permission"] == "public" {
				t.Errorf("x-permission %v", op["x-permission"])
			}
			if tt.body && op["requestBody"] == nil {
				t.Errorf("no request body")
			}
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("no responses")
			}
		})
	}
	schemas, _ := r.at("components/schemas").(map[string]any)
	for _, name := range []string{"RuleSet", "RuleSetRule", "RuleDecisionTable", "RuleOutcome", "RulesetVersion", "BusinessCalendar"} {
		if schemas[name] == nil {
			t.Errorf("schema %s missing", name)
		}
	}
}

func lookupOp(doc map[string]any, path, method string) (map[string]any, bool) {
	paths, _ := doc["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	op, ok := item[method].(map[string]any)
	return op, ok
}

// TestRulesetsEvaluateKinds publishes one rule set of several kinds and evaluates each through the
// integration endpoint.
func TestRulesetsEvaluateKinds(t *testing.T) {
	suffix := fmt.Sprint(time.Now().UnixNano() % 1_000_000)
	partner := map[string]any{"source": "partner", "budget": map[string]any{"amount": 200000, "currency": "EUR"}}
	tests := []struct {
		name    string
		ruleset map[string]any
		body    map[string]any
		want    map[string]any
	}{
		{"validation", map[string]any{"kind": "validation", "rules": []any{
			map[string]any{"name": "budget needed", "when": `source == "partner" && budget.amount < 1000`, "message": "partners need a budget", "field": "budget"}}},
			map[string]any{"record": map[string]any{"source": "partner", "budget": map[string]any{"amount": 10, "currency": "EUR"}}},
			map[string]any{"result/valid": false, "result/messages/0": "partners need a budget"}},
		{"decision", map[string]any{"kind": "decision", "default": false, "rules": []any{
			map[string]any{"name": "qualified", "when": `budget.amount >= 50000`, "outcome": true}}},
			map[string]any{"record": partner},
			map[string]any{"result/outcome": true, "result/matched/0": "qualified"}},
		{"decision table", map[string]any{"kind": "decision_table", "table": map[string]any{
			"hitPolicy": "FIRST",
			"inputs": []any{map[string]any{"name": "source", "expression": "source", "type": "string"},
				map[string]any{"name": "budget", "expression": "budget.amount", "type": "float"}},
			"outputs": []any{map[string]any{"name": "tier", "type": "string"}},
			"rows": []any{map[string]any{"inputs": []any{`"partner"`, "> 100000"}, "outputs": []any{"gold"}},
				map[string]any{"inputs": []any{"-", "-"}, "outputs": []any{"standard"}}}}},
			map[string]any{"record": partner},
			map[string]any{"result/output": "gold", "result/rows/0": 1}},
		{"assignment", map[string]any{"kind": "assignment", "assignment": map[string]any{"routes": []any{
			map[string]any{"name": "partners", "when": `source == "partner"`, "team": "partners", "strategy": "least_loaded"}},
			"default": map[string]any{"name": "rest", "queue": "unassigned"}}},
			map[string]any{"record": partner, "context": map[string]any{"teams": map[string]any{"partners": []any{
				map[string]any{"id": "u1", "openWork": 5}, map[string]any{"id": "u2", "openWork": 1},
				map[string]any{"id": "u3", "unavailable": true}}}}},
			map[string]any{"result/route": "partners", "result/assignee": "u2", "outcome/assignment/team": "partners"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := strings.ReplaceAll(tt.name, " ", "-") + "-" + suffix
			rs := map[string]any{"key": key, "entity": "lead"}
			for k, v := range tt.ruleset {
				rs[k] = v
			}
			// The saved test case expects exactly what the evaluation below must return.
			expect := map[string]any{}
			for path, v := range tt.want {
				if rest, ok := strings.CutPrefix(path, "result/"); ok && !strings.Contains(rest, "/") {
					expect[rest] = v
				}
			}
			tc := map[string]any{"name": "sample", "input": tt.body["record"], "expect": expect}
			if c, ok := tt.body["context"]; ok {
				tc["context"] = c
			}
			rs["tests"] = []any{tc}
			if r := rsDo(t, http.MethodPost, "/api/v1/rulesets", rs); r.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			// Published validation rule sets apply to every lead written; archive this one afterwards so
			// other tests' leads are not judged by it.
			t.Cleanup(func() { rsDo(t, http.MethodPost, "/api/v1/rulesets/"+key+"/archive", nil) })
			if r := rsDo(t, http.MethodPost, "/api/v1/rulesets/"+key+"/publish", nil); r.Status != http.StatusCreated {
				t.Fatalf("publish: %d %s", r.Status, r.Raw)
			}
			r := rsDo(t, http.MethodPost, "/api/v1/rulesets/"+key+"/evaluate", tt.body)
			if r.Status != http.StatusOK {
				t.Fatalf("evaluate: %d %s", r.Status, r.Raw)
			}
			for path, want := range tt.want {
				wantEqual(t, r, path, want)
			}
		})
	}
}
