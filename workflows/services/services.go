// Package services connects the interpreter's task types to the rest of Rapport: records through the
// records store (same validation and history as the API), Task records for people, in-app
// notifications, connector plugins and messages. Each adapter turns permanent failures (invalid data,
// missing records, refused ERP requests) into BPMN errors a boundary event can catch, and leaves
// transient ones to Temporal's retries.
package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/connections"
	"github.com/rapportcrm/rapport/engine/notifications"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
)

// BPMN error codes the adapters throw; error boundary events match on them.
const (
	CodeValidation = "VALIDATION"
	CodeNotFound   = "NOT_FOUND"
	CodeDuplicate  = "DUPLICATE"
	CodeConnector  = "CONNECTOR"
)

// callKey identifies one task execution: the same across Temporal's retries of the activity, different
// for another instance or element. It is the idempotency key of creates, so a retry never writes twice.
func callKey(ctx context.Context) (workflowID, key string) {
	if !activity.IsActivity(ctx) {
		return "", ""
	}
	info := activity.GetInfo(ctx)
	return info.WorkflowExecution.ID, info.WorkflowExecution.ID + "/" + info.ActivityID
}

// Records implements process.Records on the records store. With Access set, every call applies the
// run-as identity in its context (see Guard) like the API applies its caller: reads and updates reach
// only records in the identity's scope (others are NOT_FOUND), writes may not touch fields its role
// hides or makes read-only, and records leave without hidden fields. A call without an identity is
// refused then, so nothing reaches records around the guard.
type Records struct {
	Store  *records.Store
	Access *access.Policy
}

var _ process.Records = Records{}

// CodeForbidden is the BPMN error a record task throws when its process may not touch a field.
const CodeForbidden = "FORBIDDEN"

func (r Records) opts(ctx context.Context) records.WriteOptions {
	wf, key := callKey(ctx)
	o := records.WriteOptions{Actor: records.ChangedBy{Process: wf, Via: "process"}, Trusted: true, IdempotencyKey: key}
	if id, ok := IdentityFrom(ctx); ok {
		o.Actor.RunAs = id.RunAs.Principal
	}
	return o
}

// decision is the identity's access decision on entity: nil (no checks) for Records without Access,
// an error when Access applies and the context carries no identity.
func (r Records) decision(ctx context.Context, entity string) (*access.Decision, error) {
	if r.Access == nil {
		return nil, nil
	}
	id, ok := IdentityFrom(ctx)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError("a record task ran without its process's identity", ErrorTypePermission, nil)
	}
	d := r.Access.Decide(id.Subject, entity)
	return &d, nil
}

// checkWrite refuses fields the identity may not write as a BPMN error naming them.
func checkWrite(d *access.Decision, fields map[string]any) error {
	if d == nil {
		return nil
	}
	if err := d.CheckWrite(fields); err != nil {
		return &process.BPMNError{Code: CodeForbidden, Message: err.Error()}
	}
	return nil
}

func strip(d *access.Decision, rec map[string]any) map[string]any {
	if d == nil || rec == nil {
		return rec
	}
	return d.Strip(rec)
}

// Create creates a record of entity.
func (r Records) Create(ctx context.Context, entity string, fields map[string]any) (map[string]any, error) {
	d, err := r.decision(ctx, entity)
	if err != nil {
		return nil, err
	}
	if err := checkWrite(d, fields); err != nil {
		return nil, err
	}
	res, err := r.Store.Create(ctx, entity, fields, r.opts(ctx))
	if err != nil {
		return nil, recordError(err)
	}
	return strip(d, res.Record), nil
}

// Update merges fields into a record in the identity's scope.
func (r Records) Update(ctx context.Context, entity, id string, fields map[string]any) (map[string]any, error) {
	d, err := r.decision(ctx, entity)
	if err != nil {
		return nil, err
	}
	if err := checkWrite(d, fields); err != nil {
		return nil, err
	}
	o := r.opts(ctx)
	o.IdempotencyKey = ""
	if d != nil {
		o.Access = func(e string) access.Decision {
			if e == entity {
				return *d
			}
			id, _ := IdentityFrom(ctx)
			return r.Access.Decide(id.Subject, e)
		}
	}
	rec, err := r.Store.Patch(ctx, entity, id, fields, o)
	if err != nil {
		return nil, recordError(err)
	}
	return strip(d, rec), nil
}

