package ui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// monitorProcess waits at a user task nobody completes, then passes a manual task to its end: a process
// owner moves the token past the user task to see an instance complete.
const monitorProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_MON" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="e2e-monitor" name="Approve a discount" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables>
        <rapport:variable name="reviewer" type="string" required="true" />
        <rapport:variable name="priority" type="int" />
      </rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Start" name="Asked"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Review" name="Review the discount">
      <bpmn:extensionElements><zeebe:assignmentDefinition assignee="=reviewer" /></bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:manualTask id="Archive" name="File the decision"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:manualTask>
    <bpmn:endEvent id="Done" name="Decided"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Review" />
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="Archive" />
    <bpmn:sequenceFlow id="F3" sourceRef="Archive" targetRef="Done" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="D1">
    <bpmndi:BPMNPlane id="P1" bpmnElement="e2e-monitor">
      <bpmndi:BPMNShape id="Start_di" bpmnElement="Start"><dc:Bounds x="152" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Review_di" bpmnElement="Review"><dc:Bounds x="250" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Archive_di" bpmnElement="Archive"><dc:Bounds x="420" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Done_di" bpmnElement="Done"><dc:Bounds x="592" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="F1_di" bpmnElement="F1"><di:waypoint x="188" y="120" /><di:waypoint x="250" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F2_di" bpmnElement="F2"><di:waypoint x="350" y="120" /><di:waypoint x="420" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F3_di" bpmnElement="F3"><di:waypoint x="520" y="120" /><di:waypoint x="592" y="120" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`

// flakyProcess calls the address in its target variable, once: started with a loopback address, which the
// outbound policy refuses, every instance stops at an incident.
const flakyProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_FLAKY" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="e2e-flaky" name="Notify the warehouse" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="target" type="string" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Call" name="Call the warehouse">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="http" retries="1" />
        <zeebe:ioMapping><zeebe:input source="=target" target="url" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Call" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call" targetRef="End" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="D1">
    <bpmndi:BPMNPlane id="P1" bpmnElement="e2e-flaky">
      <bpmndi:BPMNShape id="Start_di" bpmnElement="Start"><dc:Bounds x="152" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Call_di" bpmnElement="Call"><dc:Bounds x="250" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="End_di" bpmnElement="End"><dc:Bounds x="422" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="F1_di" bpmnElement="F1"><di:waypoint x="188" y="120" /><di:waypoint x="250" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F2_di" bpmnElement="F2"><di:waypoint x="350" y="120" /><di:waypoint x="422" y="120" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`

// followUpProcess starts when a task record titled "Follow up the discount" is created and waits at a
// user task: the record's Processes tab links to the instance.
const followUpProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_FOLLOW" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="e2e-follow-up" name="Follow up" isExecutable="true">
    <bpmn:startEvent id="Start">
      <bpmn:extensionElements><rapport:recordTrigger entity="task" on="created" condition="=record.title == &#34;Follow up the discount&#34;" /></bpmn:extensionElements>
      <bpmn:outgoing>F1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Check" name="Check the follow-up"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Check" />
    <bpmn:sequenceFlow id="F2" sourceRef="Check" targetRef="End" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="D1">
    <bpmndi:BPMNPlane id="P1" bpmnElement="e2e-follow-up">
      <bpmndi:BPMNShape id="Start_di" bpmnElement="Start"><dc:Bounds x="152" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Check_di" bpmnElement="Check"><dc:Bounds x="250" y="80" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="End_di" bpmnElement="End"><dc:Bounds x="422" y="102" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="F1_di" bpmnElement="F1"><di:waypoint x="188" y="120" /><di:waypoint x="250" y="120" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="F2_di" bpmnElement="F2"><di:waypoint x="350" y="120" /><di:waypoint x="422" y="120" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`

type instanceCard struct {
	Status    string         `json:"status"`
	Version   int            `json:"version"`
	Variables map[string]any `json:"variables"`
	Incidents []any          `json:"incidents"`
	Timeline  []struct {
		Element, Event, By, Reason string
	} `json:"timeline"`
}

func card(t *testing.T, id string) instanceCard {
	t.Helper()
	r := env.Call(t, http.MethodGet, "/api/v1/instances/"+id, env.AdminToken, nil)
	var c instanceCard
	if r.Status != http.StatusOK || json.Unmarshal(r.Raw, &c) != nil {
		t.Fatalf("card of %s: %d %s", id, r.Status, r.Raw)
	}
	return c
}

// waitCard polls an instance's card until ok accepts it (instances move asynchronously).
func waitCard(t *testing.T, id string, ok func(instanceCard) bool) instanceCard {
	t.Helper()
	var c instanceCard
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if c = card(t, id); ok(c) {
			return c
		}
	}
	t.Fatalf("instance %s never reached the expected state: %+v", id, c)
	return c
}

// waitListedState polls the instance list (Temporal visibility, eventually consistent) until it finds n
// instances of the process in the state.
func waitListedState(t *testing.T, process, state string, n int) {
	t.Helper()
	var got int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		r := call(t, http.MethodGet, "/api/v1/instances?processKey="+process+"&state="+state, env.AdminToken, nil, http.StatusOK)
		if got = len(r["items"].([]any)); got == n {
			return
		}
	}
	t.Fatalf("%d %s instances of %s listed, want %d", got, state, process, n)
}

