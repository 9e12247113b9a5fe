package bpmn

import "strings"

// checkFlows validates gateway semantics: defaults, conditions and event-based targets.
func (b *builder) checkFlows() {
	for i := range b.m.Nodes {
		n := &b.m.Nodes[i]
		e := b.els[i]
		switch n.Kind {
		case KindExclusiveGateway, KindInclusiveGateway:
			if e.Default != "" {
				fi, ok := b.flowIDs[e.Default]
				if !ok || b.m.Flows[fi].Source != i {
					b.problem(e.ID, "default flow %q is not an outgoing flow of the gateway", e.Default)
				} else {
					n.Default = fi
					b.m.Flows[fi].IsDefault = true
					if b.m.Flows[fi].Condition != "" {
						b.problem(e.Default, "the default flow must not have a condition")
					}
				}
			}
			if len(n.Outgoing) > 1 {
				for _, fi := range n.Outgoing {
					f := &b.m.Flows[fi]
					if f.Condition == "" && !f.IsDefault {
						b.problem(e.ID, "%s gateway has several outgoing flows but flow %q has neither a condition nor default status; give it a condition or make it the gateway's default flow",
							strings.TrimSuffix(string(n.Kind), "Gateway"), f.ID)
					}
				}
			}
			for _, fi := range n.Outgoing {
				if f := &b.m.Flows[fi]; f.Condition != "" && !f.IsDefault {
					f.Condition = b.expr(f.ID, "condition", f.Condition, ResultBool)
				} else {
					f.Condition, _ = exprSource(f.Condition)
				}
			}
		case KindEventGateway:
			if len(n.Outgoing) < 2 {
				b.problem(e.ID, "event-based gateway needs at least two outgoing flows")
			}
			for _, fi := range n.Outgoing {
				f := b.m.Flows[fi]
				t := b.m.Nodes[f.Target]
				if t.Kind != KindTimerCatch && t.Kind != KindMessageCatch && t.Kind != KindReceiveTask {
					b.problem(e.ID, "event-based gateway is followed by %q (%s); only timer or message catch events and receive tasks may follow it",
						t.ID, b.els[f.Target].Type)
				} else if len(t.Incoming) > 1 {
					b.problem(t.ID, "an event after an event-based gateway must have only that incoming flow")
				}
				if f.Condition != "" {
					b.problem(f.ID, "flows out of an event-based gateway cannot have conditions")
				}
			}
		default:
			for _, fi := range n.Outgoing {
				if f := b.m.Flows[fi]; f.Condition != "" {
					b.problem(f.ID, "conditional sequence flows are only supported out of exclusive and inclusive gateways; add a gateway after %q", e.ID)
				}
			}
		}
	}
}

// checkScopes validates the start events of the process, sub-processes and event sub-processes.
func (b *builder) checkScopes() {
	for si := range b.m.Scopes {
		s := &b.m.Scopes[si]
		for _, ni := range s.Nodes {
			k := b.m.Nodes[ni].Kind
			if k.IsStart() {
				s.Starts = append(s.Starts, ni)
			}
			if k == KindEventSubProcess {
				s.EventSubProcesses = append(s.EventSubProcesses, ni)
			}
		}
		var owner *Node
		if s.Node >= 0 {
			owner = &b.m.Nodes[s.Node]
		}
		switch {
		case owner == nil:
			b.processStarts(s)
		case owner.Kind == KindEventSubProcess:
			b.eventSubProcessStarts(s, owner)
		default:
			if len(s.Starts) != 1 {
				b.problem(owner.ID, "an embedded sub-process needs exactly one none start event, found %d", len(s.Starts))
			}
			for _, st := range s.Starts {
				if b.m.Nodes[st].Kind != KindStartNone {
					b.problem(b.m.Nodes[st].ID, "the start event of an embedded sub-process must be a none start event")
				}
			}
		}
		for _, st := range s.Starts {
			if len(b.m.Nodes[st].Incoming) > 0 {
				b.problem(b.m.Nodes[st].ID, "start events cannot have incoming flows")
			}
		}
	}
}

func (b *builder) processStarts(s *Scope) {
	if len(s.Starts) == 0 {
		b.problem(b.proc.ID, "process has no start event; add a none start event (or a timer or message start event) where it begins")
	}
	nones := 0
	for _, st := range s.Starts {
		n := b.m.Nodes[st]
		switch n.Kind {
		case KindStartNone:
			nones++
			if nones > 1 {
				b.problem(n.ID, "a process may have only one none start event")
			}
		case KindStartError:
			b.problem(n.ID, "error start events are only allowed in event sub-processes")
		}
	}
}

