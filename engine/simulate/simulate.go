// Package simulate is the process test bench's dry run: it walks a compiled process model from its start
// with the variables (and the record) an analyst chose, evaluating conditions, scripts and mappings with
// the one expression engine and rule sets with the rules engine, and answering every task that would
// reach the outside world (service tasks, user tasks, messages, timers, child processes) from the
// responses the analyst gave or from the task's declared result shape. Nothing is started, written,
// called or sent; the result is the path the instance would take, step by step, and its variables.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/expression"
)

// DefaultMaxSteps bounds a dry run: a loop without a wait would otherwise never end.
const DefaultMaxSteps = 500

// Rules evaluates a published rule set (key, version "" for the latest) on input and returns its result
// map; workflows/services.Rules implements it by reading only.
type Rules interface {
	Evaluate(ctx context.Context, key, version string, input map[string]any) (map[string]any, error)
}

// Options are what a dry run starts from.
type Options struct {
	// Now is the time expressions see as `now` (it does not advance: waits are noted, not waited).
	Now time.Time
	// Variables are the start variables.
	Variables map[string]any
	// Record is the record a record-triggered process starts on, available as `record`.
	Record map[string]any
	// Responses answer elements by ID: a service task's or child process's result, a user task's form,
	// a message's variables; for an event-based gateway, {"take": "<element ID>"} picks the event.
	Responses map[string]map[string]any
	// Rules evaluates business rule tasks and rules.evaluate service tasks; nil answers them from
	// Responses (or nothing).
	Rules Rules
	// ResultOf gives the declared result shape of a service task type, used when no response is given.
	ResultOf func(taskType string) *expression.Type
	// Calendars are the business calendars addBusinessHours and businessHoursBetween may name.
	Calendars map[string]expression.Calendar
	// MaxSteps bounds the run; 0 is DefaultMaxSteps.
	MaxSteps int
}

// Step is one element the instance would enter.
type Step struct {
	Element string    `json:"element"`
	Name    string    `json:"name,omitempty"`
	Kind    bpmn.Kind `json:"kind"`
	// Flow is the sequence flow the token arrived by.
	Flow string `json:"flow,omitempty"`
	// Note says what would happen here in a real run (a task called, a person asked, a wait).
	Note string `json:"note,omitempty"`
	// Waits is set where a real instance would wait for a person, a timer, a message or a child.
	Waits bool `json:"waits,omitempty"`
	// Answered says where the result came from: "response", "shape", "rules" or "".
	Answered string `json:"answered,omitempty"`
	// Set are the variables the step set.
	Set map[string]any `json:"set,omitempty"`
	// Error is why a real instance would stop here with an incident.
	Error string `json:"error,omitempty"`
}

// Result is the path a dry run took.
type Result struct {
	Steps []Step `json:"steps"`
	// Flows are the sequence flows taken, in order.
	Flows []string `json:"flows"`
	// Variables are the process variables at the end.
	Variables map[string]any `json:"variables"`
	// Outcome: "completed" (every token reached an end), "terminated", "error" (a BPMN error was thrown
	// and not caught), "incident" (a step failed), "stuck" (a join never got its tokens), or
	// "step limit".
	Outcome string `json:"outcome"`
}

// ErrNoStart means the model has no start event the dry run can begin at.
var ErrNoStart = errors.New("the process has no start event a dry run can begin at (a none, record or message start)")

type token struct {
	node int
	flow int // -1 at the start
	// returns are the sub-process nodes to continue after when the token's scope ends.
	returns []int
}

type run struct {
	ctx   context.Context
	m     *bpmn.Model
	o     Options
	vars  map[string]any
	res   Result
	queue []token
	// arrived counts the tokens waiting at a join, by node.
	arrived map[int][]token
	env     *evaluator
}

// Run walks the model from its start event. record selects the record start when there is one.
func Run(ctx context.Context, m *bpmn.Model, o Options) (*Result, error) {
	if o.MaxSteps <= 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	start := -1
	for _, k := range []bpmn.Kind{bpmn.KindStartNone, bpmn.KindStartRecord, bpmn.KindStartMessage, bpmn.KindStartTimer} {
		if s := m.Starts(k); len(s) > 0 && (start < 0 || (o.Record != nil && k == bpmn.KindStartRecord)) {
			start = s[0]
		}
	}
	if start < 0 {
		return nil, ErrNoStart
	}
	r := &run{ctx: ctx, m: m, o: o, vars: map[string]any{}, arrived: map[int][]token{}, env: newEvaluator(m, o.Calendars)}
	maps.Copy(r.vars, o.Variables)
	if o.Record != nil {
		r.vars["record"] = o.Record
	}
	if err := r.env.coerce(r.vars); err != nil {
		return nil, fmt.Errorf("start variables: %w", err)
	}
	r.res.Flows = []string{}
	r.queue = append(r.queue, token{node: start, flow: -1})
	r.walk()
	r.res.Variables = r.vars
	return &r.res, nil
}

