package instances

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/workflows/process"
)

// A bulk operation is a batch: one Temporal workflow that selects the instances of a filter once, when
// it starts, and applies one operation to them at a bounded rate, so a bulk operation cannot swamp the
// worker. It survives restarts (Temporal resumes it where it was), answers its progress and
// per-instance results to a query, and stops between two instances when it is cancelled: the
// instances begun are finished and counted, the rest are left untouched.
//
// Pacing (version "batch-pacing" 1): instance n is begun no earlier than n/rate seconds after the
// first, with at most MaxInFlight operations running at once, so the rate bounds the load and a slow
// operation does not slow the batch below it. Batches started before that version sleep 1/rate before
// each instance after the first, one instance at a time, so each instance costs its operation plus
// the sleep (measured: 3 min 38 s for 200 retries at the default rate); they keep doing so on replay.

// Names of the batch workflow, its activities and its progress query.
const (
	BatchWorkflowName   = "rapport-batch"
	BatchSelectActivity = "rapport-batch-select"
	BatchApplyActivity  = "rapport-batch-apply"
	BatchQuery          = "progress"
)

// MaxBatch bounds the instances of one batch (one workflow history; a larger bulk operation is several
// batches over narrower filters).
const MaxBatch = 1000

// DefaultRate is how many instances a batch operates per second unless told otherwise; MaxRate bounds it.
const (
	DefaultRate = 5.0
	MaxRate     = 50.0
)

// MaxInFlight bounds the operations a paced batch runs at once: at most the rate (rounded up), never
// more than this.
const MaxInFlight = 8

// pacingVersion names the workflow.GetVersion change from a fixed sleep per instance to pacing.
const pacingVersion = "batch-pacing"

// BatchRequest starts a batch: the filter choosing the instances, the operation (with its reason), who
// operates, and the rate.
type BatchRequest struct {
	Filter    Filter    `json:"filter"`
	Operation Operation `json:"operation"`
	By        string    `json:"by"`
	Rate      float64   `json:"rate,omitempty"`
}

// Batch results per instance.
const (
	ResultDone    = "done"
	ResultRefused = "refused"
	ResultFailed  = "failed"
)

// BatchResult is what the operation did to one instance.
type BatchResult struct {
	Instance string `json:"instance"`
	Result   string `json:"result" enum:"done,refused,failed"`
	Message  string `json:"message,omitempty"`
}

// Batch states.
const (
	BatchSelecting = "selecting"
	BatchRunning   = "running"
	BatchCompleted = "completed"
	BatchCancelled = "cancelled"
)

// BatchProgress is a batch's state: how many instances it selected, how many it has operated and
// with which result.
type BatchProgress struct {
	State     string `json:"state" enum:"selecting,running,completed,cancelled"`
	Kind      string `json:"kind"`
	Reason    string `json:"reason"`
	By        string `json:"by"`
	Total     int    `json:"total"`
	Processed int    `json:"processed"`
	// Percent is Processed of Total in whole per cent (100 for a batch that selected nothing and ended).
	Percent int           `json:"percent"`
	Done    int           `json:"done"`
	Refused int           `json:"refused"`
	Failed  int           `json:"failed"`
	Results []BatchResult `json:"results"`
}

