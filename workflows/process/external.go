// External tasks: service tasks of types Rapport does not run. Each is a Temporal activity named after
// the task type on the external task queue, so a worker written with any Temporal SDK implements it;
// the bridge below serves workers without one over REST (fetch and lock, complete, fail, BPMN error).

package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/externaltasks"
)

const (
	// ExternalTaskQueue is the default task queue of external tasks; Rapport's bridge polls it.
	ExternalTaskQueue = "rapport-external"
	// HeaderTaskQueue is the task header (zeebe:header key="taskQueue") that sends one task to another
	// queue: the one a Temporal SDK worker polls.
	HeaderTaskQueue = "taskQueue"
	// DefaultExternalTaskTimeout is how long a worker may hold one attempt of an external task.
	DefaultExternalTaskTimeout = 24 * time.Hour
	// ErrorTypeExternalFailed is the incident type of an external task a worker failed with no retries
	// left.
	ErrorTypeExternalFailed = "ExternalTaskFailed"
)

// ExternalTask is the one argument of an external task's activity, as JSON for workers in any
// language. The worker returns an object of variables (merged into the process unless the task maps
// its outputs, which then read it as `result`); an application error of type "BpmnError" whose first
// detail is the error code throws that BPMN error at the task; any other error is retried by the
// task's retry policy, then becomes an incident.
type ExternalTask struct {
	Type           string            `json:"type"`
	Element        string            `json:"element"`
	ProcessKey     string            `json:"processKey"`
	ProcessVersion int               `json:"processVersion,omitempty"`
	BusinessKey    string            `json:"businessKey,omitempty"`
	InstanceID     string            `json:"instanceId"`
	Headers        map[string]string `json:"headers,omitempty"`
	// Variables are the variables the task sees: the process's, with its input mappings over them.
	Variables map[string]any `json:"variables,omitempty"`
}

// externalTask builds the activity argument of an external task at token t.
func (r *runner) externalTask(t *Token, n *bpmn.Node, req TaskRequest) (*ExternalTask, error) {
	typ := n.Task.Type
	if n.Task.TypeExpression != "" {
		v, err := r.x.eval(n.Task.TypeExpression, r.vars(t), nil, r.now())
		if err != nil {
			return nil, fmt.Errorf("task type: %w", err)
		}
		s, ok := v.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("task type %s is %v, want the name of a task type", n.Task.Written, v)
		}
		typ = s
	}
	vars := maps.Clone(r.vars(t))
	if vars == nil {
		vars = map[string]any{}
	}
	maps.Copy(vars, req.Inputs)
	return &ExternalTask{Type: typ, Element: n.ID, ProcessKey: req.ProcessKey, ProcessVersion: req.ProcessVersion,
		BusinessKey: req.BusinessKey, InstanceID: req.WorkflowID, Headers: req.Headers, Variables: vars}, nil
}

// Bridge parks the external tasks of its queue in the store for REST workers: a dynamic activity
// (any type name) that completes asynchronously when a worker completes, fails or throws.
type Bridge struct {
	Store *externaltasks.Store
}

// RegisterBridge adds the bridge to a worker polling the external task queue.
func RegisterBridge(w worker.Registry, b *Bridge) {
	w.RegisterDynamicActivity(b.Park, activity.DynamicRegisterOptions{})
}

// Park stores the task with its token and leaves the activity waiting for a REST worker.
func (b *Bridge) Park(ctx context.Context, args converter.EncodedValues) (any, error) {
	info := activity.GetInfo(ctx)
	var in ExternalTask
	if err := args.Get(&in); err != nil {
		return nil, temporal.NewNonRetryableApplicationError("external task: unreadable argument: "+err.Error(), "BadArgument", nil)
	}
	t := externaltasks.Task{ID: ExternalTaskID(info.WorkflowExecution.ID, info.WorkflowExecution.RunID, info.ActivityID),
		Type: info.ActivityType.Name, Element: in.Element, ProcessKey: in.ProcessKey, ProcessVersion: in.ProcessVersion,
		BusinessKey: in.BusinessKey, InstanceID: info.WorkflowExecution.ID, Headers: in.Headers,
		Token: info.TaskToken, Attempt: int(info.Attempt), CreatedAt: time.Now().UTC()}
	if err := t.SetVars(in.Variables); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "BadArgument", nil)
	}
	if err := b.Store.Put(ctx, t); err != nil {
		return nil, err
	}
	return nil, activity.ErrResultPending
}

// ExternalTaskID names the parked task of an activity: stable across its attempts.
func ExternalTaskID(workflowID, runID, activityID string) string {
	sum := sha256.Sum256([]byte(workflowID + "\x00" + runID + "\x00" + activityID))
	return hex.EncodeToString(sum[:16])
}