func (r *run) walk() {
	for {
		for len(r.queue) > 0 {
			if len(r.res.Steps) >= r.o.MaxSteps {
				r.res.Outcome = "step limit"
				return
			}
			t := r.queue[0]
			r.queue = r.queue[1:]
			if !r.enter(t) {
				return
			}
		}
		// Joins that still wait fire once nothing else can reach them (the inclusive rule, simplified to
		// "no token left anywhere").
		fired := false
		for _, n := range slices.Sorted(maps.Keys(r.arrived)) {
			if ts := r.arrived[n]; len(ts) > 0 && r.m.Nodes[n].Kind == bpmn.KindInclusiveGateway {
				delete(r.arrived, n)
				nd := &r.m.Nodes[n]
				r.res.Steps = append(r.res.Steps, Step{Element: nd.ID, Name: nd.Name, Kind: nd.Kind, Note: "the join fires"})
				r.leave(ts[0], nd)
				fired = true
				break
			}
		}
		if !fired {
			break
		}
	}
	if r.res.Outcome == "" {
		r.res.Outcome = "completed"
		for n, ts := range r.arrived {
			if len(ts) > 0 {
				r.res.Outcome = "stuck"
				r.res.Steps = append(r.res.Steps, Step{Element: r.m.Nodes[n].ID, Name: r.m.Nodes[n].Name, Kind: r.m.Nodes[n].Kind,
					Error: fmt.Sprintf("the join got %d of %d incoming tokens", len(ts), len(r.m.Nodes[n].Incoming))})
			}
		}
	}
}

