package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/identity"
)

// instanceView is what these tests read of GET /api/v1/instances/{id}.
type instanceView struct {
	Status         string         `json:"status"`
	EndElement     string         `json:"endElement"`
	BusinessKey    string         `json:"businessKey"`
	Variables      map[string]any `json:"variables"`
	ActiveElements []string       `json:"activeElements"`
	Incidents      []struct {
		Element string `json:"element"`
		Kind    string `json:"kind"`
		Message string `json:"message"`
	} `json:"incidents"`
}

// waitInstance polls an instance until ok holds (or fails the test after 60 s).
func waitInstance(t *testing.T, id string, ok func(instanceView) bool) instanceView {
	t.Helper()
	var v instanceView
	var raw []byte
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, raw, _ = env.Do(context.Background(), http.MethodGet, "/api/v1/instances/"+url.PathEscape(id), env.AdminToken, nil)
		v = instanceView{}
		json.Unmarshal(raw, &v)
		if ok(v) {
			return v
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("instance %s never got there: %s", id, raw)
	return v
}

// TestPublishingNeedsWhatTheProcessDoes (issue 10, finding 11 and design question A): an analyst, who
// may publish processes but may neither call connectors nor write companies, is shown what the process
// needs before publishing and may not publish it; an administrator publishes it under a role that
// grants those permissions, and the version names its run-as principal.
func TestPublishingNeedsWhatTheProcessDoes(t *testing.T) {
	xml := renamed(t, "testdata/service-tasks.bpmn", "onboard-customer", "onboard-customer-runas")
	_, analyst := newUser(t, "ana.runas@example.test", []string{access.RoleAnalyst}, nil)

	var rep api.ValidationReport
	if status := call(t, http.MethodPost, "/api/v1/processes/validate", analyst, xml, &rep); status != http.StatusOK || !rep.Valid {
		t.Fatalf("validate: %d %+v", status, rep)
	}
	need := map[string]string{}
	for _, r := range rep.Requirements {
		need[r.Permission] = strings.Join(r.Elements, ",")
	}
	for perm, el := range map[string]string{"connectors.call": "Task_LookUpERP", "records.company.write": "Task_CreateCompany"} {
		if need[perm] != el {
			t.Errorf("requirement %s = %q, want element %s (all: %+v)", perm, need[perm], el, rep.Requirements)
		}
	}
	if rep.RunAs != nil || !strings.Contains(rep.PublishRefusal, "connectors.call") {
		t.Errorf("the preview does not tell the analyst why publishing is refused: %+v", rep)
	}

	if status, body, _ := env.Do(context.Background(), http.MethodPost, "/api/v1/processes", analyst, xml); status != http.StatusCreated {
		t.Fatalf("deploy as analyst: %d %s", status, body)
	}
	tests := []struct {
		name       string
		token      string
		body       any
		wantStatus int
		want       []string
	}{
		{"an analyst without connectors.call", analyst, nil, http.StatusForbidden,
			[]string{`"element":"Task_LookUpERP"`, "connectors.call", `"element":"Task_CreateCompany"`, "records.company.write"}},
		{"a role without connectors.call", env.AdminToken, map[string]any{"runAs": map[string]any{"role": "integration"}}, http.StatusUnprocessableEntity,
			[]string{"connectors.call", `"element":"Task_LookUpERP"`}},
		{"an unknown role", env.AdminToken, map[string]any{"runAs": map[string]any{"role": "no-such-role"}}, http.StatusUnprocessableEntity,
			[]string{"/runAs/role"}},
		{"an administrator, as admin", env.AdminToken, map[string]any{"runAs": map[string]any{"role": "admin"}}, http.StatusCreated,
			[]string{`"principal":"process:onboard-customer-runas@1"`, `"role":"admin"`, `"connectors.call"`, `"records.company.write"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := env.Do(context.Background(), http.MethodPost, "/api/v1/processes/onboard-customer-runas/publish", tt.token, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("response lacks %s: %s", w, body)
				}
			}
		})
	}
}

const touchLeadBPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Touch" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="touch-lead" name="Touch a lead" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="leadId" type="string" required="true" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_Touch" name="Mark contacted">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="record.update" retries="1" />
        <zeebe:taskHeaders><zeebe:header key="entity" value="lead" /></zeebe:taskHeaders>
        <zeebe:ioMapping>
          <zeebe:input source="=leadId" target="id" />
          <zeebe:input source="=&#34;contacted&#34;" target="status" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_Touch" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Touch" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`

// TestProcessActsUnderItsRunAsIdentity (issue 10, design question A): a process published by a user
// whose role reaches the leads of her team runs as a service principal with that reach. It updates a
// lead of her team — and history and audit name the process and its principal — but not a lead of
// another team; and once the role loses records.lead.write, the task is refused like an API call.
func TestProcessActsUnderItsRunAsIdentity(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"runas-east", "runas-west"} {
		if _, err := env.Stack.Users.CreateTeam(ctx, identity.Team{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	role := access.Role{Name: "lead-publisher", Permissions: []string{"processes.deploy", "processes.publish", "instances.start", "instances.read",
		"records.lead.read", "records.lead.write"}, Scopes: map[string]access.Scope{"lead": access.ScopeTeam}}
	if _, err := env.Stack.Access.CreateRole(ctx, role); err != nil {
		t.Fatal(err)
	}
	_, mia := newUser(t, "mia.runas@example.test", []string{role.Name}, []string{"runas-east"})
	if status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes", mia, []byte(touchLeadBPMN)); status != http.StatusCreated {
		t.Fatalf("deploy: %d %s", status, body)
	}
	var published api.PublishResult
	if status := call(t, http.MethodPost, "/api/v1/processes/touch-lead/publish", mia, nil, &published); status != http.StatusCreated {
		t.Fatalf("publish as mia: %d", status)
	}
	if published.RunAs.Principal != "process:touch-lead@1" || published.RunAs.Role != role.Name {
		t.Fatalf("run-as identity: %+v", published.RunAs)
	}
	lead := func(team string) string {
		var rec struct{ ID string }
		if status := call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken,
			map[string]any{"source": "webForm", "name": "Lead of " + team, "status": "new", "team": team}, &rec); status != http.StatusCreated {
			t.Fatalf("create lead: %d", status)
		}
		return rec.ID
	}
	start := func(leadID string) string {
		var st api.StartedInstance
		if status := call(t, http.MethodPost, "/api/v1/processes/touch-lead/instances", mia,
			map[string]any{"variables": map[string]any{"leadId": leadID}}, &st); status != http.StatusCreated {
			t.Fatalf("start: %d", status)
		}
		return st.ID
	}
	status := func(id string) string {
		var rec struct{ Status string }
		call(t, http.MethodGet, "/api/v1/records/lead/"+id, env.AdminToken, nil, &rec)
		return rec.Status
	}
	ended := func(v instanceView) bool { return v.Status == "completed" || len(v.Incidents) > 0 }

	east, west := lead("runas-east"), lead("runas-west")
	inst := start(east)
	if v := waitInstance(t, inst, ended); v.Status != "completed" || status(east) != "contacted" {
		t.Fatalf("updating a lead of the publisher's team: %+v, lead status %q", v, status(east))
	}
	var hist struct {
		Items []struct {
			Actor struct{ Process, RunAs, Via string }
		}
	}
	call(t, http.MethodGet, "/api/v1/records/lead/"+east+"/history", env.AdminToken, nil, &hist)
	if len(hist.Items) == 0 || hist.Items[0].Actor.RunAs != "process:touch-lead@1" || hist.Items[0].Actor.Process != inst {
		t.Errorf("history does not name the process and its principal: %+v", hist.Items)
	}
	_, auditBody, _ := env.Do(ctx, http.MethodGet, "/api/v1/audit?target="+url.QueryEscape(inst), env.AdminToken, nil)
	if !strings.Contains(string(auditBody), `"id":"process:touch-lead@1"`) || !strings.Contains(string(auditBody), `"process:`+inst) {
		t.Errorf("audit log does not name the principal and the instance: %s", auditBody)
	}

	inst = start(west)
	if v := waitInstance(t, inst, ended); v.Status == "completed" || status(west) != "new" {
		t.Fatalf("a lead of another team was updated: %+v, lead status %q", v, status(west))
	}

	role.Permissions = []string{"processes.deploy", "processes.publish", "instances.start", "instances.read", "records.lead.read"}
	if _, err := env.Stack.Access.UpdateRole(ctx, role); err != nil {
		t.Fatal(err)
	}
	inst = start(lead("runas-east"))
	v := waitInstance(t, inst, ended)
	if len(v.Incidents) == 0 || !strings.Contains(v.Incidents[0].Message, "records.lead.write") || !strings.Contains(v.Incidents[0].Message, "process:touch-lead@1") {
		t.Fatalf("a task its role no longer allows was not refused with a reason: %+v", v)
	}
}

// TestOperatingNeedsOwnership (issue 10, design question B): instances.operate lets a process owner
// complete someone else's task only in processes they own (as a user or through a team); owners are
// changed by an owner or an administrator.
func TestOperatingNeedsOwnership(t *testing.T) {
	ctx := context.Background()
	deployAndPublish(t, renamed(t, "testdata/approval.bpmn", "discount-approval", "discount-approval-owned"), "discount-approval-owned")
	if _, err := env.Stack.Users.CreateTeam(ctx, identity.Team{ID: "owners-team", Name: "Owners"}); err != nil {
		t.Fatal(err)
	}
	olga, olgaTok := newUser(t, "olga.owner@example.test", []string{access.RoleProcessOwner}, nil)
	_, oscarTok := newUser(t, "oscar.owner@example.test", []string{access.RoleProcessOwner}, nil)
	_, tinaTok := newUser(t, "tina.owner@example.test", []string{access.RoleProcessOwner}, []string{"owners-team"})
	_, anaTok := newUser(t, "ana.owner@example.test", []string{access.RoleAnalyst}, nil)
	ann, _ := newUser(t, "ann.owner@example.test", []string{access.RoleAgent}, nil)

	owners := "/api/v1/processes/discount-approval-owned/owners"
	if status := call(t, http.MethodPut, owners, anaTok, map[string]any{"owners": []string{"user:" + ann.ID}}, nil); status != http.StatusForbidden {
		t.Fatalf("a non-owner changed the owners: %d", status)
	}
	if status := call(t, http.MethodPut, owners, env.AdminToken, map[string]any{"owners": []string{"admin"}}, nil); status != http.StatusUnprocessableEntity {
		t.Fatalf("an owner that is neither user: nor team: was accepted: %d", status)
	}
	if status := call(t, http.MethodPut, owners, env.AdminToken, map[string]any{"owners": []string{"user:" + olga.ID, "team:owners-team"}}, nil); status != http.StatusOK {
		t.Fatalf("set owners: %d", status)
	}

	task := func(orderID string) string {
		var st api.StartedInstance
		if status := call(t, http.MethodPost, "/api/v1/processes/discount-approval-owned/instances", env.AdminToken,
			map[string]any{"variables": map[string]any{"orderId": orderID, "approver": ann.ID, "discount": 5}}, &st); status != http.StatusCreated {
			t.Fatalf("start: %d", status)
		}
		waitInstance(t, st.ID, func(v instanceView) bool { return len(v.ActiveElements) == 1 && v.ActiveElements[0] == "Task_Approve" })
		return "/api/v1/tasks/" + st.ID + "~"
	}
	// The task ID is the instance ID and the user task's ID; read it from the instance.
	complete := func(prefix, token string) int {
		id := strings.TrimSuffix(strings.TrimPrefix(prefix, "/api/v1/tasks/"), "~")
		_, raw, _ := env.Do(ctx, http.MethodGet, "/api/v1/instances/"+id, env.AdminToken, nil)
		var snap struct {
			UserTasks []struct{ ID string } `json:"userTasks"`
		}
		json.Unmarshal(raw, &snap)
		if len(snap.UserTasks) != 1 {
			t.Fatalf("user tasks of %s: %s", id, raw)
		}
		return call(t, http.MethodPost, prefix+snap.UserTasks[0].ID+"/complete", token, map[string]any{"variables": map[string]any{"approved": true}}, nil)
	}
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"a process owner who does not own it", oscarTok, http.StatusForbidden},
		{"its owner", olgaTok, http.StatusNoContent},
		{"a member of the owning team", tinaTok, http.StatusNoContent},
		{"an administrator", env.AdminToken, http.StatusNoContent},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := complete(task("OWN-"+string(rune('A'+i))), tt.token); got != tt.want {
				t.Fatalf("completing ann's task: %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRecordEventsReachBoundInstances (issue 12): a contact's follow-up instance, started by the
// contact (so its business key is the contact's ID), waits for "an interaction was recorded"; creating
// an interaction that references the contact delivers record.interaction.created to it.
func TestRecordEventsReachBoundInstances(t *testing.T) {
	ctx := context.Background()
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Cadence" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="contact-cadence" name="Contact cadence" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Contact">
      <bpmn:extensionElements><rapport:recordTrigger entity="contact" on="created" condition="=record.position == &#34;cadence test&#34;" /></bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Event_Interaction" name="Interaction recorded">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="Def_1" messageRef="Message_Interaction" />
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Contact" targetRef="Event_Interaction" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Event_Interaction" targetRef="EndEvent_1" />
  </bpmn:process>
  <bpmn:message id="Message_Interaction" name="record.interaction.created">
    <bpmn:extensionElements><zeebe:subscription correlationKey="=record.id" /></bpmn:extensionElements>
  </bpmn:message>
</bpmn:definitions>`
	deployAndPublish(t, []byte(xml), "contact-cadence")
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger index at most every 2 s
	var contact struct{ ID string }
	if status := call(t, http.MethodPost, "/api/v1/records/contact", env.AdminToken,
		map[string]any{"firstName": "Cadence", "position": "cadence test"}, &contact); status != http.StatusCreated {
		t.Fatalf("create contact: %d", status)
	}
	instanceID := ""
	deadline := time.Now().Add(60 * time.Second)
	for instanceID == "" && time.Now().Before(deadline) {
		var page struct{ Items []struct{ ID string } }
		// The instance ID is derived from the change, so the test can name it.
		id := "contact-cadence:record:StartEvent_Contact:contact:" + contact.ID + ":created:v1"
		if status := call(t, http.MethodGet, "/api/v1/instances/"+url.PathEscape(id), env.AdminToken, nil, &page); status == http.StatusOK {
			instanceID = id
		}
		time.Sleep(200 * time.Millisecond)
	}
	if instanceID == "" {
		t.Fatal("the contact started no instance")
	}
	v := waitInstance(t, instanceID, func(v instanceView) bool {
		return len(v.ActiveElements) == 1 && v.ActiveElements[0] == "Event_Interaction"
	})
	if v.BusinessKey != contact.ID {
		t.Fatalf("business key of a record-started instance = %q, want the record's ID %q", v.BusinessKey, contact.ID)
	}
	if status := call(t, http.MethodPost, "/api/v1/records/interaction", env.AdminToken, map[string]any{
		"type": "call", "occurredAt": time.Now().UTC().Format(time.RFC3339), "contact": contact.ID, "summary": "Called about the offer",
	}, nil); status != http.StatusCreated {
		t.Fatalf("create interaction: %d", status)
	}
	v = waitInstance(t, instanceID, func(v instanceView) bool { return v.Status == "completed" })
	inter, _ := v.Variables["interaction"].(map[string]any)
	if inter["summary"] != "Called about the offer" {
		t.Fatalf("the instance did not get the interaction: %v", v.Variables)
	}
	_ = ctx
}

// TestStartVariablesFollowTheWorkflow (issue 12): the API checks start variables exactly as the
// instance reads them — a required variable with a default may be left out, a null is no value, a
// wrong type is refused naming the variable.
func TestStartVariablesFollowTheWorkflow(t *testing.T) {
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Vars" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="start-vars" name="Start variables" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables>
        <rapport:variable name="attempts" type="int" required="true" default="3" />
        <rapport:variable name="customer" type="string" required="true" />
        <rapport:variable name="note" type="string" />
      </rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`
	deployAndPublish(t, []byte(xml), "start-vars")
	tests := []struct {
		name       string
		vars       map[string]any
		wantStatus int
		want       string
	}{
		{"a required variable with a default left out", map[string]any{"customer": "C-1"}, http.StatusCreated, ""},
		{"a null optional variable", map[string]any{"customer": "C-1", "note": nil}, http.StatusCreated, ""},
		{"a required variable missing", map[string]any{"note": "x"}, http.StatusUnprocessableEntity, `"/variables/customer"`},
		{"a wrong type", map[string]any{"customer": "C-1", "attempts": "three"}, http.StatusUnprocessableEntity, `"/variables/attempts"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := env.Do(context.Background(), http.MethodPost, "/api/v1/processes/start-vars/instances", env.AdminToken,
				map[string]any{"variables": tt.vars})
			if status != tt.wantStatus || !strings.Contains(string(body), tt.want) {
				t.Fatalf("start = %d %s, want %d with %s", status, body, tt.wantStatus, tt.want)
			}
			if status == http.StatusCreated {
				var st api.StartedInstance
				json.Unmarshal(body, &st)
				if st.BusinessKey == "" {
					t.Errorf("an API start without a business key got none: %s", body)
				}
			}
		})
	}
	// A repeated Idempotency-Key returns the first instance.
	first := env.Call(t, http.MethodPost, "/api/v1/processes/start-vars/instances", env.AdminToken,
		map[string]any{"variables": map[string]any{"customer": "C-2"}}, "Idempotency-Key", "start-vars-once")
	again := env.Call(t, http.MethodPost, "/api/v1/processes/start-vars/instances", env.AdminToken,
		map[string]any{"variables": map[string]any{"customer": "C-2"}}, "Idempotency-Key", "start-vars-once")
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated || first.Body["id"] != again.Body["id"] || again.Body["existing"] != true {
		t.Fatalf("idempotent start: %s then %s", first.Raw, again.Raw)
	}
}
