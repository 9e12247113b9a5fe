package bpmn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Parse reads one BPMN 2.0 document of at most limit bytes. It accepts what bpmn-js and Camunda Modeler
// write (collaborations, lanes, several processes, DI, zeebe: extensions) and returns a *ParseError for a
// document too large, malformed, not BPMN, with duplicate ids or with elements BPMN does not allow where
// they appear. It never panics. Parse does not judge executability: that is Validate's job.
// Hash is the content hash of a BPMN document as Definitions.Hash carries it (hex SHA-256 of its bytes):
// a published version's hash, which a shipped template is recognised by.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func Parse(r io.Reader, limit int64) (*Definitions, error) {
	data, err := readAll(r, limit)
	if err != nil {
		return nil, err
	}
	return ParseBytes(data)
}

// ParseBytes is Parse for a document already in memory (no size limit is applied).
func ParseBytes(data []byte) (*Definitions, error) {
	root, err := decodeTree(data)
	if err != nil {
		return nil, err
	}
	if root.name.Local != "definitions" {
		return nil, &ParseError{Kind: ErrNotBPMN, Line: root.line, Problems: []Problem{{
			Reason: fmt.Sprintf("root element is <%s>, want a BPMN 2.0 <definitions> element", root.name.Local)}}}
	}
	if root.name.Space != nsBPMN {
		reason := "root <definitions> is not in the BPMN 2.0 model namespace " + nsBPMN + "; declare it (xmlns:bpmn=\"" + nsBPMN + "\" with a bpmn: prefix, or xmlns=\"" + nsBPMN + "\")"
		if root.name.Space != "" {
			reason = fmt.Sprintf("root <definitions> is in namespace %q, want %s; export the diagram as BPMN 2.0 XML", root.name.Space, nsBPMN)
		}
		return nil, &ParseError{Kind: ErrMissingNamespace, Line: root.line, Problems: []Problem{{
			ElementID: root.attr("id"), Reason: reason}}}
	}
	p := &parser{seen: map[string]int{}}
	p.checkIDs(root)
	defs := &Definitions{
		ID:                root.attr("id"),
		Name:              root.attr("name"),
		TargetNamespace:   root.attr("targetNamespace"),
		Exporter:          root.attr("exporter"),
		ExporterVersion:   root.attr("exporterVersion"),
		ExecutionPlatform: root.attrNS(nsModeler, "executionPlatform"),
		Hash:              Hash(data),
		Processes:         []*Process{},
	}
	p.definitions(root, defs)
	// Duplicate ids and invalid children are reported together; the kind names the first family found.
	switch {
	case len(p.dups) > 0:
		return nil, &ParseError{Kind: ErrDuplicateID, Line: p.dupLine, Problems: append(p.dups, p.invalid...)}
	case len(p.invalid) > 0:
		return nil, &ParseError{Kind: ErrInvalidChild, Line: p.invalidLine, Problems: p.invalid}
	}
	return defs, nil
}

// parser accumulates problems while converting the generic tree so that all are reported together.
type parser struct {
	seen        map[string]int
	dups        []Problem
	dupLine     int
	invalid     []Problem
	invalidLine int
}

// checkIDs reports every id attribute used more than once, in document order.
func (p *parser) checkIDs(n *xnode) {
	if id := n.attr("id"); id != "" && n.name.Space != "" {
		if first, ok := p.seen[id]; ok {
			if p.dupLine == 0 {
				p.dupLine = n.line
			}
			p.dups = append(p.dups, Problem{ElementID: id, Reason: fmt.Sprintf(
				"duplicate id %q on <%s> at line %d (first used at line %d); give each element an id of its own", id, n.name.Local, n.line, first)})
		} else {
			p.seen[id] = n.line
		}
	}
	for _, c := range n.children {
		p.checkIDs(c)
	}
}

// invalidChild records an element that BPMN does not allow under parent.
func (p *parser) invalidChild(parent, child *xnode) {
	if p.invalidLine == 0 {
		p.invalidLine = child.line
	}
	what := "<" + child.name.Local + ">"
	switch {
	case child.name.Space == "":
		what += " (no namespace)"
	case !isKnownBPMN(child.name.Local):
		what += " (not a BPMN 2.0 element)"
	}
	id := child.attr("id")
	if id == "" {
		id = parent.attr("id")
	}
	p.invalid = append(p.invalid, Problem{ElementID: id, Reason: fmt.Sprintf(
		"invalid child element %s of <%s> at line %d; remove it, or put vendor settings inside <bpmn:extensionElements>", what, parent.name.Local, child.line)})
}

// isBPMN reports whether n is an element of the BPMN model namespace; elements without a namespace are
// treated as broken BPMN (they are what a missing xmlns produces) and reported as invalid children.
func isBPMN(n *xnode) bool { return n.name.Space == nsBPMN }

