package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/telemetry"
	"github.com/rapportcrm/rapport/workflows/process"
)

// startTelemetry builds the process's metrics and tracer. Metrics are served on their own listener
// (Config.MetricsAddr), not on the API port: the worker has no API yet holds most process metrics,
// Prometheus scrapes without an API token, and the network (a private interface, a pod network)
// decides who may read them. They carry no record data: labels are route patterns, entity names,
// process keys, element IDs and plugin names.
func (s *Stack) startTelemetry(ctx context.Context) error {
	role := "worker"
	switch {
	case s.cfg.Embedded:
		role = "dev"
	case s.cfg.Serve:
		role = "server"
	}
	t, err := telemetry.New(ctx, telemetry.Options{Role: role, OTLPEndpoint: s.cfg.OTLPEndpoint,
		OTLPInsecure: s.cfg.OTLPInsecure, Exporter: s.cfg.TraceExporter})
	if err != nil {
		return err
	}
	s.Telemetry = t
	return nil
}

// serveMetrics opens the metrics listener, when configured, with the outbox backlog as a gauge read at
// scrape time.
func (s *Stack) serveMetrics() error {
	if s.Outbox != nil {
		if err := s.Telemetry.WatchOutbox(s.Outbox.Pending); err != nil {
			return err
		}
	}
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", s.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.Telemetry.Handler())
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.MetricsURL = "http://" + ln.Addr().String() + "/metrics"
	s.outbound.RefuseOwnPorts(portOf(ln.Addr().String())) // http tasks never reach Rapport's own ports
	go func() {
		if err := s.metrics.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("metrics listener", "error", err)
		}
	}()
	return nil
}

// temporalTracing is the client interceptor that carries spans through Temporal: the start of an
// instance, its workflow tasks, its activities and what they call. Temporal applies it to the workers
// made from the client too.
func (s *Stack) temporalTracing() ([]interceptor.ClientInterceptor, error) {
	if !s.Telemetry.Tracing() {
		return nil, nil
	}
	i, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            s.Telemetry.TracerProvider().Tracer("go.temporal.io/sdk"),
		TextMapPropagator: s.Telemetry.Propagator(),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing: %w", err)
	}
	return []interceptor.ClientInterceptor{i}, nil
}

// processMetrics is the worker interceptor that measures processes from outside the interpreter:
// instance starts and ends by process key, how long each element stays active (tasks from their
// activity, waiting elements from the active-element search attribute the interpreter keeps while it
// waits), incidents (the state attribute turning to incident), and every activity attempt with its
// retries. Workflow-side measurements are taken only when not replaying, so a
// replay does not count twice; they read workflow time and never change what the workflow does.
type processMetrics struct {
	interceptor.WorkerInterceptorBase
	t *telemetry.Telemetry
}

var (
	activeKey = temporal.NewSearchAttributeKeyKeywordList("RapportActiveElements")
	stateKey  = temporal.NewSearchAttributeKeyKeyword("RapportState")
	keyKey    = temporal.NewSearchAttributeKeyKeyword("RapportProcessKey")
)

func (m *processMetrics) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityMetrics{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, t: m.t}
}

func (m *processMetrics) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &workflowMetrics{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, t: m.t}
}

type activityMetrics struct {
	interceptor.ActivityInboundInterceptorBase
	t *telemetry.Telemetry
}

func (a *activityMetrics) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	task := info.ActivityType.Name
	if req, ok := taskOf(in); ok && req.Type != "" {
		task = req.Type
	}
	start := time.Now()
	out, err := a.Next.ExecuteActivity(ctx, in)
	a.t.ActivityDone(task, info.Attempt, time.Since(start), err)
	if req, ok := taskOf(in); ok && err == nil && req.Element != "" {
		// The element ends with its successful attempt; it began when that attempt was scheduled.
		a.t.ElementLeft(req.ProcessKey, req.Element, time.Since(info.ScheduledTime))
	}
	return out, err
}

