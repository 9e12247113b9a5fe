package bpmn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir holds real files written by bpmn-js and Camunda tooling (origins in its README.md).
var corpusDir = filepath.Join("testdata", "corpus")

// corpusCase is the expected outcome for one corpus file: a parse error kind, or validation problems
// that must include (at least) the listed ones.
type corpusCase struct {
	parseErr ErrorKind
	want     []Problem // ElementID + Reason substring
	accepted bool
}

var corpusCases = map[string]corpusCase{
	"bpmnjs--error--duplicate-ids.bpmn":     {parseErr: ErrDuplicateID, want: []Problem{{"test", "duplicate id"}}},
	"bpmnjs--error--invalid-child.bpmn":     {parseErr: ErrInvalidChild, want: []Problem{{"test", "someElement"}}},
	"bpmnjs--error--missing-namespace.bpmn": {parseErr: ErrMissingNamespace, want: []Problem{{"Definitions_1", "namespace"}}},
	"bpmnjs--boundary-events.bpmn": {want: []Problem{
		{"Process_1", "no start event"}, {"BoundaryEvent_1", "boundary without an event definition"},
		{"BoundaryEvent_2", "boundary without"}, {"BoundaryEvent_3", "boundary without"}, {"CompensationTask", "compensation"},
	}},
	"bpmnjs--conditions.bpmn": {want: []Problem{
		{"ServiceTask_1", "no task type"}, {"SequenceFlow_3", "conditional sequence flows are only supported"},
		{"Process_1", "no start event"},
	}},
	// The fixture writes <bpmn:signalEventDefinition/> without declaring the bpmn prefix.
	"bpmnjs--draw--events.bpmn": {parseErr: ErrUnboundPrefix, want: []Problem{
		{"StartEvent_multiple_1", `the prefix "bpmn" of <bpmn:signalEventDefinition> at line 131 is not declared`},
	}},
	"bpmnjs--event-sub-processes.bpmn": {want: []Problem{
		{"SubProcess_1", "exactly one start event"}, {"StartEvent_1", "no messageRef"}, {"StartEvent_2", "needs a timer, message or error"},
		{"StartEvent_3", "missing timer definition"}, {"SubProcess_2", "found 0"}, {"SubProcess_3", "exactly one none start event"},
		{"Process_1", "no start event"},
	}},
	"bpmnjs--features--rules--event-based-gateway-outgoing-edge.bpmn": {want: []Problem{
		{"EventBasedGateway_1", "at least two outgoing"}, {"IntermediateCatchEvent_2", "conditional"}, {"IntermediateCatchEvent_3", "signal"},
		{"ReceiveTask_1", "no messageRef"},
	}},
	"bpmnjs--import--boundaryEvent.bpmn": {want: []Problem{
		{"BoundaryEvent_1", "boundary without"}, {"Process_1", "no start event"},
	}},
	"bpmnjs--simple.bpmn":     {accepted: true}, // Task_1 ends its path (an implicit end)
	"zeebe--rootElement.bpmn": {want: []Problem{{"", "no process with flow elements"}}},
	"zeebe--simple.bpmn":      {accepted: true}, // type "task" is an external task
	"zeebe--userTask-zeebe-formDefinition.bpmn": {want: []Problem{
		{"Process_17v88t0", "no start event"},
	}},
}

// TestCorpus checks every corpus file against its expected outcome and that every refusal names its
// elements; a file added to the corpus without an entry here fails the test.
func TestCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.bpmn"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("corpus %s is empty: the files are part of the repository (see its README.md)", corpusDir)
	}
	sort.Strings(files)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			tc, ok := corpusCases[name]
			if !ok {
				t.Fatalf("no expected outcome for corpus file %s; add it to corpusCases", name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defs, err := Parse(bytes.NewReader(data), 1<<20)
			if tc.parseErr != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Kind != tc.parseErr {
					t.Fatalf("err = %v, want ParseError of kind %s", err, tc.parseErr)
				}
				for _, w := range tc.want {
					if !hasProblem(pe.Problems, w.ElementID, w.Reason) {
						t.Errorf("missing %s: %q in %v", w.ElementID, w.Reason, pe.Problems)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			problems := Validate(defs, Options{})
			if tc.accepted {
				if len(problems) > 0 {
					t.Fatalf("want accepted, got %v", problems)
				}
				return
			}
			if len(problems) == 0 {
				t.Fatal("want problems, got none")
			}
			for _, w := range tc.want {
				if !hasProblem(problems, w.ElementID, w.Reason) {
					t.Errorf("missing %s: %q in %v", w.ElementID, w.Reason, problems)
				}
			}
			// Every problem names an element unless it concerns the whole document.
			for _, p := range problems {
				if p.ElementID == "" && len(defs.Processes) > 0 {
					t.Errorf("problem without element id: %v", p)
				}
			}
			// Plain tasks pass through, as in Camunda 8: they are never refused for their type.
			for _, proc := range defs.Processes {
				walkElements(proc.Elements, func(e *Element) {
					for _, p := range problems {
						if p.ElementID == e.ID && e.Type == "task" && strings.Contains(p.Reason, "plain task") {
							t.Errorf("plain task %s refused: %v", e.ID, p)
						}
					}
				})
			}
		})
	}
}

func walkElements(els []*Element, fn func(*Element)) {
	for _, e := range els {
		fn(e)
		walkElements(e.Elements, fn)
	}
}
