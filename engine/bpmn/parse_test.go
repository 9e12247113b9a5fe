package bpmn

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("<bpmn:extensionElements>", 300)
	cases := []struct {
		name  string
		xml   string
		limit int64
		kind  ErrorKind
		want  []Problem
	}{
		{name: "too large", xml: doc(start, ""), limit: 100, kind: ErrTooLarge, want: []Problem{{"", "larger than the limit of 100 bytes"}}},
		{name: "empty", xml: "", kind: ErrMalformed},
		{name: "malformed", xml: `<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="P">`, kind: ErrMalformed},
		{name: "mismatched tags", xml: `<a><b></a>`, kind: ErrMalformed},
		{name: "not xml", xml: `{"json": true}`, kind: ErrMalformed},
		{name: "html", xml: `<html><body/></html>`, kind: ErrNotBPMN, want: []Problem{{"", "<html>"}}},
		{name: "bpmn namespace wrong root", xml: `<bpmn:process xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="P"/>`, kind: ErrNotBPMN},
		{name: "missing namespace", xml: `<definitions id="D"><process id="P"/></definitions>`, kind: ErrMissingNamespace, want: []Problem{{"D", "not in the BPMN 2.0 model namespace"}}},
		{name: "wrong namespace", xml: `<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/DI" id="D"/>`, kind: ErrMissingNamespace},
		{name: "duplicate ids listed", xml: doc(start+`<bpmn:endEvent id="S"/><bpmn:endEvent id="X"/><bpmn:endEvent id="X"/>`, ""), kind: ErrDuplicateID,
			want: []Problem{{"S", "duplicate id"}, {"X", "duplicate id"}}},
		{name: "invalid children listed", xml: doc(start+`<bpmn:process id="Inner"/><bpmn:bogusTask id="B"/><plain id="N"/>`, `<bpmn:startEvent id="RootStart"/>`), kind: ErrInvalidChild,
			want: []Problem{{"Inner", "<process>"}, {"B", "not a BPMN 2.0 element"}, {"N", "no namespace"}, {"RootStart", "of <definitions>"}}},
		{name: "duplicates and invalid children together", xml: doc(start+`<bpmn:endEvent id="S"/><bpmn:bogus id="Q"/>`, ""), kind: ErrDuplicateID,
			want: []Problem{{"S", "duplicate id"}, {"Q", "not a BPMN 2.0 element"}}},
		{name: "invalid child inside task", xml: doc(start+`<bpmn:serviceTask id="T"><bpmn:startEvent id="Nested"/></bpmn:serviceTask>`, ""), kind: ErrInvalidChild,
			want: []Problem{{"Nested", "of <serviceTask>"}}},
		{name: "too deep unclosed", xml: doc(deep, ""), kind: ErrTooDeep},
		{name: "too deep well-formed", xml: doc(deep+strings.Repeat("</bpmn:extensionElements>", 300), ""), kind: ErrTooDeep},
		{name: "undefined entity", xml: `<!DOCTYPE x [<!ENTITY a "aaaa">]><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&a;</bpmn:definitions>`, kind: ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			limit := tc.limit
			if limit == 0 {
				limit = 1 << 20
			}
			defs, err := Parse(strings.NewReader(tc.xml), limit)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (defs %v), want *ParseError", err, defs)
			}
			if pe.Kind != tc.kind {
				t.Fatalf("kind = %s, want %s (%v)", pe.Kind, tc.kind, err)
			}
			if pe.Error() == "" || !strings.Contains(pe.Error(), string(tc.kind)) {
				t.Errorf("message %q lacks the kind", pe.Error())
			}
			for _, w := range tc.want {
				if !hasProblem(pe.Problems, w.ElementID, w.Reason) {
					t.Errorf("missing %s: %q in %v", w.ElementID, w.Reason, pe.Problems)
				}
			}
		})
	}
}

func TestParseReadError(t *testing.T) {
	_, err := Parse(iotest.ErrReader(errors.New("disk on fire")), 1024)
	var pe *ParseError
	if err == nil || errors.As(err, &pe) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the wrapped read error", err)
	}
}

