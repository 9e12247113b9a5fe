package tasktypes

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/engine/expression"
)

// IDs of the built-in task types. The interpreter registers a handler under each (workflows/process),
// definitions.TaskPermissions derives the permissions each needs.
const (
	RecordCreate   = "record.create"
	RecordUpdate   = "record.update"
	RecordGet      = "record.get"
	RecordFind     = "record.find"
	RulesEvaluate  = "rules.evaluate"
	TaskCreate     = "task.create"
	Notify         = "notify"
	HTTP           = "http"
	Connector      = "connector"
	MessagePublish = "message.publish"
	// HTTPJSON is Camunda's REST connector (io.camunda:http-json:1), an alias of HTTP with the same
	// inputs.
	HTTPJSON = "io.camunda:http-json:1"
)

// Builtin returns a registry of the task types Rapport runs itself, in the order the designer lists
// them, with Camunda's REST connector as an alias of http. Each call returns a new registry, so a
// caller may add its own types (plugins) without affecting others.
func Builtin() *Registry {
	r := New()
	for _, t := range []TaskType{
		recordTask{op: RecordCreate}, recordTask{op: RecordUpdate}, recordTask{op: RecordGet}, recordFind{},
		rulesTask{}, taskCreate{}, notifyTask{}, httpTask{}, connectorTask{}, messagePublish{},
	} {
		if err := r.Register(t); err != nil {
			panic(err) // the built-in list is fixed; a duplicate is a programming error caught by tests
		}
	}
	if err := r.Alias(HTTPJSON, HTTP); err != nil {
		panic(err)
	}
	return r
}

var (
	anyType    = expression.Scalar(expression.KindAny)
	stringType = expression.Scalar(expression.KindString)
	floatType  = expression.Scalar(expression.KindFloat)
	boolType   = expression.Scalar(expression.KindBool)
	intType    = expression.Scalar(expression.KindInt)
)

// entityParam is the entity header shared by the record task types.
var entityParam = Param{Name: "entity", Type: "string", Required: true, Input: true,
	Doc: "the entity of the record, e.g. lead"}

// recordTask is record.create, record.update and record.get.
type recordTask struct{ op string }

func (r recordTask) TaskType() Info {
	info := Info{ID: r.op, Headers: []Param{entityParam}}
	idParam := Param{Name: "id", Type: "string", Required: true, Input: true, Doc: "the ID of the record"}
	switch r.op {
	case RecordCreate:
		info.Title = "Create a record"
		info.Doc = "Creates a record of the entity from the inputs (one input per field); the result is the stored record."
		info.FreeInputs = true
	case RecordUpdate:
		info.Title = "Update a record"
		info.Doc = "Changes the fields named by the inputs of the record with the given id; the result is the stored record."
		info.Headers = append(info.Headers, idParam)
		info.FreeInputs = true
	case RecordGet:
		info.Title = "Read a record"
		info.Doc = "Reads the record with the given id; the result is the record."
		info.Headers = append(info.Headers, idParam)
	}
	return info
}

// Validate checks the entity exists and, for writes, that every literal input is a field of it and an
// enum literal is one of the field's values.
func (r recordTask) Validate(t Task, env Env) []error {
	ent, info, errs := entityOf(t, env)
	if info == nil || r.op == RecordGet {
		return errs
	}
	for _, in := range t.Inputs {
		root, _, _ := strings.Cut(in.Target, ".")
		if root == "entity" || root == "id" {
			continue
		}
		if t := info.Type; t != nil && t.Kind == expression.KindObject && len(t.Fields) > 0 {
			if _, ok := t.Fields[root]; !ok {
				errs = append(errs, fmt.Errorf("input %q is not a field of %s; the fields are %s", in.Target, ent, strings.Join(fieldNames(t), ", ")))
				continue
			}
		}
		if vals, ok := info.Enums[root]; ok && root == in.Target {
			if lit, ok := literalOf(in); ok && !slices.Contains(vals, lit) {
				errs = append(errs, fmt.Errorf("input %q is %q, which is not a value of the enum field %s.%s (%s)", in.Target, lit, ent, root, strings.Join(vals, ", ")))
			}
		}
	}
	return errs
}

// ResultOf is the record type of the entity, when known.
func (r recordTask) ResultOf(t Task, env Env) *expression.Type {
	_, info, _ := entityOf(t, env)
	if info == nil {
		return nil
	}
	return info.Type
}

// entityOf resolves a task's static entity against env: the name, what env knows of it (nil when the
// entity is computed at run time or env cannot tell) and an error when env does not know it.
func entityOf(t Task, env Env) (string, *Entity, []error) {
	ent, ok := t.Static("entity")
	if !ok || ent == "" || env.Entity == nil {
		return ent, nil, nil
	}
	info, ok := env.Entity(ent)
	if !ok {
		return ent, nil, []error{fmt.Errorf("entity %q does not exist; create its schema first or name an existing entity", ent)}
	}
	return ent, &info, nil
}

