package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/workflows"
	"github.com/rapportcrm/rapport/workflows/process"
)

// docVars is doc with more declared variables.
func docVars(id, vars, body, roots string) string {
	return strings.Replace(doc(id, body, roots), "</rapport:variables>", vars+"</rapport:variables>", 1)
}

const (
	startEvent = `<bpmn:startEvent id="Start"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>`
	replyMsg   = `<bpmn:message id="Msg" name="reply"><bpmn:extensionElements><zeebe:subscription correlationKey="=caseId" /></bpmn:extensionElements></bpmn:message>`
	// tickerLoop counts amount up to 6 with 0.2 s timers between flows FT (in) and FTOut (out).
	tickerLoop = `
    <bpmn:intermediateCatchEvent id="Tick"><bpmn:incoming>FT</bpmn:incoming><bpmn:incoming>FBack</bpmn:incoming><bpmn:outgoing>FT2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="Count"><bpmn:extensionElements><rapport:assign target="amount" expression="=amount + 1" /></bpmn:extensionElements><bpmn:incoming>FT2</bpmn:incoming><bpmn:outgoing>FT3</bpmn:outgoing></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="More" default="FBack"><bpmn:incoming>FT3</bpmn:incoming><bpmn:outgoing>FTOut</bpmn:outgoing><bpmn:outgoing>FBack</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="FT2" sourceRef="Tick" targetRef="Count" />
    <bpmn:sequenceFlow id="FT3" sourceRef="Count" targetRef="More" />
    <bpmn:sequenceFlow id="FTOut" sourceRef="More" targetRef="Join"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt;= 6</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="FBack" sourceRef="More" targetRef="Tick" />`
)

