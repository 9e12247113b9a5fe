package analytics

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/rapportcrm/rapport/engine/analytics"
)

func TestInputPeriod(t *testing.T) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		in          Input
		first, last string
		bad         string
	}{
		{Input{}, "2025-03-11", "2026-03-10", ""},
		{Input{WindowDays: 30}, "2026-02-09", "2026-03-10", ""},
		{Input{WindowDays: 30, To: "2025-12-31"}, "2025-12-02", "2025-12-31", ""},
		{Input{From: "2025-01-01", To: "2025-12-31", WindowDays: 7}, "2025-01-01", "2025-12-31", ""},
		{Input{From: "2025-31-01"}, "", "", "from"},
	}
	for _, tc := range cases {
		p, err := tc.in.Period(now)
		var ie *analytics.InputError
		if tc.bad != "" {
			if !errors.As(err, &ie) || ie.Param != tc.bad {
				t.Errorf("%+v: %v, want an error on %s", tc.in, err, tc.bad)
			}
			continue
		}
		if err != nil || p.FirstDay() != tc.first || p.LastDay() != tc.last {
			t.Errorf("%+v: %s..%s %v, want %s..%s", tc.in, p.FirstDay(), p.LastDay(), err, tc.first, tc.last)
		}
	}
}

// TestRecomputeFixesThePeriodInTheWorkflow: the activity gets the workflow's start time, so a retried
// activity scores the same period; a bad input fails at once, without retries.
func TestRecomputeFixesThePeriodInTheWorkflow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	start := time.Date(2026, 1, 15, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		in      Input
		wantErr bool
	}{{"good", Input{Customer: "company", WindowDays: 10}, false}, {"bad date", Input{Customer: "company", To: "tomorrow"}, true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := s.NewTestWorkflowEnvironment()
			env.SetStartTime(start)
			calls := 0
			env.RegisterWorkflowWithOptions(Recompute, workflowOptions())
			env.RegisterActivityWithOptions(func(ctx context.Context, in activityInput) (*analytics.SegmentRun, error) {
				calls++
				p, err := in.Period()
				if err != nil {
					return nil, temporal.NewNonRetryableApplicationError(err.Error(), errInput, err)
				}
				if !in.Now.Equal(start) {
					t.Errorf("activity now %v, want the workflow's start %v", in.Now, start)
				}
				return &analytics.SegmentRun{Customer: in.Customer, Period: p}, nil
			}, activity.RegisterOptions{Name: ActivityName})
			env.ExecuteWorkflow(WorkflowName, tc.in)
			if !env.IsWorkflowCompleted() {
				t.Fatal("not completed")
			}
			err := env.GetWorkflowError()
			if tc.wantErr {
				if err == nil || calls != 1 {
					t.Errorf("error %v after %d attempts, want a failure after one", err, calls)
				}
				return
			}
			var run analytics.SegmentRun
			if err != nil || env.GetWorkflowResult(&run) != nil || run.Period.FirstDay() != "2026-01-06" || run.Period.LastDay() != "2026-01-15" {
				t.Errorf("run %+v %v", run, err)
			}
		})
	}
}
