package process

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

const start = `    <bpmn:startEvent id="Start"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>` + "\n"

func end(id, in string) string {
	return `    <bpmn:endEvent id="` + id + `"><bpmn:incoming>` + in + `</bpmn:incoming></bpmn:endEvent>` + "\n"
}

func userTask(id, in, out, extra string) string {
	return `    <bpmn:userTask id="` + id + `"><bpmn:extensionElements>` + extra + `</bpmn:extensionElements><bpmn:incoming>` + in + `</bpmn:incoming><bpmn:outgoing>` + out + `</bpmn:outgoing></bpmn:userTask>` + "\n"
}

func TestServiceTasksAndMappings(t *testing.T) {
	m := compileXML(t, doc("svc", start+
		svc("A", "record.get", "F0", "F1", `<zeebe:ioMapping><zeebe:input source="=leadId" target="id" /><zeebe:output source="=result.id + &#34;!&#34;" target="got" /></zeebe:ioMapping>`)+
		svc("B", "notify", "F1", "F2", `<zeebe:ioMapping><zeebe:input source="=got" target="to" /></zeebe:ioMapping>`)+
		end("End", "F2")+flow("F0", "Start", "A")+flow("F1", "A", "B")+flow("F2", "B", "End"), ""))
	c := newCalls()
	env := newEnv(t, c, nil)
	env.ExecuteWorkflow(WorkflowName, Input{Model: m, Variables: map[string]any{"leadId": "L1"}})
	res := result(t, env)
	if res.State != StateCompleted || res.EndElement != "End" {
		t.Fatalf("result %+v", res)
	}
	if res.Variables["got"] != "L1!" || c.input["B"]["to"] != "L1!" {
		t.Fatalf("variables %v, B inputs %v", res.Variables, c.input["B"])
	}
}

func TestGateways(t *testing.T) {
	exclusive := doc("xor", start+
		`    <bpmn:exclusiveGateway id="G" default="FD"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FD</bpmn:outgoing></bpmn:exclusiveGateway>`+"\n"+
		svc("A", "noop", "FA", "F1", "")+svc("D", "noop", "FD", "F2", "")+end("EndA", "F1")+end("EndD", "F2")+
		flow("F0", "Start", "G")+condFlow("FA", "G", "A", "=amount &gt; 10")+flow("FD", "G", "D")+flow("F1", "A", "EndA")+flow("F2", "D", "EndD"), "")
	parallel := doc("and", start+
		`    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing></bpmn:parallelGateway>`+"\n"+
		svc("A", "noop", "FA", "FA2", "")+svc("B", "noop", "FB", "FB2", "")+
		`    <bpmn:parallelGateway id="Join"><bpmn:incoming>FA2</bpmn:incoming><bpmn:incoming>FB2</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:parallelGateway>`+"\n"+
		svc("After", "noop", "F9", "F10", "")+end("End", "F10")+
		flow("F0", "Start", "Fork")+flow("FA", "Fork", "A")+flow("FB", "Fork", "B")+flow("FA2", "A", "Join")+flow("FB2", "B", "Join")+flow("F9", "Join", "After")+flow("F10", "After", "End"), "")
	inclusive := doc("or", start+
		`    <bpmn:inclusiveGateway id="Fork" default="FD"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing><bpmn:outgoing>FD</bpmn:outgoing></bpmn:inclusiveGateway>`+"\n"+
		svc("A", "noop", "FA", "FA2", "")+svc("B", "noop", "FB", "FB2", "")+svc("D", "noop", "FD", "FD2", "")+
		`    <bpmn:inclusiveGateway id="Join"><bpmn:incoming>FA2</bpmn:incoming><bpmn:incoming>FB2</bpmn:incoming><bpmn:incoming>FD2</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:inclusiveGateway>`+"\n"+
		svc("After", "noop", "F9", "F10", "")+end("End", "F10")+
		flow("F0", "Start", "Fork")+condFlow("FA", "Fork", "A", "=a")+condFlow("FB", "Fork", "B", "=b")+flow("FD", "Fork", "D")+
		flow("FA2", "A", "Join")+flow("FB2", "B", "Join")+flow("FD2", "D", "Join")+flow("F9", "Join", "After")+flow("F10", "After", "End"), "")
	cases := []struct {
		name string
		xml  string
		vars map[string]any
		want map[string]int // element → handler calls
		end  string
	}{
		{"exclusive condition", exclusive, map[string]any{"amount": 20}, map[string]int{"A": 1, "D": 0}, "EndA"},
		{"exclusive default", exclusive, map[string]any{"amount": 5}, map[string]int{"A": 0, "D": 1}, "EndD"},
		{"parallel fork and join", parallel, nil, map[string]int{"A": 1, "B": 1, "After": 1}, "End"},
		{"inclusive two of three", inclusive, map[string]any{"a": true, "b": true}, map[string]int{"A": 1, "B": 1, "D": 0, "After": 1}, "End"},
		{"inclusive one", inclusive, map[string]any{"a": false, "b": true}, map[string]int{"A": 0, "B": 1, "D": 0, "After": 1}, "End"},
		{"inclusive default", inclusive, map[string]any{"a": false, "b": false}, map[string]int{"A": 0, "B": 0, "D": 1, "After": 1}, "End"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			env := newEnv(t, c, nil)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, tc.xml), Variables: tc.vars})
			res := result(t, env)
			if res.EndElement != tc.end || res.State != StateCompleted {
				t.Fatalf("result %+v, want end %s", res, tc.end)
			}
			for el, n := range tc.want {
				if got := c.count(el); got != n {
					t.Errorf("%s ran %d times, want %d", el, got, n)
				}
			}
		})
	}
}