func fieldNames(t *expression.Type) []string {
	out := make([]string, 0, len(t.Fields))
	for n := range t.Fields {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// recordFind is record.find.
type recordFind struct{}

func (recordFind) TaskType() Info {
	return Info{ID: RecordFind, Title: "Find records",
		Doc: "Lists the records of the entity matching a filter of the query language ($name parameters are bound to inputs); the result is {records, count, more}.",
		Headers: []Param{entityParam,
			{Name: "filter", Type: "string", Input: true, Doc: "a filter of the query language, e.g. status == \"open\""},
			{Name: "sort", Type: "string", Input: true, Doc: "fields to sort by, e.g. -updatedAt"},
			{Name: "limit", Type: "int", Input: true, Doc: "at most this many records (default 100)"}},
		FreeInputs: true,
		Result:     expression.ObjectOf(map[string]*expression.Type{"records": expression.ListOf(nil), "count": intType, "more": boolType})}
}

// Validate checks the entity exists.
func (recordFind) Validate(t Task, env Env) []error {
	_, _, errs := entityOf(t, env)
	return errs
}

// ResultOf types the records as the entity's.
func (recordFind) ResultOf(t Task, env Env) *expression.Type {
	_, info, _ := entityOf(t, env)
	if info == nil {
		return nil
	}
	return expression.ObjectOf(map[string]*expression.Type{"records": expression.ListOf(info.Type), "count": intType, "more": boolType})
}

// rulesTask is rules.evaluate (and business rule tasks).
type rulesTask struct{}

func (rulesTask) TaskType() Info {
	return Info{ID: RulesEvaluate, Title: "Evaluate a rule set",
		Doc: "Evaluates a published rule set on the record given by the inputs (the record's fields, or recordId alone to read the stored record); " +
			"the result's shape depends on the rule set's kind (see RulesetResult).",
		Headers: []Param{{Name: "ruleset", Type: "string", Required: true, Doc: "the rule set's key"},
			{Name: "version", Type: "int", Doc: "a published version; empty is the latest"}},
		Inputs:     []Param{{Name: "recordId", Type: "string", Doc: "the ID of the stored record to evaluate (alone)"}},
		FreeInputs: true}
}

// Validate checks the rule set exists.
func (rulesTask) Validate(t Task, env Env) []error {
	key, ok := t.Static("ruleset")
	if !ok || key == "" || env.Ruleset == nil {
		return nil
	}
	if _, ok := env.Ruleset(key); !ok {
		return []error{fmt.Errorf("rule set %q does not exist; create and publish it first or name an existing one", key)}
	}
	return nil
}

// ResultOf is the shape of the rule set's kind.
func (rulesTask) ResultOf(t Task, env Env) *expression.Type {
	key, ok := t.Static("ruleset")
	if !ok || env.Ruleset == nil {
		return nil
	}
	rs, ok := env.Ruleset(key)
	if !ok {
		return nil
	}
	return RulesetResult(rs.Kind)
}

// RulesetResult is the shape of what a rule set of the given kind returns (engine/rules
// Outcome.Result): validation {valid, messages}, computed {values}, scoring {score, fired}, decision
// {outcome, matched}, decision_table {output, rows}, assignment {route, queue, team, assignee}, sla
// {target, responseDue, resolutionDue}; nil for an unknown kind.
func RulesetResult(kind string) *expression.Type {
	names := expression.ListOf(stringType)
	switch kind {
	case "validation":
		return expression.ObjectOf(map[string]*expression.Type{"valid": boolType, "messages": names})
	case "computed":
		return expression.ObjectOf(map[string]*expression.Type{"values": anyType})
	case "scoring":
		return expression.ObjectOf(map[string]*expression.Type{"score": floatType, "fired": names})
	case "decision":
		return expression.ObjectOf(map[string]*expression.Type{"outcome": anyType, "matched": names})
	case "decision_table":
		return expression.ObjectOf(map[string]*expression.Type{"output": anyType, "rows": expression.ListOf(nil)})
	case "assignment":
		return expression.ObjectOf(map[string]*expression.Type{"route": stringType, "queue": stringType, "team": stringType, "assignee": stringType})
	case "sla":
		return expression.ObjectOf(map[string]*expression.Type{"target": stringType, "responseDue": stringType, "resolutionDue": stringType})
	}
	return nil
}

// taskCreate is task.create.
type taskCreate struct{}

func (taskCreate) TaskType() Info {
	return Info{ID: TaskCreate, Title: "Create a task for a person",
		Doc: "Creates a Task record (the inputs are its fields: title, kind, dueAt, assignee, related...); the result is the record.",
		Headers: []Param{{Name: "title", Type: "string", Input: true, Doc: "the task's title"},
			{Name: "kind", Type: "string", Input: true, Doc: "the kind of task, e.g. call"}},
		FreeInputs: true}
}

// notifyTask is notify.
type notifyTask struct{}

func (notifyTask) TaskType() Info {
	return Info{ID: Notify, Title: "Notify a user",
		Doc: "Sends an in-app notification to a user; the other inputs are the template's data.",
		Headers: []Param{{Name: "to", Type: "string", Input: true, Doc: "the user's ID (without it the task fails with the BPMN error VALIDATION, which a boundary event may catch)"},
			{Name: "template", Type: "string", Doc: "the notification template"}},
		FreeInputs: true}
}

// httpTask is http (and Camunda's REST connector).
type httpTask struct{}

func (httpTask) TaskType() Info {
	return Info{ID: HTTP, Title: "Call an HTTP endpoint",
		Doc: "Calls a URL the outbound policy allows; 5xx answers and network errors are retried, 4xx answers are results. " +
			"Camunda's REST connector (io.camunda:http-json:1) runs as this type with the same inputs.",
		Headers: []Param{{Name: "url", Type: "string", Input: true, Doc: "the URL (without it the task fails with the BPMN error CONFIG, which a boundary event may catch)"},
			{Name: "method", Type: "string", Input: true, Doc: "GET (default), POST when there is a body, or any method"},
			{Name: "timeout", Type: "string", Doc: "the call's timeout (ISO 8601 or Go duration, default 30s)"}},
		Inputs: []Param{{Name: "body", Type: "any", Doc: "sent as JSON"},
			{Name: "headers", Type: "object", Doc: "request headers"},
			{Name: "queryParameters", Type: "object", Doc: "added to the URL's query"},
			{Name: "authentication", Type: "object", Doc: "type noAuth, basic (username, password) or bearer (token)"},
			{Name: "connectionTimeoutInSeconds", Type: "int", Doc: "the call's timeout in seconds"},
			{Name: "readTimeoutInSeconds", Type: "int", Doc: "the call's timeout in seconds"}},
		Result: expression.ObjectOf(map[string]*expression.Type{"status": intType, "body": anyType, "headers": anyType})}
}

// Validate refuses what the http handler cannot do: an authentication type other than noAuth, basic
// and bearer, and a timeout that is not a number.
func (httpTask) Validate(t Task, _ Env) []error {
	var errs []error
	if v, ok := t.Static("authentication.type"); ok {
		switch v {
		case "noAuth", "basic", "bearer":
		default:
			errs = append(errs, fmt.Errorf("authentication type %q is not supported; use noAuth, basic or bearer (or an Authorization header)", v))
		}
	}
	for _, name := range []string{"connectionTimeoutInSeconds", "readTimeoutInSeconds"} {
		if v, ok := t.Static(name); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("input %q is %q; want a positive whole number of seconds", name, v))
			}
		}
	}
	return errs
}

