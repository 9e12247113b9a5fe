package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/inbox"
)

// inboxItems reads the items of a GET /api/v1/tasks page.
func inboxItems(t *testing.T, raw []byte) []inbox.PageItem {
	t.Helper()
	var page inbox.Page
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatalf("inbox page: %v: %s", err, raw)
	}
	return page.Items
}

// startApproval starts an instance of a copy of testdata/approval.bpmn and waits until it waits at
// Task_Approve.
func startApproval(t *testing.T, key, approver, businessKey string) string {
	t.Helper()
	var started struct{ ID string }
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/processes/"+key+"/instances", env.AdminToken,
		map[string]any{"businessKey": businessKey, "variables": map[string]any{"orderId": businessKey, "approver": approver, "discount": 7.5}}, &started)
	waitInstance(t, started.ID, func(v instanceView) bool { return slices.Contains(v.ActiveElements, "Task_Approve") })
	return started.ID
}

// waitListed polls GET path as token until the body contains every want (visibility and the inbox
// catch up asynchronously).
func waitListed(t *testing.T, path, token string, want ...string) {
	t.Helper()
	var raw []byte
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, raw, _ = env.Do(context.Background(), http.MethodGet, path, token, nil)
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(string(raw), w) }) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s never listed %v: %s", path, want, raw)
}

// opsSuite publishes ops-approval (owned by the "owner" user) and ops-group (a task offered to the
// ops-reviewers team), and starts instances of both.
func opsSuite(t *testing.T) Suite {
	t.Helper()
	tokens := map[string]string{"admin": env.AdminToken}
	owner, ownerTok := newUser(t, "ops-owner@ops.test", []string{access.RoleProcessOwner}, nil)
	_, tokens["stranger"] = newUser(t, "ops-stranger@ops.test", []string{access.RoleProcessOwner}, nil)
	_, tokens["agent"] = newUser(t, "ops-agent@ops.test", []string{access.RoleAgent}, nil)
	_, tokens["viewer"] = newUser(t, "ops-viewer@ops.test", []string{access.RoleViewer}, nil)
	tokens["owner"] = ownerTok
	call(t, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": "ops-reviewers", "name": "Reviewers"}, nil)
	reviewer, reviewerTok := newUser(t, "ops-reviewer@ops.test", []string{access.RoleAgent}, []string{"ops-reviewers"})
	_, tokens["outsider"] = newUser(t, "ops-outsider@ops.test", []string{access.RoleAgent}, nil)
	tokens["reviewer"] = reviewerTok

	deployAndPublish(t, renamed(t, "testdata/approval.bpmn", "discount-approval", "ops-approval"), "ops-approval")
	group := strings.Replace(string(renamed(t, "testdata/approval.bpmn", "discount-approval", "ops-group")),
		`assignee="=approver"`, `candidateGroups="ops-reviewers"`, 1)
	deployAndPublish(t, []byte(group), "ops-group")
	for _, key := range []string{"ops-approval", "ops-group"} {
		mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/processes/"+key+"/owners", env.AdminToken,
			map[string]any{"owners": []string{"user:" + owner.ID}}, nil)
	}
	vars := map[string]string{
		"a":      startApproval(t, "ops-approval", owner.ID, "OPS-A"),
		"b":      startApproval(t, "ops-approval", owner.ID, "OPS-B"),
		"g":      startApproval(t, "ops-group", owner.ID, "OPS-G"),
		"owner":  owner.ID,
		"review": reviewer.ID,
	}
	vars["ea"], vars["eb"], vars["eg"] = url.PathEscape(vars["a"]), url.PathEscape(vars["b"]), url.PathEscape(vars["g"])
	for _, id := range []string{"a", "g"} {
		var card struct {
			UserTasks []struct {
				InboxID string `json:"inboxId"`
			} `json:"userTasks"`
		}
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/instances/"+vars["e"+id], env.AdminToken, nil, &card)
		if len(card.UserTasks) != 1 {
			t.Fatalf("tasks of instance %s: %+v", id, card)
		}
		vars[id+"task"] = url.PathEscape(card.UserTasks[0].InboxID)
		vars[id+"taskID"] = card.UserTasks[0].InboxID
	}
	vars["task"], vars["taskID"] = vars["gtask"], vars["gtaskID"]
	waitListed(t, "/api/v1/instances?processKey=ops-approval", ownerTok, vars["a"], vars["b"])
	waitListed(t, "/api/v1/tasks", reviewerTok, vars["taskID"])
	return Suite{Tokens: tokens, Vars: vars}
}

