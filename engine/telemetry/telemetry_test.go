package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// exercise records one of everything, so every metric family shows up.
func exercise(t *Telemetry) {
	t.HTTPRequest("/api/v1/records/:entity", "POST", 201, 12*time.Millisecond)
	t.RecordWritten("lead", "created")
	t.ProcessStarted("lead-qualification")
	t.ProcessEnded("lead-qualification", "completed")
	t.ElementLeft("lead-qualification", "Task_Call", time.Hour)
	t.Incident("lead-qualification")
	t.ActivityDone("connector", 2, time.Second, errors.New("ERP down"))
	_, done := t.PluginCall(context.Background(), "tryton", "erp", "CreateSalesOrder")
	done(errors.New("unavailable"), "unavailable")
	t.PluginLaunched("tryton", true)
	t.StoreCommand("insert", time.Millisecond, nil)
	_ = t.WatchOutbox(func(context.Context) (int64, error) { return 3, nil })
}

func scrape(t *testing.T, tel *Telemetry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	raw, _ := io.ReadAll(rec.Result().Body)
	return string(raw)
}

func TestMetricsAreExposed(t *testing.T) {
	tel, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	exercise(tel)
	text := scrape(t, tel)
	for _, want := range []string{
		`rapport_http_requests_total{method="POST",route="/api/v1/records/:entity",status="201"} 1`,
		`rapport_http_request_duration_seconds_count{method="POST",route="/api/v1/records/:entity"} 1`,
		`rapport_record_writes_total{entity="lead",op="created"} 1`,
		`rapport_process_starts_total{process="lead-qualification"} 1`,
		`rapport_process_completions_total{outcome="completed",process="lead-qualification"} 1`,
		`rapport_element_duration_seconds_bucket{element="Task_Call",process="lead-qualification",le="3600"} 1`,
		`rapport_incidents_total{process="lead-qualification"} 1`,
		`rapport_activity_retries_total{task="connector"} 1`,
		`rapport_activity_duration_seconds_count{outcome="error",task="connector"} 1`,
		`rapport_plugin_calls_total{method="CreateSalesOrder",outcome="unavailable",plugin="tryton"} 1`,
		`rapport_plugin_launches_total{plugin="tryton",reason="restart"} 1`,
		`rapport_store_command_duration_seconds_count{command="insert",outcome="ok"} 1`,
		`rapport_outbox_pending 3`,
		`go_goroutines`, `process_resident_memory_bytes`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if tel.Tracing() {
		t.Error("tracing is on without an exporter")
	}
}

func TestNilTelemetryMeasuresNothing(t *testing.T) {
	var tel *Telemetry
	exercise(tel) // must not panic
	ctx, done := tel.PluginCall(context.Background(), "p", "i", "m")
	done(nil, "")
	if ctx == nil || tel.Tracing() || tel.StoreMonitor() != nil || tel.Shutdown(context.Background()) != nil {
		t.Fatal("a nil Telemetry must be inert")
	}
}

func TestPluginCallSpans(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tel, err := New(context.Background(), Options{Exporter: spans, Role: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	ctx, parent := tel.Tracer().Start(context.Background(), "RunActivity")
	_, done := tel.PluginCall(ctx, "testplugin", "erp", "GetOrder")
	done(errors.New("not found"), "not found")
	parent.End()
	got := spans.GetSpans()
	if len(got) != 2 || got[0].Name != "connector GetOrder" || got[0].Parent.SpanID() != got[1].SpanContext.SpanID() {
		t.Fatalf("spans %+v", got)
	}
	if got[0].Status.Description != "not found" || len(got[0].Events) == 0 {
		t.Errorf("the failed call's span has status %+v and events %v", got[0].Status, got[0].Events)
	}
	if !tel.Tracing() {
		t.Error("tracing is off with an exporter")
	}
}

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct {
		in       string
		insecure bool
		want     string
	}{
		{"collector:4317", true, "http://collector:4317"},
		{"collector:4317", false, "https://collector:4317"},
		{"https://otlp.example.com", true, "https://otlp.example.com"},
		{"http://localhost:4317", false, "http://localhost:4317"},
	} {
		if got := endpointURL(tc.in, tc.insecure); got != tc.want {
			t.Errorf("endpointURL(%q, %v) = %q, want %q", tc.in, tc.insecure, got, tc.want)
		}
	}
}

// TestDashboardUsesRapportMetrics keeps the Grafana dashboard shipped with docker-compose.yml honest:
// every rapport_ series its queries name is one this package exposes.
func TestDashboardUsesRapportMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/monitoring/grafana/dashboards/rapport.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	tel, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	exercise(tel)
	exposed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(scrape(t, tel), -1) {
		exposed[m[1]] = true
		if m[2] == "histogram" {
			exposed[m[1]+"_bucket"], exposed[m[1]+"_sum"], exposed[m[1]+"_count"] = true, true, true
		}
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			queries++
			for _, name := range regexp.MustCompile(`\b(rapport_[a-z_]+|process_[a-z_]+)`).FindAllString(target.Expr, -1) {
				if !exposed[name] {
					t.Errorf("panel %q queries %s, which Rapport does not expose", p.Title, name)
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("the dashboard has only %d queries", queries)
	}
}
