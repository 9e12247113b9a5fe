package e2e_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/rules/calendar"
)

// putRuleset saves a rule set's draft as token's user and publishes it.
func putRuleset(t *testing.T, token string, rs map[string]any) {
	t.Helper()
	key := rs["key"].(string)
	do(t, token, http.MethodPut, "/api/v1/rulesets/"+key, rs, nil, http.StatusOK)
	if token == "" {
		token = env.AdminToken
	}
	if r := env.Call(t, http.MethodPost, "/api/v1/rulesets/"+key+"/publish", token, nil); r.Status != http.StatusCreated && r.Status != http.StatusConflict {
		t.Fatalf("publish %s: %d %s", key, r.Status, r.Raw)
	}
}

// shipped reads a default rule set as Rapport ships it.
func shipped(t *testing.T, key string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../rules/" + key + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var rs map[string]any
	if err := json.Unmarshal(raw, &rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

func leadSLA(calendarName, response, resolution string, tests []any) map[string]any {
	return map[string]any{"key": "lead-sla", "kind": "sla", "entity": "lead",
		"sla":   map[string]any{"calendar": calendarName, "targets": []any{}, "default": map[string]any{"name": "every lead", "response": response, "resolution": resolution}},
		"tests": tests}
}

func leadSettings(t *testing.T, routeAbove float64) map[string]any {
	rs := shipped(t, "lead-qualification-settings")
	table := rs["table"].(map[string]any)
	row := table["rows"].([]any)[0].(map[string]any)
	row["outputs"].([]any)[0] = routeAbove
	tc := rs["tests"].([]any)[0].(map[string]any)
	tc["expect"].(map[string]any)["output"].(map[string]any)["routeAbove"] = routeAbove
	return rs
}

func dueOf(t *testing.T, rec map[string]any) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC3339, rec["qualifyDueAt"].(string))
	if err != nil {
		t.Fatalf("qualifyDueAt of %v: %v", rec["id"], err)
	}
	return d
}

