package process

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// retryPolicy turns the definition's retry policy into Temporal's; MaximumAttempts counts the first.
func retryPolicy(n *bpmn.Node) *temporal.RetryPolicy {
	p := bpmn.DefaultRetryPolicy()
	if n.Retry != nil {
		p = *n.Retry
	}
	if p.MaximumAttempts < 1 {
		p.MaximumAttempts = 1
	}
	return &temporal.RetryPolicy{
		InitialInterval:    p.InitialInterval,
		BackoffCoefficient: p.BackoffCoefficient,
		MaximumInterval:    p.MaximumInterval,
		MaximumAttempts:    int32(min(p.MaximumAttempts, math.MaxInt32)),
	}
}

// taskRequest builds the generic activity's request for a service task, business rule task or
// message throw.
func (r *runner) taskRequest(n *bpmn.Node) (TaskRequest, error) {
	req := TaskRequest{Element: n.ID, ProcessKey: r.in.Ref.Key, ProcessVersion: r.in.Ref.Version,
		BusinessKey: r.in.BusinessKey, WorkflowID: workflow.GetInfo(r.ctx).WorkflowExecution.ID}
	if len(n.Headers) > 0 {
		req.Headers = make(map[string]string, len(n.Headers))
		for _, h := range n.Headers {
			req.Headers[h.Key] = h.Value
		}
	}
	inputs, err := r.inputs(n)
	if err != nil {
		return req, err
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
		if len(n.Inputs) == 0 { // rules see every process variable unless inputs are mapped
			req.Inputs = make(map[string]any, len(r.st.Variables))
			for k, v := range r.st.Variables {
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
				v, err := r.x.eval(n.Message.CorrelationKey, r.st.Variables, nil, r.now())
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
	req, err := r.taskRequest(n)
	if err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
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
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy:         retryPolicy(n),
		ActivityID:          fmt.Sprintf("%s#%d", n.ID, s.ID),
	})
	id := s.ID
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res TaskResult
		err := workflow.ExecuteActivity(ctx, TaskActivityName, req).Get(ctx, &res)
		r.queue = append(r.queue, event{kind: "activity", sub: id, output: res.Output, err: err})
	})
}

// activityDone continues a token after its activity or child process ended.
func (r *runner) activityDone(s *Subscription, out map[string]any, err error) {
	r.removeSub(s)
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
		r.raise(t, n.ID, kind, err.Error())
		return
	}
	switch {
	case n.Kind == bpmn.KindBusinessRuleTask && n.Rules != nil && n.Rules.ResultVariable != "":
		// A rule set answering {"result": v} stores v; any other answer is stored whole.
		if v, ok := out["result"]; ok {
			r.st.Variables[n.Rules.ResultVariable] = v
		} else {
			r.st.Variables[n.Rules.ResultVariable] = out
		}
		_ = r.x.coerce(r.st.Variables)
	case n.Kind == bpmn.KindCallActivity && (n.Call == nil || n.Call.PropagateAllChildVariables || len(n.Outputs) == 0):
		for _, k := range sortedKeys(out) {
			r.st.Variables[k] = out[k]
		}
	}
	var result any
	if out != nil {
		result = out
	}
	if err := r.outputs(n, result); err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	}
	r.complete(t, n, result)
}

// startSubProcess opens the scope of an embedded sub-process.
func (r *runner) startSubProcess(t *Token, n *bpmn.Node) {
	sc := r.model.Scopes[n.SubScope]
	if len(sc.Starts) == 0 {
		r.raise(t, n.ID, IncidentNoPath, "sub-process without a start event")
		return
	}
	if in, err := r.inputs(n); err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	} else if len(in) > 0 {
		r.merge(in)
	}
	inst := r.newScope(n.SubScope, t.Scope, t.ID, false)
	t.Child = inst.ID
	r.armBoundaries(t, n)
	r.newToken(sc.Starts[0], inst.ID, -1)
	r.armScope(inst)
}

