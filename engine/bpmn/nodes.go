package bpmn

import (
	"fmt"
	"strconv"
	"strings"
)

// unsupportedReasons explains, per BPMN element type outside the subset, what to use instead.
func unsupportedReason(typ string) string {
	switch typ {
	case "complexGateway":
		return "complex gateways are not supported; use an inclusive gateway"
	case "adHocSubProcess":
		return "ad-hoc sub-processes are not supported; use an embedded sub-process"
	case "transaction":
		return "transactions are not supported; use an embedded sub-process with error boundary events"
	}
	return fmt.Sprintf("element type %s is not supported", typ)
}

// eventAlternative says what to draw instead of an event definition Rapport does not run.
func eventAlternative(def string) string {
	switch def {
	case "signal":
		return "use a message event instead (sent with POST /api/v1/messages or a message throw event)"
	case "conditional":
		return "wait for a message the change sends instead, or check the condition in an exclusive gateway after a timer"
	case "escalation":
		return "use an error end event and an error boundary event instead"
	case "compensate":
		return "undo the work on the path of an error boundary event instead"
	case "cancel":
		return "transactions are not supported; use an error end event and an error boundary event instead"
	case "message", "timer", "error", "link", "terminate":
		return "this element cannot carry it here; see engine/bpmn/README.md for where each event may stand"
	}
	return "use a timer, message or error event instead"
}

// classify sets each node's Kind from its BPMN type and event definition.
func (b *builder) classify(i int) {
	e := b.els[i]
	n := &b.m.Nodes[i]
	n.Kind = KindUnsupported
	def := ""
	if len(e.EventDefinitions) > 1 {
		b.problem(e.ID, "events with several event definitions (multiple/parallel multiple) are not supported; keep one definition, or use an event-based gateway with one event per definition")
		return
	}
	if len(e.EventDefinitions) == 1 {
		def = e.EventDefinitions[0].Type
	}
	unsupportedDef := func(what string) {
		if def == "" {
			b.problem(e.ID, "%s without an event definition is not supported; add a timer, message or error event definition", what)
			return
		}
		b.problem(e.ID, "%s %s events are not supported; %s", def, what, eventAlternative(def))
	}
	switch e.Type {
	case "task", "manualTask":
		n.Kind, n.PassThrough = KindScriptTask, true
		if isJob(e) {
			n.Kind, n.PassThrough = KindServiceTask, false
		}
	case "startEvent":
		switch def {
		case "":
			n.Kind = KindStartNone
			if e.RecordTrigger != nil {
				n.Kind = KindStartRecord
			}
		case "timer":
			n.Kind = KindStartTimer
		case "message":
			n.Kind = KindStartMessage
		case "error":
			n.Kind = KindStartError
		default:
			unsupportedDef("start")
		}
	case "endEvent":
		switch def {
		case "":
			n.Kind = KindEndNone
		case "terminate":
			n.Kind = KindEndTerminate
		case "error":
			n.Kind = KindEndError
		case "message":
			// As in Camunda 8, a message end event with a task definition is a job; without one,
			// Rapport publishes the message it references, and the path ends there.
			switch {
			case isJob(e):
				n.Kind = KindServiceTask
			case e.EventDefinitions[0].MessageRef != "":
				n.Kind = KindMessageThrow
			default:
				b.problem(e.ID, "a message end event needs a job (<zeebe:taskDefinition type=\"...\"/>, as in Camunda 8) or a messageRef naming the message to publish")
			}
		default:
			unsupportedDef("end")
		}
	case "intermediateCatchEvent":
		switch def {
		case "timer":
			n.Kind = KindTimerCatch
		case "message":
			n.Kind = KindMessageCatch
		case "link":
			n.Kind = KindLinkCatch
		default:
			unsupportedDef("intermediate catch")
		}
	case "intermediateThrowEvent":
		switch def {
		case "message":
			n.Kind = KindMessageThrow
			if isJob(e) {
				n.Kind = KindServiceTask // a job, as in Camunda 8
			}
		case "link":
			n.Kind = KindLinkThrow
		case "":
			n.Kind, n.PassThrough = KindScriptTask, true
		default:
			unsupportedDef("intermediate throw")
		}
	case "boundaryEvent":
		switch def {
		case "timer":
			n.Kind = KindBoundaryTimer
		case "message":
			n.Kind = KindBoundaryMessage
		case "error":
			n.Kind = KindBoundaryError
		default:
			unsupportedDef("boundary")
		}
	case "serviceTask", "sendTask":
		n.Kind = KindServiceTask
	case "userTask":
		n.Kind = KindUserTask
	case "businessRuleTask":
		n.Kind = KindBusinessRuleTask
		if isJob(e) {
			n.Kind = KindServiceTask // a job worker decides, as in Camunda 8
		}
	case "scriptTask":
		n.Kind = KindScriptTask
		if isJob(e) {
			n.Kind = KindServiceTask
		}
	case "receiveTask":
		n.Kind = KindReceiveTask
	case "callActivity":
		n.Kind = KindCallActivity
	case "subProcess":
		n.Kind = KindSubProcess
		if e.TriggeredByEvent {
			n.Kind = KindEventSubProcess
		}
	case "exclusiveGateway":
		n.Kind = KindExclusiveGateway
	case "parallelGateway":
		n.Kind = KindParallelGateway
	case "inclusiveGateway":
		n.Kind = KindInclusiveGateway
	case "eventBasedGateway":
		n.Kind = KindEventGateway
	default:
		b.problem(e.ID, "%s", unsupportedReason(e.Type))
	}
	for _, u := range e.Unsupported {
		b.problem(e.ID, "<%s> is not supported", u)
	}
	if e.IsForCompensation {
		b.problem(e.ID, "compensation handlers are not supported; %s", eventAlternative("compensate"))
	}
	if e.ParallelMultiple {
		b.problem(e.ID, "parallel multiple events are not supported; keep one event definition")
	}
	for _, u := range e.Unknown {
		b.problem(e.ID, "unknown Rapport extension element <%s>", u)
	}
}