// enter runs the node a token arrived at; false stops the whole run.
func (r *run) enter(t token) bool {
	n := &r.m.Nodes[t.node]
	step := Step{Element: n.ID, Name: n.Name, Kind: n.Kind}
	if t.flow >= 0 {
		step.Flow = r.m.Flows[t.flow].ID
	}
	if (n.Kind == bpmn.KindParallelGateway || n.Kind == bpmn.KindInclusiveGateway) && len(n.Incoming) > 1 {
		r.arrived[t.node] = append(r.arrived[t.node], t)
		if n.Kind == bpmn.KindParallelGateway && len(r.arrived[t.node]) < len(n.Incoming) {
			return true
		}
		if n.Kind == bpmn.KindInclusiveGateway && r.live() {
			return true
		}
		delete(r.arrived, t.node)
	}
	local, err := r.inputs(n)
	if err != nil {
		return r.fail(step, err)
	}
	var result map[string]any
	switch n.Kind {
	case bpmn.KindStartNone, bpmn.KindStartRecord, bpmn.KindStartMessage, bpmn.KindStartTimer, bpmn.KindStartError, bpmn.KindLinkCatch:
	case bpmn.KindEndNone:
		step.Note = "ends this path"
		r.res.Steps = append(r.res.Steps, step)
		r.returnFrom(t)
		return true
	case bpmn.KindEndTerminate:
		step.Note = "ends the instance"
		r.res.Steps = append(r.res.Steps, step)
		r.res.Outcome = "terminated"
		return false
	case bpmn.KindEndError:
		step.Note = "throws a BPMN error"
		if n.Error != nil {
			step.Note = fmt.Sprintf("throws the BPMN error %s", n.Error.Code)
		}
		r.res.Steps = append(r.res.Steps, step)
		r.res.Outcome = "error"
		return false
	case bpmn.KindServiceTask:
		typ := ""
		if n.Task != nil {
			typ = n.Task.Type
		}
		step.Note = fmt.Sprintf("would run a %s task", typ)
		if typ == "rules.evaluate" && r.o.Rules != nil && r.o.Responses[n.ID] == nil {
			result, err = r.rules(headerOf(n, "ruleset"), headerOf(n, "version"), local)
			if err != nil {
				return r.fail(step, err)
			}
			step.Answered = "rules"
			break
		}
		result, step.Answered = r.answer(n.ID, typ)
	case bpmn.KindBusinessRuleTask:
		key, version := "", ""
		if n.Rules != nil {
			key, version = n.Rules.Key, n.Rules.Version
		}
		step.Note = fmt.Sprintf("evaluates the rule set %s", key)
		if resp := r.o.Responses[n.ID]; resp != nil || r.o.Rules == nil {
			result, step.Answered = resp, "response"
		} else {
			in := local
			if len(n.Inputs) == 0 {
				in = maps.Clone(r.vars)
			}
			if result, err = r.rules(key, version, in); err != nil {
				return r.fail(step, err)
			}
			step.Answered = "rules"
		}
		if n.Rules != nil && n.Rules.ResultVariable != "" {
			var v any = result
			if rv, ok := result["result"]; ok {
				v = rv
			}
			r.set(&step, n.Rules.ResultVariable, v)
		}
	case bpmn.KindUserTask:
		step.Waits = true
		step.Note = "waits for a person to complete the task"
		if u := n.User; u != nil && (u.Assignee.Literal != "" || u.Assignee.Expression != "") {
			who, err := r.value(u.Assignee, local)
			if err != nil {
				return r.fail(step, fmt.Errorf("assignee: %w", err))
			}
			step.Note = fmt.Sprintf("waits for %v to complete the task", who)
		}
		result, step.Answered = r.o.Responses[n.ID], "response"
		if result == nil {
			result, step.Answered = map[string]any{}, "shape"
			if n.User != nil {
				for _, f := range n.User.Fields {
					result[f.Name] = expression.ZeroValue(expression.Scalar(bpmn.KindOf(f.Type)))
				}
			}
		}
		if len(n.Outputs) == 0 {
			for _, k := range slices.Sorted(maps.Keys(result)) {
				r.set(&step, k, result[k])
			}
		}
	case bpmn.KindScriptTask:
		for _, a := range n.Script {
			v, err := r.env.eval(a.Expression, r.scope(local, nil), r.o.Now)
			if err != nil {
				return r.fail(step, fmt.Errorf("%s: %w", a.Target, err))
			}
			r.set(&step, a.Target, v)
		}
	case bpmn.KindReceiveTask, bpmn.KindMessageCatch, bpmn.KindTimerCatch:
		step.Waits = true
		step.Note = waitNote(n)
		result, step.Answered = r.o.Responses[n.ID], "response"
		if result == nil {
			step.Answered = ""
		} else if len(n.Outputs) == 0 {
			for _, k := range slices.Sorted(maps.Keys(result)) {
				r.set(&step, k, result[k])
			}
		}
	case bpmn.KindMessageThrow:
		if n.Message != nil {
			step.Note = fmt.Sprintf("would publish the message %s", n.Message.Name)
		}
	case bpmn.KindCallActivity:
		step.Waits = true
		step.Note = "would start a child process and wait for it"
		result, step.Answered = r.o.Responses[n.ID], "response"
		if result == nil {
			step.Answered = ""
		}
	case bpmn.KindSubProcess:
		r.res.Steps = append(r.res.Steps, step)
		starts := r.m.Scopes[n.SubScope].Starts
		if len(starts) == 0 {
			return r.fail(step, errors.New("the sub-process has no start event"))
		}
		r.queue = append(r.queue, token{node: starts[0], flow: -1, returns: append(slices.Clone(t.returns), t.node)})
		return true
	case bpmn.KindLinkThrow:
		r.res.Steps = append(r.res.Steps, step)
		if n.LinkTarget >= 0 {
			r.queue = append(r.queue, token{node: n.LinkTarget, flow: -1, returns: t.returns})
		}
		return true
	case bpmn.KindEventGateway:
		r.res.Steps = append(r.res.Steps, step)
		return r.eventGateway(t, n)
	}
	if n.Loop != nil {
		step.Note = strings.TrimSpace(step.Note + " (multi-instance: run once here)")
	}
	if err := r.outputs(&step, n, local, result); err != nil {
		return r.fail(step, err)
	}
	r.res.Steps = append(r.res.Steps, step)
	return r.leave(t, n)
}

// live reports whether a token is still moving.
func (r *run) live() bool { return len(r.queue) > 0 }

