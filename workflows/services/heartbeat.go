package services

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/workflows/process"
)

// Heartbeats make a lost worker's tasks run again within seconds instead of minutes. A process task (a
// connector or plugin call, a record write, a rule) may take up to its start-to-close timeout (five
// minutes by default); when the worker running it dies, Temporal learns of it only when that timeout
// passes. With Heartbeats installed on the worker, the interpreter's task activities are scheduled with
// a heartbeat timeout (Timeout) and heartbeat every Every while they run, so a task whose worker
// stopped heartbeating is retried after Timeout on another worker, while a slow task that is alive
// keeps its full start-to-close timeout.
//
// Only tasks sent to the task queue of their instance (the workers that run the interpreter, and this
// interceptor) get the timeout: an external task is run by its own workers (the bridge, or a client's),
// which do not heartbeat.
type Heartbeats struct {
	// Timeout is the heartbeat timeout set on the tasks (DefaultHeartbeatTimeout when zero).
	Timeout time.Duration
	// Every is how often a running task heartbeats (a quarter of Timeout when zero).
	Every time.Duration
}

// DefaultHeartbeatTimeout is how long a process task may go without a heartbeat before Temporal retries
// it: a killed worker's task runs again after about this long.
const DefaultHeartbeatTimeout = 15 * time.Second

func (h Heartbeats) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return DefaultHeartbeatTimeout
}

func (h Heartbeats) every() time.Duration {
	if h.Every > 0 {
		return h.Every
	}
	return h.timeout() / 4
}

// Interceptor is the worker interceptor that sets the heartbeat timeout when a process schedules a task
// and heartbeats while the task runs. Install it on every worker of the interpreter's task queue.
func (h Heartbeats) Interceptor() interceptor.WorkerInterceptor { return &heartbeatInterceptor{h: h} }

type heartbeatInterceptor struct {
	interceptor.WorkerInterceptorBase
	h Heartbeats
}

func (i *heartbeatInterceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &heartbeatActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, h: i.h}
}

func (i *heartbeatInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &heartbeatWorkflow{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, h: i.h}
}

type heartbeatWorkflow struct {
	interceptor.WorkflowInboundInterceptorBase
	h Heartbeats
}

func (w *heartbeatWorkflow) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return w.Next.Init(&heartbeatOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, h: w.h})
}

type heartbeatOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	h Heartbeats
}

// ExecuteActivity gives a process task run on its instance's queue the heartbeat timeout. Timeouts are not part
// of what a replay compares, so histories recorded without it replay unchanged.
func (o *heartbeatOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if activityType == process.TaskActivityName {
		opts := workflow.GetActivityOptions(ctx)
		if opts.HeartbeatTimeout == 0 && (opts.TaskQueue == "" || opts.TaskQueue == workflow.GetInfo(ctx).TaskQueueName) {
			ctx = workflow.WithHeartbeatTimeout(ctx, o.h.timeout())
		}
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

type heartbeatActivity struct {
	interceptor.ActivityInboundInterceptorBase
	h Heartbeats
}

// ExecuteActivity heartbeats while a task with a heartbeat timeout runs; it stops when the task returns.
func (a *heartbeatActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	if info := activity.GetInfo(ctx); info.ActivityType.Name != process.TaskActivityName || info.HeartbeatTimeout <= 0 {
		return a.Next.ExecuteActivity(ctx, in)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(a.h.every())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return a.Next.ExecuteActivity(ctx, in)
}