func (b *builder) eventDef(i int) *EventDefinition {
	e := b.els[i]
	if len(e.EventDefinitions) == 1 {
		return &e.EventDefinitions[0]
	}
	return nil
}

// checkNode validates and compiles the kind-specific settings of node i.
func (b *builder) checkNode(i int) {
	e := b.els[i]
	n := &b.m.Nodes[i]
	def := b.eventDef(i)
	if n.Kind.IsStart() && b.inEventSubProcess(i) {
		// Event sub-process starts are checked with their scope in eventSubProcessStarts.
		b.mappings(i)
		return
	}
	b.extensionWarnings(i)
	if n.Kind.IsStart() && n.Scope == 0 {
		b.startForm(i)
	}
	switch n.Kind {
	case KindStartRecord:
		b.recordTrigger(i)
	case KindStartTimer:
		n.Timer = b.timer(i, def, TimerDate, TimerCycle)
	case KindStartMessage:
		n.Message = b.message(e.ID, def.MessageRef, false)
	case KindStartError:
		n.Error = b.errorRef(e.ID, def.ErrorRef, false)
	case KindEndError:
		n.Error = b.errorRef(e.ID, def.ErrorRef, true)
	case KindTimerCatch:
		n.Timer = b.timer(i, def, TimerDuration, TimerDate)
	case KindMessageCatch:
		n.Message = b.message(e.ID, def.MessageRef, true)
	case KindMessageThrow:
		n.Message = b.message(e.ID, def.MessageRef, false)
	case KindLinkCatch, KindLinkThrow:
		n.LinkName = strings.TrimSpace(def.LinkName)
		if n.LinkName == "" {
			b.problem(e.ID, "link event has no name; a link throw continues at the link catch with the same name")
		}
	case KindBoundaryTimer, KindBoundaryMessage, KindBoundaryError:
		b.boundary(i, def)
	case KindServiceTask:
		b.serviceTask(i)
	case KindUserTask:
		b.userTask(i)
	case KindBusinessRuleTask:
		b.businessRuleTask(i)
	case KindScriptTask:
		b.scriptTask(i)
	case KindReceiveTask:
		n.Message = b.message(e.ID, e.MessageRef, true)
	case KindCallActivity:
		b.callActivity(i)
	}
	if e.RecordTrigger != nil && n.Kind != KindStartRecord && n.Kind != KindUnsupported {
		b.problem(e.ID, "rapport:recordTrigger is only allowed on a none start event")
	}
	b.mappings(i)
	if n.Kind == KindServiceTask && n.Task != nil && !n.Task.External {
		written := n.Task.Written
		if written == "" {
			written = n.Task.Type
		}
		b.connectorResult(i, written)
	}
	b.loop(i)
	if e.Default != "" && n.Kind != KindExclusiveGateway && n.Kind != KindInclusiveGateway && n.Kind != KindUnsupported {
		b.problem(e.ID, "default flows are only supported on exclusive and inclusive gateways")
	}
}

