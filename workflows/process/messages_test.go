package process

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// replyAfterTask is a user task followed by an event-based gateway waiting for the reply message or a
// day.
func replyAfterTask() string {
	return doc("ttl", start+userTask("U", "F0", "F1", "")+
		gateway("eventBasedGateway", "G", []string{"F1"}, []string{"FM", "FT"}, "")+
		`    <bpmn:intermediateCatchEvent id="Reply"><bpmn:incoming>FM</bpmn:incoming><bpmn:outgoing>FM2</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>`+"\n"+
		`    <bpmn:intermediateCatchEvent id="Timeout"><bpmn:incoming>FT</bpmn:incoming><bpmn:outgoing>FT2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`+"\n"+
		end("Replied", "FM2")+end("TimedOut", "FT2")+
		flow("F0", "Start", "U")+flow("F1", "U", "G")+flow("FM", "G", "Reply")+flow("FT", "G", "Timeout")+flow("FM2", "Reply", "Replied")+flow("FT2", "Timeout", "TimedOut"), replyMsg)
}

// TestBufferedMessageTimeToLive: a message nobody waits for is buffered for its time to live (one
// hour unless the message names another; a negative one is not buffered). The first release kept
// it forever.
func TestBufferedMessageTimeToLive(t *testing.T) {
	cases := []struct {
		name string
		ttl  time.Duration
		wait time.Duration // from the message to the subscription
		end  string
	}{
		{"taken within the default time to live", 0, 30 * time.Minute, "Replied"},
		{"expired after the default time to live", 0, 2 * time.Hour, "TimedOut"},
		{"taken within its own time to live", 3 * time.Hour, 2 * time.Hour, "Replied"},
		{"not buffered with a negative time to live", -1, time.Minute, "TimedOut"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, newCalls(), nil)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalMessage, MessageRequest{Name: "reply", CorrelationKey: "C1", TimeToLive: tc.ttl})
			}, time.Minute)
			env.RegisterDelayedCallback(func() {
				update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "U")})
			}, time.Minute+tc.wait)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, replyAfterTask()), Variables: map[string]any{"caseId": "C1"}})
			if res := result(t, env); res.EndElement != tc.end {
				t.Fatalf("end %s, want %s", res.EndElement, tc.end)
			}
		})
	}
}

// TestBufferedMessagesPerName: of 15 messages of one name nobody waits for, the newest 10 stay
// buffered (the first release kept up to 100 of any names).
func TestBufferedMessagesPerName(t *testing.T) {
	env := newEnv(t, newCalls(), nil)
	var seen Snapshot
	for i := 1; i <= 15; i++ {
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(SignalMessage, MessageRequest{Name: "reply", CorrelationKey: fmt.Sprintf("K%d", i)})
		}, time.Duration(i)*time.Second)
	}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalMessage, MessageRequest{Name: "other", CorrelationKey: "X"})
	}, 20*time.Second)
	env.RegisterDelayedCallback(func() { seen = queryState(t, env) }, time.Minute)
	env.RegisterDelayedCallback(env.CancelWorkflow, 2*time.Minute)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, replyAfterTask()), Variables: map[string]any{"caseId": "C1"}})
	var keys []string
	for _, m := range seen.Messages {
		keys = append(keys, m.Name+":"+m.CorrelationKey)
	}
	want := []string{"reply:K6", "reply:K7", "reply:K8", "reply:K9", "reply:K10", "reply:K11", "reply:K12", "reply:K13", "reply:K14", "reply:K15", "other:X"}
	if !slices.Equal(keys, want) {
		t.Fatalf("buffered %v, want %v", keys, want)
	}
}

