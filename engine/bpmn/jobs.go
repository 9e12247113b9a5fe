package bpmn

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/feel"
	"github.com/rapportcrm/rapport/engine/tasktypes"
)

// Jobs: service tasks and what Camunda 8 runs like them (send tasks, business rule and script tasks
// with a task definition, message throw and end events with one, Camunda 7 external tasks). A job
// whose type is one of the task types of Options.Tasks runs in Rapport; any other type is an external
// task, run by a worker outside Rapport (a Temporal activity of that name, or fetch-and-lock over
// REST), as Camunda's job workers run it.

// isJob reports whether an element other than a service task runs as a job: it has a
// zeebe:taskDefinition or is a Camunda 7 external task.
func isJob(e *Element) bool {
	if e.TaskDefinition != nil || (e.C7 != nil && e.C7.Type == "external") {
		return true
	}
	for _, d := range e.EventDefinitions {
		if d.ExternalTopic != "" {
			return true
		}
	}
	return false
}

// registry is the task type catalogue the process is checked against.
func (b *builder) registry() *tasktypes.Registry {
	if b.tasks == nil {
		b.tasks = b.opts.Tasks
		if b.tasks == nil {
			b.tasks = tasktypes.Builtin()
		}
	}
	return b.tasks
}

// jobType is the type a job names: zeebe:taskDefinition type, or a Camunda 7 external task topic.
func jobType(e *Element) string {
	if e.TaskDefinition != nil {
		return strings.TrimSpace(e.TaskDefinition.Type)
	}
	if e.C7 != nil && e.C7.Type == "external" {
		return strings.TrimSpace(e.C7.Topic)
	}
	for _, d := range e.EventDefinitions {
		if d.ExternalTopic != "" {
			return d.ExternalTopic
		}
	}
	return ""
}

func (b *builder) serviceTask(i int) {
	e := b.els[i]
	n := &b.m.Nodes[i]
	reg := b.registry()
	if b.camunda7Implementation(e) {
		return
	}
	written := jobType(e)
	if written == "" {
		b.problem(e.ID, "%s has no task type: add <zeebe:taskDefinition type=\"...\"/> with a built-in type (%s) or the name of an external task a worker implements",
			elementWords(e.Type), strings.Join(append(reg.IDs(), b.opts.TaskTypes...), ", "))
		return
	}
	spec := &TaskSpec{Type: reg.Resolve(written)}
	if spec.Type != written {
		spec.Written = written
	}
	switch {
	case strings.HasPrefix(written, "="):
		// Zeebe evaluates a task type written as an expression when the job is created; it can only
		// name an external task.
		spec.Type, spec.Written = "", written
		spec.TypeExpression = b.expr(e.ID, "task type", written, ResultString)
		spec.External = true
	case slices.Contains(b.opts.TaskTypes, written):
	case reg.Known(spec.Type):
	default:
		spec.External = true
		if strings.HasPrefix(written, "io.camunda:") {
			b.warn(e.ID, "Camunda connector %q is not built into Rapport, so it runs as an external task: a worker must implement the type %q (see the external task API)", written, written)
		}
	}
	n.Task = spec
	seen := map[string]bool{}
	for _, h := range e.Headers {
		if h.Key == "" {
			b.problem(e.ID, "task header without a key")
			continue
		}
		if seen[h.Key] {
			b.problem(e.ID, "duplicate task header %q", h.Key)
		}
		seen[h.Key] = true
	}
	n.Headers = e.Headers
	n.Retry = b.retryPolicy(e)
	if spec.External || spec.Type == "" {
		return
	}
	task := b.taskConfig(e, spec.Type)
	refused := false
	if b.opts.CheckTaskTypes && !slices.Contains(b.opts.TaskTypes, written) {
		refused = b.checkTask(e.ID, written+" task", task)
	}
	// The deployment's own check (outbound policy, the plugin's operations) needs a well-formed task:
	// one the catalogue refused gets no second problem for the same mistake.
	if b.opts.CheckTask != nil && !refused {
		inputs := make([]Mapping, 0, len(e.Inputs))
		for _, in := range e.Inputs {
			src, _ := exprSource(in.Source)
			inputs = append(inputs, Mapping{Source: src, Target: strings.TrimSpace(in.Target)})
		}
		if err := b.opts.CheckTask(spec.Type, e.Headers, inputs); err != nil {
			b.problem(e.ID, "%s task: %v", written, err)
		}
	}
}

// checkTask checks a task against the catalogue: errors are problems of the element, warnings
// (tasktypes.Warning) its warnings. It reports whether there was a problem.
func (b *builder) checkTask(id, what string, task tasktypes.Task) bool {
	refused := false
	for _, err := range b.registry().Check(task, b.opts.TaskEnv) {
		var w *tasktypes.Warning
		if errors.As(err, &w) {
			b.warn(id, "%s: %s", what, w.Msg)
			continue
		}
		refused = true
		b.problem(id, "%s: %v", what, err)
	}
	return refused
}

// taskConfig is a task's configuration as the task type catalogue checks it.
func (b *builder) taskConfig(e *Element, typ string) tasktypes.Task {
	t := tasktypes.Task{Element: e.ID, Type: typ}
	for _, h := range e.Headers {
		t.Headers = append(t.Headers, tasktypes.Header{Key: h.Key, Value: h.Value})
	}
	for _, in := range e.Inputs {
		src, isExpr := exprSource(in.Source)
		mi := tasktypes.Input{Target: strings.TrimSpace(in.Target), Source: src}
		if !isExpr && strings.TrimSpace(in.Source) != "" {
			lit := in.Source
			mi.Literal = &lit
		}
		t.Inputs = append(t.Inputs, mi)
	}
	return t
}

