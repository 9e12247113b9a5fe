// Package instances is how Rapport sees and steers running process instances from the outside: listing
// them from Temporal visibility (search attributes, one visibility query per page), the process card
// (state, timeline, incidents, parent and children), and the operations of issue 15 — each a Temporal
// update on the interpreter workflow (workflows/process), whose validator refuses what the instance's
// state does not allow before anything reaches its history. The API and bulk jobs both apply
// operations through Service.Apply.
package instances

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
)

// States an instance can be listed by. Running, waiting, suspended and incident are the interpreter's
// RapportState of an open instance; completed and cancelled how it ended; terminated and failed how
// Temporal closed it.
var States = []string{process.StateRunning, process.StateWaiting, process.StateSuspended, process.StateIncident,
	process.StateCompleted, process.StateCancelled, process.StateTerminated, process.StateFailed}

// stateQuery is the visibility condition of a state.
func stateQuery(state string) (string, bool) {
	switch state {
	case process.StateRunning, process.StateWaiting, process.StateSuspended, process.StateIncident:
		return fmt.Sprintf("(ExecutionStatus = 'Running' AND RapportState = '%s')", state), true
	case process.StateCompleted:
		return "(ExecutionStatus = 'Completed' AND RapportState = 'completed')", true
	case process.StateCancelled:
		return "(ExecutionStatus = 'Canceled' OR (ExecutionStatus = 'Completed' AND RapportState = 'cancelled'))", true
	case process.StateTerminated:
		return "ExecutionStatus = 'Terminated'", true
	case process.StateFailed:
		return "(ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut')", true
	}
	return "", false
}

// Filter selects instances; every field set narrows the list (states are alternatives).
type Filter struct {
	ProcessKey  string   `json:"processKey,omitempty" maxLength:"255"`
	Version     int      `json:"version,omitempty" minimum:"0"`
	States      []string `json:"states,omitempty" maxItems:"8" doc:"running, waiting, suspended, incident, completed, cancelled, terminated, failed."`
	Element     string   `json:"element,omitempty" maxLength:"255"`
	Assignee    string   `json:"assignee,omitempty" maxLength:"255"`
	Group       string   `json:"group,omitempty" maxLength:"255"`
	BusinessKey string   `json:"businessKey,omitempty" maxLength:"255"`
	Entity      string   `json:"entity,omitempty" maxLength:"100"`
	RecordID    string   `json:"recordId,omitempty" maxLength:"100"`
	// StartedAfter .. EndedBefore bound the start and end times (inclusive after, exclusive before).
	StartedAfter  time.Time `json:"startedAfter,omitzero"`
	StartedBefore time.Time `json:"startedBefore,omitzero"`
	EndedAfter    time.Time `json:"endedAfter,omitzero"`
	EndedBefore   time.Time `json:"endedBefore,omitzero"`
	// Incident matches words of the open incidents' text (element, type and message).
	Incident string `json:"incident,omitempty" maxLength:"255"`
	// Parent lists the instances a call activity of this instance started.
	Parent string `json:"parent,omitempty" maxLength:"300"`
	// IDs narrows the filter to these instances (a selection in the monitor's list).
	IDs []string `json:"ids,omitempty" maxItems:"200" doc:"Only these instance IDs (a selection); the other conditions still apply."`
}

// FilterError is a filter value that cannot be used, naming the parameter.
type FilterError struct {
	Param string
	Msg   string
}

func (e *FilterError) Error() string { return e.Param + ": " + e.Msg }

