// Package e2e_test drives the three shipped CRM processes on a whole embedded stack as a fresh
// installation has it (templates installed on first start), through the HTTP API, with a real SMTP
// server receiving the mail.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/cmd/rapport/stack"
	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/notifications/smtptest"
	"github.com/rapportcrm/rapport/workflows/process"
)

var (
	env  *stacktest.Env
	mail *smtptest.Server
)

func TestMain(m *testing.M) {
	var err error
	if mail, err = smtptest.Listen(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer mail.Close()
	// The CSV connector stands in for an ERP: lead enrichment and the ERP sync run through the real plugin.
	installERP := func(dataDir string) error {
		return stacktest.InstallPlugin(dataDir, "csv", "github.com/rapportcrm/rapport/plugins/connectors/csv")
	}
	stacktest.MainWithTemplates(m, &env, installERP, func(c *stack.Config) { c.SMTPURL = mail.URL("Rapport <crm@example.test>") })
}

// person is a user of the test stack with a session.
type person struct {
	*identity.User
	token string
}

func newPerson(t *testing.T, email string, roles, teams []string) person {
	t.Helper()
	ctx := context.Background()
	for _, team := range teams {
		if _, err := env.Stack.Users.Team(ctx, team); err != nil {
			if _, err := env.Stack.Users.CreateTeam(ctx, identity.Team{ID: team, Name: team}); err != nil {
				t.Fatalf("team %s: %v", team, err)
			}
		}
	}
	u, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: email, Name: email, Password: "password-of-" + email, Roles: roles, Teams: teams})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	tok, err := env.Login(ctx, email, "password-of-"+email)
	if err != nil {
		t.Fatal(err)
	}
	return person{User: u, token: tok}
}

// do sends a request as the administrator (or with token) and decodes the JSON answer into out.
func do(t *testing.T, token, method, path string, body, out any, want int) {
	t.Helper()
	if token == "" {
		token = env.AdminToken
	}
	r := env.Call(t, method, path, token, body)
	if r.Status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	if out != nil {
		if err := json.Unmarshal(r.Raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, r.Raw)
		}
	}
}

func create(t *testing.T, entity string, fields map[string]any) map[string]any {
	t.Helper()
	var rec map[string]any
	do(t, "", http.MethodPost, "/api/v1/records/"+entity, fields, &rec, http.StatusCreated)
	return rec
}

func get(t *testing.T, entity, id string) map[string]any {
	t.Helper()
	var rec map[string]any
	do(t, "", http.MethodGet, "/api/v1/records/"+entity+"/"+id, nil, &rec, http.StatusOK)
	return rec
}

func list(t *testing.T, entity, filter string) []map[string]any {
	t.Helper()
	var page struct{ Items []map[string]any }
	do(t, "", http.MethodGet, "/api/v1/records/"+entity+"?"+url.Values{"filter": {filter}}.Encode(), nil, &page, http.StatusOK)
	return page.Items
}

// eventually polls cond until it holds or the time is up, and fails the test with what it saw last.
// It waits at least 90 seconds: on a shared machine under load a record-triggered process has been
// seen to take more than a minute to start (the timeout only bounds a failing test).
func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	timeout = max(timeout, 90*time.Second)
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; last seen: %s", what, timeout, last)
}

// waitRecord polls a record until check holds.
func waitRecord(t *testing.T, entity, id string, timeout time.Duration, check func(map[string]any) bool) map[string]any {
	t.Helper()
	var rec map[string]any
	eventually(t, entity+" "+id, timeout, func() (bool, string) {
		rec = get(t, entity, id)
		b, _ := json.Marshal(rec)
		return check(rec), string(b)
	})
	return rec
}

// task is an open user task as GET /api/v1/tasks lists it.
type task struct {
	ID              string   `json:"id"`
	InstanceID      string   `json:"instanceId"`
	ProcessKey      string   `json:"processKey"`
	Element         string   `json:"element"`
	Assignee        string   `json:"assignee"`
	CandidateGroups []string `json:"candidateGroups"`
}

// waitTask polls the caller's inbox until a task of element whose instance id contains key appears.
func waitTask(t *testing.T, token, element, key string, timeout time.Duration) task {
	t.Helper()
	var found task
	eventually(t, "task "+element+" for "+key, timeout, func() (bool, string) {
		var tasks []task
		do(t, token, http.MethodGet, "/api/v1/tasks", nil, &tasks, http.StatusOK)
		for _, x := range tasks {
			if x.Element == element && strings.Contains(x.InstanceID, key) {
				found = x
				return true, ""
			}
		}
		b, _ := json.Marshal(tasks)
		return false, string(b)
	})
	return found
}