// foreign reports whether n belongs to a namespace Parse skips (DI, vendor extensions).
func foreign(n *xnode) bool { return n.name.Space != nsBPMN && n.name.Space != "" }

func (p *parser) definitions(root *xnode, defs *Definitions) {
	for _, c := range root.children {
		if foreign(c) {
			continue
		}
		if !isBPMN(c) {
			p.invalidChild(root, c)
			continue
		}
		switch c.name.Local {
		case "process":
			defs.Processes = append(defs.Processes, p.process(c))
		case "collaboration":
			for _, cc := range c.children {
				if isBPMN(cc) && cc.name.Local == "participant" {
					defs.Participants = append(defs.Participants, Participant{
						ID: cc.attr("id"), Name: cc.attr("name"), ProcessRef: cc.attr("processRef")})
				} else if !foreign(cc) && !isKnownBPMN(cc.name.Local) {
					p.invalidChild(c, cc)
				}
			}
		case "message":
			m := Message{ID: c.attr("id"), Name: c.attr("name")}
			for _, ext := range extensionChildren(c) {
				switch {
				case ext.name.Space == nsZeebe && ext.name.Local == "subscription":
					m.CorrelationKey = ext.attr("correlationKey")
				case ext.name.Space == nsRapport && ext.name.Local == "whenChanged":
					m.WhenChanged = strings.FieldsFunc(ext.attr("fields"), func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
				}
			}
			defs.Messages = append(defs.Messages, m)
		case "error":
			defs.Errors = append(defs.Errors, ErrorDef{ID: c.attr("id"), Name: c.attr("name"), Code: c.attr("errorCode")})
		default:
			if !isRootElement(c.name.Local) {
				p.invalidChild(root, c)
			}
		}
	}
}

// extensionChildren returns the children of n's extensionElements.
func extensionChildren(n *xnode) []*xnode {
	var out []*xnode
	for _, c := range n.children {
		if isBPMN(c) && c.name.Local == "extensionElements" {
			out = append(out, c.children...)
		}
	}
	return out
}

func (p *parser) process(n *xnode) *Process {
	proc := &Process{
		ID:         n.attr("id"),
		Name:       n.attr("name"),
		Executable: n.attr("isExecutable") == "true",
		Line:       n.line,
		Elements:   []*Element{},
		Flows:      []*SequenceFlow{},
	}
	for _, ext := range extensionChildren(n) {
		if ext.name.Space == nsZeebe && ext.name.Local == "userTaskForm" {
			proc.Forms = append(proc.Forms, EmbeddedForm{ID: ext.attr("id"), Schema: ext.body()})
			continue
		}
		if (ext.name.Space == nsZeebe && ext.name.Local != "versionTag" && ext.name.Local != "properties") ||
			(ext.name.Space == nsCamunda && ext.name.Local != "properties") {
			proc.Ignored = append(proc.Ignored, prefixOf(ext.name.Space)+":"+ext.name.Local)
			continue
		}
		if ext.name.Space != nsRapport {
			continue
		}
		switch ext.name.Local {
		case "variables":
			for _, v := range ext.children {
				if v.name.Space == nsRapport && v.name.Local == "variable" {
					proc.Variables = append(proc.Variables, VariableDecl{
						Name: strings.TrimSpace(v.attr("name")), Type: strings.TrimSpace(v.attr("type")),
						Required: v.attr("required") == "true", Default: v.attr("default"), Line: v.line})
				} else {
					proc.Unknown = append(proc.Unknown, "rapport:variables/"+v.name.Local)
				}
			}
		default:
			proc.Unknown = append(proc.Unknown, "rapport:"+ext.name.Local)
		}
	}
	for _, c := range n.children {
		if isBPMN(c) && c.name.Local == "laneSet" {
			proc.Lanes = append(proc.Lanes, p.lanes(c)...)
		}
	}
	proc.Elements, proc.Flows = p.scope(n)
	return proc
}

func (p *parser) lanes(set *xnode) []Lane {
	var out []Lane
	for _, l := range set.children {
		if !isBPMN(l) || l.name.Local != "lane" {
			continue
		}
		lane := Lane{ID: l.attr("id"), Name: l.attr("name")}
		for _, c := range l.children {
			if !isBPMN(c) {
				continue
			}
			switch c.name.Local {
			case "flowNodeRef":
				lane.FlowNodeRefs = append(lane.FlowNodeRefs, c.body())
			case "childLaneSet":
				lane.Lanes = append(lane.Lanes, p.lanes(c)...)
			}
		}
		out = append(out, lane)
	}
	return out
}

// scope reads the flow elements and sequence flows of a process or sub-process.
func (p *parser) scope(n *xnode) ([]*Element, []*SequenceFlow) {
	elems := []*Element{}
	flows := []*SequenceFlow{}
	for _, c := range n.children {
		if foreign(c) {
			continue
		}
		if !isBPMN(c) {
			p.invalidChild(n, c)
			continue
		}
		switch {
		case isFlowNode(c.name.Local):
			elems = append(elems, p.element(c))
		case c.name.Local == "sequenceFlow":
			flows = append(flows, p.sequenceFlow(c))
		case isScopeIgnored(c.name.Local):
		default:
			p.invalidChild(n, c)
		}
	}
	return elems, flows
}

func (p *parser) sequenceFlow(n *xnode) *SequenceFlow {
	f := &SequenceFlow{ID: n.attr("id"), Name: n.attr("name"), SourceRef: n.attr("sourceRef"),
		TargetRef: n.attr("targetRef"), Line: n.line}
	for _, c := range n.children {
		if foreign(c) {
			continue
		}
		if !isBPMN(c) {
			p.invalidChild(n, c)
			continue
		}
		switch c.name.Local {
		case "conditionExpression":
			f.HasCondition = true
			f.Condition = c.body()
		case "documentation", "extensionElements", "auditing", "monitoring":
		default:
			p.invalidChild(n, c)
		}
	}
	return f
}

func (p *parser) element(n *xnode) *Element {
	e := &Element{
		ID:                n.attr("id"),
		Name:              n.attr("name"),
		Type:              n.name.Local,
		Line:              n.line,
		AttachedToRef:     n.attr("attachedToRef"),
		CancelActivity:    n.attr("cancelActivity") != "false",
		IsInterrupting:    n.attr("isInterrupting") != "false",
		Default:           n.attr("default"),
		TriggeredByEvent:  n.attr("triggeredByEvent") == "true",
		IsForCompensation: n.attr("isForCompensation") == "true",
		ParallelMultiple:  n.attr("parallelMultiple") == "true",
		CalledElementAttr: n.attr("calledElement"),
		MessageRef:        n.attr("messageRef"),
	}
	e.C7 = camunda7Attrs(n)
	container := isContainer(e.Type)
	for _, c := range n.children {
		if foreign(c) {
			continue
		}
		if !isBPMN(c) {
			p.invalidChild(n, c)
			continue
		}
		local := c.name.Local
		switch {
		case local == "incoming":
			e.Incoming = append(e.Incoming, c.body())
		case local == "outgoing":
			e.Outgoing = append(e.Outgoing, c.body())
		case strings.HasSuffix(local, "EventDefinition"):
			e.EventDefinitions = append(e.EventDefinitions, eventDefinition(c))
		case local == "eventDefinitionRef":
			e.Unsupported = append(e.Unsupported, local)
		case local == "extensionElements":
			p.extensions(c, &e.Extensions)
		case local == "script":
			e.Script = &ScriptBody{Format: n.attr("scriptFormat"), Text: c.body()}
		case local == "multiInstanceLoopCharacteristics":
			e.Loop = loop(c)
		case local == "standardLoopCharacteristics":
			e.Unsupported = append(e.Unsupported, local)
		case container && (isFlowNode(local) || local == "sequenceFlow" || isScopeIgnored(local)):
			// read below by scope
		case isElementIgnored(local):
		default:
			p.invalidChild(n, c)
		}
	}
	if container {
		e.Elements, e.Flows = p.scope(n)
	}
	return e
}

func eventDefinition(n *xnode) EventDefinition {
	d := EventDefinition{Type: strings.TrimSuffix(n.name.Local, "EventDefinition"), ID: n.attr("id"),
		MessageRef: n.attr("messageRef"), ErrorRef: n.attr("errorRef"), LinkName: n.attr("name")}
	if n.attrNS(nsCamunda, "type") == "external" {
		d.ExternalTopic = strings.TrimSpace(n.attrNS(nsCamunda, "topic"))
	}
	if d.Type == "timer" {
		t := &TimerDefinition{}
		for _, c := range n.children {
			if !isBPMN(c) {
				continue
			}
			var kind TimerKind
			switch c.name.Local {
			case "timeDate":
				kind = TimerDate
			case "timeDuration":
				kind = TimerDuration
			case "timeCycle":
				kind = TimerCycle
			default:
				continue
			}
			t.Specs++
			if t.Kind == "" {
				t.Kind, t.Value = kind, c.body()
			}
		}
		d.Timer = t
	}
	return d
}

func loop(n *xnode) *LoopCharacteristics {
	l := &LoopCharacteristics{Sequential: n.attr("isSequential") == "true"}
	for _, c := range n.children {
		if isBPMN(c) && c.name.Local == "completionCondition" {
			l.CompletionCondition = c.body()
		}
	}
	for _, ext := range extensionChildren(n) {
		if ext.name.Space == nsZeebe && ext.name.Local == "loopCharacteristics" {
			l.InputCollection = ext.attr("inputCollection")
			l.InputElement = ext.attr("inputElement")
			l.OutputCollection = ext.attr("outputCollection")
			l.OutputElement = ext.attr("outputElement")
		}
	}
	return l
}

// extensions reads the zeebe: and rapport: children of an extensionElements element.
func (p *parser) extensions(n *xnode, x *Extensions) {
	for _, c := range n.children {
		switch c.name.Space {
		case nsZeebe:
			zeebeExtension(c, x)
		case nsRapport:
			rapportExtension(c, x)
		case nsCamunda:
			camundaExtension(c, x)
		}
	}
}

func zeebeExtension(c *xnode, x *Extensions) {
	switch c.name.Local {
	case "taskDefinition":
		x.TaskDefinition = &TaskDefinition{Type: c.attr("type"), Retries: c.attr("retries")}
	case "ioMapping":
		for _, m := range c.children {
			if m.name.Space != nsZeebe {
				continue
			}
			io := IOMapping{Source: m.attr("source"), Target: m.attr("target")}
			switch m.name.Local {
			case "input":
				x.Inputs = append(x.Inputs, io)
			case "output":
				x.Outputs = append(x.Outputs, io)
			}
		}
	case "taskHeaders":
		for _, h := range c.children {
			if h.name.Space == nsZeebe && h.name.Local == "header" {
				x.Headers = append(x.Headers, Header{Key: h.attr("key"), Value: h.attr("value")})
			}
		}
	case "properties":
		for _, h := range c.children {
			if h.name.Space == nsZeebe && h.name.Local == "property" {
				x.Properties = append(x.Properties, Header{Key: h.attr("name"), Value: h.attr("value")})
			}
		}
	case "assignmentDefinition":
		x.Assignment = &AssignmentDefinition{Assignee: c.attr("assignee"), CandidateGroups: c.attr("candidateGroups"),
			CandidateUsers: c.attr("candidateUsers")}
	case "formDefinition":
		x.Form = &FormRef{FormKey: c.attr("formKey"), FormID: c.attr("formId"), ExternalReference: c.attr("externalReference")}
	case "calledElement":
		x.CalledElement = &CalledElement{ProcessID: c.attr("processId"),
			PropagateAllChildVariables:  c.attr("propagateAllChildVariables") != "false",
			PropagateAllParentVariables: c.attr("propagateAllParentVariables") != "false"}
	case "calledDecision":
		x.CalledDecision = &CalledDecision{DecisionID: c.attr("decisionId"), ResultVariable: c.attr("resultVariable")}
	case "script":
		x.ZeebeScript = &ZeebeScript{Expression: c.attr("expression"), ResultVariable: c.attr("resultVariable")}
	case "taskSchedule":
		x.ZeebeDueDate = c.attr("dueDate")
	case "priorityDefinition":
		x.ZeebePriority = c.attr("priority")
	case "userTask", "versionTag", "linkedResources":
		// Camunda's own user task implementation, a version label, linked resources: nothing to run.
	default:
		// Listeners, ad-hoc settings, payload mappings and the like are not run: Validate warns.
		x.Ignored = append(x.Ignored, "zeebe:"+c.name.Local)
	}
}

func rapportExtension(c *xnode, x *Extensions) {
	switch c.name.Local {
	case "recordTrigger":
		x.RecordTrigger = &RecordTrigger{Entity: strings.TrimSpace(c.attr("entity")), On: strings.TrimSpace(c.attr("on")),
			Condition: c.attr("condition")}
	case "formFields":
		for _, f := range c.children {
			if f.name.Space == nsRapport && f.name.Local == "field" {
				x.FormFields = append(x.FormFields, FormField{Name: strings.TrimSpace(f.attr("name")),
					Type: strings.TrimSpace(f.attr("type")), Label: f.attr("label"), Required: f.attr("required") == "true",
					Line: f.line})
			} else {
				x.Unknown = append(x.Unknown, "rapport:formFields/"+f.name.Local)
			}
		}
	case "dueDate":
		x.RapportDueDate = c.attr("expression")
	case "retryPolicy":
		x.RetryPolicy = &RetryPolicyDecl{InitialInterval: c.attr("initialInterval"),
			BackoffCoefficient: c.attr("backoffCoefficient"), MaximumInterval: c.attr("maximumInterval"),
			MaximumAttempts: c.attr("maximumAttempts")}
	case "ruleset":
		x.Ruleset = &RulesetRef{Key: c.attr("key"), Version: c.attr("version"), ResultVariable: c.attr("resultVariable")}
	case "assign":
		x.Assignments = append(x.Assignments, ScriptAssignment{Target: strings.TrimSpace(c.attr("target")),
			Expression: c.attr("expression")})
	default:
		x.Unknown = append(x.Unknown, "rapport:"+c.name.Local)
	}
}
