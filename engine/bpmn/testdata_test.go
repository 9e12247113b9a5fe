package bpmn

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func compileTestdata(t *testing.T, name, processID string) (*Model, []byte) {
	t.Helper()
	data := readTestdata(t, name)
	defs, err := Parse(bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	if defs.ExecutionPlatform != "Camunda Cloud" {
		t.Errorf("execution platform = %q", defs.ExecutionPlatform)
	}
	if ps := Validate(defs, Options{}); len(ps) > 0 {
		t.Fatalf("validate %s: %v", name, ps)
	}
	m, ps := Compile(defs, processID)
	if len(ps) > 0 {
		t.Fatalf("compile %s: %v", name, ps)
	}
	sum := sha256.Sum256(data)
	if m.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("hash = %s, want sha256 of the file", m.Hash)
	}
	return m, data
}

func flowBetween(m *Model, from, to string) *Flow {
	for i := range m.Flows {
		f := &m.Flows[i]
		if m.Nodes[f.Source].ID == from && m.Nodes[f.Target].ID == to {
			return f
		}
	}
	return nil
}

func TestLeadQualification(t *testing.T) {
	m, _ := compileTestdata(t, "lead-qualification.bpmn", "lead-qualification")
	if m.Name != "Lead qualification" || len(m.Variables) != 4 || m.Variables[2].Type != "float" {
		t.Errorf("model header = %q %+v", m.Name, m.Variables)
	}
	starts := m.Starts(KindStartRecord)
	if len(starts) != 1 {
		t.Fatalf("record starts = %v", starts)
	}
	st := m.Nodes[starts[0]]
	if st.Trigger.Entity != "lead" || st.Trigger.On != "created" || st.Trigger.Condition != `record?.source != "spam"` || len(st.Outputs) != 2 {
		t.Errorf("start = %+v", st)
	}
	score := m.Node("Task_ScoreLead")
	if score.Task.Type != "rules.evaluate" || score.Retry.MaximumAttempts != 5 || score.Retry.InitialInterval != 2*time.Second || score.Lane != "System" {
		t.Errorf("score task = %+v retry %+v", score.Task, score.Retry)
	}
	gw := m.Node("Gateway_Qualified")
	if gw.Kind != KindExclusiveGateway || m.Flows[gw.Default].ID != "Flow_NotQualified" {
		t.Errorf("gateway default = %d", gw.Default)
	}
	if f := flowBetween(m, "Gateway_Qualified", "Task_CallLead"); f == nil || f.Condition != "score >= 50" {
		t.Errorf("qualified flow = %+v", f)
	}
	call := m.Node("Task_CallLead")
	rem := m.Node("Event_Reminder")
	if call.Kind != KindUserTask || call.User.Assignee.Expression != "ownerId" || call.User.CandidateGroups.Literal != "sales" || len(call.User.Fields) != 2 {
		t.Errorf("call lead = %+v", call.User)
	}
	if len(call.Boundaries) != 1 || call.Boundaries[0] != rem.Index || rem.Interrupting || rem.AttachedTo != call.Index {
		t.Errorf("reminder boundary = %+v", rem)
	}
	if d, ok := rem.Timer.Duration.Fixed(); !ok || d != 24*time.Hour {
		t.Errorf("reminder timer = %+v", rem.Timer)
	}
	if call.Lane != "Sales" {
		t.Errorf("lane = %q", call.Lane)
	}
}

func TestFollowUpReminders(t *testing.T) {
	m, _ := compileTestdata(t, "follow-up-reminders.bpmn", "follow-up-reminders")
	timers := m.Starts(KindStartTimer)
	if len(timers) != 1 || m.Nodes[timers[0]].Timer.Cycle == nil || m.Nodes[timers[0]].Timer.Cycle.Cron != "0 8 * * 1-5" {
		t.Fatalf("timer start = %v", timers)
	}
	mi := m.Node("Task_CreateCallTask")
	if mi.Loop == nil || mi.Loop.InputCollection != "contacts" || mi.Loop.InputElement != "contact" || mi.Task.Type != "task.create" {
		t.Errorf("multi-instance = %+v", mi.Loop)
	}
	if s := m.Node("Task_Count"); len(s.Script) != 1 || s.Script[0].Target != "created" {
		t.Errorf("script = %+v", s.Script)
	}
	if w := m.Node("Event_WaitHour"); w.Kind != KindTimerCatch || w.Timer.Duration.Clock != time.Hour {
		t.Errorf("wait = %+v", w.Timer)
	}
}

