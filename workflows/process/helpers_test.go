package process

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// doc wraps process contents in a Camunda-Modeler-5-style definitions element.
func doc(id, body, roots string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_` + id + `" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.31.0" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.6.0">
  <bpmn:process id="` + id + `" isExecutable="true">
    <bpmn:extensionElements><rapport:variables>` + testVars + `</rapport:variables></bpmn:extensionElements>
` + body + `
  </bpmn:process>
` + roots + `
</bpmn:definitions>`
}

// testVars declares the variables the inline processes read.
const testVars = `<rapport:variable name="i" type="int" /><rapport:variable name="limit" type="int" />` +
	`<rapport:variable name="amount" type="float" /><rapport:variable name="a" type="bool" /><rapport:variable name="b" type="bool" />` +
	`<rapport:variable name="good" type="bool" /><rapport:variable name="leadId" type="string" /><rapport:variable name="owner" type="string" />` +
	`<rapport:variable name="caseId" type="string" /><rapport:variable name="n" type="any" /><rapport:variable name="got" type="any" />` +
	`<rapport:variable name="approvers" type="list" /><rapport:variable name="vote" type="string" />`

func compileXML(t testing.TB, xml string) *bpmn.Model {
	t.Helper()
	defs, err := bpmn.ParseBytes([]byte(xml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	m, problems := bpmn.CompileWith(defs, bpmn.Options{TaskTypes: []string{"noop", "fail"}})
	if len(problems) > 0 {
		t.Fatalf("compile: %v", problems)
	}
	return m
}

func loadTestdata(t testing.TB, name, id string) *bpmn.Model {
	t.Helper()
	data, err := os.ReadFile("../../engine/bpmn/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := bpmn.ParseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	m, problems := bpmn.Compile(defs, id)
	if len(problems) > 0 {
		t.Fatalf("compile %s: %v", name, problems)
	}
	return m
}

// svc is a service task of the given type between flows in and out.
func svc(id, typ, in, out, extra string) string {
	return fmt.Sprintf(`    <bpmn:serviceTask id="%s">
      <bpmn:extensionElements><zeebe:taskDefinition type="%s" />%s</bpmn:extensionElements>
      <bpmn:incoming>%s</bpmn:incoming><bpmn:outgoing>%s</bpmn:outgoing>
    </bpmn:serviceTask>
`, id, typ, extra, in, out)
}

func flow(id, from, to string) string {
	return fmt.Sprintf(`    <bpmn:sequenceFlow id="%s" sourceRef="%s" targetRef="%s" />`+"\n", id, from, to)
}

func condFlow(id, from, to, cond string) string {
	return fmt.Sprintf(`    <bpmn:sequenceFlow id="%s" sourceRef="%s" targetRef="%s"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">%s</bpmn:conditionExpression></bpmn:sequenceFlow>`+"\n", id, from, to, cond)
}

// calls records what the test task handlers saw.
type calls struct {
	mu    sync.Mutex
	byEl  map[string]int
	input map[string]map[string]any
	fails map[string]int // element → failures left before succeeding
	out   map[string]map[string]any
	all   map[string][]map[string]any // every input seen per element
}

func newCalls() *calls {
	return &calls{byEl: map[string]int{}, input: map[string]map[string]any{}, fails: map[string]int{},
		out: map[string]map[string]any{}, all: map[string][]map[string]any{}}
}

func (c *calls) count(el string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byEl[el]
}

