// Tokens: entering and leaving elements, gateways, scopes and their completion.

package process

import (
	"fmt"
	"maps"
	"slices"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"go.temporal.io/sdk/workflow"
)

// enter executes the node a ready token stands at.
func (r *runner) enter(t *Token) {
	n := &r.model.Nodes[t.Node]
	iteration := (t.Loop != nil && t.Loop.Index > 0) || t.Instance > 0
	if !iteration {
		r.st.Steps++
	}
	r.work++
	if r.st.Steps > r.opts.StepBudget {
		r.raise(t, n.ID, IncidentStepBudget, fmt.Sprintf("more than %d elements entered without a wait state", r.opts.StepBudget))
		r.st.Steps = 0
		return
	}
	t.Status = tokWaiting
	t.Element = n.ID
	r.record(n.ID, "entered", t.ID)
	if t.Instance > 0 {
		r.enterInstance(t, n)
	} else if n.Loop != nil && t.Loop == nil && n.Kind.IsActivity() && !r.startLoop(t, n) {
		return
	}
	if t.Loop != nil && t.Loop.Parallel {
		return // the host of a parallel loop waits for its instance tokens
	}
	switch n.Kind {
	case bpmn.KindStartNone, bpmn.KindStartRecord, bpmn.KindStartTimer, bpmn.KindStartMessage, bpmn.KindStartError,
		bpmn.KindLinkCatch, bpmn.KindBoundaryTimer, bpmn.KindBoundaryMessage, bpmn.KindBoundaryError:
		if len(n.Outputs) > 0 {
			if err := r.outputs(t, n, t.Payload); err != nil {
				r.raise(t, n.ID, IncidentExpression, err.Error())
				return
			}
		}
		r.leave(t, n.Outgoing)
	case bpmn.KindEndNone:
		r.consume(t)
	case bpmn.KindEndTerminate:
		r.terminate(t)
	case bpmn.KindEndError:
		code := ""
		if n.Error != nil {
			code = n.Error.Code
		}
		if r.at(levelUncaughtRetry) && !r.in.Child && !r.catches(t.Scope, code) {
			r.uncaught(t, n.ID, code, "") // the token stays at the end event; see checkRetryable
			return
		}
		r.st.EndElement = n.ID
		r.record(n.ID, "left", t.ID)
		r.removeToken(t)
		r.throwIn(t.Scope, code, n.ID, "")
	case bpmn.KindServiceTask, bpmn.KindBusinessRuleTask, bpmn.KindMessageThrow:
		r.startTask(t, n)
	case bpmn.KindScriptTask:
		r.script(t, n)
	case bpmn.KindUserTask:
		r.startUserTask(t, n)
	case bpmn.KindReceiveTask, bpmn.KindMessageCatch:
		if r.subscribeMessage(t, n, n) {
			r.armBoundaries(t, n)
		}
	case bpmn.KindTimerCatch:
		r.subscribeTimer(t, n, 0)
	case bpmn.KindEventGateway:
		for _, f := range n.Outgoing {
			target := &r.model.Nodes[r.model.Flows[f].Target]
			switch {
			case target.Timer != nil:
				r.subscribeTimer(t, target, 0)
			case target.Message != nil:
				r.subscribeMessage(t, target, target)
			}
			if t.Status != tokWaiting {
				return
			}
		}
	case bpmn.KindExclusiveGateway:
		r.exclusive(t, n)
	case bpmn.KindParallelGateway:
		if len(n.Incoming) > 1 && !r.parallelJoin(t, n) {
			return
		}
		r.leave(t, n.Outgoing)
	case bpmn.KindInclusiveGateway:
		if len(n.Incoming) > 1 {
			t.Status = tokJoined
			return // checkInclusiveJoins fires it when no other token can still arrive
		}
		r.inclusiveFork(t, n)
	case bpmn.KindLinkThrow:
		if n.LinkTarget < 0 {
			r.raise(t, n.ID, IncidentNoPath, "link throw without a matching catch")
			return
		}
		r.record(n.ID, "left", t.ID)
		t.Node = n.LinkTarget
		t.Status = tokReady
		t.Flow = -1
	case bpmn.KindSubProcess:
		r.startSubProcess(t, n)
	case bpmn.KindCallActivity:
		r.startCall(t, n)
	default:
		r.raise(t, n.ID, IncidentUnsupported, fmt.Sprintf("element kind %s is not executable", n.Kind))
	}
}

