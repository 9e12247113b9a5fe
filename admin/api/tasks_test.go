package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/access"
)

// TestTaskCompletion: completing a task through POST /api/v1/tasks/{id}/complete, which sends the
// caller to the instance instead of querying it first. A task offered to a group is refused to an
// outsider (403), an unknown one is 404, a process operator may complete it (a wrong form value is
// still refused, 422); a member completes it, and the inbox read right after the answer no longer
// holds it (the instance wrote the inbox before answering); a second completion finds no task.
func TestTaskCompletion(t *testing.T) {
	owner, ownerTok := newUser(t, "done-owner@done.test", []string{access.RoleProcessOwner}, nil)
	call(t, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": "done-reviewers", "name": "Completers"}, nil)
	_, memberTok := newUser(t, "done-member@done.test", []string{access.RoleAgent}, []string{"done-reviewers"})
	_, outsiderTok := newUser(t, "done-outsider@done.test", []string{access.RoleAgent}, nil)
	group := strings.Replace(string(renamed(t, "testdata/approval.bpmn", "discount-approval", "done-group")),
		`assignee="=approver"`, `candidateGroups="done-reviewers"`, 1)
	deployAndPublish(t, []byte(group), "done-group")
	mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/processes/done-group/owners", env.AdminToken,
		map[string]any{"owners": []string{"user:" + owner.ID}}, nil)

	vars := map[string]string{}
	for _, name := range []string{"m", "o"} {
		id := startApproval(t, "done-group", owner.ID, "DONE-"+name)
		var card struct {
			UserTasks []struct {
				InboxID string `json:"inboxId"`
			} `json:"userTasks"`
		}
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/instances/"+url.PathEscape(id), env.AdminToken, nil, &card)
		if len(card.UserTasks) != 1 {
			t.Fatalf("tasks of instance %s: %+v", id, card)
		}
		vars[name] = url.PathEscape(id)
		vars[name+"task"] = url.PathEscape(card.UserTasks[0].InboxID)
		vars[name+"taskID"] = card.UserTasks[0].InboxID
	}
	waitListed(t, "/api/v1/tasks", memberTok, vars["mtaskID"], vars["otaskID"])
	approved := map[string]any{"variables": map[string]any{"approved": true}}
	s := Suite{Tokens: map[string]string{"admin": env.AdminToken, "owner": ownerTok, "member": memberTok, "outsider": outsiderTok}, Vars: vars}
	s.Run(t, []Scenario{
		{Name: "an outsider is refused", As: "outsider", Method: http.MethodPost, URL: "/api/v1/tasks/{mtask}/complete", Body: approved,
			Status: http.StatusForbidden, Contains: []string{"not-your-task"}},
		{Name: "an unknown task", As: "member", Method: http.MethodPost, URL: "/api/v1/tasks/{m}~Task_Approve.99/complete", Body: approved,
			Status: http.StatusNotFound},
		{Name: "an unknown instance", As: "member", Method: http.MethodPost, URL: "/api/v1/tasks/done-nothing~Task_Approve.1/complete", Body: approved,
			Status: http.StatusNotFound},
		{Name: "the operator's wrong form value is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/tasks/{otask}/complete",
			Body: map[string]any{"variables": map[string]any{"approved": "yes"}}, Status: http.StatusUnprocessableEntity, Contains: []string{"task-refused", "approved"}},
		{Name: "the operator completes a task not offered to them", As: "owner", Method: http.MethodPost, URL: "/api/v1/tasks/{otask}/complete", Body: approved,
			Status: http.StatusNoContent},
		{Name: "a member completes", As: "member", Method: http.MethodPost, URL: "/api/v1/tasks/{mtask}/complete", Body: approved,
			Status: http.StatusNoContent},
		{Name: "the inbox read right after holds neither task", As: "member", Method: http.MethodGet, URL: "/api/v1/tasks", Status: http.StatusOK,
			Lacks: []string{"{mtaskID}", "{otaskID}"}},
		{Name: "completing again finds no task", As: "member", Method: http.MethodPost, URL: "/api/v1/tasks/{mtask}/complete", Body: approved,
			Status: http.StatusNotFound},
		{Name: "completions and the refusal are audited with the element", As: "admin", Method: http.MethodGet,
			URL: "/api/v1/audit?action=task.complete&target=" + url.QueryEscape(vars["mtaskID"]), Status: http.StatusOK,
			Contains: []string{`"outcome":"success"`, `"outcome":"denied"`, `"element":"Task_Approve"`}},
	})
}