// testRegistry registers doubles for every built-in task type: they echo their inputs (plus the
// element id) and honour "fail" counts and a "bpmnError" header.
func testRegistry(c *calls) *Registry {
	reg := NewRegistry()
	h := TaskHandlerFunc(func(_ context.Context, req TaskRequest) (map[string]any, error) {
		c.mu.Lock()
		c.byEl[req.Element]++
		c.input[req.Element] = req.Inputs
		c.all[req.Element] = append(c.all[req.Element], req.Inputs)
		fixed := c.out[req.Element]
		left := c.fails[req.Element]
		if left > 0 {
			c.fails[req.Element] = left - 1
		}
		c.mu.Unlock()
		if left > 0 {
			return nil, fmt.Errorf("transient failure of %s", req.Element)
		}
		if code := req.Headers["bpmnError"]; code != "" {
			return nil, &BPMNError{Code: code, Message: "thrown by test"}
		}
		if fixed != nil {
			return fixed, nil
		}
		out := map[string]any{"element": req.Element, "headers": req.Headers}
		for k, v := range req.Inputs {
			out[k] = v
		}
		if req.Type == TypeRulesEvaluate {
			out["score"] = 80.0
			out["result"] = "high"
		}
		return out, nil
	})
	for _, typ := range append(bpmn.BuiltinTaskTypes(), "noop", TypeRulesEvaluate, TypeMessagePublish) {
		reg.Register(typ, h)
	}
	return reg
}

type mapStore map[string]*bpmn.Model

func (s mapStore) Load(_ context.Context, key string, _ int) (*bpmn.Model, int, error) {
	m, ok := s[key]
	if !ok {
		return nil, 0, fmt.Errorf("process %q not found", key)
	}
	return m, 1, nil
}

type envT = testsuite.TestWorkflowEnvironment

// newEnv returns a test environment with the interpreter and the test doubles registered.
func newEnv(t *testing.T, c *calls, store mapStore) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return newEnvWithStore(t, testRegistry(c), store)
}

// newEnvWith returns a test environment whose activities use reg.
func newEnvWith(t *testing.T, reg *Registry) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return newEnvWithStore(t, reg, nil)
}

func newEnvWithStore(t *testing.T, reg *Registry, store mapStore) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	return newEnvWithActivities(t, &Activities{Registry: reg, Store: store})
}

func newEnvWithActivities(t *testing.T, acts *Activities) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env, acts) // as a worker registers them: instances share models and expressions
	return env
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) Snapshot {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatalf("query state: %v", err)
	}
	var s Snapshot
	if err := v.Get(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// outcome is what became of an update; the test environment reports it asynchronously, so tests read
// it after the workflow ran.
type outcome struct {
	rejected error
	accepted bool
	failed   error // the handler's error after acceptance
	done     bool
}

// update sends an update.
func update(env *testsuite.TestWorkflowEnvironment, name string, arg any) *outcome {
	o := &outcome{}
	seq++
	env.UpdateWorkflow(name, fmt.Sprintf("u%d", seq), &testsuite.TestUpdateCallback{
		OnReject:   func(err error) { o.rejected = err },
		OnAccept:   func() { o.accepted = true },
		OnComplete: func(_ any, err error) { o.failed, o.done = err, true },
	}, arg)
	return o
}

var seq int

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) Result {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var res Result
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func userTaskID(t *testing.T, env *testsuite.TestWorkflowEnvironment, element string) string {
	t.Helper()
	for _, u := range queryState(t, env).UserTasks {
		if u.Element == element {
			return u.ID
		}
	}
	return ""
}

func hasIncident(s Snapshot, kind string) *Incident {
	for _, in := range s.Incidents {
		if in.Kind == kind {
			return in
		}
	}
	return nil
}

// docWith is doc with more declared variables (rapport:variable elements).
func docWith(id, vars, body, roots string) string {
	return strings.Replace(doc(id, body, roots), "</rapport:variables>", vars+"</rapport:variables>", 1)
}

// anyVar declares a variable of type any.
func anyVar(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(`<rapport:variable name="` + n + `" type="any" />`)
	}
	return b.String()
}

// gateway returns a gateway element of the given kind with the given incoming and outgoing flows.
func gateway(kind, id string, in, out []string, extra string) string {
	var b strings.Builder
	b.WriteString(`    <bpmn:` + kind + ` id="` + id + `"` + extra + `>`)
	for _, f := range in {
		b.WriteString(`<bpmn:incoming>` + f + `</bpmn:incoming>`)
	}
	for _, f := range out {
		b.WriteString(`<bpmn:outgoing>` + f + `</bpmn:outgoing>`)
	}
	b.WriteString(`</bpmn:` + kind + ">\n")
	return b.String()
}
