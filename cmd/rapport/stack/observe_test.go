package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// orderLeadBPMN starts on every new lead and creates a sales order for it in the ERP through the
// "erp" connector; the order's reference is the lead's ID, so tests can count orders per lead.
const orderLeadBPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Order" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="%s" name="Order for a new lead" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Lead">
      <bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created" /></bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:serviceTask id="Task_Order" name="Create the ERP order">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="connector" retries="10" />
        <zeebe:taskHeaders>
          <zeebe:header key="connector" value="erp" />
          <zeebe:header key="operation" value="CreateSalesOrder" />
        </zeebe:taskHeaders>
        <zeebe:ioMapping>
          <zeebe:input source="=record.id" target="CustomerID" />
          <zeebe:input source="=record.id" target="Reference" />
          <zeebe:input source="=[{ProductCode: &quot;ONBOARDING&quot;, Quantity: &quot;1&quot;, UnitPrice: &quot;100&quot;}]" target="Lines" />
          <zeebe:output source="=result.Order.ID" target="orderId" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Lead" targetRef="Task_Order" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Order" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`

// waitThenFailBPMN waits for a person, then calls a connector whose ERP fails every time: the task is
// retried once and the instance stops in an incident.
const waitThenFailBPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Wait" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="metered-wait" name="Wait, then fail" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="approver" type="string" required="true" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Call" name="Call">
      <bpmn:extensionElements><zeebe:assignmentDefinition assignee="=approver" /></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:serviceTask id="Task_Broken" name="Order in a broken ERP">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="connector" retries="2" />
        <zeebe:taskHeaders>
          <zeebe:header key="connector" value="erp-broken" />
          <zeebe:header key="operation" value="CreateSalesOrder" />
        </zeebe:taskHeaders>
        <zeebe:ioMapping>
          <zeebe:input source="=&quot;C1&quot;" target="CustomerID" />
          <zeebe:input source="=[{ProductCode: &quot;P&quot;, Quantity: &quot;1&quot;, UnitPrice: &quot;1&quot;}]" target="Lines" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_Call" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Call" targetRef="Task_Broken" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_Broken" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`

