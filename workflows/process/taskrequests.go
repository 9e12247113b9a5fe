// Task requests: the generic activity's request for service tasks, business rule tasks and message
// throws, its scheduling, and what a finished activity or child process does to its token.

package process

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// taskRequest builds the generic activity's request for a service task, business rule task or
// message throw at token t.
func (r *runner) taskRequest(t *Token, n *bpmn.Node) (TaskRequest, error) {
	req := TaskRequest{Element: n.ID, ProcessKey: r.in.Ref.Key, ProcessVersion: r.in.Ref.Version,
		BusinessKey: r.in.BusinessKey, WorkflowID: workflow.GetInfo(r.ctx).WorkflowExecution.ID}
	if len(n.Headers) > 0 {
		req.Headers = make(map[string]string, len(n.Headers))
		for _, h := range n.Headers {
			req.Headers[h.Key] = h.Value
		}
	}
	inputs, err := r.inputs(t, n)
	if err != nil {
		return req, err
	}
	if len(t.Inputs) > 0 && r.at(levelOperations) { // a retry with changed task input
		for _, k := range sortedKeys(t.Inputs) {
			inputs[k] = t.Inputs[k]
		}
		t.Inputs = nil
	}
	req.Inputs = inputs
	switch n.Kind {
	case bpmn.KindServiceTask:
		if n.Task != nil {
			req.Type = n.Task.Type
		}
	case bpmn.KindBusinessRuleTask:
		req.Type = TypeRulesEvaluate
		if req.Headers == nil {
			req.Headers = map[string]string{}
		}
		if n.Rules != nil {
			req.Headers["ruleset"] = n.Rules.Key
			if n.Rules.Version != "" {
				req.Headers["version"] = n.Rules.Version
			}
		}
		if len(n.Inputs) == 0 { // rules see every variable unless inputs are mapped
			vars := r.vars(t)
			req.Inputs = make(map[string]any, len(vars))
			for k, v := range vars {
				req.Inputs[k] = v
			}
		}
	case bpmn.KindMessageThrow:
		req.Type = TypeMessagePublish
		if req.Headers == nil {
			req.Headers = map[string]string{}
		}
		if n.Message != nil {
			req.Headers["message"] = n.Message.Name
			if n.Message.CorrelationKey != "" {
				v, err := r.x.eval(n.Message.CorrelationKey, r.vars(t), nil, r.now())
				if err != nil {
					return req, fmt.Errorf("correlation key: %w", err)
				}
				req.Headers["correlationKey"] = fmt.Sprint(v)
			}
		}
	}
	return req, nil
}

// startTask schedules the generic activity for a token.
func (r *runner) startTask(t *Token, n *bpmn.Node) {
	req, err := r.taskRequest(t, n)
	if err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	}
	var ext *ExternalTask
	if r.at(levelIssue13) && n.Kind == bpmn.KindServiceTask && n.Task != nil && n.Task.External {
		if ext, err = r.externalTask(t, n, req); err != nil {
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return
		}
	}
	s := &Subscription{ID: r.nextID(), Kind: subActivity, Token: t.ID, Node: n.Index}
	r.st.Subs = append(r.st.Subs, s)
	r.armBoundaries(t, n)
	ctx, cancel := workflow.WithCancel(r.ctx)
	r.cancels[s.ID] = cancel
	timeout := r.opts.TaskTimeout
	if d, err := parseTimeout(req.Headers["timeout"]); err == nil && d+10*time.Second > timeout {
		timeout = d + 10*time.Second // a task's own timeout (http) must fit in the attempt
	}
	opts := workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy:         retryPolicy(n),
		ActivityID:          fmt.Sprintf("%s#%d", n.ID, s.ID),
	}
	id := s.ID
	if ext != nil {
		opts.TaskQueue, opts.StartToCloseTimeout = r.opts.ExternalTaskQueue, r.opts.ExternalTaskTimeout
		if q := req.Headers[HeaderTaskQueue]; q != "" {
			opts.TaskQueue = q
		}
		workflow.Go(workflow.WithActivityOptions(ctx, opts), func(ctx workflow.Context) {
			var out map[string]any
			err := workflow.ExecuteActivity(ctx, ext.Type, *ext).Get(ctx, &out)
			r.queue = append(r.queue, event{kind: "activity", sub: id, output: out, err: err})
		})
		return
	}
	ctx = workflow.WithActivityOptions(ctx, opts)
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res TaskResult
		err := workflow.ExecuteActivity(ctx, TaskActivityName, req).Get(ctx, &res)
		r.queue = append(r.queue, event{kind: "activity", sub: id, output: res.Output, err: err})
	})
}

// activityDone continues a token after its activity or child process ended. attempt is the number of
// attempts a failed task reported.
func (r *runner) activityDone(s *Subscription, out map[string]any, err error, attempt int) {
	if r.at(levelIssue12) {
		// It ended: nothing to cancel (a child that reported by signal is finishing on its own).
		delete(r.cancels, s.ID)
		r.st.Subs = slices.DeleteFunc(r.st.Subs, func(o *Subscription) bool { return o.ID == s.ID })
	} else {
		r.removeSub(s)
	}
	t := r.token(s.Token)
	if t == nil {
		return
	}
	n := &r.model.Nodes[t.Node]
	if err != nil {
		if temporal.IsCanceledError(err) {
			return
		}
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) && ae.Type() == ErrorTypeBPMN {
			var code string
			if ae.HasDetails() {
				_ = ae.Details(&code)
			}
			r.throwAt(t, code, ae.Message())
			return
		}
		kind := IncidentTaskFailed
		if s.Kind == subChild {
			kind = IncidentChildFailed
		}
		if !r.at(levelIssue12) {
			r.raise(t, n.ID, kind, err.Error())
			return
		}
		c := causeOf(err, n, attempt)
		in := r.raise(t, n.ID, kind, c.message)
		in.ErrorType, in.Attempts, in.LastFailure = c.typ, c.attempts, r.now()
		return
	}
	switch {
	case n.Kind == bpmn.KindBusinessRuleTask && n.Rules != nil && n.Rules.ResultVariable != "":
		// A rule set answering {"result": v} stores v; any other answer is stored whole.
		var v any = out
		if rv, ok := out["result"]; ok {
			v = rv
		}
		r.setVar(t, n.Rules.ResultVariable, v)
		_ = r.x.coerce(r.st.Variables)
	case r.at(levelIssue13) && n.Kind == bpmn.KindServiceTask && n.Task != nil && n.Task.External && len(n.Outputs) == 0:
		// As in Zeebe, a job's variables land in the process unless the task maps its outputs.
		for _, k := range sortedKeys(out) {
			r.setVar(t, k, out[k])
		}
		_ = r.x.coerce(r.st.Variables)
	case n.Kind == bpmn.KindCallActivity && (n.Call == nil || n.Call.PropagateAllChildVariables || len(n.Outputs) == 0):
		for _, k := range sortedKeys(out) {
			r.setVar(t, k, out[k])
		}
		_ = r.x.coerce(r.st.Variables)
	}
	if r.at(levelOperations) && n.Task != nil && n.Task.Type == TypeTaskCreate {
		if id, ok := out["id"].(string); ok && id != "" {
			r.st.TaskRecords = append(r.st.TaskRecords, id) // closed if the instance is cancelled
		}
	}
	var result any
	if out != nil {
		result = out
	}
	if r.at(levelIssue12) {
		r.finishActivity(t, n, result)
		return
	}
	if err := r.outputs(t, n, result); err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	}
	r.complete(t, n, result)
}
