package process

import (
	"fmt"
	"testing"
	"time"
)

const replyMsg = `  <bpmn:message id="Msg" name="reply"><bpmn:extensionElements><zeebe:subscription correlationKey="=caseId" /></bpmn:extensionElements></bpmn:message>`

// TestEventGatewayCatchOutputs: the output mappings of a catch event after an event-based gateway
// apply (the first release skipped them), and with output mappings only the mapped message
// variables are kept (the first release merged all of them).
func TestEventGatewayCatchOutputs(t *testing.T) {
	x := doc("evgout", start+
		gateway("eventBasedGateway", "G", []string{"F0"}, []string{"FM", "FT"}, "")+
		`    <bpmn:intermediateCatchEvent id="Reply"><bpmn:extensionElements><zeebe:ioMapping><zeebe:output source="=result.text" target="got" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>FM</bpmn:incoming><bpmn:outgoing>FM2</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>`+"\n"+
		`    <bpmn:intermediateCatchEvent id="Timeout"><bpmn:incoming>FT</bpmn:incoming><bpmn:outgoing>FT2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`+"\n"+
		end("Replied", "FM2")+end("TimedOut", "FT2")+
		flow("F0", "Start", "G")+flow("FM", "G", "Reply")+flow("FT", "G", "Timeout")+flow("FM2", "Reply", "Replied")+flow("FT2", "Timeout", "TimedOut"), replyMsg)
	env := newEnv(t, newCalls(), nil)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalMessage, MessageRequest{Name: "reply", CorrelationKey: "C1", Variables: map[string]any{"text": "hi", "spam": true}})
	}, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"caseId": "C1"}})
	res := result(t, env)
	if res.EndElement != "Replied" || res.Variables["got"] != "hi" {
		t.Errorf("end %s got %v, want Replied and hi", res.EndElement, res.Variables["got"])
	}
	if _, ok := res.Variables["spam"]; ok {
		t.Errorf("an unmapped message variable was merged: %v", res.Variables)
	}
}

// TestMessageVariablesThroughOutputs: on a message catch, a receive task and a message boundary event
// with output mappings, only the mapped variables are kept.
func TestMessageVariablesThroughOutputs(t *testing.T) {
	outputs := `<bpmn:extensionElements><zeebe:ioMapping><zeebe:output source="=result.text + &#34;!&#34;" target="got" /></zeebe:ioMapping></bpmn:extensionElements>`
	cases := []struct {
		name, body string
	}{
		{"catch event", start + `    <bpmn:intermediateCatchEvent id="Reply">` + outputs + `<bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>` + "\n" +
			end("End", "F1") + flow("F0", "Start", "Reply") + flow("F1", "Reply", "End")},
		{"receive task", start + `    <bpmn:receiveTask id="Reply" messageRef="Msg">` + outputs + `<bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:receiveTask>` + "\n" +
			end("End", "F1") + flow("F0", "Start", "Reply") + flow("F1", "Reply", "End")},
		{"boundary event", start + userTask("U", "F0", "F1", "") +
			`    <bpmn:boundaryEvent id="Reply" attachedToRef="U">` + outputs + `<bpmn:outgoing>FB</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:boundaryEvent>` + "\n" +
			end("Done", "F1") + end("End", "FB") + flow("F0", "Start", "U") + flow("F1", "U", "Done") + flow("FB", "Reply", "End")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalMessage, MessageRequest{Name: "reply", CorrelationKey: "C1", Variables: map[string]any{"text": "hi", "spam": true}})
			}, time.Hour)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, doc("msgout", tc.body, replyMsg)), Variables: map[string]any{"caseId": "C1"}})
			res := result(t, env)
			if res.EndElement != "End" || res.Variables["got"] != "hi!" {
				t.Errorf("end %s got %v", res.EndElement, res.Variables["got"])
			}
			if _, ok := res.Variables["spam"]; ok {
				t.Errorf("an unmapped message variable was merged: %v", res.Variables)
			}
		})
	}
}