// TestInstanceOperations: finding, reading and operating instances over HTTP, as the owner of the process,
// as a process owner who does not own it, and as callers without the permissions.
func TestInstanceOperations(t *testing.T) {
	s := suiteOnce(t)
	cardStatus := func(id, want string) func(t *testing.T, r stacktest.Response) {
		return func(t *testing.T, _ stacktest.Response) {
			waitInstance(t, s.Vars[id], func(v instanceView) bool { return v.Status == want })
		}
	}
	reason := map[string]any{"reason": "customer asked on the phone"}
	s.Run(t, []Scenario{
		// Finding instances.
		{Name: "list needs instances.read", As: "agent", Method: http.MethodGet, URL: "/api/v1/instances", Status: http.StatusForbidden},
		{Name: "list by process", As: "viewer", Method: http.MethodGet, URL: "/api/v1/instances?processKey=ops-approval&state=waiting,running", Status: http.StatusOK,
			Contains: []string{"{a}", "{b}", `"processKey":"ops-approval"`}, Lacks: []string{"{g}"}},
		{Name: "list by business key", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?businessKey=OPS-B", Status: http.StatusOK,
			Contains: []string{"{b}"}, Lacks: []string{"{a}"}},
		{Name: "list by active element and version", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?processKey=ops-group&version=1&element=Task_Approve", Status: http.StatusOK,
			Contains: []string{"{g}"}},
		{Name: "list by candidate group", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?group=ops-reviewers", Status: http.StatusOK,
			Contains: []string{"{g}"}, Lacks: []string{"{a}"}},
		{Name: "list pages with a cursor", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?processKey=ops-approval&limit=1", Status: http.StatusOK,
			Contains: []string{`"next":"`}},
		{Name: "an unknown state is refused naming the parameter", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?state=sleeping", Status: http.StatusBadRequest,
			Contains: []string{`"parameter":"state"`, "sleeping"}},
		{Name: "a version needs the process", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?version=2", Status: http.StatusBadRequest,
			Contains: []string{`"parameter":"version"`}},
		{Name: "a foreign cursor is refused", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?cursor=bm90IGEgY3Vyc29y", Status: http.StatusBadRequest,
			Contains: []string{`"parameter":"cursor"`}},
		{Name: "counts need instances.operate", As: "viewer", Method: http.MethodGet, URL: "/api/v1/instances?counts=true", Status: http.StatusForbidden},
		{Name: "counts per state and element", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?processKey=ops-approval&version=1&counts=true", Status: http.StatusOK,
			Contains: []string{`"states":{`, `"waiting":2`, `"Task_Approve":2`}},

		// The process card.
		{Name: "card", As: "viewer", Method: http.MethodGet, URL: "/api/v1/instances/{ea}", Status: http.StatusOK,
			Contains: []string{`"processKey":"ops-approval"`, `"declaredVariables":[`, `"type":"float"`, `"element":"Task_Approve"`, `"inboxId":"{a}~`,
				`"diagram":"/api/v1/processes/ops-approval/versions/1/xml"`, `"event":"entered"`}},
		{Name: "card of an unknown instance", As: "viewer", Method: http.MethodGet, URL: "/api/v1/instances/ops-nothing", Status: http.StatusNotFound},

		// Operations: who may.
		{Name: "operating needs instances.operate", As: "agent", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/suspend", Body: reason, Status: http.StatusForbidden,
			Contains: []string{"instances.operate"}},
		{Name: "a process owner who does not own the process is refused", As: "stranger", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/suspend", Body: reason,
			Status: http.StatusForbidden, Contains: []string{"not-an-owner", "ops-approval"}},
		{Name: "an unknown instance", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/ops-nothing/suspend", Body: reason, Status: http.StatusNotFound},
		{Name: "a reason is required", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/suspend", Body: map[string]any{}, Status: http.StatusUnprocessableEntity,
			Contains: []string{"reason"}},
		{Name: "a blank reason is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/suspend", Body: map[string]any{"reason": "   "},
			Status: http.StatusUnprocessableEntity, Contains: []string{`"pointer":"/reason"`}},

		// Suspend and resume.
		{Name: "suspend", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/suspend", Body: reason, Status: http.StatusOK,
			Contains: []string{`"before":{"status":"waiting"`, `"after":{"status":"suspended"`}},
		{Name: "suspend twice is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/suspend", Body: reason, Status: http.StatusConflict,
			Contains: []string{"operation-refused", "suspended already"}},
		{Name: "a task of a suspended instance cannot be completed", As: "owner", Method: http.MethodPost, URL: "/api/v1/tasks/{atask}/complete",
			Body: map[string]any{"variables": map[string]any{"approved": true}}, Status: http.StatusUnprocessableEntity, Contains: []string{"suspended"}},
		{Name: "the list finds it suspended", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?processKey=ops-approval&state=suspended", Status: http.StatusOK,
			Check: func(t *testing.T, _ stacktest.Response) {
				waitListed(t, "/api/v1/instances?processKey=ops-approval&state=suspended", s.Tokens["owner"], s.Vars["a"])
			}},
		{Name: "the card's timeline names who and why", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{ea}", Status: http.StatusOK,
			Contains: []string{`"status":"suspended"`, `"by":"{owner}"`, `"reason":"customer asked on the phone"`}},
		{Name: "resume", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/resume", Body: reason, Status: http.StatusOK,
			Contains: []string{`"after":{"status":"waiting"`}},
		{Name: "resume when not suspended is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/resume", Body: reason, Status: http.StatusConflict,
			Contains: []string{"not suspended"}},

		// Variables.
		{Name: "a variable of the wrong type is refused naming it", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/variables",
			Body: map[string]any{"reason": "fix", "variables": map[string]any{"discount": "lots", "note": "ok"}}, Status: http.StatusUnprocessableEntity,
			Contains: []string{`"pointer":"/variables/discount"`}, Lacks: []string{"/variables/note"}},
		{Name: "change variables", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/variables",
			Body: map[string]any{"reason": "agreed 9%", "variables": map[string]any{"discount": 9.0}}, Status: http.StatusOK,
			Contains: []string{`"before":{"discount":7.5}`, `"variables":{"discount":9}`}},

		// Retry and skip need an incident.
		{Name: "retry without an incident is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/retry", Body: reason, Status: http.StatusConflict,
			Contains: []string{"no such open incident"}},
		{Name: "correlate a message nobody waits for", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/correlate",
			Body: map[string]any{"reason": "r", "message": map[string]any{"name": "confirmed", "correlationKey": "OPS-A"}}, Status: http.StatusConflict,
			Contains: []string{"confirmed"}},
		{Name: "move to an unknown element is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/move",
			Body: map[string]any{"reason": "r", "cancel": []string{"Task_Approve"}, "activate": []map[string]any{{"element": "Nowhere"}}}, Status: http.StatusConflict,
			Contains: []string{"Nowhere"}},
		{Name: "move the token on", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/move",
			Body:   map[string]any{"reason": "approved by phone", "cancel": []string{"Task_Approve"}, "activate": []map[string]any{{"element": "Event_Confirmed"}}},
			Status: http.StatusOK, Contains: []string{`"activeElements":["Event_Confirmed"]`}},

		// Migration preview.
		{Name: "preview a migration to the version it runs", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{eb}/migration-preview",
			Body: map[string]any{"toVersion": 1}, Status: http.StatusOK, Contains: []string{`"canMigrate":false`, "runs version 1 already"}},
		{Name: "preview a migration to a missing version", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{eb}/migration-preview",
			Body: map[string]any{"toVersion": 99}, Status: http.StatusUnprocessableEntity, Contains: []string{`"pointer":"/toVersion"`}},
		{Name: "a stranger may not preview", As: "stranger", Method: http.MethodPost, URL: "/api/v1/instances/{eb}/migration-preview",
			Body: map[string]any{"toVersion": 1}, Status: http.StatusForbidden},

		// Cancel and terminate.
		{Name: "cancel", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{eb}/cancel", Body: reason, Status: http.StatusOK,
			Check: cardStatus("b", "cancelled")},
		{Name: "an ended instance refuses operations", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{eb}/suspend", Body: reason, Status: http.StatusConflict,
			Contains: []string{"ended"}},
		{Name: "the list finds it cancelled", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?businessKey=OPS-B&state=cancelled", Status: http.StatusOK,
			Check: func(t *testing.T, _ stacktest.Response) {
				waitListed(t, "/api/v1/instances?businessKey=OPS-B&state=cancelled", s.Tokens["owner"], s.Vars["b"])
			}},
		{Name: "terminate", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{ea}/terminate", Body: map[string]any{"reason": "broken beyond repair"},
			Status: http.StatusOK, Check: cardStatus("a", "terminated")},
		{Name: "the terminated card says who and why", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{ea}", Status: http.StatusOK,
			Contains: []string{`"event":"terminated"`, "broken beyond repair", `"by":"{owner}"`}},

		// The audit log has each with its reason.
		{Name: "audit of the operations", As: "admin", Method: http.MethodGet, URL: "/api/v1/audit?action=instance.&target={a}&limit=200", Status: http.StatusOK,
			Contains: []string{`"action":"instance.suspend"`, `"action":"instance.resume"`, `"action":"instance.setVariables"`, `"action":"instance.move"`,
				`"action":"instance.terminate"`, `"reason":"agreed 9%"`, `"outcome":"denied"`}},
	})
}

// TestTaskInbox: the inbox from the materialised store, a candidate-group task visible to the group's
// members only, claim and unclaim, and an operator's reassignment.
func TestTaskInbox(t *testing.T) {
	s := suiteOnce(t)
	s.Run(t, []Scenario{
		{Name: "a group task is in the member's inbox", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks?view=claimable", Status: http.StatusOK,
			Contains: []string{"{taskID}", `"candidateGroups":["ops-reviewers"]`, `"fields":[`, `"claimable":`}},
		{Name: "and not in anyone else's", As: "outsider", Method: http.MethodGet, URL: "/api/v1/tasks", Status: http.StatusOK, Lacks: []string{"{taskID}"}},
		{Name: "an unknown sort is refused", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks?sort=random", Status: http.StatusUnprocessableEntity,
			Contains: []string{"sort"}},
		{Name: "a foreign cursor is refused", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks?cursor=xyz", Status: http.StatusBadRequest,
			Contains: []string{`"parameter":"cursor"`}},
		{Name: "a group one is not in is refused", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks?group=board", Status: http.StatusBadRequest,
			Contains: []string{`"parameter":"group"`}},
		{Name: "an outsider cannot claim", As: "outsider", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/claim", Status: http.StatusForbidden,
			Contains: []string{"not-a-candidate"}},
		{Name: "an unknown task", As: "reviewer", Method: http.MethodPost, URL: "/api/v1/tasks/{eg}~99/claim", Status: http.StatusNotFound},
		{Name: "claim", As: "reviewer", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/claim", Status: http.StatusOK,
			Contains: []string{`"before":""`, `"after":"{review}"`}},
		{Name: "claim again", As: "reviewer", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/claim", Status: http.StatusConflict, Contains: []string{"yours already"}},
		{Name: "the claimed task is mine", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks?view=mine", Status: http.StatusOK,
			Contains: []string{"{taskID}", `"assignee":"{review}"`}},
		{Name: "an outsider cannot give it back", As: "outsider", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/unclaim", Status: http.StatusConflict},
		{Name: "unclaim", As: "reviewer", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/unclaim", Status: http.StatusOK,
			Contains: []string{`"before":"{review}"`, `"after":""`}},
		{Name: "claimable again", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks?view=claimable", Status: http.StatusOK, Contains: []string{"{taskID}"}},
		{Name: "reassigning needs instances.operate", As: "reviewer", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/assign",
			Body: map[string]any{"assignee": "{review}", "reason": "r"}, Status: http.StatusForbidden},
		{Name: "a stranger may not reassign", As: "stranger", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/assign",
			Body: map[string]any{"assignee": "{review}", "reason": "r"}, Status: http.StatusForbidden, Contains: []string{"not-an-owner"}},
		{Name: "the owner reassigns", As: "owner", Method: http.MethodPost, URL: "/api/v1/tasks/{task}/assign",
			Body: map[string]any{"assignee": "{review}", "reason": "Ann is on holiday"}, Status: http.StatusOK, Contains: []string{`"assignees":[{"task":`, `"assignee":"{review}"`}},
		{Name: "the reassigned task is the reviewer's", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks?view=mine", Status: http.StatusOK,
			Contains: []string{"{taskID}"}},
		{Name: "the claim is audited", As: "admin", Method: http.MethodGet, URL: "/api/v1/audit?action=task.&limit=200", Status: http.StatusOK,
			Contains: []string{`"action":"task.claim"`, `"action":"task.unclaim"`}},
	})
}

// opsOnce makes the operations fixture once per stack: its users' e-mails are unique.
var opsOnce struct {
	sync.Once
	suite Suite
}

func suiteOnce(t *testing.T) Suite {
	t.Helper()
	opsOnce.Do(func() { opsOnce.suite = opsSuite(t) })
	if opsOnce.suite.Tokens == nil {
		t.Fatal("the operations fixture failed in an earlier test")
	}
	return opsOnce.suite
}

// TestBulkOperations: a dry run, then a batch suspending the waiting instances of a process at a limited
// rate, cancelled in the middle: those done stay suspended, the rest untouched.
func TestBulkOperations(t *testing.T) {
	s := suiteOnce(t)
	deployAndPublish(t, renamed(t, "testdata/approval.bpmn", "discount-approval", "ops-bulk"), "ops-bulk")
	mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/processes/ops-bulk/owners", env.AdminToken,
		map[string]any{"owners": []string{"user:" + s.Vars["owner"]}}, nil)
	var ids []string
	for i := range 6 {
		ids = append(ids, startApproval(t, "ops-bulk", s.Vars["owner"], "BULK-"+strconv.Itoa(i)))
	}
	waitListed(t, "/api/v1/instances?processKey=ops-bulk&state=waiting", s.Tokens["owner"], ids...)
	filter := map[string]any{"processKey": "ops-bulk", "states": []string{"waiting"}}
	suspend := map[string]any{"kind": "suspend", "reason": "month-end freeze"}
	s.Run(t, []Scenario{
		{Name: "a dry run needs ownership", As: "stranger", Method: http.MethodPost, URL: "/api/v1/batches/preview",
			Body: map[string]any{"filter": filter, "operation": suspend}, Status: http.StatusForbidden, Contains: []string{"not-an-owner"}},
		{Name: "a filter without a process is for administrators", As: "owner", Method: http.MethodPost, URL: "/api/v1/batches/preview",
			Body: map[string]any{"filter": map[string]any{}, "operation": suspend}, Status: http.StatusForbidden},
		{Name: "a dry run needs instances.operate", As: "agent", Method: http.MethodPost, URL: "/api/v1/batches/preview",
			Body: map[string]any{"filter": filter, "operation": suspend}, Status: http.StatusForbidden},
		{Name: "an unknown state is refused naming it", As: "owner", Method: http.MethodPost, URL: "/api/v1/batches/preview",
			Body:   map[string]any{"filter": map[string]any{"processKey": "ops-bulk", "states": []string{"asleep"}}, "operation": suspend},
			Status: http.StatusUnprocessableEntity, Contains: []string{`"pointer":"/filter/state"`}},
		{Name: "an operation without its parameters is refused naming them", As: "owner", Method: http.MethodPost, URL: "/api/v1/batches/preview",
			Body:   map[string]any{"filter": filter, "operation": map[string]any{"kind": "migrate", "reason": "r"}},
			Status: http.StatusUnprocessableEntity, Contains: []string{`"pointer":"/operation/toVersion"`}},
		{Name: "a blank reason is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/batches",
			Body:   map[string]any{"filter": filter, "operation": map[string]any{"kind": "suspend", "reason": " "}},
			Status: http.StatusUnprocessableEntity, Contains: []string{"reason"}},
		{Name: "the dry run counts and samples", As: "owner", Method: http.MethodPost, URL: "/api/v1/batches/preview",
			Body: map[string]any{"filter": filter, "operation": suspend}, Status: http.StatusOK, Contains: []string{`"count":6`, `"sample":[{`}},
		{Name: "an unknown batch", As: "owner", Method: http.MethodGet, URL: "/api/v1/batches/batch:nothing", Status: http.StatusNotFound},
	})

	var started struct{ ID string }
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/batches", s.Tokens["owner"],
		map[string]any{"filter": filter, "operation": suspend, "rate": 1}, &started)
	type progress struct {
		State     string `json:"state"`
		Total     int    `json:"total"`
		Processed int    `json:"processed"`
		Done      int    `json:"done"`
		Results   []struct {
			Instance string `json:"instance"`
			Result   string `json:"result"`
		} `json:"results"`
	}
	var p progress
	deadline := time.Now().Add(60 * time.Second)
	for p.Processed < 2 && time.Now().Before(deadline) {
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/batches/"+url.PathEscape(started.ID), s.Tokens["owner"], nil, &p)
		time.Sleep(100 * time.Millisecond)
	}
	if p.Total != 6 || p.Processed < 2 {
		t.Fatalf("batch progress: %+v", p)
	}
	if status := call(t, http.MethodGet, "/api/v1/batches/"+url.PathEscape(started.ID), s.Tokens["stranger"], nil, nil); status != http.StatusNotFound {
		t.Fatalf("another's batch: %d", status)
	}
	mustStatus(t, http.StatusOK, http.MethodPost, "/api/v1/batches/"+url.PathEscape(started.ID)+"/cancel", s.Tokens["owner"], nil, &p)
	for p.State != "cancelled" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/batches/"+url.PathEscape(started.ID), s.Tokens["owner"], nil, &p)
	}
	if p.State != "cancelled" || p.Processed >= 6 || p.Done != p.Processed {
		t.Fatalf("cancelled batch: %+v", p)
	}
	done := map[string]bool{}
	for _, r := range p.Results {
		done[r.Instance] = r.Result == "done"
	}
	for _, id := range ids {
		want := "waiting"
		if done[id] {
			want = "suspended"
		}
		v := waitInstance(t, id, func(v instanceView) bool { return v.Status == want })
		if v.Status != want {
			t.Errorf("%s: %s, want %s", id, v.Status, want)
		}
	}
	var log struct {
		Items []struct {
			Reason string `json:"reason"`
			Actor  struct {
				Via string `json:"via"`
			} `json:"actor"`
		} `json:"items"`
	}
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/audit?action=instance.suspend&limit=200", env.AdminToken, nil, &log)
	batched := 0
	for _, e := range log.Items {
		if e.Actor.Via == "batch:"+started.ID && e.Reason == "month-end freeze" {
			batched++
		}
	}
	if batched != p.Done {
		t.Fatalf("audit entries of the batch: %d, want %d", batched, p.Done)
	}
}

// TestMigration: a preview over a filter accepts one instance and refuses another (its active element is
// gone from the new version), an explicit mapping makes the refused one movable, and applying migrates.
func TestMigration(t *testing.T) {
	s := suiteOnce(t)
	v1 := renamed(t, "testdata/approval.bpmn", "discount-approval", "ops-mig")
	deployAndPublish(t, v1, "ops-mig")
	mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/processes/ops-mig/owners", env.AdminToken,
		map[string]any{"owners": []string{"user:" + s.Vars["owner"]}}, nil)
	staying := startApproval(t, "ops-mig", s.Vars["owner"], "MIG-1")
	moved := startApproval(t, "ops-mig", s.Vars["owner"], "MIG-2")
	mustStatus(t, http.StatusOK, http.MethodPost, "/api/v1/instances/"+url.PathEscape(moved)+"/move", s.Tokens["owner"],
		map[string]any{"reason": "approved by phone", "cancel": []string{"Task_Approve"}, "activate": []map[string]any{{"element": "Event_Confirmed"}}}, nil)
	deployAndPublish(t, []byte(strings.ReplaceAll(string(v1), "Event_Confirmed", "Event_Agreed")), "ops-mig")
	waitListed(t, "/api/v1/instances?processKey=ops-mig&element=Event_Confirmed", s.Tokens["owner"], moved)
	s.Vars["staying"], s.Vars["moved"] = url.PathEscape(staying), url.PathEscape(moved)
	s.Vars["stayingID"], s.Vars["movedID"] = staying, moved
	batchMigrate := map[string]any{"kind": "migrate", "reason": "v2 renames the confirmation", "toVersion": 2}
	migrate := map[string]any{"reason": "v2 renames the confirmation", "toVersion": 2}
	s.Run(t, []Scenario{
		{Name: "the preview accepts one and refuses the other", As: "owner", Method: http.MethodPost, URL: "/api/v1/batches/preview",
			Body: map[string]any{"filter": map[string]any{"processKey": "ops-mig", "version": 1}, "operation": batchMigrate}, Status: http.StatusOK,
			Contains: []string{`"count":2`, `"plans":[`, `"canMigrate":true`, `"canMigrate":false`, "Event_Confirmed"},
			Check: func(t *testing.T, r stacktest.Response) {
				var pv struct {
					Plans []struct {
						Instance string `json:"instance"`
						Plan     struct {
							CanMigrate bool `json:"canMigrate"`
						} `json:"plan"`
					} `json:"plans"`
				}
				json.Unmarshal(r.Raw, &pv)
				for _, p := range pv.Plans {
					if p.Plan.CanMigrate != (p.Instance == staying) {
						t.Errorf("plan of %s: can migrate %v", p.Instance, p.Plan.CanMigrate)
					}
				}
			}},
		{Name: "a mapping makes the moved one migratable", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{moved}/migration-preview",
			Body: map[string]any{"toVersion": 2, "mapping": map[string]string{"Event_Confirmed": "Event_Agreed"}}, Status: http.StatusOK,
			Contains: []string{`"canMigrate":true`, `"to":"Event_Agreed"`}},
		{Name: "migrating the moved one without the mapping is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{moved}/migrate",
			Body: migrate, Status: http.StatusConflict, Contains: []string{"Event_Confirmed"}},
		{Name: "a stranger may not migrate", As: "stranger", Method: http.MethodPost, URL: "/api/v1/instances/{staying}/migrate",
			Body: migrate, Status: http.StatusForbidden},
		{Name: "migrate", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{staying}/migrate", Body: migrate, Status: http.StatusOK,
			Contains: []string{`"before":{"status":"waiting","version":1`, `"after":{"status":"waiting","version":2`}},
		{Name: "migrate with the mapping", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{moved}/migrate",
			Body: map[string]any{"reason": "mapped", "toVersion": 2, "mapping": map[string]string{"Event_Confirmed": "Event_Agreed"}}, Status: http.StatusOK,
			Contains: []string{`"activeElements":["Event_Agreed"]`}},
		{Name: "the card shows the new version", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{staying}", Status: http.StatusOK,
			Contains: []string{`"version":2`, `"event":"migrated"`, "v2 renames the confirmation"}},
	})
}

