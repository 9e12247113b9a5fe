package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/admin/api"
)

// camundaDoc wraps processes in a Camunda Modeler 5 document.
func camundaDoc(processes ...string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Defs" targetNamespace="http://bpmn.io/schema/bpmn">` +
		strings.Join(processes, "\n") + `</bpmn:definitions>`)
}

// serviceProcess is a process start → service task T → end, the task given by its type, headers and
// input mappings.
func serviceProcess(id, typ, headers, inputs string) string {
	return `<bpmn:process id="` + id + `" isExecutable="true">
  <bpmn:startEvent id="S"/>
  <bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="` + typ + `"/>
    <zeebe:taskHeaders>` + headers + `</zeebe:taskHeaders><zeebe:ioMapping>` + inputs + `</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:endEvent id="E"/>
  <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="T"/><bpmn:sequenceFlow id="F2" sourceRef="T" targetRef="E"/>
</bpmn:process>`
}

func header(k, v string) string { return `<zeebe:header key="` + k + `" value="` + v + `"/>` }
func input(src, target string) string {
	return `<zeebe:input source="` + src + `" target="` + target + `"/>`
}

// TestDeployChecksTheCatalogue deploys processes whose tasks name what the stores do not hold (an
// entity, a field, an enum value, a rule set, a connector) and sees each refused at its element with
// what to change, nothing stored; and sees what only deserves attention come back as warnings from
// validate, deploy and publish.
func TestDeployChecksTheCatalogue(t *testing.T) {
	ctx := context.Background()
	refusals := []struct {
		name string
		doc  []byte
		want []string
	}{
		{"record.update of an unknown entity", camundaDoc(serviceProcess("chk-entity", "record.update", header("entity", "leed")+header("id", "L-1"), "")),
			[]string{`"element":"T"`, `entity \"leed\" does not exist`}},
		{"record.update without its id", camundaDoc(serviceProcess("chk-id", "record.update", header("entity", "lead"), input("=1", "score"))),
			[]string{`"element":"T"`, `needs the header or input \"id\"`}},
		{"record.create of a field the entity lacks", camundaDoc(serviceProcess("chk-field", "record.create", header("entity", "lead"), input("=1", "scor"))),
			[]string{`"element":"T"`, `input \"scor\" is not a field of lead`}},
		{"enum literal not in the enum", camundaDoc(serviceProcess("chk-enum", "record.create", header("entity", "lead"), input("qualifed", "status"))),
			[]string{`"element":"T"`, `which is not a value of the enum field lead.status`, "qualified"}},
		{"unknown rule set", camundaDoc(serviceProcess("chk-rules", "rules.evaluate", header("ruleset", "no-such-rules"), "")),
			[]string{`"element":"T"`, `rule set \"no-such-rules\" does not exist`}},
		{"record trigger on an unknown entity", camundaDoc(`<bpmn:process id="chk-trigger" isExecutable="true">
  <bpmn:startEvent id="S"><bpmn:extensionElements><rapport:recordTrigger entity="leed" on="created"/></bpmn:extensionElements></bpmn:startEvent>
  <bpmn:endEvent id="E"/><bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="E"/></bpmn:process>`),
			[]string{`"element":"S"`, `entity \"leed\" does not exist`}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/processes", env.AdminToken, tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "bpmn-invalid") {
				t.Fatalf("deploy = %d %s, want 422 bpmn-invalid", status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("deploy answer lacks %s: %s", w, body)
				}
			}
			// validate reports the same without storing.
			status, body, _ = env.Do(ctx, http.MethodPost, "/api/v1/processes/validate", env.AdminToken, tt.doc)
			if status != http.StatusOK || !strings.Contains(string(body), `"valid":false`) || !strings.Contains(string(body), tt.want[1]) {
				t.Fatalf("validate = %d %s", status, body)
			}
		})
	}
	for _, key := range []string{"chk-entity", "chk-id", "chk-field", "chk-enum", "chk-rules", "chk-trigger"} {
		if status, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/processes/"+key, env.AdminToken, nil); status != http.StatusNotFound {
			t.Errorf("a refused deploy stored %s: %d %s", key, status, body)
		}
	}

	// The same tasks naming what exists deploy.
	good := camundaDoc(serviceProcess("chk-good", "record.update", header("entity", "lead"),
		input("=leadId", "id")+input("qualified", "status")))
	status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes/validate", env.AdminToken, good)
	var rep api.ValidationReport
	if err := json.Unmarshal(body, &rep); err != nil || status != http.StatusOK || !rep.Valid {
		t.Fatalf("validate = %d %s", status, body)
	}
	// leadId is never declared: a warning that suggests declaring it, not an error.
	if !hasWarning(rep.Warnings, "T", "leadId") {
		t.Fatalf("validate warnings = %+v, want one for the undeclared leadId at T", rep.Warnings)
	}
	status, body, _ = env.Do(ctx, http.MethodPost, "/api/v1/processes", env.AdminToken, good)
	var dep api.DeployResult
	if err := json.Unmarshal(body, &dep); err != nil || status != http.StatusCreated {
		t.Fatalf("deploy = %d %s", status, body)
	}
	if !hasWarning(dep.Warnings, "T", "leadId") {
		t.Fatalf("deploy warnings = %+v", dep.Warnings)
	}
	status, body, _ = env.Do(ctx, http.MethodPost, "/api/v1/processes/chk-good/publish", env.AdminToken, nil)
	if status != http.StatusCreated || !strings.Contains(string(body), "leadId") {
		t.Fatalf("publish = %d %s, want the warning about leadId", status, body)
	}

	// A connector may be configured after the process is deployed: a warning, not a refusal.
	conn := camundaDoc(serviceProcess("chk-conn", "connector", header("connector", "no-such-erp")+header("operation", "FindCustomers"), ""))
	status, body, _ = env.Do(ctx, http.MethodPost, "/api/v1/processes/validate", env.AdminToken, conn)
	rep = api.ValidationReport{}
	if err := json.Unmarshal(body, &rep); err != nil || status != http.StatusOK || !rep.Valid || !hasWarning(rep.Warnings, "T", `connector "no-such-erp" is not configured yet`) {
		t.Fatalf("validate a task of a connector not configured = %d %s, want valid with a warning", status, body)
	}
}

