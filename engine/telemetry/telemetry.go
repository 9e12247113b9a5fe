// Package telemetry holds what one Rapport process tells operators about itself: Prometheus metrics
// (HTTP, record writes, processes, elements, incidents, activity retries, plugin calls and restarts, store
// latency) and OpenTelemetry traces. There is one Telemetry per process, made by the stack and handed to
// the parts that measure; nothing here is global. A nil *Telemetry is valid and measures nothing, so
// parts built without one (unit tests, tools) need no checks.
//
// Traces are exported over OTLP only when an endpoint (or an exporter, in tests) is configured;
// otherwise the tracer is OpenTelemetry's no-op tracer and a span costs a few nanoseconds.
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Namespace prefixes every Rapport metric.
const Namespace = "rapport"

// TracerName names the tracer of Rapport's own spans (HTTP, plugin calls); Temporal's interceptor uses
// the same provider under its own name.
const TracerName = "github.com/rapportcrm/rapport"

// Options configure a Telemetry.
type Options struct {
	// Service is the service.name of spans (default "rapport"); Role tells dev, server and worker apart.
	Service string
	Role    string
	// OTLPEndpoint is the OTLP/gRPC collector (host:port or http(s)://host:port) traces are sent to;
	// empty sends none. OTLPInsecure sends them without TLS (a collector on the same host or network).
	OTLPEndpoint string
	OTLPInsecure bool
	// Exporter receives spans instead of OTLP, synchronously (tests use an in-memory exporter).
	Exporter sdktrace.SpanExporter
}

// Telemetry is one process's metrics registry and tracer.
type Telemetry struct {
	registry   *prometheus.Registry
	tracer     trace.Tracer
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error

	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	recordWrites     *prometheus.CounterVec
	processStarts    *prometheus.CounterVec
	processEnds      *prometheus.CounterVec
	elementDuration  *prometheus.HistogramVec
	incidents        *prometheus.CounterVec
	activityDuration *prometheus.HistogramVec
	activityRetries  *prometheus.CounterVec
	pluginCalls      *prometheus.CounterVec
	pluginDuration   *prometheus.HistogramVec
	pluginLaunches   *prometheus.CounterVec
	storeDuration    *prometheus.HistogramVec
}

// Latency buckets: requests and store commands live between a millisecond and a few seconds; process
// elements (a user task, a timer) between a second and weeks.
var (
	fastBuckets    = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	elementBuckets = []float64{.01, .1, 1, 10, 60, 300, 1800, 3600, 4 * 3600, 86400, 7 * 86400, 30 * 86400}
)

// New builds the registry (with Go runtime and process collectors) and the tracer.
func New(ctx context.Context, opts Options) (*Telemetry, error) {
	t := &Telemetry{registry: prometheus.NewRegistry(), propagator: propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{})}
	t.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t.register()
	if err := t.startTracing(ctx, opts); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) register() {
	f := factory{t.registry}
	t.httpRequests = f.counter("http_requests_total", "HTTP requests answered, by route pattern, method and status.", "route", "method", "status")
	t.httpDuration = f.histogram("http_request_duration_seconds", "Time to answer an HTTP request, by route pattern and method.", fastBuckets, "route", "method")
	t.recordWrites = f.counter("record_writes_total", "Records stored, by entity and operation (created, updated, deleted).", "entity", "op")
	t.processStarts = f.counter("process_starts_total", "Process instances started, by process key (counted by the worker that runs their first step).", "process")
	t.processEnds = f.counter("process_completions_total", "Process instances ended, by process key and outcome (completed, terminated, failed, cancelled).", "process", "outcome")
	t.elementDuration = f.histogram("element_duration_seconds", "Time a process element was active, by process key and element ID: tasks from the scheduling of their successful attempt to its end, waiting elements (user tasks, timers, messages) in workflow time; gateways and events passed in one step are not observed.", elementBuckets, "process", "element")
	t.incidents = f.counter("incidents_total", "Times a process instance entered the incident state (a task failed after its retries), by process key.", "process")
	t.activityDuration = f.histogram("activity_duration_seconds", "Time of one activity attempt, by task type and outcome.", fastBuckets, "task", "outcome")
	t.activityRetries = f.counter("activity_retries_total", "Activity attempts after the first, by task type.", "task")
	t.pluginCalls = f.counter("plugin_calls_total", "Connector plugin calls, by plugin, method and outcome (ok or the connector error kind).", "plugin", "method", "outcome")
	t.pluginDuration = f.histogram("plugin_call_duration_seconds", "Time of a connector plugin call through the host, by plugin and method.", fastBuckets, "plugin", "method")
	t.pluginLaunches = f.counter("plugin_launches_total", "Plugin processes launched, by plugin and reason (start, restart).", "plugin", "reason")
	t.storeDuration = f.histogram("store_command_duration_seconds", "Time of one MongoDB command, by command name and outcome.", fastBuckets, "command", "outcome")
}