// Query is the visibility query of a filter: process instances only, every condition joined by AND.
func (f Filter) Query() (string, error) {
	conds := []string{"WorkflowType = '" + process.WorkflowName + "'", "RapportProcessKey IS NOT NULL"}
	eq := func(attr, v string) {
		if v != "" {
			conds = append(conds, attr+" = "+messages.Quote(v))
		}
	}
	eq("RapportProcessKey", f.ProcessKey)
	if f.Version < 0 {
		return "", &FilterError{Param: "version", Msg: "must not be negative"}
	}
	if f.Version > 0 {
		if f.ProcessKey == "" {
			return "", &FilterError{Param: "version", Msg: "a version needs the process key"}
		}
		conds = append(conds, fmt.Sprintf("RapportProcessVersion = %d", f.Version))
	}
	if len(f.States) > 0 {
		var alts []string
		for _, s := range f.States {
			q, ok := stateQuery(s)
			if !ok {
				return "", &FilterError{Param: "state", Msg: fmt.Sprintf("%q is not one of %s", s, strings.Join(States, ", "))}
			}
			alts = append(alts, q)
		}
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	eq("RapportActiveElements", f.Element)
	if f.Assignee != "" {
		conds = append(conds, "RapportAssignees IN ("+messages.Quote(f.Assignee)+", "+messages.Quote(process.Overflow)+")")
	}
	if f.Group != "" {
		conds = append(conds, "RapportAssignees IN ("+messages.Quote(process.GroupKeyPrefix+f.Group)+", "+messages.Quote(process.Overflow)+")")
	}
	eq("RapportBusinessKey", f.BusinessKey)
	eq("RapportEntity", f.Entity)
	eq("RapportRecordID", f.RecordID)
	if f.RecordID != "" && f.Entity == "" {
		return "", &FilterError{Param: "record", Msg: "a record needs its entity"}
	}
	times := []struct {
		attr, op string
		t        time.Time
	}{{"StartTime", ">=", f.StartedAfter}, {"StartTime", "<", f.StartedBefore}, {"CloseTime", ">=", f.EndedAfter}, {"CloseTime", "<", f.EndedBefore}}
	for _, tc := range times {
		if !tc.t.IsZero() {
			conds = append(conds, fmt.Sprintf("%s %s '%s'", tc.attr, tc.op, tc.t.UTC().Format(time.RFC3339Nano)))
		}
	}
	if w := strings.TrimSpace(f.Incident); w != "" {
		conds = append(conds, "RapportIncident = "+messages.Quote(w))
	}
	eq("ParentWorkflowId", f.Parent)
	if len(f.IDs) > 0 {
		ids := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			ids[i] = messages.Quote(id)
		}
		conds = append(conds, "WorkflowId IN ("+strings.Join(ids, ", ")+")")
	}
	return strings.Join(conds, " AND "), nil
}

// Summary is one instance in a list, from its search attributes alone.
type Summary struct {
	ID             string    `json:"id"`
	RunID          string    `json:"runId"`
	ProcessKey     string    `json:"processKey"`
	Version        int       `json:"version"`
	State          string    `json:"state" enum:"running,waiting,suspended,incident,completed,cancelled,terminated,failed"`
	BusinessKey    string    `json:"businessKey,omitempty"`
	Entity         string    `json:"entity,omitempty"`
	RecordID       string    `json:"recordId,omitempty"`
	ActiveElements []string  `json:"activeElements,omitempty" doc:"Element IDs with tokens; \"*\" when more than fit the search attribute."`
	Assignees      []string  `json:"assignees,omitempty" doc:"Assignees and candidates of open user tasks (group:<name> for groups)."`
	Incident       string    `json:"incident,omitempty" doc:"Text of the open incidents (element, type, message)."`
	StartedAt      time.Time `json:"startedAt"`
	EndedAt        time.Time `json:"endedAt,omitzero"`
	Parent         string    `json:"parent,omitempty" doc:"The instance whose call activity started this one."`
}

// Page is one page of a list.
type Page struct {
	Items []Summary `json:"items"`
	Next  string    `json:"next,omitempty" doc:"Cursor of the following page; empty on the last page."`
}

// MaxPage bounds a page.
const MaxPage = 200

// List returns one page of the instances a filter selects, newest first (running ones by start time,
// then ended ones by end time: the order of Temporal's SQL visibility, which sorts no other way), with
// exactly one visibility query.
func (s *Service) List(ctx context.Context, f Filter, limit int, cursor string) (Page, error) {
	q, err := f.Query()
	if err != nil {
		return Page{}, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = 50
	}
	var token []byte
	if cursor != "" {
		// Visibility's page tokens are JSON: anything else is refused here rather than by the server,
		// whose client retries an unreadable token for seconds.
		if token, err = base64.RawURLEncoding.DecodeString(cursor); err != nil || !json.Valid(token) {
			return Page{}, &FilterError{Param: "cursor", Msg: "not a cursor of this list"}
		}
	}
	resp, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: s.Namespace, PageSize: int32(limit), NextPageToken: token, Query: q})
	if err != nil {
		if cursor != "" {
			return Page{}, &FilterError{Param: "cursor", Msg: "not a cursor of this list: " + err.Error()}
		}
		return Page{}, fmt.Errorf("list instances: %w", err)
	}
	page := Page{Items: make([]Summary, 0, len(resp.GetExecutions()))}
	for _, ex := range resp.GetExecutions() {
		page.Items = append(page.Items, summaryOf(ex))
	}
	if t := resp.GetNextPageToken(); len(t) > 0 {
		page.Next = base64.RawURLEncoding.EncodeToString(t)
	}
	return page, nil
}

