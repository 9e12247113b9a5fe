// Package analytics is the Temporal side of Rapport's analytics: the segment run (scores every
// customer, decides and stores its segment) as a workflow started on demand or by a Temporal schedule,
// and the counts of process instances per state from Temporal's visibility.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/analytics"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/workflows/messages"
)

// Names the workflow and activity are registered under; they are part of recorded histories.
const (
	WorkflowName = "rapport.analytics.segments"
	ActivityName = "rapport.analytics.segments.run"
)

// Input configures a segment run.
type Input struct {
	// Customer is "company" or "contact".
	Customer string `json:"customer"`
	// From and To are the period's first and last days (YYYY-MM-DD); without To the period ends on the
	// day the run starts, without From it spans WindowDays (365 by default).
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	WindowDays int    `json:"windowDays,omitempty"`
	// Rules is the segment decision table's key; the shipped one when empty.
	Rules string `json:"rules,omitempty"`
	// User asked for the run; empty for scheduled runs. History names them.
	User string `json:"user,omitempty"`
}

// activityInput is Input with the workflow's start time, so the period is fixed by the workflow
// (deterministically), not by when the activity happens to run.
type activityInput struct {
	Input
	Now time.Time `json:"now"`
}

// Recompute is the workflow: one activity does the run, heartbeating its progress.
func Recompute(ctx workflow.Context, in Input) (*analytics.SegmentRun, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3, NonRetryableErrorTypes: []string{errInput}},
	})
	var run analytics.SegmentRun
	if err := workflow.ExecuteActivity(ctx, ActivityName, activityInput{Input: in, Now: workflow.Now(ctx)}).Get(ctx, &run); err != nil {
		return nil, fmt.Errorf("segment run for %s: %w", in.Customer, err)
	}
	return &run, nil
}

const errInput = "AnalyticsInput"

// Activities run segment runs with the analytics engine.
type Activities struct {
	Engine *analytics.Engine
}

// Run is the activity: the period from the input, then analytics.Engine.RecomputeSegments.
func (a *Activities) Run(ctx context.Context, in activityInput) (*analytics.SegmentRun, error) {
	p, err := in.Period()
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), errInput, err)
	}
	run, err := a.Engine.RecomputeSegments(ctx, analytics.SegmentParams{
		Customer: in.Customer, Period: p, Rules: in.Rules,
		Actor:    records.ChangedBy{User: in.User, Via: "analytics"},
		Progress: func(done int) { activity.RecordHeartbeat(ctx, done) },
	})
	var ie *analytics.InputError
	if errors.As(err, &ie) {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), errInput, err)
	}
	return run, err
}

// Period is the run's period on the day the run started.
func (in activityInput) Period() (analytics.Period, error) { return in.Input.Period(in.Now) }

// Period is the input's period for a run starting at now; it reports bad dates as analytics.InputError.
func (in Input) Period(now time.Time) (analytics.Period, error) {
	from := in.From
	if from == "" && in.WindowDays > 0 {
		p, err := analytics.ParsePeriod("", in.To, now)
		if err != nil {
			return p, err
		}
		from = p.To.AddDate(0, 0, -in.WindowDays).Format(time.DateOnly)
	}
	return analytics.ParsePeriod(from, in.To, now)
}

// Register adds the workflow and its activity to a worker under their stable names.
func Register(w worker.Registry, a *Activities) {
	w.RegisterWorkflowWithOptions(Recompute, workflowOptions())
	w.RegisterActivityWithOptions(a.Run, activity.RegisterOptions{Name: ActivityName})
}

func workflowOptions() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }

// RunID is the workflow ID of a customer entity's segment run: one at a time per entity.
func RunID(customer string) string { return "rapport-segments-" + customer }

// Start starts a segment run now, or joins the one already running for the entity.
func Start(ctx context.Context, c client.Client, taskQueue string, in Input) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: RunID(in.Customer), TaskQueue: taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, WorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("start the segment run: %w", err)
	}
	return run, nil
}

// RunStatus is a segment run as the API shows it.
type RunStatus struct {
	ID     string                `json:"id"`
	RunID  string                `json:"runId"`
	Status string                `json:"status" doc:"running, completed, failed, cancelled, terminated or timedOut"`
	Result *analytics.SegmentRun `json:"result,omitempty"`
	Error  string                `json:"error,omitempty"`
}

// Status describes the latest segment run of an entity; found is false when there never was one.
func Status(ctx context.Context, c client.Client, customer string) (RunStatus, bool, error) {
	id := RunID(customer)
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return RunStatus{}, false, nil
	}
	if err != nil {
		return RunStatus{}, false, fmt.Errorf("describe the segment run: %w", err)
	}
	info := d.GetWorkflowExecutionInfo()
	st := RunStatus{ID: id, RunID: info.GetExecution().GetRunId(), Status: statusName(info.GetStatus())}
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return st, true, nil
	}
	var res analytics.SegmentRun
	if err := c.GetWorkflow(ctx, id, st.RunID).Get(ctx, &res); err != nil {
		st.Error = err.Error()
	} else {
		st.Result = &res
	}
	return st, true, nil
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "cancelled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timedOut"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continuedAsNew"
	}
	return "unknown"
}

// ScheduleID is the Temporal schedule of a customer entity's segment runs.
func ScheduleID(customer string) string { return "rapport-analytics-segments-" + customer }