// inEventSubProcess reports whether node i sits directly inside an event sub-process.
func (b *builder) inEventSubProcess(i int) bool {
	owner := b.m.Scopes[b.m.Nodes[i].Scope].Node
	return owner >= 0 && b.els[owner].Type == "subProcess" && b.els[owner].TriggeredByEvent
}

func (b *builder) recordTrigger(i int) {
	e := b.els[i]
	t := *e.RecordTrigger
	if t.Entity == "" {
		b.problem(e.ID, "rapport:recordTrigger needs an entity")
	} else if lookup := b.opts.TaskEnv.Entity; lookup != nil {
		if _, ok := lookup(t.Entity); !ok {
			b.problem(e.ID, "rapport:recordTrigger entity %q does not exist; create its schema first or name an existing entity", t.Entity)
		}
	}
	if t.On != "created" && t.On != "updated" {
		b.problem(e.ID, "rapport:recordTrigger on=%q: want created or updated", t.On)
	}
	if strings.TrimSpace(t.Condition) != "" {
		t.Condition = b.expr(e.ID, "record trigger condition", t.Condition, ResultBool)
	}
	b.m.Nodes[i].Trigger = &t
}

// timer parses a timer definition, accepting only the given kinds.
func (b *builder) timer(i int, def *EventDefinition, allowed ...TimerKind) *Timer {
	id := b.els[i].ID
	td := def.Timer
	names := make([]string, len(allowed))
	for k, a := range allowed {
		names[k] = "time" + strings.ToUpper(string(a[:1])) + string(a[1:])
	}
	if td == nil || td.Specs == 0 {
		b.problem(id, "missing timer definition: add one of %s", strings.Join(names, ", "))
		return nil
	}
	if td.Specs > 1 {
		b.problem(id, "timer definition has more than one of timeDate, timeDuration, timeCycle")
		return nil
	}
	ok := false
	for _, a := range allowed {
		ok = ok || a == td.Kind
	}
	if !ok {
		b.problem(id, "a %s timer is not allowed here; use one of %s", td.Kind, strings.Join(names, ", "))
		return nil
	}
	t := &Timer{Kind: td.Kind}
	src, isExpr := exprSource(td.Value)
	if src == "" {
		b.problem(id, "timer %s is empty", td.Kind)
		return nil
	}
	if isExpr {
		want := map[TimerKind]ExprResult{TimerDate: ResultTime, TimerDuration: ResultDuration, TimerCycle: ResultString}[td.Kind]
		t.Expression = b.expr(id, "timer "+string(td.Kind), td.Value, want)
		return t
	}
	var err error
	switch td.Kind {
	case TimerDate:
		t.Date, err = ParseDate(src)
	case TimerDuration:
		t.Duration, err = ParseDuration(src)
		if err == nil && t.Duration.IsZero() {
			err = fmt.Errorf("duration %q is zero", src)
		}
	case TimerCycle:
		var c Cycle
		c, err = ParseCycle(src)
		t.Cycle = &c
	}
	if err != nil {
		b.problem(id, "timer %s: %v", td.Kind, err)
		return nil
	}
	return t
}