func TestComplaintHandling(t *testing.T) {
	m, _ := compileTestdata(t, "complaint-handling.bpmn", "complaint-handling")
	inv := m.Node("Task_Investigate")
	esc := m.Node("Event_Escalate")
	if !esc.Interrupting || esc.AttachedTo != inv.Index || esc.Timer.Duration.Days != 2 {
		t.Errorf("escalation = %+v", esc)
	}
	if len(inv.Incoming) != 3 {
		t.Errorf("investigate incoming = %v", inv.Incoming)
	}
	if inv.User.DueDate.Expression == "" {
		t.Errorf("due date missing")
	}
	mail := m.Node("Event_MailFailed")
	if mail.Kind != KindBoundaryError || mail.Error.Code != "MAIL_FAILED" || mail.AttachedTo != m.Node("Task_NotifyCustomer").Index {
		t.Errorf("mail failed = %+v", mail)
	}
	gw := m.Node("Gateway_Reply")
	if gw.Kind != KindEventGateway || len(gw.Outgoing) != 2 {
		t.Errorf("event gateway = %+v", gw)
	}
	reply := m.Node("Event_CustomerReply")
	if reply.Message.Name != "customer-reply" || reply.Message.CorrelationKey != "complaintId" {
		t.Errorf("reply = %+v", reply.Message)
	}
	if r := m.Node("Task_Priority"); r.Rules.Key != "complaint-priority" || r.Rules.Version != "2" {
		t.Errorf("rules = %+v", r.Rules)
	}
	esp := m.Node("SubProcess_Withdrawn")
	if esp.Kind != KindEventSubProcess || !esp.Interrupting || m.Scopes[esp.SubScope].Starts[0] != m.Node("StartEvent_Withdrawn").Index {
		t.Errorf("event sub-process = %+v", esp)
	}
	if m.Node("EndEvent_Withdrawn").Kind != KindEndTerminate {
		t.Errorf("terminate end missing")
	}
}

// TestCompileDeterministic compiles each test process twice and compares the models and their JSON, so
// the interpreter can rely on the same XML giving the same graph on every worker.
func TestCompileDeterministic(t *testing.T) {
	for _, tc := range []struct{ file, process string }{
		{"lead-qualification.bpmn", "lead-qualification"},
		{"follow-up-reminders.bpmn", "follow-up-reminders"},
		{"complaint-handling.bpmn", "complaint-handling"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m1, _ := compileTestdata(t, tc.file, tc.process)
			m2, _ := compileTestdata(t, tc.file, tc.process)
			if !reflect.DeepEqual(m1, m2) {
				t.Fatal("two compilations differ")
			}
			j1, _ := json.Marshal(m1)
			j2, _ := json.Marshal(m2)
			if !bytes.Equal(j1, j2) {
				t.Fatal("JSON encodings differ")
			}
			var back Model
			if err := json.Unmarshal(j1, &back); err != nil {
				t.Fatal(err)
			}
			if n := back.Node(m1.Nodes[len(m1.Nodes)-1].ID); n == nil || n.Index != len(m1.Nodes)-1 {
				t.Errorf("lookup after JSON round trip failed")
			}
			for i, n := range m1.Nodes {
				if n.Index != i {
					t.Errorf("node %s has index %d at position %d", n.ID, n.Index, i)
				}
				for _, fi := range n.Outgoing {
					if m1.Flows[fi].Source != i {
						t.Errorf("flow %s listed as outgoing of %s", m1.Flows[fi].ID, n.ID)
					}
				}
			}
		})
	}
}

func BenchmarkParseCompile(b *testing.B) {
	data := readTestdata(b, "complaint-handling.bpmn")
	b.ReportAllocs()
	for b.Loop() {
		defs, err := ParseBytes(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, ps := Compile(defs, "complaint-handling"); len(ps) > 0 {
			b.Fatal(ps)
		}
	}
}

func BenchmarkCompileNoExpr(b *testing.B) {
	defs, err := ParseBytes(readTestdata(b, "complaint-handling.bpmn"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ps := CompileWith(defs, Options{ProcessID: "complaint-handling", SkipExpressions: true}); len(ps) > 0 {
			b.Fatal(ps)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := readTestdata(b, "complaint-handling.bpmn")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseBytes(data); err != nil {
			b.Fatal(err)
		}
	}
}