// connectorTask is connector.
type connectorTask struct{}

func (connectorTask) TaskType() Info {
	return Info{ID: Connector, Title: "Call a connector",
		Doc: "Calls an operation of a configured connector (an ERP plugin instance) with the inputs as its request; the result is the plugin's answer.",
		Headers: []Param{{Name: "connector", Type: "string", Required: true, Doc: "the name of a configured connector"},
			{Name: "operation", Type: "string", Required: true, Doc: "the operation, e.g. FindCustomers"}},
		FreeInputs: true}
}

// Validate warns when the connector is not configured (yet): it may be configured after the process
// is deployed, so this is no refusal; until then an instance reaching the task gets an incident.
func (connectorTask) Validate(t Task, env Env) []error {
	name, ok := t.Header("connector")
	if !ok || name == "" || env.Connector == nil || env.Connector(name) {
		return nil
	}
	return []error{Warnf("connector %q is not configured yet; configure it under /api/v1/connectors before an instance reaches this task (until then the task stops with an incident), or name an existing one", name)}
}

// messagePublish is what message throw events run.
type messagePublish struct{}

func (messagePublish) TaskType() Info {
	return Info{ID: MessagePublish, Title: "Publish a message", Internal: true,
		Doc: "Publishes a BPMN message (message throw events); the inputs are its variables.",
		Headers: []Param{{Name: "message", Type: "string", Required: true, Doc: "the message name"},
			{Name: "correlationKey", Type: "string", Doc: "the correlation key"}},
		FreeInputs: true}
}
