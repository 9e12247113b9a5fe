package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/workflows"
	"github.com/rapportcrm/rapport/workflows/process"
)

// Handwritten is the baseline of the benchmark: k no-op activities in sequence, written by hand.
func Handwritten(ctx workflow.Context, k int) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	for i := range k {
		if err := workflow.ExecuteActivity(ctx, Noop, i).Get(ctx, nil); err != nil {
			return fmt.Errorf("activity %d: %w", i, err)
		}
	}
	return nil
}

// Noop is the baseline's activity.
func Noop(context.Context, int) error { return nil }

// chain builds a process of k no-op service tasks in sequence.
func chain(t testing.TB, k int) *bpmn.Model {
	var b strings.Builder
	b.WriteString(`<bpmn:startEvent id="Start"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>` + "\n")
	for i := range k {
		fmt.Fprintf(&b, `<bpmn:serviceTask id="T%d"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /></bpmn:extensionElements><bpmn:incoming>F%d</bpmn:incoming><bpmn:outgoing>F%d</bpmn:outgoing></bpmn:serviceTask>`+"\n", i, i, i+1)
		prev := "Start"
		if i > 0 {
			prev = fmt.Sprintf("T%d", i-1)
		}
		fmt.Fprintf(&b, `<bpmn:sequenceFlow id="F%d" sourceRef="%s" targetRef="T%d" />`+"\n", i, prev, i)
	}
	fmt.Fprintf(&b, `<bpmn:endEvent id="End"><bpmn:incoming>F%d</bpmn:incoming></bpmn:endEvent>`+"\n", k)
	fmt.Fprintf(&b, `<bpmn:sequenceFlow id="F%d" sourceRef="T%d" targetRef="End" />`+"\n", k, k-1)
	return parse(t, []byte(doc(fmt.Sprintf("chain%d", k), b.String(), "")), fmt.Sprintf("chain%d", k))
}

// BenchmarkInterpreter compares instances completed per second of a process with k no-op service
// tasks run by the interpreter with a hand-written workflow running k no-op activities, on the same
// embedded server and worker. The ratio process/handwritten is the interpreter's overhead.
func BenchmarkInterpreter(b *testing.B) {
	s := &stack{fails: map[string]int{}}
	reg := process.NewRegistry()
	reg.Register("notify", process.TaskHandlerFunc(func(context.Context, process.TaskRequest) (map[string]any, error) {
		return nil, nil
	}))
	s.start(b, reg, nil)
	// Warm the server (namespace caches, SQLite pages) with both kinds so the first sub-benchmark
	// measured is not penalised.
	warm := chain(b, 1)
	for range 30 {
		ctx := context.Background()
		opts := client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}
		if run, err := s.c.ExecuteWorkflow(ctx, opts, Handwritten, 1); err == nil {
			_ = run.Get(ctx, nil)
		}
		in := process.Input{Model: warm}
		opts.TypedSearchAttributes = process.SearchAttributes(in)
		if run, err := s.c.ExecuteWorkflow(ctx, opts, process.WorkflowName, in); err == nil {
			_ = run.Get(ctx, nil)
		}
	}
	for _, k := range []int{1, 5} {
		model := chain(b, k)
		b.Run(fmt.Sprintf("k=%d/process", k), func(b *testing.B) {
			throughput(b, s.c, func(ctx context.Context, opts client.StartWorkflowOptions) (client.WorkflowRun, error) {
				in := process.Input{Model: model}
				opts.TypedSearchAttributes = process.SearchAttributes(in)
				return s.c.ExecuteWorkflow(ctx, opts, process.WorkflowName, in)
			})
		})
		b.Run(fmt.Sprintf("k=%d/handwritten", k), func(b *testing.B) {
			throughput(b, s.c, func(ctx context.Context, opts client.StartWorkflowOptions) (client.WorkflowRun, error) {
				return s.c.ExecuteWorkflow(ctx, opts, Handwritten, k)
			})
		})
	}
}

// throughput starts b.N instances from 32 goroutines and reports instances completed per second.
func throughput(b *testing.B, c client.Client, start func(context.Context, client.StartWorkflowOptions) (client.WorkflowRun, error)) {
	ctx := context.Background()
	const starters = 32
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range starters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				run, err := start(ctx, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue})
				if err == nil {
					err = run.Get(ctx, nil)
				}
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d instances failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "instances/s")
}
