// Events: errors thrown and caught, boundary events, event sub-processes, timers and messages.

package process

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// throwAt throws a BPMN error at an activity token: its error boundary catches it, or it propagates
// to the enclosing scopes.
func (r *runner) throwAt(t *Token, code, msg string) {
	if t.Parent != 0 { // an instance of a parallel loop throws for the whole loop
		if host := r.token(t.Parent); host != nil {
			r.cancelToken(t)
			t = host
		}
	}
	n := &r.model.Nodes[t.Node]
	if b := r.errorBoundary(n, code); b >= 0 {
		r.interrupt(t, b, map[string]any{"error": map[string]any{"code": code, "message": msg}})
		return
	}
	scope := t.Scope
	r.cancelToken(t)
	r.throwIn(scope, code, n.ID)
}

func (r *runner) errorBoundary(n *bpmn.Node, code string) int {
	for _, b := range n.Boundaries {
		bn := &r.model.Nodes[b]
		if bn.Kind == bpmn.KindBoundaryError && (bn.Error == nil || bn.Error.Code == "" || bn.Error.Code == code) {
			return b
		}
	}
	return -1
}

// throwIn looks for a handler of an error thrown inside scope instance id: an error event sub-process
// of the scope, else an error boundary of the sub-process hosting it, and so on outwards.
func (r *runner) throwIn(id int, code, element string) {
	for s := r.scope(id); s != nil; {
		for _, esp := range r.model.Scopes[s.Scope].EventSubProcesses {
			espNode := &r.model.Nodes[esp]
			start := r.model.Scopes[espNode.SubScope].Starts[0]
			sn := &r.model.Nodes[start]
			if sn.Kind == bpmn.KindStartError && (sn.Error == nil || sn.Error.Code == "" || sn.Error.Code == code) {
				r.triggerEventSub(s, espNode, start)
				return
			}
		}
		if s.Host == 0 {
			if s.Event {
				s = r.scope(s.Parent)
				continue
			}
			break
		}
		host := r.token(s.Host)
		if host == nil {
			break
		}
		if b := r.errorBoundary(&r.model.Nodes[host.Node], code); b >= 0 {
			r.interrupt(host, b, map[string]any{"error": map[string]any{"code": code}})
			return
		}
		next := host.Scope
		r.cancelToken(host)
		s = r.scope(next)
	}
	if r.in.Child {
		r.failErr = temporal.NewNonRetryableApplicationError("unhandled BPMN error "+code+" at "+element, ErrorTypeBPMN, nil, code)
		r.finish(StateCompleted)
		return
	}
	// The instance stays open with the incident; retrying it lets the emptied scopes complete.
	r.raise(nil, element, IncidentUnhandledError, fmt.Sprintf("BPMN error %q is not caught by any boundary or event sub-process", code))
}

// interrupt cancels what a token runs and moves it to one of its boundary events.
func (r *runner) interrupt(t *Token, boundary int, vars map[string]any) {
	r.disarm(t)
	if t.Child != 0 {
		r.cancelScope(t.Child)
		t.Child = 0
	}
	r.record(t.Element, "cancelled", t.ID)
	if len(vars) > 0 {
		r.merge(vars)
	}
	t.Loop = nil
	t.Node, t.Element, t.Status, t.Flow = boundary, r.model.Nodes[boundary].ID, tokReady, -1
}

// armBoundaries subscribes the timer and message boundary events of an activity token.
func (r *runner) armBoundaries(t *Token, n *bpmn.Node) {
	if (t.Loop != nil && t.Loop.Index > 0) || t.Parent != 0 {
		return // armed for the whole multi-instance activity at its first iteration
	}
	for _, b := range n.Boundaries {
		bn := &r.model.Nodes[b]
		switch bn.Kind {
		case bpmn.KindBoundaryTimer:
			r.subscribeTimer(t, bn, 0)
		case bpmn.KindBoundaryMessage:
			r.subscribeMessage(t, bn, bn)
		}
	}
}

// armScope subscribes the timer and message starts of a scope instance's event sub-processes.
func (r *runner) armScope(s *ScopeInstance) {
	for _, esp := range r.model.Scopes[s.Scope].EventSubProcesses {
		espNode := &r.model.Nodes[esp]
		start := r.model.Scopes[espNode.SubScope].Starts[0]
		sn := &r.model.Nodes[start]
		switch sn.Kind {
		case bpmn.KindStartTimer:
			r.addTimer(&Subscription{Kind: subTimer, Scope: s.ID, Node: start}, sn, nil)
		case bpmn.KindStartMessage:
			r.addMessage(&Subscription{Kind: subMessage, Scope: s.ID, Node: start}, sn)
		}
	}
}

// triggerEventSub starts an event sub-process in scope instance s, interrupting s when it is an
// interrupting one.
func (r *runner) triggerEventSub(s *ScopeInstance, espNode *bpmn.Node, start int) {
	if r.model.Nodes[start].Interrupting || espNode.Interrupting {
		r.clearScope(s.ID)
		r.dropScopeSubs(s.ID)
	}
	inst := r.newScope(espNode.SubScope, s.ID, 0, true)
	r.record(espNode.ID, "entered", 0)
	r.newToken(start, inst.ID, -1)
	r.armScope(inst)
}

func (r *runner) subscribeTimer(t *Token, n *bpmn.Node, fired int) {
	r.addTimer(&Subscription{Kind: subTimer, Token: t.ID, Node: n.Index, Fired: fired}, n, t)
}