type factory struct{ r *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(h)
	return h
}

func (t *Telemetry) startTracing(ctx context.Context, opts Options) error {
	if opts.Exporter == nil && opts.OTLPEndpoint == "" {
		t.provider = noop.NewTracerProvider()
		t.tracer = t.provider.Tracer(TracerName)
		t.shutdown = func(context.Context) error { return nil }
		return nil
	}
	if opts.Service == "" {
		opts.Service = "rapport"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", opts.Service)}
	if opts.Role != "" {
		attrs = append(attrs, attribute.String("rapport.role", opts.Role))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return fmt.Errorf("telemetry: trace resource: %w", err)
	}
	var span sdktrace.TracerProviderOption
	if opts.Exporter != nil {
		span = sdktrace.WithSyncer(opts.Exporter)
	} else {
		eo := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpointURL(opts.OTLPEndpoint, opts.OTLPInsecure))}
		if opts.OTLPInsecure {
			eo = append(eo, otlptracegrpc.WithInsecure())
		}
		exp, err := otlptracegrpc.New(ctx, eo...)
		if err != nil {
			return fmt.Errorf("telemetry: OTLP exporter for %s: %w", opts.OTLPEndpoint, err)
		}
		span = sdktrace.WithBatcher(exp)
	}
	// The sampler follows OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG when set (parent-based, always on
	// otherwise).
	tp := sdktrace.NewTracerProvider(span, sdktrace.WithResource(res))
	t.provider, t.tracer, t.shutdown = tp, tp.Tracer(TracerName), tp.Shutdown
	return nil
}

// endpointURL accepts host:port as well as a URL.
func endpointURL(endpoint string, insecure bool) string {
	for _, p := range []string{"http://", "https://"} {
		if len(endpoint) >= len(p) && endpoint[:len(p)] == p {
			return endpoint
		}
	}
	if insecure {
		return "http://" + endpoint
	}
	return "https://" + endpoint
}

// Shutdown flushes spans not yet exported; call it once when the process stops.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	if err := t.shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// Handler serves the metrics in Prometheus's text format.
func (t *Telemetry) Handler() http.Handler {
	if t == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}

// TracerProvider is the provider Temporal's tracing interceptor uses, so its spans join Rapport's.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t == nil {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// Tracer starts Rapport's own spans.
func (t *Telemetry) Tracer() trace.Tracer {
	if t == nil {
		return noop.NewTracerProvider().Tracer(TracerName)
	}
	return t.tracer
}

// Propagator carries a span across a process boundary (HTTP headers, the outbox, Temporal headers): W3C
// trace context and baggage.
func (t *Telemetry) Propagator() propagation.TextMapPropagator {
	if t == nil {
		return propagation.NewCompositeTextMapPropagator()
	}
	return t.propagator
}

// Tracing tells whether spans go anywhere; callers skip building span attributes when not.
func (t *Telemetry) Tracing() bool {
	if t == nil {
		return false
	}
	_, isNoop := t.provider.(noop.TracerProvider)
	return !isNoop
}

