package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"testing"
)

func TestEntitiesAreNamedJSON(t *testing.T) {
	defs, err := Entities()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"company", "complaint", "contact", "deal", "interaction", "lead", "order", "task"}
	if len(defs) != len(want) {
		t.Fatalf("got %d entities, want %d", len(defs), len(want))
	}
	for i, d := range defs {
		if d.Name != want[i] {
			t.Errorf("entity %d = %q, want %q", i, d.Name, want[i])
		}
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(d.JSON, &head); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
		if head.Name != d.Name {
			t.Errorf("%s.json declares name %q", d.Name, head.Name)
		}
	}
}

func TestRulesAreNamedByKey(t *testing.T) {
	defs, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) == 0 {
		t.Fatal("no default rule sets")
	}
	for _, d := range defs {
		var head struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(d.JSON, &head); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
		if head.Key != d.Name {
			t.Errorf("%s.json declares key %q", d.Name, head.Key)
		}
	}
}

// bpmnModel is the namespace of BPMN's process elements (extension elements have others).
const bpmnModel = "http://www.omg.org/spec/BPMN/20100524/MODEL"

// flowNodes are the BPMN elements the designer draws as shapes.
var flowNodes = map[string]bool{
	"startEvent": true, "endEvent": true, "intermediateCatchEvent": true, "intermediateThrowEvent": true, "boundaryEvent": true,
	"task": true, "serviceTask": true, "userTask": true, "scriptTask": true, "sendTask": true, "receiveTask": true,
	"businessRuleTask": true, "manualTask": true, "callActivity": true, "subProcess": true,
	"exclusiveGateway": true, "parallelGateway": true, "inclusiveGateway": true, "eventBasedGateway": true, "complexGateway": true,
}

// TestProcessTemplatesHaveALayout: the designer shows a template as its diagram (BPMN DI) draws it, so
// every shipped process has a plane for the process, a shape for every flow node and an edge for every
// sequence flow, and nothing drawn that is not in the process (schemas/layout draws them).
func TestProcessTemplatesHaveALayout(t *testing.T) {
	procs, err := Processes()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range procs {
		t.Run(d.Name, func(t *testing.T) {
			want := map[string]string{} // element id → "shape" or "edge"
			drawn := map[string]string{}
			var processID, plane string
			inProcess := 0
			dec := xml.NewDecoder(bytes.NewReader(d.JSON))
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				switch el := tok.(type) {
				case xml.StartElement:
					attr := func(name string) string {
						for _, a := range el.Attr {
							if a.Name.Local == name && a.Name.Space == "" {
								return a.Value
							}
						}
						return ""
					}
					switch {
					case el.Name.Local == "process":
						inProcess++
						processID = attr("id")
					case inProcess > 0 && el.Name.Space == bpmnModel && flowNodes[el.Name.Local]:
						want[attr("id")] = "shape"
					case inProcess > 0 && el.Name.Space == bpmnModel && el.Name.Local == "sequenceFlow":
						want[attr("id")] = "edge"
					case el.Name.Local == "BPMNPlane":
						plane = attr("bpmnElement")
					case el.Name.Local == "BPMNShape":
						drawn[attr("bpmnElement")] = "shape"
					case el.Name.Local == "BPMNEdge":
						drawn[attr("bpmnElement")] = "edge"
					}
				case xml.EndElement:
					if el.Name.Local == "process" {
						inProcess--
					}
				}
			}
			if plane == "" || plane != processID {
				t.Errorf("the diagram's plane is for %q, want the process %q", plane, processID)
			}
			if len(want) == 0 {
				t.Fatal("no flow nodes found")
			}
			for id, kind := range want {
				if drawn[id] != kind {
					t.Errorf("%s has no %s in the diagram", id, kind)
				}
			}
			for id := range drawn {
				if _, ok := want[id]; !ok {
					t.Errorf("the diagram draws %s, which is not in the process", id)
				}
			}
		})
	}
}

// TestShippedListsEveryTemplate keeps processes/shipped.txt complete: a server running today's template
// must recognise it as Rapport's own when the template next changes, or it would never be upgraded.
func TestShippedListsEveryTemplate(t *testing.T) {
	procs, err := Processes()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := ShippedProcesses()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		sum := sha256.Sum256(p.JSON)
		if !shipped[p.Name][hex.EncodeToString(sum[:])] {
			t.Errorf("processes/shipped.txt lacks the current %s: add the line\n%s %s <commit>", p.Name, p.Name, hex.EncodeToString(sum[:]))
		}
	}
	if len(shipped["follow-up-cadence"]) < 2 {
		t.Errorf("the earlier follow-up cadences are not listed: %v", shipped["follow-up-cadence"])
	}
}