// addTimer computes when a timer fires (evaluating expression timers) and starts it.
func (r *runner) addTimer(s *Subscription, n *bpmn.Node, t *Token) {
	tm := n.Timer
	if tm == nil {
		r.raise(t, n.ID, IncidentUnsupported, "timer event without a timer")
		return
	}
	if tm.Expression != "" {
		v, err := r.x.eval(tm.Expression, r.st.Variables, nil, r.now())
		if err == nil {
			tm, err = tm.WithValue(v)
		}
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return
		}
	}
	var at time.Time
	var err error
	if s.Fired > 0 && tm.Cycle != nil {
		var ok bool
		at, ok, err = tm.Cycle.Next(s.FireAt, s.Fired)
		if err == nil && !ok {
			return // repetitions exhausted
		}
	} else {
		at, err = tm.FireAt(r.now())
	}
	if err != nil {
		r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("timer: %v", err))
		return
	}
	s.ID = r.nextID()
	s.FireAt = at
	r.st.Subs = append(r.st.Subs, s)
	r.startTimer(s)
}

// startTimer runs the Temporal timer of a subscription (also after continue-as-new).
func (r *runner) startTimer(s *Subscription) {
	d := s.FireAt.Sub(r.now())
	if d <= 0 {
		r.queue = append(r.queue, event{kind: "timer", sub: s.ID})
		return
	}
	ctx, cancel := workflow.WithCancel(r.ctx)
	r.cancels[s.ID] = cancel
	id := s.ID
	workflow.Go(ctx, func(ctx workflow.Context) {
		if err := workflow.NewTimer(ctx, d).Get(ctx, nil); err == nil {
			r.queue = append(r.queue, event{kind: "timer", sub: id})
		}
	})
}

func (r *runner) subscribeMessage(t *Token, n, catcher *bpmn.Node) bool {
	return r.addMessage(&Subscription{Kind: subMessage, Token: t.ID, Node: catcher.Index}, n)
}

// addMessage subscribes to a message, evaluating the correlation key, and takes a buffered message
// that matches at once.
func (r *runner) addMessage(s *Subscription, n *bpmn.Node) bool {
	if n.Message == nil {
		r.raise(r.token(s.Token), n.ID, IncidentUnsupported, "message event without a message")
		return false
	}
	s.Message = n.Message.Name
	if n.Message.CorrelationKey != "" {
		v, err := r.x.eval(n.Message.CorrelationKey, r.st.Variables, nil, r.now())
		if err != nil {
			r.raise(r.token(s.Token), n.ID, IncidentExpression, fmt.Sprintf("correlation key: %v", err))
			return false
		}
		if v != nil {
			s.Key = fmt.Sprint(v)
		}
	}
	s.ID = r.nextID()
	r.st.Subs = append(r.st.Subs, s)
	for i, m := range r.st.Messages {
		if matches(s, m) {
			r.st.Messages = slices.Delete(r.st.Messages, i, i+1)
			r.queue = append(r.queue, event{kind: "message", message: &m})
			break
		}
	}
	return true
}

func matches(s *Subscription, m MessageRequest) bool {
	return s.Kind == subMessage && s.Message == m.Name && (s.Key == "" || s.Key == m.CorrelationKey)
}

// deliver correlates a message with the oldest matching subscription, or buffers it.
func (r *runner) deliver(m MessageRequest) {
	for _, s := range r.st.Subs {
		if matches(s, m) {
			r.fire(s, m.Variables)
			return
		}
	}
	r.st.Messages = append(r.st.Messages, m)
	if len(r.st.Messages) > 100 {
		r.st.Messages = slices.Delete(r.st.Messages, 0, len(r.st.Messages)-100)
	}
}

// fire triggers a timer or message subscription.
func (r *runner) fire(s *Subscription, vars map[string]any) {
	n := &r.model.Nodes[s.Node]
	if s.Token == 0 { // event sub-process start
		scope := r.scope(s.Scope)
		if scope == nil {
			r.removeSub(s)
			return
		}
		r.rearm(s, n)
		if len(vars) > 0 {
			r.merge(vars)
		}
		espNode := &r.model.Nodes[r.model.Scopes[n.Scope].Node]
		r.triggerEventSub(scope, espNode, s.Node)
		return
	}
	t := r.token(s.Token)
	if t == nil {
		r.removeSub(s)
		return
	}
	if len(vars) > 0 {
		r.merge(vars)
	}
	switch {
	case n.Kind.IsBoundary() && !n.Interrupting:
		r.rearm(s, n)
		r.newToken(n.Index, t.Scope, -1)
	case n.Kind.IsBoundary():
		r.interrupt(t, n.Index, nil)
	case s.Node == t.Node: // the token's own catch event or receive task
		r.removeSub(s)
		if len(n.Outputs) > 0 {
			if err := r.outputs(n, vars); err != nil {
				r.raise(t, n.ID, IncidentExpression, err.Error())
				return
			}
		}
		r.leave(t, n.Outgoing)
	default: // a target of an event-based gateway
		r.disarm(t)
		r.record(t.Element, "left", t.ID)
		t.Node, t.Element, t.Status, t.Flow = n.Index, n.ID, tokReady, -1
		// The catch event is entered already fired: skip its own wait.
		r.record(n.ID, "entered", t.ID)
		t.Status = tokWaiting
		r.leave(t, n.Outgoing)
	}
}

// rearm keeps non-interrupting subscriptions alive: cycles schedule their next firing, messages stay.
func (r *runner) rearm(s *Subscription, n *bpmn.Node) {
	if s.Kind == subMessage && !n.Interrupting {
		return
	}
	r.removeSub(s)
	if s.Kind == subTimer && !n.Interrupting && n.Timer != nil && n.Timer.Cycle != nil {
		next := &Subscription{Kind: subTimer, Token: s.Token, Scope: s.Scope, Node: s.Node, Fired: s.Fired + 1, FireAt: s.FireAt}
		r.addTimer(next, n, r.token(s.Token))
	}
}
