package process

import (
	"fmt"
	"slices"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// Multi-instance activities run once per element of their input collection. Sequential loops re-enter
// the activity with the same token. Parallel loops of service, business rule, user and call
// activities start one instance token per element at once (the host token waits and owns the boundary
// events); parallel sub-processes and script tasks run sequentially, because the input element is a
// process variable (set when an instance is entered) and their inner steps would read a later one.

// startLoop evaluates the input collection of a multi-instance activity; it reports false (and moves
// the token on) when there is nothing to do or the collection cannot be read.
func (r *runner) startLoop(t *Token, n *bpmn.Node) bool {
	v, err := r.x.eval(n.Loop.InputCollection, r.st.Variables, nil, r.now())
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
			r.st.Variables[n.Loop.OutputCollection] = []any{}
		}
		r.leave(t, n.Outgoing)
		return false
	}
	t.Loop = &LoopState{Items: slices.Clone(items)}
	if !n.Loop.Sequential && parallelKind(n.Kind) {
		t.Loop.Parallel = true
		t.Loop.Results = make([]any, len(items))
		r.armBoundaries(t, n)
		for i := range items {
			c := r.newToken(n.Index, t.Scope, -1)
			c.Parent, c.Instance = t.ID, i+1
		}
		return true
	}
	if n.Loop.InputElement != "" {
		r.st.Variables[n.Loop.InputElement] = items[0]
	}
	return true
}

// parallelKind reports whether instances of the kind evaluate everything they read when entered, so
// they may run side by side with a shared input element variable.
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
	if host == nil || host.Loop == nil || n.Loop == nil || n.Loop.InputElement == "" || t.Instance > len(host.Loop.Items) {
		return
	}
	r.st.Variables[n.Loop.InputElement] = host.Loop.Items[t.Instance-1]
}

// instanceDone records a finished instance of a parallel loop and moves the host on when the loop is
// complete (all instances, or the completion condition holds).
func (r *runner) instanceDone(t *Token, n *bpmn.Node, result any) {
	host := r.token(t.Parent)
	r.disarm(t)
	r.removeToken(t)
	r.record(n.ID, "left", t.ID)
	if host == nil || host.Loop == nil {
		return
	}
	l := host.Loop
	if n.Loop.OutputElement != "" {
		v, err := r.x.eval(n.Loop.OutputElement, r.st.Variables, map[string]any{bpmn.ResultVar: result}, r.now())
		if err != nil {
			r.raise(host, n.ID, IncidentExpression, fmt.Sprintf("output element: %v", err))
			return
		}
		if t.Instance-1 < len(l.Results) {
			l.Results[t.Instance-1] = v
		}
	}
	l.Index++
	finished := l.Index >= len(l.Items)
	if !finished && n.Loop.CompletionCondition != "" {
		done, err := r.x.evalBool(n.Loop.CompletionCondition, r.st.Variables, r.now())
		if err != nil {
			r.raise(host, n.ID, IncidentExpression, fmt.Sprintf("completion condition: %v", err))
			return
		}
		finished = done
	}
	if !finished {
		return
	}
	if n.Loop.OutputCollection != "" {
		r.st.Variables[n.Loop.OutputCollection] = l.Results
	}
	host.Loop = nil
	r.leave(host, n.Outgoing) // disarm cancels instances still running
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
	if n.Loop.OutputElement != "" {
		v, err := r.x.eval(n.Loop.OutputElement, r.st.Variables, map[string]any{bpmn.ResultVar: result}, r.now())
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("output element: %v", err))
			return
		}
		l.Results = append(l.Results, v)
	}
	l.Index++
	finished := l.Index >= len(l.Items)
	if !finished && n.Loop.CompletionCondition != "" {
		done, err := r.x.evalBool(n.Loop.CompletionCondition, r.st.Variables, r.now())
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("completion condition: %v", err))
			return
		}
		finished = done
	}
	if !finished {
		r.dropWork(t)
		if n.Loop.InputElement != "" {
			r.st.Variables[n.Loop.InputElement] = l.Items[l.Index]
		}
		t.Status = tokReady
		return
	}
	if n.Loop.OutputCollection != "" {
		r.st.Variables[n.Loop.OutputCollection] = l.Results
	}
	t.Loop = nil
	r.leave(t, n.Outgoing)
}

// dropWork removes what one instance of an activity left behind (its task, user task or child),
// keeping the boundary subscriptions of the loop.
func (r *runner) dropWork(t *Token) {
	for _, s := range slices.Clone(r.st.Subs) {
		if s.Token == t.ID && (s.Kind == subActivity || s.Kind == subChild || s.Kind == subUser) {
			r.removeSub(s)
		}
	}
	r.st.UserTasks = slices.DeleteFunc(r.st.UserTasks, func(u *UserTask) bool { return u.Token == t.ID })
}