// monitorJourney: a process owner finds an instance on the heat map, opens its card, suspends it,
// changes a variable, moves its token past the waiting user task, resumes it and sees it complete; then
// retries the incidents of three instances in bulk and watches the batch's progress, previews a
// migration on a card and migrates the other instances to version 2 in bulk after the preview table
// (English); the monitor and the card in Russian; axe-core on every page and with a dialog open.
func monitorJourney(t *testing.T) {
	owner := newAccount(t, "owner@example.test", "process-owner")
	ids := map[string]string{}
	for _, p := range []struct{ key, xml string }{{"e2e-follow-up", followUpProcess}, {"e2e-monitor", monitorProcess}, {"e2e-flaky", flakyProcess}} {
		call(t, http.MethodPost, "/api/v1/processes", env.AdminToken, p.xml, http.StatusCreated, "Content-Type", "application/xml")
		call(t, http.MethodPost, "/api/v1/processes/"+p.key+"/publish", env.AdminToken, nil, http.StatusCreated)
		call(t, http.MethodPut, "/api/v1/processes/"+p.key+"/owners", env.AdminToken, map[string]any{"owners": []string{"user:" + owner.ID}}, http.StatusOK)
	}
	// The trigger index is read again at most every 2 s after a publish.
	triggersFrom := time.Now().Add(2100 * time.Millisecond)
	for i := 1; i <= 3; i++ {
		key := fmt.Sprintf("MON-%d", i)
		st := call(t, http.MethodPost, "/api/v1/processes/e2e-monitor/instances", env.AdminToken,
			map[string]any{"businessKey": key, "variables": map[string]any{"reviewer": "nobody", "priority": 1}}, http.StatusCreated)
		ids[key] = st["id"].(string)
		fl := call(t, http.MethodPost, "/api/v1/processes/e2e-flaky/instances", env.AdminToken,
			map[string]any{"businessKey": fmt.Sprintf("FLAKY-%d", i), "variables": map[string]any{"target": "http://127.0.0.1:1/"}}, http.StatusCreated)
		ids[fmt.Sprintf("FLAKY-%d", i)] = fl["id"].(string)
	}
	for i := 1; i <= 3; i++ {
		waitCard(t, url.PathEscape(ids[fmt.Sprintf("FLAKY-%d", i)]), func(c instanceCard) bool { return len(c.Incidents) > 0 })
	}
	// Version 2 renames the filing step: the waiting instances can migrate to it.
	call(t, http.MethodPost, "/api/v1/processes", env.AdminToken, strings.Replace(monitorProcess, "File the decision", "File the decision in the ledger", 1),
		http.StatusCreated, "Content-Type", "application/xml")
	call(t, http.MethodPost, "/api/v1/processes/e2e-monitor/publish", env.AdminToken, nil, http.StatusCreated)
	waitListedState(t, "e2e-monitor", "waiting", 3)
	waitListedState(t, "e2e-flaky", "incident", 3)

	time.Sleep(time.Until(triggersFrom))
	task := call(t, http.MethodPost, "/api/v1/records/task", env.AdminToken, map[string]any{
		"title": "Follow up the discount", "kind": "call", "status": "open", "dueAt": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
	}, http.StatusCreated)
	var bound []any
	for deadline := time.Now().Add(30 * time.Second); len(bound) == 0 && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		bound = call(t, http.MethodGet, fmt.Sprintf("/api/v1/instances?entity=task&record=%s", task["id"]), env.AdminToken, nil, http.StatusOK)["items"].([]any)
	}
	if len(bound) != 1 {
		t.Fatalf("the task record started %d instances, want 1", len(bound))
	}
	ids["follow-up"] = bound[0].(map[string]any)["id"].(string)

	journey(t, "monitor", map[string]any{"task": task["id"], "followUp": ids["follow-up"], "owner": owner, "instance": ids["MON-1"], "other": ids["MON-2"], "flaky": ids["FLAKY-1"]})

	// What the browser did reached the instance: suspended, variable changed, moved, resumed, completed,
	// each with the reason typed in the dialog.
	c := waitCard(t, ids["MON-1"], func(c instanceCard) bool { return c.Status == "completed" })
	if c.Variables["priority"] != float64(7) {
		t.Errorf("priority after the journey: %v, want 7", c.Variables["priority"])
	}
	want := map[string]string{"suspended": "checking the discount", "variables changed": "raised by the customer's call", "moved from": "approved by phone", "resumed": "done checking"}
	for _, e := range c.Timeline {
		if r, ok := want[e.Event]; ok && e.Reason == r && e.By == owner.ID {
			delete(want, e.Event)
		}
	}
	if len(want) > 0 {
		t.Errorf("the timeline lacks, by the owner with the reason: %v\n%+v", want, c.Timeline)
	}
	// The bulk migration moved the other two to version 2.
	for _, k := range []string{"MON-2", "MON-3"} {
		if c := card(t, ids[k]); c.Version != 2 || c.Status != "waiting" {
			t.Errorf("%s after the bulk migration: version %d, %s; want version 2, waiting", k, c.Version, c.Status)
		}
	}
	// The bulk retry retried every incident: each instance's timeline says so.
	for i := 1; i <= 3; i++ {
		fc := card(t, url.PathEscape(ids[fmt.Sprintf("FLAKY-%d", i)]))
		retried := false
		for _, e := range fc.Timeline {
			retried = retried || (e.Event == "retried" && strings.Contains(e.Reason, "warehouse is back"))
		}
		if !retried {
			t.Errorf("FLAKY-%d was not retried by the batch: %+v", i, fc.Timeline)
		}
	}
}