func (b *builder) message(id, ref string, needKey bool) *MessageSpec {
	if ref == "" {
		b.problem(id, "message event has no messageRef; reference a bpmn:message with a name")
		return nil
	}
	msg := b.defs.Message(ref)
	if msg == nil {
		b.problem(id, "messageRef %q does not name a bpmn:message", ref)
		return nil
	}
	name := strings.TrimSpace(msg.Name)
	switch {
	case name == "":
		b.problem(id, "message %q has no name", ref)
		return nil
	case strings.HasPrefix(name, "="):
		b.problem(id, "message %q: message names must be literal, not expressions", ref)
		return nil
	}
	spec := &MessageSpec{Name: name, WhenChanged: b.whenChanged(id, ref, name, msg.WhenChanged)}
	if strings.TrimSpace(msg.CorrelationKey) == "" {
		if needKey {
			b.warn(id, "message %q has no correlation key, so it reaches the instance only by its business key; add <zeebe:subscription correlationKey=\"=...\"/> to the message to correlate on a variable", ref)
		}
		return spec
	}
	// As in Camunda 8, a key without "=" is a static value: every instance waits for that key.
	spec.CorrelationKey = b.mappingSource(id, "correlation key", msg.CorrelationKey, nil)
	return spec
}

func (b *builder) errorRef(id, ref string, throwing bool) *ErrorSpec {
	if ref == "" {
		if throwing {
			b.problem(id, "error end event has no errorRef; reference a bpmn:error with an errorCode")
			return nil
		}
		return &ErrorSpec{}
	}
	e := b.defs.ErrorDef(ref)
	if e == nil {
		b.problem(id, "errorRef %q does not name a bpmn:error", ref)
		return nil
	}
	if strings.TrimSpace(e.Code) == "" && throwing {
		b.problem(id, "error %q has no errorCode", ref)
	}
	return &ErrorSpec{Code: strings.TrimSpace(e.Code), Name: e.Name}
}

func (b *builder) boundary(i int, def *EventDefinition) {
	e := b.els[i]
	n := &b.m.Nodes[i]
	n.Interrupting = e.CancelActivity
	switch n.Kind {
	case KindBoundaryTimer:
		if n.Interrupting {
			n.Timer = b.timer(i, def, TimerDuration, TimerDate)
		} else {
			n.Timer = b.timer(i, def, TimerDuration, TimerDate, TimerCycle)
		}
	case KindBoundaryMessage:
		n.Message = b.message(e.ID, def.MessageRef, true)
	case KindBoundaryError:
		if !n.Interrupting {
			b.problem(e.ID, "error boundary events are always interrupting; remove cancelActivity=\"false\"")
		}
		n.Error = b.errorRef(e.ID, def.ErrorRef, false)
	}
	host, ok := b.ids[e.AttachedToRef]
	switch {
	case e.AttachedToRef == "":
		b.problem(e.ID, "boundary event has no attachedToRef")
	case !ok:
		b.problem(e.ID, "attachedToRef %q does not name an element of this process", e.AttachedToRef)
	case b.m.Nodes[host].Scope != n.Scope:
		b.problem(e.ID, "boundary event and its host %q are in different scopes", e.AttachedToRef)
	case b.m.Nodes[host].Kind == KindEventSubProcess:
		b.problem(e.ID, "boundary events cannot be attached to an event sub-process")
	case !b.m.Nodes[host].Kind.IsActivity() && b.m.Nodes[host].Kind != KindUnsupported:
		b.problem(e.ID, "boundary events attach to tasks, sub-processes and call activities, not to %s", b.m.Nodes[host].Kind)
	default:
		n.AttachedTo = host
		b.m.Nodes[host].Boundaries = append(b.m.Nodes[host].Boundaries, i)
	}
}