// leave sends the token on along the node's outgoing flows as the node's kind decides.
func (r *run) leave(t token, n *bpmn.Node) bool {
	take := func(f int) {
		r.res.Flows = append(r.res.Flows, r.m.Flows[f].ID)
		r.queue = append(r.queue, token{node: r.m.Flows[f].Target, flow: f, returns: t.returns})
	}
	switch n.Kind {
	case bpmn.KindExclusiveGateway, bpmn.KindInclusiveGateway:
		var chosen []int
		for _, f := range n.Outgoing {
			fl := &r.m.Flows[f]
			if f == n.Default || fl.Condition == "" {
				continue
			}
			ok, err := r.env.evalBool(fl.Condition, r.vars, r.o.Now)
			if err != nil {
				return r.fail(Step{Element: fl.ID, Name: fl.Name, Kind: n.Kind}, fmt.Errorf("condition: %w", err))
			}
			if ok {
				chosen = append(chosen, f)
				if n.Kind == bpmn.KindExclusiveGateway {
					break
				}
			}
		}
		if len(chosen) == 0 && n.Default >= 0 {
			chosen = []int{n.Default}
		}
		if len(chosen) == 0 {
			return r.fail(Step{Element: n.ID, Name: n.Name, Kind: n.Kind}, errors.New("no outgoing flow's condition holds and there is no default flow"))
		}
		for _, f := range chosen {
			take(f)
		}
	default:
		if len(n.Outgoing) == 0 {
			r.returnFrom(t)
		}
		for _, f := range n.Outgoing {
			take(f)
		}
	}
	return true
}

// returnFrom continues after the sub-process a token's path ended in, once no token is left inside it.
func (r *run) returnFrom(t token) {
	if len(t.returns) == 0 {
		return
	}
	owner := t.returns[len(t.returns)-1]
	for _, o := range r.queue {
		if len(o.returns) >= len(t.returns) && o.returns[len(t.returns)-1] == owner {
			return // another path of the same sub-process is still running
		}
	}
	sub := &r.m.Nodes[owner]
	step := Step{Element: sub.ID, Name: sub.Name, Kind: sub.Kind, Note: "the sub-process completes"}
	if err := r.outputs(&step, sub, nil, nil); err != nil {
		r.fail(step, err)
		return
	}
	if len(step.Set) > 0 {
		r.res.Steps = append(r.res.Steps, step)
	}
	r.leave(token{node: owner, returns: t.returns[:len(t.returns)-1]}, sub)
}

// eventGateway follows the event the responses name ({"take": id}), else the first one.
func (r *run) eventGateway(t token, n *bpmn.Node) bool {
	if len(n.Outgoing) == 0 {
		return true
	}
	pick := n.Outgoing[0]
	if want, _ := r.o.Responses[n.ID]["take"].(string); want != "" {
		for _, f := range n.Outgoing {
			if r.m.Nodes[r.m.Flows[f].Target].ID == want {
				pick = f
			}
		}
	}
	r.res.Flows = append(r.res.Flows, r.m.Flows[pick].ID)
	r.queue = append(r.queue, token{node: r.m.Flows[pick].Target, flow: pick, returns: t.returns})
	return true
}

func (r *run) fail(step Step, err error) bool {
	if last := len(r.res.Steps) - 1; last >= 0 && r.res.Steps[last].Element == step.Element && r.res.Steps[last].Error == "" {
		r.res.Steps[last].Error = err.Error() // the gateway whose conditions failed was just entered
	} else {
		step.Error = err.Error()
		r.res.Steps = append(r.res.Steps, step)
	}
	r.res.Outcome = "incident"
	return false
}

func (r *run) rules(key, version string, in map[string]any) (map[string]any, error) {
	out, err := r.o.Rules.Evaluate(r.ctx, key, version, in)
	if err != nil {
		return nil, fmt.Errorf("rule set %s: %w", key, err)
	}
	return out, nil
}

// answer is a task's result: the analyst's response, else the zero value of its declared shape.
func (r *run) answer(id, typ string) (map[string]any, string) {
	if resp := r.o.Responses[id]; resp != nil {
		return resp, "response"
	}
	if r.o.ResultOf != nil {
		if t := r.o.ResultOf(typ); t != nil {
			if m, ok := expression.ZeroValue(t).(map[string]any); ok {
				return m, "shape"
			}
		}
	}
	return map[string]any{}, "shape"
}

func (r *run) inputs(n *bpmn.Node) (map[string]any, error) {
	if len(n.Inputs) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(n.Inputs))
	for _, m := range n.Inputs {
		v, err := r.env.eval(m.Source, r.vars, r.o.Now)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", m.Target, err)
		}
		setPath(out, m.Target, v)
	}
	return out, nil
}

