package bpmn

import (
	"testing"
	"time"
)

// elementCase is one small process exercising one element kind: either it compiles and check inspects
// the node, or Validate must report the listed problems.
type elementCase struct {
	name    string
	process string
	root    string
	node    string
	kind    Kind
	check   func(t *testing.T, m *Model, n *Node)
	wantErr []Problem // ElementID + Reason substring
}

func runElementCases(t *testing.T, cases []elementCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defs := mustParse(t, doc(tc.process, tc.root))
			m, problems := Compile(defs, "P")
			if len(tc.wantErr) > 0 {
				if m != nil {
					t.Fatalf("compiled, want problems %v", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !hasProblem(problems, w.ElementID, w.Reason) {
						t.Errorf("missing problem %s: %q in %v", w.ElementID, w.Reason, problems)
					}
				}
				for _, p := range problems {
					if p.ElementID == "" {
						t.Errorf("problem without element id: %v", p)
					}
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("unexpected problems: %v", problems)
			}
			n := m.Node(tc.node)
			if n == nil {
				t.Fatalf("node %q not in model", tc.node)
			}
			if n.Kind != tc.kind {
				t.Fatalf("kind = %s, want %s", n.Kind, tc.kind)
			}
			if tc.check != nil {
				tc.check(t, m, n)
			}
		})
	}
}

const msgReply = `<bpmn:message id="M" name="reply"><bpmn:extensionElements><zeebe:subscription correlationKey="=key"/></bpmn:extensionElements></bpmn:message>`
const varsKey = `<bpmn:extensionElements><rapport:variables><rapport:variable name="key" type="string"/><rapport:variable name="amount" type="float"/><rapport:variable name="vip" type="bool"/></rapport:variables></bpmn:extensionElements>`

func TestStartEvents(t *testing.T) {
	runElementCases(t, []elementCase{
		{name: "none", process: start + end + chain("S", "E"), node: "S", kind: KindStartNone,
			check: func(t *testing.T, m *Model, n *Node) {
				if got := m.Starts(KindStartNone); len(got) != 1 || got[0] != n.Index {
					t.Errorf("Starts = %v", got)
				}
			}},
		{name: "record trigger", process: varsKey + `<bpmn:startEvent id="S"><bpmn:extensionElements><rapport:recordTrigger entity="lead" on="updated" condition="=record.status == &#34;new&#34;"/></bpmn:extensionElements></bpmn:startEvent>` + end + chain("S", "E"),
			node: "S", kind: KindStartRecord, check: func(t *testing.T, m *Model, n *Node) {
				if n.Trigger == nil || n.Trigger.Entity != "lead" || n.Trigger.On != "updated" || n.Trigger.Condition != `record.status == "new"` {
					t.Errorf("trigger = %+v", n.Trigger)
				}
			}},
		{name: "record trigger bad on", process: `<bpmn:startEvent id="S"><bpmn:extensionElements><rapport:recordTrigger entity="" on="deleted"/></bpmn:extensionElements></bpmn:startEvent>` + end + chain("S", "E"),
			wantErr: []Problem{{"S", "needs an entity"}, {"S", `on="deleted"`}}},
		{name: "timer cycle", process: `<bpmn:startEvent id="S"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT10M</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>` + end + chain("S", "E"),
			node: "S", kind: KindStartTimer, check: func(t *testing.T, m *Model, n *Node) {
				if n.Timer == nil || n.Timer.Cycle == nil || n.Timer.Cycle.Repetitions != 3 || n.Timer.Cycle.Interval.Clock != 10*time.Minute {
					t.Errorf("timer = %+v", n.Timer)
				}
			}},
		{name: "timer date", process: `<bpmn:startEvent id="S"><bpmn:timerEventDefinition><bpmn:timeDate>2026-03-01T09:00:00+01:00</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>` + end + chain("S", "E"),
			node: "S", kind: KindStartTimer, check: func(t *testing.T, m *Model, n *Node) {
				if !n.Timer.Date.Equal(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)) {
					t.Errorf("date = %v", n.Timer.Date)
				}
			}},
		{name: "timer start duration refused", process: `<bpmn:startEvent id="S"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>` + end + chain("S", "E"),
			wantErr: []Problem{{"S", "duration timer is not allowed"}}},
		{name: "timer missing", process: `<bpmn:startEvent id="S"><bpmn:timerEventDefinition/></bpmn:startEvent>` + end + chain("S", "E"),
			wantErr: []Problem{{"S", "missing timer definition"}}},
		{name: "message", process: `<bpmn:startEvent id="S"><bpmn:messageEventDefinition messageRef="M"/></bpmn:startEvent>` + end + chain("S", "E"),
			root: `<bpmn:message id="M" name="order-placed"/>`, node: "S", kind: KindStartMessage,
			check: func(t *testing.T, m *Model, n *Node) {
				if n.Message == nil || n.Message.Name != "order-placed" {
					t.Errorf("message = %+v", n.Message)
				}
			}},
		{name: "message unknown ref", process: `<bpmn:startEvent id="S"><bpmn:messageEventDefinition messageRef="Nope"/></bpmn:startEvent>` + end + chain("S", "E"),
			wantErr: []Problem{{"S", `messageRef "Nope"`}}},
		{name: "signal unsupported", process: `<bpmn:startEvent id="S"><bpmn:signalEventDefinition/></bpmn:startEvent>` + end + chain("S", "E"),
			wantErr: []Problem{{"S", "signal start events are not supported"}, {"P", "no start event"}}},
		{name: "two none starts", process: start + `<bpmn:startEvent id="S2"/>` + end + chain("S", "E") + flow("S2", "E"),
			wantErr: []Problem{{"S2", "only one none start event"}}},
	})
}

