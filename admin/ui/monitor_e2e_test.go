package ui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// bpmnFile is a BPMN file of one process whose elements run one after the other in the order of shapes:
// it adds the sequence flows F1, F2, … between them (the elements name them as incoming and outgoing),
// a diagram that draws them left to right, and extra (the messages the process uses) after the process.
func bpmnFile(key, name, elements, extra string, shapes ...shape) string {
	var flows, di strings.Builder
	x := 152
	for i, sh := range shapes {
		w, h, y := 100, 80, 80
		if sh.event {
			w, h, y = 36, 36, 102
		}
		fmt.Fprintf(&di, "      <bpmndi:BPMNShape id=\"%s_di\" bpmnElement=\"%s\"><dc:Bounds x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" /></bpmndi:BPMNShape>\n", sh.id, sh.id, x, y, w, h)
		if i < len(shapes)-1 {
			fmt.Fprintf(&flows, "    <bpmn:sequenceFlow id=\"F%d\" sourceRef=\"%s\" targetRef=\"%s\" />\n", i+1, sh.id, shapes[i+1].id)
			fmt.Fprintf(&di, "      <bpmndi:BPMNEdge id=\"F%d_di\" bpmnElement=\"F%d\"><di:waypoint x=\"%d\" y=\"120\" /><di:waypoint x=\"%d\" y=\"120\" /></bpmndi:BPMNEdge>\n", i+1, i+1, x+w, x+w+70)
		}
		x += w + 70
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_` + key + `" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + key + `" name="` + name + `" isExecutable="true">
` + elements + "\n" + flows.String() + `  </bpmn:process>
` + extra + `
  <bpmndi:BPMNDiagram id="D1">
    <bpmndi:BPMNPlane id="P1" bpmnElement="` + key + `">
` + di.String() + `    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`
}

// shape is one element of a bpmnFile's diagram: an event (a circle) or an activity (a box).
type shape struct {
	id    string
	event bool
}

func event(id string) shape { return shape{id: id, event: true} }
func box(id string) shape   { return shape{id: id} }

// monitorProcess waits at a user task nobody completes, then passes a manual task (named filing) to its
// end: a process owner moves the token past the user task to see an instance complete.
func monitorProcess(filing string) string {
	return bpmnFile("e2e-monitor", "Approve a discount", `    <bpmn:extensionElements>
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
    <bpmn:manualTask id="Archive" name="`+filing+`"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:manualTask>
    <bpmn:endEvent id="Done" name="Decided"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>`, "", event("Start"), box("Review"), box("Archive"), event("Done"))
}

// flakyProcess calls the address in its target variable, once: started with a loopback address, which the
// outbound policy refuses, every instance stops at an incident.
func flakyProcess() string {
	return bpmnFile("e2e-flaky", "Notify the warehouse", `    <bpmn:extensionElements>
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
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>`, "", event("Start"), box("Call"), event("End"))
}

// followUpProcess starts when a task record titled "Follow up the discount" is created and waits at a
// user task: the record's Processes tab links to the instance.
func followUpProcess() string {
	return bpmnFile("e2e-follow-up", "Follow up", `    <bpmn:startEvent id="Start">
      <bpmn:extensionElements><rapport:recordTrigger entity="task" on="created" condition="=record.title == &#34;Follow up the discount&#34;" /></bpmn:extensionElements>
      <bpmn:outgoing>F1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Check" name="Check the follow-up"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>`, "", event("Start"), box("Check"), event("End"))
}

// replyProcess waits for the reply message of its order (correlated by orderId): a process owner delivers
// it on the customer's behalf, or cancels or terminates the instances nobody will answer.
func replyProcess() string {
	return bpmnFile("e2e-reply", "Wait for the reply", `    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="orderId" type="string" required="true" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Reply" name="Reply received">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="ReplyDef" messageRef="Msg_Reply" />
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>`, `  <bpmn:message id="Msg_Reply" name="order.reply">
    <bpmn:extensionElements><zeebe:subscription correlationKey="=orderId" /></bpmn:extensionElements>
  </bpmn:message>`, event("Start"), event("Reply"), event("End"))
}

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
	r := env.Call(t, http.MethodGet, "/api/v1/instances/"+url.PathEscape(id), env.AdminToken, nil)
	var c instanceCard
	if r.Status != http.StatusOK || json.Unmarshal(r.Raw, &c) != nil {
		t.Fatalf("card of %s: %d %s", id, r.Status, r.Raw)
	}
	return c
}

// eventually calls ok every 250 ms until it holds, for at most 30 s, and fails the test saying what
// never happened: instances start and move asynchronously, and Temporal's visibility lists them a moment
// later.
func eventually(t *testing.T, ok func() bool, what string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf(what, args...)
		}
	}
}

// waitCard polls an instance's card until ok accepts it.
func waitCard(t *testing.T, id string, ok func(instanceCard) bool) instanceCard {
	t.Helper()
	var c instanceCard
	eventually(t, func() bool { c = card(t, id); return ok(c) }, "instance %s never reached the expected state: %+v", id, &c)
	return c
}

// listed is the instances the list finds for a query.
func listed(t *testing.T, query string) []any {
	t.Helper()
	return call(t, http.MethodGet, "/api/v1/instances?"+query, env.AdminToken, nil, http.StatusOK)["items"].([]any)
}

// waitListed polls the instance list until it finds n instances for the query.
func waitListed(t *testing.T, query string, n int) []any {
	t.Helper()
	var items []any
	eventually(t, func() bool { items = listed(t, query); return len(items) == n }, "the list of %s never held %d instances", query, n)
	return items
}

