package instances

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/engine/inbox"
	"github.com/rapportcrm/rapport/workflows/process"
)

// InboxStore is the materialised inbox as the service writes it: terminated instances removed, and a
// rebuild from the running instances; inbox.Store implements it.
type InboxStore interface {
	Apply(ctx context.Context, snap inbox.Snapshot) error
	Instances(ctx context.Context) ([]string, error)
	Remove(ctx context.Context, instance string) error
}

// Rebuilt says what a rebuild of the inbox did.
type Rebuilt struct {
	Written int `json:"written" doc:"Running instances whose open user tasks were written."`
	Removed int `json:"removed" doc:"Instances the inbox held tasks of that are not running any more."`
}

// RebuildInbox makes the inbox mirror the running instances again (after the inbox store was lost or
// an instance could not write to it): every running instance with open user tasks is asked for them
// (one query per instance, so this is maintenance, not a read path) and written at the sequence number
// the instance gave them, and the instances the inbox holds that no longer run are removed.
func (s *Service) RebuildInbox(ctx context.Context) (Rebuilt, error) {
	var out Rebuilt
	if s.Inbox == nil {
		return out, errors.New("no inbox store")
	}
	running := map[string]bool{}
	q := "WorkflowType = '" + process.WorkflowName + "' AND ExecutionStatus = 'Running' AND RapportAssignees IS NOT NULL"
	var token []byte
	for {
		resp, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace, PageSize: MaxPage,
			NextPageToken: token, Query: q})
		if err != nil {
			return out, fmt.Errorf("rebuild the inbox: list instances: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			id := ex.GetExecution().GetWorkflowId()
			val, err := s.Temporal.QueryWorkflow(ctx, id, "", process.QueryInbox)
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				continue // ended meanwhile
			}
			if err != nil {
				return out, fmt.Errorf("rebuild the inbox: ask %s: %w", id, err)
			}
			var snap process.InboxSnapshot
			if err := val.Get(&snap); err != nil {
				return out, fmt.Errorf("rebuild the inbox: decode %s: %w", id, err)
			}
			if err := s.Inbox.Apply(ctx, snap.Inbox()); err != nil {
				return out, err
			}
			running[id] = true
			out.Written++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	held, err := s.Inbox.Instances(ctx)
	if err != nil {
		return out, err
	}
	for _, id := range held {
		if running[id] {
			continue
		}
		// Running without assignees (its tasks offered to nobody) or started after the list: current.
		if ex, err := s.Describe(ctx, id); err == nil && ex.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		if err := s.Inbox.Remove(ctx, id); err != nil {
			return out, err
		}
		out.Removed++
	}
	return out, nil
}