func TestEndEvents(t *testing.T) {
	runElementCases(t, []elementCase{
		{name: "none", process: start + end + chain("S", "E"), node: "E", kind: KindEndNone},
		{name: "terminate", process: start + `<bpmn:endEvent id="E"><bpmn:terminateEventDefinition/></bpmn:endEvent>` + chain("S", "E"),
			node: "E", kind: KindEndTerminate},
		{name: "error", process: start + `<bpmn:endEvent id="E"><bpmn:errorEventDefinition errorRef="Err"/></bpmn:endEvent>` + chain("S", "E"),
			root: `<bpmn:error id="Err" name="Rejected" errorCode="REJECTED"/>`, node: "E", kind: KindEndError,
			check: func(t *testing.T, m *Model, n *Node) {
				if n.Error == nil || n.Error.Code != "REJECTED" {
					t.Errorf("error = %+v", n.Error)
				}
			}},
		{name: "error without ref", process: start + `<bpmn:endEvent id="E"><bpmn:errorEventDefinition/></bpmn:endEvent>` + chain("S", "E"),
			wantErr: []Problem{{"E", "no errorRef"}}},
		{name: "message end without job or message", process: start + `<bpmn:endEvent id="E"><bpmn:messageEventDefinition/></bpmn:endEvent>` + chain("S", "E"),
			wantErr: []Problem{{"E", "a message end event needs a job"}}},
		{name: "message end as a job", process: start + `<bpmn:endEvent id="E"><bpmn:extensionElements><zeebe:taskDefinition type="send-mail"/></bpmn:extensionElements><bpmn:messageEventDefinition/></bpmn:endEvent>` + chain("S", "E"),
			node: "E", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Task == nil || n.Task.Type != "send-mail" || !n.Task.External || len(n.Outgoing) != 0 {
					t.Errorf("task = %+v", n.Task)
				}
			}},
		{name: "message end publishes", process: varsKey + start + `<bpmn:endEvent id="E"><bpmn:messageEventDefinition messageRef="M"/></bpmn:endEvent>` + chain("S", "E"), root: msgReply,
			node: "E", kind: KindMessageThrow},
		{name: "implicit end of a task", process: start + service("T", "notify") + chain("S", "T"),
			node: "T", kind: KindServiceTask},
		{name: "gateway without outgoing flow", process: start + `<bpmn:exclusiveGateway id="G"/>` + chain("S", "G"),
			wantErr: []Problem{{"G", "a gateway needs an outgoing sequence flow"}}},
		{name: "end event with outgoing flow", process: start + `<bpmn:endEvent id="E"><bpmn:extensionElements><zeebe:taskDefinition type="x"/></bpmn:extensionElements><bpmn:messageEventDefinition/></bpmn:endEvent>` + service("T", "notify") + chain("S", "E", "T"),
			wantErr: []Problem{{"E", "end events cannot have outgoing flows"}}},
	})
}