func userTaskDoc(boundary string) string {
	return doc("user", start+
		userTask("Call", "F0", "F1", `<zeebe:assignmentDefinition assignee="=owner" candidateGroups="sales, support" /><rapport:formFields><rapport:field name="outcome" type="string" required="true" /><rapport:field name="calls" type="int" /></rapport:formFields>`)+
		boundary+svc("Save", "record.update", "F1", "F2", "")+end("End", "F2")+flow("F0", "Start", "Call")+flow("F1", "Call", "Save")+flow("F2", "Save", "End"), "")
}

func TestUserTaskValidation(t *testing.T) {
	c := newCalls()
	env := newEnv(t, c, nil)
	var rejections []*outcome
	var good, twice *outcome
	env.RegisterDelayedCallback(func() {
		id := userTaskID(t, env, "Call")
		s := queryState(t, env)
		if u := s.UserTasks[0]; u.Assignee != "ann" || len(u.CandidateGroups) != 2 || s.Status != StateWaiting {
			t.Errorf("user task %+v, state %s", u, s.Status)
		}
		for _, bad := range []CompleteTaskRequest{
			{TaskID: "nope", Variables: map[string]any{"outcome": "won"}},
			{TaskID: id, Variables: map[string]any{}},
			{TaskID: id, Variables: map[string]any{"outcome": 3}},
			{TaskID: id, Variables: map[string]any{"outcome": "won", "calls": 1.5}},
			{TaskID: id, Variables: map[string]any{"outcome": "won", "other": 1}},
		} {
			rejections = append(rejections, update(env, UpdateCompleteTask, bad))
		}
		good = update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: id, Variables: map[string]any{"outcome": "won", "calls": 2}})
		twice = update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: id, Variables: map[string]any{"outcome": "lost"}})
	}, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, userTaskDoc("")), Variables: map[string]any{"owner": "ann"}})
	res := result(t, env)
	for i, o := range rejections {
		if o.rejected == nil || o.accepted {
			t.Errorf("bad completion %d accepted", i)
		}
	}
	if good == nil || !good.accepted || good.failed != nil || !good.done {
		t.Errorf("valid completion refused: %+v", good)
	}
	if twice == nil || (twice.rejected == nil && twice.failed == nil) {
		t.Errorf("second completion of the same task succeeded: %+v", twice)
	}
	if res.Variables["outcome"] != "won" || c.count("Save") != 1 {
		t.Fatalf("result %+v", res)
	}
}

