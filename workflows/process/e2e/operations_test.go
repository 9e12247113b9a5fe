package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/workflows/process"
)

// operationScenarios are the operator updates of issue 15 (behaviour level 2), recorded for the replay
// corpus: suspend across a timer that comes due while suspended, a token moved out of one branch of a
// parallel gateway into its join, and a migration of an instance waiting at a user task with a boundary
// timer to a version that renamed an unrelated element.
func operationScenarios(t *testing.T) []scenario {
	op := process.Operator{By: "u-owner", Reason: "asked by the customer"}
	pause := parse(t, []byte(doc("pause", startEvent+`
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.5S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:userTask id="Check"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="Done"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Wait" />
    <bpmn:sequenceFlow id="F1" sourceRef="Wait" targetRef="Check" />
    <bpmn:sequenceFlow id="F2" sourceRef="Check" targetRef="Done" />`, "")), "pause")
	fork := parse(t, []byte(doc("fork", startEvent+`
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="A"><bpmn:incoming>FA</bpmn:incoming><bpmn:outgoing>FA2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="B"><bpmn:incoming>FB</bpmn:incoming><bpmn:outgoing>FB2</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>FA2</bpmn:incoming><bpmn:incoming>FB2</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="Joined"><bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:sequenceFlow id="FA" sourceRef="Fork" targetRef="A" />
    <bpmn:sequenceFlow id="FB" sourceRef="Fork" targetRef="B" />
    <bpmn:sequenceFlow id="FA2" sourceRef="A" targetRef="Join" />
    <bpmn:sequenceFlow id="FB2" sourceRef="B" targetRef="Join" />
    <bpmn:sequenceFlow id="F9" sourceRef="Join" targetRef="Joined" />`, "")), "fork")
	review := func(note string) string {
		return doc("review", startEvent+`
    <bpmn:userTask id="Review"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="Late" attachedToRef="Review"><bpmn:outgoing>FL</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:scriptTask id="`+note+`"><bpmn:extensionElements><rapport:assign target="noted" expression="=&#34;`+note+`&#34;" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:scriptTask>
    <bpmn:endEvent id="Reviewed"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Escalated"><bpmn:incoming>FL</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Review" />
    <bpmn:sequenceFlow id="F1" sourceRef="Review" targetRef="`+note+`" />
    <bpmn:sequenceFlow id="F2" sourceRef="`+note+`" targetRef="Reviewed" />
    <bpmn:sequenceFlow id="FL" sourceRef="Late" targetRef="Escalated" />`, "")
	}
	reviewV1, reviewV2 := parse(t, []byte(review("Note")), "review"), parse(t, []byte(review("WriteNote")), "review")

	return []scenario{
		{"operations-suspend-timer", process.Input{Model: pause, Ref: process.Ref{Key: "pause", Version: 1}},
			func(t *testing.T, s *stack, id string) {
				poll(t, s, id, "the timer", func(snap process.Snapshot) bool { return len(snap.Subs) == 1 })
				upd(t, s, id, process.UpdateSuspend, process.OperatorRequest{Operator: op}, true)
				upd(t, s, id, process.UpdateSuspend, process.OperatorRequest{Operator: op}, false) // suspended already
				time.Sleep(time.Second)                                                            // the timer comes due while suspended
				snap := state(t, s, id)
				if snap.Status != process.StateSuspended || !slices.Equal(snap.ActiveElements, []string{"Wait"}) || len(snap.UserTasks) != 0 {
					t.Fatalf("suspended instance moved on: status %s, active %v", snap.Status, snap.ActiveElements)
				}
				upd(t, s, id, process.UpdateResume, process.OperatorRequest{Operator: op}, true)
				task := waitTask(t, s, id, "Check") // the held timer fired on resume
				snap = state(t, s, id)
				if !hasEntry(snap, process.EventSuspended, op) || !hasEntry(snap, process.EventResumed, op) {
					t.Fatalf("timeline without the operator: %+v", snap.History)
				}
				complete(t, s, id, process.CompleteTaskRequest{TaskID: task}, true)
			}, "Done", false, nil},
		{"operations-move-parallel", process.Input{Model: fork, Ref: process.Ref{Key: "fork", Version: 1}},
			func(t *testing.T, s *stack, id string) {
				waitTask(t, s, id, "A")
				b := waitTask(t, s, id, "B")
				upd(t, s, id, process.UpdateMove, process.MoveRequest{Cancel: []string{"A"}, Activate: []process.MoveTarget{{Element: "Nowhere"}}, Operator: op}, false)
				upd(t, s, id, process.UpdateMove, process.MoveRequest{Cancel: []string{"A"}, Activate: []process.MoveTarget{{Element: "Join", Flow: "FA2"}}, Operator: op}, true)
				snap := state(t, s, id)
				if len(snap.UserTasks) != 1 || snap.UserTasks[0].Element != "B" {
					t.Fatalf("after the move: tasks %+v, active %v", snap.UserTasks, snap.ActiveElements)
				}
				complete(t, s, id, process.CompleteTaskRequest{TaskID: b}, true) // the join has both tokens
			}, "Joined", false, nil},
		{"operations-migrate", process.Input{Model: reviewV1, Ref: process.Ref{Key: "review", Version: 1}},
			func(t *testing.T, s *stack, id string) {
				task := waitTask(t, s, id, "Review")
				due := timerDue(state(t, s, id))
				upd(t, s, id, process.UpdateMigrate, process.MigrateRequest{Model: reviewV2, Version: 2, Operator: op}, true)
				snap := state(t, s, id)
				if snap.Version != 2 || !slices.Contains(snap.ActiveElements, "Review") || due.IsZero() || !timerDue(snap).Equal(due) {
					t.Fatalf("after the migration: version %d, active %v, boundary timer due %v (was %v)", snap.Version, snap.ActiveElements, timerDue(snap), due)
				}
				complete(t, s, id, process.CompleteTaskRequest{TaskID: task}, true)
			}, "Reviewed", false, map[string]string{"noted": "WriteNote"}},
	}
}

// timerDue is when the instance's one timer is due (zero without one).
func timerDue(snap process.Snapshot) time.Time {
	for _, sub := range snap.Subs {
		if sub.Kind == "timer" {
			return sub.FireAt
		}
	}
	return time.Time{}
}

// hasEntry reports whether the timeline holds an event by the operator with their reason.
func hasEntry(snap process.Snapshot, event string, op process.Operator) bool {
	return slices.ContainsFunc(snap.History, func(h process.HistoryEntry) bool {
		return h.Event == event && h.By == op.By && h.Reason == op.Reason
	})
}
