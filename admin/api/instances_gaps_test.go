package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// startedInstances reads the instances a record write's Link header names (rel started-instance).
func startedInstances(t *testing.T, r stacktest.Response) []string {
	t.Helper()
	var out []string
	for _, v := range r.Header.Values("Link") {
		for l := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(l), ";")
			if !ok || !strings.Contains(params, `rel="`+api.RelStartedInstance+`"`) {
				continue
			}
			path := strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">")
			id, err := url.PathUnescape(strings.TrimPrefix(path, "/api/v1/instances/"))
			if err != nil || !strings.HasPrefix(path, "/api/v1/instances/") {
				t.Fatalf("link %q", l)
			}
			out = append(out, id)
		}
	}
	return out
}

// TestRecordWriteNamesStartedInstances: a record create or patch that triggers processes names each
// instance it started in the Link header, and the link leads to the instance's card; a write that
// triggers nothing names none, and an idempotent replay of a create names none either (it wrote
// nothing and started nothing).
func TestRecordWriteNamesStartedInstances(t *testing.T) {
	trigger := func(key, on, cond string) []byte {
		return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_` + key + `" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + key + `" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:extensionElements><rapport:recordTrigger entity="lead" on="` + on + `" condition="` + cond + `" /></bpmn:extensionElements><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Call" name="Call"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="nobody" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Call" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Call" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`)
	}
	deployAndPublish(t, trigger("link-created", "created", `=record.name == &#34;Link Test Co&#34;`), "link-created")
	deployAndPublish(t, trigger("link-won", "updated", `=record.name == &#34;Link Test Co&#34; and record.status == &#34;contacted&#34;`), "link-won")
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger list at most every 2 s

	lead := map[string]any{"source": "partner", "name": "Link Test Co", "status": "new"}
	created := env.Call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken, lead)
	if created.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Status, created.Raw)
	}
	var rec struct{ ID string }
	json.Unmarshal(created.Raw, &rec)
	ids := startedInstances(t, created)
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "link-created:record:") {
		t.Fatalf("the create names %q (Link %q)", ids, created.Header.Values("Link"))
	}
	card := waitInstance(t, ids[0], func(v instanceView) bool { return slices.Contains(v.ActiveElements, "Task_Call") })
	if card.BusinessKey != rec.ID {
		t.Fatalf("the named instance is not the record's: %+v", card)
	}

	patched := env.Call(t, http.MethodPatch, "/api/v1/records/lead/"+rec.ID, env.AdminToken, map[string]any{"status": "contacted"})
	if patched.Status != http.StatusOK {
		t.Fatalf("patch: %d %s", patched.Status, patched.Raw)
	}
	if ids := startedInstances(t, patched); len(ids) != 1 || !strings.HasPrefix(ids[0], "link-won:record:") {
		t.Fatalf("the patch names %q", ids)
	} else {
		waitInstance(t, ids[0], func(v instanceView) bool { return slices.Contains(v.ActiveElements, "Task_Call") })
	}
	// The record page's list: the instances bound to the record, both of them.
	waitListed(t, "/api/v1/instances?entity=lead&record="+rec.ID, env.AdminToken, ids[0], startedInstances(t, patched)[0])
	again := env.Call(t, http.MethodPatch, "/api/v1/records/lead/"+rec.ID, env.AdminToken, map[string]any{"name": "Link Test Co (renamed)"})
	if again.Status != http.StatusOK || len(startedInstances(t, again)) != 0 {
		t.Fatalf("a patch triggering nothing: %d, Link %q", again.Status, again.Header.Values("Link"))
	}

	other := env.Call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken, map[string]any{"source": "partner", "name": "Unlinked Co", "status": "new"})
	if other.Status != http.StatusCreated || len(other.Header.Values("Link")) != 0 {
		t.Fatalf("a create triggering nothing: %d, Link %q", other.Status, other.Header.Values("Link"))
	}

	first := env.Call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken, lead, "Idempotency-Key", "link-test-once")
	replay := env.Call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken, lead, "Idempotency-Key", "link-test-once")
	if len(startedInstances(t, first)) != 1 {
		t.Fatalf("the first create with a key names %q", first.Header.Values("Link"))
	}
	if replay.Header.Get("Idempotent-Replayed") != "true" || len(startedInstances(t, replay)) != 0 {
		t.Fatalf("the replay: replayed %q, Link %q", replay.Header.Get("Idempotent-Replayed"), replay.Header.Values("Link"))
	}
}