// TestLateReplyDoesNotAnswerTheReopenedRound: a reply that arrives after its round timed out is
// buffered; when the case is reopened hours later, the stale reply does not answer the new round
// (it expired), so the new round waits for its own reply or times out.
func TestLateReplyDoesNotAnswerTheReopenedRound(t *testing.T) {
	x := doc("reopen", start+
		userTask("Investigate", "F0", "F1", "")+
		gateway("eventBasedGateway", "G", []string{"F1"}, []string{"FM", "FT"}, "")+
		`    <bpmn:intermediateCatchEvent id="Reply"><bpmn:incoming>FM</bpmn:incoming><bpmn:outgoing>FM2</bpmn:outgoing><bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>`+"\n"+
		`    <bpmn:intermediateCatchEvent id="Timeout"><bpmn:incoming>FT</bpmn:incoming><bpmn:outgoing>FT2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>`+"\n"+
		svc("OnReply", "noop", "FM2", "FR", "")+svc("OnTimeout", "noop", "FT2", "FO", "")+
		userTask("Check", "FR</bpmn:incoming><bpmn:incoming>FO", "F2", `<rapport:formFields><rapport:field name="good" type="bool" required="true" /></rapport:formFields>`)+
		gateway("exclusiveGateway", "Satisfied", []string{"F2"}, []string{"FDone", "FReopen"}, ` default="FReopen"`)+
		end("Done", "FDone")+
		flow("F0", "Start", "Investigate")+flow("F1", "Investigate", "G")+flow("FM", "G", "Reply")+flow("FT", "G", "Timeout")+
		flow("FM2", "Reply", "OnReply")+flow("FT2", "Timeout", "OnTimeout")+flow("FR", "OnReply", "Check")+flow("FO", "OnTimeout", "Check")+
		flow("F2", "Check", "Satisfied")+condFlow("FDone", "Satisfied", "Done", "=good")+flow("FReopen", "Satisfied", "Investigate"), replyMsg)
	c := newCalls()
	env := newEnv(t, c, nil)
	complete := func(el string, vars map[string]any, at time.Duration) {
		env.RegisterDelayedCallback(func() {
			update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, el), Variables: vars})
		}, at)
	}
	complete("Investigate", nil, 30*time.Minute) // round 1 waits from 0:30; times out at 1:30
	env.RegisterDelayedCallback(func() {         // the late reply of round 1
		env.SignalWorkflow(SignalMessage, MessageRequest{Name: "reply", CorrelationKey: "C1"})
	}, 2*time.Hour)
	complete("Check", map[string]any{"good": false}, 5*time.Hour) // reopened
	complete("Investigate", nil, 6*time.Hour)                     // round 2 waits from 6:00
	complete("Check", map[string]any{"good": true}, 8*time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, x), Variables: map[string]any{"caseId": "C1"}})
	res := result(t, env)
	if res.EndElement != "Done" || c.count("OnReply") != 0 || c.count("OnTimeout") != 2 {
		t.Fatalf("end %s; the rounds were answered %d times and timed out %d times, want 0 and 2", res.EndElement, c.count("OnReply"), c.count("OnTimeout"))
	}
}

// TestRecordStartedBusinessKey: an instance a record started without a business key gets the record
// id as its business key, so messages for the record reach it (the first release left it empty).
func TestRecordStartedBusinessKey(t *testing.T) {
	env := newEnv(t, newCalls(), nil)
	var seen Snapshot
	env.RegisterDelayedCallback(func() { seen = queryState(t, env) }, time.Minute)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, replyAfterTask()), Entity: "lead", RecordID: "L7",
		Variables: map[string]any{"caseId": "C1"}})
	if seen.BusinessKey != "L7" {
		t.Fatalf("business key %q, want the record id L7", seen.BusinessKey)
	}
	var bk string
	if v, ok := SearchAttributes(Input{Ref: Ref{Key: "p"}, Entity: "lead", RecordID: "L7"}).GetKeyword(saBusiness); ok {
		bk = v
	}
	if bk != "L7" {
		t.Fatalf("start search attribute RapportBusinessKey %q, want L7", bk)
	}
}
