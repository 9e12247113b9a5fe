package bpmn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rapportcrm/rapport/engine/tasktypes"
)

// builder compiles one process while collecting problems. Its maps are lookups only; every output is
// produced by iterating slices in document order.
type builder struct {
	defs      *Definitions
	proc      *Process
	opts      Options
	check     ExprChecker
	m         *Model
	els       []*Element
	flowSrc   []*SequenceFlow
	flowScope []int
	ids       map[string]int
	flowIDs   map[string]int
	lanes     map[string]string
	vars      []VariableDecl
	entity    string
	problems  []Problem
	// warnings are accepted but worth the analyst's attention (undeclared variables typed any).
	warnings []Problem
	inferred map[string]bool
	tasks    *tasktypes.Registry
}

func (b *builder) problem(id, format string, args ...any) {
	b.problems = append(b.problems, Problem{ElementID: id, Reason: fmt.Sprintf(format, args...)})
}

// warn records what compiles but deserves the analyst's attention.
func (b *builder) warn(id, format string, args ...any) {
	b.warnings = append(b.warnings, Problem{ElementID: id, Reason: fmt.Sprintf(format, args...)})
}

func compileProcess(defs *Definitions, proc *Process, opts Options) (model *Model, problems, warnings []Problem) {
	b := &builder{defs: defs, proc: proc, opts: opts, ids: map[string]int{}, flowIDs: map[string]int{},
		lanes: map[string]string{},
		m:     &Model{ProcessID: proc.ID, Name: proc.Name, Hash: defs.Hash, Nodes: []Node{}, Flows: []Flow{}}}
	// A bug in a check must not take the API or a worker down: report it as a problem of the process,
	// together with whatever was found before it.
	defer func() {
		if r := recover(); r != nil {
			model, warnings = nil, b.warnings
			problems = append(b.problems, Problem{ElementID: proc.ID, Reason: fmt.Sprintf("internal error while checking the process: %v", r)})
		}
	}()
	if !opts.SkipExpressions {
		b.check = opts.CheckExpr
		if b.check == nil {
			b.check = DefaultExprChecker(nil)
		}
	}
	if name := b.participantName(); b.m.Name == "" {
		b.m.Name = name
	}
	b.indexLanes(proc.Lanes)
	b.variables()
	b.processWarnings()
	b.addScope(-1, -1, proc.Elements, proc.Flows)
	b.scanTrigger()
	b.implicitVariables()
	for i, v := range b.m.Variables {
		if strings.TrimSpace(v.Default) != "" {
			b.m.Variables[i].Default = b.expr(proc.ID, "default of variable "+v.Name, v.Default, ResultAny)
		}
	}
	b.resolveFlows()
	for i := range b.m.Nodes {
		b.classify(i)
	}
	for i := range b.m.Nodes {
		b.checkNode(i)
	}
	b.checkFlows()
	b.checkScopes()
	b.checkLinks()
	b.checkReachability()
	b.checkEnds()
	b.m.ids = b.ids
	b.sortProblems()
	if len(b.problems) > 0 {
		return nil, b.problems, b.warnings
	}
	b.m.Warnings = b.warnings
	return b.m, nil, b.warnings
}

func (b *builder) participantName() string {
	for _, p := range b.defs.Participants {
		if p.ProcessRef == b.proc.ID {
			return p.Name
		}
	}
	return ""
}

func (b *builder) indexLanes(lanes []Lane) {
	for _, l := range lanes {
		for _, ref := range l.FlowNodeRefs {
			b.lanes[ref] = l.Name
		}
		b.indexLanes(l.Lanes)
	}
}

// variables checks the declared variables and keeps them (types normalised) for the model.
func (b *builder) variables() {
	seen := map[string]bool{}
	for _, u := range b.proc.Unknown {
		b.problem(b.proc.ID, "unknown Rapport extension element <%s>", u)
	}
	for _, v := range b.proc.Variables {
		switch {
		case v.Name == "":
			b.problem(b.proc.ID, "rapport:variable at line %d has no name", v.Line)
			continue
		case !identRe.MatchString(v.Name):
			b.problem(b.proc.ID, "variable name %q is not an identifier (letters, digits, underscore)", v.Name)
		case v.Name == "now" || v.Name == "record":
			b.problem(b.proc.ID, "variable name %q is reserved", v.Name)
		}
		if seen[v.Name] {
			b.problem(b.proc.ID, "duplicate variable %q", v.Name)
			continue
		}
		seen[v.Name] = true
		t := normalizeType(v.Type)
		if t == "" {
			b.problem(b.proc.ID, "variable %q has unknown type %q (want one of %s)", v.Name, v.Type, strings.Join(VariableTypes(), ", "))
			t = "any"
		}
		v.Type = t
		b.m.Variables = append(b.m.Variables, v)
	}
	b.vars = append(b.vars, b.m.Variables...)
}