func (b *builder) retryPolicy(e *Element) *RetryPolicy {
	rp := DefaultRetryPolicy()
	if e.TaskDefinition != nil && strings.TrimSpace(e.TaskDefinition.Retries) != "" {
		var r int
		if _, err := fmt.Sscanf(strings.TrimSpace(e.TaskDefinition.Retries), "%d", &r); err != nil || r < 1 || r > 1000 ||
			fmt.Sprint(r) != strings.TrimSpace(e.TaskDefinition.Retries) {
			b.problem(e.ID, "zeebe:taskDefinition retries=%q: want a whole number from 1 to 1000", e.TaskDefinition.Retries)
		} else {
			rp.MaximumAttempts = r
		}
	}
	d := e.RetryPolicy
	if d == nil {
		return &rp
	}
	dur := func(field, v string) (ok bool, out Duration) {
		if strings.TrimSpace(v) == "" {
			return false, out
		}
		out, err := ParseDuration(strings.TrimSpace(v))
		if err == nil {
			if _, fixed := out.Fixed(); !fixed || out.IsZero() {
				err = fmt.Errorf("must be a non-zero duration without years or months")
			}
		}
		if err != nil {
			b.problem(e.ID, "rapport:retryPolicy %s: %v", field, err)
			return false, out
		}
		return true, out
	}
	if ok, v := dur("initialInterval", d.InitialInterval); ok {
		rp.InitialInterval, _ = v.Fixed()
	}
	if ok, v := dur("maximumInterval", d.MaximumInterval); ok {
		rp.MaximumInterval, _ = v.Fixed()
	}
	if s := strings.TrimSpace(d.BackoffCoefficient); s != "" {
		var f float64
		if _, err := fmt.Sscanf(s, "%g", &f); err != nil || f < 1 || f > 100 {
			b.problem(e.ID, "rapport:retryPolicy backoffCoefficient=%q: want a number from 1 to 100", s)
		} else {
			rp.BackoffCoefficient = f
		}
	}
	if s := strings.TrimSpace(d.MaximumAttempts); s != "" {
		var r int
		if _, err := fmt.Sscanf(s, "%d", &r); err != nil || r < 1 || r > 1000 || fmt.Sprint(r) != s {
			b.problem(e.ID, "rapport:retryPolicy maximumAttempts=%q: want a whole number from 1 to 1000", s)
		} else {
			rp.MaximumAttempts = r
		}
	}
	if rp.MaximumInterval < rp.InitialInterval {
		b.problem(e.ID, "rapport:retryPolicy maximumInterval is shorter than initialInterval")
	}
	return &rp
}

func (b *builder) userTask(i int) {
	e := b.els[i]
	u := &UserTaskSpec{}
	if a := camunda7Assignment(e); a != nil {
		u.Assignee = b.valueOrExpr(e.ID, "assignee", a.Assignee, ResultString)
		u.CandidateGroups = b.valueOrExpr(e.ID, "candidate groups", a.CandidateGroups, ResultAny)
		u.CandidateUsers = b.valueOrExpr(e.ID, "candidate users", a.CandidateUsers, ResultAny)
	}
	switch {
	case strings.TrimSpace(e.RapportDueDate) != "":
		u.DueDate = Expr{Expression: b.expr(e.ID, "due date", e.RapportDueDate, ResultTime)}
	case strings.TrimSpace(e.ZeebeDueDate) != "":
		u.DueDate = b.valueOrExpr(e.ID, "due date", e.ZeebeDueDate, ResultTime)
		if u.DueDate.Literal != "" {
			if _, err := ParseDate(u.DueDate.Literal); err != nil {
				b.problem(e.ID, "due date: %v", err)
			}
		}
	}
	if p := strings.TrimSpace(e.ZeebePriority); p != "" {
		u.Priority = b.valueOrExpr(e.ID, "priority", p, ResultAny)
		if l := u.Priority.Literal; l != "" {
			if n, err := strconv.Atoi(l); err != nil || n < 0 || n > 100 {
				b.problem(e.ID, "zeebe:priorityDefinition priority=%q: want a whole number from 0 to 100 or an expression", l)
			}
		}
	}
	if f := e.Form; f != nil {
		u.FormKey = firstNonEmpty(f.FormKey, f.FormID, f.ExternalReference)
	}
	if u.FormKey == "" && e.C7 != nil {
		u.FormKey = e.C7.FormKey
	}
	u.Fields = b.formFields(e, u.FormKey)
	b.m.Nodes[i].User = u
}