func hasWarning(ws []api.ElementProblem, element, text string) bool {
	for _, w := range ws {
		if w.ElementID == element && strings.Contains(w.Reason, text) {
			return true
		}
	}
	return false
}

// TestDeploySeveralPools uploads a file with a caller and its callee in two executable pools and a
// non-executable pool: both executable ones are stored as drafts from the one upload, the other is a
// warning, and once both are published the caller runs the callee to its end.
func TestDeploySeveralPools(t *testing.T) {
	ctx := context.Background()
	doc := camundaDoc(`<bpmn:collaboration id="Collab">
  <bpmn:participant id="P1" processRef="pools-caller"/><bpmn:participant id="P2" processRef="pools-callee"/><bpmn:participant id="P3" processRef="pools-sketch"/>
</bpmn:collaboration>
<bpmn:process id="pools-caller" isExecutable="true">
  <bpmn:startEvent id="S"/>
  <bpmn:callActivity id="Call"><bpmn:extensionElements><zeebe:calledElement processId="pools-callee" propagateAllChildVariables="true"/></bpmn:extensionElements></bpmn:callActivity>
  <bpmn:endEvent id="E"/>
  <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Call"/><bpmn:sequenceFlow id="F2" sourceRef="Call" targetRef="E"/>
</bpmn:process>
<bpmn:process id="pools-callee" isExecutable="true">
  <bpmn:startEvent id="S2"/>
  <bpmn:scriptTask id="Set"><bpmn:extensionElements><zeebe:script expression="=&quot;from the callee&quot;" resultVariable="answer"/></bpmn:extensionElements></bpmn:scriptTask>
  <bpmn:endEvent id="E2"/>
  <bpmn:sequenceFlow id="G1" sourceRef="S2" targetRef="Set"/><bpmn:sequenceFlow id="G2" sourceRef="Set" targetRef="E2"/>
</bpmn:process>
<bpmn:process id="pools-sketch" isExecutable="false"><bpmn:task id="Idea"/></bpmn:process>`)
	status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes/validate", env.AdminToken, doc)
	var rep api.ValidationReport
	if err := json.Unmarshal(body, &rep); err != nil || status != http.StatusOK || !rep.Valid {
		t.Fatalf("validate = %d %s", status, body)
	}
	if strings.Join(rep.Keys, ",") != "pools-caller,pools-callee" {
		t.Fatalf("keys = %v, want both executable processes", rep.Keys)
	}
	if !hasWarning(rep.Warnings, "pools-sketch", "") {
		t.Fatalf("warnings = %+v, want the non-executable pool named", rep.Warnings)
	}
	status, body, _ = env.Do(ctx, http.MethodPost, "/api/v1/processes", env.AdminToken, doc)
	var dep api.DeployResult
	if err := json.Unmarshal(body, &dep); err != nil || status != http.StatusCreated || len(dep.Processes) != 2 {
		t.Fatalf("deploy = %d %s", status, body)
	}
	for _, key := range []string{"pools-callee", "pools-caller"} {
		if status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes/"+key+"/publish", env.AdminToken, nil); status != http.StatusCreated {
			t.Fatalf("publish %s = %d %s", key, status, body)
		}
	}
	status, body, _ = env.Do(ctx, http.MethodPost, "/api/v1/processes/pools-caller/instances", env.AdminToken, map[string]any{})
	var started api.StartedInstance
	if err := json.Unmarshal(body, &started); err != nil || status != http.StatusCreated {
		t.Fatalf("start = %d %s", status, body)
	}
	v := waitInstance(t, started.ID, func(v instanceView) bool { return v.Status == "completed" || len(v.Incidents) > 0 })
	if v.Status != "completed" || v.Variables["answer"] != "from the callee" {
		t.Fatalf("instance = %+v, want completed with the callee's answer", v)
	}
}

