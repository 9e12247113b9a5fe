package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/workflows/process"
)

// TestQualifySLAAcrossAHolidayAndAWeekend runs the shipped lead-qualification template, with the stack's
// real task handlers and run-as guard, in Temporal's time-skipping test environment. The lead SLA uses
// a calendar in which today and tomorrow are holidays and the two days after are the weekend, so a lead
// arriving now with a 1h/2h SLA is reminded at 10:00 and escalated at 11:00 on the fourth day — whatever
// day and hour the test runs. The instance's history (in workflow time) shows both timers fire then and
// not before.
func TestQualifySLAAcrossAHolidayAndAWeekend(t *testing.T) {
	agent := salesAgent(t)
	start := time.Now().UTC()
	day := func(n int) time.Time {
		return time.Date(start.Year(), start.Month(), start.Day()+n, 0, 0, 0, 0, time.UTC)
	}
	hours := map[string]any{}
	names := []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	for n := range 7 {
		if n == 2 || n == 3 { // the weekend
			continue
		}
		hours[names[day(n).Weekday()]] = []any{map[string]any{"start": "09:00", "end": "18:00"}}
	}
	holidays := []any{day(0).Format(time.DateOnly), day(1).Format(time.DateOnly)}
	do(t, "", http.MethodPost, "/api/v1/calendars", map[string]any{"name": "skip-test", "timeZone": "UTC", "hours": hours, "holidays": holidays},
		nil, http.StatusCreated) // it stays: published rule set versions name it
	defer putRuleset(t, "", shipped(t, "lead-sla"))
	reminder, escalation := day(4).Add(10*time.Hour), day(4).Add(11*time.Hour)
	putRuleset(t, "", leadSLA("skip-test", "1h", "2h", []any{map[string]any{"name": "from the holiday to the fourth day", "now": start.Format(time.RFC3339),
		"input": map[string]any{"source": "api"}, "expect": map[string]any{"responseDue": reminder.Format(time.RFC3339), "resolutionDue": escalation.Format(time.RFC3339)}}}))

	lead := create(t, "lead", map[string]any{"source": "api", "name": "Hanna Holiday", "timeline": "month", "phone": "+79165550077", "need": "Quote"})
	id := lead["id"].(string)
	tenv, input := virtual(t, start, "lead-qualification", "Start_LeadCreated", "lead", id, lead)
	var before, after process.Snapshot
	query := func(into *process.Snapshot) {
		v, err := tenv.QueryWorkflow(process.QueryState)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		v.Get(into)
	}
	tenv.RegisterDelayedCallback(func() { query(&before) }, day(4).Add(9*time.Hour+50*time.Minute).Sub(start))
	tenv.RegisterDelayedCallback(func() { query(&after); tenv.CancelWorkflow() }, day(4).Add(12*time.Hour).Sub(start))
	tenv.ExecuteWorkflow(process.WorkflowName, input)

	if _, ok := entered(before, "Task_Qualify"); !ok {
		t.Fatalf("Qualify never opened; incidents %+v", before.Incidents)
	}
	for _, el := range []string{"Task_Remind", "Task_Reassign"} {
		if at, ok := entered(before, el); ok {
			t.Errorf("%s ran at %v, before the fourth day's working hours", el, at)
		}
	}
	if at, ok := entered(after, "Task_Remind"); !ok || !at.Equal(reminder) {
		t.Errorf("the reminder ran at %v (%v), want %v", at, ok, reminder)
	}
	if at, ok := entered(after, "Task_Reassign"); !ok || !at.Equal(escalation) {
		t.Errorf("the escalation ran at %v (%v), want %v", at, ok, escalation)
	}
	if rec := get(t, "lead", id); rec["owner"] != agent.ID || rec["qualifyDueAt"] != escalation.Format(time.RFC3339) {
		t.Errorf("lead: owner %v (want %s), due %v (want %v)", rec["owner"], agent.ID, rec["qualifyDueAt"], escalation)
	}
}

