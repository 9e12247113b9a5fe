// Sub-processes: embedded sub-process scopes and call activities (child instances of the interpreter).

package process

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// startSubProcess opens the scope of an embedded sub-process. Its input mappings become local
// variables of the scope (behaviour level 1; the first release set process variables), which its
// output mappings may read when it completes.
func (r *runner) startSubProcess(t *Token, n *bpmn.Node) {
	sc := r.model.Scopes[n.SubScope]
	if len(sc.Starts) == 0 {
		r.raise(t, n.ID, IncidentNoPath, "sub-process without a start event")
		return
	}
	if in, err := r.inputs(t, n); err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	} else if len(in) > 0 && r.at(levelIssue12) {
		for _, k := range sortedKeys(in) {
			r.setLocal(t, k, in[k])
		}
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
		v, err := r.x.value(n.Call.ProcessID, r.vars(t), r.now())
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return
		}
		key = fmt.Sprint(v)
	}
	vars, err := r.inputs(t, n)
	if err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	}
	if len(n.Inputs) == 0 || (n.Call != nil && n.Call.PropagateAllParentVariables) {
		for k, v := range r.vars(t) {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	s := &Subscription{ID: r.nextID(), Kind: subChild, Token: t.ID, Node: n.Index}
	r.st.Subs = append(r.st.Subs, s)
	r.armBoundaries(t, n)
	ctx := r.ctx
	if r.at(levelIssue12) {
		// Cancelled only by an explicit request the instance waits to see delivered (cancelSub): a
		// request made as the instance closes would otherwise be dropped, and the abandon policy
		// below no longer terminates the child with it.
		ctx, _ = workflow.NewDisconnectedContext(r.ctx)
	} else {
		var cancel workflow.CancelFunc
		ctx, cancel = workflow.WithCancel(r.ctx)
		r.cancels[s.ID] = cancel
	}
	info := workflow.GetInfo(r.ctx)
	child := Input{Ref: Ref{Key: key}, Variables: vars, BusinessKey: r.in.BusinessKey, Child: true, Options: r.in.Options}
	s.Child = fmt.Sprintf("%s/%s/%d", info.WorkflowExecution.ID, n.ID, s.ID)
	policy := enumspb.PARENT_CLOSE_POLICY_TERMINATE
	if r.at(levelIssue12) {
		// The child outlives a continue-as-new of this instance and reports its end by signal; this
		// instance cancels it when it no longer waits for it (cancelSub, cancelled).
		policy = enumspb.PARENT_CLOSE_POLICY_ABANDON
		child.Parent = &ParentLink{WorkflowID: info.WorkflowExecution.ID, Sub: s.ID}
	}
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            s.Child,
		ParentClosePolicy:     policy,
		TypedSearchAttributes: SearchAttributes(child),
	})
	id := s.ID
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res Result
		err := workflow.ExecuteChildWorkflow(ctx, WorkflowName, child).Get(ctx, &res)
		r.queue = append(r.queue, event{kind: "child", sub: id, output: res.Variables, err: err})
	})
}
