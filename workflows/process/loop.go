package process

import (
	"fmt"
	"slices"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// Multi-instance activities run once per element of their input collection. Sequential loops re-enter
// the activity with the same token. Parallel loops start one instance token per element at once (the
// host token waits and owns the boundary events).
//
// At behaviour level 1 each instance has its own local variables (the input element and loopCounter,
// on the instance token or the sequential loop's token), so every activity kind runs its instances in
// parallel, the output element of an instance reads that instance's element, and the element variable
// does not outlive the loop. The first release set the input element as a process variable, so
// parallel sub-processes and script tasks ran one after another.

// loopCounter is the local variable holding an instance's 1-based position in the input collection.
const loopCounter = bpmn.LoopCounter

// Stages of Token.Finished: what a retry of a token whose activity ended re-runs.
const (
	finishOutputs = 1 // the output mappings (then the loop's completion)
	finishLoop    = 2 // the multi-instance output element and completion condition
)

// startLoop evaluates the input collection of a multi-instance activity; it reports false (and moves
// the token on) when there is nothing to do or the collection cannot be read.
func (r *runner) startLoop(t *Token, n *bpmn.Node) bool {
	v, err := r.x.eval(n.Loop.InputCollection, r.vars(t), nil, r.now())
	if err != nil {
		r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("input collection: %v", err))
		return false
	}
	var items []any
	switch c := v.(type) {
	case nil:
	case []any:
		items = c
	case []string:
		for _, s := range c {
			items = append(items, s)
		}
	default:
		r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("input collection is %T, not a list", v))
		return false
	}
	if len(items) == 0 {
		if n.Loop.OutputCollection != "" {
			r.setVar(t, n.Loop.OutputCollection, []any{})
		}
		r.leave(t, n.Outgoing)
		return false
	}
	t.Loop = &LoopState{Items: slices.Clone(items)}
	if !n.Loop.Sequential && (r.at(levelIssue12) || parallelKind(n.Kind)) {
		t.Loop.Parallel = true
		t.Loop.Results = make([]any, len(items))
		r.armBoundaries(t, n)
		for i := range items {
			c := r.newToken(n.Index, t.Scope, -1)
			c.Parent, c.Instance = t.ID, i+1
		}
		return true
	}
	r.enterItem(t, n, 0)
	return true
}

// enterItem makes the i-th element of a sequential loop current.
func (r *runner) enterItem(t *Token, n *bpmn.Node, i int) {
	if r.at(levelIssue12) {
		if n.Loop.InputElement != "" {
			r.setLocal(t, n.Loop.InputElement, t.Loop.Items[i])
		}
		r.setLocal(t, loopCounter, i+1)
		return
	}
	if n.Loop.InputElement != "" {
		r.st.Variables[n.Loop.InputElement] = t.Loop.Items[i]
	}
}

// parallelKind reports whether instances of the kind evaluate everything they read when entered, so
// the first release let them run side by side with a shared input element variable.
func parallelKind(k bpmn.Kind) bool {
	switch k {
	case bpmn.KindServiceTask, bpmn.KindBusinessRuleTask, bpmn.KindUserTask, bpmn.KindCallActivity:
		return true
	}
	return false
}

// enterInstance sets the input element of a parallel loop's instance token before it runs (also when
// an incident of the instance is retried).
func (r *runner) enterInstance(t *Token, n *bpmn.Node) {
	host := r.token(t.Parent)
	if host == nil || host.Loop == nil || n.Loop == nil || t.Instance > len(host.Loop.Items) {
		return
	}
	item := host.Loop.Items[t.Instance-1]
	if r.at(levelIssue12) {
		if n.Loop.InputElement != "" {
			r.setLocal(t, n.Loop.InputElement, item)
		}
		r.setLocal(t, loopCounter, t.Instance)
		return
	}
	if n.Loop.InputElement != "" {
		r.st.Variables[n.Loop.InputElement] = item
	}
}

// loopOutput evaluates the output element of the instance that just ended, over the variables t
// sees. A failure raises an incident: on t at behaviour level 1 (retrying it re-runs this step), on
// the loop's token before.
func (r *runner) loopOutput(t, host *Token, n *bpmn.Node, result any) (any, bool) {
	if n.Loop.OutputElement == "" {
		return nil, true
	}
	v, err := r.x.eval(n.Loop.OutputElement, r.vars(t), map[string]any{bpmn.ResultVar: result}, r.now())
	if err != nil {
		r.loopFailed(t, host, n, result, "output element", err)
		return nil, false
	}
	return v, true
}

// loopOver reports whether the loop is over once done instances have ended: all of them, or the
// completion condition holds.
func (r *runner) loopOver(t, host *Token, n *bpmn.Node, result any, done int) (finished, ok bool) {
	if done >= len(host.Loop.Items) || n.Loop.CompletionCondition == "" {
		return done >= len(host.Loop.Items), true
	}
	v, err := r.x.evalBool(n.Loop.CompletionCondition, r.vars(t), r.now())
	if err != nil {
		r.loopFailed(t, host, n, result, "completion condition", err)
		return false, false
	}
	return v, true
}

