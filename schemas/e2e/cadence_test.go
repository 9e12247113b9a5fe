package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/rapportcrm/rapport/workflows/process"
)

// TestCadenceCallMovesWithTheOwnerAndAnInteractionResetsIt runs a cadence whose last contact was long
// ago: the call task appears for the owner at once (with a notification and on their day), follows the
// contact to a new owner, and an interaction with the contact closes it and schedules the next
// follow-up an interval (60 days for a prospect) from now.
func TestCadenceCallMovesWithTheOwnerAndAnInteractionResetsIt(t *testing.T) {
	first := newPerson(t, "fiona.first@example.test", []string{"agent"}, nil)
	second := newPerson(t, "gleb.second@example.test", []string{"agent"}, nil)
	c := create(t, "contact", map[string]any{"firstName": "Petr", "lastName": "Prospect", "phones": []any{"+79167770001"},
		"loyaltyStage": "prospect", "owner": first.ID})
	cid := c["id"].(string)
	do(t, "", http.MethodPost, "/api/v1/processes/follow-up-cadence/instances", map[string]any{"businessKey": cid,
		"variables": map[string]any{"entity": "contact", "recordId": cid, "lastTouch": "2020-01-01T00:00:00Z"}}, nil, http.StatusCreated)

	var call map[string]any
	eventually(t, "the call task", 30*time.Second, func() (bool, string) {
		items := list(t, "task", `contact == "`+cid+`" and status == "open"`)
		if len(items) == 1 {
			call = items[0]
		}
		return call != nil, ""
	})
	if call["assignee"] != first.ID || call["title"] != "Call Petr Prospect" || call["kind"] != "call" {
		t.Fatalf("call task: %+v", call)
	}
	eventually(t, "the follow-up notification", 20*time.Second, func() (bool, string) { return notified(t, first.token, "follow-up-due", cid), "" })
	var day struct {
		Items []struct{ Kind, Name, Phone, TaskID string }
	}
	do(t, first.token, http.MethodGet, "/api/v1/my-day", nil, &day, http.StatusOK)
	if len(day.Items) != 1 || day.Items[0].Name != "Petr Prospect" || day.Items[0].Phone != "+79167770001" || day.Items[0].TaskID != call["id"] {
		t.Errorf("the owner's day: %+v", day.Items)
	}

	do(t, "", http.MethodPatch, "/api/v1/records/contact/"+cid, map[string]any{"owner": second.ID}, nil, http.StatusOK)
	waitRecord(t, "task", call["id"].(string), 30*time.Second, func(r map[string]any) bool { return r["assignee"] == second.ID })

	create(t, "interaction", map[string]any{"type": "call", "direction": "outbound", "occurredAt": time.Now().UTC().Format(time.RFC3339), "contact": cid, "summary": "Talked"})
	waitRecord(t, "task", call["id"].(string), 30*time.Second, func(r map[string]any) bool { return r["status"] == "done" })
	next := waitRecord(t, "contact", cid, 30*time.Second, func(r map[string]any) bool {
		d, err := time.Parse(time.RFC3339, r["nextFollowUpAt"].(string))
		return err == nil && d.After(time.Now().Add(59*24*time.Hour))
	})
	if d, _ := time.Parse(time.RFC3339, next["nextFollowUpAt"].(string)); d.After(time.Now().Add(61 * 24 * time.Hour)) {
		t.Errorf("next follow-up %v, want about 60 days from now", d)
	}
}

