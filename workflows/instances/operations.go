package instances

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/workflows/process"
)

// Kinds of operations.
const (
	OpSuspend      = "suspend"
	OpResume       = "resume"
	OpCancel       = "cancel"
	OpTerminate    = "terminate"
	OpSetVariables = "setVariables"
	OpRetry        = "retry"
	OpSkip         = "skip"
	OpAssign       = "assign"
	OpComplete     = "completeTask"
	OpCorrelate    = "correlate"
	OpMove         = "move"
	OpMigrate      = "migrate"
)

// Kinds lists every operation kind.
func Kinds() []string {
	return []string{OpSuspend, OpResume, OpCancel, OpTerminate, OpSetVariables, OpRetry, OpSkip, OpAssign, OpComplete,
		OpCorrelate, OpMove, OpMigrate}
}

// Operation is one change an operator makes to an instance, alone or (as a bulk job) to every instance
// a filter selects. Kind picks it; Reason is required; the other fields are the kind's parameters.
type Operation struct {
	Kind   string `json:"kind" enum:"suspend,resume,cancel,terminate,setVariables,retry,skip,assign,completeTask,correlate,move,migrate"`
	Reason string `json:"reason" maxLength:"1000" doc:"Why; required, recorded in the timeline and the audit log."`
	// By is who operates (set by the server from the caller).
	By string `json:"-"`
	// Variables: the variables to set (setVariables), to set before a retry (retry), or the form's
	// values (completeTask).
	Variables map[string]any `json:"variables,omitempty"`
	// Inputs replace a failed task's input for the retry (retry).
	Inputs map[string]any `json:"inputs,omitempty"`
	// Output is what a skipped task is taken to have returned (skip).
	Output map[string]any `json:"output,omitempty"`
	// IncidentID picks the incident (retry, skip); 0 takes every open incident (at Element when set).
	IncidentID int `json:"incidentId,omitempty"`
	// TaskID picks the user task (assign, completeTask); empty takes the open tasks at Element.
	TaskID  string `json:"taskId,omitempty" maxLength:"300"`
	Element string `json:"element,omitempty" maxLength:"255"`
	// Assignee is the task's new assignee, "" unassigns (assign).
	Assignee string `json:"assignee,omitempty" maxLength:"255"`
	// Message is delivered to the element waiting for it (correlate).
	Message *process.MessageRequest `json:"message,omitempty"`
	// OnBehalfOf is whose task is completed or for whom a message is delivered (completeTask,
	// correlate); a completion defaults to the task's assignee. The interpreter records an operation
	// with its operator and reason only, so the timeline entry carries it in the reason ("on behalf
	// of <who>: <reason>"); the outcome names it for the audit log.
	OnBehalfOf string `json:"onBehalfOf,omitempty" maxLength:"255"`
	// Cancel and Activate are a move's elements (move).
	Cancel   []string             `json:"cancel,omitempty"`
	Activate []process.MoveTarget `json:"activate,omitempty"`
	// ToVersion and Mapping are a migration's target version and element mapping (migrate).
	ToVersion int               `json:"toVersion,omitempty"`
	Mapping   map[string]string `json:"mapping,omitempty"`
}

// OperationError is an operation that is malformed, naming the field.
type OperationError struct {
	Field string
	Msg   string
}

func (e *OperationError) Error() string { return e.Field + ": " + e.Msg }

// Refused is an operation the instance's state does not allow (its validator's answer); nothing changed.
type Refused struct{ Msg string }

func (e *Refused) Error() string { return e.Msg }

// Check refuses a malformed operation before any instance is asked.
func (op Operation) Check() error {
	if !slices.Contains(Kinds(), op.Kind) {
		return &OperationError{Field: "kind", Msg: "want one of " + strings.Join(Kinds(), ", ")}
	}
	if strings.TrimSpace(op.Reason) == "" {
		return &OperationError{Field: "reason", Msg: "say why: operations on running processes are audited with their reason"}
	}
	switch op.Kind {
	case OpSetVariables:
		if len(op.Variables) == 0 {
			return &OperationError{Field: "variables", Msg: "name the variables to set"}
		}
	case OpAssign, OpComplete:
		if op.TaskID == "" && op.Element == "" {
			return &OperationError{Field: "taskId", Msg: "name the task (or the element whose open tasks are meant)"}
		}
	case OpCorrelate:
		if op.Message == nil || op.Message.Name == "" {
			return &OperationError{Field: "message/name", Msg: "name the message"}
		}
	case OpMove:
		if len(op.Cancel) == 0 && len(op.Activate) == 0 {
			return &OperationError{Field: "activate", Msg: "name the elements to cancel and to activate"}
		}
	case OpMigrate:
		if op.ToVersion <= 0 {
			return &OperationError{Field: "toVersion", Msg: "name the published version to migrate to"}
		}
	}
	return nil
}