func complete(t *testing.T, token string, tk task, vars map[string]any, want int) {
	t.Helper()
	do(t, token, http.MethodPost, "/api/v1/tasks/"+url.PathEscape(tk.ID)+"/complete", map[string]any{"variables": vars}, nil, want)
}

// notified reports whether the user has an in-app notification of template about the record; one
// that arrived without its text rendered (an empty subject, a body of raw data) fails the test.
func notified(t *testing.T, token, template, recordID string) bool {
	t.Helper()
	n := notification(t, token, template, recordID)
	if n == nil {
		return false
	}
	if n.Subject == "" || strings.HasPrefix(strings.TrimSpace(n.Body), "{") || strings.Contains(n.Subject+n.Body, "<no value>") {
		t.Errorf("notification %s is not rendered: subject %q, body %q", template, n.Subject, n.Body)
	}
	return true
}

// note is an in-app notification as the API lists it.
type note struct {
	Template, Subject, Body string
	Data                    map[string]any
}

// notification is the user's newest in-app notification of template about the record, or nil.
func notification(t *testing.T, token, template, recordID string) *note {
	t.Helper()
	var list []note
	do(t, token, http.MethodGet, "/api/v1/notifications", nil, &list, http.StatusOK)
	for i, n := range list {
		if n.Template == template && n.Data["recordId"] == recordID {
			return &list[i]
		}
	}
	return nil
}

// instance finds the running instance of a process for a business key (waiting as eventually does).
func instance(t *testing.T, processKey, businessKey string, timeout time.Duration) string {
	t.Helper()
	id := ""
	eventually(t, processKey+" instance for "+businessKey, timeout, func() (bool, string) {
		resp, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "rapport", PageSize: 10,
			Query: fmt.Sprintf("RapportProcessKey = '%s' AND RapportBusinessKey = '%s'", processKey, businessKey),
		})
		if err != nil {
			return false, err.Error()
		}
		for _, ex := range resp.GetExecutions() {
			id = ex.GetExecution().GetWorkflowId()
			return true, ""
		}
		return false, "none"
	})
	return id
}

// openTask waits for an open user task of element in an instance, as /api/v1/tasks/{id}/complete names it.
func openTask(t *testing.T, instanceID, element string, timeout time.Duration) task {
	t.Helper()
	var found task
	eventually(t, element+" in "+instanceID, timeout, func() (bool, string) {
		v, err := env.Temporal.QueryWorkflow(context.Background(), instanceID, "", process.QueryUserTasks)
		if err != nil {
			return false, err.Error()
		}
		var tasks []process.UserTask
		if err := v.Get(&tasks); err != nil {
			return false, err.Error()
		}
		for _, u := range tasks {
			if u.Element == element {
				found = task{ID: instanceID + "~" + u.ID, InstanceID: instanceID, Element: u.Element, Assignee: u.Assignee, CandidateGroups: u.CandidateGroups}
				return true, ""
			}
		}
		b, _ := json.Marshal(tasks)
		return false, string(b)
	})
	return found
}

// snapshot reads an instance's state.
func snapshot(t *testing.T, instanceID string) process.Snapshot {
	t.Helper()
	v, err := env.Temporal.QueryWorkflow(context.Background(), instanceID, "", process.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var s process.Snapshot
	if err := v.Get(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// ended waits until an instance completed at end.
func ended(t *testing.T, instanceID, end string, timeout time.Duration) {
	t.Helper()
	eventually(t, instanceID+" ends at "+end, timeout, func() (bool, string) {
		d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), instanceID, "")
		if err != nil {
			return false, err.Error()
		}
		if d.GetWorkflowExecutionInfo().GetStatus().String() != "Completed" {
			// The snapshot only explains a wait that times out; a query that fails meanwhile (a worker
			// busy or restarting) is reported, not fatal: whether the instance ends is the check.
			v, err := env.Temporal.QueryWorkflow(context.Background(), instanceID, "", process.QueryState)
			var s process.Snapshot
			if err == nil {
				err = v.Get(&s)
			}
			if err != nil {
				return false, "query: " + err.Error()
			}
			b, _ := json.Marshal(map[string]any{"active": s.ActiveElements, "incidents": s.Incidents})
			return false, string(b)
		}
		var res process.Result
		if err := env.Temporal.GetWorkflow(context.Background(), instanceID, "").Get(context.Background(), &res); err != nil {
			return false, err.Error()
		}
		return res.EndElement == end, "ended at " + res.EndElement
	})
}

// mailAbout waits until a mail to addr whose subject names about arrives (the agent gets mail about
// other records of other tests too).
func mailAbout(addr, about string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		for _, m := range mail.To(addr) {
			if strings.Contains(m.Subject, about) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
