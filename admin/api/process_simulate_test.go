package api_test

import (
	"context"
	"net/http"
	"testing"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/access"
)

// simTriage routes on a declared score: at least 50 marks the lead hot (a script), else the default
// flow ignores it. cond is the hot flow's condition.
func simTriage(key, cond string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="x">
  <bpmn:process id="` + key + `" isExecutable="true">
    <bpmn:extensionElements><rapport:variables><rapport:variable name="score" type="int" required="true" /></rapport:variables></bpmn:extensionElements>
    <bpmn:startEvent id="Start" />
    <bpmn:exclusiveGateway id="Hot" default="Cold" />
    <bpmn:scriptTask id="Mark"><bpmn:extensionElements><rapport:assign target="hot" expression="=true" /></bpmn:extensionElements></bpmn:scriptTask>
    <bpmn:endEvent id="Done" /><bpmn:endEvent id="Ignored" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Hot" />
    <bpmn:sequenceFlow id="HotFlow" sourceRef="Hot" targetRef="Mark"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">` + cond + `</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Cold" sourceRef="Hot" targetRef="Ignored" />
    <bpmn:sequenceFlow id="F3" sourceRef="Mark" targetRef="Done" />
  </bpmn:process>
</bpmn:definitions>`
}

// simOnLead starts on a new lead and copies two of its fields, one of which the caller may not see.
const simOnLead = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="D" targetNamespace="x">
  <bpmn:process id="sim-on-lead" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created" /></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:scriptTask id="Copy"><bpmn:extensionElements>
      <rapport:assign target="who" expression="=record.name" />
      <rapport:assign target="leaked" expression="=record.email" />
    </bpmn:extensionElements></bpmn:scriptTask>
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Copy" />
    <bpmn:sequenceFlow id="F2" sourceRef="Copy" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`

// TestSimulateProcess: the test bench's dry run walks a draft that was never deployed, on variables and on
// a record read with the caller's rights, and leaves nothing behind: no definition, no instance.
func TestSimulateProcess(t *testing.T) {
	ctx := context.Background()
	tokens := builtInRoleTokens(t)
	call(t, http.MethodPost, "/api/v1/roles", env.AdminToken, map[string]any{
		"name": "sim-email-hidden", "permissions": []string{access.ProcessesDeploy, "records.lead.read"},
		"scopes": map[string]string{"lead": "all"}, "fields": map[string]any{"lead": map[string]any{"hidden": []string{"email"}}},
	}, nil)
	call(t, http.MethodPost, "/api/v1/roles", env.AdminToken, map[string]any{"name": "sim-no-leads", "permissions": []string{access.ProcessesDeploy}}, nil)
	_, hiddenTok := newUser(t, "sim-email-hidden@simulate.test", []string{"sim-email-hidden"}, nil)
	_, noLeadsTok := newUser(t, "sim-no-leads@simulate.test", []string{"sim-no-leads"}, nil)
	var lead map[string]any
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/records/lead", env.AdminToken,
		map[string]any{"source": "webForm", "name": "Vera Simulated", "email": "vera.secret@example.com", "status": "new"}, &lead)
	if lead["email"] != "vera.secret@example.com" {
		t.Fatalf("the lead was stored without its email: %v", lead)
	}

	s := Suite{
		Tokens: map[string]string{"analyst": tokens[access.RoleAnalyst], "agent": tokens[access.RoleAgent], "email-hidden": hiddenTok, "no-leads": noLeadsTok, "admin": env.AdminToken},
		Vars:   map[string]string{"lead": lead["id"].(string)},
	}
	hot := simTriage("sim-triage", "=score &gt;= 50")
	notStored := func(key string) func(t *testing.T, r stacktest.Response) {
		return func(t *testing.T, r stacktest.Response) {
			if st := call(t, http.MethodGet, "/api/v1/processes/"+key, env.AdminToken, nil, nil); st != http.StatusNotFound {
				t.Errorf("the dry run stored the process %s: GET answered %d", key, st)
			}
			n, err := env.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "rapport",
				Query: "RapportProcessKey = '" + key + "'"})
			if err != nil {
				t.Fatal(err)
			}
			if n.GetCount() != 0 {
				t.Errorf("the dry run started %d instances of %s", n.GetCount(), key)
			}
		}
	}
	s.Run(t, []Scenario{
		{Name: "a high score takes the hot flow and runs the script", As: "analyst", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": hot, "variables": map[string]any{"score": 70}}, Status: http.StatusOK,
			Contains: []string{`"outcome":"completed"`, `"HotFlow"`, `"element":"Mark"`, `"hot":true`}, Lacks: []string{`"element":"Ignored"`},
			Check: notStored("sim-triage")},
		{Name: "a low score takes the default flow", As: "analyst", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": hot, "variables": map[string]any{"score": 20}}, Status: http.StatusOK,
			Contains: []string{`"outcome":"completed"`, `"element":"Ignored"`, `"Cold"`}, Lacks: []string{`"element":"Mark"`, `"hot"`}},
		{Name: "a start variable of the wrong type is refused naming it", As: "analyst", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": hot, "variables": map[string]any{"score": "lots"}}, Status: http.StatusUnprocessableEntity,
			Contains: []string{"/variables", "score"}},
		{Name: "a condition that does not compile is refused at its element", As: "analyst", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": simTriage("sim-broken", "=score &gt;="), "variables": map[string]any{"score": 70}}, Status: http.StatusUnprocessableEntity,
			Contains: []string{"bpmn-invalid", `"element":"HotFlow"`}, Check: notStored("sim-broken")},
		{Name: "a document that is not BPMN is refused", As: "analyst", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": "<html/>"}, Status: http.StatusBadRequest},
		{Name: "callers who may not deploy processes may not dry-run them", As: "agent", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": hot, "variables": map[string]any{"score": 70}}, Status: http.StatusForbidden},
		{Name: "the trigger's record is read and used", As: "admin", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": simOnLead, "recordId": "{lead}"}, Status: http.StatusOK,
			Contains: []string{`"who":"Vera Simulated"`, `"leaked":"vera.secret@example.com"`}},
		{Name: "fields hidden from the caller reach neither the process nor the answer", As: "email-hidden", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": simOnLead, "recordId": "{lead}"}, Status: http.StatusOK,
			Contains: []string{`"who":"Vera Simulated"`}, Lacks: []string{"vera.secret"}, Check: notStored("sim-on-lead")},
		{Name: "a record the caller may not read is refused", As: "no-leads", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": simOnLead, "recordId": "{lead}"}, Status: http.StatusForbidden, Contains: []string{"records.lead.read"}, Lacks: []string{"Vera"}},
		{Name: "a missing record is not found", As: "admin", Method: http.MethodPost, URL: "/api/v1/processes/simulate",
			Body: map[string]any{"xml": simOnLead, "recordId": "no-such-lead"}, Status: http.StatusNotFound},
	})
}