// leave moves the token out of its node along flows; extra flows fork new tokens (which start
// without local variables: those belonged to the activity left).
func (r *runner) leave(t *Token, flows []int) {
	n := &r.model.Nodes[t.Node]
	r.disarm(t)
	t.Loop = nil
	t.Vars, t.Payload = nil, nil
	r.record(n.ID, "left", t.ID)
	if len(flows) == 0 {
		r.consume(t)
		return
	}
	for i, f := range flows {
		target := r.model.Flows[f].Target
		if i == 0 {
			t.Node, t.Element, t.Status, t.Flow = target, r.model.Nodes[target].ID, tokReady, f
			continue
		}
		r.newToken(target, t.Scope, f)
	}
}

// consume removes a token that reached its end and completes its scope when it was the last one.
func (r *runner) consume(t *Token) {
	r.disarm(t)
	r.removeToken(t)
	if n := &r.model.Nodes[t.Node]; n.Kind.IsEnd() {
		r.st.EndElement = n.ID
		r.closeElement(t.ID, n.ID, true) // an end event is left as it is entered
	}
	r.checkScope(t.Scope)
}

func (r *runner) removeToken(t *Token) {
	r.st.Tokens = slices.DeleteFunc(r.st.Tokens, func(o *Token) bool { return o.ID == t.ID })
}

// disarm cancels every subscription, user task and incident of a token (not its sub-process scope).
func (r *runner) disarm(t *Token) {
	keep := r.st.Subs[:0]
	var drop []*Subscription
	for _, s := range r.st.Subs {
		if s.Token == t.ID {
			drop = append(drop, s)
			continue
		}
		keep = append(keep, s)
	}
	r.st.Subs = keep
	for _, s := range drop {
		r.cancelSub(s)
	}
	t.Armed = nil
	r.st.UserTasks = slices.DeleteFunc(r.st.UserTasks, func(u *UserTask) bool { return u.Token == t.ID })
	r.st.Incidents = slices.DeleteFunc(r.st.Incidents, func(i *Incident) bool { return i.Token == t.ID })
	for _, o := range slices.Clone(r.st.Tokens) {
		if o.Parent == t.ID {
			r.cancelToken(o) // instances of a parallel loop end with it
		}
	}
}

// cancelToken stops a token and everything it runs (sub-process scopes recursively).
func (r *runner) cancelToken(t *Token) {
	r.disarm(t)
	if t.Child != 0 {
		r.cancelScope(t.Child)
		t.Child = 0
	}
	if t.Status != tokReady {
		r.record(t.Element, "cancelled", t.ID)
	}
	r.removeToken(t)
}

// cancelScope cancels a scope instance's tokens, nested scopes and event sub-process subscriptions.
func (r *runner) cancelScope(id int) {
	r.clearScope(id)
	r.dropScopeSubs(id)
	r.st.Scopes = slices.DeleteFunc(r.st.Scopes, func(s *ScopeInstance) bool { return s.ID == id })
}

// clearScope cancels what runs inside a scope instance but keeps the instance itself.
func (r *runner) clearScope(id int) {
	for _, t := range slices.Clone(r.st.Tokens) {
		if t.Scope == id && r.token(t.ID) != nil {
			r.cancelToken(t)
		}
	}
	for _, s := range slices.Clone(r.st.Scopes) {
		if s.Parent == id && r.scope(s.ID) != nil {
			r.cancelScope(s.ID)
		}
	}
}

func (r *runner) dropScopeSubs(id int) {
	for _, s := range slices.Clone(r.st.Subs) {
		if s.Token == 0 && s.Scope == id {
			r.removeSub(s)
		}
	}
}

func (r *runner) removeSub(s *Subscription) {
	r.st.Subs = slices.DeleteFunc(r.st.Subs, func(o *Subscription) bool { return o.ID == s.ID })
	r.cancelSub(s)
}