// elementScenarios are the scenarios recorded for the replay corpus at behaviour level 1: each
// element family (continue-as-new while a call activity runs, parallel and inclusive joins,
// sequential and parallel multi-instance, event-based gateways, non-interrupting timers, message
// starts).
func elementScenarios(t *testing.T, store memStore) []scenario {
	store["signing"] = parse(t, []byte(doc("signing", startEvent+`
    <bpmn:userTask id="Sign"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="Signed"><bpmn:extensionElements><rapport:assign target="signedBy" expression="=&#34;ann&#34;" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:scriptTask>
    <bpmn:endEvent id="SignEnd"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Sign" />
    <bpmn:sequenceFlow id="F1" sourceRef="Sign" targetRef="Signed" />
    <bpmn:sequenceFlow id="F2" sourceRef="Signed" targetRef="SignEnd" />`, "")), "signing")
	// The contract waits for a signature (a call activity) while a ticker makes the history long
	// enough to continue as new: the child keeps running and reports to the continued instance.
	contract := parse(t, []byte(docVars("contract", `<rapport:variable name="signedBy" type="string" />`, startEvent+`
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FS</bpmn:outgoing><bpmn:outgoing>FT</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:callActivity id="GetSignature"><bpmn:extensionElements><zeebe:calledElement processId="signing" propagateAllChildVariables="true" /></bpmn:extensionElements><bpmn:incoming>FS</bpmn:incoming><bpmn:outgoing>FS2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>FS2</bpmn:incoming><bpmn:incoming>FTOut</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="Signed"><bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:sequenceFlow id="FS" sourceRef="Fork" targetRef="GetSignature" />
    <bpmn:sequenceFlow id="FT" sourceRef="Fork" targetRef="Tick" />
    <bpmn:sequenceFlow id="FS2" sourceRef="GetSignature" targetRef="Join" />
    <bpmn:sequenceFlow id="F9" sourceRef="Join" targetRef="Signed" />`+tickerLoop, "")), "contract")

	joins := parse(t, []byte(doc("joins", startEvent+`
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="Call"><bpmn:incoming>FA</bpmn:incoming><bpmn:outgoing>FA2</bpmn:outgoing></bpmn:userTask>
    <bpmn:serviceTask id="Notify"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /></bpmn:extensionElements><bpmn:incoming>FB</bpmn:incoming><bpmn:outgoing>FB2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>FA2</bpmn:incoming><bpmn:incoming>FB2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:inclusiveGateway id="Split" default="FZ"><bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>FX</bpmn:outgoing><bpmn:outgoing>FY</bpmn:outgoing><bpmn:outgoing>FZ</bpmn:outgoing></bpmn:inclusiveGateway>
    <bpmn:userTask id="Review"><bpmn:incoming>FX</bpmn:incoming><bpmn:outgoing>FX2</bpmn:outgoing></bpmn:userTask>
    <bpmn:intermediateCatchEvent id="Pause"><bpmn:incoming>FY</bpmn:incoming><bpmn:outgoing>FY2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="Skip"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /></bpmn:extensionElements><bpmn:incoming>FZ</bpmn:incoming><bpmn:outgoing>FZ2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:inclusiveGateway id="Merge"><bpmn:incoming>FX2</bpmn:incoming><bpmn:incoming>FY2</bpmn:incoming><bpmn:incoming>FZ2</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:inclusiveGateway>
    <bpmn:endEvent id="Done"><bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:sequenceFlow id="FA" sourceRef="Fork" targetRef="Call" />
    <bpmn:sequenceFlow id="FB" sourceRef="Fork" targetRef="Notify" />
    <bpmn:sequenceFlow id="FA2" sourceRef="Call" targetRef="Join" />
    <bpmn:sequenceFlow id="FB2" sourceRef="Notify" targetRef="Join" />
    <bpmn:sequenceFlow id="F3" sourceRef="Join" targetRef="Split" />
    <bpmn:sequenceFlow id="FX" sourceRef="Split" targetRef="Review"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt; 100</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="FY" sourceRef="Split" targetRef="Pause"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt; 10</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="FZ" sourceRef="Split" targetRef="Skip" />
    <bpmn:sequenceFlow id="FX2" sourceRef="Review" targetRef="Merge" />
    <bpmn:sequenceFlow id="FY2" sourceRef="Pause" targetRef="Merge" />
    <bpmn:sequenceFlow id="FZ2" sourceRef="Skip" targetRef="Merge" />
    <bpmn:sequenceFlow id="F9" sourceRef="Merge" targetRef="Done" />`, "")), "joins")

	loops := parse(t, []byte(docVars("loops", `<rapport:variable name="approvers" type="list" /><rapport:variable name="vote" type="string" />`, startEvent+`
    <bpmn:userTask id="Approve"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=approver" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="approver" outputCollection="votes" outputElement="=approver + &#34;:&#34; + vote" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:serviceTask id="Thank"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /><zeebe:ioMapping><zeebe:input source="=approver" target="to" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="approver" outputCollection="thanked" outputElement="=loopCounter" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:serviceTask>
    <bpmn:subProcess id="Each"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="who" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
      <bpmn:startEvent id="EachStart"><bpmn:outgoing>E1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="Confirm"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=who" /></bpmn:extensionElements><bpmn:incoming>E1</bpmn:incoming><bpmn:outgoing>E2</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="EachEnd"><bpmn:incoming>E2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="E1" sourceRef="EachStart" targetRef="Confirm" />
      <bpmn:sequenceFlow id="E2" sourceRef="Confirm" targetRef="EachEnd" />
    </bpmn:subProcess>
    <bpmn:endEvent id="Done"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Approve" />
    <bpmn:sequenceFlow id="F1" sourceRef="Approve" targetRef="Thank" />
    <bpmn:sequenceFlow id="F2" sourceRef="Thank" targetRef="Each" />
    <bpmn:sequenceFlow id="F3" sourceRef="Each" targetRef="Done" />`, "")), "loops")

	gate := parse(t, []byte(docVars("gate", `<rapport:variable name="caseId" type="string" />`, startEvent+`
    <bpmn:eventBasedGateway id="G"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FM</bpmn:outgoing><bpmn:outgoing>FT</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="Reply"><bpmn:extensionElements><zeebe:ioMapping><zeebe:output source="=result.text" target="text" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>FM</bpmn:incoming><bpmn:outgoing>FM2</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="Timeout"><bpmn:incoming>FT</bpmn:incoming><bpmn:outgoing>FT2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="Replied"><bpmn:incoming>FM2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="TimedOut"><bpmn:incoming>FT2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="G" />
    <bpmn:sequenceFlow id="FM" sourceRef="G" targetRef="Reply" />
    <bpmn:sequenceFlow id="FT" sourceRef="G" targetRef="Timeout" />
    <bpmn:sequenceFlow id="FM2" sourceRef="Reply" targetRef="Replied" />
    <bpmn:sequenceFlow id="FT2" sourceRef="Timeout" targetRef="TimedOut" />`, replyMsg)), "gate")

	reminders := parse(t, []byte(doc("reminders", startEvent+`
    <bpmn:userTask id="Call"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="Remind" cancelActivity="false" attachedToRef="Call"><bpmn:outgoing>FR</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT0.3S</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:serviceTask id="Nudge"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /></bpmn:extensionElements><bpmn:incoming>FR</bpmn:incoming><bpmn:outgoing>FR2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="Nudged"><bpmn:incoming>FR2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Called"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Call" />
    <bpmn:sequenceFlow id="F1" sourceRef="Call" targetRef="Called" />
    <bpmn:sequenceFlow id="FR" sourceRef="Remind" targetRef="Nudge" />
    <bpmn:sequenceFlow id="FR2" sourceRef="Nudge" targetRef="Nudged" />`, "")), "reminders")

	orders := parse(t, []byte(docVars("orders", `<rapport:variable name="orderNo" type="string" />`, `
    <bpmn:startEvent id="Ordered"><bpmn:outgoing>F0</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Order" /></bpmn:startEvent>
    <bpmn:serviceTask id="Confirm"><bpmn:extensionElements><zeebe:taskDefinition type="record.create" /><zeebe:ioMapping><zeebe:input source="=orderNo" target="number" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="Confirmed"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Ordered" targetRef="Confirm" />
    <bpmn:sequenceFlow id="F1" sourceRef="Confirm" targetRef="Confirmed" />`, `<bpmn:message id="Order" name="order-placed" />`)), "orders")

	approvers := []any{"al", "bo", "cy"}
	return []scenario{
		{"call-activity-continue-as-new", process.Input{Model: contract, Variables: map[string]any{"amount": 0},
			Options: process.Options{ContinueAfterEvents: 12}},
			func(t *testing.T, s *stack, id string) {
				first := runOf(t, s, id)
				poll(t, s, id, "a continue-as-new while the call activity runs", func(process.Snapshot) bool { return runOf(t, s, id) != first })
				var child string
				for _, sub := range state(t, s, id).Subs {
					if sub.Kind == "child" {
						child = sub.Child
					}
				}
				if child == "" {
					t.Fatal("the continued instance lost its call activity")
				}
				complete(t, s, child, process.CompleteTaskRequest{TaskID: waitTask(t, s, child, "Sign")}, true)
			}, "Signed", true, map[string]string{"signedBy": "ann", "amount": "6"}},
		{"joins", process.Input{Model: joins, Variables: map[string]any{"amount": 500}},
			func(t *testing.T, s *stack, id string) {
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Call")}, true)
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Review")}, true)
			}, "Done", false, nil},
		{"multi-instance", process.Input{Model: loops, Variables: map[string]any{"approvers": approvers}},
			func(t *testing.T, s *stack, id string) {
				tasks := waitTasks(t, s, id, "Approve", 3)
				for _, u := range slices.Backward(tasks) {
					complete(t, s, id, process.CompleteTaskRequest{TaskID: u.ID, Variables: map[string]any{"vote": "yes"}}, true)
				}
				for _, u := range waitTasks(t, s, id, "Confirm", 3) {
					complete(t, s, id, process.CompleteTaskRequest{TaskID: u.ID}, true)
				}
			}, "Done", false, map[string]string{"votes": "[al:yes bo:yes cy:yes]", "thanked": "[1 2 3]", "approver": "<nil>"}},
		{"event-gateway-message", process.Input{Model: gate, Variables: map[string]any{"caseId": "C7"}},
			func(t *testing.T, s *stack, id string) {
				waitActive(t, s, id, "Reply")
				if err := s.c.SignalWorkflow(context.Background(), id, "", process.SignalMessage,
					process.MessageRequest{Name: "reply", CorrelationKey: "C7", Variables: map[string]any{"text": "yes", "other": 1}}); err != nil {
					t.Fatal(err)
				}
			}, "Replied", false, map[string]string{"text": "yes", "other": "<nil>"}},
		{"event-gateway-timer", process.Input{Model: gate, Variables: map[string]any{"caseId": "C8"}}, nil, "TimedOut", false, nil},
		{"non-interrupting-timer", process.Input{Model: reminders},
			func(t *testing.T, s *stack, id string) {
				task := waitTask(t, s, id, "Call")
				poll(t, s, id, "two reminders", func(snap process.Snapshot) bool { return countLeft(snap, "Nudge") >= 2 })
				complete(t, s, id, process.CompleteTaskRequest{TaskID: task}, true)
			}, "Called", false, nil},
		{"message-start", process.Input{Model: orders, StartElement: "Ordered", BusinessKey: "O-17",
			Variables: map[string]any{"orderNo": "O-17"}}, nil, "Confirmed", false, nil},
	}
}

// runOf is the current run of an instance.
func runOf(t *testing.T, s *stack, id string) string {
	t.Helper()
	d, err := s.c.DescribeWorkflow(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.WorkflowExecution.RunID
}

// waitTasks waits until n user tasks of an element are open and returns them.
func waitTasks(t *testing.T, s *stack, id, element string, n int) []*process.UserTask {
	var out []*process.UserTask
	poll(t, s, id, fmt.Sprintf("%d tasks %s", n, element), func(snap process.Snapshot) bool {
		out = out[:0]
		for _, u := range snap.UserTasks {
			if u.Element == element {
				out = append(out, u)
			}
		}
		return len(out) == n
	})
	return out
}

// countLeft counts how often the history says an element was left.
func countLeft(snap process.Snapshot, element string) int {
	n := 0
	for _, h := range snap.History {
		if h.Element == element && h.Event == "left" {
			n++
		}
	}
	return n
}

// startInstance starts an instance the way the API does and returns its run.
func startInstance(t *testing.T, s *stack, id string, in process.Input) client.WorkflowRun {
	t.Helper()
	run, err := s.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		TypedSearchAttributes: process.SearchAttributes(in), WorkflowExecutionTimeout: 5 * time.Minute}, process.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	return run
}
