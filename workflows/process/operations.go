// Operations: what a process owner does to a running instance. Each is a Temporal update whose validator
// refuses what the state does not allow (so a refused operation never reaches history) and whose
// handler hands the change to the main loop, waits until it is applied and, at behaviour level 2, until
// the inbox mirrors it. Every applied operation leaves a timeline entry naming who and why.

package process

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// Operator names who acts and why; the timeline records both.
type Operator struct {
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// OperatorRequest is the argument of the updates that need nothing else (suspend, resume, cancel).
type OperatorRequest struct {
	Operator
}

// AssignRequest is the argument of UpdateAssignTask: the task's new assignee ("" unassigns). From makes
// the change conditional on the current assignee ("" for unassigned), which is how a claim or an
// unclaim never overwrites someone else's.
type AssignRequest struct {
	TaskID   string  `json:"taskId"`
	Assignee string  `json:"assignee,omitempty"`
	From     *string `json:"from,omitempty"`
	Operator
}

// AssignResult is the task's assignee before and after.
type AssignResult struct {
	Before string `json:"before"`
	After  string `json:"after"`
}

// SkipRequest is the argument of UpdateSkipTask: the incident of a failed task and the output the task
// is taken to have produced (its output mappings read it as result, as they would the handler's).
type SkipRequest struct {
	IncidentID int            `json:"incidentId"`
	Output     map[string]any `json:"output,omitempty"`
	Operator
}

// CorrelateRequest is the argument of UpdateCorrelate: a message for an element the instance waits at.
type CorrelateRequest struct {
	Message MessageRequest `json:"message"`
	Operator
}

// SetVariablesResult says what a variable change did: the values before, and the timers and message
// subscriptions whose due time or correlation key was computed again from the new values (Recomputed)
// or could not be (NotRecomputed, with the reason).
type SetVariablesResult struct {
	Before        map[string]any `json:"before"`
	Recomputed    []Recomputed   `json:"recomputed,omitempty"`
	NotRecomputed []Recomputed   `json:"notRecomputed,omitempty"`
}

// Recomputed is a timer or subscription looked at again after a variable change.
type Recomputed struct {
	Element string `json:"element"`
	Kind    string `json:"kind" enum:"timer,message"`
	Before  string `json:"before,omitempty"`
	After   string `json:"after,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Timeline events the interpreter records besides entered, left, cancelled and incident.
const (
	EventTimerFired       = "timer fired"
	EventMessage          = "message consumed"
	EventCompleted        = "completed"
	EventRetried          = "retried"
	EventSkipped          = "skipped"
	EventSuspended        = "suspended"
	EventResumed          = "resumed"
	EventCancelledBy      = "instance cancelled"
	EventVariables        = "variables changed"
	EventAssigned         = "assigned"
	EventUnassigned       = "unassigned"
	EventCorrelated       = "message correlated"
	EventMovedFrom        = "moved from"
	EventMovedTo          = "moved to"
	EventMigrated         = "migrated"
	EventCleanupFailed    = "cleanup failed"
	errSuspendedCompleted = "the instance is suspended: tasks cannot be completed until an operator resumes it"
)

// ErrSuspended refuses completions and correlations while an operator holds the instance.
var ErrSuspended = errors.New(errSuspendedCompleted)

// note appends a timeline entry with who did it, why and what.
func (r *runner) note(element, what string, token int, op Operator, detail string) {
	r.st.History = append(r.st.History, HistoryEntry{Element: element, Event: what, Token: token, Time: r.now(),
		By: op.By, Reason: op.Reason, Detail: detail})
	r.observe(element, what, token)
	if over := len(r.st.History) - r.opts.HistoryLimit; over > 0 {
		r.st.History = slices.Delete(r.st.History, 0, over)
	}
}

// operate hands an operation to the main loop and waits until it is applied (and mirrored by the
// inbox); the result is what apply returned.
func operate[T any](r *runner, ctx workflow.Context, apply func() (T, error)) (T, error) {
	var out T
	err := r.enqueue(ctx, event{kind: "op", op: func() error {
		var err error
		out, err = apply()
		return err
	}})
	return out, err
}

// held reports the events a suspended instance keeps for later: whatever would move a token.
func held(kind string) bool {
	switch kind {
	case "timer", "activity", "child", "message", "complete":
		return true
	}
	return false
}

// hasWork reports whether the main loop has an event it may handle now.
func (r *runner) hasWork() bool {
	if !r.st.Suspended {
		return len(r.queue) > 0
	}
	return slices.ContainsFunc(r.queue, func(ev event) bool { return !held(ev.kind) })
}

// nextUnheld takes the first event a suspended instance may handle from the queue.
func (r *runner) nextUnheld() (event, bool) {
	i := slices.IndexFunc(r.queue, func(ev event) bool { return !held(ev.kind) })
	if i < 0 {
		return event{}, false
	}
	ev := r.queue[i]
	r.queue = slices.Delete(r.queue, i, i+1)
	return ev, true
}

// suspended reports whether the instance is held or about to be (a suspend accepted, not yet applied).
func (r *runner) suspended() bool { return r.st.Suspended || r.suspendPending }

// registerOperations installs the operator updates. They exist at every behaviour level: an operation
// changes an instance only when someone sends it, and its acceptance is in the history it replays.
func (r *runner) registerOperations() error {
	ended := func(workflow.Context, OperatorRequest) error { return r.ended() }
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateSuspend,
		func(ctx workflow.Context, req OperatorRequest) error {
			r.suspendPending = true
			_, err := operate(r, ctx, func() (struct{}, error) {
				r.suspendPending = false
				r.st.Suspended = true
				r.note("", EventSuspended, 0, req.Operator, "")
				return struct{}{}, nil
			})
			return err
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req OperatorRequest) error {
			if err := ended(ctx, req); err != nil {
				return err
			}
			if r.suspended() {
				return errors.New("the instance is suspended already")
			}
			return nil
		}}); err != nil {
		return fmt.Errorf("set suspend update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateResume,
		func(ctx workflow.Context, req OperatorRequest) error {
			_, err := operate(r, ctx, func() (struct{}, error) {
				r.st.Suspended = false
				r.note("", EventResumed, 0, req.Operator, "")
				return struct{}{}, nil
			})
			return err
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req OperatorRequest) error {
			if err := ended(ctx, req); err != nil {
				return err
			}
			if !r.suspended() {
				return errors.New("the instance is not suspended")
			}
			return nil
		}}); err != nil {
		return fmt.Errorf("set resume update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateCancel,
		func(ctx workflow.Context, req OperatorRequest) error {
			_, err := operate(r, ctx, func() (struct{}, error) {
				r.cancelByOperator(req.Operator)
				return struct{}{}, nil
			})
			return err
		}, workflow.UpdateHandlerOptions{Validator: ended}); err != nil {
		return fmt.Errorf("set cancel update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateAssignTask,
		func(ctx workflow.Context, req AssignRequest) (AssignResult, error) {
			return operate(r, ctx, func() (AssignResult, error) { return r.assign(req) })
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req AssignRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			return r.checkAssign(req)
		}}); err != nil {
		return fmt.Errorf("set assign update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateSkipTask,
		func(ctx workflow.Context, req SkipRequest) error {
			_, err := operate(r, ctx, func() (struct{}, error) { return struct{}{}, r.skip(req) })
			return err
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req SkipRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			return r.checkSkip(req)
		}}); err != nil {
		return fmt.Errorf("set skip update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateCorrelate,
		func(ctx workflow.Context, req CorrelateRequest) error {
			_, err := operate(r, ctx, func() (struct{}, error) { return struct{}{}, r.correlate(req) })
			return err
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req CorrelateRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			if r.suspended() {
				return ErrSuspended
			}
			if r.waitingFor(req.Message) == nil {
				return fmt.Errorf("no element of the instance waits for message %q%s", req.Message.Name, keyText(req.Message.CorrelationKey))
			}
			return nil
		}}); err != nil {
		return fmt.Errorf("set correlate update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateMove,
		func(ctx workflow.Context, req MoveRequest) (MoveResult, error) {
			return operate(r, ctx, func() (MoveResult, error) { return r.move(req) })
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req MoveRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			_, err := r.planMove(req)
			return err
		}}); err != nil {
		return fmt.Errorf("set move update: %w", err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(r.ctx, UpdateMigrate,
		func(ctx workflow.Context, req MigrateRequest) (MigrationPlan, error) {
			return operate(r, ctx, func() (MigrationPlan, error) { return r.migrate(req) })
		}, workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req MigrateRequest) error {
			if err := r.ended(); err != nil {
				return err
			}
			return r.checkMigrate(req)
		}}); err != nil {
		return fmt.Errorf("set migrate update: %w", err)
	}
	if err := workflow.SetQueryHandler(r.ctx, QueryInbox, func() (InboxSnapshot, error) {
		s := r.inboxSnapshot()
		s.Seq = r.st.Inbox.Seq
		for _, t := range s.Tasks {
			if u := r.userTask(t.ID); u != nil {
				t.Fields = u.Fields
			}
		}
		return s, nil
	}); err != nil {
		return fmt.Errorf("set inbox query: %w", err)
	}
	return nil
}

func keyText(key string) string {
	if key == "" {
		return ""
	}
	return fmt.Sprintf(" with correlation key %q", key)
}

// cancelByOperator ends the instance as cancelled: the Task records it made are closed, its children
// cancelled (finish removes their subscriptions) and whatever waits is dropped.
func (r *runner) cancelByOperator(op Operator) {
	r.note("", EventCancelledBy, 0, op, "")
	r.closeTaskRecords(op.Reason)
	r.st.EndElement = ""
	r.finish(StateCancelled)
}

// closeTaskRecords closes the open Task records the instance created (behaviour level 2), as a task of
// the instance's own identity (task.close); a failure is noted on the timeline and does not stop the
// cancellation.
func (r *runner) closeTaskRecords(reason string) {
	if !r.at(levelOperations) || len(r.st.TaskRecords) == 0 {
		return
	}
	ids := make([]any, len(r.st.TaskRecords))
	for i, id := range r.st.TaskRecords {
		ids[i] = id
	}
	req := TaskRequest{Type: TypeTaskClose, Element: r.model.ProcessID, ProcessKey: r.in.Ref.Key, ProcessVersion: r.in.Ref.Version,
		BusinessKey: r.in.BusinessKey, WorkflowID: workflow.GetInfo(r.ctx).WorkflowExecution.ID,
		Inputs: map[string]any{"ids": ids, "reason": reason}}
	ctx, _ := workflow.NewDisconnectedContext(r.ctx)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
		ActivityID:          fmt.Sprintf("cleanup#%d", r.nextID()),
	})
	if err := workflow.ExecuteActivity(ctx, TaskActivityName, req).Get(ctx, nil); err != nil {
		r.note("", EventCleanupFailed, 0, Operator{}, causeOf(err, &bpmn.Node{}, 0).message)
	}
	r.st.TaskRecords = nil
}

func (r *runner) checkAssign(req AssignRequest) error {
	u := r.userTask(req.TaskID)
	if u == nil {
		return fmt.Errorf("no open user task %q", req.TaskID)
	}
	if req.From != nil && u.Assignee != *req.From {
		if u.Assignee == "" {
			return fmt.Errorf("task %s is not assigned to %s", req.TaskID, *req.From)
		}
		return fmt.Errorf("task %s is assigned to %s", req.TaskID, u.Assignee)
	}
	if u.Assignee == req.Assignee {
		if req.Assignee == "" {
			return fmt.Errorf("task %s is not assigned", req.TaskID)
		}
		return fmt.Errorf("task %s is assigned to %s already", req.TaskID, req.Assignee)
	}
	return nil
}

// assign changes a user task's assignee (checked again: another change may have come first).
func (r *runner) assign(req AssignRequest) (AssignResult, error) {
	if err := r.checkAssign(req); err != nil {
		return AssignResult{}, err
	}
	u := r.userTask(req.TaskID)
	res := AssignResult{Before: u.Assignee, After: req.Assignee}
	u.Assignee = req.Assignee
	what, detail := EventAssigned, req.Assignee
	if req.Assignee == "" {
		what, detail = EventUnassigned, res.Before
	}
	r.note(u.Element, what, u.Token, req.Operator, detail)
	return res, nil
}

// skippable reports whether a node's work can be taken as done with a given output.
func skippable(k bpmn.Kind) bool {
	switch k {
	case bpmn.KindServiceTask, bpmn.KindBusinessRuleTask, bpmn.KindMessageThrow, bpmn.KindScriptTask, bpmn.KindCallActivity:
		return true
	}
	return false
}

func (r *runner) checkSkip(req SkipRequest) error {
	in := r.incident(req.IncidentID)
	if in == nil {
		return fmt.Errorf("no open incident %d", req.IncidentID)
	}
	t := r.token(in.Token)
	if t == nil {
		return fmt.Errorf("incident %d is not at a task (%s): retry it or cancel the instance", in.ID, in.Kind)
	}
	n := &r.model.Nodes[t.Node]
	if !skippable(n.Kind) || (t.Loop != nil && t.Loop.Parallel) {
		return fmt.Errorf("incident %d is at %s (%s), which is not a task that can be skipped", in.ID, n.ID, n.Kind)
	}
	return nil
}

// skip resolves a failed task's incident as if the task had returned output.
func (r *runner) skip(req SkipRequest) error {
	if err := r.checkSkip(req); err != nil {
		return err
	}
	in := r.incident(req.IncidentID)
	t := r.token(in.Token)
	n := &r.model.Nodes[t.Node]
	r.st.Incidents = slices.DeleteFunc(r.st.Incidents, func(o *Incident) bool { return o.ID == in.ID })
	r.note(n.ID, EventSkipped, t.ID, req.Operator, "output: "+strings.Join(sortedKeys(req.Output), ", "))
	r.st.Steps = 0
	t.Status = tokWaiting
	if t.Finished != 0 {
		r.finishActivity(t, n, req.Output)
		return nil
	}
	r.dropWork(t, false)
	out := req.Output
	switch {
	case n.Kind == bpmn.KindBusinessRuleTask && n.Rules != nil && n.Rules.ResultVariable != "":
		var v any = out
		if rv, ok := out["result"]; ok {
			v = rv
		}
		r.setVar(t, n.Rules.ResultVariable, v)
		_ = r.x.coerce(r.st.Variables)
	case n.Kind == bpmn.KindCallActivity && (n.Call == nil || n.Call.PropagateAllChildVariables || len(n.Outputs) == 0):
		r.mergeAt(t, out)
	}
	var result any
	if out != nil {
		result = out
	}
	r.finishActivity(t, n, result)
	return nil
}

// waitingFor is the subscription a message would reach now, nil when none waits for it.
func (r *runner) waitingFor(m MessageRequest) *Subscription {
	for _, s := range r.st.Subs {
		if matches(s, m) {
			return s
		}
	}
	return nil
}

// correlate delivers a message to the element waiting for it on someone's behalf.
func (r *runner) correlate(req CorrelateRequest) error {
	s := r.waitingFor(req.Message)
	if s == nil {
		return fmt.Errorf("nothing waits for message %q any more", req.Message.Name)
	}
	r.note(r.model.Nodes[s.Node].ID, EventCorrelated, s.Token, req.Operator, req.Message.Name+keyText(req.Message.CorrelationKey))
	r.st.Steps = 0
	r.fire(s, req.Message.Variables)
	return nil
}

// setVariables applies an operator's variable change (behaviour level 2): the values before are
// returned, the timeline names the variables, and timers and correlation keys computed from
// expressions are computed again.
func (r *runner) setVariables(req SetVariablesRequest) (SetVariablesResult, error) {
	res := SetVariablesResult{Before: map[string]any{}}
	names := sortedKeys(req.Variables)
	for _, k := range names {
		res.Before[k] = r.st.Variables[k]
	}
	r.merge(req.Variables)
	r.note("", EventVariables, 0, req.Operator, strings.Join(names, ", "))
	res.Recomputed, res.NotRecomputed = r.recompute()
	return res, nil
}

// recompute evaluates the expressions of waiting timers and message correlation keys again and applies
// what changed: a timer whose due time moved is restarted (a duration counts from when the timer was
// armed), a subscription whose key changed takes the new one (and a buffered message matching it).
func (r *runner) recompute() (done, not []Recomputed) {
	for _, s := range slices.Clone(r.st.Subs) {
		if r.sub(s.ID) == nil {
			continue
		}
		n := &r.model.Nodes[s.Node]
		switch {
		case s.Kind == subTimer && n.Timer != nil && n.Timer.Expression != "":
			if c, ok := r.recomputeTimer(s, n); ok {
				done = append(done, c)
			} else if c.Reason != "" {
				not = append(not, c)
			}
		case s.Kind == subMessage && n.Message != nil && n.Message.CorrelationKey != "":
			vars := r.scopeVars(s.Scope)
			if t := r.token(s.Token); t != nil {
				vars = r.vars(t)
			}
			c := Recomputed{Element: n.ID, Kind: subMessage, Before: s.Key}
			v, err := r.x.eval(n.Message.CorrelationKey, vars, nil, r.now())
			if err != nil {
				c.Reason = "correlation key: " + err.Error()
				not = append(not, c)
				continue
			}
			key := ""
			if v != nil {
				key = fmt.Sprint(v)
			}
			if key == s.Key {
				continue
			}
			s.Key, c.After = key, key
			done = append(done, c)
			for i, m := range r.st.Messages {
				if matches(s, m.MessageRequest) {
					r.st.Messages = slices.Delete(r.st.Messages, i, i+1)
					r.queue = append(r.queue, event{kind: "message", message: &m.MessageRequest})
					break
				}
			}
		}
	}
	return done, not
}

// recomputeTimer computes a timer's due time again; ok is false when nothing changed or it could not
// be computed (then Reason says why).
func (r *runner) recomputeTimer(s *Subscription, n *bpmn.Node) (Recomputed, bool) {
	c := Recomputed{Element: n.ID, Kind: subTimer, Before: s.FireAt.UTC().Format(time.RFC3339)}
	if s.Fired > 0 {
		c.Reason = "a repeating timer that has fired keeps its cycle"
		return c, false
	}
	vars := r.scopeVars(s.Scope)
	if t := r.token(s.Token); t != nil {
		vars = r.vars(t)
	}
	v, err := r.x.eval(n.Timer.Expression, vars, nil, r.now())
	var tm *bpmn.Timer
	if err == nil {
		tm, err = n.Timer.WithValue(v)
	}
	if err != nil {
		c.Reason = "timer: " + err.Error()
		return c, false
	}
	base := s.Since
	if base.IsZero() {
		base = r.now()
	}
	at, err := tm.FireAt(base)
	if err != nil {
		c.Reason = "timer: " + err.Error()
		return c, false
	}
	if at.Equal(s.FireAt) {
		return c, false
	}
	if c, ok := r.cancels[s.ID]; ok {
		c()
		delete(r.cancels, s.ID)
	}
	s.FireAt = at
	r.startTimer(s)
	c.After = at.UTC().Format(time.RFC3339)
	return c, true
}

// checkRetryInputs refuses replaced task input for an incident not at a task that takes input.
func (r *runner) checkRetryInputs(req RetryRequest) error {
	in := r.incident(req.IncidentID)
	t := r.token(in.Token)
	if t == nil {
		return fmt.Errorf("incident %d is not at a task: it takes no input", in.ID)
	}
	switch n := &r.model.Nodes[t.Node]; n.Kind {
	case bpmn.KindServiceTask, bpmn.KindBusinessRuleTask, bpmn.KindMessageThrow:
		if t.Finished != 0 {
			return fmt.Errorf("the task at %s has run; only its output mappings failed, so its input cannot change", n.ID)
		}
		return nil
	default:
		return fmt.Errorf("%s (%s) is not a task that takes input", n.ID, n.Kind)
	}
}