// TestCadenceWakesOnlyForTheFieldsItReads: the cadence's contact message lists the fields it reads
// (rapport:whenChanged: loyalty stage, owner, name), so neither an edit of the phone and position nor
// its own write of nextFollowUpAt reaches it; the owner's change does, once, and moves the call.
func TestCadenceWakesOnlyForTheFieldsItReads(t *testing.T) {
	first := newPerson(t, "wendy.wake@example.test", []string{"agent"}, nil)
	second := newPerson(t, "wim.wake@example.test", []string{"agent"}, nil)
	cid, inst, call := dueCall(t, first, "Quentin", "Quiet", "+79167770111")
	before := delivered(t, inst)
	do(t, "", http.MethodPatch, "/api/v1/records/contact/"+cid, map[string]any{"phones": []any{"+79167770112"}, "position": "Buyer"}, nil, http.StatusOK)
	do(t, "", http.MethodPatch, "/api/v1/records/contact/"+cid, map[string]any{"owner": second.ID}, nil, http.StatusOK)
	waitRecord(t, "task", call["id"].(string), 30*time.Second, func(r map[string]any) bool { return r["assignee"] == second.ID })
	// Changes of one record reach the instance in order: the phone edit would have come first.
	if n := delivered(t, inst) - before; n != 1 {
		t.Errorf("%d contact changes reached the cadence, want 1 (the owner's)", n)
	}
}

// dueCall starts a cadence for a new prospect owned by owner whose last contact was long ago, and
// waits for the call task it opens at once; it returns the contact's ID, the instance and the task.
func dueCall(t *testing.T, owner person, first, last, phone string) (string, string, map[string]any) {
	t.Helper()
	c := create(t, "contact", map[string]any{"firstName": first, "lastName": last, "phones": []any{phone}, "loyaltyStage": "prospect", "owner": owner.ID})
	cid := c["id"].(string)
	var started struct{ ID string }
	do(t, "", http.MethodPost, "/api/v1/processes/follow-up-cadence/instances", map[string]any{"businessKey": cid,
		"variables": map[string]any{"entity": "contact", "recordId": cid, "lastTouch": "2020-01-01T00:00:00Z"}}, &started, http.StatusCreated)
	var call map[string]any
	eventually(t, "the call task of "+first, 30*time.Second, func() (bool, string) {
		items := list(t, "task", `contact == "`+cid+`" and status == "open"`)
		if len(items) == 1 {
			call = items[0]
		}
		return call != nil, ""
	})
	return cid, started.ID, call
}

// delivered counts the messages Temporal handed to an instance, from its whole event history (the
// instance's own timeline is trimmed, this is not): the accepted message updates, and the message
// signals the publisher falls back to when an update is refused (messages.Publisher).
func delivered(t *testing.T, id string) int {
	t.Helper()
	it := env.Temporal.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		if a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil && a.GetAcceptedRequest().GetInput().GetName() == process.UpdateDeliverMessage {
			n++
		}
		if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == process.SignalMessage {
			n++
		}
	}
	return n
}

// myDayTasks lists the task IDs on the caller's day.
func myDayTasks(t *testing.T, token string) []string {
	t.Helper()
	var day struct{ Items []struct{ TaskID string } }
	do(t, token, http.MethodGet, "/api/v1/my-day", nil, &day, http.StatusOK)
	var ids []string
	for _, it := range day.Items {
		if it.TaskID != "" {
			ids = append(ids, it.TaskID)
		}
	}
	return ids
}