// Get reads a record in the identity's scope.
func (r Records) Get(ctx context.Context, entity, id string) (map[string]any, error) {
	d, err := r.decision(ctx, entity)
	if err != nil {
		return nil, err
	}
	rec, err := r.Store.Get(ctx, entity, id)
	if err != nil {
		return nil, recordError(err)
	}
	if d != nil && !d.InScope(access.ActionRead, rec) {
		return nil, &process.BPMNError{Code: CodeNotFound, Message: fmt.Sprintf("%s %q: %v", entity, id, records.ErrNotFound)}
	}
	return strip(d, rec), nil
}

// recordError makes data errors BPMN errors (retrying cannot fix them) and keeps the rest retryable.
func recordError(err error) error {
	var ve *records.ValidationError
	var de *records.DuplicateError
	switch {
	case errors.As(err, &ve):
		msgs := make([]string, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			msgs = append(msgs, p.Pointer+": "+p.Message)
		}
		return &process.BPMNError{Code: CodeValidation, Message: strings.Join(msgs, "; ")}
	case errors.As(err, &de):
		return &process.BPMNError{Code: CodeDuplicate, Message: err.Error()}
	case errors.Is(err, records.ErrNotFound):
		return &process.BPMNError{Code: CodeNotFound, Message: err.Error()}
	}
	return err
}

// Tasks implements process.TaskList: a task.create step creates a Task record for a person.
type Tasks struct{ Records Records }

// CreateTask creates a Task record from the task's inputs (title, kind, dueAt, assignee, related...).
func (t Tasks) CreateTask(ctx context.Context, req process.TaskRequest) (map[string]any, error) {
	fields := map[string]any{}
	for k, v := range req.Inputs {
		fields[k] = v
	}
	if _, ok := fields["title"]; !ok && req.Headers["title"] != "" {
		fields["title"] = req.Headers["title"]
	}
	if _, ok := fields["kind"]; !ok && req.Headers["kind"] != "" {
		fields["kind"] = req.Headers["kind"]
	}
	return t.Records.Create(ctx, "task", fields)
}

// Connectors implements process.Connectors through the plugin host.
type Connectors struct{ Resolver connections.Resolver }

// Call runs a connector operation with the task's inputs as its request: a fixed method (FindCustomers,
// inputs named like its request's fields) or an operation the plugin describes (prices.quote, inputs
// checked against its input schema). The task's key, the same across retries, is CreateSalesOrder's
// idempotency key and an operation's, so a retry after a crash never creates a second ERP order. An
// operation's output is the task's result; one that is not a JSON object is result.value.
func (c Connectors) Call(ctx context.Context, name, operation string, input map[string]any) (map[string]any, error) {
	if name == "" || operation == "" {
		return nil, &process.BPMNError{Code: CodeConnector, Message: "a connector task needs the connector and operation headers"}
	}
	in, err := c.Resolver.Instance(ctx, name)
	if err != nil {
		if errors.Is(err, connections.ErrUnknown) {
			return nil, &process.BPMNError{Code: CodeConnector, Message: err.Error()}
		}
		return nil, err
	}
	if input == nil {
		input = map[string]any{}
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return nil, &process.BPMNError{Code: CodeConnector, Message: "inputs are not JSON: " + err.Error()}
	}
	_, key := callKey(ctx)
	resp, err := host.CallWithKey(ctx, in, operation, raw, key)
	if err != nil {
		if connector.IsRetryable(err) {
			return nil, fmt.Errorf("connector %s %s: %w", name, operation, err)
		}
		return nil, &process.BPMNError{Code: strings.ToUpper(strings.ReplaceAll(connector.KindOf(err).String(), " ", "_")), Message: err.Error()}
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("connector %s %s: encode response: %w", name, operation, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("connector %s %s: decode response: %w", name, operation, err)
	}
	if obj, ok := out.(map[string]any); ok {
		return obj, nil
	}
	return map[string]any{"value": out}, nil
}

// CheckTask validates a connector task when its process is deployed (bpmn.Options.CheckTask): the plugin
// of the connector it names must offer the operation, and its inputs must fit the operation's request.
// A connector that is not configured yet cannot be checked (its plugin is unknown): it passes, and a run
// that reaches it before it is configured fails with a CONNECTOR error. Other task types pass.
func (c Connectors) CheckTask(taskType string, headers []bpmn.Header, inputs []bpmn.Mapping) error {
	if taskType != "connector" {
		return nil
	}
	var name, operation string
	for _, h := range headers {
		switch h.Key {
		case "connector":
			name = h.Value
		case "operation":
			operation = h.Value
		}
	}
	if name == "" || operation == "" {
		return errors.New("the connector and operation headers are required")
	}
	if c.Resolver.Host == nil || c.Resolver.Store == nil {
		return nil // this server runs no plugins; the workers check when they run the task
	}
	// Deploying is not a process: the check has its own bound, and the plugin's description is cached.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, found, err := c.Resolver.Store.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("connector %q: %w", name, err)
	}
	if !found {
		return nil
	}
	names := make([]string, 0, len(inputs))
	for _, m := range inputs {
		names = append(names, m.Target)
	}
	if err := c.Resolver.Host.CheckOperation(ctx, st.Plugin, operation, names); err != nil {
		return fmt.Errorf("connector %q: %w", name, err)
	}
	return nil
}