// attrs decodes the search attributes of an execution.
type attrs map[string]*commonpb.Payload

func (a attrs) str(name string) string {
	var v string
	if p := a[name]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
	}
	return v
}

func (a attrs) int(name string) int {
	var v int64
	if p := a[name]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
	}
	return int(v)
}

func (a attrs) list(name string) []string {
	var v []string
	if p := a[name]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
	}
	return v
}

// summaryOf reads an instance's summary from its visibility record.
func summaryOf(ex *workflowpb.WorkflowExecutionInfo) Summary {
	a := attrs(ex.GetSearchAttributes().GetIndexedFields())
	s := Summary{ID: ex.GetExecution().GetWorkflowId(), RunID: ex.GetExecution().GetRunId(),
		ProcessKey: a.str("RapportProcessKey"), Version: a.int("RapportProcessVersion"), BusinessKey: a.str("RapportBusinessKey"),
		Entity: a.str("RapportEntity"), RecordID: a.str("RapportRecordID"), ActiveElements: a.list("RapportActiveElements"),
		Assignees: a.list("RapportAssignees"), Incident: a.str("RapportIncident"), Parent: ex.GetParentExecution().GetWorkflowId()}
	s.State = stateOf(ex.GetStatus(), a.str("RapportState"))
	if t := ex.GetStartTime(); t != nil {
		s.StartedAt = t.AsTime()
	}
	if t := ex.GetCloseTime(); t != nil && ex.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		s.EndedAt = t.AsTime()
	}
	if s.State != process.StateIncident {
		s.Incident = ""
	}
	return s
}

// stateOf is the listed state of an instance from its execution status and RapportState.
func stateOf(status enumspb.WorkflowExecutionStatus, state string) string {
	switch status {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		if state == "" {
			return process.StateRunning
		}
		return state
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		if state == process.StateCancelled {
			return state
		}
		return process.StateCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return process.StateCancelled
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return process.StateTerminated
	}
	return process.StateFailed
}

// Counts is how many instances a filter selects per state, and (for one process version) per active
// element, for a heat map on the diagram.
type Counts struct {
	States   map[string]int64 `json:"states"`
	Elements map[string]int64 `json:"elements,omitempty" doc:"Running instances with a token at each element (a filter naming a process and version)."`
}

// Counts counts the instances of a filter per state (one count query per state), and, when the filter
// names a process version, the running instances per element of that version (one count query per
// element where a token can wait). Elements is the version's element IDs.
func (s *Service) Counts(ctx context.Context, f Filter, elements []string) (Counts, error) {
	out := Counts{States: map[string]int64{}}
	states := f.States
	if len(states) == 0 {
		states = States
	}
	for _, st := range states {
		g := f
		g.States = []string{st}
		n, err := s.count(ctx, g)
		if err != nil {
			return Counts{}, err
		}
		out.States[st] = n
	}
	if len(elements) > 0 {
		out.Elements = map[string]int64{}
		for _, el := range elements {
			g := f
			g.Element = el
			if len(g.States) == 0 {
				g.States = []string{process.StateRunning, process.StateWaiting, process.StateSuspended, process.StateIncident}
			}
			n, err := s.count(ctx, g)
			if err != nil {
				return Counts{}, err
			}
			if n > 0 {
				out.Elements[el] = n
			}
		}
	}
	return out, nil
}

func (s *Service) count(ctx context.Context, f Filter) (int64, error) {
	q, err := f.Query()
	if err != nil {
		return 0, err
	}
	resp, err := s.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: s.Namespace, Query: q})
	if err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	return resp.GetCount(), nil
}

// ErrNotFound is an instance that does not exist (or is not a process instance).
var ErrNotFound = errors.New("no such instance")
