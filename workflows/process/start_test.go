package process

import (
	"errors"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

const startsXML = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="D" targetNamespace="x">
  <bpmn:process id="starts" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables>
        <rapport:variable name="leadId" type="string" required="true" />
        <rapport:variable name="tries" type="int" required="true" default="3" />
        <rapport:variable name="note" type="string" />
      </rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="ByHand"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:startEvent id="ByRecord">
      <bpmn:extensionElements>
        <rapport:recordTrigger entity="lead" on="created" />
        <zeebe:ioMapping><zeebe:output source="=record.id" target="leadId" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:endEvent id="E"><bpmn:incoming>F1</bpmn:incoming><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="ByHand" targetRef="E" />
    <bpmn:sequenceFlow id="F2" sourceRef="ByRecord" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>`

// TestPrepare covers the one ID scheme, the business key defaults and the start checks every cause shares.
func TestPrepare(t *testing.T) {
	defs, err := bpmn.Parse(strings.NewReader(startsXML), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	m, problems := bpmn.CompileWith(defs, bpmn.Options{SkipExpressions: true})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	rec := map[string]any{"record": map[string]any{"id": "L-1"}}
	tests := []struct {
		name     string
		req      StartRequest
		wantID   string
		wantBK   string
		wantErr  error
		badNames []string
	}{
		{"an API start gets a random ID and itself as business key", StartRequest{Cause: CauseAPI, Variables: map[string]any{"leadId": "L-1"}}, "starts:api:", "", nil, nil},
		{"an API start with a key and a business key", StartRequest{Cause: CauseAPI, Once: "k1", BusinessKey: "B-1", Variables: map[string]any{"leadId": "L-1"}}, "starts:api:k1", "B-1", nil, nil},
		{"a record start: the record is the business key; its start event sets leadId", StartRequest{Cause: CauseRecord, Once: "ByRecord:lead:L-1:created:v1",
			StartElement: "ByRecord", Entity: "lead", RecordID: "L-1", Variables: rec}, "starts:record:ByRecord:lead:L-1:created:v1", "L-1", nil, nil},
		{"a message start: the correlation key is the business key", StartRequest{Cause: CauseMessage, Once: "ByHand:K-9:m1", BusinessKey: "K-9",
			Variables: map[string]any{"leadId": "L-1", "note": nil}}, "starts:message:ByHand:K-9:m1", "K-9", nil, nil},
		{"the none start does not set leadId", StartRequest{Cause: CauseAPI, Variables: rec}, "", "", nil, []string{"leadId"}},
		{"wrong types are named", StartRequest{Cause: CauseAPI, Variables: map[string]any{"leadId": 7, "tries": "x"}}, "", "", nil, []string{"leadId", "tries"}},
		{"an unknown start event", StartRequest{Cause: CauseAPI, StartElement: "Nope", Variables: map[string]any{"leadId": "L-1"}}, "", "", ErrNoSuchStart, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Ref = Ref{Key: "starts"}
			p, err := Prepare(m, 4, tt.req)
			var ve *VariablesError
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.badNames != nil:
				if !errors.As(err, &ve) || len(ve.Problems) != len(tt.badNames) {
					t.Fatalf("err = %v, want problems with %v", err, tt.badNames)
				}
				for i, n := range tt.badNames {
					if ve.Problems[i].Name != n {
						t.Errorf("problem %d names %q, want %q", i, ve.Problems[i].Name, n)
					}
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !strings.HasPrefix(p.ID, tt.wantID) || (tt.req.Once == "" && len(p.ID) <= len(tt.wantID)) {
				t.Errorf("ID = %q, want %q", p.ID, tt.wantID)
			}
			wantBK := tt.wantBK
			if wantBK == "" {
				wantBK = p.ID
			}
			if p.Input.BusinessKey != wantBK || p.Input.Ref.Version != 4 || p.Input.StartElement != tt.req.StartElement || p.Input.RecordID != tt.req.RecordID {
				t.Errorf("input = %+v", p.Input)
			}
		})
	}
}
