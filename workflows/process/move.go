// Moving tokens (Camunda's "modify instance"): cancel the tokens at some elements and activate others,
// within one scope or across embedded sub-process scopes, checked before anything changes.

package process

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// MoveRequest is the argument of UpdateMove: the tokens at the elements of Cancel end, and a token
// starts at each element of Activate. A sub-process a target lies in is entered (its input mappings
// and boundary events too) when no instance of it runs; a sub-process left without tokens is
// cancelled with its boundary events.
type MoveRequest struct {
	Cancel   []string     `json:"cancel,omitempty" doc:"Element IDs whose tokens are cancelled."`
	Activate []MoveTarget `json:"activate,omitempty" doc:"Elements where a token starts."`
	Operator
}

// MoveTarget is an element to activate. Flow names the incoming sequence flow the token counts as
// having arrived by, which a joining gateway needs; when empty it is the one incoming flow the cancelled
// tokens could have reached it by.
type MoveTarget struct {
	Element string `json:"element"`
	Flow    string `json:"flow,omitempty"`
}

// MoveResult lists the tokens a move cancelled and activated, by element.
type MoveResult struct {
	Cancelled []string `json:"cancelled"`
	Activated []string `json:"activated"`
}

// movePlan is a checked move: the tokens to cancel and, per target, where its token goes.
type movePlan struct {
	cancel  []*Token
	targets []moveTarget
}

type moveTarget struct {
	node int
	flow int
	// into is the running scope instance the target (or the first sub-process to enter) lies in;
	// enter are the sub-process nodes to enter on the way, outermost first.
	into  int
	enter []int
}

// nodeByID finds an element of the model.
func nodeByID(m *bpmn.Model, id string) *bpmn.Node {
	for i := range m.Nodes {
		if m.Nodes[i].ID == id {
			return &m.Nodes[i]
		}
	}
	return nil
}

func flowByID(m *bpmn.Model, id string) int {
	for i := range m.Flows {
		if m.Flows[i].ID == id {
			return i
		}
	}
	return -1
}

// planMove checks a move against the instance as it stands; the error says what is wrong.
func (r *runner) planMove(req MoveRequest) (movePlan, error) {
	var p movePlan
	if len(req.Cancel) == 0 && len(req.Activate) == 0 {
		return p, errors.New("name the elements whose tokens to cancel or the elements to activate")
	}
	var problems []string
	for _, id := range req.Cancel {
		if nodeByID(r.model, id) == nil {
			problems = append(problems, fmt.Sprintf("cancel %s: no such element in the process", id))
			continue
		}
		found := false
		for _, t := range r.st.Tokens {
			if t.Element == id && t.Parent == 0 && !slices.Contains(p.cancel, t) {
				p.cancel = append(p.cancel, t)
				found = true
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("cancel %s: no token is at it", id))
		}
	}
	removed := r.removedBy(p.cancel)
	for _, target := range req.Activate {
		mt, err := r.planTarget(target, p.cancel, removed)
		if err != nil {
			problems = append(problems, fmt.Sprintf("activate %s: %v", target.Element, err))
			continue
		}
		p.targets = append(p.targets, mt)
	}
	if len(problems) > 0 {
		return p, errors.New(strings.Join(problems, "; "))
	}
	remaining := 0
	for _, t := range r.st.Tokens {
		if !removed[t.ID] {
			remaining++
		}
	}
	if remaining == 0 && len(p.targets) == 0 {
		return p, errors.New("the move would leave the instance without a token: cancel the instance instead")
	}
	if err := r.checkJoins(p, removed); err != nil {
		return p, err
	}
	return p, nil
}

// removedBy is every token that goes with the cancelled ones: those in the scopes they host and the
// instances of their multi-instance loops.
func (r *runner) removedBy(cancel []*Token) map[int]bool {
	removed := map[int]bool{}
	for _, t := range cancel {
		removed[t.ID] = true
	}
	for changed := true; changed; {
		changed = false
		for _, t := range r.st.Tokens {
			if removed[t.ID] {
				continue
			}
			host := 0
			if s := r.scope(t.Scope); s != nil {
				host = s.Host
			}
			if removed[t.Parent] || (host != 0 && removed[host]) {
				removed[t.ID] = true
				changed = true
			}
		}
	}
	return removed
}