// taskOf returns the interpreter task an activity runs, if it runs one.
func taskOf(in *interceptor.ExecuteActivityInput) (process.TaskRequest, bool) {
	if len(in.Args) != 1 {
		return process.TaskRequest{}, false
	}
	req, ok := in.Args[0].(process.TaskRequest)
	return req, ok
}

type workflowMetrics struct {
	interceptor.WorkflowInboundInterceptorBase
	t *telemetry.Telemetry
	// key is the process key of an interpreter instance, empty for other workflows.
	key string
	// since holds when each active element became active (workflow time); state the last state seen.
	since map[string]time.Time
	state string
	// tasks are the elements run by the task activity: the activity interceptor observes them.
	tasks map[string]bool
}

func (w *workflowMetrics) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return w.Next.Init(&workflowOutMetrics{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, w: w})
}

func (w *workflowMetrics) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	info := workflow.GetInfo(ctx)
	if info.WorkflowType.Name != process.WorkflowName {
		return w.Next.ExecuteWorkflow(ctx, in)
	}
	w.key = processKey(ctx, in)
	w.since, w.tasks = map[string]time.Time{}, map[string]bool{}
	if st, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(stateKey); ok {
		w.state = st
	}
	w.observe(ctx)
	if !workflow.IsReplaying(ctx) && info.ContinuedExecutionRunID == "" {
		w.t.ProcessStarted(w.key)
	}
	out, err := w.Next.ExecuteWorkflow(ctx, in)
	if workflow.IsReplaying(ctx) {
		return out, err
	}
	var can *workflow.ContinueAsNewError
	switch {
	case errors.As(err, &can):
	case err == nil:
		outcome := "completed"
		if r, ok := out.(process.Result); ok && r.State != "" {
			outcome = r.State
		}
		w.t.ProcessEnded(w.key, outcome)
	case temporal.IsCanceledError(err):
		w.t.ProcessEnded(w.key, "cancelled")
	default:
		w.t.ProcessEnded(w.key, "failed")
	}
	return out, err
}

// processKey reads the process key from the instance's input, or from its search attributes.
func processKey(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) string {
	if len(in.Args) == 1 {
		if pin, ok := in.Args[0].(process.Input); ok {
			if pin.Ref.Key != "" {
				return pin.Ref.Key
			}
			if pin.Model != nil {
				return pin.Model.ProcessID
			}
		}
	}
	if k, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(keyKey); ok {
		return k
	}
	return "unknown"
}

// observe compares the active elements and the state with what was seen before: elements that left
// are observed with the time they were active, a state turning to incident is counted.
func (w *workflowMetrics) observe(ctx workflow.Context) {
	if w.since == nil {
		return
	}
	sa := workflow.GetTypedSearchAttributes(ctx)
	active, _ := sa.GetKeywordList(activeKey)
	now := workflow.Now(ctx)
	live := !workflow.IsReplaying(ctx)
	for _, el := range slices.Sorted(maps.Keys(w.since)) { // sorted: workflow code never depends on map order
		if since := w.since[el]; !slices.Contains(active, el) {
			delete(w.since, el)
			if live && !w.tasks[el] {
				w.t.ElementLeft(w.key, el, now.Sub(since))
			}
		}
	}
	for _, el := range active {
		if _, ok := w.since[el]; !ok {
			w.since[el] = now
		}
	}
	if st, ok := sa.GetKeyword(stateKey); ok && st != w.state {
		if st == process.StateIncident && live {
			w.t.Incident(w.key)
		}
		w.state = st
	}
}

type workflowOutMetrics struct {
	interceptor.WorkflowOutboundInterceptorBase
	w *workflowMetrics
}

func (o *workflowOutMetrics) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if o.w.tasks != nil && activityType == process.TaskActivityName && len(args) == 1 {
		if req, ok := args[0].(process.TaskRequest); ok {
			o.w.tasks[req.Element] = true
		}
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func (o *workflowOutMetrics) UpsertTypedSearchAttributes(ctx workflow.Context, attrs ...temporal.SearchAttributeUpdate) error {
	err := o.Next.UpsertTypedSearchAttributes(ctx, attrs...)
	if err == nil {
		o.w.observe(ctx)
	}
	return err
}