// cancelSub stops what a removed subscription ran: its timer, activity or child. At behaviour level 1
// a child is cancelled by its workflow id (it may have been started by an earlier run).
func (r *runner) cancelSub(s *Subscription) {
	if c, ok := r.cancels[s.ID]; ok {
		c()
		delete(r.cancels, s.ID)
		return
	}
	if s.Kind == subChild && s.Child != "" && r.at(levelIssue12) {
		// The server drops the request if this run closes before it is delivered: the run waits for
		// it before ending or continuing as new.
		r.cancelling = append(r.cancelling, workflow.RequestCancelExternalWorkflow(r.ctx, s.Child, ""))
	}
}

// checkScope completes a scope instance with no tokens and no nested instances left.
func (r *runner) checkScope(id int) {
	s := r.scope(id)
	if s == nil {
		return
	}
	for _, t := range r.st.Tokens {
		if t.Scope == id {
			return
		}
	}
	for _, o := range r.st.Scopes {
		if o.Parent == id {
			return
		}
	}
	r.completeScope(s)
}

func (r *runner) completeScope(s *ScopeInstance) {
	r.dropScopeSubs(s.ID)
	r.st.Scopes = slices.DeleteFunc(r.st.Scopes, func(o *ScopeInstance) bool { return o.ID == s.ID })
	switch {
	case s.Parent == 0:
		r.finish(StateCompleted)
	case s.Event:
		r.checkScope(s.Parent)
	default:
		if host := r.token(s.Host); host != nil {
			host.Child = 0
			if r.at(levelIssue12) {
				r.finishActivity(host, &r.model.Nodes[host.Node], nil) // a sub-process's output mappings
				return
			}
			r.complete(host, &r.model.Nodes[host.Node], nil)
		}
	}
}

// finish ends the instance, cancelling whatever still waits.
func (r *runner) finish(status string) {
	for _, s := range slices.Clone(r.st.Subs) {
		r.removeSub(s)
	}
	r.st.Tokens = nil
	r.st.Scopes = nil
	r.st.UserTasks = nil
	r.st.Status = status
	r.done = true
}

// terminate ends the token's scope instance at once (the whole instance at process level).
func (r *runner) terminate(t *Token) {
	r.st.EndElement = t.Element
	scope := r.scope(t.Scope)
	r.record(t.Element, "left", t.ID)
	r.removeToken(t)
	if scope == nil {
		return
	}
	r.clearScope(scope.ID)
	r.completeScope(scope)
}

// outputs applies a node's output mappings at token t with result bound to the given value. At
// behaviour level 1 the variables of the message (or error, or completion) that triggered the node
// (Token.Payload) are also readable by name, as in Zeebe.
func (r *runner) outputs(t *Token, n *bpmn.Node, result any) error {
	extra := map[string]any{bpmn.ResultVar: result}
	if r.at(levelIssue12) && t != nil && len(t.Payload) > 0 {
		extra = make(map[string]any, len(t.Payload)+1)
		maps.Copy(extra, t.Payload)
		extra[bpmn.ResultVar] = result
	}
	vars := r.vars(t)
	vals := make([]any, len(n.Outputs))
	for i, m := range n.Outputs {
		v, err := r.x.eval(m.Source, vars, extra, r.now())
		if err != nil {
			return fmt.Errorf("output %s: %w", m.Target, err)
		}
		vals[i] = v
	}
	for i, m := range n.Outputs {
		r.setVar(t, m.Target, vals[i])
	}
	return r.x.coerce(r.st.Variables)
}

// inputs evaluates a node's input mappings at token t; at behaviour level 1 a dotted target builds
// the nested object.
func (r *runner) inputs(t *Token, n *bpmn.Node) (map[string]any, error) {
	out := make(map[string]any, len(n.Inputs))
	vars := r.vars(t)
	for _, m := range n.Inputs {
		v, err := r.x.eval(m.Source, vars, nil, r.now())
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", m.Target, err)
		}
		if r.at(levelIssue12) {
			setPath(out, m.Target, v)
		} else {
			out[m.Target] = v
		}
	}
	return out, nil
}

