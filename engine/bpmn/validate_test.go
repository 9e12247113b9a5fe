package bpmn

import (
	"bytes"
	"errors"
	"testing"

	"github.com/rapportcrm/rapport/engine/expression"
)

// TestCheckExprSites verifies what a custom checker is handed: the stripped source, the wanted result
// kind, the declared plus assigned variables and the trigger entity.
func TestCheckExprSites(t *testing.T) {
	defs := mustParse(t, string(readTestdata(t, "lead-qualification.bpmn")))
	var sites []ExprSite
	ps := Validate(defs, Options{CheckExpr: func(s ExprSite) error {
		sites = append(sites, s)
		if s.Source == "score >= 50" {
			return errors.New("refused by test")
		}
		return nil
	}})
	if !hasProblem(ps, "Flow_Qualified", "refused by test") || len(ps) != 1 {
		t.Fatalf("problems = %v", ps)
	}
	var cond *ExprSite
	for i := range sites {
		if sites[i].ElementID == "Flow_Qualified" {
			cond = &sites[i]
		}
	}
	if cond == nil || cond.Field != "condition" || cond.Result != ResultBool || cond.Entity != "lead" || cond.ProcessID != "lead-qualification" {
		t.Fatalf("condition site = %+v", cond)
	}
	names := map[string]string{}
	for _, v := range cond.Variables {
		names[v.Name] = v.Type
	}
	// Declared variables keep their types; form fields are typed; mapping targets are "any".
	if names["score"] != "float" || names["nextCallAt"] != "time" || names["recordId"] != "any" {
		t.Errorf("variables = %v", names)
	}
	if _, ok := names[ResultVar]; ok {
		t.Errorf("%q must only be visible to output mappings", ResultVar)
	}
}

func TestSkipExpressions(t *testing.T) {
	defs := mustParse(t, doc(start+`<bpmn:exclusiveGateway id="G" default="F_G_E"/><bpmn:endEvent id="E2"/>`+end+
		flow("S", "G")+flow("G", "E")+condFlow("G", "E2", "=undeclared &gt; 1"), ""))
	if ps, ws := Check(defs, Options{}); len(ps) != 0 || !hasProblem(ws, "F_G_E2", `variable "undeclared" is not declared`) {
		t.Fatalf("default checker should accept an undeclared variable with a warning, got %v / %v", ps, ws)
	}
	if ps := Validate(mustParse(t, doc(start+`<bpmn:exclusiveGateway id="G" default="F_G_E"/><bpmn:endEvent id="E2"/>`+end+
		flow("S", "G")+flow("G", "E")+condFlow("G", "E2", "=&#34;a&#34; &gt; 1"), "")), Options{}); !hasProblem(ps, "F_G_E2", "does not compile") {
		t.Fatalf("default checker should refuse a mistyped condition, got %v", ps)
	}
	m, ps := CompileWith(defs, Options{SkipExpressions: true})
	if len(ps) > 0 || m.Flows[2].Condition != "undeclared > 1" {
		t.Fatalf("skip expressions: %v %+v", ps, m)
	}
}

func TestCheckerPanicBecomesProblem(t *testing.T) {
	defs := mustParse(t, string(readTestdata(t, "complaint-handling.bpmn")))
	m, ps := CompileWith(defs, Options{CheckExpr: func(ExprSite) error { panic("boom") }})
	if m != nil || !hasProblem(ps, "complaint-handling", "internal error") {
		t.Fatalf("model %v problems %v", m, ps)
	}
}

func TestEntityTypes(t *testing.T) {
	data := readTestdata(t, "lead-qualification.bpmn")
	defs, err := Parse(bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	lead := expression.ObjectOf(map[string]*expression.Type{"id": expression.Scalar(expression.KindString),
		"ownerId": expression.Scalar(expression.KindString)})
	checker := DefaultExprChecker(func(entity string) (*expression.Type, bool) { return lead, entity == "lead" })
	// The trigger condition reads record.source, which this schema lacks.
	ps := Validate(defs, Options{CheckExpr: checker})
	if !hasProblem(ps, "StartEvent_LeadCreated", "record trigger condition") {
		t.Fatalf("problems = %v", ps)
	}
}

func TestCheckTask(t *testing.T) {
	defs := mustParse(t, doc(start+service("Web", "http")+service("Bell", "notify")+
		`<bpmn:serviceTask id="Fax"><bpmn:extensionElements><zeebe:taskDefinition type="fax"/></bpmn:extensionElements></bpmn:serviceTask>`+
		end+chain("S", "Web", "Bell", "Fax", "E"), ""))
	var seen []string
	ps := Validate(defs, Options{CheckTask: func(typ string, headers []Header, inputs []Mapping) error {
		seen = append(seen, typ)
		if typ == "http" && len(headers) == 0 {
			return errors.New(`needs a "url" header`)
		}
		return nil
	}})
	if !hasProblem(ps, "Web", `http task: needs a "url" header`) || hasProblem(ps, "Bell", "task:") {
		t.Errorf("problems = %v", ps)
	}
	if len(seen) != 2 || seen[0] != "http" || seen[1] != "notify" {
		t.Errorf("CheckTask called for %v; want only the known types in document order", seen)
	}
}

func TestProblemsInDocumentOrder(t *testing.T) {
	defs := mustParse(t, doc(`<bpmn:startEvent id="S"/><bpmn:task id="A"/>`+`<bpmn:exclusiveGateway id="B"/>`+flow("A", "B"), ""))
	ps := Validate(defs, Options{})
	order := map[string]int{"P": 0, "S": 1, "A": 2, "B": 3, "F_A_B": 4}
	last := -1
	for _, p := range ps {
		o, ok := order[p.ElementID]
		if !ok {
			t.Fatalf("unexpected element in %v", p)
		}
		if o < last {
			t.Fatalf("problems out of document order: %v", ps)
		}
		last = o
	}
	if !hasProblem(ps, "A", "unreachable") || !hasProblem(ps, "B", "needs an outgoing sequence flow") {
		t.Errorf("problems = %v", ps)
	}
}
