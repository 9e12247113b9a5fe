package simulate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/expression"
)

func doc(vars, process string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="x">
  <bpmn:process id="P" isExecutable="true">
    <bpmn:extensionElements><rapport:variables>` + vars + `</rapport:variables></bpmn:extensionElements>
` + process + `
  </bpmn:process>
  <bpmn:message id="M" name="reply"><bpmn:extensionElements><zeebe:subscription correlationKey="=score" /></bpmn:extensionElements></bpmn:message>
</bpmn:definitions>`
}

func flow(from, to string) string {
	return `<bpmn:sequenceFlow id="F_` + from + `_` + to + `" sourceRef="` + from + `" targetRef="` + to + `"/>`
}

func cond(from, to, c string) string {
	return `<bpmn:sequenceFlow id="F_` + from + `_` + to + `" sourceRef="` + from + `" targetRef="` + to +
		`"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">` + c + `</bpmn:conditionExpression></bpmn:sequenceFlow>`
}

const scoreVar = `<rapport:variable name="score" type="float" />`

// branch routes on score: at least 50 calls, else archives (the default).
var branch = doc(scoreVar, `<bpmn:startEvent id="S"/>
<bpmn:exclusiveGateway id="G" default="F_G_Archive"/>
<bpmn:userTask id="Call"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=&quot;agent-&quot; + string(score)"/>
  <rapport:formFields><rapport:field name="outcome" type="string"/><rapport:field name="calls" type="int"/></rapport:formFields></bpmn:extensionElements></bpmn:userTask>
<bpmn:scriptTask id="Archive"><bpmn:extensionElements><rapport:assign target="archived" expression="=true"/></bpmn:extensionElements></bpmn:scriptTask>
<bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/>
`+flow("S", "G")+cond("G", "Call", "=score >= 50")+flow("G", "Archive")+flow("Call", "E1")+flow("Archive", "E2"))

// enrich calls an http task whose answer an output maps, then a script uses it.
var enrich = doc(``, `<bpmn:startEvent id="S"/>
<bpmn:serviceTask id="Fetch"><bpmn:extensionElements><zeebe:taskDefinition type="http"/>
  <zeebe:taskHeaders><zeebe:header key="url" value="https://erp.example/x"/></zeebe:taskHeaders>
  <zeebe:ioMapping><zeebe:output source="=result.status" target="status"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>
<bpmn:scriptTask id="Judge"><bpmn:extensionElements><rapport:assign target="ok" expression="=status == 200"/></bpmn:extensionElements></bpmn:scriptTask>
<bpmn:endEvent id="E"/>
`+flow("S", "Fetch")+flow("Fetch", "Judge")+flow("Judge", "E"))

// rated evaluates a rule set and branches on its score.
var rated = doc(``, `<bpmn:startEvent id="S"/>
<bpmn:businessRuleTask id="Rate"><bpmn:extensionElements><rapport:ruleset key="lead-score" resultVariable="rating"/></bpmn:extensionElements></bpmn:businessRuleTask>
<bpmn:exclusiveGateway id="G"/>
<bpmn:endEvent id="Hot"/><bpmn:endEvent id="Cold"/>
`+flow("S", "Rate")+flow("Rate", "G")+cond("G", "Hot", "=rating.score >= 50")+cond("G", "Cold", "=rating.score &lt; 50"))

// fork runs two branches in parallel and joins them.
var fork = doc(``, `<bpmn:startEvent id="S"/>
<bpmn:parallelGateway id="Split"/><bpmn:parallelGateway id="Join"/>
<bpmn:scriptTask id="A"><bpmn:extensionElements><rapport:assign target="a" expression="=1"/></bpmn:extensionElements></bpmn:scriptTask>
<bpmn:scriptTask id="B"><bpmn:extensionElements><rapport:assign target="b" expression="=2"/></bpmn:extensionElements></bpmn:scriptTask>
<bpmn:scriptTask id="Sum"><bpmn:extensionElements><rapport:assign target="sum" expression="=a + b"/></bpmn:extensionElements></bpmn:scriptTask>
<bpmn:endEvent id="E"/>
`+flow("S", "Split")+flow("Split", "A")+flow("Split", "B")+flow("A", "Join")+flow("B", "Join")+flow("Join", "Sum")+flow("Sum", "E"))