// Messages implements process.Messages with the shared publisher.
type Messages struct{ Publisher *messages.Publisher }

// Publish delivers a thrown message. Its ID is the task execution's, so a retried throw never starts a
// second instance.
func (m Messages) Publish(ctx context.Context, name, correlationKey string, vars map[string]any) error {
	_, key := callKey(ctx)
	_, err := m.Publisher.Publish(ctx, messages.Message{Name: name, CorrelationKey: correlationKey, Variables: vars, ID: key})
	return err
}

// Rules implements process.Rules on the published rule sets.
type Rules struct {
	Rulesets *rulesets.Store
	// Records reads the record of a recordId input, in the process identity's scope and without the
	// fields it may not see, as a record.get task would.
	Records Records
}

// Evaluate runs a published rule set (the latest unless version names one). The input is the record to
// evaluate, or, when it holds only a recordId, the stored record of the rule set's entity. Rules see the
// time the task was scheduled by the workflow as `now`, never the clock of the worker.
func (r Rules) Evaluate(ctx context.Context, key, version string, input map[string]any) (map[string]any, error) {
	n := 0
	if version != "" && version != "latest" {
		v, err := strconv.Atoi(version)
		if err != nil {
			return nil, &process.BPMNError{Code: CodeValidation, Message: fmt.Sprintf("rule set version %q is not a number", version)}
		}
		n = v
	}
	compiled, _, err := r.Rulesets.Published(ctx, key, n)
	if err != nil {
		if errors.Is(err, rulesets.ErrNotFound) || errors.Is(err, rulesets.ErrNotPublished) || errors.Is(err, rulesets.ErrArchived) {
			return nil, &process.BPMNError{Code: CodeNotFound, Message: err.Error()}
		}
		return nil, err
	}
	record := input
	if id, ok := input["recordId"].(string); ok && len(input) == 1 {
		ver := "latest"
		if n > 0 {
			ver = strconv.Itoa(n)
		}
		rs, err := r.Rulesets.Resolve(ctx, key, ver)
		if err != nil {
			return nil, err
		}
		// The record is read with the run-as role's scope and field rules. The process's listed
		// requirements name rulesets.evaluate, not the entity (known only from the rule set), so the
		// role's own permission to read the entity decides, not the requirement list.
		rctx := ctx
		if who, ok := IdentityFrom(ctx); ok {
			who.Subject.Scopes = nil
			rctx = WithIdentity(ctx, who)
		}
		if record, err = r.Records.Get(rctx, rs.Entity, id); err != nil {
			return nil, err
		}
	}
	now := time.Now() // ok: activity — replaced by the scheduled time below when run as an activity
	if activity.IsActivity(ctx) {
		now = activity.GetInfo(ctx).ScheduledTime
	}
	out, err := compiled.Evaluate(record, now)
	if err != nil {
		return nil, &process.BPMNError{Code: CodeValidation, Message: err.Error()}
	}
	return out.Result(), nil
}

// Notifier implements process.Notifier with in-app notifications.
type Notifier struct{ Store *notifications.Store }

// Notify stores a notification for a user, once per task execution.
func (n Notifier) Notify(ctx context.Context, to, template string, data map[string]any) error {
	if to == "" {
		return &process.BPMNError{Code: CodeValidation, Message: "a notify task needs a recipient (input or header \"to\")"}
	}
	wf, key := callKey(ctx)
	return n.Store.Send(ctx, key, to, template, wf, data)
}
