package api_test

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

// BenchmarkListInstances measures a page of GET /api/v1/instances filtered by process and state among
// the instances of several processes (set RAPPORT_BENCH_INSTANCES, default 500, spread over 5
// processes): the API asks visibility once per page, so "bare" — the same visibility query sent
// straight to Temporal — is its baseline, and the ratio is what the API adds (authentication, decoding,
// the summaries).
func BenchmarkListInstances(b *testing.B) {
	ctx := context.Background()
	n := 500
	if v, err := strconv.Atoi(os.Getenv("RAPPORT_BENCH_INSTANCES")); err == nil && v > 0 {
		n = v
	}
	const processes = 5
	waiting := func(key string) string {
		return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D_` + key + `" targetNamespace="x">
  <bpmn:process id="` + key + `" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing><bpmn:messageEventDefinition messageRef="M" /></bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="E"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Wait" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="E" />
  </bpmn:process>
  <bpmn:message id="M" name="never"><bpmn:extensionElements><zeebe:subscription correlationKey="=&#34;x&#34;" /></bpmn:extensionElements></bpmn:message>
</bpmn:definitions>`
	}
	for p := range processes {
		key := "bench-list-" + strconv.Itoa(p)
		for _, step := range []struct{ path, body string }{{"/api/v1/processes", waiting(key)}, {"/api/v1/processes/" + key + "/publish", ""}} {
			var body any
			if step.body != "" {
				body = []byte(step.body)
			}
			if status, out, err := env.Do(ctx, http.MethodPost, step.path, env.AdminToken, body); err != nil || status != http.StatusCreated {
				b.Fatalf("POST %s: %d %v %s", step.path, status, err, out)
			}
		}
	}
	for i := range n {
		key := "bench-list-" + strconv.Itoa(i%processes)
		if status, out, err := env.Do(ctx, http.MethodPost, "/api/v1/processes/"+key+"/instances", env.AdminToken, map[string]any{}); err != nil || status != http.StatusCreated {
			b.Fatalf("start: %d %v %s", status, err, out)
		}
	}
	query := "WorkflowType = 'rapport.process' AND RapportProcessKey IS NOT NULL AND RapportProcessKey = 'bench-list-0' AND " +
		"((ExecutionStatus = 'Running' AND RapportState = 'waiting'))"
	want := n / processes
	deadline := time.Now().Add(5 * time.Minute)
	for {
		resp, err := env.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "rapport", Query: query})
		if err != nil {
			b.Fatal(err)
		}
		if int(resp.GetCount()) >= want {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d instances waiting", resp.GetCount(), want)
		}
		time.Sleep(time.Second)
	}
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "rapport", PageSize: 50, Query: query})
			if err != nil || len(resp.GetExecutions()) != 50 {
				b.Fatalf("list: %v", err)
			}
		}
	})
	b.Run("api", func(b *testing.B) {
		for b.Loop() {
			status, body, err := env.Do(ctx, http.MethodGet, "/api/v1/instances?processKey=bench-list-0&state=waiting&limit=50", env.AdminToken, nil)
			if err != nil || status != http.StatusOK {
				b.Fatalf("list: %d %v %s", status, err, body)
			}
		}
	})
}