// startCall runs a call activity as a child workflow of this interpreter.
func (r *runner) startCall(t *Token, n *bpmn.Node) {
	key := ""
	if n.Call != nil {
		v, err := r.x.value(n.Call.ProcessID, r.st.Variables, r.now())
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return
		}
		key = fmt.Sprint(v)
	}
	vars, err := r.inputs(n)
	if err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	}
	if len(n.Inputs) == 0 || (n.Call != nil && n.Call.PropagateAllParentVariables) {
		for k, v := range r.st.Variables {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	s := &Subscription{ID: r.nextID(), Kind: subChild, Token: t.ID, Node: n.Index}
	r.st.Subs = append(r.st.Subs, s)
	r.armBoundaries(t, n)
	ctx, cancel := workflow.WithCancel(r.ctx)
	r.cancels[s.ID] = cancel
	info := workflow.GetInfo(r.ctx)
	child := Input{Ref: Ref{Key: key}, Variables: vars, BusinessKey: r.in.BusinessKey, Child: true, Options: r.in.Options}
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            fmt.Sprintf("%s/%s/%d", info.WorkflowExecution.ID, n.ID, s.ID),
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		TypedSearchAttributes: SearchAttributes(child),
	})
	id := s.ID
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res Result
		err := workflow.ExecuteChildWorkflow(ctx, WorkflowName, child).Get(ctx, &res)
		r.queue = append(r.queue, event{kind: "child", sub: id, output: res.Variables, err: err})
	})
}

// user tasks

func (r *runner) startUserTask(t *Token, n *bpmn.Node) {
	id := fmt.Sprintf("%s.%d", n.ID, t.ID)
	if t.Loop != nil {
		id = fmt.Sprintf("%s.%d.%d", n.ID, t.ID, t.Loop.Index)
	}
	u := &UserTask{ID: id, Element: n.ID, Name: n.Name, Token: t.ID, Created: r.now()}
	if spec := n.User; spec != nil {
		u.FormKey = spec.FormKey
		u.Fields = spec.Fields
		now := r.now()
		for _, f := range []struct {
			e   bpmn.Expr
			set func(any) error
		}{
			{spec.Assignee, func(v any) error {
				if v != nil {
					u.Assignee = fmt.Sprint(v)
				}
				return nil
			}},
			{spec.CandidateGroups, func(v any) error { u.CandidateGroups = stringList(v); return nil }},
			{spec.CandidateUsers, func(v any) error { u.CandidateUsers = stringList(v); return nil }},
			{spec.DueDate, func(v any) error {
				switch d := v.(type) {
				case time.Time:
					u.DueDate = d
				case string:
					if d == "" {
						return nil
					}
					at, err := bpmn.ParseDate(d)
					if err != nil {
						return fmt.Errorf("due date: %w", err)
					}
					u.DueDate = at
				case nil:
				default:
					return fmt.Errorf("due date is %T, not a time", v)
				}
				return nil
			}},
		} {
			if f.e.IsZero() {
				continue
			}
			v, err := r.x.value(f.e, r.st.Variables, now)
			if err == nil {
				err = f.set(v)
			}
			if err != nil {
				r.raise(t, n.ID, IncidentExpression, err.Error())
				return
			}
		}
	}
	r.st.UserTasks = append(r.st.UserTasks, u)
	r.st.Subs = append(r.st.Subs, &Subscription{ID: r.nextID(), Kind: subUser, Token: t.ID, Node: n.Index})
	r.armBoundaries(t, n)
}

