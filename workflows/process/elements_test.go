package process

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

func TestFollowUpRemindersMultiInstance(t *testing.T) {
	cases := []struct {
		name     string
		contacts []any
		end      string
		creates  int
	}{
		{"three contacts", []any{
			map[string]any{"fullName": "Ann", "owner": "u1"},
			map[string]any{"fullName": "Bob", "owner": "u2"},
			map[string]any{"fullName": "Cem", "owner": "u1"},
		}, "EndEvent_Done", 3},
		{"nobody due", []any{}, "EndEvent_NoneDue", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			c.out["Task_FindDue"] = map[string]any{"records": tc.contacts}
			env := newEnv(t, c, nil)
			env.ExecuteWorkflow(WorkflowName, Input{Model: loadTestdata(t, "follow-up-reminders.bpmn", "follow-up-reminders"),
				StartElement: "StartEvent_Weekdays"})
			res := result(t, env)
			if res.EndElement != tc.end || c.count("Task_CreateCallTask") != tc.creates {
				t.Fatalf("end %s creates %d", res.EndElement, c.count("Task_CreateCallTask"))
			}
			if tc.creates > 0 {
				var titles []string
				for _, in := range c.all["Task_CreateCallTask"] {
					titles = append(titles, fmt.Sprint(in["title"]))
				}
				slices.Sort(titles)
				if !slices.Equal(titles, []string{"Call Ann", "Call Bob", "Call Cem"}) {
					t.Errorf("titles %v", titles)
				}
				// One summary per owner of a due contact.
				if res.Variables["created"] != float64(tc.creates) || c.count("Task_Summary") != 2 {
					t.Errorf("created %v summary %d", res.Variables["created"], c.count("Task_Summary"))
				}
			}
		})
	}
}