// Outcome is what an operation did: the instance before and after (for the audit log) and the result
// the instance answered with (a variable change's recomputed timers, a move's tokens, a migration's
// plan).
type Outcome struct {
	Before StateSummary `json:"before"`
	After  StateSummary `json:"after"`
	Result any          `json:"result,omitempty"`
	// OnBehalfOf is whose task was completed or for whom a message was delivered.
	OnBehalfOf string `json:"onBehalfOf,omitempty"`
}

// behalfReason is the reason the timeline records for an operation on someone's behalf.
func behalfReason(whose, reason string) string {
	if whose == "" {
		return reason
	}
	return "on behalf of " + whose + ": " + reason
}

// StateSummary is an instance as the audit log records it around an operation.
type StateSummary struct {
	Status         string         `json:"status"`
	Version        int            `json:"version,omitempty"`
	ActiveElements []string       `json:"activeElements,omitempty"`
	Incidents      []string       `json:"incidents,omitempty"`
	Assignees      []TaskAssignee `json:"assignees,omitempty"`
	Variables      map[string]any `json:"variables,omitempty"`
}

// TaskAssignee is an open user task's assignee ("" unassigned). A list, not a map: task IDs hold dots,
// which MongoDB refuses in keys.
type TaskAssignee struct {
	Task     string `json:"task"`
	Assignee string `json:"assignee"`
}

// summarize is an instance's state summary; vars names the variables worth recording.
func summarize(snap process.Snapshot, vars []string) StateSummary {
	s := StateSummary{Status: snap.Status, Version: snap.Version, ActiveElements: snap.ActiveElements}
	for _, in := range snap.Incidents {
		s.Incidents = append(s.Incidents, fmt.Sprintf("%d %s: %s", in.ID, in.Element, in.Message))
	}
	for _, u := range snap.UserTasks {
		s.Assignees = append(s.Assignees, TaskAssignee{Task: u.ID, Assignee: u.Assignee})
	}
	if len(vars) > 0 {
		s.Variables = map[string]any{}
		for _, k := range vars {
			s.Variables[k] = snap.Variables[k]
		}
	}
	return s
}

// UpdateTimeout bounds one update of an operation.
const UpdateTimeout = time.Minute