// TestMessageCorrelationKey correlates messages like Camunda: the instance's message catch waits for
// the value of its correlation key (orderId), not its business key; the message endpoint says whether
// an instance consumed a message or only buffered it, and a time to live of 0 keeps it nowhere.
func TestMessageCorrelationKey(t *testing.T) {
	ctx := context.Background()
	doc := camundaDoc(`<bpmn:message id="Msg" name="payment-received"><bpmn:extensionElements><zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements></bpmn:message>
<bpmn:process id="await-payment" isExecutable="true">
  <bpmn:startEvent id="S"/>
  <bpmn:intermediateCatchEvent id="Paid"><bpmn:messageEventDefinition messageRef="Msg"/></bpmn:intermediateCatchEvent>
  <bpmn:endEvent id="E"/>
  <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Paid"/><bpmn:sequenceFlow id="F2" sourceRef="Paid" targetRef="E"/>
</bpmn:process>`)
	deployAndPublish(t, doc, "await-payment")
	status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes/await-payment/instances", env.AdminToken,
		map[string]any{"businessKey": "CUST-7", "variables": map[string]any{"orderId": "ORD-9"}})
	var started api.StartedInstance
	if err := json.Unmarshal(body, &started); err != nil || status != http.StatusCreated {
		t.Fatalf("start = %d %s", status, body)
	}
	waitInstance(t, started.ID, func(v instanceView) bool { return len(v.ActiveElements) == 1 && v.ActiveElements[0] == "Paid" })

	type result struct{ Consumed, Buffered, Delivered, Started int }
	send := func(key string, ttl *int) result {
		t.Helper()
		msg := map[string]any{"name": "payment-received", "correlationKey": key, "variables": map[string]any{"amount": 40}}
		if ttl != nil {
			msg["timeToLive"] = *ttl
		}
		status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/messages", env.AdminToken, msg)
		var r result
		if err := json.Unmarshal(body, &r); err != nil || status != http.StatusOK {
			t.Fatalf("message = %d %s", status, body)
		}
		return r
	}
	// Nobody waits for another order's payment: nothing consumed, kept or started.
	if r := send("ORD-1", nil); r != (result{}) {
		t.Fatalf("message for another key = %+v, want nothing", r)
	}
	// A time to live of 0 to the business key: the instance waits for ORD-9, not CUST-7, and keeps nothing.
	zero := 0
	if r := send("CUST-7", &zero); r.Consumed != 0 || r.Buffered != 0 {
		t.Fatalf("message with time to live 0 = %+v", r)
	}
	// To the business key with a time to live: buffered, not consumed.
	if r := send("CUST-7", nil); r.Consumed != 0 || r.Buffered != 1 {
		t.Fatalf("message to the business key = %+v, want buffered by the one instance", r)
	}
	// The order's key reaches the instance once visibility lists its subscription.
	var r result
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r = send("ORD-9", nil); r.Consumed > 0 {
			break
		}
	}
	if r.Consumed != 1 || r.Delivered != 1 {
		t.Fatalf("message for the order = %+v, want consumed by the instance", r)
	}
	v := waitInstance(t, started.ID, func(v instanceView) bool { return v.Status == "completed" })
	if v.Variables["amount"] != 40.0 {
		t.Fatalf("variables = %v, want the message's", v.Variables)
	}
}