// formFields are the typed fields of a user task's or start event's form: rapport:formFields (or a
// Camunda 7 camunda:formData), else the fields of the embedded Camunda form its form key names.
func (b *builder) formFields(e *Element, formKey string) []FormField {
	fields := e.FormFields
	if id, ok := strings.CutPrefix(formKey, embeddedFormPrefix); ok {
		form := b.embeddedForm(id)
		if form == nil {
			b.problem(e.ID, "form key %q names no zeebe:userTaskForm in the process", formKey)
		} else if len(fields) == 0 {
			derived, err := camundaFormFields(form.Schema)
			if err != nil {
				b.problem(e.ID, "embedded form %q: %v", id, err)
			}
			fields = derived
		}
	} else if formKey != "" && len(fields) == 0 && e.Form != nil && e.Form.FormKey == "" {
		b.warn(e.ID, "the form %q is stored outside the diagram (a linked form), so its fields are not checked; declare them with <rapport:formFields>", formKey)
	}
	var out []FormField
	seen := map[string]bool{}
	for _, f := range fields {
		if !identRe.MatchString(f.Name) {
			b.problem(e.ID, "form field name %q is not an identifier", f.Name)
			continue
		}
		if seen[f.Name] {
			b.problem(e.ID, "duplicate form field %q", f.Name)
			continue
		}
		seen[f.Name] = true
		t := normalizeType(f.Type)
		if t == "" {
			b.problem(e.ID, "form field %q has unknown type %q (want one of %s)", f.Name, f.Type, strings.Join(VariableTypes(), ", "))
			continue
		}
		f.Type = t
		out = append(out, f)
	}
	return out
}

