package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// BenchmarkRecordsCreateTriggered measures what a record trigger adds to a record write: a lead whose
// trigger condition holds writes its start to the outbox before the API answers (delivery to Temporal
// runs in the background); "bare" is a lead the same trigger does not match.
func BenchmarkRecordsCreateTriggered(b *testing.B) {
	ctx := context.Background()
	xml := `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="D_Bench" targetNamespace="x">
  <bpmn:process id="bench-trigger" isExecutable="true">
    <bpmn:startEvent id="S">
      <bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created" condition="=record.companyName == &#34;TriggerCo&#34;" /></bpmn:extensionElements>
      <bpmn:outgoing>F</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:endEvent id="E"><bpmn:incoming>F</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F" sourceRef="S" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>`
	for _, step := range []struct{ path, body string }{{"/api/v1/processes", xml}, {"/api/v1/processes/bench-trigger/publish", ""}} {
		var body any
		if step.body != "" {
			body = []byte(step.body)
		}
		if status, out, err := env.Do(ctx, http.MethodPost, step.path, env.AdminToken, body); err != nil || status != http.StatusCreated {
			b.Fatalf("POST %s: %d %v %s", step.path, status, err, out)
		}
	}
	time.Sleep(2100 * time.Millisecond) // the trigger index is re-read at most every 2 s
	for _, bc := range []struct{ name, company string }{{"bare", "BenchCo"}, {"triggered", "TriggerCo"}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				lead := benchLead(i)
				lead["companyName"] = bc.company
				lead["email"] = bc.name + lead["email"].(string)
				body, _ := json.Marshal(lead)
				post(b, "/api/v1/records/lead", body)
			}
		})
	}
}