// BatchWorkflow runs a batch (see the top of this file).
func BatchWorkflow(ctx workflow.Context, req BatchRequest) (BatchProgress, error) {
	p := BatchProgress{State: BatchSelecting, Kind: req.Operation.Kind, Reason: req.Operation.Reason, By: req.By, Results: []BatchResult{}}
	if err := workflow.SetQueryHandler(ctx, BatchQuery, func() (BatchProgress, error) { return p.withPercent(), nil }); err != nil {
		return p, fmt.Errorf("set progress query: %w", err)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * UpdateTimeout,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	applyCtx, _ := workflow.NewDisconnectedContext(actx)
	var ids []string
	if err := workflow.ExecuteActivity(actx, BatchSelectActivity, req.Filter).Get(ctx, &ids); err != nil {
		if temporal.IsCanceledError(err) {
			p.State = BatchCancelled
			return p, nil
		}
		return p, fmt.Errorf("select instances: %w", err)
	}
	p.State, p.Total = BatchRunning, len(ids)
	rate := req.Rate
	if rate <= 0 {
		rate = DefaultRate
	}
	rate = min(rate, MaxRate)
	gap := time.Duration(float64(time.Second) / rate)
	apply := func(id string) workflow.Future {
		return workflow.ExecuteActivity(applyCtx, BatchApplyActivity, id, req.Operation, req.By)
	}
	if workflow.GetVersion(ctx, pacingVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		for i, id := range ids {
			if ctx.Err() != nil {
				break
			}
			if i > 0 {
				if err := workflow.Sleep(ctx, gap); err != nil {
					break // cancelled while waiting: the rest stay untouched
				}
			}
			// An instance begun is finished and counted even when the batch is cancelled meanwhile.
			p.count(id, apply(id), applyCtx)
		}
	} else {
		paced(ctx, applyCtx, &p, ids, gap, min(MaxInFlight, int(math.Ceil(rate))), apply)
	}
	p.State = BatchCompleted
	if ctx.Err() != nil {
		p.State = BatchCancelled
	}
	return p, nil
}

// paced applies the operation to ids, beginning instance n no earlier than n gaps after the first and
// keeping at most inFlight running; it stops beginning instances when ctx is cancelled and returns
// once those begun have finished (they run on applyCtx, which the cancellation does not reach).
func paced(ctx, applyCtx workflow.Context, p *BatchProgress, ids []string, gap time.Duration, inFlight int, apply func(string) workflow.Future) {
	sel := workflow.NewSelector(ctx)
	running := 0
	next := workflow.Now(ctx)
	for i := 0; i < len(ids) && ctx.Err() == nil; {
		if running >= inFlight {
			sel.Select(applyCtx)
			continue
		}
		if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
			fired := false
			sel.AddFuture(workflow.NewTimer(ctx, wait), func(workflow.Future) { fired = true }) // also when cancelled
			for !fired {
				sel.Select(applyCtx)
			}
			continue
		}
		id := ids[i]
		i++
		running++
		sel.AddFuture(apply(id), func(f workflow.Future) {
			running--
			p.count(id, f, applyCtx)
		})
		next = next.Add(gap)
	}
	for running > 0 {
		sel.Select(applyCtx)
	}
}

// count records the result of one instance's operation.
func (p *BatchProgress) count(id string, f workflow.Future, ctx workflow.Context) {
	var res BatchResult
	if err := f.Get(ctx, &res); err != nil {
		res = BatchResult{Instance: id, Result: ResultFailed, Message: err.Error()}
	}
	p.Processed++
	switch res.Result {
	case ResultDone:
		p.Done++
	case ResultRefused:
		p.Refused++
	default:
		p.Failed++
	}
	p.Results = append(p.Results, res)
}

// withPercent is the progress with Percent filled in.
func (p BatchProgress) withPercent() BatchProgress {
	switch {
	case p.Total > 0:
		p.Percent = p.Processed * 100 / p.Total
	case p.State == BatchCompleted:
		p.Percent = 100
	}
	return p
}

// BatchActivities select and operate the instances of batches.
type BatchActivities struct {
	Service *Service
	// Audit records each instance's change, as the API does for one; nil records nothing.
	Audit audit.Recorder
}

// Select lists the instances of a filter, at most MaxBatch (one visibility query per page).
func (a *BatchActivities) Select(ctx context.Context, f Filter) ([]string, error) {
	var ids []string
	cursor := ""
	for len(ids) < MaxBatch {
		page, err := a.Service.List(ctx, f, MaxPage, cursor)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if len(ids) < MaxBatch {
				ids = append(ids, it.ID)
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	return ids, nil
}

// Apply operates one instance and audits it; a refusal is a result, not an error (it is not retried).
func (a *BatchActivities) Apply(ctx context.Context, id string, op Operation, by string) (BatchResult, error) {
	op.By = by // not part of an operation's JSON
	out, err := a.Service.Apply(ctx, id, op)
	var refused *Refused
	var malformed *OperationError
	batch := activity.GetInfo(ctx).WorkflowExecution.ID
	e := audit.Event{Action: "instance." + op.Kind, Reason: op.Reason, Actor: audit.Actor{ID: op.By, Via: "batch:" + batch},
		Target: audit.Target{Type: "instance", ID: id}, Details: map[string]any{"batch": batch}}
	res := BatchResult{Instance: id, Result: ResultDone}
	switch {
	case err == nil:
		e.Outcome, e.Before, e.After = audit.OutcomeSuccess, out.Before, out.After
	case errors.As(err, &refused), errors.As(err, &malformed), errors.Is(err, ErrNotFound):
		e.Outcome = audit.OutcomeFailure
		e.Details["refused"] = err.Error()
		res = BatchResult{Instance: id, Result: ResultRefused, Message: err.Error()}
	default:
		return BatchResult{}, err
	}
	if a.Audit != nil {
		if aerr := a.Audit.Record(ctx, e); aerr != nil {
			activity.GetLogger(ctx).Error("audit a batch operation", "instance", id, "error", aerr)
		}
	}
	return res, nil
}

func workflowOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: BatchWorkflowName}
}