func TestBoundaryTimers(t *testing.T) {
	interrupting := `    <bpmn:boundaryEvent id="Escalate" attachedToRef="Call"><bpmn:outgoing>FE</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>` + "\n" +
		svc("Boss", "notify", "FE", "FE2", "") + end("Escalated", "FE2") + flow("FE", "Escalate", "Boss") + flow("FE2", "Boss", "Escalated")
	reminder := `    <bpmn:boundaryEvent id="Remind" cancelActivity="false" attachedToRef="Call"><bpmn:outgoing>FE</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>` + "\n" +
		svc("Boss", "notify", "FE", "FE2", "") + end("Reminded", "FE2") + flow("FE", "Remind", "Boss") + flow("FE2", "Boss", "Reminded")
	cases := []struct {
		name       string
		boundary   string
		completeAt time.Duration
		boss, save int
		end        string
	}{
		{"interrupting fires", interrupting, 0, 1, 0, "Escalated"},
		{"interrupting not reached", interrupting, time.Hour, 0, 1, "End"},
		{"non-interrupting cycle fires twice then task completes", reminder, 150 * time.Minute, 2, 1, "End"},
		{"non-interrupting cycle stops after repetitions", reminder, 10 * time.Hour, 3, 1, "End"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			env := newEnv(t, c, nil)
			if tc.completeAt > 0 {
				env.RegisterDelayedCallback(func() {
					id := userTaskID(t, env, "Call")
					update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: id, Variables: map[string]any{"outcome": "ok"}})
				}, tc.completeAt)
			}
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, userTaskDoc(tc.boundary)), Variables: map[string]any{"owner": "ann"}})
			res := result(t, env)
			if c.count("Boss") != tc.boss || c.count("Save") != tc.save || res.EndElement != tc.end {
				t.Fatalf("boss %d save %d end %s", c.count("Boss"), c.count("Save"), res.EndElement)
			}
		})
	}
}

func eventGatewayDoc() string {
	return doc("evg", `    <rapport:variables />`+"\n"+start+
		`    <bpmn:eventBasedGateway id="G"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FM</bpmn:outgoing><bpmn:outgoing>FT</bpmn:outgoing></bpmn:eventBasedGateway>`+"\n"+
		`    <bpmn:intermediateCatchEvent id="Reply"><bpmn:incoming>FM</bpmn:incoming><bpmn:outgoing>FM2</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>`+"\n"+
		`    <bpmn:intermediateCatchEvent id="Timeout"><bpmn:incoming>FT</bpmn:incoming><bpmn:outgoing>FT2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>P7D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`+"\n"+
		end("Replied", "FM2")+end("TimedOut", "FT2")+
		flow("F0", "Start", "G")+flow("FM", "G", "Reply")+flow("FT", "G", "Timeout")+flow("FM2", "Reply", "Replied")+flow("FT2", "Timeout", "TimedOut"),
		`  <bpmn:message id="Msg" name="reply"><bpmn:extensionElements><zeebe:subscription correlationKey="=caseId" /></bpmn:extensionElements></bpmn:message>`)
}

func TestEventGatewayAndCorrelation(t *testing.T) {
	cases := []struct {
		name string
		msgs []MessageRequest
		at   time.Duration
		end  string
		text any
	}{
		{"message wins", []MessageRequest{{Name: "reply", CorrelationKey: "C1", Variables: map[string]any{"text": "hi"}}}, time.Hour, "Replied", "hi"},
		{"wrong key is not correlated", []MessageRequest{{Name: "reply", CorrelationKey: "C2", Variables: map[string]any{"text": "x"}}}, time.Hour, "TimedOut", nil},
		{"wrong name is not correlated", []MessageRequest{{Name: "other", CorrelationKey: "C1"}}, time.Hour, "TimedOut", nil},
		{"timer wins", nil, 0, "TimedOut", nil},
		{"late message after timer", []MessageRequest{{Name: "reply", CorrelationKey: "C1"}}, 8 * 24 * time.Hour, "TimedOut", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			for _, m := range tc.msgs {
				env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalMessage, m) }, tc.at)
			}
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, eventGatewayDoc()), Variables: map[string]any{"caseId": "C1"}})
			res := result(t, env)
			if res.EndElement != tc.end || res.Variables["text"] != tc.text {
				t.Fatalf("end %s vars %v, want %s", res.EndElement, res.Variables, tc.end)
			}
		})
	}
}