// liveScopes lists the running instances of a model scope that a move keeps.
func (r *runner) liveScopes(scope int, removed map[int]bool) []*ScopeInstance {
	var out []*ScopeInstance
	for _, s := range r.st.Scopes {
		if s.Scope == scope && (s.Host == 0 || !removed[s.Host]) {
			out = append(out, s)
		}
	}
	return out
}

// planTarget finds where a token for target goes.
func (r *runner) planTarget(target MoveTarget, cancel []*Token, removed map[int]bool) (moveTarget, error) {
	n := nodeByID(r.model, target.Element)
	if n == nil {
		return moveTarget{}, errors.New("no such element in the process")
	}
	switch {
	case n.Kind.IsBoundary():
		return moveTarget{}, errors.New("a boundary event is triggered, not activated: activate the element after it")
	case n.Kind == bpmn.KindEventSubProcess:
		return moveTarget{}, errors.New("event sub-processes start by their event, not by a move")
	case slices.Contains(r.model.Scopes[n.Scope].Starts, n.Index):
		return moveTarget{}, errors.New("a start event cannot be activated: activate the element after it")
	}
	mt := moveTarget{node: n.Index, flow: -1}
	// Walk out from the target's scope to the nearest one running; the sub-processes on the way are
	// entered.
	for scope := n.Scope; ; {
		live := r.liveScopes(scope, removed)
		if len(live) == 1 {
			mt.into = live[0].ID
			break
		}
		sn := &r.model.Nodes[r.model.Scopes[scope].Node]
		if len(live) > 1 {
			return mt, fmt.Errorf("it lies in sub-process %s, which runs %d times: cancel all of them but one first", sn.ID, len(live))
		}
		if scope == 0 {
			return mt, errors.New("the process scope is not running")
		}
		switch {
		case sn.Kind != bpmn.KindSubProcess:
			return mt, fmt.Errorf("it lies in %s (%s), which a move cannot enter", sn.ID, sn.Kind)
		case sn.Loop != nil:
			return mt, fmt.Errorf("it lies in multi-instance sub-process %s, which a move cannot enter", sn.ID)
		}
		mt.enter = append([]int{sn.Index}, mt.enter...)
		scope = sn.Scope
	}
	if target.Flow != "" {
		f := flowByID(r.model, target.Flow)
		if f < 0 || !slices.Contains(n.Incoming, f) {
			return mt, fmt.Errorf("%s is not an incoming sequence flow of it", target.Flow)
		}
		mt.flow = f
		return mt, nil
	}
	joins := (n.Kind == bpmn.KindParallelGateway || n.Kind == bpmn.KindInclusiveGateway) && len(n.Incoming) > 1
	if !joins {
		return mt, nil
	}
	var candidates []int
	for _, f := range n.Incoming {
		src := r.model.Flows[f].Source
		if slices.ContainsFunc(cancel, func(t *Token) bool { return t.Node == src || r.reaches(t.Node, src) }) {
			candidates = append(candidates, f)
		}
	}
	if len(candidates) != 1 {
		ids := make([]string, len(n.Incoming))
		for i, f := range n.Incoming {
			ids[i] = r.model.Flows[f].ID
		}
		return mt, fmt.Errorf("it joins flows %s: name the one the token arrives by (flow)", strings.Join(ids, ", "))
	}
	mt.flow = candidates[0]
	return mt, nil
}