// TestReadmeBusinessRuleTask runs the business rule task example of engine/bpmn/README.md as written
// there: the lead's source is the record the scoring rule set evaluates, the result variable holds
// {score, fired}, and a condition on scoring.score (typed from the rule set's kind) picks the path.
func TestReadmeBusinessRuleTask(t *testing.T) {
	readme, err := os.ReadFile("../../engine/bpmn/README.md")
	if err != nil {
		t.Fatal(err)
	}
	from := strings.Index(string(readme), `<bpmn:businessRuleTask id="Score">`)
	to := strings.Index(string(readme), `</bpmn:businessRuleTask>`)
	if from < 0 || to < from {
		t.Fatal("the README has no business rule task example")
	}
	example := string(readme[from : to+len(`</bpmn:businessRuleTask>`)])
	if r := rsDo(t, http.MethodPost, "/api/v1/rulesets", map[string]any{"key": "lead-scoring", "kind": "scoring", "entity": "lead",
		"rules": []any{map[string]any{"name": "partner", "when": `source == "partner"`, "points": 60}},
		"tests": []any{map[string]any{"name": "partner", "input": map[string]any{"source": "partner"}, "expect": map[string]any{"score": 60}}}}); r.Status != http.StatusCreated {
		t.Fatalf("create the rule set: %d %s", r.Status, r.Raw)
	}
	if r := rsDo(t, http.MethodPost, "/api/v1/rulesets/lead-scoring/publish", nil); r.Status != http.StatusCreated {
		t.Fatalf("publish the rule set: %d %s", r.Status, r.Raw)
	}
	doc := camundaDoc(`<bpmn:process id="readme-scoring" isExecutable="true">
  <bpmn:startEvent id="S"/>` + example + `
  <bpmn:exclusiveGateway id="Hot" default="Cold"/>
  <bpmn:endEvent id="Call"/><bpmn:endEvent id="Nurture"/>
  <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Score"/><bpmn:sequenceFlow id="F2" sourceRef="Score" targetRef="Hot"/>
  <bpmn:sequenceFlow id="Warm" sourceRef="Hot" targetRef="Call"><bpmn:conditionExpression>=scoring.score &gt;= 60</bpmn:conditionExpression></bpmn:sequenceFlow>
  <bpmn:sequenceFlow id="Cold" sourceRef="Hot" targetRef="Nurture"/>
</bpmn:process>`)
	// A typo in the result's field is caught at deploy, since the shape is known from the kind.
	typo := []byte(strings.Replace(string(doc), "scoring.score &gt;=", "scoring.scor &gt;=", 1))
	if status, body, _ := env.Do(context.Background(), http.MethodPost, "/api/v1/processes", env.AdminToken, typo); status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"element":"Warm"`) {
		t.Fatalf("deploy with scoring.scor = %d %s, want refused at the flow", status, body)
	}
	deployAndPublish(t, doc, "readme-scoring")
	for _, c := range []struct{ source, end string }{{"partner", "Call"}, {"webForm", "Nurture"}} {
		status, body, _ := env.Do(context.Background(), http.MethodPost, "/api/v1/processes/readme-scoring/instances", env.AdminToken,
			map[string]any{"variables": map[string]any{"lead": map[string]any{"source": c.source}}})
		var started api.StartedInstance
		if err := json.Unmarshal(body, &started); err != nil || status != http.StatusCreated {
			t.Fatalf("start: %d %s", status, body)
		}
		v := waitInstance(t, started.ID, func(v instanceView) bool { return v.Status == "completed" || len(v.Incidents) > 0 })
		scoring, _ := v.Variables["scoring"].(map[string]any)
		if v.Status != "completed" || v.EndElement != c.end || scoring == nil {
			t.Fatalf("%s lead: instance = %+v, want completed at %s with the scoring result", c.source, v, c.end)
		}
		if _, isNumber := scoring["score"].(float64); !isNumber {
			t.Fatalf("%s lead: scoring = %v, want a number as score", c.source, scoring)
		}
	}
}