// scanTrigger finds the record trigger's entity so expressions can read `record`.
func (b *builder) scanTrigger() {
	for _, e := range b.proc.Elements {
		if e.Type == "startEvent" && e.RecordTrigger != nil && b.entity == "" {
			b.entity = e.RecordTrigger.Entity
		}
	}
}

// implicitVariables adds the variables the process assigns itself, so expressions reading them compile.
func (b *builder) implicitVariables() {
	have := map[string]bool{}
	for _, v := range b.vars {
		have[v.Name] = true
	}
	add := func(name, typ string) {
		root := name
		if i := strings.IndexByte(root, '.'); i >= 0 {
			root = root[:i]
		}
		if root == "" || have[root] || !identRe.MatchString(root) || root == "now" {
			return
		}
		have[root] = true
		if i := strings.IndexByte(name, '.'); i >= 0 {
			typ = "any"
		}
		b.vars = append(b.vars, VariableDecl{Name: root, Type: typ})
	}
	for _, e := range b.els {
		fields := e.FormFields
		if e.Form != nil && len(fields) == 0 {
			if id, ok := strings.CutPrefix(e.Form.FormKey, embeddedFormPrefix); ok {
				if form := b.embeddedForm(id); form != nil {
					fields, _ = camundaFormFields(form.Schema) // errors are reported by userTask
				}
			}
		}
		for _, f := range fields {
			if t := normalizeType(f.Type); t != "" {
				add(f.Name, t)
			}
		}
		for _, o := range e.Outputs {
			add(o.Target, "any")
		}
		for _, in := range e.Inputs {
			add(in.Target, "any")
		}
		for _, a := range e.Assignments {
			add(a.Target, "any")
		}
		if e.ZeebeScript != nil {
			add(e.ZeebeScript.ResultVariable, "any")
		}
		if ref := rulesetOf(e); ref != nil && ref.ResultVariable != "" && !isJob(e) {
			add(ref.ResultVariable, "any")
			b.shapeRulesetResult(*ref)
		}
		if e.Loop != nil {
			add(e.Loop.InputElement, "any")
			add(e.Loop.OutputCollection, "list")
			add(LoopCounter, "int")
		}
	}
}

func (b *builder) addScope(parent, owner int, elems []*Element, flows []*SequenceFlow) int {
	si := len(b.m.Scopes)
	b.m.Scopes = append(b.m.Scopes, Scope{Index: si, Parent: parent, Node: owner, Nodes: []int{}, Starts: []int{}})
	for _, e := range elems {
		ni := len(b.m.Nodes)
		b.m.Nodes = append(b.m.Nodes, Node{Index: ni, ID: e.ID, Name: e.Name, Scope: si, Incoming: []int{},
			Outgoing: []int{}, Default: -1, AttachedTo: -1, SubScope: -1, LinkTarget: -1, Lane: b.lanes[e.ID]})
		b.els = append(b.els, e)
		if e.ID == "" {
			b.problem("", "<%s> at line %d has no id", e.Type, e.Line)
		} else {
			b.ids[e.ID] = ni
		}
		b.m.Scopes[si].Nodes = append(b.m.Scopes[si].Nodes, ni)
		if isContainer(e.Type) {
			sub := b.addScope(si, ni, e.Elements, e.Flows)
			b.m.Nodes[ni].SubScope = sub
		}
	}
	for _, f := range flows {
		b.flowSrc = append(b.flowSrc, f)
		b.flowScope = append(b.flowScope, si)
	}
	return si
}

