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
	"go.temporal.io/sdk/converter"
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

// waitPause is the timer of the waiting benchmark: short, so the figure is the engine's work around
// the wait rather than the wait itself.
const waitPause = 200 * time.Millisecond

// HandwrittenWaiting is the baseline of the waiting benchmark: a timer, then a wait for a "complete"
// update, written by hand. The "waiting" query says when the update is expected.
func HandwrittenWaiting(ctx workflow.Context) error {
	var waiting, done bool
	if err := workflow.SetQueryHandler(ctx, "waiting", func() (bool, error) { return waiting, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, "complete", func(workflow.Context) error { done = true; return nil }); err != nil {
		return err
	}
	if err := workflow.Sleep(ctx, waitPause); err != nil {
		return err
	}
	waiting = true
	return workflow.Await(ctx, func() bool { return done })
}

// waiting is a process with a timer of waitPause and then a user task.
func waiting(t testing.TB) *bpmn.Model {
	body := `<bpmn:startEvent id="Start"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
<bpmn:intermediateCatchEvent id="Pause"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
<bpmn:userTask id="Confirm"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Pause" />
<bpmn:sequenceFlow id="F1" sourceRef="Pause" targetRef="Confirm" />
<bpmn:sequenceFlow id="F2" sourceRef="Confirm" targetRef="End" />`
	return parse(t, []byte(doc("waiting", body, "")), "waiting")
}

// untilReady queries the instance every 10 ms until ready returns a non-empty answer (a task to
// complete), for at most a minute.
func untilReady(ctx context.Context, c client.Client, id, query string, ready func(converter.EncodedValue) string) (string, error) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		v, err := c.QueryWorkflow(ctx, id, "", query)
		if err != nil {
			continue
		}
		if answer := ready(v); answer != "" {
			return answer, nil
		}
	}
	return "", fmt.Errorf("instance %s: not ready after a minute", id)
}

// completeWith starts the instance, waits until it is ready for the update, sends it and returns the
// run, whose end the caller awaits.
func completeWith(ctx context.Context, c client.Client, run client.WorkflowRun, query string, ready func(converter.EncodedValue) string, update func(string) (string, []any)) (client.WorkflowRun, error) {
	answer, err := untilReady(ctx, c, run.GetID(), query, ready)
	if err != nil {
		return nil, err
	}
	name, args := update(answer)
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: name, Args: args,
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	return run, err
}

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
	for _, k := range []int{1, 5, 20} {
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
	// A timer, then a user task completed as soon as it is open: the waits a process spends most of its
	// life in, and the query and update that serve the inbox.
	wait := waiting(b)
	b.Run("timer+usertask/process", func(b *testing.B) {
		throughput(b, s.c, func(ctx context.Context, opts client.StartWorkflowOptions) (client.WorkflowRun, error) {
			in := process.Input{Model: wait}
			opts.TypedSearchAttributes = process.SearchAttributes(in)
			run, err := s.c.ExecuteWorkflow(ctx, opts, process.WorkflowName, in)
			if err != nil {
				return nil, err
			}
			return completeWith(ctx, s.c, run, process.QueryState, func(v converter.EncodedValue) string {
				var snap process.Snapshot
				if v.Get(&snap) != nil || len(snap.UserTasks) == 0 {
					return ""
				}
				return snap.UserTasks[0].ID
			}, func(task string) (string, []any) {
				return process.UpdateCompleteTask, []any{process.CompleteTaskRequest{TaskID: task}}
			})
		})
	})
	b.Run("timer+usertask/handwritten", func(b *testing.B) {
		throughput(b, s.c, func(ctx context.Context, opts client.StartWorkflowOptions) (client.WorkflowRun, error) {
			run, err := s.c.ExecuteWorkflow(ctx, opts, HandwrittenWaiting)
			if err != nil {
				return nil, err
			}
			return completeWith(ctx, s.c, run, "waiting", func(v converter.EncodedValue) string {
				var ok bool
				if v.Get(&ok) != nil || !ok {
					return ""
				}
				return "ready"
			}, func(string) (string, []any) { return "complete", nil })
		})
	})
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