// TestDottedOutputTarget: an output target "lead.score" sets the score field of the lead object
// (keeping its other fields, creating it when missing) instead of a variable named "lead.score".
func TestDottedOutputTarget(t *testing.T) {
	x := docWith("dotted", anyVar("lead", "deal"), start+
		svc("Score", "rules.evaluate", "F0", "F1", `<zeebe:ioMapping><zeebe:output source="=result.score" target="lead.score" /><zeebe:output source="=result.score * 2" target="deal.rating.value" /></zeebe:ioMapping>`)+
		end("End", "F1")+flow("F0", "Start", "Score")+flow("F1", "Score", "End"), "")
	env := newEnv(t, newCalls(), nil)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"lead": map[string]any{"name": "Ann"}}})
	res := result(t, env)
	if _, flat := res.Variables["lead.score"]; flat {
		t.Errorf("a flat variable named lead.score: %v", res.Variables)
	}
	if got := fmt.Sprint(res.Variables["lead"]); got != "map[name:Ann score:80]" {
		t.Errorf("lead %s, want map[name:Ann score:80]", got)
	}
	if got := fmt.Sprint(res.Variables["deal"]); got != "map[rating:map[value:160]]" {
		t.Errorf("deal %s, want map[rating:map[value:160]]", got)
	}
}

// TestOptionalFieldLeftEmpty: a gateway reads an optional form field the person left empty; it is
// nil (the first release failed the gateway with "unknown name").
func TestOptionalFieldLeftEmpty(t *testing.T) {
	x := doc("optional", start+
		userTask("Call", "F0", "F1", `<rapport:formFields><rapport:field name="outcome" type="string" required="true" /><rapport:field name="priority" type="string" /></rapport:formFields>`)+
		gateway("exclusiveGateway", "Urgent", []string{"F1"}, []string{"FHigh", "FNormal"}, ` default="FNormal"`)+
		end("High", "FHigh")+end("Normal", "FNormal")+
		flow("F0", "Start", "Call")+flow("F1", "Call", "Urgent")+condFlow("FHigh", "Urgent", "High", `=priority == "high"`)+flow("FNormal", "Urgent", "Normal"), "")
	cases := []struct {
		name string
		vars map[string]any
		end  string
	}{
		{"left empty", map[string]any{"outcome": "won"}, "Normal"},
		{"filled", map[string]any{"outcome": "won", "priority": "high"}, "High"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			var seen Snapshot
			env.RegisterDelayedCallback(func() {
				update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "Call"), Variables: tc.vars})
			}, time.Hour)
			env.RegisterDelayedCallback(func() { seen = queryState(t, env) }, 2*time.Hour)
			env.RegisterDelayedCallback(env.CancelWorkflow, 3*time.Hour)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x)})
			if len(seen.Incidents) > 0 {
				t.Fatalf("incident %s", seen.Incidents[0].Message)
			}
			if res := result(t, env); res.EndElement != tc.end {
				t.Fatalf("end %s, want %s", res.EndElement, tc.end)
			}
		})
	}
}

// TestRetryCatchOutputs: the output mapping of a message catch fails; retrying the incident (with the
// missing variable) applies it to the message that arrived (the first release entered the catch event
// again and waited for another message).
func TestRetryCatchOutputs(t *testing.T) {
	x := docWith("catchretry", anyVar("suffix"), start+
		`    <bpmn:intermediateCatchEvent id="Reply"><bpmn:extensionElements><zeebe:ioMapping><zeebe:output source="=result.text + suffix" target="got" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>`+"\n"+
		end("End", "F1")+flow("F0", "Start", "Reply")+flow("F1", "Reply", "End"), replyMsg)
	env := newEnv(t, newCalls(), nil)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalMessage, MessageRequest{Name: "reply", CorrelationKey: "C1", Variables: map[string]any{"text": "hi"}})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		if in := hasIncident(queryState(t, env), IncidentExpression); in != nil {
			update(env, UpdateRetryIncident, RetryRequest{IncidentID: in.ID, Variables: map[string]any{"suffix": "!"}})
		}
	}, 2*time.Hour)
	env.SetTestTimeout(10 * time.Second)
	env.RegisterDelayedCallback(env.CancelWorkflow, 24*time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"caseId": "C1"}})
	if res := result(t, env); res.EndElement != "End" || res.Variables["got"] != "hi!" {
		t.Fatalf("end %s got %v", res.EndElement, res.Variables["got"])
	}
}