func TestMessageBufferedBeforeSubscription(t *testing.T) {
	// The message arrives while the token is still in a user task; the catch event takes it later.
	x := doc("buf", start+userTask("U", "F0", "F1", "")+
		`    <bpmn:intermediateCatchEvent id="Reply"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>`+"\n"+
		end("End", "F2")+flow("F0", "Start", "U")+flow("F1", "U", "Reply")+flow("F2", "Reply", "End"),
		`  <bpmn:message id="Msg" name="reply"><bpmn:extensionElements><zeebe:subscription correlationKey="=caseId" /></bpmn:extensionElements></bpmn:message>`)
	env := newEnv(t, newCalls(), nil)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalMessage, MessageRequest{Name: "reply", CorrelationKey: "K", Variables: map[string]any{"v": 1.0}})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "U")})
	}, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"caseId": "K"}})
	if res := result(t, env); res.EndElement != "End" || res.Variables["v"] != 1.0 {
		t.Fatalf("result %+v", res)
	}
}

func TestErrors(t *testing.T) {
	onTask := doc("errtask", start+
		svc("Mail", "notify", "F0", "F1", `<zeebe:taskHeaders><zeebe:header key="bpmnError" value="MAIL_FAILED" /></zeebe:taskHeaders>`)+
		`    <bpmn:boundaryEvent id="Failed" attachedToRef="Mail"><bpmn:outgoing>FE</bpmn:outgoing><bpmn:errorEventDefinition errorRef="Err" /></bpmn:boundaryEvent>`+"\n"+
		end("Sent", "F1")+end("Caught", "FE")+flow("F0", "Start", "Mail")+flow("F1", "Mail", "Sent")+flow("FE", "Failed", "Caught"),
		`  <bpmn:error id="Err" name="Mail failed" errorCode="MAIL_FAILED" />`)
	onSub := doc("errsub", start+
		`    <bpmn:subProcess id="Sub"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:startEvent id="SubStart"><bpmn:outgoing>S1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:exclusiveGateway id="Ok" default="S3"><bpmn:incoming>S1</bpmn:incoming><bpmn:outgoing>S2</bpmn:outgoing><bpmn:outgoing>S3</bpmn:outgoing></bpmn:exclusiveGateway>
      <bpmn:endEvent id="SubEnd"><bpmn:incoming>S2</bpmn:incoming></bpmn:endEvent>
      <bpmn:endEvent id="SubFail"><bpmn:incoming>S3</bpmn:incoming><bpmn:errorEventDefinition errorRef="Err" /></bpmn:endEvent>
      <bpmn:sequenceFlow id="S1" sourceRef="SubStart" targetRef="Ok" />
      <bpmn:sequenceFlow id="S2" sourceRef="Ok" targetRef="SubEnd"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=good</bpmn:conditionExpression></bpmn:sequenceFlow>
      <bpmn:sequenceFlow id="S3" sourceRef="Ok" targetRef="SubFail" />
    </bpmn:subProcess>
`+`    <bpmn:boundaryEvent id="Failed" attachedToRef="Sub"><bpmn:outgoing>FE</bpmn:outgoing><bpmn:errorEventDefinition errorRef="Err" /></bpmn:boundaryEvent>`+"\n"+
		end("Done", "F1")+end("Caught", "FE")+flow("F0", "Start", "Sub")+flow("F1", "Sub", "Done")+flow("FE", "Failed", "Caught"),
		`  <bpmn:error id="Err" name="Bad" errorCode="BAD" />`)
	cases := []struct {
		name string
		xml  string
		vars map[string]any
		end  string
	}{
		{"error boundary on service task", onTask, nil, "Caught"},
		{"sub-process completes", onSub, map[string]any{"good": true}, "Done"},
		{"error end in sub-process caught on its boundary", onSub, map[string]any{"good": false}, "Caught"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, tc.xml), Variables: tc.vars})
			if res := result(t, env); res.EndElement != tc.end {
				t.Fatalf("end %s, want %s", res.EndElement, tc.end)
			}
		})
	}
}