// nested walks into a sub-process and out, then waits for a message.
var nested = doc(scoreVar, `<bpmn:startEvent id="S"/>
<bpmn:subProcess id="Sub">
  <bpmn:startEvent id="SubStart"/><bpmn:scriptTask id="Inner"><bpmn:extensionElements><rapport:assign target="inner" expression="=score * 2"/></bpmn:extensionElements></bpmn:scriptTask><bpmn:endEvent id="SubEnd"/>
  `+flow("SubStart", "Inner")+flow("Inner", "SubEnd")+`
</bpmn:subProcess>
<bpmn:receiveTask id="Wait" messageRef="M"/>
<bpmn:endEvent id="E"/>
`+flow("S", "Sub")+flow("Sub", "Wait")+flow("Wait", "E"))

// onRecord starts on a lead and branches on its source.
var onRecord = doc(``, `<bpmn:startEvent id="S"><bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created"/></bpmn:extensionElements></bpmn:startEvent>
<bpmn:exclusiveGateway id="G" default="F_G_Other"/>
<bpmn:endEvent id="Partner"/><bpmn:endEvent id="Other"/>
`+flow("S", "G")+cond("G", "Partner", `=record.source == "partner"`)+flow("G", "Other"))

// noDefault has a gateway whose conditions may all be false.
var noDefault = doc(scoreVar, `<bpmn:startEvent id="S"/>
<bpmn:exclusiveGateway id="G"/>
<bpmn:endEvent id="High"/><bpmn:endEvent id="Low"/>
`+flow("S", "G")+cond("G", "High", "=score > 90")+cond("G", "Low", "=score &lt; 10"))

// spin loops without a wait.
var spin = doc(`<rapport:variable name="n" type="int" default="0"/>`, `<bpmn:startEvent id="S"/>
<bpmn:scriptTask id="Inc"><bpmn:extensionElements><rapport:assign target="n" expression="=n + 1"/></bpmn:extensionElements></bpmn:scriptTask>
<bpmn:exclusiveGateway id="G" default="F_G_Inc"/>
<bpmn:endEvent id="E"/>
`+flow("S", "Inc")+flow("Inc", "G")+cond("G", "E", "=n &lt; 0")+flow("G", "Inc"))

type fakeRules map[string]map[string]any

func (f fakeRules) Evaluate(_ context.Context, key, _ string, _ map[string]any) (map[string]any, error) {
	if out, ok := f[key]; ok {
		return out, nil
	}
	return nil, errors.New("no published rule set " + key)
}

func compile(t *testing.T, xml string) *bpmn.Model {
	t.Helper()
	defs, err := bpmn.Parse(strings.NewReader(xml), 1<<20)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	m, problems := bpmn.Compile(defs, "P")
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	return m
}

func elements(r *Result) string {
	ids := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		ids[i] = s.Element
	}
	return strings.Join(ids, " ")
}