// elementWords names an element type for messages ("send task", "message end event").
func elementWords(typ string) string {
	var out []rune
	for i, r := range typ {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				out = append(out, ' ')
			}
			r += 'a' - 'A'
		}
		out = append(out, r)
	}
	return string(out)
}

// camunda7Implementation refuses the Camunda 7 implementations Rapport cannot run (Java delegates,
// expressions, connectors) and reports whether it did.
func (b *builder) camunda7Implementation(e *Element) bool {
	c := e.C7
	if c == nil || c.Type == "external" {
		return false
	}
	switch {
	case c.Class != "":
		b.problem(e.ID, "the Camunda 7 Java delegate camunda:class=%q is not run; make it an external task (camunda:type=\"external\" camunda:topic=\"...\") or give it a <zeebe:taskDefinition type=\"...\"/>", c.Class)
	case c.DelegateExpression != "":
		b.problem(e.ID, "the Camunda 7 delegate expression %q is not run; make it an external task (camunda:type=\"external\" camunda:topic=\"...\") or give it a <zeebe:taskDefinition type=\"...\"/>", c.DelegateExpression)
	case c.Expression != "" && e.TaskDefinition == nil:
		b.problem(e.ID, "the Camunda 7 expression %q is not run; make it an external task (camunda:type=\"external\" camunda:topic=\"...\") or give it a <zeebe:taskDefinition type=\"...\"/>", c.Expression)
	case c.Connector != "" && e.TaskDefinition == nil:
		b.problem(e.ID, "the Camunda 7 connector %q is not run; use a service task of type http (<zeebe:taskDefinition type=\"http\"/>)", c.Connector)
	default:
		return false
	}
	return true
}

// connectorResult turns the result headers of Camunda's connectors into output mappings: resultVariable
// stores the whole result, resultExpression (a FEEL context over `response`) stores each of its
// entries.
func (b *builder) connectorResult(i int, written string) {
	e := b.els[i]
	n := &b.m.Nodes[i]
	if !strings.HasPrefix(written, "io.camunda:") {
		return
	}
	for _, h := range e.Headers {
		v := strings.TrimSpace(h.Value)
		if v == "" {
			continue
		}
		switch h.Key {
		case "resultVariable":
			if !pathRe.MatchString(v) {
				b.problem(e.ID, "resultVariable %q is not a variable name", v)
				continue
			}
			n.Outputs = append(n.Outputs, Mapping{Source: ResultVar, Target: v})
		case "resultExpression":
			src, _ := exprSource(v)
			keys, ok := feel.ContextKeys(src)
			if src == "response" {
				// The whole response: its entries become variables, as Camunda merges the context.
				keys, ok = []string{"status", "body", "headers"}, true
			}
			if !ok {
				b.problem(e.ID, "resultExpression %q must be a FEEL context such as ={total: response.body.total}", v)
				continue
			}
			whole := b.exprWith(e.ID, "resultExpression", v, ResultAny, []VariableDecl{{Name: "response", Type: "any"}})
			if whole == "" {
				continue
			}
			for _, k := range keys {
				if !identRe.MatchString(k) {
					b.problem(e.ID, "resultExpression key %q is not a variable name", k)
					continue
				}
				n.Outputs = append(n.Outputs, Mapping{Target: k,
					Source: fmt.Sprintf("let response = %s; (%s)[%q]", ResultVar, whole, k)})
			}
		}
	}
}

// rulesTask is a business rule task's rule set as the rules.evaluate type checks it.
func (b *builder) rulesTask(r RulesetRef) tasktypes.Task {
	t := tasktypes.Task{Type: tasktypes.RulesEvaluate, Headers: []tasktypes.Header{{Key: "ruleset", Value: r.Key}}}
	if r.Version != "" {
		t.Headers = append(t.Headers, tasktypes.Header{Key: "version", Value: r.Version})
	}
	return t
}

// shapeRulesetResult types a business rule task's result variable by its rule set's kind, so a
// condition reading a field the result does not have (=scoring.scor) is refused at deploy.
func (b *builder) shapeRulesetResult(r RulesetRef) {
	if !b.opts.CheckTaskTypes {
		return
	}
	shape := b.registry().ResultOf(b.rulesTask(r), b.opts.TaskEnv)
	if shape == nil || strings.Contains(r.ResultVariable, ".") {
		return
	}
	for k := range b.vars {
		if b.vars[k].Name == r.ResultVariable {
			b.vars[k].Shape = shape
		}
	}
}

// resultShape is the type of what node i's activity returns (`result` in its output mappings), when
// its task type knows it; nil is any.
func (b *builder) resultShape(i int) *expression.Type {
	if !b.opts.CheckTaskTypes {
		return nil
	}
	n := &b.m.Nodes[i]
	e := b.els[i]
	switch {
	case n.Kind == KindServiceTask && n.Task != nil && !n.Task.External && n.Task.Type != "":
		return b.registry().ResultOf(b.taskConfig(e, n.Task.Type), b.opts.TaskEnv)
	case n.Kind == KindBusinessRuleTask && n.Rules != nil:
		return b.registry().ResultOf(b.rulesTask(*n.Rules), b.opts.TaskEnv)
	}
	return nil
}