func (r *runner) loopFailed(t, host *Token, n *bpmn.Node, result any, what string, err error) {
	at := host
	if r.at(levelIssue12) {
		at = t
		t.Finished, t.Result = finishLoop, result
	}
	r.raise(at, n.ID, IncidentExpression, fmt.Sprintf("%s: %v", what, err))
}

// instanceDone records a finished instance of a parallel loop and moves the host on when the loop is
// complete (all instances, or the completion condition holds). At behaviour level 1 both expressions
// are evaluated before anything changes, so an incident can be retried on the instance's token.
func (r *runner) instanceDone(t *Token, n *bpmn.Node, result any) {
	host := r.token(t.Parent)
	leave := func() {
		r.disarm(t)
		r.removeToken(t)
		r.record(n.ID, "left", t.ID)
	}
	if host == nil || host.Loop == nil {
		leave()
		return
	}
	l := host.Loop
	var finished bool
	if r.at(levelIssue12) {
		out, ok := r.loopOutput(t, host, n, result)
		if !ok {
			return
		}
		if finished, ok = r.loopOver(t, host, n, result, l.Index+1); !ok {
			return
		}
		leave()
		if n.Loop.OutputElement != "" && t.Instance-1 < len(l.Results) {
			l.Results[t.Instance-1] = out
		}
		l.Index++
	} else {
		leave()
		out, ok := r.loopOutput(t, host, n, result)
		if !ok {
			return
		}
		if n.Loop.OutputElement != "" && t.Instance-1 < len(l.Results) {
			l.Results[t.Instance-1] = out
		}
		l.Index++
		if finished, ok = r.loopOver(t, host, n, result, l.Index); !ok {
			return
		}
	}
	if !finished {
		return
	}
	if n.Loop.OutputCollection != "" {
		r.setVar(host, n.Loop.OutputCollection, l.Results)
	}
	host.Loop = nil
	r.leave(host, n.Outgoing) // disarm cancels instances still running
}

// finishActivity continues a token whose activity ended with result: its output mappings, then the
// loop or the outgoing flows. A failure of either leaves the token in an incident that re-runs only
// what failed (behaviour level 1).
func (r *runner) finishActivity(t *Token, n *bpmn.Node, result any) {
	if t.Finished != finishLoop && len(n.Outputs) > 0 {
		if err := r.outputs(t, n, result); err != nil {
			if r.at(levelIssue12) {
				t.Finished, t.Result = finishOutputs, result
			}
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return
		}
	}
	t.Finished, t.Result = 0, nil
	r.complete(t, n, result)
}

// complete finishes one run of an activity: a multi-instance activity collects the output and starts
// its next instance, anything else leaves along its outgoing flows.
func (r *runner) complete(t *Token, n *bpmn.Node, result any) {
	if t.Parent != 0 && n.Loop != nil {
		r.instanceDone(t, n, result)
		return
	}
	l := t.Loop
	if l == nil || n.Loop == nil {
		t.Loop = nil
		r.leave(t, n.Outgoing)
		return
	}
	out, ok := r.loopOutput(t, t, n, result)
	if !ok {
		return
	}
	var finished bool
	if r.at(levelIssue12) {
		if finished, ok = r.loopOver(t, t, n, result, l.Index+1); !ok {
			return
		}
	}
	t.Finished, t.Result = 0, nil
	if n.Loop.OutputElement != "" {
		l.Results = append(l.Results, out)
	}
	l.Index++
	if !r.at(levelIssue12) {
		if finished, ok = r.loopOver(t, t, n, result, l.Index); !ok {
			return
		}
	}
	if !finished {
		r.dropWork(t, false)
		r.enterItem(t, n, l.Index)
		t.Status = tokReady
		return
	}
	if n.Loop.OutputCollection != "" {
		r.setVar(t, n.Loop.OutputCollection, l.Results)
	}
	t.Loop = nil
	r.leave(t, n.Outgoing)
}

// dropWork removes what one instance of an activity left behind (its task, user task or child),
// keeping the boundary subscriptions of the activity. With all set (a retry) it drops every other
// subscription of the token too (the catch events of an event-based gateway), so entering the
// element again subscribes afresh.
func (r *runner) dropWork(t *Token, all bool) {
	for _, s := range slices.Clone(r.st.Subs) {
		if s.Token != t.ID {
			continue
		}
		work := s.Kind == subActivity || s.Kind == subChild || s.Kind == subUser
		if work || (all && !r.model.Nodes[s.Node].Kind.IsBoundary()) {
			r.removeSub(s)
		}
	}
	r.st.UserTasks = slices.DeleteFunc(r.st.UserTasks, func(u *UserTask) bool { return u.Token == t.ID })
}