func TestMiscElements(t *testing.T) {
	msgRoot := `  <bpmn:message id="Msg" name="ping"><bpmn:extensionElements><zeebe:subscription correlationKey="=caseId" /></bpmn:extensionElements></bpmn:message>`
	cases := []struct {
		name   string
		body   string
		roots  string
		vars   map[string]any
		setup  func(t *testing.T, env *envT)
		end    string
		check  func(t *testing.T, c *calls, res Result)
		status string // when set, expect the instance still open with this status after the run
	}{
		{"message throw publishes", start +
			`    <bpmn:intermediateThrowEvent id="Tell"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateThrowEvent>` + "\n" +
			end("End", "F1") + flow("F0", "Start", "Tell") + flow("F1", "Tell", "End"), msgRoot, map[string]any{"caseId": "K9"}, nil, "End",
			func(t *testing.T, c *calls, _ Result) {
				if c.count("Tell") != 1 {
					t.Errorf("publish ran %d times", c.count("Tell"))
				}
			}, ""},
		{"link throw continues at catch", start +
			`    <bpmn:intermediateThrowEvent id="Go"><bpmn:incoming>F0</bpmn:incoming><bpmn:linkEventDefinition name="p2" /></bpmn:intermediateThrowEvent>` + "\n" +
			`    <bpmn:intermediateCatchEvent id="Page2"><bpmn:outgoing>F1</bpmn:outgoing><bpmn:linkEventDefinition name="p2" /></bpmn:intermediateCatchEvent>` + "\n" +
			end("End", "F1") + flow("F0", "Start", "Go") + flow("F1", "Page2", "End"), "", nil, nil, "End", nil, ""},
		{"timer catch from expression", start +
			`    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>=duration("2h")</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` + "\n" +
			`    <bpmn:scriptTask id="Stamp"><bpmn:extensionElements><rapport:assign target="waited" expression="=string(now)" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:scriptTask>` + "\n" +
			end("End", "F2") + flow("F0", "Start", "Wait") + flow("F1", "Wait", "Stamp") + flow("F2", "Stamp", "End"), "", nil, nil, "End",
			func(t *testing.T, _ *calls, res Result) {
				if res.Variables["waited"] == "" || res.Variables["waited"] == nil {
					t.Errorf("waited %v", res.Variables["waited"])
				}
			}, ""},
		{"message boundary interrupts user task", start + userTask("U", "F0", "F1", "") +
			`    <bpmn:boundaryEvent id="Cancelled" attachedToRef="U"><bpmn:outgoing>FC</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:boundaryEvent>` + "\n" +
			end("Done", "F1") + end("Stopped", "FC") + flow("F0", "Start", "U") + flow("F1", "U", "Done") + flow("FC", "Cancelled", "Stopped"),
			msgRoot, map[string]any{"caseId": "K"}, func(t *testing.T, env *envT) {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalMessage, MessageRequest{Name: "ping", CorrelationKey: "K"}) }, time.Hour)
			}, "Stopped", nil, ""},
		{"timer boundary interrupts sub-process", start +
			`    <bpmn:subProcess id="Sub"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:startEvent id="SS"><bpmn:outgoing>S1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="Inner"><bpmn:incoming>S1</bpmn:incoming><bpmn:outgoing>S2</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="SE"><bpmn:incoming>S2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="S1" sourceRef="SS" targetRef="Inner" /><bpmn:sequenceFlow id="S2" sourceRef="Inner" targetRef="SE" />
    </bpmn:subProcess>` + "\n" +
			`    <bpmn:boundaryEvent id="Late" attachedToRef="Sub"><bpmn:outgoing>FL</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>` + "\n" +
			end("Done", "F1") + end("TooLate", "FL") + flow("F0", "Start", "Sub") + flow("F1", "Sub", "Done") + flow("FL", "Late", "TooLate"),
			"", nil, nil, "TooLate", nil, ""},
		{"non-interrupting timer event sub-process", start + userTask("U", "F0", "F1", "") + end("Done", "F1") +
			flow("F0", "Start", "U") + flow("F1", "U", "Done") +
			`    <bpmn:subProcess id="Nag" triggeredByEvent="true">
      <bpmn:startEvent id="NagStart" isInterrupting="false"><bpmn:outgoing>N1</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>
      <bpmn:serviceTask id="Ping"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /></bpmn:extensionElements><bpmn:incoming>N1</bpmn:incoming><bpmn:outgoing>N2</bpmn:outgoing></bpmn:serviceTask>
      <bpmn:endEvent id="NagEnd"><bpmn:incoming>N2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="N1" sourceRef="NagStart" targetRef="Ping" /><bpmn:sequenceFlow id="N2" sourceRef="Ping" targetRef="NagEnd" />
    </bpmn:subProcess>`, "", nil, func(t *testing.T, env *envT) {
			env.RegisterDelayedCallback(func() {
				update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "U")})
			}, 3*time.Hour)
		}, "Done", func(t *testing.T, c *calls, _ Result) {
			if c.count("Ping") != 1 {
				t.Errorf("ping ran %d times", c.count("Ping"))
			}
		}, ""},
		{"terminate end stops parallel branch", start +
			`    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing></bpmn:parallelGateway>` + "\n" +
			userTask("U", "FA", "FA2", "") + end("Done", "FA2") +
			`    <bpmn:endEvent id="Kill"><bpmn:incoming>FB</bpmn:incoming><bpmn:terminateEventDefinition /></bpmn:endEvent>` + "\n" +
			flow("F0", "Start", "Fork") + flow("FA", "Fork", "U") + flow("FB", "Fork", "Kill") + flow("FA2", "U", "Done"), "", nil, nil, "Kill", nil, ""},
		{"unknown task type raises an incident", start + svc("X", "connector", "F0", "F1", "") + end("End", "F1") +
			flow("F0", "Start", "X") + flow("F1", "X", "End"), "", nil, nil, "", nil, StateIncident},
		{"set variables update", start + userTask("U", "F0", "F1", "") +
			`    <bpmn:exclusiveGateway id="G" default="FNo"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>FYes</bpmn:outgoing><bpmn:outgoing>FNo</bpmn:outgoing></bpmn:exclusiveGateway>` + "\n" +
			end("Yes", "FYes") + end("No", "FNo") + flow("F0", "Start", "U") + flow("F1", "U", "G") + condFlow("FYes", "G", "Yes", "=good") + flow("FNo", "G", "No"),
			"", map[string]any{"good": false}, func(t *testing.T, env *envT) {
				env.RegisterDelayedCallback(func() {
					bad := update(env, UpdateSetVariables, SetVariablesRequest{Variables: map[string]any{"good": "yes"}})
					good := update(env, UpdateSetVariables, SetVariablesRequest{Variables: map[string]any{"good": true}})
					env.RegisterDelayedCallback(func() {
						if bad.rejected == nil || !good.accepted {
							t.Errorf("ill-typed update rejected=%v, valid accepted=%v", bad.rejected, good.accepted)
						}
					}, time.Minute)
				}, time.Minute)
				env.RegisterDelayedCallback(func() {
					update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "U")})
				}, time.Hour)
			}, "Yes", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			env := newEnv(t, c, nil)
			if tc.status != "" {
				env = newEnvWith(t, NewRegistry())
			}
			if tc.setup != nil {
				tc.setup(t, env)
			}
			var seen Snapshot
			if tc.status != "" {
				env.RegisterDelayedCallback(func() { seen = queryState(t, env) }, time.Hour)
				env.SetTestTimeout(time.Minute)
				env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 2*time.Hour)
			}
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, doc("misc", tc.body, tc.roots)), Variables: tc.vars})
			if tc.status != "" {
				if seen.Status != tc.status || len(seen.Incidents) != 1 || seen.Incidents[0].Element != "X" {
					t.Fatalf("status %s incidents %+v", seen.Status, seen.Incidents)
				}
				return
			}
			res := result(t, env)
			if res.EndElement != tc.end {
				t.Fatalf("end %s, want %s", res.EndElement, tc.end)
			}
			if tc.check != nil {
				tc.check(t, c, res)
			}
		})
	}
}