// TestSnoozedCallLeavesTheDayAndComesBack: the owner snoozes a due call by moving the task's due date to
// later in the week: it leaves their day and the cadence keeps waiting for it (nothing is closed or
// created again, and the cadence is not even woken: its task message waits only for the status);
// moved back to today it is on the day again, and done it starts the next interval.
func TestSnoozedCallLeavesTheDayAndComesBack(t *testing.T) {
	owner := newPerson(t, "sonya.snooze@example.test", []string{"agent"}, nil)
	cid, inst, call := dueCall(t, owner, "Stas", "Snoozed", "+79167770002")
	taskID := call["id"].(string)
	if got := myDayTasks(t, owner.token); !slices.Contains(got, taskID) {
		t.Fatalf("the due call is not on the owner's day: %v", got)
	}
	before := delivered(t, inst)
	later := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	do(t, owner.token, http.MethodPatch, "/api/v1/records/task/"+taskID, map[string]any{"dueAt": later}, nil, http.StatusOK)
	if got := myDayTasks(t, owner.token); slices.Contains(got, taskID) {
		t.Errorf("the snoozed call is still on today's list: %v", got)
	}
	if open := list(t, "task", `contact == "`+cid+`" and status == "open"`); len(open) != 1 || open[0]["dueAt"] != later {
		t.Errorf("open calls after the snooze: %v", open)
	}

	do(t, owner.token, http.MethodPatch, "/api/v1/records/task/"+taskID, map[string]any{"dueAt": time.Now().UTC().Format(time.RFC3339)}, nil, http.StatusOK)
	if got := myDayTasks(t, owner.token); !slices.Contains(got, taskID) {
		t.Errorf("the call moved back to today is not on the day: %v", got)
	}
	do(t, owner.token, http.MethodPatch, "/api/v1/records/task/"+taskID, map[string]any{"status": "done"}, nil, http.StatusOK)
	// The completion is handled once this instance waits for the next follow-up again; the contact's
	// next follow-up alone does not say so, since the contact's own cadence (its record trigger) sets it
	// too (CI on 15a2c3d counted the messages before the completion had reached this one).
	eventually(t, "the cadence waiting for the next follow-up", 30*time.Second, func() (bool, string) {
		active := snapshot(t, inst).ActiveElements
		return slices.Contains(active, "Gateway_Wait"), strings.Join(active, ",")
	})
	waitRecord(t, "contact", cid, 30*time.Second, func(r map[string]any) bool {
		d, err := time.Parse(time.RFC3339, fmt.Sprint(r["nextFollowUpAt"]))
		return err == nil && d.After(time.Now().Add(59*24*time.Hour))
	})
	// Record changes reach the instance in order, so the two moves of the due date, had they been
	// delivered, would have been delivered before the completion.
	if n := delivered(t, inst) - before; n != 1 {
		t.Errorf("%d changes of its call reached the cadence, want 1 (the completion, not the two moves)", n)
	}
	env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
}

// TestDeletingTheContactEndsItsCadence: deleting a contact ends its cadence, both while it waits for the
// next follow-up and while a call is due (the open call task is cancelled). A merge of duplicates keeps
// one contact and deletes the others, so it ends their cadences the same way.
func TestDeletingTheContactEndsItsCadence(t *testing.T) {
	owner := newPerson(t, "dima.delete@example.test", []string{"agent"}, nil)
	waiting := create(t, "contact", map[string]any{"firstName": "Vera", "lastName": "Waiting", "loyaltyStage": "customer", "owner": owner.ID})
	wid := waiting["id"].(string)
	waitRecord(t, "contact", wid, 60*time.Second, func(r map[string]any) bool { return r["nextFollowUpAt"] != nil })
	winst := instance(t, "follow-up-cadence", wid, 30*time.Second)
	do(t, "", http.MethodDelete, "/api/v1/records/contact/"+wid, nil, nil, http.StatusOK)
	ended(t, winst, "End_Deleted", 30*time.Second)

	cid, inst, call := dueCall(t, owner, "Danya", "Due", "+79167770003")
	do(t, "", http.MethodDelete, "/api/v1/records/contact/"+cid, nil, nil, http.StatusOK)
	ended(t, inst, "End_Deleted", 30*time.Second)
	if tk := get(t, "task", call["id"].(string)); tk["status"] != "cancelled" {
		t.Errorf("the open call of the deleted contact: %+v", tk)
	}
	if got := myDayTasks(t, owner.token); slices.Contains(got, call["id"].(string)) {
		t.Errorf("the deleted contact's call is still on the owner's day: %v", got)
	}
}

