package bpmn

import (
	"slices"
	"testing"

	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/tasktypes"
)

// testEnv knows one entity (lead, with an enum field status), one scoring rule set and one connector,
// as the store behind a deployment would.
func testEnv() tasktypes.Env {
	lead := expression.ObjectOf(map[string]*expression.Type{
		"name":   expression.Scalar(expression.KindString),
		"status": expression.Scalar(expression.KindString),
		"score":  expression.Scalar(expression.KindFloat),
	})
	return tasktypes.Env{
		Entity: func(name string) (tasktypes.Entity, bool) {
			if name != "lead" {
				return tasktypes.Entity{}, false
			}
			return tasktypes.Entity{Type: lead, Enums: map[string][]string{"status": {"new", "qualified", "lost"}}}, true
		},
		Ruleset: func(key string) (tasktypes.Ruleset, bool) {
			return tasktypes.Ruleset{Kind: "scoring", Entity: "lead"}, key == "lead-scoring"
		},
		Connector: func(name string) bool { return name == "erp" },
	}
}

// TestDeployChecks are the mistakes a deployment with a store behind it catches, each at its element.
func TestDeployChecks(t *testing.T) {
	task := func(typ, headers, inputs string) string {
		return `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="` + typ + `"/>` +
			`<zeebe:taskHeaders>` + headers + `</zeebe:taskHeaders><zeebe:ioMapping>` + inputs + `</zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>`
	}
	h := func(k, v string) string { return `<zeebe:header key="` + k + `" value="` + v + `"/>` }
	in := func(src, target string) string { return `<zeebe:input source="` + src + `" target="` + target + `"/>` }
	rule := func(cond string) string {
		return start + `<bpmn:businessRuleTask id="R"><bpmn:extensionElements><rapport:ruleset key="lead-scoring" resultVariable="scoring"/></bpmn:extensionElements></bpmn:businessRuleTask>` +
			`<bpmn:exclusiveGateway id="G" default="F_G_E"/><bpmn:endEvent id="Hot"/>` + end +
			chain("S", "R", "G") + condFlow("G", "Hot", cond) + flow("G", "E")
	}
	cases := []struct {
		name    string
		process string
		want    []Problem // nil: compiles
	}{
		{"record trigger on an unknown entity", `<bpmn:startEvent id="S"><bpmn:extensionElements><rapport:recordTrigger entity="leed" on="created"/></bpmn:extensionElements></bpmn:startEvent>` + end + chain("S", "E"),
			[]Problem{{"S", `entity "leed" does not exist`}}},
		{"record trigger on a known entity", `<bpmn:startEvent id="S"><bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created"/></bpmn:extensionElements></bpmn:startEvent>` + end + chain("S", "E"), nil},
		{"record.update on an unknown entity", start + task("record.update", h("entity", "leed")+h("id", "L-1"), "") + end + chain("S", "T", "E"),
			[]Problem{{"T", `entity "leed" does not exist`}}},
		{"record.update without its id", start + task("record.update", h("entity", "lead"), in("=1", "score")) + end + chain("S", "T", "E"),
			[]Problem{{"T", `needs the header or input "id"`}}},
		{"record.update of a field the entity lacks", start + task("record.update", h("entity", "lead")+h("id", "L-1"), in("=1", "scor")) + end + chain("S", "T", "E"),
			[]Problem{{"T", `input "scor" is not a field of lead`}}},
		{"enum literal not in the enum", start + task("record.update", h("entity", "lead")+h("id", "L-1"), in("qualifed", "status")) + end + chain("S", "T", "E"),
			[]Problem{{"T", `input "status" is "qualifed", which is not a value of the enum field lead.status`}}},
		{"enum literal written as an expression", start + task("record.create", h("entity", "lead"), in(`=&#34;gone&#34;`, "status")) + end + chain("S", "T", "E"),
			[]Problem{{"T", `"gone", which is not a value`}}},
		{"enum literal in the enum", start + task("record.update", h("entity", "lead")+h("id", "L-1"), in("qualified", "status")) + end + chain("S", "T", "E"), nil},
		{"rule set that does not exist", start + `<bpmn:businessRuleTask id="R"><bpmn:extensionElements><rapport:ruleset key="lead-scorin"/></bpmn:extensionElements></bpmn:businessRuleTask>` + end + chain("S", "R", "E"),
			[]Problem{{"R", `rule set "lead-scorin" does not exist`}}},
		{"rule set result field that does not exist", rule("=scoring.scor &gt;= 50"), []Problem{{"F_G_Hot", "scor"}}},
		{"rule set result field", rule("=scoring.score &gt;= 50"), nil},
		// A connector may be configured after the process is deployed: a warning (TestDeployWarnings).
		{"connector that is not configured", start + task("connector", h("connector", "erq")+h("operation", "FindCustomers"), "") + end + chain("S", "T", "E"), nil},
		{"connector without operation", start + task("connector", h("connector", "erp"), "") + end + chain("S", "T", "E"),
			[]Problem{{"T", `needs the header "operation"`}}},
		{"camunda rest connector with oauth", start + task("io.camunda:http-json:1", "", in("https://example.com/x", "url")+in("oauth-client-credentials-flow", "authentication.type")) + end + chain("S", "T", "E"),
			[]Problem{{"T", `authentication type "oauth-client-credentials-flow" is not supported`}}},
		{"typed task result", start + `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="record.get"/>` +
			`<zeebe:taskHeaders>` + h("entity", "lead") + h("id", "L-1") + `</zeebe:taskHeaders><zeebe:ioMapping><zeebe:output source="=result.nme" target="n"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>` + end + chain("S", "T", "E"),
			[]Problem{{"T", "nme"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defs := mustParse(t, doc(tc.process, ""))
			_, problems := CompileWith(defs, Options{ProcessID: "P", TaskEnv: testEnv(), CheckTaskTypes: true})
			if tc.want == nil {
				if len(problems) > 0 {
					t.Fatalf("problems: %v", problems)
				}
				return
			}
			for _, w := range tc.want {
				if !hasProblem(problems, w.ElementID, w.Reason) {
					t.Errorf("missing %s: %q in %v", w.ElementID, w.Reason, problems)
				}
			}
		})
	}
}

// TestDeployWarnings are what a deployment with a store behind it lists without refusing.
func TestDeployWarnings(t *testing.T) {
	process := start + `<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="connector"/><zeebe:taskHeaders>` +
		`<zeebe:header key="connector" value="erq"/><zeebe:header key="operation" value="FindCustomers"/></zeebe:taskHeaders></bpmn:extensionElements></bpmn:serviceTask>` +
		end + chain("S", "T", "E")
	m, problems := CompileWith(mustParse(t, doc(process, "")), Options{ProcessID: "P", TaskEnv: testEnv(), CheckTaskTypes: true})
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if !hasProblem(m.Warnings, "T", `connector "erq" is not configured yet`) {
		t.Fatalf("warnings = %v, want the connector that is not configured", m.Warnings)
	}
}

// TestIgnoredExtensionsWarn shows that what Rapport does not run is listed as a warning naming the
// element, never dropped in silence.
func TestIgnoredExtensionsWarn(t *testing.T) {
	process := `<bpmn:extensionElements><zeebe:executionListeners><zeebe:executionListener eventType="start" type="audit"/></zeebe:executionListeners></bpmn:extensionElements>` +
		`<bpmn:startEvent id="S"><bpmn:extensionElements><zeebe:properties><zeebe:property name="inbound.type" value="io.camunda:webhook:1"/></zeebe:properties></bpmn:extensionElements></bpmn:startEvent>` +
		`<bpmn:userTask id="U"><bpmn:extensionElements><zeebe:taskListeners><zeebe:taskListener eventType="complete" type="notify-done"/></zeebe:taskListeners></bpmn:extensionElements></bpmn:userTask>` +
		`<bpmn:serviceTask id="T"><bpmn:extensionElements><zeebe:taskDefinition type="io.camunda:sendgrid:1"/><zeebe:ioMapping><zeebe:input source="{{secrets.SENDGRID_KEY}}" target="apiKey"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>` +
		`<bpmn:task id="C7" camunda:asyncBefore="true"><bpmn:extensionElements><camunda:executionListener event="start" class="x"/></bpmn:extensionElements></bpmn:task>` +
		end + chain("S", "U", "T", "C7", "E")
	m, problems := CompileWith(mustParse(t, doc(process, "")), Options{ProcessID: "P"})
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	for _, w := range []Problem{
		{"P", "zeebe:executionListeners: execution listeners are not run"},
		{"S", `the inbound connector "io.camunda:webhook:1"`},
		{"U", "zeebe:taskListeners: task listeners are not run"},
		{"T", `Camunda connector "io.camunda:sendgrid:1" is not built into Rapport`},
		{"T", "{{secrets.SENDGRID_KEY}}"},
		{"C7", "camunda:executionListener: execution listeners are not run"},
	} {
		if !hasProblem(m.Warnings, w.ElementID, w.Reason) {
			t.Errorf("missing warning %s: %q in %v", w.ElementID, w.Reason, m.Warnings)
		}
	}
}

// TestSeveralPools compiles every executable process of a file, skips pools that are not
// executable with a warning, and names the processes when one must be chosen.
func TestSeveralPools(t *testing.T) {
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D">
  <bpmn:collaboration id="C"><bpmn:participant id="PA" processRef="A"/><bpmn:participant id="PB" processRef="B"/><bpmn:participant id="PX" processRef="X"/><bpmn:participant id="PE" processRef="Empty"/></bpmn:collaboration>
  <bpmn:process id="A" isExecutable="true"><bpmn:startEvent id="AS"/><bpmn:callActivity id="Call"><bpmn:extensionElements><zeebe:calledElement processId="B"/></bpmn:extensionElements></bpmn:callActivity><bpmn:sequenceFlow id="AF" sourceRef="AS" targetRef="Call"/></bpmn:process>
  <bpmn:process id="B" isExecutable="true"><bpmn:startEvent id="BS"/></bpmn:process>
  <bpmn:process id="X" isExecutable="false"><bpmn:startEvent id="XS"/><bpmn:serviceTask id="XT"/><bpmn:sequenceFlow id="XF" sourceRef="XS" targetRef="XT"/></bpmn:process>
  <bpmn:process id="Empty" isExecutable="false"/>
</bpmn:definitions>`
	defs := mustParse(t, xml)
	models, problems, warnings := CompileAll(defs, Options{})
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if len(models) != 2 || models[0].ProcessID != "A" || models[1].ProcessID != "B" {
		t.Fatalf("models = %d", len(models))
	}
	if !hasProblem(warnings, "X", "not executable") {
		t.Errorf("warnings = %v", warnings)
	}
	if _, ps := CompileWith(defs, Options{}); !hasProblem(ps, "D", "2 executable processes (A, B)") {
		t.Errorf("problems = %v", ps)
	}
}

// TestWhenChanged checks rapport:whenChanged on a message: kept on the catch's spec for a record update
// message whose entity has the fields, refused (at the catching element) otherwise.
func TestWhenChanged(t *testing.T) {
	catch := start + `<bpmn:intermediateCatchEvent id="C"><bpmn:messageEventDefinition messageRef="M"/></bpmn:intermediateCatchEvent>` + end + chain("S", "C", "E")
	msg := func(name, fields string) string {
		return `<bpmn:message id="M" name="` + name + `"><bpmn:extensionElements><zeebe:subscription correlationKey="=recordId"/>` +
			`<rapport:whenChanged fields="` + fields + `"/></bpmn:extensionElements></bpmn:message>`
	}
	cases := []struct {
		name, root string
		want       []string // the catch's WhenChanged when it compiles
		problem    string   // the reason at C when it does not
	}{
		{"fields of the entity, commas and spaces", msg("record.lead.updated", "status, score name"), []string{"status", "score", "name"}, ""},
		{"no whenChanged: every update", `<bpmn:message id="M" name="record.lead.updated"><bpmn:extensionElements><zeebe:subscription correlationKey="=recordId"/></bpmn:extensionElements></bpmn:message>`, nil, ""},
		{"a field the entity lacks", msg("record.lead.updated", "status scor"), nil, `field "scor" is not a field of lead`},
		{"an entity that does not exist", msg("record.leed.updated", "status"), nil, `entity "leed" does not exist`},
		{"not an update message", msg("record.lead.created", "status"), nil, "only for record update messages"},
		{"not a record message", msg("order.paid", "status"), nil, "only for record update messages"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, problems := CompileWith(mustParse(t, doc(catch, tc.root)), Options{ProcessID: "P", TaskEnv: testEnv(), CheckTaskTypes: true})
			if tc.problem != "" {
				if !hasProblem(problems, "C", tc.problem) {
					t.Fatalf("missing C: %q in %v", tc.problem, problems)
				}
				return
			}
			if len(problems) > 0 {
				t.Fatalf("problems: %v", problems)
			}
			for _, n := range m.Nodes {
				if n.ID == "C" {
					if n.Message == nil || !slices.Equal(n.Message.WhenChanged, tc.want) {
						t.Fatalf("C's message = %+v, want whenChanged %v", n.Message, tc.want)
					}
					return
				}
			}
			t.Fatal("no node C")
		})
	}
}

// TestParseRecordEvent: a record event name splits into its entity and change, and back.
func TestParseRecordEvent(t *testing.T) {
	for _, tc := range []struct {
		name, entity, on string
		ok               bool
	}{
		{"record.contact.updated", "contact", "updated", true},
		{"record.interaction.created", "interaction", "created", true},
		{"record.contact", "", "", false},
		{"record..updated", "", "", false},
		{"record.contact.updated.x", "", "", false},
		{"order.paid", "", "", false},
	} {
		entity, on, ok := ParseRecordEvent(tc.name)
		if entity != tc.entity || on != tc.on || ok != tc.ok {
			t.Errorf("ParseRecordEvent(%q) = %q, %q, %v; want %q, %q, %v", tc.name, entity, on, ok, tc.entity, tc.on, tc.ok)
		}
		if ok && RecordEvent(entity, on) != tc.name {
			t.Errorf("RecordEvent(%q, %q) = %q, want %q", entity, on, RecordEvent(entity, on), tc.name)
		}
	}
}
