package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// secondsScaleComplaintSLA publishes a complaint SLA and settings on a calendar that is always open:
// 10 seconds to resolve, a warning halfway, and a chain of two levels of 9 seconds each. The shipped
// versions are published again when the test ends.
func secondsScaleComplaintSLA(t *testing.T) {
	t.Helper()
	hours := map[string]any{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = []any{map[string]any{"start": "00:00", "end": "24:00"}}
	}
	do(t, "", http.MethodPost, "/api/v1/calendars", map[string]any{"name": "always", "timeZone": "UTC", "hours": hours}, nil, http.StatusCreated)
	t.Cleanup(func() {
		putRuleset(t, "", shipped(t, "complaint-sla"))
		putRuleset(t, "", shipped(t, "complaint-settings"))
	})

	sla := shipped(t, "complaint-sla")
	sla["sla"] = map[string]any{"calendar": "always", "targets": []any{}, "default": map[string]any{"name": "seconds", "response": "1h", "resolution": "10s"}}
	sla["tests"] = []any{map[string]any{"name": "seconds", "now": "2026-03-07T14:30:00Z", "input": map[string]any{"severity": "medium"},
		"expect": map[string]any{"responseDue": "2026-03-07T15:30:00Z", "resolutionDue": "2026-03-07T14:30:10Z"}}}
	putRuleset(t, "", sla)

	settings := shipped(t, "complaint-settings")
	settings["default"] = map[string]any{"calendar": "always", "warnShare": 0.5, "customerWaitDays": 14, "surveyWaitDays": 7,
		"reopenAtOrBelow": 2, "maxReopens": 1, "chain": []any{
			map[string]any{"level": "teamLead", "group": "manager", "hours": 0.0025},
			map[string]any{"level": "headOfService", "group": "head-of-service", "hours": 0.0025}}}
	putRuleset(t, "", settings)
}

// TestComplaintEscalatesAlongTheChainAndPausesForTheCustomer runs a complaint on a seconds-scale SLA:
// the handler is warned before the deadline, the missed deadline escalates to the team leads and then
// to the head of service (the task is offered to each level's group, the handler is told in words),
// and while the complaint waits for the customer's answer the clock stands still; the customer's
// reply starts it again with the time that was left (at least a quarter of an hour).
func TestComplaintEscalatesAlongTheChainAndPausesForTheCustomer(t *testing.T) {
	agent := serviceAgent(t)
	head := newPerson(t, "helen.head@example.test", []string{"agent"}, []string{"head-of-service"})
	secondsScaleComplaintSLA(t)

	rec := create(t, "complaint", map[string]any{"channel": "phone", "subject": "The invoice is wrong", "severity": "medium",
		"customerName": "Ivan Invoice"})
	id := rec["id"].(string)
	inst := instance(t, "complaint-handling", id, 30*time.Second)
	defer env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
	complete(t, agent.token, openTask(t, inst, "Task_Acknowledge", 30*time.Second), nil, http.StatusNoContent)

	eventually(t, "the warning before the deadline", 20*time.Second, func() (bool, string) {
		return notified(t, agent.token, "complaint-sla-warning", id), ""
	})
	rec = waitRecord(t, "complaint", id, 30*time.Second, func(r map[string]any) bool { return r["escalationLevel"] == float64(1) })
	if rec["escalatedTo"] != "teamLead" || rec["escalated"] != true || rec["slaResolutionMet"] != false {
		t.Errorf("first escalation: %+v", rec)
	}
	first := openTask(t, inst, "Task_Resolve", 10*time.Second)
	eventually(t, "the escalation notice", 20*time.Second, func() (bool, string) {
		return notified(t, agent.token, "complaint-escalated", id), ""
	})
	if n := notification(t, agent.token, "complaint-escalated", id); !strings.Contains(n.Body, "escalated to teamLead: the resolution deadline passed") {
		t.Errorf("escalation notice: %q", n.Body)
	}

	rec = waitRecord(t, "complaint", id, 30*time.Second, func(r map[string]any) bool { return r["escalationLevel"] == float64(2) })
	if rec["escalatedTo"] != "headOfService" {
		t.Errorf("second escalation: %+v", rec)
	}
	second := openTask(t, inst, "Task_Resolve", 10*time.Second)
	if first.CandidateGroups[0] != "manager" || second.CandidateGroups[0] != "head-of-service" || second.Assignee != "" {
		t.Errorf("the task went to %v, then to %v (assignee %q); want manager, then head-of-service", first.CandidateGroups, second.CandidateGroups, second.Assignee)
	}

	complete(t, head.token, second, map[string]any{"action": "waitCustomer"}, http.StatusNoContent)
	waitRecord(t, "complaint", id, 20*time.Second, func(r map[string]any) bool { return r["status"] == "waitingCustomer" })
	time.Sleep(12 * time.Second) // longer than a level of the chain: nothing may escalate while the clock stands
	if r := get(t, "complaint", id); r["status"] != "waitingCustomer" || r["escalationLevel"] != float64(2) {
		t.Errorf("while waiting for the customer: status %v, level %v", r["status"], r["escalationLevel"])
	}

	replied := time.Now()
	create(t, "interaction", map[string]any{"type": "email", "direction": "inbound", "occurredAt": replied.UTC().Format(time.RFC3339),
		"complaint": id, "summary": "Here is the right invoice number"})
	rec = waitRecord(t, "complaint", id, 30*time.Second, func(r map[string]any) bool { return r["status"] == "inProgress" })
	due, err := time.Parse(time.RFC3339, rec["resolutionDueAt"].(string))
	if err != nil || due.Before(replied.Add(14*time.Minute)) || due.After(time.Now().Add(16*time.Minute)) {
		t.Errorf("after the reply the complaint is due %v, want a quarter of an hour after %v", rec["resolutionDueAt"], replied)
	}
	if tk := openTask(t, inst, "Task_Resolve", 20*time.Second); tk.CandidateGroups[0] != "head-of-service" {
		t.Errorf("after the reply the task is offered to %v", tk.CandidateGroups)
	}
}