// chargeProcess is a process whose service task is an external task of type topic charging
// amount * 100 cents; workCharges plays its worker.
func chargeProcess(key, topic string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_` + key + `" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + key + `" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="amount" type="float" /><rapport:variable name="receipt" type="string" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_Charge" name="Charge">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="` + topic + `" retries="1" />
        <zeebe:ioMapping><zeebe:input source="=amount * 100" target="cents" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Charge" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Charge" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`)
}

// startCharge starts an instance of a chargeProcess.
func startCharge(t *testing.T, key string, amount float64) string {
	t.Helper()
	var started struct{ ID string }
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/processes/"+key+"/instances", env.AdminToken,
		map[string]any{"variables": map[string]any{"amount": amount}}, &started)
	return started.ID
}

// chargeTask is an external task as the worker sees it.
type chargeTask struct {
	ID         string         `json:"id"`
	InstanceID string         `json:"instanceId"`
	Variables  map[string]any `json:"variables"`
}

// workCharges is the worker of chargeProcess tasks: it fetches the tasks of topic until it has handled
// n, fails those with negative cents without retries (an incident: the input is bad) and completes
// the others with a receipt; it returns the tasks it handled.
func workCharges(t *testing.T, topic string, n int) []chargeTask {
	t.Helper()
	var done []chargeTask
	fetch := map[string]any{"workerId": "ops-worker", "maxTasks": 100, "topics": []map[string]any{{"type": topic, "lockDuration": 60000}}}
	for deadline := time.Now().Add(5 * time.Minute); len(done) < n && time.Now().Before(deadline); {
		var tasks []chargeTask
		mustStatus(t, http.StatusOK, http.MethodPost, "/api/v1/external-tasks/fetchAndLock", env.AdminToken, fetch, &tasks)
		if len(tasks) == 0 {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for _, task := range tasks {
			cents, _ := task.Variables["cents"].(float64)
			if cents < 0 {
				mustStatus(t, http.StatusNoContent, http.MethodPost, "/api/v1/external-tasks/"+task.ID+"/failure", env.AdminToken,
					map[string]any{"workerId": "ops-worker", "errorMessage": "the amount is negative", "retries": 0}, nil)
			} else {
				mustStatus(t, http.StatusNoContent, http.MethodPost, "/api/v1/external-tasks/"+task.ID+"/complete", env.AdminToken,
					map[string]any{"workerId": "ops-worker", "variables": map[string]any{"receipt": "R-" + strconv.Itoa(int(cents))}}, nil)
			}
			done = append(done, task)
		}
	}
	if len(done) < n {
		t.Fatalf("the worker handled %d %s tasks, want %d", len(done), topic, n)
	}
	return done
}

// publishOwned publishes a process owned by the operations fixture's owner.
func publishOwned(t *testing.T, s Suite, xml []byte, key string) {
	t.Helper()
	deployAndPublish(t, xml, key)
	mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/processes/"+key+"/owners", env.AdminToken,
		map[string]any{"owners": []string{"user:" + s.Vars["owner"]}}, nil)
}

// TestRetryWithChangedInput: an incident caused by bad input (a negative amount the worker refuses)
// is retried once with the corrected variable and once with corrected task input; the worker gets the
// corrected values and both instances complete, the second keeping its variable; the timeline and the
// audit log record the retries with their reasons. A retry with a wrongly typed variable is refused.
func TestRetryWithChangedInput(t *testing.T) {
	s := suiteOnce(t)
	publishOwned(t, s, chargeProcess("ops-input", "ops-charge-input"), "ops-input")
	byVars, byInputs := startCharge(t, "ops-input", -5), startCharge(t, "ops-input", -7)
	workCharges(t, "ops-charge-input", 2)
	for _, id := range []string{byVars, byInputs} {
		v := waitInstance(t, id, func(v instanceView) bool { return len(v.Incidents) > 0 })
		if v.Incidents[0].Element != "Task_Charge" || !strings.Contains(v.Incidents[0].Message, "the amount is negative") {
			t.Fatalf("incident of %s: %+v", id, v.Incidents)
		}
	}
	s.Vars["byVars"], s.Vars["byInputs"] = url.PathEscape(byVars), url.PathEscape(byInputs)
	s.Run(t, []Scenario{
		{Name: "a corrected variable of the wrong type is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{byVars}/retry",
			Body: map[string]any{"reason": "fix", "variables": map[string]any{"amount": "five"}}, Status: http.StatusUnprocessableEntity,
			Contains: []string{`"pointer":"/variables/amount"`}},
		{Name: "retry with a corrected variable", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{byVars}/retry",
			Body:   map[string]any{"reason": "the customer meant 5 EUR", "element": "Task_Charge", "variables": map[string]any{"amount": 5.0}},
			Status: http.StatusOK, Contains: []string{`"incidents":[`, `"variables":{"amount":5}`}},
		{Name: "retry with corrected task input", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{byInputs}/retry",
			Body: map[string]any{"reason": "charged 7 EUR by hand", "inputs": map[string]any{"cents": 700}}, Status: http.StatusOK},
		{Name: "the worker gets the corrected values", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{byInputs}", Status: http.StatusOK,
			Check: func(t *testing.T, _ stacktest.Response) {
				got := map[string]float64{}
				for _, task := range workCharges(t, "ops-charge-input", 2) {
					got[task.InstanceID], _ = task.Variables["cents"].(float64)
				}
				if got[byVars] != 500 || got[byInputs] != 700 {
					t.Fatalf("the worker got cents %v", got)
				}
				v := waitInstance(t, byVars, func(v instanceView) bool { return v.Status == "completed" })
				if v.Variables["receipt"] != "R-500" {
					t.Fatalf("retried with the variable: %+v", v)
				}
				v = waitInstance(t, byInputs, func(v instanceView) bool { return v.Status == "completed" })
				if v.Variables["receipt"] != "R-700" || v.Variables["amount"] != -7.0 {
					t.Fatalf("retried with the input (the variable unchanged): %+v", v)
				}
			}},
		{Name: "the timeline records the retry with who and why", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{byInputs}", Status: http.StatusOK,
			Contains: []string{`"event":"retried"`, `"by":"{owner}"`, "charged 7 EUR by hand"}},
		{Name: "the audit log has both retries with their reasons", As: "admin", Method: http.MethodGet, URL: "/api/v1/audit?action=instance.retry&limit=200",
			Status: http.StatusOK, Contains: []string{"the customer meant 5 EUR", "charged 7 EUR by hand"}},
	})
}

// callProcesses are a parent whose call activity starts a child waiting at a user task.
func callProcesses(parent, child string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Definitions_` + parent + `" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + parent + `" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="Call_Sign" name="Get it signed"><bpmn:extensionElements><zeebe:calledElement processId="` + child + `" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="E"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Call_Sign" /><bpmn:sequenceFlow id="F2" sourceRef="Call_Sign" targetRef="E" />
  </bpmn:process>
  <bpmn:process id="` + child + `" isExecutable="true">
    <bpmn:startEvent id="S2"><bpmn:outgoing>G1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Sign" name="Sign"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="nobody" /></bpmn:extensionElements><bpmn:incoming>G1</bpmn:incoming><bpmn:outgoing>G2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="E2"><bpmn:incoming>G2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="G1" sourceRef="S2" targetRef="Task_Sign" /><bpmn:sequenceFlow id="G2" sourceRef="Task_Sign" targetRef="E2" />
  </bpmn:process>
</bpmn:definitions>`)
}

// TestParentAndChildInstances: the card of an instance whose call activity started a child names the
// child (and its call activity), the child's card names the parent, ?parent= lists the children, and an
// instance ID with ':' and '/' works percent-encoded in every instance path.
func TestParentAndChildInstances(t *testing.T) {
	s := suiteOnce(t)
	xml := callProcesses("ops-parent", "ops-child")
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/processes", env.AdminToken, xml, nil)
	for _, key := range []string{"ops-child", "ops-parent"} {
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/processes/"+key+"/publish", env.AdminToken, map[string]any{}, nil)
		mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/processes/"+key+"/owners", env.AdminToken,
			map[string]any{"owners": []string{"user:" + s.Vars["owner"]}}, nil)
	}
	var started struct{ ID string }
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/processes/ops-parent/instances", env.AdminToken, map[string]any{}, &started)
	parent := started.ID
	var card struct {
		Children []struct {
			ID      string `json:"id"`
			Element string `json:"element"`
		} `json:"children"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(card.Children) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/instances/"+url.PathEscape(parent), s.Tokens["owner"], nil, &card)
	}
	if len(card.Children) != 1 || card.Children[0].Element != "Call_Sign" || !strings.HasPrefix(card.Children[0].ID, parent+"/Call_Sign/") {
		t.Fatalf("children of %s: %+v", parent, card.Children)
	}
	child := card.Children[0].ID
	waitInstance(t, child, func(v instanceView) bool { return slices.Contains(v.ActiveElements, "Task_Sign") })
	s.Vars["parentID"], s.Vars["childID"] = parent, child
	s.Vars["parentQ"], s.Vars["child"] = url.QueryEscape(parent), url.PathEscape(child)
	if !strings.Contains(s.Vars["child"], "%2F") {
		t.Fatalf("the child's ID %q has no '/' to encode", child)
	}
	s.Run(t, []Scenario{
		{Name: "the child's card names its parent", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{child}", Status: http.StatusOK,
			Contains: []string{`"id":"{childID}"`, `"parent":"{parentID}"`, `"processKey":"ops-child"`}},
		{Name: "the list finds the children of the parent", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances?parent={parentQ}", Status: http.StatusOK,
			Contains: []string{`"id":"{childID}"`, `"parent":"{parentID}"`}, Lacks: []string{`"id":"{parentID}"`}},
		{Name: "an operation on the child by its encoded ID", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{child}/suspend",
			Body: map[string]any{"reason": "waiting for the lawyer"}, Status: http.StatusOK, Contains: []string{`"after":{"status":"suspended"`}},
		{Name: "a migration preview of the child by its encoded ID", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{child}/migration-preview",
			Body: map[string]any{"toVersion": 1}, Status: http.StatusOK, Contains: []string{"runs version 1 already"}},
		{Name: "terminating the parent terminates the child", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/" + url.PathEscape(parent) + "/terminate",
			Body: map[string]any{"reason": "deal lost"}, Status: http.StatusOK,
			Check: func(t *testing.T, _ stacktest.Response) {
				waitInstance(t, child, func(v instanceView) bool { return v.Status == "terminated" })
			}},
	})
}