// RegisterBatches registers the batch workflow and its activities with a worker.
func RegisterBatches(w worker.Registry, a *BatchActivities) {
	w.RegisterWorkflowWithOptions(BatchWorkflow, workflowOptions())
	w.RegisterActivityWithOptions(a.Select, activity.RegisterOptions{Name: BatchSelectActivity})
	w.RegisterActivityWithOptions(a.Apply, activity.RegisterOptions{Name: BatchApplyActivity})
}

// BatchPreview is the dry run of a batch: how many instances the filter selects now (at most MaxBatch
// are operated) and a sample of them.
type BatchPreview struct {
	Count  int64     `json:"count"`
	Limit  int       `json:"limit" doc:"At most this many are operated by one batch."`
	Sample []Summary `json:"sample"`
	// Plans are, for a migration, whether each sampled instance can move, its element mapping and what
	// blocks it.
	Plans []InstancePlan `json:"plans,omitempty"`
}

// InstancePlan is one instance's migration preview.
type InstancePlan struct {
	Instance string                `json:"instance"`
	Plan     process.MigrationPlan `json:"plan"`
}

// PreviewBatch counts a filter's instances and lists the first few (two visibility queries), and for a
// migration previews each of those; nothing changes.
func (s *Service) PreviewBatch(ctx context.Context, req BatchRequest) (BatchPreview, error) {
	if err := req.check(); err != nil {
		return BatchPreview{}, err
	}
	n, err := s.count(ctx, req.Filter)
	if err != nil {
		return BatchPreview{}, err
	}
	page, err := s.List(ctx, req.Filter, 10, "")
	if err != nil {
		return BatchPreview{}, err
	}
	pv := BatchPreview{Count: n, Limit: MaxBatch, Sample: page.Items}
	if req.Operation.Kind == OpMigrate {
		for _, it := range page.Items {
			plan, err := s.PreviewMigration(ctx, it.ID, req.Operation.ToVersion, req.Operation.Mapping)
			if err != nil {
				return BatchPreview{}, err
			}
			pv.Plans = append(pv.Plans, InstancePlan{Instance: it.ID, Plan: plan})
		}
	}
	return pv, nil
}

func (req BatchRequest) check() error {
	if err := req.Operation.Check(); err != nil {
		var oe *OperationError
		if errors.As(err, &oe) {
			oe.Field = "operation/" + oe.Field
		}
		return err
	}
	if req.Rate < 0 || req.Rate > MaxRate {
		return &OperationError{Field: "rate", Msg: fmt.Sprintf("want between 0 (the default, %g a second) and %g a second", DefaultRate, MaxRate)}
	}
	if _, err := req.Filter.Query(); err != nil {
		var fe *FilterError
		if errors.As(err, &fe) {
			return &OperationError{Field: "filter/" + fe.Param, Msg: fe.Msg}
		}
		return err
	}
	return nil
}

// StartBatch starts a batch and returns its ID.
func (s *Service) StartBatch(ctx context.Context, req BatchRequest) (string, error) {
	if err := req.check(); err != nil {
		return "", err
	}
	id := "batch:" + uuid.NewString()
	if _, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.TaskQueue}, BatchWorkflowName, req); err != nil {
		return "", fmt.Errorf("start batch: %w", err)
	}
	return id, nil
}

// Batch reads a batch's progress (ErrNotFound for an ID that is not a batch).
func (s *Service) Batch(ctx context.Context, id string) (BatchProgress, error) {
	if !strings.HasPrefix(id, "batch:") {
		return BatchProgress{}, ErrNotFound
	}
	val, err := s.Temporal.QueryWorkflow(ctx, id, "", BatchQuery)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return BatchProgress{}, ErrNotFound
		}
		return BatchProgress{}, fmt.Errorf("query batch %s: %w", id, err)
	}
	var p BatchProgress
	if err := val.Get(&p); err != nil {
		return BatchProgress{}, fmt.Errorf("decode batch %s: %w", id, err)
	}
	return p, nil
}

// CancelBatch stops a batch between two instances: those done stay done, the rest are not touched.
func (s *Service) CancelBatch(ctx context.Context, id string) error {
	if !strings.HasPrefix(id, "batch:") {
		return ErrNotFound
	}
	if err := s.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return ErrNotFound
		}
		return fmt.Errorf("cancel batch %s: %w", id, err)
	}
	return nil
}