func TestStartsAndErrorEventSubProcess(t *testing.T) {
	errRoot := `  <bpmn:error id="Err" name="Mail" errorCode="MAIL" />` + "\n" +
		`  <bpmn:message id="Msg" name="order-placed" />`
	body := start +
		`    <bpmn:startEvent id="Ordered"><bpmn:outgoing>FM</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:startEvent>` + "\n" +
		svc("Mail", "notify", "F0", "F1", `<zeebe:taskHeaders><zeebe:header key="bpmnError" value="MAIL" /></zeebe:taskHeaders>`) +
		end("Sent", "F1") + end("FromMessage", "FM") + flow("F0", "Start", "Mail") + flow("F1", "Mail", "Sent") + flow("FM", "Ordered", "FromMessage") +
		`    <bpmn:subProcess id="OnError" triggeredByEvent="true">
      <bpmn:startEvent id="ErrStart"><bpmn:outgoing>E1</bpmn:outgoing><bpmn:errorEventDefinition errorRef="Err" /></bpmn:startEvent>
      <bpmn:scriptTask id="Note"><bpmn:extensionElements><rapport:assign target="handled" expression="=true" /></bpmn:extensionElements><bpmn:incoming>E1</bpmn:incoming><bpmn:outgoing>E2</bpmn:outgoing></bpmn:scriptTask>
      <bpmn:endEvent id="ErrEnd"><bpmn:incoming>E2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="E1" sourceRef="ErrStart" targetRef="Note" /><bpmn:sequenceFlow id="E2" sourceRef="Note" targetRef="ErrEnd" />
    </bpmn:subProcess>`
	cases := []struct {
		name, start, end string
		handled          any
	}{
		{"none start, error caught by event sub-process", "", "ErrEnd", true},
		{"message start", "Ordered", "FromMessage", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, doc("starts", body, errRoot)), StartElement: tc.start})
			res := result(t, env)
			if res.EndElement != tc.end || res.Variables["handled"] != tc.handled {
				t.Fatalf("end %s handled %v", res.EndElement, res.Variables["handled"])
			}
		})
	}
}

func TestCancelledInstance(t *testing.T) {
	env := newEnv(t, newCalls(), nil)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, userTaskDoc(""))})
	if !env.IsWorkflowCompleted() || !temporal.IsCanceledError(env.GetWorkflowError()) {
		t.Fatalf("want a cancelled instance, got %v", env.GetWorkflowError())
	}
}

