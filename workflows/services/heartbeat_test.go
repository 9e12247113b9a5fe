package services_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/workflows/process"
	"github.com/rapportcrm/rapport/workflows/services"
)

// TestHeartbeats: a process task run by the interpreter's queue is scheduled with the heartbeat timeout
// and heartbeats while it runs, so a task longer than the timeout completes; a task sent to another
// queue (an external task, whose workers do not heartbeat) and another activity type get no timeout.
func TestHeartbeats(t *testing.T) {
	const queue = "default-test-taskqueue" // the test environment's: the workflow's own queue
	hb := services.Heartbeats{Timeout: 400 * time.Millisecond, Every: 50 * time.Millisecond}
	cases := []struct {
		name     string
		activity string
		queue    string
		want     time.Duration
		beats    bool
	}{
		{"a process task on the interpreter's queue", process.TaskActivityName, "", hb.Timeout, true},
		{"the same, the queue named", process.TaskActivityName, queue, hb.Timeout, true},
		{"an external task's queue", process.TaskActivityName, "external-workers", 0, false},
		{"another activity", "rapport.other", "", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{hb.Interceptor()}})
			var beats atomic.Int32
			env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })
			// The task runs for longer than the heartbeat timeout.
			env.RegisterActivityWithOptions(func(ctx context.Context) (time.Duration, error) {
				time.Sleep(3 * hb.Timeout)
				return activity.GetInfo(ctx).HeartbeatTimeout, nil
			}, activity.RegisterOptions{Name: c.activity})
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (time.Duration, error) {
				ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, TaskQueue: c.queue})
				var got time.Duration
				err := workflow.ExecuteActivity(ctx, c.activity).Get(ctx, &got)
				return got, err
			}, workflow.RegisterOptions{Name: "heartbeats"})
			env.ExecuteWorkflow("heartbeats")
			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("the task failed: %v", err)
			}
			var got time.Duration
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("heartbeat timeout %s, want %s", got, c.want)
			}
			if n := beats.Load(); (n > 0) != c.beats {
				t.Errorf("%d heartbeats; want some: %v", n, c.beats)
			}
		})
	}
}