func TestEventSubProcess(t *testing.T) {
	x := doc("esp", start+userTask("Work", "F0", "F1", "")+end("Done", "F1")+
		flow("F0", "Start", "Work")+flow("F1", "Work", "Done")+
		`    <bpmn:subProcess id="Withdrawn" triggeredByEvent="true">
      <bpmn:startEvent id="WStart" isInterrupting="true"><bpmn:outgoing>W1</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:startEvent>
      <bpmn:serviceTask id="Close"><bpmn:extensionElements><zeebe:taskDefinition type="record.update" /></bpmn:extensionElements><bpmn:incoming>W1</bpmn:incoming><bpmn:outgoing>W2</bpmn:outgoing></bpmn:serviceTask>
      <bpmn:endEvent id="WEnd"><bpmn:incoming>W2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="W1" sourceRef="WStart" targetRef="Close" />
      <bpmn:sequenceFlow id="W2" sourceRef="Close" targetRef="WEnd" />
    </bpmn:subProcess>`,
		`  <bpmn:message id="Msg" name="withdrawn"><bpmn:extensionElements><zeebe:subscription correlationKey="=caseId" /></bpmn:extensionElements></bpmn:message>`)
	c := newCalls()
	env := newEnv(t, c, nil)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalMessage, MessageRequest{Name: "withdrawn", CorrelationKey: "K"})
	}, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"caseId": "K"}})
	res := result(t, env)
	if res.EndElement != "WEnd" || c.count("Close") != 1 {
		t.Fatalf("end %s close %d", res.EndElement, c.count("Close"))
	}
}

func TestCallActivity(t *testing.T) {
	child := compileXML(t, doc("child", start+
		svc("Work", "noop", "F0", "F1", `<zeebe:ioMapping><zeebe:output source="=n * 2" target="doubled" /></zeebe:ioMapping>`)+
		end("ChildEnd", "F1")+flow("F0", "Start", "Work")+flow("F1", "Work", "ChildEnd"), ""))
	parent := compileXML(t, doc("parent", start+
		`    <bpmn:callActivity id="Call"><bpmn:extensionElements><zeebe:calledElement processId="child" propagateAllChildVariables="true" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:callActivity>`+"\n"+
		end("End", "F1")+flow("F0", "Start", "Call")+flow("F1", "Call", "End"), ""))
	env := newEnv(t, newCalls(), mapStore{"child": child})
	env.ExecuteWorkflow(WorkflowName, Input{Model: parent, Variables: map[string]any{"n": 21}})
	res := result(t, env)
	if res.EndElement != "End" || res.Variables["doubled"] != 42.0 {
		t.Fatalf("result %+v", res)
	}
}

func TestIncidentAndRetry(t *testing.T) {
	x := doc("inc", start+svc("Flaky", "http", "F0", "F1",
		`<rapport:retryPolicy initialInterval="PT1S" backoffCoefficient="2" maximumInterval="PT5S" maximumAttempts="2" />`)+
		end("End", "F1")+flow("F0", "Start", "Flaky")+flow("F1", "Flaky", "End"), "")
	c := newCalls()
	c.fails["Flaky"] = 3 // two attempts fail → incident; the retry's first attempt fails again, the second works
	env := newEnv(t, c, nil)
	var seen Snapshot
	var unknown *outcome
	env.RegisterDelayedCallback(func() {
		seen = queryState(t, env)
		in := hasIncident(seen, IncidentTaskFailed)
		if in == nil {
			t.Errorf("no incident: %+v", seen)
			return
		}
		unknown = update(env, UpdateRetryIncident, RetryRequest{IncidentID: in.ID + 1000})
		update(env, UpdateRetryIncident, RetryRequest{IncidentID: in.ID})
	}, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x)})
	res := result(t, env)
	if unknown == nil || unknown.rejected == nil {
		t.Error("retry of an unknown incident accepted")
	}
	if seen.Status != StateIncident || res.EndElement != "End" || c.count("Flaky") != 4 {
		t.Fatalf("status %s end %s calls %d", seen.Status, res.EndElement, c.count("Flaky"))
	}
}

