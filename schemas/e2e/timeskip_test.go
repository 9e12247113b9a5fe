package e2e_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

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

	entered := func(s process.Snapshot, element string) (time.Time, bool) {
		for _, h := range s.History {
			if h.Element == element && h.Event == "entered" {
				return h.Time, true
			}
		}
		return time.Time{}, false
	}
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
	tenv.SetWorkerOptions(worker.Options{Interceptors: env.Stack.WorkerInterceptors()})
	process.Register(tenv, &process.Activities{Registry: env.Stack.TaskRegistry(), Store: env.Stack.Processes})
	tenv.SetTestTimeout(2 * time.Minute)
	return tenv, prepared.Input
}