// Apply performs an operation on one instance. Errors: *OperationError (malformed), ErrNotFound,
// *Refused (the state does not allow it; nothing changed), or a transport error.
func (s *Service) Apply(ctx context.Context, id string, op Operation) (Outcome, error) {
	if err := op.Check(); err != nil {
		return Outcome{}, err
	}
	ex, err := s.Describe(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if ex.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return Outcome{}, &Refused{Msg: "the instance has ended (" + ex.State + ")"}
	}
	before, err := s.Snapshot(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if op.Kind == OpSetVariables || op.Kind == OpRetry {
		if err := s.checkVariables(ctx, ex.ProcessKey, before.Version, op.Variables); err != nil {
			return Outcome{}, err
		}
	}
	vars := sortedKeys(op.Variables)
	out := Outcome{Before: summarize(before, vars)}
	o := process.Operator{By: op.By, Reason: op.Reason}
	switch op.Kind {
	case OpSuspend:
		err = s.update(ctx, id, process.UpdateSuspend, process.OperatorRequest{Operator: o}, nil)
	case OpResume:
		err = s.update(ctx, id, process.UpdateResume, process.OperatorRequest{Operator: o}, nil)
	case OpCancel:
		err = s.update(ctx, id, process.UpdateCancel, process.OperatorRequest{Operator: o}, nil)
	case OpTerminate:
		err = s.terminate(ctx, id, o)
		if err == nil {
			out.After = StateSummary{Status: process.StateTerminated}
			return out, nil
		}
	case OpSetVariables:
		var res process.SetVariablesResult
		err = s.update(ctx, id, process.UpdateSetVariables, process.SetVariablesRequest{Variables: op.Variables, Operator: o}, &res)
		out.Result = res
	case OpRetry, OpSkip:
		var done []int
		for _, in := range before.Incidents {
			if (op.IncidentID != 0 && in.ID != op.IncidentID) || (op.Element != "" && in.Element != op.Element) {
				continue
			}
			if op.Kind == OpRetry {
				err = s.update(ctx, id, process.UpdateRetryIncident, process.RetryRequest{IncidentID: in.ID, Variables: op.Variables, Inputs: op.Inputs, Operator: o}, nil)
			} else {
				err = s.update(ctx, id, process.UpdateSkipTask, process.SkipRequest{IncidentID: in.ID, Output: op.Output, Operator: o}, nil)
			}
			if err != nil {
				break
			}
			done = append(done, in.ID)
		}
		if err == nil && len(done) == 0 {
			err = &Refused{Msg: "the instance has no such open incident"}
		}
		out.Result = map[string]any{"incidents": done}
	case OpAssign, OpComplete:
		var done []string
		for _, u := range before.UserTasks {
			if (op.TaskID != "" && u.ID != op.TaskID) || (op.Element != "" && u.Element != op.Element) {
				continue
			}
			if op.Kind == OpAssign {
				var res process.AssignResult
				err = s.update(ctx, id, process.UpdateAssignTask, process.AssignRequest{TaskID: u.ID, Assignee: op.Assignee, Operator: o}, &res)
			} else {
				whose := cmp.Or(op.OnBehalfOf, u.Assignee)
				out.OnBehalfOf = whose
				err = s.update(ctx, id, process.UpdateCompleteTask, process.CompleteTaskRequest{TaskID: u.ID, Variables: op.Variables, By: op.By,
					Reason: behalfReason(whose, op.Reason)}, nil)
			}
			if err != nil {
				break
			}
			done = append(done, u.ID)
		}
		if err == nil && len(done) == 0 {
			err = &Refused{Msg: "the instance has no such open user task"}
		}
		out.Result = map[string]any{"tasks": done}
	case OpCorrelate:
		out.OnBehalfOf = op.OnBehalfOf
		err = s.update(ctx, id, process.UpdateCorrelate, process.CorrelateRequest{Message: *op.Message,
			Operator: process.Operator{By: op.By, Reason: behalfReason(op.OnBehalfOf, op.Reason)}}, nil)
	case OpMove:
		var res process.MoveResult
		err = s.update(ctx, id, process.UpdateMove, process.MoveRequest{Cancel: op.Cancel, Activate: op.Activate, Operator: o}, &res)
		out.Result = res
	case OpMigrate:
		var plan process.MigrationPlan
		if plan, err = s.migrate(ctx, id, ex.ProcessKey, op, o); err == nil {
			out.Result = plan
		}
	}
	if err != nil {
		return out, err
	}
	after, err := s.Snapshot(ctx, id)
	if err != nil {
		return out, nil // applied; the after state is not worth failing for
	}
	out.After = summarize(after, vars)
	return out, nil
}

// checkVariables refuses variables of the wrong declared type, one problem per variable, before the
// instance is asked (its validator checks them again, but answers with one message for all).
func (s *Service) checkVariables(ctx context.Context, key string, version int, vars map[string]any) error {
	if len(vars) == 0 {
		return nil
	}
	m, _, err := s.Definitions.Load(ctx, key, version)
	if err != nil {
		return nil //nolint:nilerr // an unpublished test model: the instance's validator decides alone
	}
	var ve process.VariablesError
	for _, k := range sortedKeys(vars) {
		if err := process.ValidateVariables(m, map[string]any{k: vars[k]}, false); err != nil {
			ve.Problems = append(ve.Problems, process.VariableProblem{Name: k, Reason: err.Error()})
		}
	}
	if len(ve.Problems) > 0 {
		return &ve
	}
	return nil
}

// Reassign changes a user task's assignee from one person to another, only if it is still from ("" for
// unassigned): a claim (from "" to the caller) or an unclaim (from the caller to "") never overwrites
// someone else's. Errors: ErrNotFound, *Refused (the task is gone, or assigned otherwise now).
func (s *Service) Reassign(ctx context.Context, id, taskID, from, to string, o process.Operator) (process.AssignResult, error) {
	var res process.AssignResult
	err := s.update(ctx, id, process.UpdateAssignTask, process.AssignRequest{TaskID: taskID, Assignee: to, From: &from, Operator: o}, &res)
	return res, err
}

// migrate loads the target version and asks the instance to move to it.
func (s *Service) migrate(ctx context.Context, id, key string, op Operation, o process.Operator) (process.MigrationPlan, error) {
	to, v, err := s.Definitions.Load(ctx, key, op.ToVersion)
	if err != nil {
		return process.MigrationPlan{}, &OperationError{Field: "toVersion", Msg: fmt.Sprintf("version %d of %s: %v", op.ToVersion, key, err)}
	}
	var plan process.MigrationPlan
	err = s.update(ctx, id, process.UpdateMigrate, process.MigrateRequest{Model: to, Version: v, Mapping: op.Mapping, Operator: o}, &plan)
	return plan, err
}

// PreviewMigration plans the migration of one instance to a version without changing it.
func (s *Service) PreviewMigration(ctx context.Context, id string, toVersion int, mapping map[string]string) (process.MigrationPlan, error) {
	ex, err := s.Describe(ctx, id)
	if err != nil {
		return process.MigrationPlan{}, err
	}
	snap, err := s.Snapshot(ctx, id)
	if err != nil {
		return process.MigrationPlan{}, err
	}
	if ex.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return process.MigrationPlan{From: snap.Version, To: toVersion, Mapping: []process.ElementMapping{},
			Blockers: []process.MigrationBlocker{{Reason: "the instance has ended (" + ex.State + ")"}}}, nil
	}
	from, _, err := s.Definitions.Load(ctx, ex.ProcessKey, snap.Version)
	if err != nil {
		return process.MigrationPlan{}, fmt.Errorf("load version %d of %s: %w", snap.Version, ex.ProcessKey, err)
	}
	to, v, err := s.Definitions.Load(ctx, ex.ProcessKey, toVersion)
	if err != nil {
		return process.MigrationPlan{}, &OperationError{Field: "toVersion", Msg: fmt.Sprintf("version %d of %s: %v", toVersion, ex.ProcessKey, err)}
	}
	plan := process.PlanMigration(&snap.State, from, to, snap.Version, v, mapping)
	if v == snap.Version {
		plan.CanMigrate = false
		plan.Blockers = append(plan.Blockers, process.MigrationBlocker{Reason: fmt.Sprintf("the instance runs version %d already", v)})
	}
	return plan, nil
}