// HTTPRequest counts one answered request; route is the route pattern ("/api/v1/records/{entity}"),
// never the raw path, so the number of series stays bounded.
func (t *Telemetry) HTTPRequest(route, method string, status int, d time.Duration) {
	if t == nil {
		return
	}
	t.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	t.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// RecordWritten counts a stored record change.
func (t *Telemetry) RecordWritten(entity, op string) {
	if t == nil {
		return
	}
	t.recordWrites.WithLabelValues(entity, op).Inc()
}

// ProcessStarted counts a new process instance.
func (t *Telemetry) ProcessStarted(process string) {
	if t == nil {
		return
	}
	t.processStarts.WithLabelValues(process).Inc()
}

// ProcessEnded counts an instance that ended with outcome.
func (t *Telemetry) ProcessEnded(process, outcome string) {
	if t == nil {
		return
	}
	t.processEnds.WithLabelValues(process, outcome).Inc()
}

// ElementLeft observes how long an element of a process stayed active.
func (t *Telemetry) ElementLeft(process, element string, d time.Duration) {
	if t == nil {
		return
	}
	t.elementDuration.WithLabelValues(process, element).Observe(d.Seconds())
}

// Incident counts an instance of process entering the incident state.
func (t *Telemetry) Incident(process string) {
	if t == nil {
		return
	}
	t.incidents.WithLabelValues(process).Inc()
}

// ActivityDone observes one attempt of an activity of task type task; attempt counts from 1.
func (t *Telemetry) ActivityDone(task string, attempt int32, d time.Duration, err error) {
	if t == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	if attempt > 1 {
		t.activityRetries.WithLabelValues(task).Inc()
	}
	t.activityDuration.WithLabelValues(task, outcome).Observe(d.Seconds())
}

// PluginCall starts measuring one connector call; the returned context carries its span and done ends
// both, with the call's error (kind names the error's class, "ok" when err is nil).
func (t *Telemetry) PluginCall(ctx context.Context, plugin, instance, method string) (context.Context, func(err error, kind string)) {
	if t == nil {
		return ctx, func(error, string) {}
	}
	start := time.Now()
	ctx, span := t.tracer.Start(ctx, "connector "+method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rapport.plugin", plugin), attribute.String("rapport.connector", instance),
			attribute.String("rpc.method", method)))
	return ctx, func(err error, kind string) {
		if err == nil {
			kind = "ok"
		} else {
			if kind == "" {
				kind = "error"
			}
			span.RecordError(err)
			span.SetStatus(codes.Error, kind)
		}
		span.End()
		t.pluginCalls.WithLabelValues(plugin, method, kind).Inc()
		t.pluginDuration.WithLabelValues(plugin, method).Observe(time.Since(start).Seconds())
	}
}

// PluginLaunched counts a plugin process launch; restart tells a relaunch after a crash or failed
// health checks from the first start.
func (t *Telemetry) PluginLaunched(plugin string, restart bool) {
	if t == nil {
		return
	}
	reason := "start"
	if restart {
		reason = "restart"
	}
	t.pluginLaunches.WithLabelValues(plugin, reason).Inc()
}

// WatchOutbox makes the outbox backlog a gauge read at scrape time: pending counts the record changes not
// yet delivered to Temporal; -1 when it fails (the store did not answer within 2 s).
func (t *Telemetry) WatchOutbox(pending func(context.Context) (int64, error)) error {
	if t == nil {
		return nil
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "outbox_pending",
		Help: "Record changes whose process starts and messages are not delivered to Temporal yet (-1: the store did not answer)."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := pending(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		})
	if err := t.registry.Register(g); err != nil {
		return fmt.Errorf("telemetry: register the outbox gauge: %w", err)
	}
	return nil
}

// StoreCommand observes one MongoDB command.
func (t *Telemetry) StoreCommand(command string, d time.Duration, err error) {
	if t == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	t.storeDuration.WithLabelValues(command, outcome).Observe(d.Seconds())
}