func TestStepBudget(t *testing.T) {
	x := doc("loop", start+
		`    <bpmn:scriptTask id="Inc"><bpmn:extensionElements><rapport:assign target="i" expression="=i + 1" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:incoming>FBack</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:scriptTask>`+"\n"+
		`    <bpmn:exclusiveGateway id="G" default="FBack"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>FOut</bpmn:outgoing><bpmn:outgoing>FBack</bpmn:outgoing></bpmn:exclusiveGateway>`+"\n"+
		end("End", "FOut")+flow("F0", "Start", "Inc")+flow("F1", "Inc", "G")+condFlow("FOut", "G", "End", "=i &gt;= limit")+flow("FBack", "G", "Inc"), "")
	cases := []struct {
		name     string
		limit    int
		incident bool
	}{
		{"short loop completes", 10, false},
		{"endless loop raises an incident", 1 << 30, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			var s Snapshot
			env.RegisterDelayedCallback(func() {
				s = queryState(t, env)
				if tc.incident {
					// Raise the limit out of reach... by lowering it: retrying with limit=0 ends the loop.
					update(env, UpdateRetryIncident, RetryRequest{IncidentID: s.Incidents[0].ID, Variables: map[string]any{"limit": 0}})
				}
			}, time.Minute)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"i": 0, "limit": tc.limit},
				Options: Options{StepBudget: 100}})
			res := result(t, env)
			if tc.incident {
				if hasIncident(s, IncidentStepBudget) == nil || res.EndElement != "End" {
					t.Fatalf("state %+v result %+v", s.Incidents, res)
				}
			} else if res.Variables["i"] != float64(tc.limit) && res.Variables["i"] != tc.limit {
				t.Fatalf("i = %v", res.Variables["i"])
			}
		})
	}
}

func TestContinueAsNewCarriesState(t *testing.T) {
	x := doc("can", start+userTask("Approve", "F0", "F1", "")+
		`    <bpmn:intermediateCatchEvent id="Tick"><bpmn:incoming>F1</bpmn:incoming><bpmn:incoming>FBack</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`+"\n"+
		`    <bpmn:scriptTask id="Inc"><bpmn:extensionElements><rapport:assign target="i" expression="=i + 1" /></bpmn:extensionElements><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:scriptTask>`+"\n"+
		`    <bpmn:exclusiveGateway id="G" default="FBack"><bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>FOut</bpmn:outgoing><bpmn:outgoing>FBack</bpmn:outgoing></bpmn:exclusiveGateway>`+"\n"+
		end("End", "FOut")+flow("F0", "Start", "Approve")+flow("F1", "Approve", "Tick")+flow("F2", "Tick", "Inc")+flow("F3", "Inc", "G")+
		condFlow("FOut", "G", "End", "=i &gt;= 30")+flow("FBack", "G", "Tick"), "")
	in := Input{Model: compileXML(t, x), Variables: map[string]any{"i": 0}}
	var carried []*State
	for run := 0; run < 5; run++ {
		env := newEnv(t, newCalls(), nil)
		env.SetContinueAsNewSuggested(run < 2)
		env.RegisterDelayedCallback(func() {
			if id := userTaskID(t, env, "Approve"); id != "" {
				update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: id})
			}
		}, time.Minute)
		env.ExecuteWorkflow(WorkflowName, in)
		var can *workflow.ContinueAsNewError
		if errors.As(env.GetWorkflowError(), &can) {
			var next Input
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
				t.Fatal(err)
			}
			if next.Resume == nil || next.Model == nil {
				t.Fatalf("continue-as-new lost state: %+v", next)
			}
			carried = append(carried, next.Resume)
			in = next
			continue
		}
		res := result(t, env)
		if res.EndElement != "End" || res.Variables["i"] != 30.0 {
			t.Fatalf("run %d: %+v", run, res)
		}
		// The first run carried the open user task, the second a pending timer.
		if len(carried) != 2 || len(carried[0].UserTasks) != 1 || len(carried[1].Subs) != 1 || carried[1].Subs[0].Kind != subTimer {
			t.Fatalf("carried %+v", carried)
		}
		return
	}
	t.Fatal("never completed")
}