// TestTraceOfLeadToConnectorAndMetrics creates one lead with a W3C traceparent header and follows its
// trace through the HTTP layer, the outbox, the instance start, the workflow, the task activity and
// the plugin call that creates the ERP order; then it reads /metrics on the metrics listener and finds
// the request, the record write, the process start and completion, the element, the activity, the
// plugin call and launch, and the store commands. A second instance waits for a person (a waiting
// element's duration) and then fails in the ERP (an activity retry and an incident).
func TestTraceOfLeadToConnectorAndMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := stacktest.InstallPlugin(dir, "testplugin", "github.com/rapportcrm/rapport/plugins/host/internal/testplugin"); err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	cfg := stacktest.Config(dir)
	cfg.TraceExporter, cfg.MetricsAddr = spans, "127.0.0.1:0"
	env, err := stacktest.StartWith(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()

	erpDir := t.TempDir()
	mustCall(t, env, http.MethodPut, "/api/v1/connectors/erp", map[string]any{"plugin": "testplugin", "config": map[string]any{"dir": erpDir}}, http.StatusOK)
	mustCall(t, env, http.MethodPost, "/api/v1/processes", []byte(fmt.Sprintf(orderLeadBPMN, "traced-order")), http.StatusCreated)
	mustCall(t, env, http.MethodPost, "/api/v1/processes/traced-order/publish", nil, http.StatusCreated)
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger index at most every 2 s

	const traceID = "5b8efff798038103d269b633813fc60c"
	resp := env.Call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken,
		map[string]any{"source": "webForm", "name": "Traced lead", "status": "new"},
		"traceparent", "00-"+traceID+"-eee19b7ec3c1b174-01")
	if resp.Status != http.StatusCreated {
		t.Fatalf("create lead: %d %s", resp.Status, resp.Raw)
	}
	leadID, _ := resp.Body["id"].(string)

	// The trace is complete once the instance has completed: a span is exported when it ends, and
	// RunWorkflow ends with the workflow, after the plugin call's and the activity's spans.
	want := []string{"POST /api/v1/records/:entity", "StartWorkflow:rapport.process", "RunWorkflow:rapport.process",
		"StartActivity:rapport.process.task", "RunActivity:rapport.process.task", "connector CreateSalesOrder"}
	var trace []tracetest.SpanStub
	deadline := time.Now().Add(2 * time.Minute)
	for {
		trace = spansOf(spans.GetSpans(), traceID)
		if !slices.ContainsFunc(want, func(name string) bool { return !hasSpan(trace, name) }) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, name := range want {
		if !hasSpan(trace, name) {
			t.Errorf("trace %s has no span %q", traceID, name)
		}
	}
	if t.Failed() {
		t.Fatalf("spans of the trace: %v", names(trace))
	}
	// One chain of parents leads from the plugin call back to the API request.
	chain := ancestry(trace, "connector CreateSalesOrder")
	t.Logf("trace %s, from the plugin call up: %s", traceID, strings.Join(chain, " ← "))
	for _, want := range []string{"RunActivity:rapport.process.task", "RunWorkflow:rapport.process", "StartWorkflow:rapport.process", "POST /api/v1/records/:entity"} {
		if !contains(chain, want) {
			t.Errorf("the plugin call's ancestors %v lack %q", chain, want)
		}
	}
	if orders := ordersFor(t, erpDir, leadID); orders != 1 {
		t.Errorf("ERP orders for lead %s = %d, want 1", leadID, orders)
	}

	// A waiting element, a retry and an incident.
	brokenDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(brokenDir, "orders.json"), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCall(t, env, http.MethodPut, "/api/v1/connectors/erp-broken", map[string]any{"plugin": "testplugin", "config": map[string]any{"dir": brokenDir}}, http.StatusOK)
	mustCall(t, env, http.MethodPost, "/api/v1/processes", []byte(waitThenFailBPMN), http.StatusCreated)
	mustCall(t, env, http.MethodPost, "/api/v1/processes/metered-wait/publish", nil, http.StatusCreated)
	me := mustCall(t, env, http.MethodGet, "/api/v1/auth/me", nil, http.StatusOK)
	mustCall(t, env, http.MethodPost, "/api/v1/processes/metered-wait/instances", map[string]any{"variables": map[string]any{"approver": me.Body["id"]}}, http.StatusCreated)
	completeFirstTask(t, env)

	// Metrics: on the metrics listener, not on the API port.
	scrapeUntil(t, env.Stack.MetricsURL, `rapport_incidents_total{process="metered-wait"} 1`)
	metrics := scrapeUntil(t, env.Stack.MetricsURL, `rapport_process_completions_total{outcome="completed",process="traced-order"} 1`)
	for _, want := range []string{
		`rapport_element_duration_seconds_count{element="Task_Call",process="metered-wait"} 1`,
		`rapport_activity_retries_total{task="connector"} 1`,
		`rapport_activity_duration_seconds_count{outcome="error",task="connector"} 2`,
		`rapport_plugin_calls_total{method="CreateSalesOrder",outcome="internal",plugin="testplugin"} 2`,
		`rapport_incidents_total{process="metered-wait"} 1`,
		`rapport_http_requests_total{method="POST",route="/api/v1/records/:entity",status="201"} 1`,
		`rapport_record_writes_total{entity="lead",op="created"} 1`,
		`rapport_process_starts_total{process="traced-order"} 1`,
		`rapport_process_completions_total{outcome="completed",process="traced-order"} 1`,
		`rapport_element_duration_seconds_count{element="Task_Order",process="traced-order"} 1`,
		`rapport_activity_duration_seconds_count{outcome="ok",task="connector"} 1`,
		`rapport_plugin_calls_total{method="CreateSalesOrder",outcome="ok",plugin="testplugin"} 1`,
		`rapport_plugin_launches_total{plugin="testplugin",reason="start"}`,
		`rapport_store_command_duration_seconds_count{command="insert",outcome="ok"}`,
		`rapport_outbox_pending 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	t.Logf("/metrics (Rapport's series):\n%s", rapportLines(metrics))
	if api := env.Call(t, http.MethodGet, "/metrics", env.AdminToken, nil); strings.Contains(string(api.Raw), "rapport_http_requests_total") {
		t.Errorf("the API port serves the metrics too")
	}
}

// completeFirstTask completes the administrator's only open task once it shows up.
func completeFirstTask(t *testing.T, env *stacktest.Env) {
	t.Helper()
	var page struct {
		Items []struct{ ID string }
	}
	for deadline := time.Now().Add(time.Minute); len(page.Items) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no open task after a minute")
		}
		json.Unmarshal(mustCall(t, env, http.MethodGet, "/api/v1/tasks", nil, http.StatusOK).Raw, &page)
		time.Sleep(200 * time.Millisecond)
	}
	mustCall(t, env, http.MethodPost, "/api/v1/tasks/"+page.Items[0].ID+"/complete", map[string]any{}, http.StatusNoContent)
}

func mustCall(t *testing.T, env *stacktest.Env, method, path string, body any, want int) stacktest.Response {
	t.Helper()
	resp := env.Call(t, method, path, env.AdminToken, body)
	if resp.Status != want {
		t.Fatalf("%s %s: %d %s", method, path, resp.Status, resp.Raw)
	}
	return resp
}

func spansOf(all tracetest.SpanStubs, traceID string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range all {
		if s.SpanContext.TraceID().String() == traceID {
			out = append(out, s)
		}
	}
	return out
}

func hasSpan(spans []tracetest.SpanStub, name string) bool {
	for _, s := range spans {
		if s.Name == name {
			return true
		}
	}
	return false
}

func names(spans []tracetest.SpanStub) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ancestry lists the named span and its ancestors, nearest first.
func ancestry(spans []tracetest.SpanStub, name string) []string {
	byID := map[trace.SpanID]tracetest.SpanStub{}
	var cur *tracetest.SpanStub
	for i, s := range spans {
		byID[s.SpanContext.SpanID()] = s
		if s.Name == name && cur == nil {
			cur = &spans[i]
		}
	}
	var out []string
	for cur != nil && len(out) < 50 {
		out = append(out, cur.Name)
		p, ok := byID[cur.Parent.SpanID()]
		if !ok {
			break
		}
		cur = &p
	}
	return out
}

// ordersFor counts the test ERP's orders whose reference is ref (the test plugin's orders.json).
func ordersFor(t *testing.T, erpDir, ref string) int {
	t.Helper()
	var store struct {
		Orders map[string]struct{ Reference string } `json:"orders"`
	}
	raw, err := os.ReadFile(filepath.Join(erpDir, "orders.json"))
	if err != nil {
		t.Fatalf("read the ERP's orders: %v", err)
	}
	if err := json.Unmarshal(raw, &store); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range store.Orders {
		if o.Reference == ref {
			n++
		}
	}
	return n
}

// scrapeUntil reads the metrics until they hold want (or a minute passed) and returns the last scrape.
func scrapeUntil(t *testing.T, url, want string) string {
	t.Helper()
	var text string
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(raw)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, raw)
		}
		if strings.Contains(text, want) || time.Now().After(deadline) {
			return text
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var rapportSeries = regexp.MustCompile(`(?m)^rapport_.*$`)

// rapportLines keeps Rapport's own series, without histogram buckets.
func rapportLines(metrics string) string {
	var out []string
	for _, l := range rapportSeries.FindAllString(metrics, -1) {
		if !strings.Contains(l, "_bucket{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
