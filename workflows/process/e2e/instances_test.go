package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
)

// waitAdmitted returns once the server holds the update (admitted: it waits for a workflow task to
// deliver it). Polling for the admitted stage answers at once, NotFound until the update arrived.
func waitAdmitted(ctx context.Context, t *testing.T, s *stack, workflowID, updateID string) {
	t.Helper()
	for {
		_, err := s.c.WorkflowService().PollWorkflowExecutionUpdate(ctx, &workflowservice.PollWorkflowExecutionUpdateRequest{
			Namespace:  namespace,
			UpdateRef:  &updatepb.UpdateRef{WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID}, UpdateId: updateID},
			WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED},
		})
		var nf *serviceerror.NotFound
		switch {
		case err == nil:
			return
		case errors.As(err, &nf) && ctx.Err() == nil:
			continue // not arrived yet
		default:
			t.Fatalf("update %s never reached the server: %v", updateID, err)
		}
	}
}

// TestInstances runs instances on the embedded server where only a real server shows the problem:
// what the history service refuses, updates batched into one workflow task, visibility queries.
func TestInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	store := memStore{}
	s := &stack{fails: map[string]int{}}
	s.start(t, s.doubles(), store)

	t.Run("updates queued behind the end are answered", func(t *testing.T) {
		// Both tasks lead to a terminate end, so whichever completion the instance takes first ends it
		// and the other is queued behind the end, whatever order the server hands them over in (once,
		// UB's came first while the other path was a plain end: both were accepted).
		race := parse(t, []byte(doc("race", startEvent+`
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="UA"><bpmn:incoming>FA</bpmn:incoming><bpmn:outgoing>FA2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="UB"><bpmn:incoming>FB</bpmn:incoming><bpmn:outgoing>FB2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="KillA"><bpmn:incoming>FA2</bpmn:incoming><bpmn:terminateEventDefinition /></bpmn:endEvent>
    <bpmn:endEvent id="KillB"><bpmn:incoming>FB2</bpmn:incoming><bpmn:terminateEventDefinition /></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:sequenceFlow id="FA" sourceRef="Fork" targetRef="UA" />
    <bpmn:sequenceFlow id="FB" sourceRef="Fork" targetRef="UB" />
    <bpmn:sequenceFlow id="FA2" sourceRef="UA" targetRef="KillA" />
    <bpmn:sequenceFlow id="FB2" sourceRef="UB" targetRef="KillB" />`, "")), "race")
		id := "race-1"
		run := startInstance(t, s, id, process.Input{Model: race})
		ua, ub := waitTask(t, s, id, "UA"), waitTask(t, s, id, "UB")
		// With the worker stopped both completions wait in the server and reach the instance together:
		// the first ends it, the second was queued behind it. Each is sent once the one before is
		// admitted (the server holds it), and the worker starts once both are.
		s.w.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		type answer struct {
			task string
			err  error
		}
		answers := make(chan answer, 2)
		send := func(task string) {
			h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{UpdateID: "complete-" + task, WorkflowID: id, UpdateName: process.UpdateCompleteTask,
				Args: []any{process.CompleteTaskRequest{TaskID: task}}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err == nil {
				err = h.Get(ctx, nil)
			}
			answers <- answer{task, err}
		}
		go send(ua)
		waitAdmitted(ctx, t, s, id, "complete-"+ua)
		go send(ub)
		waitAdmitted(ctx, t, s, id, "complete-"+ub)
		s.startWorker(t)
		var res process.Result
		if err := run.Get(ctx, &res); err != nil || (res.EndElement != "KillA" && res.EndElement != "KillB") {
			t.Fatalf("the instance did not close: %v (end %q)", err, res.EndElement)
		}
		winner := map[string]string{"KillA": ua, "KillB": ub}[res.EndElement]
		for range 2 {
			a := <-answers
			if accepted := a.err == nil; accepted != (a.task == winner) {
				t.Errorf("the completion of %s: accepted %v (%v), but the instance ended at %s", a.task, accepted, a.err, res.EndElement)
			}
		}
	})

	t.Run("search attributes stay bounded", func(t *testing.T) {
		// A task offered to 500 people and a 50-item parallel multi-instance task: the first release
		// indexed every candidate user and the server terminated the instance.
		crowd := parse(t, []byte(docVars("crowd", `<rapport:variable name="people" type="list" /><rapport:variable name="approvers" type="list" />`, startEvent+`
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="Anyone"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="ann" candidateGroups="sales" candidateUsers="=people" /></bpmn:extensionElements><bpmn:incoming>FA</bpmn:incoming><bpmn:outgoing>FA2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="Approve"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=approver" /></bpmn:extensionElements><bpmn:incoming>FB</bpmn:incoming><bpmn:outgoing>FB2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="approver" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>FA2</bpmn:incoming><bpmn:incoming>FB2</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="Done"><bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:sequenceFlow id="FA" sourceRef="Fork" targetRef="Anyone" />
    <bpmn:sequenceFlow id="FB" sourceRef="Fork" targetRef="Approve" />
    <bpmn:sequenceFlow id="FA2" sourceRef="Anyone" targetRef="Join" />
    <bpmn:sequenceFlow id="FB2" sourceRef="Approve" targetRef="Join" />
    <bpmn:sequenceFlow id="F9" sourceRef="Join" targetRef="Done" />`, "")), "crowd")
		var people, approvers []any
		for i := range 500 {
			people = append(people, fmt.Sprintf("candidate-%03d@example.com", i))
		}
		for i := range 50 {
			approvers = append(approvers, fmt.Sprintf("approver-%02d.with.a.long.name@example.com", i))
		}
		id := "crowd-1"
		startInstance(t, s, id, process.Input{Model: crowd, Variables: map[string]any{"people": people, "approvers": approvers}})
		waitTasks(t, s, id, "Approve", 50)
		deadline := time.Now().Add(30 * time.Second)
		for {
			d, err := s.c.DescribeWorkflow(context.Background(), id, "")
			if err != nil {
				t.Fatal(err)
			}
			if st := d.Status; st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				t.Fatalf("the instance is %s", st)
			}
			who, _ := d.TypedSearchAttributes.GetKeywordList(temporal.NewSearchAttributeKeyKeywordList("RapportAssignees"))
			state, _ := d.TypedSearchAttributes.GetKeyword(temporal.NewSearchAttributeKeyKeyword("RapportState"))
			if state == process.StateWaiting {
				data, _ := json.Marshal(who)
				for _, k := range []string{"ann", "group:sales", process.Overflow} {
					if !slices.Contains(who, k) {
						t.Errorf("RapportAssignees %v lacks %s", who, k)
					}
				}
				if len(data) > 2048 {
					t.Errorf("RapportAssignees is %d bytes", len(data))
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the instance never showed as waiting (state %q)", state)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The inbox finds the instance for a candidate through the overflow entry.
		keys := process.InboxKeys([]string{"candidate-042@example.com"}, nil)
		quoted := make([]string, len(keys))
		for i, k := range keys {
			quoted[i] = messages.Quote(k)
		}
		found := listIDs(t, s, fmt.Sprintf("RapportAssignees IN (%s) AND ExecutionStatus = 'Running'", strings.Join(quoted, ", ")))
		if !slices.Contains(found, id) {
			t.Errorf("an inbox query for a candidate found %v", found)
		}
	})

	t.Run("an interrupted call activity cancels its child", func(t *testing.T) {
		store["signing"] = parse(t, []byte(doc("signing", startEvent+`
    <bpmn:userTask id="Sign"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="SignEnd"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Sign" />
    <bpmn:sequenceFlow id="F1" sourceRef="Sign" targetRef="SignEnd" />`, "")), "signing")
		deadline := parse(t, []byte(doc("deadline", startEvent+`
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FS</bpmn:outgoing><bpmn:outgoing>FT</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:callActivity id="GetSignature"><bpmn:extensionElements><zeebe:calledElement processId="signing" /></bpmn:extensionElements><bpmn:incoming>FS</bpmn:incoming><bpmn:outgoing>FS2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:boundaryEvent id="TooLate" attachedToRef="GetSignature"><bpmn:outgoing>FL</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT3S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:endEvent id="Signed"><bpmn:incoming>FS2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Expired"><bpmn:incoming>FL</bpmn:incoming><bpmn:terminateEventDefinition /></bpmn:endEvent>
    <bpmn:endEvent id="Join"><bpmn:incoming>FTOut</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:sequenceFlow id="FS" sourceRef="Fork" targetRef="GetSignature" />
    <bpmn:sequenceFlow id="FT" sourceRef="Fork" targetRef="Tick" />
    <bpmn:sequenceFlow id="FS2" sourceRef="GetSignature" targetRef="Signed" />
    <bpmn:sequenceFlow id="FL" sourceRef="TooLate" targetRef="Expired" />`+tickerLoop, "")), "deadline")
		for _, tc := range []struct {
			name   string
			after  int  // ContinueAfterEvents
			cancel bool // cancel the instance instead of waiting for the boundary event
		}{{"after continue-as-new", 12, false}, {"in the run that started it", 0, false}, {"the instance is cancelled", 0, true}} {
			t.Run(tc.name, func(t *testing.T) {
				id := "deadline-" + strconv.Itoa(tc.after) + strconv.FormatBool(tc.cancel)
				run := startInstance(t, s, id, process.Input{Model: deadline, Variables: map[string]any{"amount": 0},
					Options: process.Options{ContinueAfterEvents: tc.after}})
				first := run.GetRunID()
				var child string
				poll(t, s, id, "the call activity", func(snap process.Snapshot) bool {
					for _, sub := range snap.Subs {
						if sub.Kind == "child" {
							child = sub.Child
						}
					}
					return child != ""
				})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var out process.Result
				if tc.cancel {
					if err := s.c.CancelWorkflow(ctx, id, ""); err != nil {
						t.Fatal(err)
					}
					if err := run.Get(ctx, &out); !temporal.IsCanceledError(err) {
						t.Fatalf("instance ended with %v, want cancelled", err)
					}
				} else if err := run.Get(ctx, &out); err != nil || out.EndElement != "Expired" {
					t.Fatalf("instance %v, end %s", err, out.EndElement)
				}
				if continued := runOf(t, s, id) != first; continued != (tc.after > 0) {
					t.Fatalf("continued as new: %v", continued)
				}
				var childErr error
				for ctx.Err() == nil {
					d, err := s.c.DescribeWorkflow(ctx, child, "")
					if err != nil {
						t.Fatal(err)
					}
					if d.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
						childErr = s.c.GetWorkflow(ctx, child, "").Get(ctx, nil)
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				if !temporal.IsCanceledError(childErr) {
					t.Fatalf("the child ended with %v, want cancelled", childErr)
				}
			})
		}
	})

	t.Run("a record-started instance receives messages for its record", func(t *testing.T) {
		waiter := parse(t, []byte(docVars("waiter", `<rapport:variable name="recordId" type="string" />`, startEvent+`
    <bpmn:intermediateCatchEvent id="Ping"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="Pinged"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Ping" />
    <bpmn:sequenceFlow id="F1" sourceRef="Ping" targetRef="Pinged" />`,
			`<bpmn:message id="Msg" name="lead-contacted"><bpmn:extensionElements><zeebe:subscription correlationKey="=recordId" /></bpmn:extensionElements></bpmn:message>`)), "waiter")
		id := "waiter-L9"
		// Started like a record trigger starts: the record, no business key.
		run := startInstance(t, s, id, process.Input{Model: waiter, Entity: "lead", RecordID: "L9", Variables: map[string]any{"recordId": "L9"}})
		waitActive(t, s, id, "Ping")
		// As the message publisher does: find the running instances whose business key is the
		// correlation key, signal each.
		found := listIDs(t, s, "RapportBusinessKey = 'L9' AND ExecutionStatus = 'Running'")
		if !slices.Equal(found, []string{id}) {
			t.Fatalf("instances with business key L9: %v", found)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.c.SignalWorkflow(ctx, id, "", process.SignalMessage, process.MessageRequest{Name: "lead-contacted", CorrelationKey: "L9"}); err != nil {
			t.Fatal(err)
		}
		var out process.Result
		if err := run.Get(ctx, &out); err != nil || out.EndElement != "Pinged" {
			t.Fatalf("instance %v, end %s", err, out.EndElement)
		}
	})
}

// listIDs lists the ids of the instances a visibility query finds, waiting briefly for visibility.
func listIDs(t *testing.T, s *stack, query string) []string {
	t.Helper()
	var ids []string
	deadline := time.Now().Add(10 * time.Second)
	for len(ids) == 0 && time.Now().Before(deadline) {
		resp, err := s.c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range resp.GetExecutions() {
			ids = append(ids, ex.GetExecution().GetWorkflowId())
		}
		if len(ids) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ids
}
