package stack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

const partnerLeadBPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Outage" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="outage-lead" name="Lead during an outage" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Lead">
      <bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created" /></bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Task_Call" name="Call the lead">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Lead" targetRef="Task_Call" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Call" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`

// TestRecordTriggerSurvivesTemporalOutage writes a lead through the API while the embedded Temporal
// server is stopped: the write succeeds, the process start waits in the outbox, and once Temporal is
// back the start is delivered — exactly one instance, bound to the lead.
func TestRecordTriggerSurvivesTemporalOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env, err := stacktest.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	for _, step := range []struct{ path, body string }{
		{"/api/v1/processes", partnerLeadBPMN}, {"/api/v1/processes/outage-lead/publish", ""},
	} {
		var body any
		if step.body != "" {
			body = []byte(step.body)
		}
		if status, out, err := env.Do(ctx, http.MethodPost, step.path, env.AdminToken, body); err != nil || status != http.StatusCreated {
			t.Fatalf("POST %s: %d %v %s", step.path, status, err, out)
		}
	}
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger index at most every 2 s

	if err := env.Stack.StopEmbeddedTemporal(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = env.Stack.StartEmbeddedTemporal(context.Background())
		}
	}()
	status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/records/lead", env.AdminToken,
		map[string]any{"source": "partner", "name": "Written during the outage", "status": "new"})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create a lead while Temporal is down: %d %v %s", status, err, body)
	}
	var lead struct{ ID string }
	json.Unmarshal(body, &lead)
	// The start cannot be delivered: it waits in the outbox (after at least one failed attempt).
	time.Sleep(3 * time.Second)
	if n, err := env.Stack.Outbox.Pending(ctx); err != nil || n != 1 {
		t.Fatalf("outbox entries while Temporal is down = %d, %v; want 1", n, err)
	}

	if err := env.Stack.StartEmbeddedTemporal(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	var ids []string
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "rapport", Query: "RapportRecordID = '" + lead.ID + "'"})
		if err == nil {
			ids = ids[:0]
			for _, e := range resp.GetExecutions() {
				ids = append(ids, e.GetExecution().GetWorkflowId())
			}
			if n, err := env.Stack.Outbox.Pending(ctx); err == nil && n == 0 && len(ids) > 0 {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(ids) != 1 {
		t.Fatalf("instances of the lead written during the outage: %v", ids)
	}
	if n, err := env.Stack.Outbox.Pending(ctx); err != nil || n != 0 {
		t.Fatalf("outbox entries after delivery = %d, %v", n, err)
	}
	_, snap, _ := env.Do(ctx, http.MethodGet, "/api/v1/instances/"+ids[0], env.AdminToken, nil)
	var st struct {
		BusinessKey    string   `json:"businessKey"`
		ActiveElements []string `json:"activeElements"`
	}
	json.Unmarshal(snap, &st)
	if st.BusinessKey != lead.ID || len(st.ActiveElements) != 1 || st.ActiveElements[0] != "Task_Call" {
		t.Fatalf("instance started after the outage: %s", snap)
	}
}
