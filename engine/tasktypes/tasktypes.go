// Package tasktypes is the one catalogue of service task types. Each type is registered by its ID and
// describes itself — its headers, inputs and result shape — and may check a task's configuration when
// a process is deployed, like a Caddy module: the BPMN validator (engine/bpmn) asks it which types exist
// and what a task of a type must hold, the interpreter's handlers (workflows/process) are registered
// under the same IDs, and the designer's properties panel and the docs read the descriptions. A service
// task whose type is not registered is an external task, run by a worker outside Rapport.
//
// The package does no I/O: what a check needs to look up (entities, rule sets, connectors) comes in an
// Env the caller fills.
package tasktypes

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rapportcrm/rapport/engine/expression"
)

// Param is one header or input a task type reads.
type Param struct {
	Name string `json:"name"`
	// Type is the value's type as the designer shows it: string, int, float, bool, list, object, any.
	Type string `json:"type"`
	// Required means a task of the type must set it (as a header or, when Input is true, an input).
	Required bool   `json:"required,omitempty"`
	Doc      string `json:"doc"`
	// Input means an input mapping of the same name may give the value instead of the header (the
	// input wins at run time).
	Input bool `json:"input,omitempty"`
	// Enum lists the accepted literal values, when there are only a few.
	Enum []string `json:"enum,omitempty"`
}

// Info is what a task type says about itself.
type Info struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Doc   string `json:"doc"`
	// Headers are the static settings (zeebe:header) the type reads.
	Headers []Param `json:"headers,omitempty"`
	// Inputs are the input mappings the type reads; FreeInputs means any other input is passed on too
	// (the fields of a record to create, the body of a notification).
	Inputs     []Param `json:"inputs,omitempty"`
	FreeInputs bool    `json:"freeInputs,omitempty"`
	// Result is the shape of what a task returns, read by output mappings as `result`; nil is any.
	Result *expression.Type `json:"result,omitempty"`
	// Internal types are run by the interpreter for other elements (message throws) and may not be
	// named by a service task.
	Internal bool `json:"internal,omitempty"`
}

// TaskType is a registered task type.
type TaskType interface {
	// TaskType describes the type.
	TaskType() Info
}

// Validator is implemented by task types that check a task's configuration when a process is
// deployed; every returned error becomes a problem of the task's element, a *Warning a warning.
type Validator interface {
	Validate(t Task, env Env) []error
}

// Warning is what a Validator returns for a configuration that deploys but deserves attention (a
// connector not configured yet): the validator lists it as a warning of the element, not a problem.
type Warning struct{ Msg string }

// Error returns the message.
func (w *Warning) Error() string { return w.Msg }

// Warnf makes a Warning.
func Warnf(format string, args ...any) error { return &Warning{Msg: fmt.Sprintf(format, args...)} }

// Resulter is implemented by task types whose result shape depends on the task (a rule set's result
// depends on its kind); it overrides Info.Result when it returns a type.
type Resulter interface {
	ResultOf(t Task, env Env) *expression.Type
}

// Header is one static setting of a task.
type Header struct {
	Key   string
	Value string
}

// Input is one input mapping of a task: Source is expr source (FEEL already translated), Literal the
// value when the diagram wrote a literal (a Zeebe source without "=").
type Input struct {
	Target  string
	Source  string
	Literal *string
}

// Task is one service task's configuration as the diagram writes it.
type Task struct {
	Element string
	Type    string
	Headers []Header
	Inputs  []Input
}

// Header returns the value of a header and whether the task sets it.
func (t Task) Header(name string) (string, bool) {
	for _, h := range t.Headers {
		if h.Key == name {
			return h.Value, true
		}
	}
	return "", false
}

// Input returns the input mapping with the given target.
func (t Task) Input(name string) (Input, bool) {
	for _, in := range t.Inputs {
		if in.Target == name {
			return in, true
		}
	}
	return Input{}, false
}

// Static returns the value a task gives name without evaluating anything: a literal input, else the
// header; ok is false when the value is computed at run time or not given.
func (t Task) Static(name string) (value string, ok bool) {
	if in, has := t.Input(name); has {
		return literalOf(in)
	}
	v, has := t.Header(name)
	if !has || strings.HasPrefix(strings.TrimSpace(v), "=") {
		return "", false
	}
	return strings.TrimSpace(v), true
}

// Sets reports whether the task gives name a value, as a header or an input.
func (t Task) Sets(name string) bool {
	if _, ok := t.Input(name); ok {
		return true
	}
	v, ok := t.Header(name)
	return ok && strings.TrimSpace(v) != ""
}

// Entity is what validation knows of an entity: the type of its records and, per enum field, the
// values it accepts.
type Entity struct {
	Type  *expression.Type
	Enums map[string][]string
}

// Ruleset is what validation knows of a rule set.
type Ruleset struct {
	// Kind is the rule set's kind (engine/rules Kind), which decides the result's shape.
	Kind string
	// Entity is the entity whose records the rule set evaluates.
	Entity string
}

// Env is what a check may look up; a nil function skips the checks that need it (the validator
// without a store behind it, tests).
type Env struct {
	Entity    func(name string) (Entity, bool)
	Ruleset   func(key string) (Ruleset, bool)
	Connector func(name string) bool
}

