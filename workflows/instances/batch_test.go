package instances

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
)

// TestBatchWorkflow: a batch operates the selected instances one at a time at its rate, counts refusals,
// and when cancelled between two instances leaves the rest untouched.
func TestBatchWorkflow(t *testing.T) {
	cases := []struct {
		name     string
		cancelAt time.Duration // 0: never
		applied  []string
		state    string
	}{
		{name: "runs to the end", applied: []string{"a", "b", "c", "d"}, state: BatchCompleted},
		{name: "cancelled in the middle", cancelAt: 1500 * time.Millisecond, applied: []string{"a", "b"}, state: BatchCancelled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			var applied []string
			env.RegisterWorkflowWithOptions(BatchWorkflow, workflowOptions())
			env.RegisterActivityWithOptions(func(context.Context, Filter) ([]string, error) { return []string{"a", "b", "c", "d"}, nil },
				activity.RegisterOptions{Name: BatchSelectActivity})
			env.RegisterActivityWithOptions(func(_ context.Context, id string, op Operation, by string) (BatchResult, error) {
				applied = append(applied, id)
				if id == "b" {
					return BatchResult{Instance: id, Result: ResultRefused, Message: "the instance is suspended already"}, nil
				}
				return BatchResult{Instance: id, Result: ResultDone}, nil
			}, activity.RegisterOptions{Name: BatchApplyActivity})
			if c.cancelAt > 0 {
				env.RegisterDelayedCallback(env.CancelWorkflow, c.cancelAt)
			}
			env.ExecuteWorkflow(BatchWorkflowName, BatchRequest{Operation: Operation{Kind: OpSuspend, Reason: "freeze"}, By: "u1", Rate: 1})
			var p BatchProgress
			if err := env.GetWorkflowResult(&p); err != nil {
				t.Fatal(err)
			}
			if p.State != c.state || p.Total != 4 || p.Processed != len(c.applied) || p.Refused != 1 || p.Done != len(c.applied)-1 {
				t.Fatalf("progress %+v", p)
			}
			if len(applied) != len(c.applied) {
				t.Fatalf("applied to %v, want %v", applied, c.applied)
			}
			val, err := env.QueryWorkflow(BatchQuery)
			if err != nil {
				t.Fatal(err)
			}
			var q BatchProgress
			if err := val.Get(&q); err != nil {
				t.Fatal(err)
			}
			if want := len(c.applied) * 100 / 4; q.Percent != want {
				t.Fatalf("percent %d, want %d", q.Percent, want)
			}
		})
	}
}