// TestCompleteOnBehalf: a process owner completes someone's user task, and delivers a message, on
// their behalf: refused for a process owner who does not own the process, without a reason, and
// without instances.operate; allowed for the owner, with the timeline and the audit log naming who
// did it and for whom.
func TestCompleteOnBehalf(t *testing.T) {
	s := suiteOnce(t)
	id := startApproval(t, "ops-approval", s.Vars["review"], "OPS-BEHALF")
	var card struct {
		UserTasks []struct {
			ID string `json:"id"`
		} `json:"userTasks"`
	}
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/instances/"+url.PathEscape(id), env.AdminToken, nil, &card)
	if len(card.UserTasks) != 1 {
		t.Fatalf("tasks: %+v", card)
	}
	s.Vars["behalf"], s.Vars["behalfTask"] = url.PathEscape(id), card.UserTasks[0].ID
	complete := map[string]any{"reason": "Ann is ill; she approved on the phone", "taskId": "{behalfTask}", "variables": map[string]any{"approved": true}}
	s.Run(t, []Scenario{
		{Name: "a process owner who does not own the process is refused", As: "stranger", Method: http.MethodPost, URL: "/api/v1/instances/{behalf}/complete-task",
			Body: complete, Status: http.StatusForbidden, Contains: []string{"not-an-owner", "ops-approval"}},
		{Name: "an agent without instances.operate is refused", As: "agent", Method: http.MethodPost, URL: "/api/v1/instances/{behalf}/complete-task",
			Body: complete, Status: http.StatusForbidden, Contains: []string{"instances.operate"}},
		{Name: "a reason is required", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{behalf}/complete-task",
			Body: map[string]any{"taskId": "{behalfTask}", "variables": map[string]any{"approved": true}}, Status: http.StatusUnprocessableEntity,
			Contains: []string{"reason"}},
		{Name: "a blank reason is refused", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{behalf}/complete-task",
			Body: map[string]any{"reason": "  ", "taskId": "{behalfTask}", "variables": map[string]any{"approved": true}}, Status: http.StatusUnprocessableEntity,
			Contains: []string{`"pointer":"/reason"`}},
		{Name: "the form is checked as for the assignee", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{behalf}/complete-task",
			Body: map[string]any{"reason": "r", "taskId": "{behalfTask}", "variables": map[string]any{"approved": "yes"}}, Status: http.StatusConflict,
			Contains: []string{"approved"}},
		{Name: "the owner completes the task on the assignee's behalf", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{behalf}/complete-task",
			Body: complete, Status: http.StatusOK, Contains: []string{`"onBehalfOf":"{review}"`, `"activeElements":["Event_Confirmed"]`}},
		{Name: "the owner delivers the confirmation on the customer's behalf", As: "owner", Method: http.MethodPost, URL: "/api/v1/instances/{behalf}/correlate",
			Body:   map[string]any{"reason": "confirmed by phone", "onBehalfOf": "customer OPS-BEHALF", "message": map[string]any{"name": "confirmed", "correlationKey": "OPS-BEHALF"}},
			Status: http.StatusOK, Contains: []string{`"onBehalfOf":"customer OPS-BEHALF"`},
			Check: func(t *testing.T, _ stacktest.Response) {
				waitInstance(t, id, func(v instanceView) bool { return v.Status == "completed" })
			}},
		{Name: "the timeline names the operator and on whose behalf", As: "owner", Method: http.MethodGet, URL: "/api/v1/instances/{behalf}", Status: http.StatusOK,
			Check: func(t *testing.T, r stacktest.Response) {
				var c struct {
					Timeline []struct {
						Element string `json:"element"`
						Event   string `json:"event"`
						By      string `json:"by"`
						Reason  string `json:"reason"`
					} `json:"timeline"`
				}
				json.Unmarshal(r.Raw, &c)
				want := map[string]string{
					"Task_Approve":    "on behalf of " + s.Vars["review"] + ": Ann is ill; she approved on the phone",
					"Event_Confirmed": "on behalf of customer OPS-BEHALF: confirmed by phone",
				}
				for _, e := range c.Timeline {
					if w, ok := want[e.Element]; ok && e.By == s.Vars["owner"] && e.Reason == w {
						delete(want, e.Element)
					}
				}
				if len(want) > 0 {
					t.Fatalf("timeline lacks %v: %s", want, r.Raw)
				}
			}},
		{Name: "the audit log names who and on whose behalf", As: "admin", Method: http.MethodGet, URL: "/api/v1/audit?action=instance.completeTask&limit=200",
			Status: http.StatusOK, Contains: []string{`"onBehalfOf":"{review}"`, `"reason":"Ann is ill; she approved on the phone"`, `"id":"{owner}"`}},
	})
}

