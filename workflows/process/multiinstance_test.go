package process

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// approvalsDoc is a parallel multi-instance user task over approvers whose output element reads the
// instance's own input element.
func approvalsDoc(outputElement string) string {
	return docWith("approvals", anyVar("marker"), start+
		`    <bpmn:userTask id="Approve"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=approver" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="approver" outputCollection="votes" outputElement="`+outputElement+`" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>`+"\n"+
		end("Decided", "F1")+flow("F0", "Start", "Approve")+flow("F1", "Approve", "Decided"), "")
}

// completeAs completes the open Approve task of each assignee in order, with vote "<who>-yes".
func completeAs(t *testing.T, env *envT, who ...string) {
	s := queryState(t, env)
	for _, w := range who {
		for _, u := range s.UserTasks {
			if u.Assignee == w {
				update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: u.ID, Variables: map[string]any{"vote": w + "-yes"}})
			}
		}
	}
}

// TestParallelInstancesHaveOwnVariables: the output element of each instance reads that instance's
// input element, whatever order the people complete in, and the element does not outlive the loop
// (the first release shared one variable: [bo:bo-yes bo:al-yes] and approver = "bo" afterwards).
func TestParallelInstancesHaveOwnVariables(t *testing.T) {
	env := newEnv(t, newCalls(), nil)
	env.RegisterDelayedCallback(func() { completeAs(t, env, "bo", "al") }, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, approvalsDoc(`=approver + &#34;:&#34; + vote`)),
		Variables: map[string]any{"approvers": []any{"al", "bo"}}})
	res := result(t, env)
	if got := fmt.Sprint(res.Variables["votes"]); got != "[al:al-yes bo:bo-yes]" {
		t.Errorf("votes %s, want [al:al-yes bo:bo-yes]", got)
	}
	if v, ok := res.Variables["approver"]; ok {
		t.Errorf("the input element leaked after the loop: approver = %v", v)
	}
}

// TestParallelSubProcessInstances: a parallel multi-instance sub-process runs its instances at the
// same time, each seeing its own element (the first release ran them one after another).
func TestParallelSubProcessInstances(t *testing.T) {
	x := docWith("subs", anyVar("note"), start+
		`    <bpmn:subProcess id="Each"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="who" outputCollection="notes" outputElement="=note" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
      <bpmn:startEvent id="SS"><bpmn:outgoing>S1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:scriptTask id="Prepare"><bpmn:extensionElements><rapport:assign target="greeting" expression="=&#34;hi &#34; + who" /></bpmn:extensionElements><bpmn:incoming>S1</bpmn:incoming><bpmn:outgoing>S2</bpmn:outgoing></bpmn:scriptTask>
      <bpmn:userTask id="Ask"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=who" /></bpmn:extensionElements><bpmn:incoming>S2</bpmn:incoming><bpmn:outgoing>S3</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="SE"><bpmn:incoming>S3</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="S1" sourceRef="SS" targetRef="Prepare" /><bpmn:sequenceFlow id="S2" sourceRef="Prepare" targetRef="Ask" /><bpmn:sequenceFlow id="S3" sourceRef="Ask" targetRef="SE" />
    </bpmn:subProcess>`+"\n"+
		end("Done", "F1")+flow("F0", "Start", "Each")+flow("F1", "Each", "Done"), "")
	env := newEnv(t, newCalls(), nil)
	var open []string
	env.RegisterDelayedCallback(func() {
		s := queryState(t, env)
		for _, u := range s.UserTasks {
			open = append(open, u.Assignee)
		}
		for _, u := range slices.Backward(s.UserTasks) {
			update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: u.ID, Variables: map[string]any{"note": "from " + u.Assignee}})
		}
	}, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"approvers": []any{"al", "bo", "cy"}}})
	res := result(t, env)
	slices.Sort(open)
	if !slices.Equal(open, []string{"al", "bo", "cy"}) {
		t.Fatalf("open at once: %v, want all three", open)
	}
	if got := fmt.Sprint(res.Variables["notes"]); got != "[from al from bo from cy]" {
		t.Errorf("notes %s", got)
	}
}

// TestRetryParallelLoopIncident: the output element fails for the first instance to finish; retrying
// that incident (with the missing variable) collects its output, and the other instances keep running
// (the first release cancelled them and stranded the loop).
func TestRetryParallelLoopIncident(t *testing.T) {
	env := newEnv(t, newCalls(), nil)
	var seen Snapshot
	env.RegisterDelayedCallback(func() { completeAs(t, env, "bo") }, time.Hour)
	env.RegisterDelayedCallback(func() {
		seen = queryState(t, env)
		if len(seen.Incidents) == 1 {
			update(env, UpdateRetryIncident, RetryRequest{IncidentID: seen.Incidents[0].ID, Variables: map[string]any{"marker": "!"}})
		}
	}, 2*time.Hour)
	env.RegisterDelayedCallback(func() { completeAs(t, env, "al", "cy") }, 3*time.Hour)
	env.SetTestTimeout(10 * time.Second)
	env.RegisterDelayedCallback(env.CancelWorkflow, 24*time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, approvalsDoc(`=vote + marker`)),
		Variables: map[string]any{"approvers": []any{"al", "bo", "cy"}}})
	if len(seen.Incidents) != 1 || len(seen.UserTasks) != 2 {
		t.Fatalf("before the retry: incidents %+v, open tasks %d (want 1 and 2)", seen.Incidents, len(seen.UserTasks))
	}
	res := result(t, env)
	if got := fmt.Sprint(res.Variables["votes"]); got != "[al-yes! bo-yes! cy-yes!]" {
		t.Errorf("votes %s", got)
	}
}