func (b *builder) embeddedForm(id string) *EmbeddedForm {
	for i := range b.proc.Forms {
		if b.proc.Forms[i].ID == id {
			return &b.proc.Forms[i]
		}
	}
	return nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rulesetOf is the rule set a business rule task names: rapport:ruleset, zeebe:calledDecision or
// Camunda 7's camunda:decisionRef.
func rulesetOf(e *Element) *RulesetRef {
	switch {
	case e.Ruleset != nil:
		r := *e.Ruleset
		return &r
	case e.CalledDecision != nil:
		return &RulesetRef{Key: e.CalledDecision.DecisionID, ResultVariable: e.CalledDecision.ResultVariable}
	case e.C7 != nil && e.C7.DecisionRef != "":
		return &RulesetRef{Key: e.C7.DecisionRef, ResultVariable: e.C7.ResultVariable}
	}
	return nil
}

func (b *builder) businessRuleTask(i int) {
	e := b.els[i]
	var r RulesetRef
	if ref := rulesetOf(e); ref != nil {
		r = *ref
	}
	r.Key = strings.TrimSpace(r.Key)
	if r.Key == "" {
		b.problem(e.ID, "business rule task names no rule set: add <rapport:ruleset key=\"...\"/>")
		return
	}
	if v := strings.TrimSpace(r.Version); v != "" {
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 || fmt.Sprint(n) != v {
			b.problem(e.ID, "rapport:ruleset version=%q: want a positive whole number or nothing for the latest", v)
		}
	}
	if r.ResultVariable != "" && !pathRe.MatchString(r.ResultVariable) {
		b.problem(e.ID, "result variable %q is not a variable name", r.ResultVariable)
	}
	if b.opts.CheckTaskTypes {
		b.checkTask(e.ID, "business rule task", b.rulesTask(r))
	}
	b.m.Nodes[i].Rules = &r
}

func (b *builder) scriptTask(i int) {
	e := b.els[i]
	var out []Assignment
	if e.Script != nil && (e.Script.Text != "" || e.Script.Format != "") {
		b.problem(e.ID, "inline scripts are not run; write the script as <rapport:assign target=\"...\" expression=\"...\"/> or <zeebe:script>")
	}
	if s := e.ZeebeScript; s != nil {
		out = append(out, Assignment{Target: strings.TrimSpace(s.ResultVariable), Expression: s.Expression})
	}
	for _, a := range e.Assignments {
		out = append(out, Assignment(a))
	}
	if len(out) == 0 && !b.m.Nodes[i].PassThrough {
		b.problem(e.ID, "script task has no assignments: add <rapport:assign target=\"...\" expression=\"...\"/>")
	}
	for k := range out {
		if !pathRe.MatchString(out[k].Target) {
			b.problem(e.ID, "script target %q is not a variable name", out[k].Target)
		}
		out[k].Expression = b.expr(e.ID, "script expression for "+out[k].Target, out[k].Expression, ResultAny)
	}
	b.m.Nodes[i].Script = out
}

func (b *builder) callActivity(i int) {
	e := b.els[i]
	c := &CallSpec{PropagateAllChildVariables: true, PropagateAllParentVariables: true}
	raw := e.CalledElementAttr
	if ce := e.CalledElement; ce != nil {
		raw = ce.ProcessID
		c.PropagateAllChildVariables = ce.PropagateAllChildVariables
		c.PropagateAllParentVariables = ce.PropagateAllParentVariables
	}
	c.ProcessID = b.valueOrExpr(e.ID, "called process id", raw, ResultString)
	if c.ProcessID.IsZero() {
		b.problem(e.ID, "call activity names no process: add <zeebe:calledElement processId=\"...\"/>")
	}
	b.m.Nodes[i].Call = c
}

// mappings checks io mappings of any node.
func (b *builder) mappings(i int) {
	e := b.els[i]
	n := &b.m.Nodes[i]
	conv := func(kind string, in []IOMapping, extra []VariableDecl) []Mapping {
		var out []Mapping
		for _, m := range in {
			t := strings.TrimSpace(m.Target)
			if !pathRe.MatchString(t) {
				b.problem(e.ID, "%s mapping target %q is not a variable name", kind, m.Target)
			}
			out = append(out, Mapping{Target: t, Source: b.mappingSource(e.ID, kind+" mapping source for "+t, m.Source, extra)})
		}
		return out
	}
	n.Inputs = conv("input", e.Inputs, nil)
	// Output sources read the activity's result (task output, rule result, form submission) as `result`,
	// typed when the task type knows its shape.
	n.Outputs = conv("output", e.Outputs, []VariableDecl{{Name: ResultVar, Type: "any", Shape: b.resultShape(i)}})
}

func (b *builder) loop(i int) {
	e := b.els[i]
	if e.Loop == nil {
		return
	}
	n := &b.m.Nodes[i]
	if !n.Kind.IsActivity() {
		if n.Kind != KindUnsupported {
			b.problem(e.ID, "multi-instance is only supported on tasks, sub-processes and call activities")
		}
		return
	}
	l := &LoopSpec{Sequential: e.Loop.Sequential, InputElement: e.Loop.InputElement,
		OutputCollection: e.Loop.OutputCollection, OutputElement: e.Loop.OutputElement}
	if strings.TrimSpace(e.Loop.InputCollection) == "" {
		b.problem(e.ID, "multi-instance needs <zeebe:loopCharacteristics inputCollection=\"=...\"/>")
	} else {
		l.InputCollection = b.expr(e.ID, "input collection", e.Loop.InputCollection, ResultList)
	}
	if strings.TrimSpace(e.Loop.CompletionCondition) != "" {
		l.CompletionCondition = b.expr(e.ID, "completion condition", e.Loop.CompletionCondition, ResultBool)
	}
	for _, v := range []string{l.InputElement, l.OutputCollection} {
		if v != "" && !pathRe.MatchString(v) {
			b.problem(e.ID, "multi-instance variable %q is not a variable name", v)
		}
	}
	if l.OutputElement != "" {
		l.OutputElement = b.expr(e.ID, "output element", l.OutputElement, ResultAny)
	}
	n.Loop = l
}

// whenChanged checks a message's rapport:whenChanged fields: only a record update message
// ("record.<entity>.updated") can have them, and each must be a field of that entity when the entity
// lookup is known. It returns the fields to keep on the spec.
func (b *builder) whenChanged(id, ref, name string, fields []string) []string {
	if len(fields) == 0 {
		return nil
	}
	entity, on, ok := ParseRecordEvent(name)
	if !ok || on != "updated" {
		b.problem(id, "message %q: rapport:whenChanged is only for record update messages (record.<entity>.updated), not %q", ref, name)
		return nil
	}
	lookup := b.opts.TaskEnv.Entity
	if lookup == nil {
		return fields
	}
	ent, ok := lookup(entity)
	if !ok {
		b.problem(id, "message %q: entity %q does not exist; create its schema first or name an existing entity", ref, entity)
		return nil
	}
	for _, f := range fields {
		if ent.Type == nil || ent.Type.Fields[f] == nil {
			b.problem(id, "message %q: rapport:whenChanged field %q is not a field of %s", ref, f, entity)
		}
	}
	return fields
}