func (b *builder) resolveFlows() {
	for i, f := range b.flowSrc {
		if f.ID == "" {
			b.problem("", "sequence flow at line %d has no id", f.Line)
		}
		src, okS := b.ids[f.SourceRef]
		tgt, okT := b.ids[f.TargetRef]
		if !okS {
			b.problem(f.ID, "sourceRef %q does not name a flow node of this process", f.SourceRef)
		}
		if !okT {
			b.problem(f.ID, "targetRef %q does not name a flow node of this process", f.TargetRef)
		}
		if !okS || !okT {
			continue
		}
		scope := b.flowScope[i]
		if b.m.Nodes[src].Scope != scope || b.m.Nodes[tgt].Scope != scope {
			b.problem(f.ID, "sequence flow connects %q and %q across a sub-process boundary; flows must stay inside one scope", f.SourceRef, f.TargetRef)
			continue
		}
		fi := len(b.m.Flows)
		cond := ""
		if f.HasCondition {
			// Kept as written ("=" included): the gateway check reads it as FEEL or expr.
			cond = strings.TrimSpace(f.Condition)
		}
		b.m.Flows = append(b.m.Flows, Flow{Index: fi, ID: f.ID, Name: f.Name, Source: src, Target: tgt, Condition: cond})
		b.flowIDs[f.ID] = fi
		b.m.Nodes[src].Outgoing = append(b.m.Nodes[src].Outgoing, fi)
		b.m.Nodes[tgt].Incoming = append(b.m.Nodes[tgt].Incoming, fi)
		if src, _ := exprSource(cond); f.HasCondition && src == "" {
			b.problem(f.ID, "condition expression is empty")
		}
	}
}

// exprSource trims s and strips FEEL's leading "="; isExpr reports whether the "=" was there.
func exprSource(s string) (src string, isExpr bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "=") {
		return strings.TrimSpace(s[1:]), true
	}
	if inner, ok := camunda7Expression(s); ok {
		return inner, true // Camunda 7's ${...}: read like an "=" expression
	}
	return s, false
}

// expr checks one expression and returns the expr source to run: "=..." read as FEEL (translated) or
// expr, other text as expr.
func (b *builder) expr(id, field, raw string, want ExprResult) string {
	return b.exprWith(id, field, raw, want, nil)
}

// exprWith is expr with extra variables visible only at this site (e.g. a task's `result`).
func (b *builder) exprWith(id, field, raw string, want ExprResult, extra []VariableDecl) string {
	src, isExpr := exprSource(raw)
	if src == "" {
		b.problem(id, "%s is empty", field)
		return ""
	}
	vars := b.vars
	if len(extra) > 0 {
		vars = append(append([]VariableDecl(nil), b.vars...), extra...)
	}
	site := ExprSite{ProcessID: b.proc.ID, ElementID: id, Field: field, Source: src, Result: want,
		Variables: vars, Entity: b.entity}
	var res siteResult
	if isExpr {
		res = b.readExpr(site)
	} else {
		res = b.compileSite(site)
	}
	if res.err != nil {
		b.problem(id, "%s %q does not compile: %v", field, src, res.err)
		return res.src
	}
	b.commit(id, res.inferred)
	return res.src
}

// valueOrExpr reads an attribute that is a literal unless it starts with "=".
func (b *builder) valueOrExpr(id, field, raw string, want ExprResult) Expr {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Expr{}
	}
	if _, isExpr := exprSource(raw); isExpr {
		return Expr{Expression: b.expr(id, field, raw, want)}
	}
	return Expr{Literal: raw}
}

// sortProblems orders problems by the document position of their element (process-level problems
// first, then nodes, then flows), keeping the order of checks for one element, so a modeler sees them
// in the order of the diagram's XML.
func (b *builder) sortProblems() {
	pos := func(id string) int {
		if id == b.proc.ID || id == "" {
			return -1
		}
		if i, ok := b.ids[id]; ok {
			return i
		}
		if i, ok := b.flowIDs[id]; ok {
			return len(b.m.Nodes) + i
		}
		for i, f := range b.flowSrc {
			if f.ID == id {
				return len(b.m.Nodes) + len(b.m.Flows) + i
			}
		}
		return len(b.m.Nodes) + 2*len(b.flowSrc)
	}
	sort.SliceStable(b.problems, func(i, j int) bool { return pos(b.problems[i].ElementID) < pos(b.problems[j].ElementID) })
}