// TestBulkRetryIncidents: 200 instances stuck in an incident (their worker refused a negative amount);
// a bulk retry with the corrected amount is cancelled in the middle: those it retried have the new
// amount and no incident, the rest are untouched (no retry in their timeline, the old amount, the
// incident), and the progress says how far it got in per cent; a second bulk retry over the instances
// still in an incident does the rest, and the worker completes all 200. The test logs how long the
// 200 retries took (no assertion on time).
func TestBulkRetryIncidents(t *testing.T) {
	s := suiteOnce(t)
	const n = 200
	publishOwned(t, s, chargeProcess("ops-bulk-retry", "ops-charge-bulk"), "ops-bulk-retry")
	began := time.Now()
	ids := make([]string, 0, n)
	for range n {
		ids = append(ids, startCharge(t, "ops-bulk-retry", -1))
	}
	workCharges(t, "ops-charge-bulk", n)
	filter := map[string]any{"processKey": "ops-bulk-retry", "states": []string{"incident"}}
	count := func() int {
		var pv struct {
			Count int `json:"count"`
		}
		mustStatus(t, http.StatusOK, http.MethodPost, "/api/v1/batches/preview", s.Tokens["owner"],
			map[string]any{"filter": filter, "operation": map[string]any{"kind": "retry", "reason": "count"}}, &pv)
		return pv.Count
	}
	deadline := time.Now().Add(5 * time.Minute)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(time.Second)
	}
	if c := count(); c != n {
		t.Fatalf("%d instances in an incident, want %d", c, n)
	}
	t.Logf("%d instances started and in an incident after %v", n, time.Since(began).Round(time.Second))

	type progress struct {
		State     string `json:"state"`
		Total     int    `json:"total"`
		Processed int    `json:"processed"`
		Done      int    `json:"done"`
		Percent   int    `json:"percent"`
		Results   []struct {
			Instance string `json:"instance"`
			Result   string `json:"result"`
			Message  string `json:"message"`
		} `json:"results"`
	}
	retry := map[string]any{"kind": "retry", "reason": "the amounts were corrected", "variables": map[string]any{"amount": 1.0}}
	run := func(stopAt int) (progress, time.Duration) {
		var started struct{ ID string }
		at := time.Now()
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/batches", s.Tokens["owner"], map[string]any{"filter": filter, "operation": retry}, &started)
		path := "/api/v1/batches/" + url.PathEscape(started.ID)
		var p progress
		deadline := time.Now().Add(10 * time.Minute)
		for p.State != "completed" && p.State != "cancelled" && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			mustStatus(t, http.StatusOK, http.MethodGet, path, s.Tokens["owner"], nil, &p)
			if stopAt > 0 && p.Processed >= stopAt && p.State == "running" {
				mustStatus(t, http.StatusOK, http.MethodPost, path+"/cancel", s.Tokens["owner"], nil, &p)
				stopAt = 0
			}
		}
		return p, time.Since(at)
	}

	first, took1 := run(n / 4)
	if first.State != "cancelled" || first.Total != n || first.Processed >= n || first.Done != first.Processed || first.Percent != first.Processed*100/n {
		t.Fatalf("the cancelled batch: state %s, total %d, processed %d, done %d, %d%%", first.State, first.Total, first.Processed, first.Done, first.Percent)
	}
	t.Logf("the first batch retried %d of %d (%d%%) in %v before it was cancelled", first.Processed, n, first.Percent, took1.Round(time.Millisecond))
	retried := map[string]bool{}
	for _, r := range first.Results {
		if r.Result != "done" {
			t.Fatalf("result %+v", r)
		}
		retried[r.Instance] = true
	}
	for _, id := range ids {
		var c struct {
			Status    string         `json:"status"`
			Variables map[string]any `json:"variables"`
			Incidents []any          `json:"incidents"`
			Timeline  []struct {
				Event string `json:"event"`
			} `json:"timeline"`
		}
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/instances/"+url.PathEscape(id), s.Tokens["owner"], nil, &c)
		wasRetried := slices.ContainsFunc(c.Timeline, func(e struct {
			Event string `json:"event"`
		}) bool {
			return e.Event == "retried"
		})
		if retried[id] != wasRetried || retried[id] != (c.Variables["amount"] == 1.0) || retried[id] != (len(c.Incidents) == 0) {
			t.Fatalf("%s (retried by the batch: %v): %+v", id, retried[id], c)
		}
	}
	for count() != n-first.Processed && time.Now().Before(deadline) { // visibility catches up
		time.Sleep(time.Second)
	}

	second, took2 := run(0)
	if second.State != "completed" || second.Processed != n-first.Processed || second.Done != second.Processed || second.Percent != 100 {
		t.Fatalf("the second batch: %+v", second)
	}
	t.Logf("the second batch retried the other %d in %v", second.Processed, took2.Round(time.Millisecond))
	t.Logf("%d retries took %v in all (default rate %v/s, at most %d at once)", n, (took1 + took2).Round(time.Millisecond), 5.0, 5)
	workCharges(t, "ops-charge-bulk", n) // the worker charges the corrected amounts
	for _, id := range ids {
		waitInstance(t, id, func(v instanceView) bool { return v.Status == "completed" && v.Variables["receipt"] == "R-100" })
	}
	audited := 0
	for cursor, more := "", true; more; {
		var log struct {
			Items []struct {
				Reason string `json:"reason"`
			} `json:"items"`
			Next string `json:"next"`
		}
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/audit?action=instance.retry&limit=200&cursor="+url.QueryEscape(cursor), env.AdminToken, nil, &log)
		for _, e := range log.Items {
			if e.Reason == "the amounts were corrected" {
				audited++
			}
		}
		cursor, more = log.Next, log.Next != ""
	}
	if audited < n {
		t.Fatalf("%d retries audited, want %d", audited, n)
	}
}

