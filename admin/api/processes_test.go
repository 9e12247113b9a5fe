package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/inbox"
)

// TestProcessLifecycle deploys a Camunda Modeler 5 style process, publishes it, starts an instance, finds
// and completes its user task, correlates a message and sees the instance complete.
func TestProcessLifecycle(t *testing.T) {
	ctx := context.Background()
	xml, err := os.ReadFile("testdata/approval.bpmn")
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string, body any) (int, []byte) {
		t.Helper()
		status, out, err := env.Do(ctx, method, path, env.AdminToken, body)
		if err != nil {
			t.Fatal(err)
		}
		return status, out
	}
	var me api.UserView
	_, raw := do(http.MethodGet, "/api/v1/auth/me", nil)
	json.Unmarshal(raw, &me)

	broken := strings.Replace(string(xml), `targetRef="Task_Approve"`, `targetRef="Task_Nowhere"`, 1)
	refusals := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		want       string
	}{
		{"not XML", http.MethodPost, "/api/v1/processes", []byte("hello"), http.StatusBadRequest, "bpmn-unreadable"},
		{"not BPMN", http.MethodPost, "/api/v1/processes", []byte(`<?xml version="1.0"?><html/>`), http.StatusBadRequest, "bpmn-unreadable"},
		{"problems listed by element", http.MethodPost, "/api/v1/processes", []byte(broken), http.StatusUnprocessableEntity, `"element":"Flow_ToApprove"`},
		{"validate reports without storing", http.MethodPost, "/api/v1/processes/validate", []byte(broken), http.StatusOK, `"valid":false`},
		{"publish an unknown process", http.MethodPost, "/api/v1/processes/ghost/publish", nil, http.StatusNotFound, ""},
		{"start an unknown process", http.MethodPost, "/api/v1/processes/ghost/instances", map[string]any{}, http.StatusNotFound, ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(tt.method, tt.path, tt.body)
			if status != tt.wantStatus || !strings.Contains(string(body), tt.want) {
				t.Fatalf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, status, body, tt.wantStatus, tt.want)
			}
		})
	}
	if status, body := do(http.MethodGet, "/api/v1/processes/discount-approval", nil); status != http.StatusNotFound {
		t.Fatalf("a refused deploy left a definition behind: %d %s", status, body)
	}

	if status, body := do(http.MethodPost, "/api/v1/processes/validate", xml); status != http.StatusOK || !strings.Contains(string(body), `"valid":true`) {
		t.Fatalf("validate: %d %s", status, body)
	}
	if status, body := do(http.MethodPost, "/api/v1/processes", xml); status != http.StatusCreated || !strings.Contains(string(body), `"key":"discount-approval"`) {
		t.Fatalf("deploy: %d %s", status, body)
	}
	if status, body := do(http.MethodPost, "/api/v1/processes/discount-approval/instances", map[string]any{}); status != http.StatusNotFound {
		t.Fatalf("start before publishing: %d %s", status, body)
	}
	status, body := do(http.MethodPost, "/api/v1/processes/discount-approval/publish", nil)
	if status != http.StatusCreated || !strings.Contains(string(body), `"version":1`) {
		t.Fatalf("publish: %d %s", status, body)
	}
	if status, body := do(http.MethodPost, "/api/v1/processes/discount-approval/publish", nil); status != http.StatusCreated || !strings.Contains(string(body), `"version":1`) {
		t.Fatalf("republishing the same draft made a new version: %d %s", status, body)
	}
	if status, body := do(http.MethodGet, "/api/v1/processes/discount-approval/versions/1/xml", nil); status != http.StatusOK || !strings.Contains(string(body), "Discount approval") {
		t.Fatalf("xml: %d %.200s", status, body)
	}

	if status, body := do(http.MethodPost, "/api/v1/processes/discount-approval/instances",
		map[string]any{"variables": map[string]any{"orderId": "SO-1", "approver": me.ID, "discount": "lots"}}); status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "/variables/discount") {
		t.Fatalf("start with a wrong variable type: %d %s", status, body)
	}
	status, body = do(http.MethodPost, "/api/v1/processes/discount-approval/instances",
		map[string]any{"businessKey": "SO-1", "variables": map[string]any{"orderId": "SO-1", "approver": me.ID, "discount": 12.5}})
	if status != http.StatusCreated {
		t.Fatalf("start: %d %s", status, body)
	}
	var started api.StartedInstance
	json.Unmarshal(body, &started)

	// The task shows up in the approver's inbox once the instance has reached it and visibility caught up.
	var tasks []inbox.PageItem
	deadline := time.Now().Add(30 * time.Second)
	for len(tasks) == 0 && time.Now().Before(deadline) {
		_, body = do(http.MethodGet, "/api/v1/tasks", nil)
		tasks = inboxItems(t, body)
		if len(tasks) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if len(tasks) != 1 || tasks[0].Element != "Task_Approve" || tasks[0].Instance != started.ID {
		t.Fatalf("tasks = %s", body)
	}
	taskPath := "/api/v1/tasks/" + tasks[0].ID + "/complete"
	if status, body := do(http.MethodPost, taskPath, map[string]any{"variables": map[string]any{"approved": "yes"}}); status != http.StatusUnprocessableEntity {
		t.Fatalf("completion with a wrong form type: %d %s", status, body)
	}
	if status, body := do(http.MethodPost, "/api/v1/tasks/"+started.ID+"~nope/complete", map[string]any{}); status == http.StatusNoContent {
		t.Fatalf("unknown task completed: %d %s", status, body)
	}
	if status, body := do(http.MethodPost, taskPath, map[string]any{"variables": map[string]any{"approved": true}}); status != http.StatusNoContent {
		t.Fatalf("complete: %d %s", status, body)
	}

	var snap struct {
		Status         string         `json:"status"`
		Variables      map[string]any `json:"variables"`
		ActiveElements []string       `json:"activeElements"`
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			_, body := do(http.MethodGet, "/api/v1/instances/"+started.ID, nil)
			json.Unmarshal(body, &snap)
			if ok() {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("instance never %s: %+v", what, snap)
	}
	waitFor("waited for the message", func() bool { return strings.Contains(strings.Join(snap.ActiveElements, ","), "Event_Confirmed") })
	if snap.Variables["approved"] != true || snap.Variables["note"] != "asked 12.5%" {
		t.Fatalf("variables after the task: %v", snap.Variables)
	}
	deliveredTo := 0
	for time.Now().Before(deadline) && deliveredTo == 0 {
		_, body = do(http.MethodPost, "/api/v1/messages", map[string]any{"name": "confirmed", "correlationKey": "SO-1"})
		var out struct{ Delivered int }
		json.Unmarshal(body, &out)
		deliveredTo = out.Delivered
		time.Sleep(200 * time.Millisecond)
	}
	if deliveredTo != 1 {
		t.Fatalf("message delivered to %d instances", deliveredTo)
	}
	waitFor("completed", func() bool { return snap.Status == "completed" })

	// Every change to the definition and every operation on the instance is in the audit log.
	for target, actions := range map[string][]string{
		"discount-approval": {"process.deploy", "process.publish"},
		started.ID:          {"instance.start"},
		tasks[0].ID:         {"task.complete"},
		"confirmed":         {"message.correlate"},
	} {
		_, body := do(http.MethodGet, "/api/v1/audit?target="+url.QueryEscape(target), nil)
		for _, a := range actions {
			if !strings.Contains(string(body), `"action":"`+a+`"`) {
				t.Errorf("audit log lacks %s on %s: %s", a, target, body)
			}
		}
	}

	_, body = do(http.MethodGet, "/api/v1/processes/discount-approval", nil)
	var def api.DefinitionView
	json.Unmarshal(body, &def)
	if len(def.Versions) != 1 || def.Versions[0].Version.Version != 1 || def.Versions[0].Total < 1 {
		t.Errorf("definition view: %s", body)
	}
}

// TestTimerStartSchedules publishes a process with a timer start event and sees the Temporal schedule
// start instances of it by itself.
func TestTimerStartSchedules(t *testing.T) {
	ctx := context.Background()
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Definitions_Tick" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="every-second" name="Every second" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Tick">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
      <bpmn:timerEventDefinition id="Timer_1"><bpmn:timeCycle>R2/PT1S</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:startEvent>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Tick" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`
	body := deployAndPublish(t, []byte(xml), "every-second")
	if strings.Contains(string(body), "warnings") {
		t.Fatalf("publish: %s", body)
	}
	deadline := time.Now().Add(45 * time.Second)
	var def api.DefinitionView
	for time.Now().Before(deadline) {
		_, body, _ = env.Do(ctx, http.MethodGet, "/api/v1/processes/every-second", env.AdminToken, nil)
		json.Unmarshal(body, &def)
		if len(def.Versions) == 1 && def.Versions[0].Total >= 1 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no instance started by the schedule: %s", body)
}

// TestMessageStart publishes a process with a message start event: a message nobody waits for starts
// it; the same message sent again (same messageId) starts nothing new; and once an instance for a
// correlation key has ended, a new message for that key starts a new one.
func TestMessageStart(t *testing.T) {
	ctx := context.Background()
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Definitions_Web" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="web-order" name="Web order" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Order">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
      <bpmn:messageEventDefinition id="Def_1" messageRef="Message_Order" />
    </bpmn:startEvent>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Order" targetRef="EndEvent_1" />
  </bpmn:process>
  <bpmn:message id="Message_Order" name="order-placed" />
</bpmn:definitions>`
	deployAndPublish(t, []byte(xml), "web-order")
	send := func(key, id string) int {
		t.Helper()
		status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/messages", env.AdminToken,
			map[string]any{"name": "order-placed", "correlationKey": key, "messageId": id, "variables": map[string]any{"total": 10}})
		var out struct{ Delivered, Started int }
		json.Unmarshal(body, &out)
		if status != http.StatusOK {
			t.Fatalf("message for %s: %d %s", key, status, body)
		}
		return out.Started
	}
	tests := []struct {
		key, id     string
		wantStarted int
	}{{"W-1", "m-1", 1}, {"W-1", "m-1", 0}, {"W-2", "", 1}}
	for _, tt := range tests {
		if got := send(tt.key, tt.id); got != tt.wantStarted {
			t.Fatalf("message %s for %s started %d, want %d", tt.id, tt.key, got, tt.wantStarted)
		}
	}
	// Once W-1's instance has ended, W-1 is free for a new instance.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "rapport", Query: "RapportBusinessKey = 'W-1' AND ExecutionStatus = 'Completed'"})
		if err == nil && len(resp.GetExecutions()) == 1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := send("W-1", "m-2"); got != 1 {
		t.Fatalf("a new message for a key whose instance ended started %d", got)
	}
}

// TestCorpusThroughAPI posts every file of the BPMN corpus (real bpmn-js and Camunda files) to the
// server: each is validated or refused with a problem document, never a server error.
func TestCorpusThroughAPI(t *testing.T) {
	ctx := context.Background()
	dir := "../../engine/bpmn/testdata/corpus"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading the BPMN corpus: %v", err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".bpmn") {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			raw, err := os.ReadFile(dir + "/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/processes/validate", env.AdminToken, raw)
			if err != nil {
				t.Fatal(err)
			}
			switch status {
			case http.StatusOK:
				var rep api.ValidationReport
				if err := json.Unmarshal(body, &rep); err != nil {
					t.Fatal(err)
				}
				for _, p := range rep.Problems {
					if p.Reason == "" {
						t.Errorf("problem without a reason: %+v", p)
					}
				}
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
				if p := decodeProblem(t, body); p.Detail == "" {
					t.Errorf("refusal without detail: %s", body)
				}
			default:
				t.Fatalf("status %d: %s", status, body)
			}
		})
	}
	if n == 0 {
		t.Fatal("the corpus holds no .bpmn file")
	}
}

// TestRecordTrigger publishes a process started by new leads from partners: creating such a lead through
// the records API starts an instance with the lead as `record`; a lead from elsewhere starts none.
func TestRecordTrigger(t *testing.T) {
	ctx := context.Background()
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Partner" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="partner-lead" name="Partner lead" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="leadName" type="string" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="StartEvent_Lead">
      <bpmn:extensionElements>
        <rapport:recordTrigger entity="lead" on="created" condition="=record.source == &#34;partner&#34;" />
        <zeebe:ioMapping><zeebe:output source="=record.name" target="leadName" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Task_Call" name="Call the partner's lead">
      <bpmn:extensionElements><zeebe:assignmentDefinition assignee="=record.owner" /></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Lead" targetRef="Task_Call" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Call" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`
	deployAndPublish(t, []byte(xml), "partner-lead")
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger list at most every 2 s
	create := func(source, name string) string {
		status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/records/lead", env.AdminToken,
			map[string]any{"source": source, "name": name, "status": "new"})
		if status != http.StatusCreated {
			t.Fatalf("create lead: %d %s", status, body)
		}
		var rec struct{ ID string }
		json.Unmarshal(body, &rec)
		return rec.ID
	}
	partner := create("partner", "Via Partner Co")
	other := create("webForm", "Walk-in Co")

	instances := func(recordID string) []string {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "rapport", Query: "RapportRecordID = '" + recordID + "'"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		return ids
	}
	var ids []string
	deadline := time.Now().Add(30 * time.Second)
	for len(ids) == 0 && time.Now().Before(deadline) {
		ids = instances(partner)
		time.Sleep(200 * time.Millisecond)
	}
	if len(ids) != 1 {
		t.Fatalf("instances for the partner lead: %v", ids)
	}
	_, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/instances/"+ids[0], env.AdminToken, nil)
	if !strings.Contains(string(body), `"leadName":"Via Partner Co"`) || !strings.Contains(string(body), "Task_Call") {
		t.Fatalf("triggered instance: %s", body)
	}
	if got := instances(other); len(got) != 0 {
		t.Fatalf("a lead failing the condition started %v", got)
	}
}

// TestTaskCompletionNeedsTheRightPerson: an agent who is neither the assignee nor a candidate cannot
// complete someone else's task; the assignee can.
func TestTaskCompletionNeedsTheRightPerson(t *testing.T) {
	ctx := context.Background()
	deployAndPublish(t, renamed(t, "testdata/approval.bpmn", "discount-approval", "discount-approval-2"), "discount-approval-2")
	users := map[string]string{}
	for _, name := range []string{"ann", "bob"} {
		email := name + ".tasks@example.test"
		if _, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: email, Password: name + " password 123", Roles: []string{"agent"}}); err != nil {
			t.Fatal(err)
		}
		tok, err := env.Login(ctx, email, name+" password 123")
		if err != nil {
			t.Fatal(err)
		}
		users[name] = tok
	}
	var ann api.UserView
	_, raw, _ := env.Do(ctx, http.MethodGet, "/api/v1/auth/me", users["ann"], nil)
	json.Unmarshal(raw, &ann)
	status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes/discount-approval-2/instances", env.AdminToken,
		map[string]any{"businessKey": "SO-77", "variables": map[string]any{"orderId": "SO-77", "approver": ann.ID, "discount": 5}})
	if status != http.StatusCreated {
		t.Fatalf("start: %d %s", status, body)
	}
	var tasks []inbox.PageItem
	deadline := time.Now().Add(30 * time.Second)
	for len(tasks) == 0 && time.Now().Before(deadline) {
		_, body, _ = env.Do(ctx, http.MethodGet, "/api/v1/tasks", users["ann"], nil)
		tasks = inboxItems(t, body)
		time.Sleep(200 * time.Millisecond)
	}
	if len(tasks) != 1 {
		t.Fatalf("ann's inbox: %s", body)
	}
	if _, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/tasks", users["bob"], nil); strings.Contains(string(body), tasks[0].ID) {
		t.Fatalf("bob's inbox shows ann's task: %s", body)
	}
	path := "/api/v1/tasks/" + tasks[0].ID + "/complete"
	if status, body, _ := env.Do(ctx, http.MethodPost, path, users["bob"], map[string]any{"variables": map[string]any{"approved": true}}); status != http.StatusForbidden {
		t.Fatalf("bob completing ann's task: %d %s", status, body)
	}
	if status, body, _ := env.Do(ctx, http.MethodPost, path, users["ann"], map[string]any{"variables": map[string]any{"approved": true}}); status != http.StatusNoContent {
		t.Fatalf("ann completing her task: %d %s", status, body)
	}
}

// deployAndPublish deploys a BPMN document as the administrator and publishes it, returning the publish
// response body.
func deployAndPublish(t *testing.T, xml []byte, key string) []byte {
	t.Helper()
	ctx := context.Background()
	if status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/processes", env.AdminToken, xml); err != nil || status != http.StatusCreated {
		t.Fatalf("deploy %s: %d %v %s", key, status, err, body)
	}
	status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/processes/"+key+"/publish", env.AdminToken, nil)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("publish %s: %d %v %s", key, status, err, body)
	}
	return body
}

// renamed reads a BPMN file of testdata with its process key changed, so tests publish their own copy.
func renamed(t *testing.T, file, key, as string) []byte {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(raw), key, as))
}