func TestShippedProcesses(t *testing.T) {
	type step struct {
		at   time.Duration
		task string         // complete this user task with vars
		msg  string         // or send this message (correlation key "C1")
		vars map[string]any //
	}
	cases := []struct {
		name, file, id string
		in             Input
		mailError      bool
		steps          []step
		end            string
		ran            map[string]int
	}{
		{"lead qualified", "lead-qualification.bpmn", "lead-qualification",
			Input{Variables: map[string]any{"record": map[string]any{"id": "L1", "owner": "ann", "source": "web"}}, Entity: "lead", RecordID: "L1"},
			false, []step{{at: time.Hour, task: "Task_CallLead", vars: map[string]any{"outcome": "won"}}},
			"EndEvent_Qualified", map[string]int{"Task_ScoreLead": 1, "Task_SaveOutcome": 1, "Task_RemindOwner": 0}},
		{"lead reminder then qualified", "lead-qualification.bpmn", "lead-qualification",
			Input{Variables: map[string]any{"record": map[string]any{"id": "L1", "owner": "ann", "source": "web"}}},
			false, []step{{at: 30 * time.Hour, task: "Task_CallLead", vars: map[string]any{"outcome": "won"}}},
			"EndEvent_Qualified", map[string]int{"Task_RemindOwner": 1, "Task_SaveOutcome": 1}},
		{"complaint mail fails, customer replies, satisfied", "complaint-handling.bpmn", "complaint-handling",
			Input{Variables: map[string]any{"complaintId": "C1", "customerId": "X", "ownerId": "bob"}}, true,
			[]step{
				{at: time.Hour, task: "Task_Investigate", vars: map[string]any{"resolution": "refund"}},
				{at: 2 * time.Hour, task: "Task_CallCustomer"},
				{at: 3 * time.Hour, msg: "customer-reply"},
				{at: 4 * time.Hour, task: "Task_SatisfactionCheck", vars: map[string]any{"satisfied": true}},
			}, "EndEvent_Resolved", map[string]int{"Task_NotifyCustomer": 1, "Task_CloseComplaint": 0}},
		{"complaint escalated then withdrawn", "complaint-handling.bpmn", "complaint-handling",
			Input{Variables: map[string]any{"complaintId": "C1", "customerId": "X", "ownerId": "bob"}}, false,
			[]step{{at: 50 * time.Hour, msg: "complaint-withdrawn"}},
			"EndEvent_Withdrawn", map[string]int{"Task_CloseComplaint": 1, "Task_NotifyCustomer": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			env := newEnv(t, c, nil)
			if tc.mailError {
				tc.in.Options.TaskTimeout = time.Minute
				env.OnActivity(TaskActivityName, mock.Anything, mock.Anything).Return(
					func(_ context.Context, req TaskRequest) (TaskResult, error) {
						if req.Type == "http" {
							c.mu.Lock()
							c.byEl[req.Element]++
							c.mu.Unlock()
							return TaskResult{}, temporal.NewNonRetryableApplicationError("mail down", ErrorTypeBPMN, nil, "MAIL_FAILED")
						}
						return (&Activities{Registry: testRegistry(c)}).ExecuteTask(context.Background(), req)
					})
			}
			var outcomes []*outcome
			for _, s := range tc.steps {
				env.RegisterDelayedCallback(func() {
					if s.msg != "" {
						env.SignalWorkflow(SignalMessage, MessageRequest{Name: s.msg, CorrelationKey: "C1"})
						return
					}
					id := userTaskID(t, env, s.task)
					if id == "" {
						t.Errorf("no user task %s; state %+v", s.task, queryState(t, env).ActiveElements)
						return
					}
					outcomes = append(outcomes, update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: id, Variables: s.vars}))
				}, s.at)
			}
			tc.in.Model = loadTestdata(t, tc.file, tc.id)
			env.ExecuteWorkflow(WorkflowName, tc.in)
			res := result(t, env)
			if res.EndElement != tc.end {
				t.Fatalf("end %s, want %s (vars %v)", res.EndElement, tc.end, res.Variables)
			}
			for _, o := range outcomes {
				if !o.accepted {
					t.Errorf("completion refused: %v", o.rejected)
				}
			}
			for el, n := range tc.ran {
				if c.count(el) != n {
					t.Errorf("%s ran %d times, want %d", el, c.count(el), n)
				}
			}
		})
	}
}