// virtual ends the instance the stack started for a record (it would wait days of real time) and
// prepares the same published version in Temporal's time-skipping test environment, starting at start,
// with the stack's task handlers and run-as guard; the caller registers callbacks and executes it.
func virtual(t *testing.T, start time.Time, key, startElement, entity, id string, rec map[string]any) (*testsuite.TestWorkflowEnvironment, process.Input) {
	t.Helper()
	ctx := context.Background()
	live := instance(t, key, id, 30*time.Second)
	if err := env.Temporal.TerminateWorkflow(ctx, live, "", "the test runs this record under virtual time"); err != nil {
		t.Fatal(err)
	}
	// The live instance may have written to the record before it ended (a complaint's category, say):
	// the virtual one starts from the record as stored now, as its rules read it, not from the create's
	// answer.
	rec = get(t, entity, id)
	model, version, err := env.Stack.Processes.Load(ctx, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	prepared, err := process.Prepare(model, version, process.StartRequest{Ref: process.Ref{Key: key, Version: version},
		Cause: process.CauseRecord, Once: "timeskip", StartElement: startElement, Entity: entity, RecordID: id,
		Variables: map[string]any{"record": rec}})
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	tenv := suite.NewTestWorkflowEnvironment()
	tenv.SetStartTime(start)
	// A workflow ID of its own per record: the task handlers derive idempotency keys from it, and the
	// test environment's default ID would make one test's writes and mails replay another's.
	tenv.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "timeskip:" + key + ":" + id})
	tenv.SetWorkerOptions(worker.Options{Interceptors: env.Stack.WorkerInterceptors()})
	process.Register(tenv, &process.Activities{Registry: env.Stack.TaskRegistry(), Store: env.Stack.Processes})
	tenv.SetTestTimeout(2 * time.Minute)
	return tenv, prepared.Input
}

// TestDisqualifiedLeadReopensAfterTheNurturePeriod runs the shipped lead-qualification template under
// virtual time with the nurture period set to 90 days in lead-qualification-settings: a cold lead is
// disqualified for its low score with nurtureUntil 90 days on, still waits on day 89, and on day 90 —
// not before — the process reopens it (status new, no reason, no nurture date) and ends.
func TestDisqualifiedLeadReopensAfterTheNurturePeriod(t *testing.T) {
	defer putRuleset(t, "", shipped(t, "lead-qualification-settings"))
	settings := shipped(t, "lead-qualification-settings")
	settings["table"].(map[string]any)["rows"].([]any)[0].(map[string]any)["outputs"].([]any)[2] = 90
	settings["tests"].([]any)[0].(map[string]any)["expect"].(map[string]any)["output"].(map[string]any)["nurtureDays"] = 90
	putRuleset(t, "", settings)

	start := time.Now().UTC().Truncate(time.Second)
	reopen := start.AddDate(0, 0, 90)
	lead := create(t, "lead", map[string]any{"source": "webForm", "name": "Nadia Nurtured", "timeline": "year"})
	id := lead["id"].(string)
	tenv, input := virtual(t, start, "lead-qualification", "Start_LeadCreated", "lead", id, lead)
	var waiting process.Snapshot
	var onDay89 map[string]any
	tenv.RegisterDelayedCallback(func() {
		if v, err := tenv.QueryWorkflow(process.QueryState); err != nil {
			t.Errorf("query: %v", err)
		} else {
			v.Get(&waiting)
		}
		onDay89 = get(t, "lead", id)
	}, reopen.Add(-24*time.Hour).Sub(start))
	tenv.ExecuteWorkflow(process.WorkflowName, input)

	if !slices.Contains(waiting.ActiveElements, "Event_Nurture") || onDay89["status"] != "disqualified" ||
		onDay89["disqualificationReason"] != "lowScore" || onDay89["nurtureUntil"] != reopen.Format(time.RFC3339) {
		t.Fatalf("on day 89: active %v, lead %+v; want waiting for the nurture period to end on %v", waiting.ActiveElements, onDay89, reopen)
	}
	var res process.Result
	if err := tenv.GetWorkflowResult(&res); err != nil || res.EndElement != "End_Reopened" {
		t.Fatalf("the instance ended at %q (%v), want End_Reopened", res.EndElement, err)
	}
	if now := tenv.Now(); now.Before(reopen) || now.After(reopen.Add(time.Minute)) {
		t.Errorf("reopened at %v, want %v", now, reopen)
	}
	if rec := get(t, "lead", id); rec["status"] != "new" || rec["disqualificationReason"] != nil || rec["nurtureUntil"] != nil {
		t.Errorf("the reopened lead: %+v", rec)
	}
}