func (b *builder) eventSubProcessStarts(s *Scope, owner *Node) {
	if len(owner.Incoming) > 0 || len(owner.Outgoing) > 0 {
		b.problem(owner.ID, "an event sub-process cannot have incoming or outgoing sequence flows")
	}
	if len(s.Starts) != 1 {
		b.problem(owner.ID, "an event sub-process needs exactly one start event with a timer, message or error definition, found %d", len(s.Starts))
	}
	for _, st := range s.Starts {
		n := &b.m.Nodes[st]
		e := b.els[st]
		n.Interrupting = e.IsInterrupting
		switch n.Kind {
		case KindStartTimer:
			// Timers in event sub-processes may also be durations, measured from scope entry; a cycle
			// only makes sense when the handler does not interrupt.
			allowed := []TimerKind{TimerDuration, TimerDate}
			if !n.Interrupting {
				allowed = append(allowed, TimerCycle)
			}
			n.Timer = b.timer(st, b.eventDef(st), allowed...)
		case KindStartMessage:
			n.Message = b.message(n.ID, b.eventDef(st).MessageRef, true)
		case KindStartError:
			if !n.Interrupting {
				b.problem(n.ID, "error start events are always interrupting; remove isInterrupting=\"false\"")
			}
		default:
			b.problem(n.ID, "an event sub-process start needs a timer, message or error definition")
		}
		if b.els[st].RecordTrigger != nil {
			b.problem(n.ID, "rapport:recordTrigger is only allowed on a process's none start event")
		}
		owner.Interrupting = n.Interrupting
	}
}

// checkLinks pairs link throws with the link catch of the same name in the same scope.
func (b *builder) checkLinks() {
	type key struct {
		scope int
		name  string
	}
	catches := map[key]int{}
	thrown := map[key]bool{}
	for i := range b.m.Nodes {
		n := b.m.Nodes[i]
		if n.Kind != KindLinkCatch || n.LinkName == "" {
			continue
		}
		k := key{n.Scope, n.LinkName}
		if _, dup := catches[k]; dup {
			b.problem(n.ID, "another link catch in this scope is already named %q", n.LinkName)
			continue
		}
		catches[k] = i
		if len(n.Incoming) > 0 {
			b.problem(n.ID, "link catch events cannot have incoming flows")
		}
	}
	for i := range b.m.Nodes {
		n := &b.m.Nodes[i]
		if n.Kind != KindLinkThrow || n.LinkName == "" {
			continue
		}
		k := key{n.Scope, n.LinkName}
		c, ok := catches[k]
		if !ok {
			b.problem(n.ID, "link throw %q has no link catch with the same name in its scope", n.LinkName)
			continue
		}
		n.LinkTarget = c
		thrown[k] = true
		if len(n.Outgoing) > 0 {
			b.problem(n.ID, "link throw events cannot have outgoing flows")
		}
	}
	for i := range b.m.Nodes {
		n := b.m.Nodes[i]
		if n.Kind == KindLinkCatch && n.LinkName != "" && !thrown[key{n.Scope, n.LinkName}] {
			b.problem(n.ID, "link catch %q has no link throw with the same name in its scope", n.LinkName)
		}
	}
}

// checkReachability reports every node no token can reach from a start event.
func (b *builder) checkReachability() {
	reached := make([]bool, len(b.m.Nodes))
	var queue []int
	push := func(i int) {
		if i >= 0 && !reached[i] {
			reached[i] = true
			queue = append(queue, i)
		}
	}
	enter := func(si int) {
		for _, st := range b.m.Scopes[si].Starts {
			push(st)
		}
		for _, es := range b.m.Scopes[si].EventSubProcesses {
			push(es)
		}
	}
	if len(b.m.Scopes) > 0 {
		enter(0)
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		n := b.m.Nodes[i]
		for _, fi := range n.Outgoing {
			push(b.m.Flows[fi].Target)
		}
		for _, bi := range n.Boundaries {
			push(bi)
		}
		push(n.LinkTarget)
		if n.SubScope >= 0 {
			enter(n.SubScope)
		}
	}
	for i, n := range b.m.Nodes {
		// In a scope without a start event (or inside one) every node is unreachable; the missing
		// start is the problem to fix, reported once.
		if !reached[i] && b.startsAbove(n.Scope) {
			b.problem(n.ID, "unreachable: no path leads here from a start event; connect it with a sequence flow or remove it")
		}
	}
}

// startsAbove reports whether scope si and every scope enclosing it have a start event.
func (b *builder) startsAbove(si int) bool {
	for ; si >= 0; si = b.m.Scopes[si].Parent {
		if len(b.m.Scopes[si].Starts) == 0 {
			return false
		}
	}
	return true
}

// checkEnds checks where paths end. As in Camunda 8, an activity or event without outgoing flows
// ends its path there (an implicit end, like a none end event); a gateway cannot end a path.
func (b *builder) checkEnds() {
	for i := range b.m.Nodes {
		n := b.m.Nodes[i]
		switch {
		case n.Kind.IsEnd() || b.els[i].Type == "endEvent":
			if len(n.Outgoing) > 0 {
				b.problem(n.ID, "end events cannot have outgoing flows")
			}
		case n.Kind == KindLinkThrow || n.Kind == KindEventSubProcess:
		case n.Kind.IsGateway() && len(n.Outgoing) == 0:
			b.problem(n.ID, "a gateway needs an outgoing sequence flow; connect it to the next element or to an end event")
		}
		if n.Kind.IsBoundary() && len(n.Incoming) > 0 {
			b.problem(n.ID, "boundary events cannot have incoming flows")
		}
	}
}