// TestUnhandledErrorIsAnIncident: a BPMN error nobody catches stops the instance with an incident at
// the element that threw it. Before behaviour level 5 a retry of that incident ended the instance
// "completed" with no end element; now retrying an error thrown by a task runs the task again (here it
// finds the record the second time and the instance ends at its end event), and an error end event,
// which would throw again, refuses the retry with a message saying what to do instead.
func TestUnhandledErrorIsAnIncident(t *testing.T) {
	t.Run("task error retried runs the task again", func(t *testing.T) {
		x := doc("unhandled", start+
			svc("Lookup", "record.get", "F0", "F1", `<zeebe:taskHeaders><zeebe:header key="entity" value="lead" /></zeebe:taskHeaders><zeebe:ioMapping><zeebe:input source="=leadId" target="id" /><zeebe:output source="=result.name" target="name" /></zeebe:ioMapping>`)+
			end("Found", "F1")+flow("F0", "Start", "Lookup")+flow("F1", "Lookup", "Found"), "")
		var calls int
		reg := NewRegistry()
		reg.Register("record.get", TaskHandlerFunc(func(_ context.Context, req TaskRequest) (map[string]any, error) {
			calls++
			if calls == 1 {
				return nil, &BPMNError{Code: "NOT_FOUND", Message: "lead " + fmt.Sprint(req.Inputs["id"]) + " not found"}
			}
			return map[string]any{"id": req.Inputs["id"], "name": "Ada"}, nil
		}))
		env := newEnvWith(t, reg)
		seenAt, retriedAt := retryUnhandledAfterAnHour(t, env)
		env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Hour)
		env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"leadId": "L1"}})
		seen, retried := *seenAt, *retriedAt
		in := hasIncident(seen, IncidentUnhandledError)
		if seen.Status != StateIncident || in == nil || in.Element != "Lookup" || !strings.Contains(in.Message, "NOT_FOUND") {
			t.Fatalf("before the retry: %s %+v", seen.Status, seen.Incidents)
		}
		if len(seen.Tokens) != 1 || seen.Tokens[0].Element != "Lookup" {
			t.Fatalf("the token must wait at the task that threw: %+v", seen.Tokens)
		}
		if retried == nil || retried.rejected != nil || retried.failed != nil {
			t.Fatalf("retry: %+v", retried)
		}
		res := result(t, env)
		if calls != 2 || res.State != StateCompleted || res.EndElement != "Found" || res.Variables["name"] != "Ada" {
			t.Fatalf("%d calls, result %+v", calls, res)
		}
	})
	t.Run("parallel loop instance retried alone", func(t *testing.T) {
		x := docWith("unhandled", anyVar("ids", "names", "name"), start+
			`    <bpmn:serviceTask id="Lookup"><bpmn:extensionElements><zeebe:taskDefinition type="record.get" /><zeebe:taskHeaders><zeebe:header key="entity" value="lead" /></zeebe:taskHeaders><zeebe:ioMapping><zeebe:input source="=leadId" target="id" /><zeebe:output source="=result.name" target="name" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=ids" inputElement="leadId" outputCollection="names" outputElement="=name" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:serviceTask>`+"\n"+
			end("Found", "F1")+flow("F0", "Start", "Lookup")+flow("F1", "Lookup", "Found"), "")
		calls := map[string]int{}
		reg := NewRegistry()
		reg.Register("record.get", TaskHandlerFunc(func(_ context.Context, req TaskRequest) (map[string]any, error) {
			id := fmt.Sprint(req.Inputs["id"])
			calls[id]++
			if id == "L2" && calls[id] == 1 {
				return nil, &BPMNError{Code: "NOT_FOUND", Message: "lead L2 not found"}
			}
			return map[string]any{"id": id, "name": "name of " + id}, nil
		}))
		env := newEnvWith(t, reg)
		seenAt, retriedAt := retryUnhandledAfterAnHour(t, env)
		env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Hour)
		env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"ids": []any{"L1", "L2", "L3"}}})
		seen, retried := *seenAt, *retriedAt
		if in := hasIncident(seen, IncidentUnhandledError); in == nil || in.Element != "Lookup" || len(seen.Incidents) != 1 {
			t.Fatalf("before the retry: %+v", seen.Incidents)
		}
		if retried == nil || retried.rejected != nil || retried.failed != nil {
			t.Fatalf("retry: %+v", retried)
		}
		res := result(t, env)
		if got := fmt.Sprint(res.Variables["names"]); res.EndElement != "Found" || got != "[name of L1 name of L2 name of L3]" {
			t.Fatalf("end %s, names %s", res.EndElement, got)
		}
		if calls["L1"] != 1 || calls["L2"] != 2 || calls["L3"] != 1 {
			t.Fatalf("calls %v: only the instance that threw runs again", calls)
		}
	})
	t.Run("error end event retry refused", func(t *testing.T) {
		x := doc("unhandled", start+
			`    <bpmn:endEvent id="Rejected"><bpmn:incoming>F0</bpmn:incoming><bpmn:errorEventDefinition errorRef="Err" /></bpmn:endEvent>`+"\n"+
			flow("F0", "Start", "Rejected"), `<bpmn:error id="Err" name="Rejected" errorCode="REJECTED" />`)
		env := newEnv(t, newCalls(), nil)
		seenAt, retriedAt := retryUnhandledAfterAnHour(t, env)
		var after Snapshot
		env.RegisterDelayedCallback(func() { after = queryState(t, env) }, 90*time.Minute)
		env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Hour)
		env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x)})
		seen, retried := *seenAt, *retriedAt
		if in := hasIncident(seen, IncidentUnhandledError); in == nil || in.Element != "Rejected" {
			t.Fatalf("no incident at the error end event: %+v", seen.Incidents)
		}
		if retried == nil || retried.rejected == nil || !strings.Contains(retried.rejected.Error(), "cannot be retried") {
			t.Fatalf("retry of an error end event's incident: %+v, want refused", retried)
		}
		if after.Status != StateIncident || hasIncident(after, IncidentUnhandledError) == nil {
			t.Fatalf("after the refused retry: %s %+v", after.Status, after.Incidents)
		}
		if !env.IsWorkflowCompleted() || !temporal.IsCanceledError(env.GetWorkflowError()) {
			t.Fatalf("the instance must stay open until cancelled: %v", env.GetWorkflowError())
		}
	})
}