func (r *runner) script(t *Token, n *bpmn.Node) {
	for _, a := range n.Script {
		v, err := r.x.eval(a.Expression, r.vars(t), nil, r.now())
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return
		}
		r.setVar(t, a.Target, v)
		if err := r.x.coerce(r.st.Variables); err != nil {
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return
		}
	}
	if r.at(levelIssue12) {
		r.finishActivity(t, n, nil)
		return
	}
	if err := r.outputs(t, n, nil); len(n.Outputs) > 0 && err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return
	}
	r.complete(t, n, nil)
}

func (r *runner) exclusive(t *Token, n *bpmn.Node) {
	if len(n.Outgoing) == 1 {
		r.leave(t, n.Outgoing)
		return
	}
	for _, f := range n.Outgoing {
		fl := r.model.Flows[f]
		if fl.Condition == "" || f == n.Default {
			continue
		}
		ok, err := r.x.evalBool(fl.Condition, r.vars(t), r.now())
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("flow %s: %v", fl.ID, err))
			return
		}
		if ok {
			r.leave(t, []int{f})
			return
		}
	}
	if n.Default >= 0 {
		r.leave(t, []int{n.Default})
		return
	}
	r.raise(t, n.ID, IncidentNoPath, "no outgoing flow's condition holds and there is no default flow")
}

func (r *runner) inclusiveFork(t *Token, n *bpmn.Node) {
	var take []int
	for _, f := range n.Outgoing {
		fl := r.model.Flows[f]
		if f == n.Default {
			continue
		}
		if fl.Condition == "" {
			take = append(take, f)
			continue
		}
		ok, err := r.x.evalBool(fl.Condition, r.vars(t), r.now())
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("flow %s: %v", fl.ID, err))
			return
		}
		if ok {
			take = append(take, f)
		}
	}
	if len(take) == 0 && n.Default >= 0 {
		take = []int{n.Default}
	}
	if len(take) == 0 {
		r.raise(t, n.ID, IncidentNoPath, "no outgoing flow's condition holds and there is no default flow")
		return
	}
	r.leave(t, take)
}

// parallelJoin parks the token and reports whether every incoming flow now has a token; the arriving
// token then continues and one token per other flow is consumed.
func (r *runner) parallelJoin(t *Token, n *bpmn.Node) bool {
	t.Status = tokJoined
	var use []*Token
	for _, f := range n.Incoming {
		var found *Token
		for _, o := range r.st.Tokens {
			if o.Node == n.Index && o.Scope == t.Scope && o.Status == tokJoined && o.Flow == f {
				found = o
				break
			}
		}
		if found == nil {
			return false
		}
		use = append(use, found)
	}
	for _, o := range use {
		if o.ID != t.ID {
			r.removeToken(o)
		}
	}
	t.Status = tokWaiting
	return true
}

// checkInclusiveJoins fires the inclusive joins that may fire. At behaviour level 1 that is the BPMN
// 2.0 rule (inclusiveReady) and each firing consumes one token per incoming flow that has one; the
// first release fired when no other token of the scope could reach the join at all, consuming every
// token waiting there.
func (r *runner) checkInclusiveJoins() bool {
	for _, t := range r.st.Tokens {
		if t.Status != tokJoined || r.model.Nodes[t.Node].Kind != bpmn.KindInclusiveGateway {
			continue
		}
		n := &r.model.Nodes[t.Node]
		if r.at(levelIssue12) {
			if !r.inclusiveReady(t, n) {
				continue
			}
			used := map[int]bool{t.Flow: true}
			for _, o := range slices.Clone(r.st.Tokens) {
				if o.ID != t.ID && o.Node == n.Index && o.Scope == t.Scope && o.Status == tokJoined && !used[o.Flow] {
					used[o.Flow] = true
					r.removeToken(o)
				}
			}
			t.Status = tokWaiting
			r.inclusiveFork(t, n)
			return true
		}
		blocked := false
		for _, o := range r.st.Tokens {
			if o.Scope != t.Scope || (o.Node == n.Index && o.Status == tokJoined) {
				continue
			}
			if r.reaches(o.Node, n.Index) {
				blocked = true
				break
			}
		}
		if blocked {
			continue
		}
		for _, o := range slices.Clone(r.st.Tokens) {
			if o.ID != t.ID && o.Node == n.Index && o.Scope == t.Scope && o.Status == tokJoined {
				r.removeToken(o)
			}
		}
		t.Status = tokWaiting
		r.inclusiveFork(t, n)
		return true
	}
	return false
}