func TestParseStructure(t *testing.T) {
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" exporter="bpmn-js" exporterVersion="17.0.0" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="C">
    <bpmn:participant id="Pool_A" name="Sales" processRef="A"/>
    <bpmn:participant id="Pool_B" name="Customer"/>
    <bpmn:messageFlow id="MF" sourceRef="Pool_B" targetRef="Pool_A"/>
  </bpmn:collaboration>
  <bpmn:process id="A" isExecutable="true">
    <bpmn:documentation>Sales pool</bpmn:documentation>
    <bpmn:laneSet id="LS"><bpmn:lane id="L1" name="Desk"><bpmn:flowNodeRef>S</bpmn:flowNodeRef>
      <bpmn:childLaneSet id="CLS"><bpmn:lane id="L2" name="Inner"><bpmn:flowNodeRef>E</bpmn:flowNodeRef></bpmn:lane></bpmn:childLaneSet></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="S" camunda:asyncBefore="true"><bpmn:outgoing>F</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="E"><bpmn:incoming>F</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F" sourceRef="S" targetRef="E"/>
    <bpmn:textAnnotation id="TA"><bpmn:text>note</bpmn:text></bpmn:textAnnotation>
    <bpmn:association id="AS" sourceRef="S" targetRef="TA"/>
    <bpmn:dataObjectReference id="DOR" dataObjectRef="DO"/><bpmn:dataObject id="DO"/>
  </bpmn:process>
  <bpmn:process id="B" isExecutable="false"/>
  <bpmn:signal id="Sig" name="s"/>
  <bpmndi:BPMNDiagram id="Dia"><bpmndi:BPMNPlane id="Pl" bpmnElement="C"/></bpmndi:BPMNDiagram>
</bpmn:definitions>`
	defs, err := Parse(strings.NewReader(xml), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs.Processes) != 2 || defs.Processes[0].ID != "A" || !defs.Processes[0].Executable || defs.Processes[1].Executable {
		t.Fatalf("processes = %+v", defs.Processes)
	}
	if len(defs.Participants) != 2 || defs.Participants[0].ProcessRef != "A" || defs.Exporter != "bpmn-js" {
		t.Errorf("participants = %+v", defs.Participants)
	}
	a := defs.Processes[0]
	if len(a.Elements) != 2 || len(a.Flows) != 1 || a.Elements[0].Outgoing[0] != "F" {
		t.Errorf("elements = %+v flows = %+v", a.Elements, a.Flows)
	}
	if len(a.Lanes) != 1 || a.Lanes[0].Lanes[0].FlowNodeRefs[0] != "E" {
		t.Errorf("lanes = %+v", a.Lanes)
	}
	// The empty pool B is skipped: only A is checked and it is valid.
	if ps := Validate(defs, Options{}); len(ps) != 0 {
		t.Errorf("problems = %v", ps)
	}
	m, ps := Compile(defs, "A")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if m.Name != "Sales" || m.Node("E").Lane != "Inner" || m.Node("S").Lane != "Desk" {
		t.Errorf("name %q lanes %q %q", m.Name, m.Node("S").Lane, m.Node("E").Lane)
	}
	if _, ps := Compile(defs, "Nope"); !hasProblem(ps, "Nope", "not defined") {
		t.Errorf("unknown process problems = %v", ps)
	}
	if m2, ps := CompileWith(defs, Options{}); len(ps) > 0 || m2.ProcessID != "A" {
		t.Errorf("default process = %v %v", m2, ps)
	}
}

func TestHashChangesWithContent(t *testing.T) {
	a := mustParse(t, doc(start+end+chain("S", "E"), ""))
	b := mustParse(t, doc(start+end+chain("S", "E")+" ", ""))
	if a.Hash == b.Hash || len(a.Hash) != 64 {
		t.Errorf("hashes %s %s", a.Hash, b.Hash)
	}
	c, _ := Parse(bytes.NewReader([]byte(doc(start+end+chain("S", "E"), ""))), 1<<20)
	if c.Hash != a.Hash {
		t.Errorf("same bytes, different hash")
	}
}

func TestParseEncodings(t *testing.T) {
	body := doc(`<bpmn:startEvent id="S" name="Caf`+"\xe9"+`"/>`+end+chain("S", "E"), "")
	body = body[strings.Index(body, "<bpmn:definitions"):]
	latin1 := `<?xml version="1.0" encoding="ISO-8859-1"?>` + body
	defs, err := ParseBytes([]byte(latin1))
	if err != nil {
		t.Fatal(err)
	}
	if got := defs.Processes[0].Elements[0].Name; got != "Café" {
		t.Errorf("name = %q", got)
	}
	_, err = ParseBytes([]byte(`<?xml version="1.0" encoding="EBCDIC"?>` + body))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Kind != ErrMalformed || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("err = %v", err)
	}
}