func TestRun(t *testing.T) {
	httpShape := func(typ string) *expression.Type {
		if typ != "http" {
			return nil
		}
		return expression.ObjectOf(map[string]*expression.Type{"status": expression.Scalar(expression.KindInt)})
	}
	cases := []struct {
		name    string
		xml     string
		opts    Options
		path    string
		outcome string
		check   func(t *testing.T, r *Result)
	}{
		{name: "high score calls", xml: branch, opts: Options{Variables: map[string]any{"score": 75}},
			path: "S G Call E1", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				call := r.Steps[2]
				if !call.Waits || call.Note != "waits for agent-75 to complete the task" || call.Answered != "shape" {
					t.Errorf("the user task step: %+v", call)
				}
				if r.Variables["outcome"] != "" || r.Variables["calls"] != 0 {
					t.Errorf("form fields without a response take their zero values: %v", r.Variables)
				}
				if strings.Join(r.Flows, " ") != "F_S_G F_G_Call F_Call_E1" {
					t.Errorf("flows %v", r.Flows)
				}
			}},
		{name: "low score takes the default", xml: branch, opts: Options{Variables: map[string]any{"score": 10}},
			path: "S G Archive E2", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				if r.Variables["archived"] != true {
					t.Errorf("the script did not run: %v", r.Variables)
				}
			}},
		{name: "a form response fills the variables", xml: branch,
			opts: Options{Variables: map[string]any{"score": 80}, Responses: map[string]map[string]any{"Call": {"outcome": "won", "calls": 3}}},
			path: "S G Call E1", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				if r.Variables["outcome"] != "won" || r.Steps[2].Answered != "response" {
					t.Errorf("variables %v, step %+v", r.Variables, r.Steps[2])
				}
			}},
		{name: "a service task answered by its declared shape", xml: enrich, opts: Options{ResultOf: httpShape},
			path: "S Fetch Judge E", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				if r.Variables["status"] != 0 || r.Variables["ok"] != false || r.Steps[1].Answered != "shape" {
					t.Errorf("variables %v, step %+v", r.Variables, r.Steps[1])
				}
			}},
		{name: "a service task answered by a recorded response", xml: enrich,
			opts: Options{ResultOf: httpShape, Responses: map[string]map[string]any{"Fetch": {"status": 200}}},
			path: "S Fetch Judge E", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				if r.Variables["ok"] != true || r.Steps[1].Set["status"] != 200 {
					t.Errorf("variables %v", r.Variables)
				}
			}},
		{name: "rule sets are evaluated", xml: rated, opts: Options{Rules: fakeRules{"lead-score": {"score": 70.0, "fired": []any{"big"}}}},
			path: "S Rate G Hot", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				if r.Steps[1].Answered != "rules" {
					t.Errorf("step %+v", r.Steps[1])
				}
			}},
		{name: "a missing rule set is an incident", xml: rated, opts: Options{Rules: fakeRules{}},
			path: "S Rate", outcome: "incident",
			check: func(t *testing.T, r *Result) {
				if !strings.Contains(r.Steps[1].Error, "no published rule set lead-score") {
					t.Errorf("error %q", r.Steps[1].Error)
				}
			}},
		{name: "parallel branches join once", xml: fork, path: "S Split A B Join Sum E", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				if r.Variables["sum"] != 3 {
					t.Errorf("sum %v", r.Variables["sum"])
				}
			}},
		{name: "into a sub-process and out, then a wait", xml: nested, opts: Options{Variables: map[string]any{"score": 4}},
			path: "S Sub SubStart Inner SubEnd Wait E", outcome: "completed",
			check: func(t *testing.T, r *Result) {
				if r.Variables["inner"] != 8.0 || !r.Steps[5].Waits || r.Steps[5].Note != "waits for the message reply" {
					t.Errorf("variables %v, wait %+v", r.Variables, r.Steps[5])
				}
			}},
		{name: "a record start reads the record", xml: onRecord, opts: Options{Record: map[string]any{"source": "partner"}},
			path: "S G Partner", outcome: "completed"},
		{name: "no condition holds", xml: noDefault, opts: Options{Variables: map[string]any{"score": 50}},
			path: "S G", outcome: "incident",
			check: func(t *testing.T, r *Result) {
				if !strings.Contains(r.Steps[1].Error, "no outgoing flow's condition holds") {
					t.Errorf("error %q", r.Steps[1].Error)
				}
			}},
		{name: "a loop without waits stops at the limit", xml: spin, opts: Options{MaxSteps: 20}, outcome: "step limit",
			check: func(t *testing.T, r *Result) {
				if len(r.Steps) != 20 {
					t.Errorf("%d steps", len(r.Steps))
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			r, err := Run(context.Background(), compile(t, tc.xml), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.path != "" && elements(r) != tc.path {
				t.Errorf("path %q, want %q", elements(r), tc.path)
			}
			if r.Outcome != tc.outcome {
				t.Errorf("outcome %q, want %q", r.Outcome, tc.outcome)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestRunRefusesBadStartVariables(t *testing.T) {
	_, err := Run(context.Background(), compile(t, branch), Options{Variables: map[string]any{"score": "high"}})
	if err == nil || !strings.Contains(err.Error(), "score") {
		t.Fatalf("err %v, want one naming score", err)
	}
}