// inclusiveReady applies the BPMN 2.0 rule for an inclusive join n where token t waits: it fires
// when every incoming flow that can still receive a token has one. An empty incoming flow can still
// receive one when a token of the scope has a path to it that neither passes the join itself nor
// passes a node from which a filled incoming flow can be reached (such a token may as well arrive on
// the filled flow, so it fires the join again later).
func (r *runner) inclusiveReady(t *Token, n *bpmn.Node) bool {
	filled := map[int]bool{}
	for _, o := range r.st.Tokens {
		if o.Node == n.Index && o.Scope == t.Scope && o.Status == tokJoined {
			filled[o.Flow] = true
		}
	}
	// bad: the join and every node with a path (not through the join) to a filled incoming flow.
	bad := make([]bool, len(r.model.Nodes))
	bad[n.Index] = true
	var stack []int
	for _, f := range n.Incoming {
		if filled[f] {
			stack = append(stack, r.model.Flows[f].Source)
		}
	}
	r.walkBack(stack, bad, nil)
	// upstream: the nodes with a path avoiding bad nodes to an empty incoming flow.
	upstream := make([]bool, len(r.model.Nodes))
	stack = stack[:0]
	for _, f := range n.Incoming {
		if src := r.model.Flows[f].Source; !filled[f] && !bad[src] {
			stack = append(stack, src)
		}
	}
	r.walkBack(stack, upstream, bad)
	for _, o := range r.st.Tokens {
		if o.Scope == t.Scope && !(o.Node == n.Index && o.Status == tokJoined) && upstream[o.Node] {
			return false
		}
	}
	return true
}

// walkBack marks every node from which one of the start nodes can be reached, walking sequence flows,
// boundary attachments and links backwards and never through a node marked in avoid.
func (r *runner) walkBack(stack []int, mark, avoid []bool) {
	preds := r.predecessors()
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if mark[cur] {
			continue
		}
		mark[cur] = true
		for _, p := range preds[cur] {
			if !mark[p] && (avoid == nil || !avoid[p]) {
				stack = append(stack, p)
			}
		}
	}
}

// predecessors lists, per node, the nodes control reaches it from: sources of incoming flows, the
// host of a boundary event, the throws of a link catch (computed once per run).
func (r *runner) predecessors() [][]int {
	if r.preds != nil {
		return r.preds
	}
	r.preds = make([][]int, len(r.model.Nodes))
	for _, f := range r.model.Flows {
		r.preds[f.Target] = append(r.preds[f.Target], f.Source)
	}
	for i := range r.model.Nodes {
		nd := &r.model.Nodes[i]
		for _, b := range nd.Boundaries {
			r.preds[b] = append(r.preds[b], i)
		}
		if nd.LinkTarget >= 0 {
			r.preds[nd.LinkTarget] = append(r.preds[nd.LinkTarget], i)
		}
	}
	return r.preds
}

// reaches reports whether control can flow from node a to node b (through boundary events too).
func (r *runner) reaches(a, b int) bool {
	if r.reach == nil {
		r.reach = map[[2]int]bool{}
	}
	if v, ok := r.reach[[2]int{a, b}]; ok {
		return v
	}
	seen := make([]bool, len(r.model.Nodes))
	stack := []int{a}
	found := false
	for len(stack) > 0 && !found {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if cur == b {
			found = true
			break
		}
		if seen[cur] {
			continue
		}
		seen[cur] = true
		nd := &r.model.Nodes[cur]
		for _, f := range nd.Outgoing {
			stack = append(stack, r.model.Flows[f].Target)
		}
		stack = append(stack, nd.Boundaries...)
		if nd.LinkTarget >= 0 {
			stack = append(stack, nd.LinkTarget)
		}
	}
	r.reach[[2]int{a, b}] = found
	return found
}
