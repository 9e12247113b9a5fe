package e2e

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/workflows/process"
)

// memInbox keeps the newest inbox snapshot of every instance, as the inbox store keeps its items.
type memInbox struct {
	mu   sync.Mutex
	last map[string]process.InboxSnapshot
}

func newMemInbox() *memInbox { return &memInbox{last: map[string]process.InboxSnapshot{}} }

// Apply keeps a snapshot newer than the one held.
func (m *memInbox) Apply(_ context.Context, s process.InboxSnapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.Seq > m.last[s.Instance].Seq {
		m.last[s.Instance] = s
	}
	return nil
}

// elements are the elements of the open tasks the inbox holds for an instance.
func (m *memInbox) elements(id string) (open []string, ended bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.last[id]
	for _, u := range s.Tasks {
		open = append(open, u.Element)
	}
	return open, s.Ended
}

// inboxScenarios are the completions of issue 20 (behaviour level 6): the inbox written through a local
// activity in the workflow task that applied the completion, so the completion is answered in that
// task, with the inbox already closed; and the validator refusing a caller the task is not for.
func inboxScenarios(t *testing.T) []scenario {
	review := parse(t, []byte(doc("review", startEvent+`
    <bpmn:userTask id="Review"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="reviewers" /><rapport:formFields><rapport:field name="ok" type="bool" required="true" /></rapport:formFields></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="Sign"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="ann" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="Done"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Review" />
    <bpmn:sequenceFlow id="F1" sourceRef="Review" targetRef="Sign" />
    <bpmn:sequenceFlow id="F2" sourceRef="Sign" targetRef="Done" />`, "")), "review")
	return []scenario{{"inbox-local-complete", process.Input{Model: review},
		func(t *testing.T, s *stack, id string) {
			task := waitTask(t, s, id, "Review")
			ok := map[string]any{"ok": true}
			// Refused before anything changes: someone the task is not offered to, then a member
			// with a form value of the wrong type.
			_, err := completeAs(s, id, "refused-outsider", process.CompleteTaskRequest{TaskID: task, Variables: ok, By: "bob",
				Caller: &process.TaskCaller{IDs: []string{"bob"}, Groups: []string{"sales"}}})
			var refused *temporal.ApplicationError
			if !errors.As(err, &refused) || refused.Type() != process.ErrorTypeNotYourTask {
				t.Fatalf("an outsider's completion: %v, want refused as %s", err, process.ErrorTypeNotYourTask)
			}
			if _, err := completeAs(s, id, "refused-form", process.CompleteTaskRequest{TaskID: task, Variables: map[string]any{"ok": "yes"}, By: "carl",
				Caller: &process.TaskCaller{IDs: []string{"carl"}, Groups: []string{"reviewers"}}}); err == nil {
				t.Fatal("a completion with a wrong form type was accepted")
			}
			if _, err := completeAs(s, id, "refused-unknown", process.CompleteTaskRequest{TaskID: "Nope.1", By: "carl"}); !errors.As(err, &refused) || refused.Type() != process.ErrorTypeNoTask {
				t.Fatalf("an unknown task's completion: %v, want refused as %s", err, process.ErrorTypeNoTask)
			}

			// A member of the candidate group completes: the answer names the element, and the inbox
			// is written by then (read once, no waiting): Review closed, Sign open.
			res, err := completeAs(s, id, "review", process.CompleteTaskRequest{TaskID: task, Variables: ok, By: "carl",
				Caller: &process.TaskCaller{IDs: []string{"carl"}, Groups: []string{"reviewers"}}})
			if err != nil || res.Element != "Review" {
				t.Fatalf("the member's completion: %+v %v", res, err)
			}
			if open, _ := s.inbox.elements(id); !slices.Equal(open, []string{"Sign"}) {
				t.Fatalf("inbox when the completion was answered: %v, want [Sign]", open)
			}
			// An operator completes Sign, assigned to someone else; the instance ends and the inbox
			// says so by the time the completion is answered.
			sign := waitTask(t, s, id, "Sign")
			if _, err := completeAs(s, id, "sign", process.CompleteTaskRequest{TaskID: sign, By: "olga",
				Caller: &process.TaskCaller{IDs: []string{"olga"}, Operator: true}}); err != nil {
				t.Fatalf("the operator's completion: %v", err)
			}
			if open, ended := s.inbox.elements(id); len(open) != 0 || !ended {
				t.Fatalf("inbox when the last completion was answered: %v ended %v, want none and ended", open, ended)
			}
			// Each completion was answered in the workflow task that accepted it: the inbox write is a
			// local activity there, not an activity task followed by another workflow task.
			h := readHistory(t, s.c, id, "")
			for _, upd := range []string{"review", "sign"} {
				if n := taskCompletionsBetween(h, upd); n != 0 {
					t.Errorf("update %s: %d workflow tasks between accepted and completed, want 0", upd, n)
				}
			}
			for _, ev := range h.Events {
				if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == process.InboxActivityName {
					t.Errorf("the inbox was written through an activity task (event %d)", ev.GetEventId())
				}
			}
		}, "Done", false, nil}}
}

// completeAs sends UpdateCompleteTask with the given update ID and returns its answer.
func completeAs(s *stack, id, updateID string, req process.CompleteTaskRequest) (process.CompleteTaskResult, error) {
	var res process.CompleteTaskResult
	h, err := s.c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{UpdateID: updateID,
		WorkflowID: id, UpdateName: process.UpdateCompleteTask, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(context.Background(), &res)
	}
	return res, err
}

// taskCompletionsBetween counts the workflow tasks completed between an update's acceptance and its
// completion (-1 when the history lacks either).
func taskCompletionsBetween(h *historypb.History, updateID string) int {
	accepted, n := false, 0
	for _, ev := range h.Events {
		switch {
		case ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetMeta().GetUpdateId() == updateID:
			accepted = true
		case ev.GetWorkflowExecutionUpdateCompletedEventAttributes().GetMeta().GetUpdateId() == updateID:
			if !accepted {
				return -1
			}
			return n
		case accepted && ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			n++
		}
	}
	return -1
}