// ExternalTasks is what REST workers do with parked tasks; each finishing operation completes the
// Temporal activity and then forgets the task.
type ExternalTasks struct {
	Store    *externaltasks.Store
	Temporal client.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// LockedTask is a task a worker fetched, with its variables.
type LockedTask struct {
	externaltasks.Task
	Variables map[string]any `json:"variables"`
}

func (e *ExternalTasks) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now().UTC()
}

// FetchAndLock locks up to max open tasks of the topics' types for the worker, oldest first. A task
// whose process no longer waits for it (cancelled, or interrupted by a boundary event) is dropped on
// the way.
func (e *ExternalTasks) FetchAndLock(ctx context.Context, workerID string, max int, topics []externaltasks.Topic) ([]LockedTask, error) {
	lock := map[string]time.Duration{}
	types := make([]string, 0, len(topics))
	for _, t := range topics {
		lock[t.Type] = t.LockDuration
		types = append(types, t.Type)
	}
	now := e.now()
	cands, err := e.Store.Candidates(ctx, types, now, 4*max)
	if err != nil {
		return nil, err
	}
	out := []LockedTask{}
	for _, c := range cands {
		if len(out) == max {
			break
		}
		t, ok, err := e.Store.Lock(ctx, c.ID, workerID, lock[c.Type], now)
		if err != nil {
			return out, err
		}
		if !ok {
			continue
		}
		// A heartbeat tells whether the activity still waits.
		if err := e.Temporal.RecordActivityHeartbeat(ctx, t.Token); err != nil {
			if temporal.IsCanceledError(err) { // acknowledge the cancellation, so the activity ends
				_ = e.Temporal.CompleteActivity(ctx, t.Token, nil, temporal.NewCanceledError())
			}
			if gone(err) || temporal.IsCanceledError(err) {
				if err := e.Store.Delete(ctx, t.ID); err != nil {
					return out, err
				}
				continue
			}
			return out, fmt.Errorf("external task %s: %w", t.ID, err)
		}
		vars, err := t.Vars()
		if err != nil {
			return out, err
		}
		out = append(out, LockedTask{Task: t, Variables: vars})
	}
	return out, nil
}

// Complete finishes a task the worker holds with its result variables.
func (e *ExternalTasks) Complete(ctx context.Context, id, workerID string, vars map[string]any) error {
	if vars == nil {
		vars = map[string]any{}
	}
	return e.finish(ctx, id, workerID, vars, nil)
}

// ThrowError throws a BPMN error at the task the worker holds (error boundary events catch it by
// code).
func (e *ExternalTasks) ThrowError(ctx context.Context, id, workerID, code, message string) error {
	if message == "" {
		message = code
	}
	return e.finish(ctx, id, workerID, nil, temporal.NewNonRetryableApplicationError(message, ErrorTypeBPMN, nil, code))
}

// Fail reports a failed attempt: with retries left the task is offered again after backoff; with
// none the task ends in an incident carrying the message, which an operator retries.
func (e *ExternalTasks) Fail(ctx context.Context, id, workerID, message string, retries int, backoff time.Duration) error {
	if retries > 0 {
		return e.Store.Retry(ctx, id, workerID, retries, message, backoff, e.now())
	}
	return e.finish(ctx, id, workerID, nil, temporal.NewNonRetryableApplicationError(message, ErrorTypeExternalFailed, nil))
}

// ExtendLock gives the worker d more from now.
func (e *ExternalTasks) ExtendLock(ctx context.Context, id, workerID string, d time.Duration) error {
	return e.Store.Extend(ctx, id, workerID, d, e.now())
}

// finish completes the activity of a task the worker holds and forgets the task.
func (e *ExternalTasks) finish(ctx context.Context, id, workerID string, result any, failure error) error {
	t, err := e.Store.Held(ctx, id, workerID, e.now())
	if err != nil {
		return err
	}
	if result != nil {
		err = e.Temporal.CompleteActivity(ctx, t.Token, result, nil)
	} else {
		err = e.Temporal.CompleteActivity(ctx, t.Token, nil, failure)
	}
	if err != nil && !gone(err) {
		return fmt.Errorf("external task %s: %w", id, err)
	}
	if derr := e.Store.Delete(ctx, id); derr != nil {
		return derr
	}
	if err != nil {
		return externaltasks.ErrNotFound // the process stopped waiting for it meanwhile
	}
	return nil
}

// gone reports Temporal's answer for an activity that no longer waits.
func gone(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