// retryUnhandledAfterAnHour looks at the instance an hour in and retries its unhandledError incident,
// if any: the snapshot seen and the retry's outcome are filled in when the workflow has run.
func retryUnhandledAfterAnHour(t *testing.T, env *envT) (*Snapshot, **outcome) {
	var seen Snapshot
	var retried *outcome
	env.RegisterDelayedCallback(func() {
		seen = queryState(t, env)
		if in := hasIncident(seen, IncidentUnhandledError); in != nil {
			retried = update(env, UpdateRetryIncident, RetryRequest{IncidentID: in.ID})
		}
	}, time.Hour)
	return &seen, &retried
}

func TestParallelMultiInstanceUserTasks(t *testing.T) {
	x := doc("approvals", start+
		`    <bpmn:userTask id="Approve"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=approver" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="approver" outputCollection="votes" outputElement="=vote" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>`+"\n"+
		`    <bpmn:boundaryEvent id="Late" attachedToRef="Approve"><bpmn:outgoing>FL</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>`+"\n"+
		end("Decided", "F1")+end("TooLate", "FL")+flow("F0", "Start", "Approve")+flow("F1", "Approve", "Decided")+flow("FL", "Late", "TooLate"), "")
	cases := []struct {
		name     string
		complete []string // assignees who complete, in order
		end      string
	}{
		{"all approve", []string{"bo", "al"}, "Decided"},
		{"one missing: boundary ends the loop", []string{"al"}, "TooLate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			var open []string
			env.RegisterDelayedCallback(func() {
				s := queryState(t, env)
				for _, u := range s.UserTasks {
					open = append(open, u.Assignee)
				}
				for _, who := range tc.complete {
					for _, u := range s.UserTasks {
						if u.Assignee == who {
							update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: u.ID, Variables: map[string]any{"vote": who + "-yes"}})
						}
					}
				}
			}, time.Hour)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"approvers": []any{"al", "bo"}}})
			res := result(t, env)
			slices.Sort(open)
			if !slices.Equal(open, []string{"al", "bo"}) || res.EndElement != tc.end {
				t.Fatalf("open tasks %v, end %s", open, res.EndElement)
			}
			if tc.end == "Decided" {
				votes, _ := res.Variables["votes"].([]any)
				if len(votes) != 2 || votes[0] != "al-yes" || votes[1] != "bo-yes" {
					t.Fatalf("votes %v (ordered by input position)", res.Variables["votes"])
				}
			}
		})
	}
}
