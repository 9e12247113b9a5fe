package bpmn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// doc wraps process contents and root-level elements into a document shaped like Camunda Modeler 5's.
func doc(process, root string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.31.0" modeler:executionPlatform="Camunda Cloud">
  <bpmn:process id="P" isExecutable="true">
` + process + `
  </bpmn:process>
` + root + `
  <bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="P"/></bpmndi:BPMNDiagram>
</bpmn:definitions>`
}

// chain links ids with sequence flows named F_<from>_<to>.
func chain(ids ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(ids); i++ {
		b.WriteString(flow(ids[i], ids[i+1]))
	}
	return b.String()
}

func flow(from, to string) string {
	return `<bpmn:sequenceFlow id="F_` + from + `_` + to + `" sourceRef="` + from + `" targetRef="` + to + `"/>` + "\n"
}

func condFlow(from, to, cond string) string {
	return `<bpmn:sequenceFlow id="F_` + from + `_` + to + `" sourceRef="` + from + `" targetRef="` + to +
		`"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">` + cond + `</bpmn:conditionExpression></bpmn:sequenceFlow>` + "\n"
}

func service(id, typ string) string {
	return `<bpmn:serviceTask id="` + id + `"><bpmn:extensionElements><zeebe:taskDefinition type="` + typ +
		`"/></bpmn:extensionElements></bpmn:serviceTask>` + "\n"
}

const (
	start = `<bpmn:startEvent id="S"/>` + "\n"
	end   = `<bpmn:endEvent id="E"/>` + "\n"
)

func mustParse(t testing.TB, xml string) *Definitions {
	t.Helper()
	defs, err := ParseBytes([]byte(xml))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return defs
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hasProblem reports whether ps holds a problem for id whose reason contains substr.
func hasProblem(ps []Problem, id, substr string) bool {
	for _, p := range ps {
		if p.ElementID == id && strings.Contains(p.Reason, substr) {
			return true
		}
	}
	return false
}