// Registry holds task types by ID, in registration order.
type Registry struct {
	types   map[string]TaskType
	order   []string
	aliases map[string]string
}

// New returns an empty registry.
func New() *Registry { return &Registry{types: map[string]TaskType{}, aliases: map[string]string{}} }

// Register adds a task type; an ID registered twice is an error, so two parts never fight over one.
func (r *Registry) Register(t TaskType) error {
	id := t.TaskType().ID
	if id == "" {
		return fmt.Errorf("tasktypes: a task type needs an ID")
	}
	if _, dup := r.types[id]; dup {
		return fmt.Errorf("tasktypes: %q is registered twice", id)
	}
	if _, dup := r.aliases[id]; dup {
		return fmt.Errorf("tasktypes: %q is already an alias", id)
	}
	r.types[id] = t
	r.order = append(r.order, id)
	return nil
}

// Alias makes name another ID of the registered type target (io.camunda:http-json:1 runs as http).
func (r *Registry) Alias(name, target string) error {
	if _, ok := r.types[target]; !ok {
		return fmt.Errorf("tasktypes: alias %q names unknown type %q", name, target)
	}
	if _, dup := r.types[name]; dup {
		return fmt.Errorf("tasktypes: alias %q is a registered type", name)
	}
	r.aliases[name] = target
	return nil
}

// Resolve returns the ID a type name runs as (an alias's target, else the name itself).
func (r *Registry) Resolve(name string) string {
	if t, ok := r.aliases[name]; ok {
		return t
	}
	return name
}

// Lookup returns the type registered under id or an alias of it.
func (r *Registry) Lookup(id string) (TaskType, bool) {
	t, ok := r.types[r.Resolve(id)]
	return t, ok
}

// Known reports whether a service task may name id as a built-in type (internal types excluded).
func (r *Registry) Known(id string) bool {
	t, ok := r.Lookup(id)
	return ok && !t.TaskType().Internal
}

// IDs lists the IDs a service task may name, in registration order.
func (r *Registry) IDs() []string {
	out := make([]string, 0, len(r.order))
	for _, id := range r.order {
		if !r.types[id].TaskType().Internal {
			out = append(out, id)
		}
	}
	return out
}

// Infos describes every registered type, in registration order, for the designer and the docs.
func (r *Registry) Infos() []Info {
	out := make([]Info, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.types[id].TaskType())
	}
	return out
}

// Aliases maps each alias to the ID of the type it runs as (a copy: the registry does not change).
func (r *Registry) Aliases() map[string]string {
	return maps.Clone(r.aliases)
}

// Check validates a task against its type: required headers and inputs, enum headers, then the
// type's own Validator. An unknown type is no error here (it is an external task).
func (r *Registry) Check(t Task, env Env) []error {
	tt, ok := r.Lookup(t.Type)
	if !ok {
		return nil
	}
	info := tt.TaskType()
	var errs []error
	for _, p := range info.Headers {
		v, has := t.Header(p.Name)
		switch {
		case p.Required && !t.Sets(p.Name):
			where := "header"
			if p.Input {
				where = "header or input"
			}
			errs = append(errs, fmt.Errorf("needs the %s %q (%s): add <zeebe:header key=%q value=\"...\"/>", where, p.Name, p.Doc, p.Name))
		case has && len(p.Enum) > 0 && !strings.HasPrefix(v, "=") && !slices.Contains(p.Enum, v):
			errs = append(errs, fmt.Errorf("header %q is %q; want one of %s", p.Name, v, strings.Join(p.Enum, ", ")))
		}
	}
	for _, p := range info.Inputs {
		if p.Required && !t.Sets(p.Name) {
			errs = append(errs, fmt.Errorf("needs the input %q (%s): add <zeebe:input source=\"=...\" target=%q/>", p.Name, p.Doc, p.Name))
		}
	}
	if v, ok := tt.(Validator); ok {
		errs = append(errs, v.Validate(t, env)...)
	}
	return errs
}

// ResultOf is the shape of a task's result: its type's Resulter when it knows, else Info.Result
// (nil: any).
func (r *Registry) ResultOf(t Task, env Env) *expression.Type {
	tt, ok := r.Lookup(t.Type)
	if !ok {
		return nil
	}
	if rs, ok := tt.(Resulter); ok {
		if res := rs.ResultOf(t, env); res != nil {
			return res
		}
	}
	return tt.TaskType().Result
}

// literalOf is the value of an input written as a literal or as an expression that is only a string
// literal.
func literalOf(in Input) (string, bool) {
	if in.Literal != nil {
		return *in.Literal, true
	}
	return stringLiteral(in.Source)
}

// stringLiteral returns the value of an expr source that is nothing but a string literal.
func stringLiteral(src string) (string, bool) {
	src = strings.TrimSpace(src)
	if len(src) < 2 || (src[0] != '"' && src[0] != '\'') || src[len(src)-1] != src[0] {
		return "", false
	}
	body := src[1 : len(src)-1]
	if strings.ContainsAny(body, `\"'`) {
		return "", false
	}
	return body, true
}
