package process

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// slaDoc is an activity (body) with a 10-hour interrupting boundary timer leading to a script that
// stamps the time it fired.
func slaDoc(body string) string {
	return docWith("sla", anyVar("firedAt", "items", "item"), start+body+
		`    <bpmn:boundaryEvent id="Late" attachedToRef="Work"><bpmn:outgoing>FL</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT10H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>`+"\n"+
		`    <bpmn:scriptTask id="Stamp"><bpmn:extensionElements><rapport:assign target="firedAt" expression="=now" /></bpmn:extensionElements><bpmn:incoming>FL</bpmn:incoming><bpmn:outgoing>FL2</bpmn:outgoing></bpmn:scriptTask>`+"\n"+
		end("Done", "F1")+end("TooLate", "FL2")+flow("F0", "Start", "Work")+flow("F1", "Work", "Done")+flow("FL", "Late", "Stamp")+flow("FL2", "Stamp", "TooLate"), "")
}

// TestRetryKeepsBoundaryTimers: a task fails into an incident; retries (which fail again) do not
// move its SLA timer: it fires 10 hours after the task was entered. The first release restarted the
// timer at every retry and, from the second item of a sequential loop on, lost it altogether.
func TestRetryKeepsBoundaryTimers(t *testing.T) {
	once := `    <bpmn:serviceTask id="Work"><bpmn:extensionElements><zeebe:taskDefinition type="http" /><rapport:retryPolicy initialInterval="PT1S" backoffCoefficient="1" maximumInterval="PT1S" maximumAttempts="1" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:serviceTask>` + "\n"
	loop := `    <bpmn:userTask id="Work"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=item.owner" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=items" inputElement="item" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>` + "\n"
	cases := []struct {
		name  string
		body  string
		fails int
		items []any
		first time.Duration // when the first item is completed (loop)
	}{
		{"service task retried twice", once, 100, nil, 0},
		// The second item has no owner field: its assignee fails, the retries fail the same way.
		{"second item of a sequential loop", loop, 0, []any{map[string]any{"owner": "al"}, 7.0}, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			c.fails["Work"] = tc.fails
			env := newEnv(t, c, nil)
			t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			env.SetStartTime(t0)
			if tc.first > 0 {
				env.RegisterDelayedCallback(func() {
					update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "Work")})
				}, tc.first)
			}
			retries := 0
			for _, at := range []time.Duration{3 * time.Hour, 6 * time.Hour} {
				env.RegisterDelayedCallback(func() {
					if in := hasIncident(queryState(t, env), IncidentTaskFailed); in != nil {
						update(env, UpdateRetryIncident, RetryRequest{IncidentID: in.ID})
						retries++
					} else if in := hasIncident(queryState(t, env), IncidentExpression); in != nil {
						update(env, UpdateRetryIncident, RetryRequest{IncidentID: in.ID})
						retries++
					}
				}, at)
			}
			env.SetTestTimeout(10 * time.Second)
			env.RegisterDelayedCallback(env.CancelWorkflow, 48*time.Hour)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, slaDoc(tc.body)), Variables: map[string]any{"items": tc.items}})
			res := result(t, env)
			if retries != 2 {
				t.Errorf("%d retries, want 2", retries)
			}
			fired, _ := time.Parse(time.RFC3339, fmt.Sprint(res.Variables["firedAt"]))
			if res.EndElement != "TooLate" || !fired.Equal(t0.Add(10*time.Hour)) {
				t.Fatalf("end %s, timer fired at %v, want TooLate at %v", res.EndElement, res.Variables["firedAt"], t0.Add(10*time.Hour))
			}
		})
	}
}

// TestIncidentCause: an incident shows what the handler said, its type, how many attempts were made
// and when the last failed; an uncaught BPMN error shows its message.
func TestIncidentCause(t *testing.T) {
	retry := `<rapport:retryPolicy initialInterval="PT1S" backoffCoefficient="1" maximumInterval="PT1S" maximumAttempts="2" />`
	cases := []struct {
		name     string
		typ      string // task type
		extra    string
		kind     string
		errType  string
		message  string
		attempts int
	}{
		{"handler error", "http", retry, IncidentTaskFailed, ErrorTypeTaskFailed, "task X (http): transient failure of X", 2},
		{"no handler", "fail", retry, IncidentTaskFailed, ErrorTypeUnknownTask, `no handler for task type "fail"`, 1},
		{"uncaught BPMN error", "http", `<zeebe:taskHeaders><zeebe:header key="bpmnError" value="NO_CONNECTOR" /></zeebe:taskHeaders>`,
			IncidentUnhandledError, ErrorTypeBPMN, `BPMN error "NO_CONNECTOR" is not caught by any boundary or event sub-process: thrown by test`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			c.fails["X"] = 100
			if tc.kind == IncidentUnhandledError {
				c.fails["X"] = 0
			}
			env := newEnv(t, c, nil)
			t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			env.SetStartTime(t0)
			var seen Snapshot
			env.RegisterDelayedCallback(func() { seen = queryState(t, env) }, time.Hour)
			env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Hour)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, doc("cause", start+svc("X", tc.typ, "F0", "F1", tc.extra)+end("End", "F1")+
				flow("F0", "Start", "X")+flow("F1", "X", "End"), ""))})
			in := hasIncident(seen, tc.kind)
			if in == nil {
				t.Fatalf("no %s incident: %+v", tc.kind, seen.Incidents)
			}
			if in.ErrorType != tc.errType || !strings.Contains(in.Message, tc.message) || in.Attempts != tc.attempts {
				t.Errorf("incident %+v, want type %s, message %q, %d attempts", in, tc.errType, tc.message, tc.attempts)
			}
			if strings.Contains(in.Message, "activity error") || strings.Contains(in.Message, "scheduledEventID") {
				t.Errorf("message shows Temporal's wrapping: %q", in.Message)
			}
			if tc.attempts > 0 && (in.LastFailure.Before(t0) || in.LastFailure.After(t0.Add(time.Minute))) {
				t.Errorf("last failure at %v, want just after %v", in.LastFailure, t0)
			}
		})
	}
}