// TestAnalystChangesSLAAndThreshold: an analyst moves the Qualify SLA from 2 to 4 business hours and
// lowers the score that sends a lead straight to an owner, through the API, and publishes. A lead
// already in qualification keeps its deadline and its route; a new lead gets the new ones.
func TestAnalystChangesSLAAndThreshold(t *testing.T) {
	salesAgent(t)
	analyst := newPerson(t, "anya.analyst@example.test", []string{"analyst"}, nil)
	defer putRuleset(t, "", shipped(t, "lead-sla"))
	defer putRuleset(t, "", shipped(t, "lead-qualification-settings"))
	middle := func(name string) map[string]any { // 25 points: buys within a month, a phone, a need
		return map[string]any{"source": "api", "name": name, "timeline": "month", "phone": "+7916" + time.Now().Format("0405000"), "need": "Quote"}
	}
	before := create(t, "lead", middle("Boris Before"))
	b := waitRecord(t, "lead", before["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["qualifyDueAt"] != nil })
	bSeen := time.Now()

	calRaw, err := os.ReadFile("../calendars/sales.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec calendar.Spec
	if err := json.Unmarshal(calRaw, &spec); err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	putRuleset(t, analyst.token, leadSLA("sales", "2h", "4h", []any{map[string]any{"name": "late on Friday", "now": "2025-03-07T14:30:00Z",
		"input": map[string]any{"source": "webForm"}, "expect": map[string]any{"resolutionDue": "2025-03-10T09:30:00Z"}}}))
	putRuleset(t, analyst.token, leadSettings(t, 25))

	after := create(t, "lead", middle("Alla After"))
	a := waitRecord(t, "lead", after["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["status"] == "converted" })
	aSeen := time.Now()
	// A deadline is counted from when the process computed it: after the lead was created, before the
	// test saw it (on a loaded machine that can be many seconds, never an hour).
	within := func(got time.Time, from, to time.Time, d time.Duration) bool {
		lo, _ := cal.AddBusinessDuration(from.Add(-time.Second), d)
		hi, _ := cal.AddBusinessDuration(to, d)
		return !got.Before(lo) && !got.After(hi)
	}
	created, _ := time.Parse(time.RFC3339, a["createdAt"].(string))
	if got := dueOf(t, a); !within(got, created, aSeen, 4*time.Hour) {
		t.Errorf("the new lead is due %v, want 4 business hours after it came (%v to %v)", got, created, aSeen)
	}
	createdB, _ := time.Parse(time.RFC3339, b["createdAt"].(string))
	b = get(t, "lead", before["id"].(string))
	if got := dueOf(t, b); !within(got, createdB, bSeen, 2*time.Hour) || b["status"] != "contacted" {
		t.Errorf("the earlier lead is due %v (want 2 business hours after %v to %v) and %v (want contacted, still qualifying)", got, createdB, bSeen, b["status"])
	}
	inst := instance(t, "lead-qualification", before["id"].(string), 10*time.Second)
	openTask(t, inst, "Task_Qualify", 10*time.Second)
}

// TestQualifySLARemindsThenEscalates runs the Qualify task with a seconds-scale SLA: the owner is
// reminded (non-interrupting), then the team lead reassigns (interrupting); the new owner's
// disqualification without a reason is asked again, with one it disqualifies the lead.
func TestQualifySLARemindsThenEscalates(t *testing.T) {
	agent := salesAgent(t)
	second := newPerson(t, "sam.second@example.test", []string{"agent"}, nil)
	defer putRuleset(t, "", shipped(t, "lead-sla"))
	putRuleset(t, "", leadSLA("", "2s", "8s", []any{map[string]any{"name": "seconds", "now": "2025-03-07T14:30:00Z",
		"input": map[string]any{"source": "webForm"}, "expect": map[string]any{"resolutionDue": "2025-03-07T14:30:08Z"}}}))

	lead := create(t, "lead", map[string]any{"source": "api", "name": "Sofia SLA", "timeline": "month", "phone": "+79165550001", "need": "Quote"})
	id := lead["id"].(string)
	inst := instance(t, "lead-qualification", id, 30*time.Second)
	q := openTask(t, inst, "Task_Qualify", 30*time.Second)
	if q.Assignee != agent.ID {
		t.Fatalf("Qualify is assigned to %q, want the sales agent", q.Assignee)
	}
	eventually(t, "the reminder", 20*time.Second, func() (bool, string) { return notified(t, agent.token, "lead-qualify-reminder", id), "" })
	r := openTask(t, inst, "Task_Reassign", 30*time.Second)
	if len(r.CandidateGroups) != 1 || r.CandidateGroups[0] != "manager" {
		t.Errorf("Reassign is offered to %v, want the manager group", r.CandidateGroups)
	}
	complete(t, env.AdminToken, r, map[string]any{"newOwner": second.ID}, http.StatusNoContent)
	waitRecord(t, "lead", id, 20*time.Second, func(rec map[string]any) bool { return rec["owner"] == second.ID })
	q = openTask(t, inst, "Task_Qualify", 20*time.Second)
	if q.Assignee != second.ID {
		t.Fatalf("after the reassignment Qualify is assigned to %q, want %s", q.Assignee, second.ID)
	}
	complete(t, second.token, q, map[string]any{"outcome": "disqualified"}, http.StatusNoContent)
	q = openTask(t, inst, "Task_Qualify", 20*time.Second)
	complete(t, second.token, q, map[string]any{"outcome": "disqualified", "reason": "noNeed"}, http.StatusNoContent)
	rec := waitRecord(t, "lead", id, 20*time.Second, func(rec map[string]any) bool { return rec["status"] == "disqualified" })
	if rec["disqualificationReason"] != "noNeed" || rec["nurtureUntil"] == nil {
		t.Errorf("lead: %+v", rec)
	}
}