// TestInboxRebuild: an inbox store that lost its documents is rebuilt from the running instances.
func TestInboxRebuild(t *testing.T) {
	s := suiteOnce(t)
	ctx := context.Background()
	waitListed(t, "/api/v1/tasks", s.Tokens["reviewer"], s.Vars["taskID"])
	names, err := env.DB.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range names {
		if c == inbox.BucketsCollection || c == inbox.InstancesCollection {
			if err := env.DB.Collection(c).Drop(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Run(t, []Scenario{
		{Name: "the lost inbox is empty", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks", Status: http.StatusOK, Lacks: []string{"{taskID}"}},
		{Name: "rebuilding is maintenance", As: "owner", Method: http.MethodPost, URL: "/api/v1/tasks/rebuild", Status: http.StatusForbidden},
		{Name: "rebuild", As: "admin", Method: http.MethodPost, URL: "/api/v1/tasks/rebuild", Status: http.StatusOK, Contains: []string{`"written":`}},
		{Name: "the task is back", As: "reviewer", Method: http.MethodGet, URL: "/api/v1/tasks", Status: http.StatusOK, Contains: []string{"{taskID}"}},
	})
}

// TestIncidentOperations: an instance whose service task failed is found by its incident, retried
// (with a wrongly typed variable refused first), and skipped with the output the task should have given.
func TestIncidentOperations(t *testing.T) {
	s := suiteOnce(t)
	deployAndPublish(t, []byte(httpProcess("ops-http", "", "=target")), "ops-http")
	mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/processes/ops-http/owners", env.AdminToken,
		map[string]any{"owners": []string{"user:" + s.Vars["owner"]}}, nil)
	var started struct{ ID string }
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/processes/ops-http/instances", env.AdminToken,
		map[string]any{"variables": map[string]any{"target": "http://127.0.0.1:1/"}}, &started)
	waitInstance(t, started.ID, func(v instanceView) bool { return len(v.Incidents) > 0 })
	waitListed(t, "/api/v1/instances?processKey=ops-http&state=incident", s.Tokens["owner"], started.ID)
	s.Vars["http"] = url.PathEscape(started.ID)
	s.Vars["httpID"] = started.ID
	s.Run(t, []Scenario{
		{Name: "found by its incident", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?state=incident&incident=Task_Probe", Status: http.StatusOK,
			Contains: []string{"{httpID}", `"state":"incident"`}},
		{Name: "the card names the cause", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{http}", Status: http.StatusOK,
			Contains: []string{`"incidents":[`, `"element":"Task_Probe"`, "refused"}},
		{Name: "a retry with a variable of the wrong type is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{http}/retry",
			Body: map[string]any{"reason": "fixed the firewall", "variables": map[string]any{"target": 5}}, Status: http.StatusUnprocessableEntity,
			Contains: []string{`"pointer":"/variables/target"`}},
		{Name: "a stranger may not retry", As: "stranger", Method: http.MethodPost, URL: "/api/v1/instances/{http}/retry",
			Body: map[string]any{"reason": "r"}, Status: http.StatusForbidden},
		{Name: "retry", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{http}/retry",
			Body: map[string]any{"reason": "fixed the firewall"}, Status: http.StatusOK, Contains: []string{`"incidents":[`},
			Check: func(t *testing.T, _ stacktest.Response) { // the task fails again: a new incident
				waitInstance(t, s.Vars["httpID"], func(v instanceView) bool { return len(v.Incidents) > 0 })
			}},
		{Name: "skip the failed task", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{http}/skip",
			Body: map[string]any{"reason": "posted by hand", "output": map[string]any{"status": 200}}, Status: http.StatusOK,
			Check: func(t *testing.T, _ stacktest.Response) {
				waitInstance(t, s.Vars["httpID"], func(v instanceView) bool { return v.Status == "completed" })
			}},
	})
}