// checkJoins refuses a move after which a parallel join would wait forever: every incoming flow of a
// parallel join that a token of a scope can reach must be reachable by some token of that scope (or
// hold one already).
func (r *runner) checkJoins(p movePlan, removed map[int]bool) error {
	type tok struct{ node, scope, flow int }
	var toks []tok
	for _, t := range r.st.Tokens {
		if !removed[t.ID] {
			flow := -1
			if t.Status == tokJoined {
				flow = t.Flow
			}
			toks = append(toks, tok{t.Node, r.model.Nodes[t.Node].Scope, flow})
		}
	}
	for _, mt := range p.targets {
		toks = append(toks, tok{mt.node, r.model.Nodes[mt.node].Scope, mt.flow})
	}
	for i := range r.model.Nodes {
		j := &r.model.Nodes[i]
		if j.Kind != bpmn.KindParallelGateway || len(j.Incoming) < 2 {
			continue
		}
		involved := slices.ContainsFunc(toks, func(t tok) bool {
			return t.scope == j.Scope && (t.node == j.Index || r.reaches(t.node, j.Index))
		})
		if !involved {
			continue
		}
		for _, f := range j.Incoming {
			src := r.model.Flows[f].Source
			fed := slices.ContainsFunc(toks, func(t tok) bool {
				return t.scope == j.Scope && ((t.node == j.Index && t.flow == f) || t.node == src || r.reaches(t.node, src))
			})
			if !fed {
				return fmt.Errorf("after the move the parallel gateway %s would wait forever for a token on flow %s: activate an element on that path (or the gateway with that flow)", j.ID, r.model.Flows[f].ID)
			}
		}
	}
	return nil
}

// move applies a checked move.
func (r *runner) move(req MoveRequest) (MoveResult, error) {
	p, err := r.planMove(req)
	if err != nil {
		return MoveResult{}, err
	}
	res := MoveResult{Cancelled: []string{}, Activated: []string{}}
	for _, t := range p.cancel {
		if r.token(t.ID) == nil {
			continue
		}
		r.note(t.Element, EventMovedFrom, t.ID, req.Operator, "")
		res.Cancelled = append(res.Cancelled, t.Element)
		r.cancelToken(t)
	}
	entered := map[int]int{} // sub-process node → the scope instance entered for it
	for _, mt := range p.targets {
		into := mt.into
		for _, sp := range mt.enter {
			if id, ok := entered[sp]; ok {
				into = id
				continue
			}
			into = r.enterScope(&r.model.Nodes[sp], into, req.Operator)
			entered[sp] = into
		}
		n := &r.model.Nodes[mt.node]
		t := r.newToken(mt.node, into, mt.flow)
		r.note(n.ID, EventMovedTo, t.ID, req.Operator, "")
		res.Activated = append(res.Activated, n.ID)
	}
	r.pruneScopes()
	r.st.Steps = 0
	return res, nil
}

// enterScope enters an embedded sub-process for a move without starting it at its start event: a host
// token waits at the sub-process with its input mappings and boundary events; returns the new scope
// instance.
func (r *runner) enterScope(sp *bpmn.Node, parent int, op Operator) int {
	h := r.newToken(sp.Index, parent, -1)
	h.Status = tokWaiting
	r.note(sp.ID, EventMovedTo, h.ID, op, "entered to reach an element inside")
	if in, err := r.inputs(h, sp); err == nil && len(in) > 0 {
		if r.at(levelIssue12) {
			for _, k := range sortedKeys(in) {
				r.setLocal(h, k, in[k])
			}
		} else {
			r.merge(in)
		}
	}
	inst := r.newScope(sp.SubScope, parent, h.ID, false)
	h.Child = inst.ID
	r.armBoundaries(h, sp)
	r.armScope(inst)
	return inst.ID
}

// pruneScopes cancels the sub-process (and event sub-process) instances a move left without tokens,
// with the tokens hosting them.
func (r *runner) pruneScopes() {
	for changed := true; changed; {
		changed = false
		for _, s := range slices.Clone(r.st.Scopes) {
			if s.Parent == 0 || r.scope(s.ID) == nil {
				continue
			}
			busy := slices.ContainsFunc(r.st.Tokens, func(t *Token) bool { return t.Scope == s.ID }) ||
				slices.ContainsFunc(r.st.Scopes, func(o *ScopeInstance) bool { return o.Parent == s.ID })
			if busy {
				continue
			}
			r.cancelScope(s.ID)
			if host := r.token(s.Host); host != nil {
				host.Child = 0
				r.cancelToken(host)
			}
			changed = true
		}
	}
}