// terminate ends an instance at once (and, first, the children its call activities started, which
// run on their own) and drops its tasks from the inbox. The operator and reason go into the close
// event.
func (s *Service) terminate(ctx context.Context, id string, o process.Operator) error {
	kids, err := s.List(ctx, Filter{Parent: id, States: []string{process.StateRunning, process.StateWaiting, process.StateSuspended, process.StateIncident}}, MaxPage, "")
	if err != nil {
		return err
	}
	for _, k := range kids.Items {
		if err := s.terminate(ctx, k.ID, process.Operator{By: o.By, Reason: "parent " + id + " terminated: " + o.Reason}); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := s.Temporal.TerminateWorkflow(ctx, id, "", o.Reason, o); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return &Refused{Msg: "the instance has ended"}
		}
		return fmt.Errorf("terminate %s: %w", id, err)
	}
	if s.Inbox != nil {
		if err := s.Inbox.Remove(ctx, id); err != nil {
			return fmt.Errorf("terminated %s, but its tasks stay in the inbox until POST /api/v1/tasks/rebuild: %w", id, err)
		}
	}
	return nil
}

// update sends an update and waits for its answer; a refusal (the validator's, or a race lost) is a
// *Refused with the instance's reason.
func (s *Service) update(ctx context.Context, id, name string, arg, result any) error {
	ctx, cancel := context.WithTimeout(ctx, UpdateTimeout)
	defer cancel()
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, result)
	}
	if err == nil {
		return nil
	}
	var nf *serviceerror.NotFound
	var ae *temporal.ApplicationError
	switch {
	case errors.As(err, &nf):
		if _, derr := s.Describe(ctx, id); derr == nil {
			return &Refused{Msg: "the instance has ended"}
		}
		return ErrNotFound
	case errors.As(err, &ae):
		return &Refused{Msg: ae.Message()}
	}
	return fmt.Errorf("%s %s: %w", name, id, err)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