// TestBulkStartGivesExistingContactsACadence: contacts that have no cadence (here: theirs was stopped
// and their next follow-up cleared) get one from POST /api/v1/cadences for a filter, each first
// follow-up an interval plus a jitter within the spread from now; other contacts are left alone, and
// running the same bulk start again starts nothing twice. The start is paced, here two at a time over three
// contacts: the job is done only when every cadence it started waits for its first follow-up (each
// contact has its nextFollowUpAt as soon as the job says done), and its running count says so.
func TestBulkStartGivesExistingContactsACadence(t *testing.T) {
	var ids []string
	for _, n := range []string{"Anton", "Boris", "Clara"} {
		c := create(t, "contact", map[string]any{"firstName": n, "lastName": "Bulkov", "loyaltyStage": "prospect"})
		ids = append(ids, c["id"].(string))
	}
	other := create(t, "contact", map[string]any{"firstName": "Olga", "lastName": "Outside", "loyaltyStage": "prospect"})
	for _, id := range append(slices.Clone(ids), other["id"].(string)) {
		waitRecord(t, "contact", id, 60*time.Second, func(r map[string]any) bool { return r["nextFollowUpAt"] != nil })
		env.Temporal.TerminateWorkflow(context.Background(), instance(t, "follow-up-cadence", id, 30*time.Second), "", "the contact stands for one created before cadences")
		// The cadence keeps nextFollowUpAt (read-only through the API): clear it in the store, as a contact
		// from before cadences lacks it.
		if _, err := env.DB.Collection("records_contact").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "nextFollowUpAt", Value: ""}}}}); err != nil {
			t.Fatal(err)
		}
	}
	created, _ := time.Parse(time.RFC3339, get(t, "contact", ids[2])["createdAt"].(string))
	// A bulk start leaves contacts of the last minute to their own record-triggered cadence; run the rest
	// of the package meanwhile.
	t.Parallel()
	time.Sleep(time.Until(created.Add(61 * time.Second)))

	const spread = 600
	start := func() map[string]any {
		r := env.Call(t, http.MethodPost, "/api/v1/cadences", env.AdminToken, map[string]any{"entity": "contact", "filter": `lastName == "Bulkov"`, "spreadMinutes": spread, "pageSize": 2})
		if r.Status != http.StatusAccepted {
			t.Fatalf("bulk start: %d %s", r.Status, r.Raw)
		}
		var job map[string]any
		eventually(t, "the bulk start", 60*time.Second, func() (bool, string) {
			do(t, "", http.MethodGet, r.Header.Get("Location"), nil, &job, http.StatusOK)
			return job["state"] == "done", fmt.Sprint(job)
		})
		return job
	}
	began := time.Now()
	if job := start(); job["started"] != float64(3) || job["running"] != float64(3) || job["failed"] != float64(0) || job["pageSize"] != float64(2) {
		t.Fatalf("first bulk start: %+v", job)
	}
	for _, id := range ids {
		rec := get(t, "contact", id) // done means running: no waiting here
		next, _ := rec["nextFollowUpAt"].(string)
		due, err := time.Parse(time.RFC3339, next)
		from := began.Add(60 * 24 * time.Hour).Add(-time.Second)
		if err != nil || due.Before(from) || due.After(time.Now().Add(60*24*time.Hour+spread*time.Minute)) {
			t.Errorf("%s: next follow-up %v, want 60 days and at most %d minutes after %v", id, rec["nextFollowUpAt"], spread, began)
		}
	}
	if rec := get(t, "contact", other["id"].(string)); rec["nextFollowUpAt"] != nil {
		t.Errorf("a contact outside the filter got a cadence: %+v", rec)
	}
	if job := start(); job["started"] != float64(0) || job["running"] != float64(0) {
		t.Errorf("the second bulk start: %+v", job)
	}
	for _, id := range ids {
		env.Temporal.TerminateWorkflow(context.Background(), instance(t, "follow-up-cadence", id, 10*time.Second), "", "end of test")
	}
}