func (r *runner) userTask(id string) *UserTask {
	for _, u := range r.st.UserTasks {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// validateCompletion refuses a completion for an unknown task, with missing required fields, unknown
// fields or values of the wrong type; it runs before the update is accepted into history.
func (r *runner) validateCompletion(req CompleteTaskRequest) error {
	u := r.userTask(req.TaskID)
	if u == nil {
		return fmt.Errorf("no open user task %q", req.TaskID)
	}
	var problems []string
	for _, f := range u.Fields {
		v, ok := req.Variables[f.Name]
		if !ok || v == nil {
			if f.Required {
				problems = append(problems, fmt.Sprintf("field %q is required", f.Name))
			}
			continue
		}
		if err := checkType(f.Type, v); err != nil {
			problems = append(problems, fmt.Sprintf("field %q: %v", f.Name, err))
		}
	}
	if len(u.Fields) > 0 {
		for _, k := range sortedKeys(req.Variables) {
			if !slices.ContainsFunc(u.Fields, func(f bpmn.FormField) bool { return f.Name == k }) {
				problems = append(problems, fmt.Sprintf("field %q is not on the form", k))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("task %s: %s", req.TaskID, joinProblems(problems))
	}
	return nil
}

// validateVariables refuses values of the wrong type for declared variables.
func (r *runner) validateVariables(vars map[string]any) error {
	return ValidateVariables(r.model, vars, false)
}

// ValidateVariables checks variables against the process's declarations: a declared variable with a
// value of the wrong type is refused, and when start is set so is a missing required one (a default
// makes it optional). The API calls it before starting an instance; the interpreter calls it in the
// validators of updates that set variables.
func ValidateVariables(m *bpmn.Model, vars map[string]any, start bool) error {
	var problems []string
	for _, d := range m.Variables {
		v, ok := vars[d.Name]
		if !ok || v == nil {
			if start && d.Required && d.Default == "" {
				problems = append(problems, fmt.Sprintf("variable %q is required", d.Name))
			}
			continue
		}
		if err := checkType(d.Type, v); err != nil {
			problems = append(problems, fmt.Sprintf("variable %q: %v", d.Name, err))
		}
	}
	if len(problems) > 0 {
		return errors.New(joinProblems(problems))
	}
	return nil
}

func joinProblems(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

// checkType checks a JSON-decoded (or Go) value against a declared type name.
func checkType(typ string, v any) error {
	bad := func() error { return fmt.Errorf("want %s, got %T", typ, v) }
	switch kindOf(typ).String() {
	case kindOf("string").String():
		if _, ok := v.(string); !ok {
			return bad()
		}
	case kindOf("int").String():
		switch n := v.(type) {
		case int, int32, int64:
		case float64:
			if n != math.Trunc(n) {
				return bad()
			}
		case string:
			if _, err := strconv.ParseInt(n, 10, 64); err != nil {
				return bad()
			}
		default:
			return bad()
		}
	case kindOf("float").String():
		switch v.(type) {
		case int, int32, int64, float32, float64:
		default:
			return bad()
		}
	case kindOf("bool").String():
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case kindOf("time").String():
		switch tv := v.(type) {
		case time.Time:
		case string:
			if _, err := time.Parse(time.RFC3339Nano, tv); err != nil {
				return fmt.Errorf("want an RFC 3339 time: %w", err)
			}
		default:
			return bad()
		}
	case kindOf("duration").String():
		switch dv := v.(type) {
		case time.Duration, float64, int, int64:
		case string:
			if _, err := time.ParseDuration(dv); err != nil {
				if _, err2 := bpmn.ParseDuration(dv); err2 != nil {
					return fmt.Errorf("want a duration: %w", err)
				}
			}
		default:
			return bad()
		}
	case kindOf("list").String():
		switch v.(type) {
		case []any, []string:
		default:
			return bad()
		}
	default:
		if typ == "object" {
			if _, ok := v.(map[string]any); !ok {
				return bad()
			}
		}
	}
	return nil
}

// completeTask applies an accepted completion: form values become variables (through output mappings
// when the task has them) and the token moves on.
func (r *runner) completeTask(req CompleteTaskRequest) error {
	u := r.userTask(req.TaskID)
	if u == nil {
		return fmt.Errorf("user task %s was completed or cancelled meanwhile", req.TaskID)
	}
	t := r.token(u.Token)
	if t == nil {
		return fmt.Errorf("user task %s has no token", req.TaskID)
	}
	n := &r.model.Nodes[t.Node]
	r.record(n.ID, "completed by "+req.By, t.ID)
	if len(n.Outputs) == 0 {
		r.merge(req.Variables)
	} else if err := r.outputs(n, req.Variables); err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return nil
	}
	r.complete(t, n, req.Variables)
	return nil
}

// search attributes

var (
	saKey      = temporal.NewSearchAttributeKeyKeyword("RapportProcessKey")
	saVersion  = temporal.NewSearchAttributeKeyInt64("RapportProcessVersion")
	saBusiness = temporal.NewSearchAttributeKeyKeyword("RapportBusinessKey")
	saActive   = temporal.NewSearchAttributeKeyKeywordList("RapportActiveElements")
	saState    = temporal.NewSearchAttributeKeyKeyword("RapportState")
	saAssign   = temporal.NewSearchAttributeKeyKeywordList("RapportAssignees")
	saEntity   = temporal.NewSearchAttributeKeyKeyword("RapportEntity")
	saRecord   = temporal.NewSearchAttributeKeyKeyword("RapportRecordID")
)

// SearchAttributes are the attributes whoever starts an instance sets in its start options (the API,
// or a call activity for its child): the instance is listable by process, version, business key and
// record from its first moment, without a visibility write of its own. State starts as running.
func SearchAttributes(in Input) temporal.SearchAttributes {
	key := in.Ref.Key
	if key == "" && in.Model != nil {
		key = in.Model.ProcessID
	}
	ups := []temporal.SearchAttributeUpdate{saKey.ValueSet(key), saVersion.ValueSet(int64(in.Ref.Version)), saState.ValueSet(StateRunning)}
	if in.BusinessKey != "" {
		ups = append(ups, saBusiness.ValueSet(in.BusinessKey))
	}
	if in.Entity != "" {
		ups = append(ups, saEntity.ValueSet(in.Entity))
	}
	if in.RecordID != "" {
		ups = append(ups, saRecord.ValueSet(in.RecordID))
	}
	return temporal.NewSearchAttributes(ups...)
}

// knownSearchAttributes notes what the start options set, so publish does not write it again.
func (r *runner) knownSearchAttributes() {
	r.lastSA = map[string]string{}
	sa := workflow.GetTypedSearchAttributes(r.ctx)
	for name, key := range map[string]temporal.SearchAttributeKeyKeyword{
		"key": saKey, "bk": saBusiness, "entity": saEntity, "record": saRecord, "state": saState,
	} {
		if v, ok := sa.GetKeyword(key); ok {
			r.lastSA[name] = v
		}
	}
	if v, ok := sa.GetInt64(saVersion); ok {
		r.lastSA["version"] = strconv.FormatInt(v, 10)
	}
	if v, ok := sa.GetKeywordList(saActive); ok {
		r.lastSA["active"] = fmt.Sprint(v)
	}
	if v, ok := sa.GetKeywordList(saAssign); ok {
		r.lastSA["assignees"] = fmt.Sprint(v)
	}
}

// publish upserts the search attributes that changed since the last upsert. While the instance only
// runs tasks (state running, as set at start) nothing is written: a visibility write per step would
// halve throughput. Once it waits for the outside world, hits an incident or ends, the state, active
// elements and assignees are written.
func (r *runner) publish() {
	if r.lastSA == nil {
		r.knownSearchAttributes()
	}
	var ups []temporal.SearchAttributeUpdate
	set := func(name, val string, up func() temporal.SearchAttributeUpdate) {
		if old, ok := r.lastSA[name]; ok && old == val {
			return
		}
		r.lastSA[name] = val
		ups = append(ups, up())
	}
	set("key", r.in.Ref.Key, func() temporal.SearchAttributeUpdate { return saKey.ValueSet(r.in.Ref.Key) })
	set("version", strconv.Itoa(r.in.Ref.Version), func() temporal.SearchAttributeUpdate {
		return saVersion.ValueSet(int64(r.in.Ref.Version))
	})
	if r.in.BusinessKey != "" {
		set("bk", r.in.BusinessKey, func() temporal.SearchAttributeUpdate { return saBusiness.ValueSet(r.in.BusinessKey) })
	}
	if r.in.Entity != "" {
		set("entity", r.in.Entity, func() temporal.SearchAttributeUpdate { return saEntity.ValueSet(r.in.Entity) })
	}
	if r.in.RecordID != "" {
		set("record", r.in.RecordID, func() temporal.SearchAttributeUpdate { return saRecord.ValueSet(r.in.RecordID) })
	}
	st := r.status()
	if st != StateRunning || r.lastSA["state"] != StateRunning {
		set("state", st, func() temporal.SearchAttributeUpdate { return saState.ValueSet(st) })
		active := r.activeElements()
		set("active", fmt.Sprint(active), func() temporal.SearchAttributeUpdate { return saActive.ValueSet(active) })
		var who []string
		for _, u := range r.st.UserTasks {
			for _, p := range append([]string{u.Assignee}, u.CandidateUsers...) {
				if p != "" && !slices.Contains(who, p) {
					who = append(who, p)
				}
			}
		}
		slices.Sort(who)
		set("assignees", fmt.Sprint(who), func() temporal.SearchAttributeUpdate { return saAssign.ValueSet(who) })
	}
	if len(ups) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(r.ctx, ups...); err != nil {
			workflow.GetLogger(r.ctx).Warn("upsert search attributes", "error", err)
		}
	}
}
