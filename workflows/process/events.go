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
// to the enclosing scopes. From behaviour level 5 an error nobody catches leaves the token where it
// is, with an incident whose retry runs the element again.
func (r *runner) throwAt(t *Token, code, msg string) {
	thrower := t
	if t.Parent != 0 { // an instance of a parallel loop throws for the whole loop
		if host := r.token(t.Parent); host != nil {
			thrower = host
		}
	}
	n := &r.model.Nodes[thrower.Node]
	if r.at(levelUncaughtRetry) && !r.in.Child && r.errorBoundary(n, code) < 0 && !r.catches(thrower.Scope, code) {
		r.uncaught(t, r.model.Nodes[t.Node].ID, code, msg)
		return
	}
	if thrower != t {
		r.cancelToken(t)
		t = thrower
	}
	if b := r.errorBoundary(n, code); b >= 0 {
		r.interrupt(t, b, map[string]any{"error": map[string]any{"code": code, "message": msg}})
		return
	}
	scope := t.Scope
	r.cancelToken(t)
	r.throwIn(scope, code, n.ID, msg)
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
// of the scope, else an error boundary of the sub-process hosting it, and so on outwards. msg is the
// error's message (from the task handler or child), shown on the incident when nobody catches it.
func (r *runner) throwIn(id int, code, element, msg string) {
	for s := r.scope(id); s != nil; {
		if esp, start := r.errorEventSub(s, code); esp != nil {
			r.triggerEventSub(s, esp, start)
			return
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
		text := "unhandled BPMN error " + code + " at " + element
		if msg != "" && r.at(levelIssue12) {
			text += ": " + msg
		}
		r.failErr = temporal.NewNonRetryableApplicationError(text, ErrorTypeBPMN, nil, code)
		r.finish(StateCompleted)
		return
	}
	// The instance stays open with the incident; retrying it lets the emptied scopes complete (levels
	// below 5: from level 5 the callers check catches first and keep the token at its element).
	r.uncaught(nil, element, code, msg)
}

// errorEventSub returns the error event sub-process of scope instance s that catches code, and its
// start event, or nil.
func (r *runner) errorEventSub(s *ScopeInstance, code string) (*bpmn.Node, int) {
	for _, esp := range r.model.Scopes[s.Scope].EventSubProcesses {
		espNode := &r.model.Nodes[esp]
		start := r.model.Scopes[espNode.SubScope].Starts[0]
		sn := &r.model.Nodes[start]
		if sn.Kind == bpmn.KindStartError && (sn.Error == nil || sn.Error.Code == "" || sn.Error.Code == code) {
			return espNode, start
		}
	}
	return nil, 0
}

// catches reports whether an error thrown inside scope instance id would be caught (by the handlers
// throwIn looks for, in the same order), without changing anything.
func (r *runner) catches(id int, code string) bool {
	for s := r.scope(id); s != nil; {
		if esp, _ := r.errorEventSub(s, code); esp != nil {
			return true
		}
		if s.Host == 0 {
			if s.Event {
				s = r.scope(s.Parent)
				continue
			}
			return false
		}
		host := r.token(s.Host)
		if host == nil {
			return false
		}
		if r.errorBoundary(&r.model.Nodes[host.Node], code) >= 0 {
			return true
		}
		s = r.scope(host.Scope)
	}
	return false
}

// uncaught raises the incident of a BPMN error nobody catches, at token t (behaviour level 5: the
// token waits at the element that threw it) or, without a token, on the element alone.
func (r *runner) uncaught(t *Token, element, code, msg string) {
	text := fmt.Sprintf("BPMN error %q is not caught by any boundary or event sub-process", code)
	if msg != "" && r.at(levelIssue12) {
		text += ": " + msg
	}
	in := r.raise(t, element, IncidentUnhandledError, text)
	if r.at(levelIssue12) {
		in.ErrorType = ErrorTypeBPMN
	}
}

// checkRetryable refuses the retry of an incident that would only raise itself again (behaviour level
// 5): an error end event whose error nobody catches throws it again on every run.
func (r *runner) checkRetryable(in *Incident) error {
	if !r.at(levelUncaughtRetry) || in.Kind != IncidentUnhandledError {
		return nil
	}
	t := r.token(in.Token)
	if t == nil || r.model.Nodes[t.Node].Kind != bpmn.KindEndError {
		return nil
	}
	return fmt.Errorf("incident %d cannot be retried: the error end event %s would throw its error again and "+
		"nothing catches it; catch it with an error boundary or event sub-process in a new version and migrate "+
		"the instance, move its token to another element, or cancel the instance", in.ID, t.Element)
}

// interrupt cancels what a token runs and moves it to one of its boundary events; vars are what the
// event was triggered with (a message's or an error's variables).
func (r *runner) interrupt(t *Token, boundary int, vars map[string]any) {
	r.disarm(t)
	if t.Child != 0 {
		r.cancelScope(t.Child)
		t.Child = 0
	}
	r.record(t.Element, "cancelled", t.ID)
	t.Loop = nil
	if r.at(levelIssue12) {
		t.Vars, t.Finished, t.Result = nil, 0, nil
		r.carry(t, &r.model.Nodes[boundary], vars)
	} else if len(vars) > 0 {
		r.merge(vars)
	}
	t.Node, t.Element, t.Status, t.Flow = boundary, r.model.Nodes[boundary].ID, tokReady, -1
}

// carry hands the variables an event was triggered with to the token that enters the catching node:
// with output mappings only they decide what is kept (the variables are readable by name and as
// result); without, the variables are merged from the token (behaviour level 1).
func (r *runner) carry(t *Token, catcher *bpmn.Node, vars map[string]any) {
	if len(vars) == 0 {
		return
	}
	if len(catcher.Outputs) > 0 {
		t.Payload = vars
		return
	}
	r.mergeAt(t, vars)
}

// armBoundaries subscribes the timer and message boundary events of an activity token, once per
// entry of the activity: a multi-instance activity's at its first iteration, for the whole loop. At
// behaviour level 1 the token remembers what it armed, so a retry keeps the boundary events with
// their original due times instead of starting them again.
func (r *runner) armBoundaries(t *Token, n *bpmn.Node) {
	if t.Parent != 0 {
		return // the loop's token owns the boundary events
	}
	if !r.at(levelIssue12) && t.Loop != nil && t.Loop.Index > 0 {
		return
	}
	for _, b := range n.Boundaries {
		if r.at(levelIssue12) && slices.Contains(t.Armed, b) {
			continue
		}
		bn := &r.model.Nodes[b]
		armed := true
		switch bn.Kind {
		case bpmn.KindBoundaryTimer:
			armed = r.subscribeTimer(t, bn, 0)
		case bpmn.KindBoundaryMessage:
			armed = r.subscribeMessage(t, bn, bn)
		}
		if !armed && r.at(levelIssue12) {
			return // an incident at the token; a retry arms the rest
		}
		if r.at(levelIssue12) {
			t.Armed = append(t.Armed, b)
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
func (r *runner) triggerEventSub(s *ScopeInstance, espNode *bpmn.Node, start int) *Token {
	if r.model.Nodes[start].Interrupting || espNode.Interrupting {
		r.clearScope(s.ID)
		r.dropScopeSubs(s.ID)
	}
	inst := r.newScope(espNode.SubScope, s.ID, 0, true)
	r.record(espNode.ID, "entered", 0)
	t := r.newToken(start, inst.ID, -1)
	r.armScope(inst)
	return t
}

func (r *runner) subscribeTimer(t *Token, n *bpmn.Node, fired int) bool {
	return r.addTimer(&Subscription{Kind: subTimer, Token: t.ID, Node: n.Index, Fired: fired}, n, t)
}

// addTimer computes when a timer fires (evaluating expression timers) and starts it; it reports
// false when it raised an incident instead.
func (r *runner) addTimer(s *Subscription, n *bpmn.Node, t *Token) bool {
	tm := n.Timer
	if tm == nil {
		r.raise(t, n.ID, IncidentUnsupported, "timer event without a timer")
		return false
	}
	if tm.Expression != "" {
		vars := r.scopeVars(s.Scope)
		if t != nil {
			vars = r.vars(t)
		}
		v, err := r.x.eval(tm.Expression, vars, nil, r.now())
		if err == nil {
			tm, err = tm.WithValue(v)
		}
		if err != nil {
			r.raise(t, n.ID, IncidentExpression, err.Error())
			return false
		}
	}
	var at time.Time
	var err error
	if s.Fired > 0 && tm.Cycle != nil {
		var ok bool
		at, ok, err = tm.Cycle.Next(s.FireAt, s.Fired)
		if err == nil && !ok {
			return true // repetitions exhausted
		}
	} else {
		at, err = tm.FireAt(r.now())
	}
	if err != nil {
		r.raise(t, n.ID, IncidentExpression, fmt.Sprintf("timer: %v", err))
		return false
	}
	s.ID = r.nextID()
	s.FireAt = at
	if r.at(levelOperations) {
		s.Since = r.now()
	}
	r.st.Subs = append(r.st.Subs, s)
	r.startTimer(s)
	return true
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
		vars := r.scopeVars(s.Scope)
		if t := r.token(s.Token); t != nil {
			vars = r.vars(t)
		}
		v, err := r.x.eval(n.Message.CorrelationKey, vars, nil, r.now())
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
	if r.at(levelIssue12) {
		r.expireMessages()
	}
	for i, m := range r.st.Messages {
		if matches(s, m.MessageRequest) {
			r.st.Messages = slices.Delete(r.st.Messages, i, i+1)
			r.queue = append(r.queue, event{kind: "message", message: &m.MessageRequest})
			break
		}
	}
	return true
}

func matches(s *Subscription, m MessageRequest) bool {
	return s.Kind == subMessage && s.Message == m.Name && (s.Key == "" || s.Key == m.CorrelationKey)
}

// deliver correlates a message with the oldest matching subscription, or buffers it. At behaviour
// level 1 a buffered message lives for its time to live (Options.MessageTTL unless the request names
// one; a negative one is not buffered), at most Options.MessagesPerName of one name are kept, and
// expired ones are dropped before any subscription looks at the buffer (a reply that arrived for an
// earlier round of a loop does not answer a later one once it expired). The first release kept the
// last 100 forever.
func (r *runner) deliver(m MessageRequest) MessageOutcome {
	for _, s := range r.st.Subs {
		if matches(s, m) {
			if r.at(levelOperations) {
				r.note(r.model.Nodes[s.Node].ID, EventMessage, s.Token, Operator{}, m.Name+keyText(m.CorrelationKey))
			}
			r.fire(s, m.Variables)
			return MessageOutcome{Consumed: true}
		}
	}
	if !r.at(levelIssue12) {
		r.st.Messages = append(r.st.Messages, BufferedMessage{MessageRequest: m})
		if len(r.st.Messages) > maxBuffered {
			r.st.Messages = slices.Delete(r.st.Messages, 0, len(r.st.Messages)-maxBuffered)
		}
		return MessageOutcome{Buffered: true}
	}
	ttl := m.TimeToLive
	if ttl < 0 {
		return MessageOutcome{}
	}
	if ttl == 0 {
		ttl = r.opts.MessageTTL
	}
	r.expireMessages()
	same := 0
	for _, b := range r.st.Messages {
		if b.Name == m.Name {
			same++
		}
	}
	for i := 0; same >= r.opts.MessagesPerName && i < len(r.st.Messages); {
		if r.st.Messages[i].Name == m.Name {
			r.st.Messages = slices.Delete(r.st.Messages, i, i+1)
			same--
			continue
		}
		i++
	}
	r.st.Messages = append(r.st.Messages, BufferedMessage{MessageRequest: m, Expires: r.now().Add(ttl)})
	if len(r.st.Messages) > maxBuffered {
		r.st.Messages = slices.Delete(r.st.Messages, 0, len(r.st.Messages)-maxBuffered)
	}
	return MessageOutcome{Buffered: true}
}

// correlationKeys is what RapportCorrelationKeys holds: CorrelationEntry of every open message
// subscription with a correlation key, within the list budget, so a message reaches the instances
// waiting for its key whatever their business key.
func (r *runner) correlationKeys() []string {
	var keys []string
	for _, s := range r.st.Subs {
		if s.Kind == subMessage && s.Key != "" {
			keys = append(keys, CorrelationEntry(s.Message, s.Key))
		}
	}
	return boundedList(keys)
}

// CorrelationEntry is the RapportCorrelationKeys entry of a subscription to message name with a
// correlation key.
func CorrelationEntry(name, key string) string { return name + "|" + key }

// expireMessages drops buffered messages whose time to live has passed (workflow time).
func (r *runner) expireMessages() {
	now := r.now()
	r.st.Messages = slices.DeleteFunc(r.st.Messages, func(b BufferedMessage) bool {
		return !b.Expires.IsZero() && !now.Before(b.Expires)
	})
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
		espNode := &r.model.Nodes[r.model.Scopes[n.Scope].Node]
		if !r.at(levelIssue12) {
			if len(vars) > 0 {
				r.merge(vars)
			}
			r.triggerEventSub(scope, espNode, s.Node)
			return
		}
		if start := r.triggerEventSub(scope, espNode, s.Node); start != nil {
			r.carry(start, n, vars)
		}
		return
	}
	t := r.token(s.Token)
	if t == nil {
		r.removeSub(s)
		return
	}
	if !r.at(levelIssue12) {
		r.fireV0(s, n, t, vars)
		return
	}
	switch {
	case n.Kind.IsBoundary() && !n.Interrupting:
		r.rearm(s, n)
		b := r.newToken(n.Index, t.Scope, -1)
		r.carry(b, n, vars)
	case n.Kind.IsBoundary():
		r.interrupt(t, n.Index, vars)
	default:
		if s.Node == t.Node { // the token's own catch event or receive task
			r.removeSub(s)
		} else { // a target of an event-based gateway: the catch event is entered already fired
			r.disarm(t)
			r.record(t.Element, "left", t.ID)
			t.Node, t.Element, t.Flow = n.Index, n.ID, -1
			r.record(n.ID, "entered", t.ID)
			t.Status = tokWaiting
		}
		r.carry(t, n, vars)
		r.finishActivity(t, n, vars) // output mappings (retried alone if they fail), then on
	}
}

// fireV0 is how the first release continued a token whose subscription fired: message variables were
// merged even with output mappings, and the catch events after an event-based gateway skipped theirs.
func (r *runner) fireV0(s *Subscription, n *bpmn.Node, t *Token, vars map[string]any) {
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
			if err := r.outputs(t, n, vars); err != nil {
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