// Schedule runs segment runs for in.Customer every interval (or by a cron expression), replacing an
// earlier schedule; a run still going when the next is due makes that one skip.
func Schedule(ctx context.Context, c client.Client, taskQueue string, in Input, every time.Duration, cron string) error {
	sc := c.ScheduleClient()
	id := ScheduleID(in.Customer)
	if err := Unschedule(ctx, c, in.Customer); err != nil {
		return err
	}
	spec := client.ScheduleSpec{}
	if cron != "" {
		spec.CronExpressions = []string{cron}
	} else {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: every}}
	}
	in.User = ""
	memo := map[string]any{memoCron: cron}
	if cron == "" {
		memo = map[string]any{memoEvery: every.String()}
	}
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID: id, Spec: spec, Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{ID: RunID(in.Customer), Workflow: WorkflowName, Args: []any{in}, TaskQueue: taskQueue},
		Note:   "RFM segments of " + in.Customer + " records",
		Memo:   memo,
	})
	if err != nil {
		return fmt.Errorf("schedule segment runs: %w", err)
	}
	return nil
}

// The schedule's memo keeps what the schedule was given: the server turns a cron expression into a
// structured calendar and describes it only so.
const (
	memoCron  = "cron"
	memoEvery = "every"
)

// ScheduleView is a customer entity's segment schedule as it was set and as Temporal runs it.
type ScheduleView struct {
	Customer string `json:"customer"`
	// Every (a Go duration) or Cron is when it runs, as given when it was set.
	Every string `json:"every,omitempty"`
	Cron  string `json:"cron,omitempty"`
	// WindowDays and Rules are the runs' period length and decision table (defaults when empty).
	WindowDays int    `json:"windowDays,omitempty"`
	Rules      string `json:"rules,omitempty"`
	Paused     bool   `json:"paused"`
	// NextRuns are the next times it runs; LastRun when it last started a run.
	NextRuns []time.Time `json:"nextRuns"`
	LastRun  *time.Time  `json:"lastRun,omitempty"`
}

// CurrentSchedule describes the schedule of an entity's segment runs; found is false when there is none.
func CurrentSchedule(ctx context.Context, c client.Client, customer string) (view ScheduleView, found bool, err error) {
	d, err := c.ScheduleClient().GetHandle(ctx, ScheduleID(customer)).Describe(ctx)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return ScheduleView{}, false, nil
	}
	if err != nil {
		return ScheduleView{}, false, fmt.Errorf("read the segment schedule: %w", err)
	}
	view = ScheduleView{Customer: customer, Paused: d.Schedule.State != nil && d.Schedule.State.Paused, NextRuns: d.Info.NextActionTimes}
	if view.NextRuns == nil {
		view.NextRuns = []time.Time{}
	}
	dc := converter.GetDefaultDataConverter()
	if d.Memo != nil {
		for key, dst := range map[string]*string{memoCron: &view.Cron, memoEvery: &view.Every} {
			if p, ok := d.Memo.GetFields()[key]; ok {
				if err := dc.FromPayload(p, dst); err != nil {
					return ScheduleView{}, false, fmt.Errorf("read the segment schedule's %s: %w", key, err)
				}
			}
		}
	}
	if view.Every == "" && view.Cron == "" && d.Schedule.Spec != nil && len(d.Schedule.Spec.Intervals) > 0 {
		view.Every = d.Schedule.Spec.Intervals[0].Every.String()
	}
	if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok && len(a.Args) == 1 {
		var in Input
		if p, ok := a.Args[0].(*commonpb.Payload); ok && dc.FromPayload(p, &in) == nil {
			view.WindowDays, view.Rules = in.WindowDays, in.Rules
		}
	}
	if n := len(d.Info.RecentActions); n > 0 {
		last := d.Info.RecentActions[n-1].ActualTime
		view.LastRun = &last
	}
	return view, true, nil
}

// Unschedule removes the schedule of an entity's segment runs; a missing one is fine.
func Unschedule(ctx context.Context, c client.Client, customer string) error {
	err := c.ScheduleClient().GetHandle(ctx, ScheduleID(customer)).Delete(ctx)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("remove the segment schedule: %w", err)
	}
	return nil
}

// processWorkflow is the interpreter's workflow type (workflows/process.WorkflowName).
const processWorkflow = "rapport.process"

// InstanceStates counts a process's instances (one version, or all when version is 0) per state:
// running, waiting and incident among open instances (the interpreter's RapportState), completed and
// cancelled among finished ones, failed, terminated and timedOut as Temporal closed them.
func InstanceStates(ctx context.Context, c client.Client, namespace, key string, version int) (map[string]int64, error) {
	base := fmt.Sprintf("WorkflowType = '%s' AND RapportProcessKey = %s", processWorkflow, messages.Quote(key))
	if version > 0 {
		base += fmt.Sprintf(" AND RapportProcessVersion = %d", version)
	}
	queries := map[string][]string{
		"running":    {"ExecutionStatus = 'Running' AND RapportState = 'running'"},
		"waiting":    {"ExecutionStatus = 'Running' AND RapportState = 'waiting'"},
		"incident":   {"ExecutionStatus = 'Running' AND RapportState = 'incident'"},
		"completed":  {"ExecutionStatus = 'Completed' AND RapportState = 'completed'"},
		"cancelled":  {"ExecutionStatus = 'Completed' AND RapportState = 'cancelled'", "ExecutionStatus = 'Canceled'"},
		"failed":     {"ExecutionStatus = 'Failed'"},
		"terminated": {"ExecutionStatus = 'Terminated'"},
		"timedOut":   {"ExecutionStatus = 'TimedOut'"},
	}
	out := make(map[string]int64, len(queries))
	for state, qs := range queries {
		for _, q := range qs {
			resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: base + " AND " + q})
			if err != nil {
				return nil, fmt.Errorf("count %s instances of %s: %w", state, key, err)
			}
			out[state] += resp.GetCount()
		}
	}
	return out, nil
}