// TestOpenAPIListsInstanceOperations: the OpenAPI document has every instance operation of issue 15,
// each needing instances.operate (the list and the card instances.read).
func TestOpenAPIListsInstanceOperations(t *testing.T) {
	r := env.Call(t, http.MethodGet, "/api/openapi.json", "", nil)
	var doc struct {
		Paths map[string]map[string]struct {
			Permission string `json:"x-permission"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.Raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GET /api/v1/instances": "instances.read", "GET /api/v1/instances/{id}": "instances.read",
		"POST /api/v1/tasks/{id}/assign": "instances.operate", "POST /api/v1/instances/{id}/migration-preview": "instances.operate",
		"POST /api/v1/batches/preview": "instances.operate", "POST /api/v1/batches": "instances.operate",
		"GET /api/v1/batches/{id}": "instances.operate", "POST /api/v1/batches/{id}/cancel": "instances.operate",
	}
	for _, op := range []string{"suspend", "resume", "cancel", "terminate", "variables", "retry", "skip", "move", "migrate", "correlate", "complete-task"} {
		want["POST /api/v1/instances/{id}/"+op] = "instances.operate"
	}
	for route, perm := range want {
		method, path, _ := strings.Cut(route, " ")
		if got := doc.Paths[path][strings.ToLower(method)].Permission; got != perm {
			t.Errorf("%s: permission %q, want %q", route, got, perm)
		}
	}
}
