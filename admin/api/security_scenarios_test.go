package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/identity"
)

// securityProcess is a record-triggered process (on leads of one company, so no other test starts it)
// that waits at a user task with the lead in its `record` variable, offered to the team sc-south and the
// roles sc-name-hidden and sc-own-reader (who reads only its own leads, so not this one).
const securityProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Scoped" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="scoped-lead" name="Scoped lead" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Lead">
      <bpmn:extensionElements>
        <rapport:recordTrigger entity="lead" on="created" condition="=record.companyName == &#34;Scenario Trigger Co&#34;" />
      </bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Task_Review" name="Review the lead">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="sc-south,sc-name-hidden,sc-own-reader" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Lead" targetRef="Task_Review" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Review" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`

// httpProcess is a process with one http task; key, url header and input are filled in.
func httpProcess(key, urlHeader, urlInput string) string {
	headers, inputs := "", ""
	if urlHeader != "" {
		headers = `<zeebe:taskHeaders><zeebe:header key="url" value="` + urlHeader + `" /></zeebe:taskHeaders>`
	}
	if urlInput != "" {
		inputs = `<zeebe:ioMapping><zeebe:input source="` + urlInput + `" target="url" /></zeebe:ioMapping>`
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_` + key + `" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + key + `" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="target" type="string" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_Probe" name="Probe">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="http" retries="1" />` + headers + inputs + `
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_Probe" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Probe" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`
}

// securitySuite creates the principals and fixtures of the security scenarios once per test binary.
func securitySuite(t *testing.T) Suite {
	t.Helper()
	ctx := context.Background()
	tokens := map[string]string{"admin": env.AdminToken}
	for role, tok := range builtInRoleTokens(t) {
		tokens[role] = tok
	}
	for _, team := range []string{"sc-north", "sc-south"} {
		call(t, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": team, "name": team}, nil)
	}
	roles := []map[string]any{
		{"name": "sc-role-manager", "permissions": []string{access.RolesManage, access.RolesRead, "records.lead.read"}},
		{"name": "sc-editable", "permissions": []string{"records.lead.read"}},
		{"name": "sc-email-hidden", "permissions": []string{access.InstancesRead, "records.lead.read"},
			"scopes": map[string]string{"lead": "all"}, "fields": map[string]any{"lead": map[string]any{"hidden": []string{"email", "budget"}}}},
		{"name": "sc-name-hidden", "permissions": []string{access.TasksRead, "records.lead.read"},
			"scopes": map[string]string{"lead": "all"}, "fields": map[string]any{"lead": map[string]any{"hidden": []string{"name"}}}},
		{"name": "sc-own-reader", "permissions": []string{access.TasksRead, "records.lead.read"}, "scopes": map[string]string{"lead": "own"}},
	}
	for _, r := range roles {
		call(t, http.MethodPost, "/api/v1/roles", env.AdminToken, r, nil)
	}
	principals := []struct {
		key   string
		roles []string
		teams []string
	}{
		{"roles-manager", []string{"sc-role-manager"}, nil},
		{"manager-north", []string{access.RoleManager}, []string{"sc-north"}},
		{"manager-south", []string{access.RoleManager}, []string{"sc-south"}},
		{"email-hidden", []string{"sc-email-hidden"}, nil},
		{"name-hidden", []string{"sc-name-hidden"}, nil},
		{"own-reader", []string{"sc-own-reader"}, nil},
	}
	for _, p := range principals {
		email := "sc-" + p.key + "@scenarios.test"
		if _, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: email, Password: "password-of-" + email, Roles: p.roles, Teams: p.teams}); err != nil {
			t.Fatal(err)
		}
		tok, err := env.Login(ctx, email, "password-of-"+email)
		if err != nil {
			t.Fatal(err)
		}
		tokens[p.key] = tok
	}

	deployAndPublish(t, []byte(securityProcess), "scoped-lead")
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger list at most every 2 s
	var lead map[string]any
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/records/lead", env.AdminToken, map[string]any{
		"source": "webForm", "name": "Sally South", "companyName": "Scenario Trigger Co", "status": "new", "team": "sc-south",
		"email": "secret.south@example.com", "budget": map[string]any{"amount": 777123, "currency": "EUR"},
	}, &lead)
	leadID := lead["id"].(string)
	instance := ""
	deadline := time.Now().Add(30 * time.Second)
	for instance == "" && time.Now().Before(deadline) {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "rapport", Query: "RapportProcessKey = 'scoped-lead' AND RapportRecordID = '" + leadID + "'"})
		if err != nil {
			t.Fatal(err)
		}
		if ex := resp.GetExecutions(); len(ex) > 0 {
			instance = ex[0].GetExecution().GetWorkflowId()
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if instance == "" {
		t.Fatal("the lead started no instance")
	}
	// The inbox is materialised asynchronously: wait until the task reaches it.
	waitListed(t, "/api/v1/tasks?view=claimable", tokens["manager-south"], instance)
	return Suite{Tokens: tokens, Vars: map[string]string{
		"instance": instance,
		// The same shape, for a lead that does not exist: the answer must not differ.
		"guessed": strings.Replace(instance, leadID, "00000000-0000-0000-0000-000000000000", 1),
	}}
}

// TestSecurityScenarios are the black-box findings of issue 10 as scenario rows: each failed on the code
// before the fix.
func TestSecurityScenarios(t *testing.T) {
	s := securitySuite(t)
	loopback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer loopback.Close()
	s.Vars["loopback"] = loopback.URL
	xml := func(key, header, input string) string { return httpProcess(key, header, input) }

	s.Run(t, []Scenario{
		// Finding 1: roles.manage grants only what its holder has; built-in and own roles are fixed.
		{Name: "F1 role manager cannot create a star role", As: "roles-manager", Method: http.MethodPost, URL: "/api/v1/roles",
			Body: map[string]any{"name": "sc-star", "permissions": []string{"*"}}, Status: http.StatusForbidden, Contains: []string{"role-exceeds-yours", "permission *"}},
		{Name: "F1 role manager cannot widen a role to star", As: "roles-manager", Method: http.MethodPut, URL: "/api/v1/roles/sc-editable",
			Body: map[string]any{"permissions": []string{"*"}}, Status: http.StatusForbidden},
		{Name: "F1 role manager cannot grant users.manage", As: "roles-manager", Method: http.MethodPost, URL: "/api/v1/roles",
			Body: map[string]any{"name": "sc-helpdesk", "permissions": []string{access.UsersManage}}, Status: http.StatusForbidden, Contains: []string{"users.manage"}},
		{Name: "F1 role manager cannot widen a scope", As: "roles-manager", Method: http.MethodPut, URL: "/api/v1/roles/sc-editable",
			Body: map[string]any{"permissions": []string{"records.lead.read"}, "scopes": map[string]string{"lead": "all"}}, Status: http.StatusForbidden,
			Contains: []string{"scope all on records.lead.read"}},
		{Name: "F1 role manager cannot edit its own role", As: "roles-manager", Method: http.MethodPut, URL: "/api/v1/roles/sc-role-manager",
			Body: map[string]any{"permissions": []string{access.RolesManage, access.RolesRead}}, Status: http.StatusForbidden, Contains: []string{"own-role"}},
		{Name: "F1 role manager cannot delete its own role", As: "roles-manager", Method: http.MethodDelete, URL: "/api/v1/roles/sc-role-manager", Status: http.StatusForbidden},
		{Name: "F1 role manager cannot change a role stronger than itself", As: "roles-manager", Method: http.MethodPut, URL: "/api/v1/roles/sc-email-hidden",
			Body: map[string]any{"permissions": []string{"records.lead.read"}}, Status: http.StatusForbidden},
		{Name: "F1 built-in roles are immutable", As: "roles-manager", Method: http.MethodPut, URL: "/api/v1/roles/admin",
			Body: map[string]any{"permissions": []string{}}, Status: http.StatusConflict},
		{Name: "F1 a role within the manager's own grants", As: "roles-manager", Method: http.MethodPost, URL: "/api/v1/roles",
			Body: map[string]any{"name": "sc-narrow", "permissions": []string{access.RolesRead}}, Status: http.StatusCreated},
		{Name: "F1 narrowing a role it may change", As: "roles-manager", Method: http.MethodPut, URL: "/api/v1/roles/sc-editable",
			Body: map[string]any{"permissions": []string{"records.lead.read"}}, Status: http.StatusOK},
		{Name: "F1 administrators still define any role", As: "admin", Method: http.MethodPost, URL: "/api/v1/roles",
			Body: map[string]any{"name": "sc-admin-made", "permissions": []string{"*"}}, Status: http.StatusCreated},

		// Finding 3: instance reads apply the record scope and strip hidden fields.
		{Name: "F3 a manager of another team does not see the instance", As: "manager-north", Method: http.MethodGet, URL: "/api/v1/instances/{instance}",
			Status: http.StatusNotFound, Contains: []string{"no instance {instance}"}, Lacks: []string{"secret.south", "Sally"}},
		{Name: "F3 a guessed instance ID answers the same", As: "manager-north", Method: http.MethodGet, URL: "/api/v1/instances/{guessed}",
			Status: http.StatusNotFound, Contains: []string{"no instance {guessed}"}},
		{Name: "F3 the team's manager sees it", As: "manager-south", Method: http.MethodGet, URL: "/api/v1/instances/{instance}",
			Status: http.StatusOK, Contains: []string{"Sally South", "secret.south@example.com", "Task_Review"}},
		{Name: "F3 hidden fields are stripped from the record variable", As: "email-hidden", Method: http.MethodGet, URL: "/api/v1/instances/{instance}",
			Status: http.StatusOK, Contains: []string{"Sally South"}, Lacks: []string{"secret.south", "777123", `"budget"`}},
		{Name: "F3 operators see instances of any record", As: access.RoleProcessOwner, Method: http.MethodGet, URL: "/api/v1/instances/{instance}",
			Status: http.StatusOK, Contains: []string{"Sally South"}},
		{Name: "F3 the team's manager finds the instance in the list", As: "manager-south", Method: http.MethodGet, URL: "/api/v1/instances?processKey=scoped-lead",
			Status: http.StatusOK, Contains: []string{"{instance}"}},
		{Name: "F3 a manager of another team does not find it in the list", As: "manager-north", Method: http.MethodGet, URL: "/api/v1/instances?processKey=scoped-lead",
			Status: http.StatusOK, Lacks: []string{"{instance}"}},
		{Name: "F3 the inbox names the record to a reader of its name", As: "manager-south", Method: http.MethodGet, URL: "/api/v1/tasks?view=claimable",
			Status: http.StatusOK, Contains: []string{"{instance}", `"recordName":"Sally South"`}},
		{Name: "F3 the inbox does not name it to one the name is hidden from", As: "name-hidden", Method: http.MethodGet, URL: "/api/v1/tasks?view=claimable",
			Status: http.StatusOK, Contains: []string{"{instance}"}, Lacks: []string{"Sally South", "secret.south"}},
		{Name: "F3 the inbox does not name it to a candidate outside the record's scope", As: "own-reader", Method: http.MethodGet, URL: "/api/v1/tasks?view=claimable",
			Status: http.StatusOK, Contains: []string{"{instance}"}, Lacks: []string{"Sally South", "secret.south"}},

		// Finding 4: a process whose diagram names a refused URL cannot be deployed.
		{Name: "F4 deploying a loopback URL is refused naming the task", As: access.RoleAnalyst, Method: http.MethodPost, URL: "/api/v1/processes",
			Body: xml("sc-probe-readyz", "{loopback}/readyz", ""), Headers: []string{"Content-Type", "application/xml"},
			Status: http.StatusUnprocessableEntity, Contains: []string{`"element":"Task_Probe"`, "loopback address", "--http-allow"}},
		{Name: "F4 the cloud metadata address is refused", As: access.RoleAnalyst, Method: http.MethodPost, URL: "/api/v1/processes",
			Body: xml("sc-probe-metadata", "", `=&#34;http://169.254.169.254/latest/meta-data/&#34;`), Headers: []string{"Content-Type", "application/xml"},
			Status: http.StatusUnprocessableEntity, Contains: []string{"Task_Probe", "link-local"}},
		{Name: "F4 validation reports it too", As: access.RoleAnalyst, Method: http.MethodPost, URL: "/api/v1/processes/validate",
			Body: xml("sc-probe-private", "http://10.1.2.3/", ""), Headers: []string{"Content-Type", "application/xml"},
			Status: http.StatusOK, Contains: []string{`"valid":false`, "Task_Probe", "RFC 1918"}},
		{Name: "F4 a public URL deploys", As: access.RoleAnalyst, Method: http.MethodPost, URL: "/api/v1/processes",
			Body: xml("sc-probe-public", "https://mail.example.com/send", ""), Headers: []string{"Content-Type", "application/xml"},
			Status: http.StatusCreated},

		// Finding 13: regular expressions are literals compiled when saved.
		{Name: "F13 a pattern built at run time is refused", As: access.RoleAnalyst, Method: http.MethodPost, URL: "/api/v1/rulesets",
			Body: map[string]any{"key": "sc-regex", "kind": "scoring", "entity": "lead", "rules": []any{
				map[string]any{"name": "slow", "when": `name matches repeat("a?", 8000) + repeat("a", 8000)`, "points": 1}}},
			Status: http.StatusUnprocessableEntity, Contains: []string{"string literal"}},
		{Name: "F13 a literal pattern is fine", As: access.RoleAnalyst, Method: http.MethodPost, URL: "/api/v1/rulesets",
			Body: map[string]any{"key": "sc-regex-literal", "kind": "scoring", "entity": "lead", "rules": []any{
				map[string]any{"name": "gmbh", "when": `companyName matches "(?i)gmbh$"`, "points": 1}}},
			Status: http.StatusCreated},
	})
}

// TestSSRFAtRunTime: a URL computed at run time that points at this machine is refused when the task
// connects; the target never sees a request and the instance stops with the reason.
func TestSSRFAtRunTime(t *testing.T) {
	var hits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"secret":"internal"}`)
	}))
	defer internal.Close()
	deployAndPublish(t, []byte(httpProcess("sc-runtime-probe", "", "=target")), "sc-runtime-probe")
	for _, target := range []string{internal.URL + "/", strings.Replace(internal.URL, "127.0.0.1", "localhost", 1) + "/", env.BaseURL + "/readyz"} {
		t.Run(target, func(t *testing.T) {
			var started struct{ ID string }
			mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/processes/sc-runtime-probe/instances", env.AdminToken,
				map[string]any{"variables": map[string]any{"target": target}}, &started)
			var snap map[string]any
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/instances/"+started.ID, env.AdminToken, nil, &snap)
				if snap["status"] != "running" || snap["incidents"] != nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			raw, _ := json.Marshal(snap)
			if !strings.Contains(string(raw), "refused") || strings.Contains(string(raw), "internal\"") {
				t.Fatalf("instance after a refused request: %s", raw)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal server got %d requests", n)
	}
}
