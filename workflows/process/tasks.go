package process

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// Task types the interpreter itself sends besides the service task types of the model: business rule
// tasks run as rules.evaluate, intermediate message throw events as message.publish.
const (
	TypeRulesEvaluate  = "rules.evaluate"
	TypeMessagePublish = "message.publish"
	// TypeTaskCreate makes a Task record (its id is remembered); TypeTaskClose closes the open ones
	// among the Task records named by the input ids, as the instance's cleanup when it is cancelled.
	TypeTaskCreate = "task.create"
	TypeTaskClose  = "task.close"
)

// TaskRequest is what the generic task activity receives: the task type selecting the handler, the
// element's static headers, its evaluated input mappings and where it runs.
type TaskRequest struct {
	Type           string            `json:"type"`
	Element        string            `json:"element"`
	Headers        map[string]string `json:"headers,omitempty"`
	Inputs         map[string]any    `json:"inputs,omitempty"`
	ProcessKey     string            `json:"processKey"`
	ProcessVersion int               `json:"processVersion,omitempty"`
	BusinessKey    string            `json:"businessKey,omitempty"`
	WorkflowID     string            `json:"workflowId,omitempty"`
}

// TaskResult is a handler's output; output mappings read it as `result`.
type TaskResult struct {
	Output map[string]any `json:"output,omitempty"`
}

// TaskHandler runs one task type. Returning a *BPMNError throws a BPMN error at the element (caught by
// error boundary events); any other error is retried by the element's retry policy and, when retries
// are exhausted, becomes an incident.
type TaskHandler interface {
	Handle(ctx context.Context, req TaskRequest) (map[string]any, error)
}

// TaskHandlerFunc adapts a function to TaskHandler.
type TaskHandlerFunc func(ctx context.Context, req TaskRequest) (map[string]any, error)

// Handle calls f.
func (f TaskHandlerFunc) Handle(ctx context.Context, req TaskRequest) (map[string]any, error) {
	return f(ctx, req)
}

// BPMNError is a business error a handler throws on purpose, e.g. "mail address rejected"; Code is
// matched against error boundary events and error event sub-process starts.
type BPMNError struct {
	Code    string
	Message string
}

// Error renders the code and message.
func (e *BPMNError) Error() string { return fmt.Sprintf("bpmn error %s: %s", e.Code, e.Message) }

// Registry maps task types to handlers; the worker builds one at start (records, rules, tasks,
// notifications, http, connectors) and the generic activity dispatches through it.
type Registry struct {
	handlers map[string]TaskHandler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{handlers: map[string]TaskHandler{}} }

// Register sets the handler of a task type, replacing any earlier one.
func (r *Registry) Register(taskType string, h TaskHandler) { r.handlers[taskType] = h }

// Types lists the registered task types in order, for validation (bpmn.Options.TaskTypes).
func (r *Registry) Types() []string {
	out := sortedKeys(r.handlers)
	return slices.Clip(out)
}

// DefinitionStore loads compiled process versions for call activities and instances started by
// reference; version 0 means the latest published one. The returned version is the one loaded.
type DefinitionStore interface {
	Load(ctx context.Context, key string, version int) (*bpmn.Model, int, error)
}

// LoadRequest is the argument of the load activity.
type LoadRequest = Ref

// LoadResult is the answer of the load activity.
type LoadResult struct {
	Model   *bpmn.Model `json:"model"`
	Version int         `json:"version"`
}

// Activities are the interpreter's activities; register them with the worker through Register.
type Activities struct {
	Registry *Registry
	Store    DefinitionStore
	// Calendars are the business calendars expressions may name; nil gives instances none.
	Calendars CalendarStore
	// Inbox is the store user tasks are mirrored into; nil writes nothing.
	Inbox InboxWriter
	// Elements receives the instances' element runs (the process figures); nil records nothing.
	Elements ElementRecorder
}

// ExecuteTask is the one generic activity: it dispatches on the task type. Unknown types and BPMN
// errors are not retried.
func (a *Activities) ExecuteTask(ctx context.Context, req TaskRequest) (TaskResult, error) {
	var h TaskHandler
	if a.Registry != nil {
		h = a.Registry.handlers[req.Type]
	}
	failure := TaskFailure{Attempt: 1}
	if activity.IsActivity(ctx) {
		failure.Attempt = int(activity.GetInfo(ctx).Attempt)
	}
	if h == nil {
		return TaskResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("no handler for task type %q", req.Type), ErrorTypeUnknownTask, nil, failure)
	}
	out, err := h.Handle(ctx, req)
	if err != nil {
		var be *BPMNError
		if errors.As(err, &be) {
			return TaskResult{}, temporal.NewNonRetryableApplicationError(be.Message, ErrorTypeBPMN, nil, be.Code)
		}
		// The incident shows the handler's message and type and the attempt that failed; a handler's
		// non-retryable verdict stands.
		var ae *temporal.ApplicationError
		msg := err.Error()
		if errors.As(err, &ae) && ae == err {
			msg = ae.Message()
		}
		return TaskResult{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("task %s (%s): %s", req.Element, req.Type, msg), errorType(err),
			temporal.ApplicationErrorOptions{Details: []any{failure}, NonRetryable: ae != nil && ae.NonRetryable()})
	}
	return TaskResult{Output: out}, nil
}

// LoadModel loads a definition from the store (run as a local activity).
func (a *Activities) LoadModel(ctx context.Context, req LoadRequest) (LoadResult, error) {
	if a.Store == nil {
		return LoadResult{}, temporal.NewNonRetryableApplicationError("no definition store configured", "NoStore", nil)
	}
	m, v, err := a.Store.Load(ctx, req.Key, req.Version)
	if err != nil {
		return LoadResult{}, fmt.Errorf("load process %s version %d: %w", req.Key, req.Version, err)
	}
	return LoadResult{Model: m, Version: v}, nil
}
