package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/workflows/instances"
	"github.com/rapportcrm/rapport/workflows/process"
)

// The process monitor: the instance list (from Temporal visibility), the process card and the
// operations a process owner performs on a running instance. Handlers decode, authorise and map errors;
// workflows/instances does the work. Every operation needs instances.operate and ownership of the
// instance's process (definitions.Definition.OperableBy), a reason, and leaves an audit entry with the
// instance before and after.

type listInstancesInput struct {
	ProcessKey    string    `query:"processKey" maxLength:"255" doc:"Only instances of this process."`
	Version       int       `query:"version" minimum:"0" doc:"Only instances of this version (needs processKey)."`
	State         string    `query:"state" maxLength:"200" doc:"Comma-separated states: running, waiting, suspended, incident, completed, cancelled, terminated, failed."`
	Element       string    `query:"element" maxLength:"255" doc:"Only instances with a token at this element ID."`
	Assignee      string    `query:"assignee" maxLength:"255" doc:"Only instances with an open user task assigned or offered to this user."`
	Group         string    `query:"group" maxLength:"255" doc:"Only instances with an open user task offered to this candidate group."`
	BusinessKey   string    `query:"businessKey" maxLength:"255"`
	Entity        string    `query:"entity" maxLength:"100" doc:"Only instances bound to a record of this entity."`
	Record        string    `query:"record" maxLength:"100" doc:"Only instances bound to this record (needs entity)."`
	StartedAfter  time.Time `query:"startedAfter" doc:"Started at or after (RFC 3339)."`
	StartedBefore time.Time `query:"startedBefore" doc:"Started before (RFC 3339)."`
	EndedAfter    time.Time `query:"endedAfter" doc:"Ended at or after (RFC 3339)."`
	EndedBefore   time.Time `query:"endedBefore" doc:"Ended before (RFC 3339)."`
	Incident      string    `query:"incident" maxLength:"255" doc:"Words of an open incident's element, type or message."`
	Parent        string    `query:"parent" maxLength:"300" doc:"Only the instances the call activities of this instance started (its children)."`
	Limit         int       `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
	Cursor        string    `query:"cursor" maxLength:"4000" doc:"The next value of the previous page."`
	Counts        bool      `query:"counts" doc:"Also count the filter's instances per state and, with processKey and version, per active element (needs instances.operate)."`
}

// InstanceList is a page of instances, with counts when asked for.
type InstanceList struct {
	instances.Page
	Counts *instances.Counts `json:"counts,omitempty"`
}

type instanceOutcome struct {
	Body instances.Outcome
}

// reasonBody is the body of the operations that need nothing but a reason.
type reasonBody struct {
	Reason string `json:"reason" minLength:"1" maxLength:"1000" doc:"Why; recorded in the timeline and the audit log."`
}

type variablesBody struct {
	Reason    string         `json:"reason" minLength:"1" maxLength:"1000"`
	Variables map[string]any `json:"variables" doc:"Variables to set, checked against the declared types; timers and correlation keys computed from them are computed again."`
}

type retryBody struct {
	Reason     string         `json:"reason" minLength:"1" maxLength:"1000"`
	IncidentID int            `json:"incidentId,omitempty" minimum:"0" doc:"The incident to retry; 0 retries every open incident (at element when given)."`
	Element    string         `json:"element,omitempty" maxLength:"255"`
	Variables  map[string]any `json:"variables,omitempty" doc:"Variables to set before the retry."`
	Inputs     map[string]any `json:"inputs,omitempty" doc:"Replace the failed task's input for the retry."`
}

type skipBody struct {
	Reason     string         `json:"reason" minLength:"1" maxLength:"1000"`
	IncidentID int            `json:"incidentId,omitempty" minimum:"0"`
	Element    string         `json:"element,omitempty" maxLength:"255"`
	Output     map[string]any `json:"output,omitempty" doc:"What the skipped task is taken to have returned."`
}

type moveBody struct {
	Reason   string               `json:"reason" minLength:"1" maxLength:"1000"`
	Cancel   []string             `json:"cancel,omitempty" maxItems:"100" doc:"Element IDs whose tokens are cancelled."`
	Activate []process.MoveTarget `json:"activate,omitempty" maxItems:"100" doc:"Elements to activate."`
}

type migrateBody struct {
	Reason    string            `json:"reason" minLength:"1" maxLength:"1000"`
	ToVersion int               `json:"toVersion" minimum:"1" doc:"The published version to migrate to."`
	Mapping   map[string]string `json:"mapping,omitempty" doc:"Element ID in the instance's version -> element ID in the target; unmapped elements keep their ID."`
}

type correlateBody struct {
	Reason     string                 `json:"reason" minLength:"1" maxLength:"1000"`
	Message    process.MessageRequest `json:"message"`
	OnBehalfOf string                 `json:"onBehalfOf,omitempty" maxLength:"255" doc:"Who the message is delivered for (a user ID, or a name for someone outside Rapport); recorded in the timeline and the audit log."`
}

type completeOnBehalfBody struct {
	Reason     string         `json:"reason" minLength:"1" maxLength:"1000"`
	TaskID     string         `json:"taskId,omitempty" maxLength:"300" doc:"The task's ID in the instance (userTasks[].id on the card); or name the element whose open tasks are meant."`
	Element    string         `json:"element,omitempty" maxLength:"255"`
	OnBehalfOf string         `json:"onBehalfOf,omitempty" maxLength:"255" doc:"Whose task it is (a user ID); the task's assignee when left out."`
	Variables  map[string]any `json:"variables,omitempty" doc:"The form's values, checked as for the assignee's own completion."`
}

// operationInput is an operation on the instance the path names. IDs hold ':' and '/' (a call
// activity's child is <parent>/<element>/<n>): clients percent-encode them, and the handlers decode
// the path segment (pathInstanceID), which the router leaves encoded.
type operationInput[B any] struct {
	ID   string `path:"id" maxLength:"900" doc:"The instance ID, percent-encoded."`
	Body B
}

type previewInput struct {
	ID   string `path:"id" maxLength:"900" doc:"The instance ID, percent-encoded."`
	Body struct {
		ToVersion int               `json:"toVersion" minimum:"1"`
		Mapping   map[string]string `json:"mapping,omitempty"`
	}
}

func (s *Server) registerInstances() {
	tags := []string{"instances"}
	Register(s, huma.Operation{OperationID: "list-instances", Method: http.MethodGet, Path: "/api/v1/instances", Tags: tags,
		Summary: "Find process instances",
		Description: "One page of the instances a filter selects, newest first, from Temporal visibility (one visibility query per page). " +
			"Instances bound to records the caller may not read are left out unless the caller operates instances."},
		Access{Permission: access.InstancesRead}, s.listInstances)
	Register(s, huma.Operation{OperationID: "get-instance", Method: http.MethodGet, Path: "/api/v1/instances/{id}", Tags: tags,
		Summary: "The process card",
		Description: "Where the instance stands in element IDs (tokens, waiting timers, message subscriptions, open user tasks), its variables with their declared types, " +
			"incidents with their cause, the timeline with who and why, parent and children. An instance started from a record is visible only to callers who may read that record " +
			"(or operate instances); fields hidden from the caller are removed from every record value in the variables. An instance the caller may not see answers 404."},
		Access{Permission: access.InstancesRead}, s.instanceCard)
	registerOperation(s, instances.OpSuspend, "suspend", "Suspend an instance",
		"No element is entered while suspended; timers that come due are held and fire on resume (due times do not shift), task completions are refused, messages are buffered.",
		func(b *reasonBody) instances.Operation { return instances.Operation{Reason: b.Reason} })
	registerOperation(s, instances.OpResume, "resume", "Resume a suspended instance", "Held timers fire and buffered messages are delivered.",
		func(b *reasonBody) instances.Operation { return instances.Operation{Reason: b.Reason} })
	registerOperation(s, instances.OpCancel, "cancel", "Cancel an instance",
		"BPMN cleanup runs: the open Task records the instance created are closed, its child instances cancelled; it ends as cancelled.",
		func(b *reasonBody) instances.Operation { return instances.Operation{Reason: b.Reason} })
	registerOperation(s, instances.OpTerminate, "terminate", "Terminate an instance",
		"Ends the instance (and its children) at once, without cleanup: for an instance that is broken.",
		func(b *reasonBody) instances.Operation { return instances.Operation{Reason: b.Reason} })
	registerOperation(s, instances.OpSetVariables, "variables", "Change variables",
		"Sets variables, typed against the declared variables (a wrong type is refused naming the variable). The answer lists the timers and correlation keys computed again, and those that could not be.",
		func(b *variablesBody) instances.Operation {
			return instances.Operation{Reason: b.Reason, Variables: b.Variables}
		})
	registerOperation(s, instances.OpRetry, "retry", "Retry an incident",
		"Resolves the incident and runs its element again, optionally with changed variables or task input.",
		func(b *retryBody) instances.Operation {
			return instances.Operation{Reason: b.Reason, IncidentID: b.IncidentID, Element: b.Element, Variables: b.Variables, Inputs: b.Inputs}
		})
	registerOperation(s, instances.OpSkip, "skip", "Skip a failed task",
		"Resolves the incident as if the task had returned the given output (for when the external system was fixed by hand).",
		func(b *skipBody) instances.Operation {
			return instances.Operation{Reason: b.Reason, IncidentID: b.IncidentID, Element: b.Element, Output: b.Output}
		})
	registerOperation(s, instances.OpMove, "move", "Move tokens",
		"Cancels the tokens at the cancel elements and activates the activate elements (same or nested scope); refused with the reason when the target is not reachable.",
		func(b *moveBody) instances.Operation {
			return instances.Operation{Reason: b.Reason, Cancel: b.Cancel, Activate: b.Activate}
		})
	registerOperation(s, instances.OpMigrate, "migrate", "Migrate to another version",
		"Moves the instance to another published version of its process, by element ID (or the mapping given); refused with what blocks it. See migration-preview.",
		func(b *migrateBody) instances.Operation {
			return instances.Operation{Reason: b.Reason, ToVersion: b.ToVersion, Mapping: b.Mapping}
		})
	registerOperation(s, instances.OpCorrelate, "correlate", "Deliver a message on someone's behalf",
		"Delivers a message to the element of this instance waiting for it. The timeline entry names the operator and, in its reason, on whose behalf; the audit entry names both.",
		func(b *correlateBody) instances.Operation {
			return instances.Operation{Reason: b.Reason, Message: &b.Message, OnBehalfOf: b.OnBehalfOf}
		})
	registerOperation(s, instances.OpComplete, "complete-task", "Complete a user task on someone's behalf",
		"Completes an open user task of the instance for the person it belongs to (onBehalfOf, by default its assignee), with the form's values, checked as for their own completion. "+
			"The timeline's completion names the operator and, in its reason, on whose behalf; the audit entry names both.",
		func(b *completeOnBehalfBody) instances.Operation {
			return instances.Operation{Reason: b.Reason, TaskID: b.TaskID, Element: b.Element, OnBehalfOf: b.OnBehalfOf, Variables: b.Variables}
		})
	Register(s, huma.Operation{OperationID: "preview-instance-migration", Method: http.MethodPost, Path: "/api/v1/instances/{id}/migration-preview", Tags: tags,
		Summary: "Preview a migration", Description: "Whether the instance can move to the version, the element mapping used and what blocks it; changes nothing."},
		Access{Permission: access.InstancesOperate}, s.previewMigration)
	s.registerBatches()
}

// registerOperation adds the route of one operation kind; conv turns its body into the operation.
func registerOperation[B any](s *Server, kind, path, summary, desc string, conv func(*B) instances.Operation) {
	Register(s, huma.Operation{OperationID: "instance-" + path, Method: http.MethodPost, Path: "/api/v1/instances/{id}/" + path,
		Tags: []string{"instances"}, Summary: summary,
		Description: desc + " Needs instances.operate and ownership of the process; the reason is recorded in the timeline and the audit log. " +
			"An operation the instance's state does not allow is refused (409) and changes nothing."},
		Access{Permission: access.InstancesOperate}, func(ctx context.Context, in *operationInput[B]) (*instanceOutcome, error) {
			id, err := pathInstanceID(in.ID)
			if err != nil {
				return nil, err
			}
			op := conv(&in.Body)
			op.Kind = kind
			out, err := s.operate(ctx, id, op)
			if err != nil {
				return nil, err
			}
			return &instanceOutcome{Body: out}, nil
		})
}

// operableInstance describes an instance the caller may operate: 404 when there is none, 403 when the
// caller does not own its process (definitions.Definition.OperableBy).
func (s *Server) operableInstance(ctx context.Context, id, action string) (instances.Execution, error) {
	ex, err := s.deps.Instances.Describe(ctx, id)
	if err != nil {
		return instances.Execution{}, instanceError(err, id)
	}
	p := PrincipalFrom(ctx)
	d, err := s.deps.Processes.Get(ctx, ex.ProcessKey)
	if err != nil || !d.OperableBy(p.Subject(), func(perm string) bool { return s.allows(p, perm) }) {
		s.record(ctx, audit.Event{Action: "instance." + action, Outcome: audit.OutcomeDenied,
			Target: audit.Target{Type: "instance", ID: id}, Details: map[string]any{"process": ex.ProcessKey}})
		return instances.Execution{}, Typed(http.StatusForbidden, "not-an-owner",
			"only the owners of process "+ex.ProcessKey+" (and administrators) operate its instances")
	}
	return ex, nil
}

// operate applies an operation for the caller and audits it with the instance before and after.
func (s *Server) operate(ctx context.Context, id string, op instances.Operation) (instances.Outcome, error) {
	if _, err := s.operableInstance(ctx, id, op.Kind); err != nil {
		return instances.Outcome{}, err
	}
	op.By = PrincipalFrom(ctx).User.ID
	out, err := s.deps.Instances.Apply(ctx, id, op)
	hidden, herr := s.hiddenAnywhere(ctx)
	if herr != nil {
		return instances.Outcome{}, herr
	}
	stripOutcome(&out, hidden)
	if err != nil {
		var refused *instances.Refused
		if errors.As(err, &refused) {
			s.record(ctx, audit.Event{Action: "instance." + op.Kind, Outcome: audit.OutcomeFailure, Reason: op.Reason,
				Target: audit.Target{Type: "instance", ID: id}, Details: map[string]any{"refused": refused.Msg}})
		}
		return instances.Outcome{}, instanceError(err, id)
	}
	details := map[string]any{}
	if out.Result != nil {
		details["result"] = out.Result
	}
	if out.OnBehalfOf != "" {
		details["onBehalfOf"] = out.OnBehalfOf
	}
	s.record(ctx, audit.Event{Action: "instance." + op.Kind, Outcome: audit.OutcomeSuccess, Reason: op.Reason,
		Target: audit.Target{Type: "instance", ID: id}, Before: out.Before, After: out.After, Details: details})
	return out, nil
}

// stripOutcome removes hidden fields from every record value an outcome carries.
func stripOutcome(out *instances.Outcome, hidden map[string]bool) {
	for _, m := range []map[string]any{out.Before.Variables, out.After.Variables} {
		for k, v := range m {
			m[k] = stripRecords(v, hidden)
		}
	}
	if r, ok := out.Result.(process.SetVariablesResult); ok {
		for k, v := range r.Before {
			r.Before[k] = stripRecords(v, hidden)
		}
	}
}

// instanceError maps what workflows/instances refuses to problems.
func instanceError(err error, id string) error {
	var oe *instances.OperationError
	var fe *instances.FilterError
	var ve *process.VariablesError
	var refused *instances.Refused
	var p *Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, instances.ErrNotFound):
		return NewProblem(http.StatusNotFound, "no instance "+id)
	case errors.As(err, &oe):
		pr := Typed(http.StatusUnprocessableEntity, "operation-invalid", oe.Error())
		pr.Errors = []FieldError{{Pointer: "/" + oe.Field, Message: oe.Msg}}
		return pr
	case errors.As(err, &fe):
		pr := Typed(http.StatusBadRequest, "filter-invalid", fe.Error())
		pr.Errors = []FieldError{{Parameter: fe.Param, Message: fe.Msg}}
		return pr
	case errors.As(err, &ve):
		return variablesProblem("the variables do not match the process's declared variables", ve)
	case errors.As(err, &refused):
		return Typed(http.StatusConflict, "operation-refused", refused.Msg)
	}
	return fmt.Errorf("instance %s: %w", id, err)
}

// variablesProblem is a 422 naming each variable the process's declarations refuse.
func variablesProblem(detail string, ve *process.VariablesError) *Problem {
	p := Typed(http.StatusUnprocessableEntity, "validation", detail)
	for _, vp := range ve.Problems {
		p.Errors = append(p.Errors, FieldError{Pointer: "/variables/" + vp.Name, Message: vp.Reason})
	}
	return p
}

func (s *Server) listInstances(ctx context.Context, in *listInstancesInput) (*struct{ Body InstanceList }, error) {
	f := instances.Filter{ProcessKey: in.ProcessKey, Version: in.Version, Element: in.Element, Assignee: in.Assignee, Group: in.Group,
		BusinessKey: in.BusinessKey, Entity: in.Entity, RecordID: in.Record, StartedAfter: in.StartedAfter, StartedBefore: in.StartedBefore,
		EndedAfter: in.EndedAfter, EndedBefore: in.EndedBefore, Incident: in.Incident, Parent: in.Parent}
	for _, st := range strings.Split(in.State, ",") {
		if st = strings.TrimSpace(st); st != "" {
			f.States = append(f.States, st)
		}
	}
	p := PrincipalFrom(ctx)
	operator := s.allows(p, access.InstancesOperate)
	if in.Counts && !operator {
		return nil, NewProblem(http.StatusForbidden, "counts need the permission "+access.InstancesOperate)
	}
	page, err := s.deps.Instances.List(ctx, f, in.Limit, in.Cursor)
	if err != nil {
		return nil, instanceError(err, "")
	}
	if !operator {
		if page.Items, err = s.readableSummaries(ctx, page.Items); err != nil {
			return nil, err
		}
	}
	out := InstanceList{Page: page}
	if in.Counts {
		var elements []string
		if f.ProcessKey != "" && f.Version > 0 {
			m, _, err := s.deps.Processes.Load(ctx, f.ProcessKey, f.Version)
			if err != nil {
				return nil, processProblem(err)
			}
			for i := range m.Nodes {
				elements = append(elements, m.Nodes[i].ID)
			}
		}
		c, err := s.deps.Instances.Counts(ctx, f, elements)
		if err != nil {
			return nil, instanceError(err, "")
		}
		out.Counts = &c
	}
	return &struct{ Body InstanceList }{Body: out}, nil
}

// readableSummaries drops the instances bound to records the caller may not read (one read by ID per
// bound instance of the page), as readableInstance does for one.
func (s *Server) readableSummaries(ctx context.Context, items []instances.Summary) ([]instances.Summary, error) {
	decisions := map[string]access.Decision{}
	out := items[:0]
	for _, it := range items {
		if it.Entity == "" || it.RecordID == "" {
			out = append(out, it)
			continue
		}
		d, ok := decisions[it.Entity]
		if !ok {
			d = s.recordDecision(ctx, it.Entity)
			decisions[it.Entity] = d
		}
		if !d.Can(access.ActionRead) || s.deps.Records == nil {
			continue
		}
		rec, err := s.deps.Records.Lookup(ctx, it.Entity, it.RecordID)
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("record of instance %s: %w", it.ID, err)
		}
		if d.InScope(access.ActionRead, rec) {
			out = append(out, it)
		}
	}
	return slices.Clip(out), nil
}

// pathInstanceID decodes an instance ID from its (percent-encoded) path segment.
func pathInstanceID(segment string) (string, error) { return pathID(segment, "instance") }

// pathID decodes the ID of a kind of object from its path segment: the router leaves path parameters
// percent-encoded, and instance IDs (and the task IDs that hold them) may contain "/".
func pathID(segment, kind string) (string, error) {
	id, err := url.PathUnescape(segment)
	if err != nil {
		p := Typed(http.StatusBadRequest, "bad-"+kind+"-id", "the "+kind+" ID is not correctly percent-encoded")
		p.Errors = []FieldError{{Parameter: "id", Message: err.Error()}}
		return "", p
	}
	return id, nil
}

func (s *Server) instanceCard(ctx context.Context, in *instanceInput) (*struct{ Body instances.Card }, error) {
	id, err := pathInstanceID(in.ID)
	if err != nil {
		return nil, err
	}
	b, err := s.readableInstance(ctx, id)
	if err != nil {
		return nil, err
	}
	card, err := s.deps.Instances.Card(ctx, id, func(snap *process.Snapshot) error { return s.redactSnapshot(ctx, b, snap) })
	if err != nil {
		return nil, instanceError(err, id)
	}
	return &struct{ Body instances.Card }{Body: card}, nil
}

func (s *Server) previewMigration(ctx context.Context, in *previewInput) (*struct{ Body process.MigrationPlan }, error) {
	id, err := pathInstanceID(in.ID)
	if err != nil {
		return nil, err
	}
	if _, err := s.operableInstance(ctx, id, "migration-preview"); err != nil {
		return nil, err
	}
	plan, err := s.deps.Instances.PreviewMigration(ctx, id, in.Body.ToVersion, in.Body.Mapping)
	if err != nil {
		return nil, instanceError(err, id)
	}
	return &struct{ Body process.MigrationPlan }{Body: plan}, nil
}