// deploy saves and publishes a process and makes the user one of its owners.
func deploy(t *testing.T, key, xml, owner string) {
	t.Helper()
	call(t, http.MethodPost, "/api/v1/processes", env.AdminToken, xml, http.StatusCreated, "Content-Type", "application/xml")
	call(t, http.MethodPost, "/api/v1/processes/"+key+"/publish", env.AdminToken, nil, http.StatusCreated)
	if owner != "" {
		call(t, http.MethodPut, "/api/v1/processes/"+key+"/owners", env.AdminToken, map[string]any{"owners": []string{"user:" + owner}}, http.StatusOK)
	}
}

// startInstances starts n instances of a process with the business keys <prefix>-1 … <prefix>-n and the
// variables vars(i), and returns their IDs by business key.
func startInstances(t *testing.T, ids map[string]string, key, prefix string, n int, vars func(i int) map[string]any) {
	t.Helper()
	for i := 1; i <= n; i++ {
		bk := fmt.Sprintf("%s-%d", prefix, i)
		ids[bk] = call(t, http.MethodPost, "/api/v1/processes/"+key+"/instances", env.AdminToken,
			map[string]any{"businessKey": bk, "variables": vars(i)}, http.StatusCreated)["id"].(string)
	}
}

// hasEvent reports whether an instance's timeline holds the event with a reason containing the text.
func hasEvent(c instanceCard, event, reason string) bool {
	for _, e := range c.Timeline {
		if e.Event == event && strings.Contains(e.Reason, reason) {
			return true
		}
	}
	return false
}

// monitorJourney: a process owner pages through the instance list, finds an instance on the heat map,
// opens its card, suspends it, changes a variable, moves its token past the waiting user task, resumes
// it and sees it complete; then retries the incidents of three instances in bulk and watches the batch's
// progress, retries one incident and skips another from their cards, previews a migration on a card and
// migrates the other instances to version 2 in bulk after the preview table; delivers a message on a
// customer's behalf, cancels one instance and terminates another (English); the monitor and the card in
// Russian; axe-core on every page and with a dialog open.
func monitorJourney(t *testing.T) {
	owner := newAccount(t, "owner@example.test", "process-owner")
	deploy(t, "e2e-follow-up", followUpProcess(), owner.ID)
	deploy(t, "e2e-monitor", monitorProcess("File the decision"), owner.ID)
	deploy(t, "e2e-flaky", flakyProcess(), owner.ID)
	deploy(t, "e2e-reply", replyProcess(), owner.ID)
	// The trigger index is read again at most every 2 s after a publish.
	triggersFrom := time.Now().Add(2100 * time.Millisecond)
	ids := map[string]string{}
	startInstances(t, ids, "e2e-monitor", "MON", 3, func(int) map[string]any { return map[string]any{"reviewer": "nobody", "priority": 1} })
	startInstances(t, ids, "e2e-flaky", "FLAKY", 3, func(int) map[string]any { return map[string]any{"target": "http://127.0.0.1:1/"} })
	startInstances(t, ids, "e2e-reply", "REPLY", 3, func(i int) map[string]any { return map[string]any{"orderId": fmt.Sprintf("ORD-%d", i)} })
	for i := 1; i <= 3; i++ {
		waitCard(t, ids[fmt.Sprintf("FLAKY-%d", i)], func(c instanceCard) bool { return len(c.Incidents) > 0 })
	}
	// Version 2 renames the filing step: the waiting instances can migrate to it.
	deploy(t, "e2e-monitor", monitorProcess("File the decision in the ledger"), "")
	waitListed(t, "processKey=e2e-monitor&state=waiting", 3)
	waitListed(t, "processKey=e2e-flaky&state=incident", 3)
	waitListed(t, "processKey=e2e-reply&state=waiting", 3)

	time.Sleep(time.Until(triggersFrom))
	task := call(t, http.MethodPost, "/api/v1/records/task", env.AdminToken, map[string]any{
		"title": "Follow up the discount", "kind": "call", "status": "open", "dueAt": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339),
	}, http.StatusCreated)
	ids["follow-up"] = waitListed(t, fmt.Sprintf("entity=task&record=%s", task["id"]), 1)[0].(map[string]any)["id"].(string)

	journey(t, "monitor", map[string]any{"task": task["id"], "followUp": ids["follow-up"], "owner": owner, "instance": ids["MON-1"], "other": ids["MON-2"],
		"flaky": ids["FLAKY-1"], "skipped": ids["FLAKY-2"], "replied": ids["REPLY-1"], "cancelled": ids["REPLY-2"], "terminated": ids["REPLY-3"]})

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
		if fc := card(t, ids[fmt.Sprintf("FLAKY-%d", i)]); !hasEvent(fc, "retried", "warehouse is back") {
			t.Errorf("FLAKY-%d was not retried by the batch: %+v", i, fc.Timeline)
		}
	}
	// The skipped task let its instance end; the message, the cancel and the terminate each ended theirs.
	for k, end := range map[string]struct{ status, event, reason string }{
		"FLAKY-2": {"completed", "skipped", "the warehouse is told by phone"},
		"REPLY-1": {"completed", "message correlated", "the customer replied by phone"},
		"REPLY-2": {"cancelled", "instance cancelled", "the order was withdrawn"},
		"REPLY-3": {"terminated", "terminated", "the order is broken"},
	} {
		if c := waitCard(t, ids[k], func(c instanceCard) bool {
			return !slices.Contains([]string{"running", "waiting", "suspended", "incident"}, c.Status)
		}); c.Status != end.status || !hasEvent(c, end.event, end.reason) {
			t.Errorf("%s ended %s, want %s with %q (%s): %+v", k, c.Status, end.status, end.event, end.reason, c.Timeline)
		}
	}
}