func TestTasks(t *testing.T) {
	runElementCases(t, []elementCase{
		{name: "service task", process: varsKey + start + `<bpmn:serviceTask id="T"><bpmn:extensionElements>
			<zeebe:taskDefinition type="http" retries="4"/>
			<zeebe:taskHeaders><zeebe:header key="url" value="https://example.com"/></zeebe:taskHeaders>
			<zeebe:ioMapping><zeebe:input source="=amount * 2" target="doubled"/><zeebe:output source="=result.status" target="status"/></zeebe:ioMapping>
			</bpmn:extensionElements></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			node: "T", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Task.Type != "http" || n.Retry.MaximumAttempts != 4 || len(n.Headers) != 1 || n.Headers[0].Value != "https://example.com" {
					t.Errorf("task = %+v retry = %+v headers = %+v", n.Task, n.Retry, n.Headers)
				}
				if len(n.Inputs) != 1 || n.Inputs[0].Source != "amount * 2" || n.Outputs[0].Target != "status" {
					t.Errorf("mappings = %+v %+v", n.Inputs, n.Outputs)
				}
			}},
		{name: "retry policy", process: start + `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="notify"/>
			<rapport:retryPolicy initialInterval="PT5S" backoffCoefficient="1.5" maximumInterval="PT10M" maximumAttempts="7"/></bpmn:extensionElements></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			node: "T", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				want := RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 1.5, MaximumInterval: 10 * time.Minute, MaximumAttempts: 7}
				if *n.Retry != want {
					t.Errorf("retry = %+v, want %+v", *n.Retry, want)
				}
			}},
		{name: "bad retry policy", process: start + `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="notify" retries="many"/>
			<rapport:retryPolicy initialInterval="5s" backoffCoefficient="0.5" maximumAttempts="0"/></bpmn:extensionElements></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			wantErr: []Problem{{"T", "retries=\"many\""}, {"T", "initialInterval"}, {"T", "backoffCoefficient"}, {"T", "maximumAttempts"}}},
		{name: "external task", process: start + service("T", "send.fax") + end + chain("S", "T", "E"),
			node: "T", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Task.Type != "send.fax" || !n.Task.External {
					t.Errorf("task = %+v", n.Task)
				}
			}},
		{name: "external task type from an expression", process: varsKey + start + service("T", "=key") + end + chain("S", "T", "E"),
			node: "T", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Task.Type != "" || n.Task.TypeExpression != "key" || !n.Task.External {
					t.Errorf("task = %+v", n.Task)
				}
			}},
		{name: "camunda rest connector runs as http", process: start + `<bpmn:serviceTask id="T"><bpmn:extensionElements>
			<zeebe:taskDefinition type="io.camunda:http-json:1"/>
			<zeebe:ioMapping><zeebe:input source="https://example.com/x" target="url"/><zeebe:input source="GET" target="method"/><zeebe:input source="noAuth" target="authentication.type"/></zeebe:ioMapping>
			<zeebe:taskHeaders><zeebe:header key="resultVariable" value="answer"/><zeebe:header key="resultExpression" value="={code: response.status}"/></zeebe:taskHeaders>
			</bpmn:extensionElements></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			node: "T", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Task.Type != "http" || n.Task.Written != "io.camunda:http-json:1" || n.Task.External {
					t.Errorf("task = %+v", n.Task)
				}
				if len(n.Outputs) != 2 || n.Outputs[0].Target != "answer" || n.Outputs[0].Source != "result" || n.Outputs[1].Target != "code" {
					t.Errorf("outputs = %+v", n.Outputs)
				}
			}},
		{name: "camunda 7 external task", process: start + `<bpmn:serviceTask id="T" camunda:type="external" camunda:topic="charge-card"/>` + end + chain("S", "T", "E"),
			node: "T", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Task.Type != "charge-card" || !n.Task.External {
					t.Errorf("task = %+v", n.Task)
				}
			}},
		{name: "camunda 7 java delegate", process: start + `<bpmn:serviceTask id="T" camunda:class="com.example.Charge"/>` + end + chain("S", "T", "E"),
			wantErr: []Problem{{"T", "Java delegate"}}},
		{name: "missing task definition", process: start + `<bpmn:serviceTask id="T"/>` + end + chain("S", "T", "E"),
			wantErr: []Problem{{"T", "no task type"}}},
		{name: "io mapping expression error", process: start + `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="notify"/>
			<zeebe:ioMapping><zeebe:input source="=&#34;a&#34; - 1" target="x"/><zeebe:input source="=1" target="not a name"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			wantErr: []Problem{{"T", "mismatched types"}, {"T", `target "not a name"`}}},
		{name: "user task", process: varsKey + start + `<bpmn:userTask id="U"><bpmn:extensionElements>
			<zeebe:assignmentDefinition assignee="=key" candidateGroups="sales, service"/>
			<zeebe:formDefinition formId="f1"/>
			<rapport:dueDate expression="now + duration(&#34;2h&#34;)"/>
			<rapport:formFields><rapport:field name="approved" type="boolean" required="true"/><rapport:field name="note" type="string"/></rapport:formFields>
			</bpmn:extensionElements></bpmn:userTask>` + end + chain("S", "U", "E"),
			node: "U", kind: KindUserTask, check: func(t *testing.T, m *Model, n *Node) {
				u := n.User
				if u.Assignee.Expression != "key" || u.CandidateGroups.Literal != "sales, service" || u.DueDate.Expression == "" || u.FormKey != "f1" {
					t.Errorf("user = %+v", u)
				}
				if len(u.Fields) != 2 || u.Fields[0].Type != "bool" || !u.Fields[0].Required {
					t.Errorf("fields = %+v", u.Fields)
				}
			}},
		{name: "user task with embedded camunda form", process: `<bpmn:extensionElements><zeebe:userTaskForm id="Form_1">{"components":[
			{"key":"approved","type":"checkbox","label":"Approved","validate":{"required":true}},
			{"type":"group","components":[{"key":"amount","type":"number"},{"type":"text","text":"display only"}]}],"type":"default"}</zeebe:userTaskForm></bpmn:extensionElements>` +
			start + `<bpmn:userTask id="U"><bpmn:extensionElements><zeebe:formDefinition formKey="camunda-forms:bpmn:Form_1"/></bpmn:extensionElements></bpmn:userTask>` +
			`<bpmn:exclusiveGateway id="G" default="F_G_E"/><bpmn:endEvent id="E2"/>` + end + chain("S", "U", "G", "E") + condFlow("G", "E2", "=approved and amount &gt; 10"),
			node: "U", kind: KindUserTask, check: func(t *testing.T, m *Model, n *Node) {
				f := n.User.Fields
				if len(f) != 2 || f[0].Name != "approved" || f[0].Type != "bool" || !f[0].Required || f[1].Name != "amount" || f[1].Type != "float" {
					t.Errorf("fields = %+v", f)
				}
			}},
		{name: "user task with missing or broken embedded form", process: `<bpmn:extensionElements><zeebe:userTaskForm id="Broken">{not json</zeebe:userTaskForm></bpmn:extensionElements>` + start +
			`<bpmn:userTask id="U1"><bpmn:extensionElements><zeebe:formDefinition formKey="camunda-forms:bpmn:Missing"/></bpmn:extensionElements></bpmn:userTask>` +
			`<bpmn:userTask id="U2"><bpmn:extensionElements><zeebe:formDefinition formKey="camunda-forms:bpmn:Broken"/></bpmn:extensionElements></bpmn:userTask>` + end + chain("S", "U1", "U2", "E"),
			wantErr: []Problem{{"U1", "names no zeebe:userTaskForm"}, {"U2", "not valid JSON"}}},
		{name: "user task bad fields", process: start + `<bpmn:userTask id="U"><bpmn:extensionElements>
			<zeebe:assignmentDefinition assignee="=1 +"/>
			<rapport:formFields><rapport:field name="a" type="colour"/><rapport:field name="b" type="string"/><rapport:field name="b" type="string"/></rapport:formFields>
			</bpmn:extensionElements></bpmn:userTask>` + end + chain("S", "U", "E"),
			wantErr: []Problem{{"U", "assignee"}, {"U", `unknown type "colour"`}, {"U", `duplicate form field "b"`}}},
		{name: "business rule task", process: start + `<bpmn:businessRuleTask id="R"><bpmn:extensionElements><rapport:ruleset key="scoring" version="3" resultVariable="score"/></bpmn:extensionElements></bpmn:businessRuleTask>` + end + chain("S", "R", "E"),
			node: "R", kind: KindBusinessRuleTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Rules == nil || n.Rules.Key != "scoring" || n.Rules.Version != "3" || n.Rules.ResultVariable != "score" {
					t.Errorf("rules = %+v", n.Rules)
				}
			}},
		{name: "business rule from zeebe decision", process: start + `<bpmn:businessRuleTask id="R"><bpmn:extensionElements><zeebe:calledDecision decisionId="routing" resultVariable="team"/></bpmn:extensionElements></bpmn:businessRuleTask>` + end + chain("S", "R", "E"),
			node: "R", kind: KindBusinessRuleTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Rules.Key != "routing" || n.Rules.ResultVariable != "team" {
					t.Errorf("rules = %+v", n.Rules)
				}
			}},
		{name: "business rule without ruleset", process: start + `<bpmn:businessRuleTask id="R"/>` + end + chain("S", "R", "E"),
			wantErr: []Problem{{"R", "names no rule set"}}},
		{name: "script task", process: varsKey + start + `<bpmn:scriptTask id="X"><bpmn:extensionElements>
			<rapport:assign target="total" expression="=amount * 1.2"/><rapport:assign target="big" expression="total > 100"/></bpmn:extensionElements></bpmn:scriptTask>` + end + chain("S", "X", "E"),
			node: "X", kind: KindScriptTask, check: func(t *testing.T, m *Model, n *Node) {
				if len(n.Script) != 2 || n.Script[0].Target != "total" || n.Script[0].Expression != "amount * 1.2" || n.Script[1].Expression != "total > 100" {
					t.Errorf("script = %+v", n.Script)
				}
			}},
		{name: "zeebe script", process: varsKey + start + `<bpmn:scriptTask id="X"><bpmn:extensionElements><zeebe:script expression="=amount + 1" resultVariable="next"/></bpmn:extensionElements></bpmn:scriptTask>` + end + chain("S", "X", "E"),
			node: "X", kind: KindScriptTask, check: func(t *testing.T, m *Model, n *Node) {
				if len(n.Script) != 1 || n.Script[0].Target != "next" {
					t.Errorf("script = %+v", n.Script)
				}
			}},
		{name: "inline script refused", process: start + `<bpmn:scriptTask id="X" scriptFormat="groovy"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>` + end + chain("S", "X", "E"),
			wantErr: []Problem{{"X", "inline scripts are not run"}, {"X", "no assignments"}}},
		{name: "receive task", process: varsKey + start + `<bpmn:receiveTask id="R" messageRef="M"/>` + end + chain("S", "R", "E"), root: msgReply,
			node: "R", kind: KindReceiveTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Message.Name != "reply" || n.Message.CorrelationKey != "key" {
					t.Errorf("message = %+v", n.Message)
				}
			}},
		{name: "call activity", process: start + `<bpmn:callActivity id="C"><bpmn:extensionElements><zeebe:calledElement processId="child" propagateAllChildVariables="false"/></bpmn:extensionElements></bpmn:callActivity>` + end + chain("S", "C", "E"),
			node: "C", kind: KindCallActivity, check: func(t *testing.T, m *Model, n *Node) {
				if n.Call.ProcessID.Literal != "child" || n.Call.PropagateAllChildVariables || !n.Call.PropagateAllParentVariables {
					t.Errorf("call = %+v", n.Call)
				}
			}},
		{name: "call activity without process", process: start + `<bpmn:callActivity id="C"/>` + end + chain("S", "C", "E"),
			wantErr: []Problem{{"C", "names no process"}}},
		{name: "multi-instance", process: start + `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="notify"/></bpmn:extensionElements>
			<bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=[1,2,3]" inputElement="item"/></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			node: "T", kind: KindServiceTask, check: func(t *testing.T, m *Model, n *Node) {
				if n.Loop == nil || !n.Loop.Sequential || n.Loop.InputCollection != "[1, 2, 3]" || n.Loop.InputElement != "item" {
					t.Errorf("loop = %+v", n.Loop)
				}
			}},
		{name: "plain task passes through", process: start + `<bpmn:task id="T"><bpmn:extensionElements><zeebe:ioMapping>
			<zeebe:output source="done" target="state"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:task>` + end + chain("S", "T", "E"),
			node: "T", kind: KindScriptTask, check: func(t *testing.T, m *Model, n *Node) {
				if !n.PassThrough || len(n.Script) != 0 || len(n.Outputs) != 1 || n.Outputs[0].Source != `"done"` {
					t.Errorf("pass-through task = %+v", n)
				}
			}},
		{name: "manual task passes through", process: start + `<bpmn:manualTask id="T"/>` + end + chain("S", "T", "E"),
			node: "T", kind: KindScriptTask, check: func(t *testing.T, m *Model, n *Node) {
				if !n.PassThrough {
					t.Errorf("manual task = %+v", n)
				}
			}},
		{name: "send task without type", process: start + `<bpmn:sendTask id="T2"/>` + end + chain("S", "T2", "E"),
			wantErr: []Problem{{"T2", "send task has no task type"}}},
		{name: "send task is a job", process: start + `<bpmn:sendTask id="T2"><bpmn:extensionElements><zeebe:taskDefinition type="send-policy"/></bpmn:extensionElements></bpmn:sendTask>` + end + chain("S", "T2", "E"),
			node: "T2", kind: KindServiceTask},
		{name: "business rule task as a job", process: start + `<bpmn:businessRuleTask id="T2"><bpmn:extensionElements><zeebe:taskDefinition type="decide"/></bpmn:extensionElements></bpmn:businessRuleTask>` + end + chain("S", "T2", "E"),
			node: "T2", kind: KindServiceTask},
		{name: "standard loop unsupported", process: start + `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="notify"/></bpmn:extensionElements><bpmn:standardLoopCharacteristics/></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			wantErr: []Problem{{"T", "standardLoopCharacteristics"}}},
	})
}

func TestExtraTaskTypes(t *testing.T) {
	defs := mustParse(t, doc(start+service("T", "send.fax")+end+chain("S", "T", "E"), ""))
	if ps := Validate(defs, Options{TaskTypes: []string{"send.fax"}}); len(ps) != 0 {
		t.Fatalf("problems with extra task type: %v", ps)
	}
	m, ps := CompileWith(defs, Options{TaskTypes: []string{"send.fax"}})
	if len(ps) != 0 || m.Node("T").Task.External {
		t.Fatalf("a type Rapport's handlers run is not external: %+v %v", m.Node("T").Task, ps)
	}
	m, ps = CompileWith(defs, Options{})
	if len(ps) != 0 || !m.Node("T").Task.External {
		t.Fatalf("without the option the type is an external task: %v", ps)
	}
}

func TestGateways(t *testing.T) {
	exclusive := func(def string, f1, f2 string) string {
		return varsKey + start + `<bpmn:exclusiveGateway id="G"` + def + `/>` + service("A", "notify") + service("B", "notify") + end +
			flow("S", "G") + f1 + f2 + flow("A", "E") + flow("B", "E")
	}
	runElementCases(t, []elementCase{
		{name: "exclusive with default", process: exclusive(` default="F_G_B"`, condFlow("G", "A", "=amount &gt; 1000"), flow("G", "B")),
			node: "G", kind: KindExclusiveGateway, check: func(t *testing.T, m *Model, n *Node) {
				if n.Default < 0 || m.Flows[n.Default].ID != "F_G_B" || !m.Flows[n.Default].IsDefault {
					t.Fatalf("default = %d", n.Default)
				}
				a := m.Flows[n.Outgoing[0]]
				if a.Condition != "amount > 1000" || m.Nodes[a.Target].ID != "A" {
					t.Errorf("conditional flow = %+v", a)
				}
			}},
		{name: "exclusive flow without condition or default", process: exclusive("", condFlow("G", "A", "vip"), flow("G", "B")),
			wantErr: []Problem{{"G", `flow "F_G_B" has neither a condition nor default status`}}},
		{name: "exclusive default not outgoing", process: exclusive(` default="F_A_E"`, condFlow("G", "A", "vip"), condFlow("G", "B", "not vip")),
			wantErr: []Problem{{"G", `default flow "F_A_E" is not an outgoing flow`}}},
		{name: "condition compile error", process: exclusive(` default="F_G_B"`, condFlow("G", "A", "=amount &gt;"), flow("G", "B")),
			wantErr: []Problem{{"F_G_A", "condition"}}},
		{name: "condition not boolean", process: exclusive(` default="F_G_B"`, condFlow("G", "A", "=amount"), flow("G", "B")),
			wantErr: []Problem{{"F_G_A", "does not compile"}}},
		{name: "camunda 7 juel condition", process: exclusive(` default="F_G_B"`, condFlow("G", "A", "${amount > 5}"), flow("G", "B")),
			node: "G", kind: KindExclusiveGateway, check: func(t *testing.T, m *Model, n *Node) {
				if c := m.Flows[n.Outgoing[0]].Condition; c != "amount > 5" {
					t.Errorf("condition = %q", c)
				}
			}},
		{name: "camunda 7 juel condition that is not an expression", process: exclusive(` default="F_G_B"`, condFlow("G", "A", "${amount >>> 5}"), flow("G", "B")),
			wantErr: []Problem{{"F_G_A", "does not compile"}}},
		{name: "parallel fork and join", process: start + `<bpmn:parallelGateway id="Fork"/><bpmn:parallelGateway id="Join"/>` + service("A", "notify") + service("B", "notify") + end +
			chain("S", "Fork", "A", "Join", "E") + flow("Fork", "B") + flow("B", "Join"),
			node: "Join", kind: KindParallelGateway, check: func(t *testing.T, m *Model, n *Node) {
				if len(n.Incoming) != 2 || len(m.Node("Fork").Outgoing) != 2 {
					t.Errorf("join incoming = %v", n.Incoming)
				}
			}},
		{name: "parallel with condition", process: varsKey + start + `<bpmn:parallelGateway id="Fork"/>` + service("A", "notify") + end + flow("S", "Fork") + condFlow("Fork", "A", "vip") + flow("A", "E"),
			wantErr: []Problem{{"F_Fork_A", "conditional sequence flows are only supported"}}},
		{name: "inclusive", process: varsKey + start + `<bpmn:inclusiveGateway id="G" default="F_G_B"/><bpmn:inclusiveGateway id="J"/>` + service("A", "notify") + service("B", "notify") + end +
			flow("S", "G") + condFlow("G", "A", "vip") + flow("G", "B") + chain("A", "J", "E") + flow("B", "J"),
			node: "G", kind: KindInclusiveGateway},
		{name: "event-based", process: varsKey + start + `<bpmn:eventBasedGateway id="G"/>
			<bpmn:intermediateCatchEvent id="Msg"><bpmn:messageEventDefinition messageRef="M"/></bpmn:intermediateCatchEvent>
			<bpmn:intermediateCatchEvent id="Tmr"><bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` + end +
			chain("S", "G", "Msg", "E") + chain("G", "Tmr", "E"), root: msgReply,
			node: "G", kind: KindEventGateway, check: func(t *testing.T, m *Model, n *Node) {
				if len(n.Outgoing) != 2 || m.Node("Tmr").Timer.Duration.Days != 3 {
					t.Errorf("gateway = %+v", n)
				}
			}},
		{name: "event-based followed by task", process: start + `<bpmn:eventBasedGateway id="G"/>` + service("A", "notify") + service("B", "notify") + end +
			chain("S", "G", "A", "E") + chain("G", "B", "E"),
			wantErr: []Problem{{"G", `followed by "A"`}, {"G", `followed by "B"`}}},
		{name: "complex gateway unsupported", process: start + `<bpmn:complexGateway id="G"/>` + end + chain("S", "G", "E"),
			wantErr: []Problem{{"G", "complex gateways are not supported"}}},
		{name: "condition on activity flow", process: varsKey + start + service("A", "notify") + end + flow("S", "A") + condFlow("A", "E", "vip"),
			wantErr: []Problem{{"F_A_E", "conditional sequence flows are only supported"}}},
	})
}

func TestIntermediateEvents(t *testing.T) {
	runElementCases(t, []elementCase{
		{name: "timer duration", process: start + `<bpmn:intermediateCatchEvent id="W"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H30M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` + end + chain("S", "W", "E"),
			node: "W", kind: KindTimerCatch, check: func(t *testing.T, m *Model, n *Node) {
				if d, _ := n.Timer.Duration.Fixed(); d != 90*time.Minute {
					t.Errorf("duration = %v", d)
				}
				if !n.Kind.IsWait() {
					t.Errorf("timer catch should be a wait state")
				}
			}},
		{name: "timer expression", process: varsKey + start + `<bpmn:intermediateCatchEvent id="W"><bpmn:timerEventDefinition><bpmn:timeDate>=now + duration("1h")</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` + end + chain("S", "W", "E"),
			node: "W", kind: KindTimerCatch, check: func(t *testing.T, m *Model, n *Node) {
				if n.Timer.Kind != TimerDate || n.Timer.Expression != `now + duration("1h")` {
					t.Errorf("timer = %+v", n.Timer)
				}
			}},
		{name: "timer bad duration", process: start + `<bpmn:intermediateCatchEvent id="W"><bpmn:timerEventDefinition><bpmn:timeDuration>1 hour</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` + end + chain("S", "W", "E"),
			wantErr: []Problem{{"W", "must start with P"}}},
		{name: "timer catch cycle refused", process: start + `<bpmn:intermediateCatchEvent id="W"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` + end + chain("S", "W", "E"),
			wantErr: []Problem{{"W", "cycle timer is not allowed"}}},
		{name: "message catch", process: varsKey + start + `<bpmn:intermediateCatchEvent id="W"><bpmn:messageEventDefinition messageRef="M"/></bpmn:intermediateCatchEvent>` + end + chain("S", "W", "E"), root: msgReply,
			node: "W", kind: KindMessageCatch, check: func(t *testing.T, m *Model, n *Node) {
				if n.Message.Name != "reply" || n.Message.CorrelationKey != "key" {
					t.Errorf("message = %+v", n.Message)
				}
			}},
		{name: "message catch without correlation key", process: start + `<bpmn:intermediateCatchEvent id="W"><bpmn:messageEventDefinition messageRef="M"/></bpmn:intermediateCatchEvent>` + end + chain("S", "W", "E"),
			root: `<bpmn:message id="M" name="reply"/>`, node: "W", kind: KindMessageCatch, check: func(t *testing.T, m *Model, n *Node) {
				if n.Message.CorrelationKey != "" || !hasProblem(m.Warnings, "W", "no correlation key") {
					t.Errorf("message = %+v, warnings = %v", n.Message, m.Warnings)
				}
			}},
		{name: "message throw", process: varsKey + start + `<bpmn:intermediateThrowEvent id="W"><bpmn:messageEventDefinition messageRef="M"/></bpmn:intermediateThrowEvent>` + end + chain("S", "W", "E"), root: msgReply,
			node: "W", kind: KindMessageThrow},
		{name: "link", process: start + `<bpmn:intermediateThrowEvent id="LT"><bpmn:linkEventDefinition name="next"/></bpmn:intermediateThrowEvent>
			<bpmn:intermediateCatchEvent id="LC"><bpmn:linkEventDefinition name="next"/></bpmn:intermediateCatchEvent>` + end + chain("S", "LT") + chain("LC", "E"),
			node: "LT", kind: KindLinkThrow, check: func(t *testing.T, m *Model, n *Node) {
				if n.LinkTarget != m.Node("LC").Index {
					t.Errorf("link target = %d", n.LinkTarget)
				}
			}},
		{name: "link catch without throw", process: start + `<bpmn:intermediateCatchEvent id="LC"><bpmn:linkEventDefinition name="orphan"/></bpmn:intermediateCatchEvent>` + end + chain("S", "E") + chain("LC", "E"),
			wantErr: []Problem{{"LC", "has no link throw"}, {"LC", "unreachable"}}},
		{name: "link throw without catch", process: start + `<bpmn:intermediateThrowEvent id="LT"><bpmn:linkEventDefinition name="nowhere"/></bpmn:intermediateThrowEvent>` + chain("S", "LT"),
			wantErr: []Problem{{"LT", "has no link catch"}}},
		{name: "none throw passes through", process: start + `<bpmn:intermediateThrowEvent id="W"/>` + end + chain("S", "W", "E"),
			node: "W", kind: KindScriptTask, check: func(t *testing.T, m *Model, n *Node) {
				if !n.PassThrough {
					t.Errorf("none throw = %+v", n)
				}
			}},
	})
}

func TestBoundaryEvents(t *testing.T) {
	user := `<bpmn:userTask id="U"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="sales"/></bpmn:extensionElements></bpmn:userTask>`
	runElementCases(t, []elementCase{
		{name: "timer non-interrupting cycle", process: start + user + `<bpmn:boundaryEvent id="B" cancelActivity="false" attachedToRef="U"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>` +
			service("N", "notify") + end + chain("S", "U", "E") + chain("B", "N", "E"),
			node: "B", kind: KindBoundaryTimer, check: func(t *testing.T, m *Model, n *Node) {
				host := m.Node("U")
				if n.Interrupting || n.AttachedTo != host.Index || len(host.Boundaries) != 1 || host.Boundaries[0] != n.Index {
					t.Errorf("boundary = %+v host = %+v", n, host)
				}
			}},
		{name: "timer interrupting", process: start + user + `<bpmn:boundaryEvent id="B" attachedToRef="U"><bpmn:timerEventDefinition><bpmn:timeDuration>P2D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>` +
			end + chain("S", "U", "E") + chain("B", "E"),
			node: "B", kind: KindBoundaryTimer, check: func(t *testing.T, m *Model, n *Node) {
				if !n.Interrupting || n.Timer.Duration.Days != 2 {
					t.Errorf("boundary = %+v", n)
				}
			}},
		{name: "interrupting cycle refused", process: start + user + `<bpmn:boundaryEvent id="B" attachedToRef="U"><bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>` +
			end + chain("S", "U", "E") + chain("B", "E"),
			wantErr: []Problem{{"B", "cycle timer is not allowed"}}},
		{name: "message", process: varsKey + start + user + `<bpmn:boundaryEvent id="B" attachedToRef="U"><bpmn:messageEventDefinition messageRef="M"/></bpmn:boundaryEvent>` +
			end + chain("S", "U", "E") + chain("B", "E"), root: msgReply, node: "B", kind: KindBoundaryMessage},
		{name: "error catch-all", process: start + service("T", "http") + `<bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>` +
			end + chain("S", "T", "E") + chain("B", "E"), node: "B", kind: KindBoundaryError,
			check: func(t *testing.T, m *Model, n *Node) {
				if n.Error == nil || n.Error.Code != "" {
					t.Errorf("error = %+v", n.Error)
				}
			}},
		{name: "error non-interrupting refused", process: start + service("T", "http") + `<bpmn:boundaryEvent id="B" cancelActivity="false" attachedToRef="T"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>` +
			end + chain("S", "T", "E") + chain("B", "E"), wantErr: []Problem{{"B", "always interrupting"}}},
		{name: "attached to gateway", process: start + `<bpmn:exclusiveGateway id="G"/><bpmn:boundaryEvent id="B" attachedToRef="G"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>` +
			end + chain("S", "G", "E") + chain("B", "E"), wantErr: []Problem{{"B", "attach to tasks"}}},
		{name: "attached to nothing", process: start + end + chain("S", "E") + `<bpmn:boundaryEvent id="B" attachedToRef="Ghost"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>` + chain("B", "E"),
			wantErr: []Problem{{"B", `attachedToRef "Ghost"`}}},
		{name: "boundary without definition", process: start + user + `<bpmn:boundaryEvent id="B" attachedToRef="U"/>` + end + chain("S", "U", "E") + chain("B", "E"),
			wantErr: []Problem{{"B", "boundary without an event definition"}}},
	})
}

func TestSubProcesses(t *testing.T) {
	inner := `<bpmn:startEvent id="SS"/>` + service("ST", "notify") + `<bpmn:endEvent id="SE"/>` + chain("SS", "ST", "SE")
	runElementCases(t, []elementCase{
		{name: "embedded with error boundary", process: start + `<bpmn:subProcess id="Sub">` + inner + `</bpmn:subProcess>
			<bpmn:boundaryEvent id="B" attachedToRef="Sub"><bpmn:errorEventDefinition errorRef="Err"/></bpmn:boundaryEvent>` + end + chain("S", "Sub", "E") + chain("B", "E"),
			root: `<bpmn:error id="Err" errorCode="FAILED"/>`, node: "Sub", kind: KindSubProcess,
			check: func(t *testing.T, m *Model, n *Node) {
				sc := m.Scopes[n.SubScope]
				if sc.Node != n.Index || sc.Parent != 0 || len(sc.Starts) != 1 || m.Nodes[sc.Starts[0]].ID != "SS" || len(sc.Nodes) != 3 {
					t.Errorf("scope = %+v", sc)
				}
				if m.Node("ST").Scope != n.SubScope || m.Node("B").Error.Code != "FAILED" {
					t.Errorf("inner scope wrong")
				}
			}},
		{name: "embedded without start", process: start + `<bpmn:subProcess id="Sub">` + service("ST", "notify") + `</bpmn:subProcess>` + end + chain("S", "Sub", "E"),
			wantErr: []Problem{{"Sub", "exactly one none start event"}}},
		{name: "flow across scopes", process: start + `<bpmn:subProcess id="Sub">` + inner + flow("ST", "E") + `</bpmn:subProcess>` + end + chain("S", "Sub", "E"),
			wantErr: []Problem{{"F_ST_E", "across a sub-process boundary"}}},
		{name: "event sub-process message non-interrupting", process: varsKey + start + service("T", "notify") + end + chain("S", "T", "E") +
			`<bpmn:subProcess id="ESP" triggeredByEvent="true"><bpmn:startEvent id="ES" isInterrupting="false"><bpmn:messageEventDefinition messageRef="M"/></bpmn:startEvent>` +
			service("ET", "notify") + `<bpmn:endEvent id="EE"/>` + chain("ES", "ET", "EE") + `</bpmn:subProcess>`, root: msgReply,
			node: "ESP", kind: KindEventSubProcess, check: func(t *testing.T, m *Model, n *Node) {
				if n.Interrupting || m.Node("ES").Kind != KindStartMessage || len(m.Scopes[0].EventSubProcesses) != 1 {
					t.Errorf("event sub-process = %+v", n)
				}
				if len(m.Starts(KindStartMessage)) != 0 {
					t.Errorf("event sub-process start leaked into process starts")
				}
			}},
		{name: "event sub-process timer and error", process: start + service("T", "notify") + end + chain("S", "T", "E") +
			`<bpmn:subProcess id="ESP1" triggeredByEvent="true"><bpmn:startEvent id="ES1"><bpmn:timerEventDefinition><bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent><bpmn:endEvent id="EE1"/>` + chain("ES1", "EE1") + `</bpmn:subProcess>` +
			`<bpmn:subProcess id="ESP2" triggeredByEvent="true"><bpmn:startEvent id="ES2"><bpmn:errorEventDefinition/></bpmn:startEvent><bpmn:endEvent id="EE2"/>` + chain("ES2", "EE2") + `</bpmn:subProcess>`,
			node: "ES2", kind: KindStartError, check: func(t *testing.T, m *Model, n *Node) {
				if !m.Node("ESP1").Interrupting || m.Node("ES1").Timer.Duration.Days != 1 {
					t.Errorf("timer event sub-process wrong")
				}
			}},
		{name: "event sub-process none start", process: start + end + chain("S", "E") +
			`<bpmn:subProcess id="ESP" triggeredByEvent="true"><bpmn:startEvent id="ES"/><bpmn:endEvent id="EE"/>` + chain("ES", "EE") + `</bpmn:subProcess>`,
			wantErr: []Problem{{"ES", "needs a timer, message or error definition"}}},
	})
}

func TestProcessLevelProblems(t *testing.T) {
	runElementCases(t, []elementCase{
		{name: "unreachable", process: start + service("A", "notify") + service("Orphan", "notify") + end + chain("S", "A", "E") + flow("Orphan", "E"),
			wantErr: []Problem{{"Orphan", "unreachable"}}},
		{name: "variables", process: `<bpmn:extensionElements><rapport:variables><rapport:variable name="a" type="string"/><rapport:variable name="a" type="int"/><rapport:variable name="b" type="money"/><rapport:variable name="1x" type="int"/></rapport:variables><rapport:bogus/></bpmn:extensionElements>` + start + end + chain("S", "E"),
			wantErr: []Problem{{"P", `duplicate variable "a"`}, {"P", `unknown type "money"`}, {"P", `"1x" is not an identifier`}, {"P", "rapport:bogus"}}},
		{name: "variable default expression", process: `<bpmn:extensionElements><rapport:variables><rapport:variable name="a" type="int" default="=1 +"/></rapport:variables></bpmn:extensionElements>` + start + end + chain("S", "E"),
			wantErr: []Problem{{"P", "default of variable a"}}},
		{name: "dangling flow", process: start + end + chain("S", "E") + flow("S", "Ghost"),
			wantErr: []Problem{{"F_S_Ghost", `targetRef "Ghost"`}}},
		{name: "expression typed against declarations", process: varsKey + start + `<bpmn:exclusiveGateway id="G" default="F_G_E"/>` + end + flow("S", "G") + condFlow("G", "E2", `=amount &gt; "x"`) + flow("G", "E") + `<bpmn:endEvent id="E2"/>`,
			wantErr: []Problem{{"F_G_E2", "does not compile"}}},
	})
}