// TestUnansweredSurveyClosesTheComplaintAfterItsDays runs the shipped complaint-handling template under
// virtual time: the handler acknowledges and resolves, the customer gets the survey mail and never
// answers; surveyWaitDays (7) after the instance began to wait for the answer the complaint closes, and
// the customer keeps the rating they gave last time. The test acts only on the instance's own state: a
// poll, which virtual time reaches only while the instance is idle, completes each task once it is
// open and reads from the instance's history when it began to wait, so no step races the clock.
func TestUnansweredSurveyClosesTheComplaintAfterItsDays(t *testing.T) {
	agent := serviceAgent(t)
	address := fmt.Sprintf("silvia.%d@silent.example", time.Now().UnixNano()) // -count=N runs it again
	customer := create(t, "contact", map[string]any{"firstName": "Silvia", "lastName": "Silent", "emails": []any{address},
		"loyaltyStage": "customer", "language": "en", "lastCsat": 4})
	// With its category given, the complaint's classification keeps it whichever instance runs it: the live
	// instance, terminated by virtual, may still finish the write of a category it was running (CI on
	// f181b93: the virtual instance read the live one's category after virtual's read, and set its own
	// from a record without one).
	rec := create(t, "complaint", map[string]any{"channel": "email", "subject": "Wrong colour", "customerEmail": address, "category": "product"})
	id := rec["id"].(string)
	tenv, input := virtual(t, time.Now().UTC(), "complaint-handling", "Start_Complaint", "complaint", id, rec)

	steps := []struct {
		element string
		vars    map[string]any
	}{{"Task_Acknowledge", nil}, {"Task_Resolve", map[string]any{"action": "resolve", "resolution": "Exchanged for the right colour."}}}
	var waitingSince time.Time
	began := tenv.Now()
	completing, attempts := false, 0
	var poll func()
	poll = func() {
		v, err := tenv.QueryWorkflow(process.QueryState)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		var s process.Snapshot
		if err := v.Get(&s); err != nil {
			t.Errorf("query: %v", err)
			return
		}
		// An incident or a month without reaching the survey wait is a failure, not a reason to poll on
		// through the ten years of virtual time the test environment allows a workflow.
		if len(s.Incidents) > 0 || tenv.Now().Sub(began) > 30*24*time.Hour {
			var incidents []process.Incident
			for _, in := range s.Incidents {
				incidents = append(incidents, *in)
			}
			t.Errorf("the complaint did not reach the survey wait: active %v, %d steps left, incidents %+v, last history %+v",
				s.ActiveElements, len(steps), incidents, s.History[max(0, len(s.History)-10):])
			tenv.CancelWorkflow()
			return
		}
		if len(steps) > 0 {
			// Complete the next step's task once it is open; a step leaves the list only when its
			// completion succeeded, so a completion that failed is tried again at the next poll.
			for _, u := range s.UserTasks {
				if u.Element != steps[0].element || completing {
					continue
				}
				element, id := u.Element, u.ID
				completing = true
				tenv.UpdateWorkflow(process.UpdateCompleteTask, element+"/"+id+"/"+strconv.Itoa(attempts), &testsuite.TestUpdateCallback{
					OnReject: func(err error) { completing = false; t.Errorf("completing %s was refused: %v", element, err) },
					OnAccept: func() {},
					OnComplete: func(_ any, err error) {
						completing = false
						if err != nil {
							t.Logf("completing %s (task %s) failed, trying again: %v", element, id, err)
							return
						}
						if len(steps) > 0 && steps[0].element == element {
							steps = steps[1:]
						}
					},
				}, process.CompleteTaskRequest{TaskID: id, Variables: steps[0].vars, By: agent.ID})
				attempts++
				break
			}
		} else if at, ok := entered(s, "Gateway_SurveyWait"); ok {
			waitingSince = at // from here on only the instance's own timer moves the clock
			return
		}
		tenv.RegisterDelayedCallback(poll, time.Minute)
	}
	tenv.RegisterDelayedCallback(poll, time.Minute)
	tenv.ExecuteWorkflow(process.WorkflowName, input)
	if err := tenv.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res process.Result
	if err := tenv.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.State != process.StateCompleted || res.EndElement != "End_Closed" || waitingSince.IsZero() {
		t.Fatalf("ended %s at %s (waiting for the answer since %v), want completed at End_Closed after waiting", res.State, res.EndElement, waitingSince)
	}
	if got := mail.Wait(address, 1, 10*time.Second); len(got) != 1 || !strings.Contains(got[0].Body, "Exchanged for the right colour.") {
		t.Errorf("survey mail: %+v", got)
	}
	if wait := tenv.Now().Sub(waitingSince); wait < 7*24*time.Hour || wait > 7*24*time.Hour+time.Minute {
		t.Errorf("closed %v after the survey went out, want 7 days", wait)
	}
	if c := get(t, "complaint", id); c["status"] != "closed" || c["satisfactionScore"] != nil {
		t.Errorf("complaint: %+v", c)
	}
	if c := get(t, "contact", customer["id"].(string)); c["complaintCount"] != float64(1) || c["lastCsat"] != float64(4) {
		t.Errorf("customer: complaints %v, last CSAT %v (want 1 and the earlier 4)", c["complaintCount"], c["lastCsat"])
	}
}

// entered is when an instance's history first shows element entered.
func entered(s process.Snapshot, element string) (time.Time, bool) {
	for _, h := range s.History {
		if h.Element == element && h.Event == "entered" {
			return h.Time, true
		}
	}
	return time.Time{}, false
}