func (r *run) outputs(step *Step, n *bpmn.Node, local map[string]any, result map[string]any) error {
	if len(n.Outputs) == 0 {
		return nil
	}
	extra := map[string]any{bpmn.ResultVar: anyOrNil(result)}
	maps.Copy(extra, result)
	for _, m := range n.Outputs {
		v, err := r.env.eval(m.Source, r.scope(local, extra), r.o.Now)
		if err != nil {
			return fmt.Errorf("output %s: %w", m.Target, err)
		}
		r.set(step, m.Target, v)
	}
	return nil
}

func anyOrNil(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// scope is the variables an expression at an element sees: the process's, its local inputs, extras.
func (r *run) scope(local, extra map[string]any) map[string]any {
	if len(local) == 0 && len(extra) == 0 {
		return r.vars
	}
	out := maps.Clone(r.vars)
	maps.Copy(out, local)
	maps.Copy(out, extra)
	return out
}

func (r *run) value(e bpmn.Expr, local map[string]any) (any, error) {
	if e.Expression != "" {
		return r.env.eval(e.Expression, r.scope(local, nil), r.o.Now)
	}
	return e.Literal, nil
}

func (r *run) set(step *Step, path string, v any) {
	setPath(r.vars, path, v)
	if step.Set == nil {
		step.Set = map[string]any{}
	}
	step.Set[path] = v
	_ = r.env.coerce(r.vars)
}

// setPath sets a dotted path, creating objects on the way.
func setPath(vars map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	cur := vars
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}

func headerOf(n *bpmn.Node, key string) string {
	for _, h := range n.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return ""
}

func waitNote(n *bpmn.Node) string {
	switch {
	case n.Timer != nil && n.Timer.Expression != "":
		return fmt.Sprintf("waits for a timer (%s)", n.Timer.Expression)
	case n.Timer != nil && n.Timer.Kind == bpmn.TimerDuration:
		return fmt.Sprintf("waits %s", n.Timer.Duration.String())
	case n.Timer != nil:
		return fmt.Sprintf("waits for a %s timer", n.Timer.Kind)
	case n.Message != nil:
		return fmt.Sprintf("waits for the message %s", n.Message.Name)
	}
	return "waits"
}

// evaluator compiles and runs the model's expressions like the interpreter: declared variables keep their
// types, every other name is any.
type evaluator struct {
	declared map[string]*expression.Type
	names    map[string]bool
	env      *expression.Env
	decl     *expression.Env
	opts     []expression.EnvOption
	progs    map[string]*expression.Program
}

func newEvaluator(m *bpmn.Model, cals map[string]expression.Calendar) *evaluator {
	e := &evaluator{declared: map[string]*expression.Type{}, names: map[string]bool{bpmn.ResultVar: true, "record": true}}
	for _, v := range m.Variables {
		e.declared[v.Name] = expression.Scalar(bpmn.KindOf(v.Type))
	}
	if len(cals) > 0 {
		e.opts = append(e.opts, expression.WithCalendars(cals))
	}
	e.decl = expression.NewEnv(e.declared)
	return e
}

func (e *evaluator) coerce(vars map[string]any) error { return e.decl.Coerce(vars) }

func (e *evaluator) eval(src string, vars map[string]any, now time.Time) (any, error) {
	src = strings.TrimPrefix(strings.TrimSpace(src), "=")
	changed := e.env == nil
	for k := range vars {
		if _, ok := e.declared[k]; !ok && !e.names[k] && k != expression.NowVar {
			e.names[k] = true
			changed = true
		}
	}
	if changed {
		types := make(map[string]*expression.Type, len(e.names)+len(e.declared))
		for _, n := range slices.Sorted(maps.Keys(e.names)) {
			types[n] = expression.Scalar(expression.KindAny)
		}
		maps.Copy(types, e.declared)
		e.env = expression.NewEnv(types, e.opts...)
		e.progs = map[string]*expression.Program{}
	}
	p, ok := e.progs[src]
	if !ok {
		var err error
		if p, err = expression.Compile(src, e.env); err != nil {
			return nil, fmt.Errorf("%q does not compile: %w", src, err)
		}
		e.progs[src] = p
	}
	v, err := p.Run(vars, now)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", src, err)
	}
	return v, nil
}

func (e *evaluator) evalBool(src string, vars map[string]any, now time.Time) (bool, error) {
	v, err := e.eval(src, vars, now)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%q gave %T, not a bool", src, v)
	}
	return b, nil
}
