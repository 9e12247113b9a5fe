package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/workflows/instances"
)

// Bulk operations: any instance operation over the instances of a list filter, first as a dry run (the
// count and a sample), then as a batch (workflows/instances: a durable workflow with progress,
// per-instance results, a rate limit and cancellation). The caller must operate the filter's process:
// a filter without a process key is for administrators only.

type batchBody struct {
	Filter    instances.Filter    `json:"filter"`
	Operation instances.Operation `json:"operation"`
	Rate      float64             `json:"rate,omitempty" minimum:"0" maximum:"50" doc:"Instances per second (default 5)."`
}

type batchInput struct {
	Body batchBody
}

type batchIDInput struct {
	ID string `path:"id" maxLength:"100"`
}

// BatchStarted names a started batch.
type BatchStarted struct {
	ID string `json:"id" doc:"Read its progress at GET /api/v1/batches/{id}."`
}

func (s *Server) registerBatches() {
	tags := []string{"instances"}
	Register(s, huma.Operation{OperationID: "preview-batch", Method: http.MethodPost, Path: "/api/v1/batches/preview", Tags: tags,
		Summary: "Dry-run a bulk operation", Description: "How many instances the filter selects and a sample of them; nothing changes."},
		Access{Permission: access.InstancesOperate}, s.previewBatch)
	Register(s, huma.Operation{OperationID: "start-batch", Method: http.MethodPost, Path: "/api/v1/batches", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Start a bulk operation",
		Description: "Applies the operation to every instance the filter selects when the batch starts (at most 1,000), one at a time at the given rate, " +
			"each audited with the reason. Needs instances.operate and ownership of the filter's process."},
		Access{Permission: access.InstancesOperate}, s.startBatch)
	Register(s, huma.Operation{OperationID: "get-batch", Method: http.MethodGet, Path: "/api/v1/batches/{id}", Tags: tags,
		Summary: "A bulk operation's progress", Description: "Counts and a result per instance operated so far."},
		Access{Permission: access.InstancesOperate}, s.getBatch)
	Register(s, huma.Operation{OperationID: "cancel-batch", Method: http.MethodPost, Path: "/api/v1/batches/{id}/cancel", Tags: tags,
		Summary: "Cancel a bulk operation", Description: "Stops it between two instances: those done stay done, the rest are not touched."},
		Access{Permission: access.InstancesOperate}, s.cancelBatch)
}

// mayOperateFilter: administrators operate any filter; others a filter naming a process they own.
func (s *Server) mayOperateFilter(ctx context.Context, f instances.Filter) error {
	p := PrincipalFrom(ctx)
	if s.allows(p, "*") {
		return nil
	}
	if f.ProcessKey == "" {
		return Typed(http.StatusForbidden, "not-an-owner", "a bulk operation names the process (filter.processKey) it operates, unless an administrator runs it")
	}
	d, err := s.deps.Processes.Get(ctx, f.ProcessKey)
	if err != nil || !d.OperableBy(p.Subject(), func(perm string) bool { return s.allows(p, perm) }) {
		return Typed(http.StatusForbidden, "not-an-owner", "only the owners of process "+f.ProcessKey+" (and administrators) operate its instances")
	}
	return nil
}

func (s *Server) batchRequest(ctx context.Context, b batchBody) (instances.BatchRequest, error) {
	if err := s.mayOperateFilter(ctx, b.Filter); err != nil {
		return instances.BatchRequest{}, err
	}
	return instances.BatchRequest{Filter: b.Filter, Operation: b.Operation, By: PrincipalFrom(ctx).User.ID, Rate: b.Rate}, nil
}

func (s *Server) previewBatch(ctx context.Context, in *batchInput) (*struct{ Body instances.BatchPreview }, error) {
	req, err := s.batchRequest(ctx, in.Body)
	if err != nil {
		return nil, err
	}
	pv, err := s.deps.Instances.PreviewBatch(ctx, req)
	if err != nil {
		return nil, instanceError(err, "")
	}
	return &struct{ Body instances.BatchPreview }{Body: pv}, nil
}

func (s *Server) startBatch(ctx context.Context, in *batchInput) (*struct{ Body BatchStarted }, error) {
	req, err := s.batchRequest(ctx, in.Body)
	if err != nil {
		return nil, err
	}
	id, err := s.deps.Instances.StartBatch(ctx, req)
	if err != nil {
		return nil, instanceError(err, "")
	}
	s.record(ctx, audit.Event{Action: "batch.start", Outcome: audit.OutcomeSuccess, Reason: req.Operation.Reason,
		Target: audit.Target{Type: "batch", ID: id}, Details: map[string]any{"kind": req.Operation.Kind, "filter": req.Filter, "rate": req.Rate}})
	return &struct{ Body BatchStarted }{Body: BatchStarted{ID: id}}, nil
}

// ownBatch reads a batch the caller started (any batch for an administrator); another's answers 404.
func (s *Server) ownBatch(ctx context.Context, id string) (instances.BatchProgress, error) {
	p := PrincipalFrom(ctx)
	pr, err := s.deps.Instances.Batch(ctx, id)
	if err != nil {
		if errors.Is(err, instances.ErrNotFound) {
			return instances.BatchProgress{}, NewProblem(http.StatusNotFound, "no batch "+id)
		}
		return instances.BatchProgress{}, err
	}
	if pr.By != p.User.ID && !s.allows(p, "*") {
		return instances.BatchProgress{}, NewProblem(http.StatusNotFound, "no batch "+id)
	}
	return pr, nil
}

func (s *Server) getBatch(ctx context.Context, in *batchIDInput) (*struct{ Body instances.BatchProgress }, error) {
	pr, err := s.ownBatch(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &struct{ Body instances.BatchProgress }{Body: pr}, nil
}

func (s *Server) cancelBatch(ctx context.Context, in *batchIDInput) (*struct{ Body instances.BatchProgress }, error) {
	if _, err := s.ownBatch(ctx, in.ID); err != nil {
		return nil, err
	}
	if err := s.deps.Instances.CancelBatch(ctx, in.ID); err != nil {
		return nil, instanceError(err, in.ID)
	}
	s.record(ctx, audit.Event{Action: "batch.cancel", Outcome: audit.OutcomeSuccess, Target: audit.Target{Type: "batch", ID: in.ID}})
	pr, err := s.ownBatch(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return &struct{ Body instances.BatchProgress }{Body: pr}, nil
}
