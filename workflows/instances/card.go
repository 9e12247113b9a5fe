package instances

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/workflows/process"
)

// Definitions loads compiled process versions; definitions.Store implements it.
type Definitions interface {
	Load(ctx context.Context, key string, version int) (*bpmn.Model, int, error)
}

// Service lists, describes and operates process instances.
type Service struct {
	Temporal  client.Client
	Namespace string
	// TaskQueue is where batches run.
	TaskQueue   string
	Definitions Definitions
	// Inbox is told about instances terminated (which cannot say so themselves) and rebuilt by
	// RebuildInbox; nil skips both.
	Inbox InboxStore
}

// Execution is what Temporal knows of an instance without asking it: its binding, state and times.
type Execution struct {
	Summary
	Status enumspb.WorkflowExecutionStatus
}

// Describe reads an instance's execution (ErrNotFound when there is none or it is not a process
// instance).
func (s *Service) Describe(ctx context.Context, id string) (Execution, error) {
	resp, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return Execution{}, ErrNotFound
		}
		return Execution{}, fmt.Errorf("describe instance %s: %w", id, err)
	}
	info := resp.GetWorkflowExecutionInfo()
	sum := summaryOf(info)
	if sum.ProcessKey == "" || info.GetType().GetName() != process.WorkflowName {
		return Execution{}, ErrNotFound
	}
	return Execution{Summary: sum, Status: info.GetStatus()}, nil
}

// Snapshot asks an instance (running or ended: Temporal replays an ended one) for its state.
func (s *Service) Snapshot(ctx context.Context, id string) (process.Snapshot, error) {
	val, err := s.Temporal.QueryWorkflow(ctx, id, "", process.QueryState)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return process.Snapshot{}, ErrNotFound
		}
		return process.Snapshot{}, fmt.Errorf("query instance %s: %w", id, err)
	}
	var snap process.Snapshot
	if err := val.Get(&snap); err != nil {
		return process.Snapshot{}, fmt.Errorf("decode the state of %s: %w", id, err)
	}
	return snap, nil
}

// Card is the process card: where an instance stands in element IDs, its variables with their declared
// types, its timeline, incidents, and parent and children.
type Card struct {
	ID          string `json:"id"`
	RunID       string `json:"runId"`
	ProcessKey  string `json:"processKey"`
	Version     int    `json:"version"`
	ProcessName string `json:"processName,omitempty"`
	Diagram     string `json:"diagram" doc:"API path of the version's BPMN XML, for drawing the diagram."`
	// Status is the state as the list shows it.
	Status      string    `json:"status" enum:"running,waiting,suspended,incident,completed,cancelled,terminated,failed"`
	BusinessKey string    `json:"businessKey,omitempty"`
	Entity      string    `json:"entity,omitempty"`
	RecordID    string    `json:"recordId,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	EndedAt     time.Time `json:"endedAt,omitzero"`
	EndElement  string    `json:"endElement,omitempty"`
	Parent      string    `json:"parent,omitempty" doc:"The instance whose call activity started this one."`
	Children    []Child   `json:"children"`
	// ActiveElements are the element IDs holding tokens; Elements says more per element.
	ActiveElements []string            `json:"activeElements"`
	Elements       []ElementState      `json:"elements"`
	Timers         []TimerView         `json:"timers"`
	Subscriptions  []SubscriptionView  `json:"subscriptions"`
	UserTasks      []TaskView          `json:"userTasks"`
	Variables      map[string]any      `json:"variables"`
	Declared       []DeclaredVariable  `json:"declaredVariables"`
	Incidents      []*process.Incident `json:"incidents,omitempty"`
	Timeline       []TimelineEntry     `json:"timeline"`
}

// Child is an instance a call activity of this one started.
type Child struct {
	ID      string `json:"id"`
	Element string `json:"element,omitempty"`
	Status  string `json:"status"`
}

// ElementState is an element with tokens: how many, in which state, and its incidents.
type ElementState struct {
	Element   string `json:"element"`
	Name      string `json:"name,omitempty"`
	Kind      string `json:"kind"`
	Tokens    int    `json:"tokens"`
	Waiting   int    `json:"waiting"`
	Incidents int    `json:"incidents"`
}

// TimerView is a waiting timer with its due time.
type TimerView struct {
	Element string    `json:"element"`
	Name    string    `json:"name,omitempty"`
	On      string    `json:"on" enum:"catch,boundary,eventSubProcess" doc:"What the timer belongs to."`
	DueAt   time.Time `json:"dueAt"`
	Fired   int       `json:"fired,omitempty" doc:"Times a repeating timer has fired."`
}

// SubscriptionView is a message the instance waits for, with its correlation key.
type SubscriptionView struct {
	Element        string `json:"element"`
	Name           string `json:"name,omitempty"`
	Message        string `json:"message"`
	CorrelationKey string `json:"correlationKey,omitempty"`
	On             string `json:"on" enum:"catch,boundary,eventSubProcess"`
}

// TaskView is an open user task; ID is the task's ID in the instance, InboxID the one the task APIs
// take.
type TaskView struct {
	process.UserTask
	InboxID string `json:"inboxId"`
}

// DeclaredVariable is a variable the process declares, with its type and current value.
type DeclaredVariable struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	Value    any    `json:"value,omitempty"`
}

// TimelineEntry is one entry of the timeline with the element's name.
type TimelineEntry struct {
	process.HistoryEntry
	Name string `json:"name,omitempty"`
}

// Card reads an instance's card; redact removes what the caller may not see from the state before the
// card is built from it.
func (s *Service) Card(ctx context.Context, id string, redact func(*process.Snapshot) error) (Card, error) {
	ex, err := s.Describe(ctx, id)
	if err != nil {
		return Card{}, err
	}
	snap, err := s.Snapshot(ctx, id)
	if err != nil {
		return Card{}, err
	}
	if redact != nil {
		if err := redact(&snap); err != nil {
			return Card{}, err
		}
	}
	model, _, err := s.Definitions.Load(ctx, ex.ProcessKey, snap.Version)
	if err != nil {
		model = nil // a test model never published: the card shows IDs without names
	}
	children, err := s.children(ctx, id)
	if err != nil {
		return Card{}, err
	}
	c := BuildCard(ex, snap, model, children)
	if ex.Status == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		c.Timeline = append(c.Timeline, s.terminated(ctx, id, ex))
	}
	return c, nil
}

// terminated is the timeline entry of a termination, read from the instance's close event.
func (s *Service) terminated(ctx context.Context, id string, ex Execution) TimelineEntry {
	e := TimelineEntry{HistoryEntry: process.HistoryEntry{Event: "terminated", Time: ex.EndedAt}}
	it := s.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			break
		}
		if a := ev.GetWorkflowExecutionTerminatedEventAttributes(); a != nil {
			e.Reason = a.GetReason()
			var op process.Operator
			if converter.GetDefaultDataConverter().FromPayloads(a.GetDetails(), &op) == nil {
				e.By = op.By
			}
		}
	}
	return e
}

// children lists the instances this one's call activities started (one visibility query).
func (s *Service) children(ctx context.Context, id string) ([]Child, error) {
	page, err := s.List(ctx, Filter{Parent: id}, MaxPage, "")
	if err != nil {
		return nil, err
	}
	out := []Child{}
	for _, it := range page.Items {
		out = append(out, Child{ID: it.ID, Element: elementOfChild(id, it.ID), Status: it.State})
	}
	return out, nil
}

// elementOfChild reads the call activity from a child's ID (<parent>/<element>/<n>).
func elementOfChild(parent, child string) string {
	rest := child[min(len(child), len(parent)+1):]
	for i := len(rest) - 1; i >= 0; i-- {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return ""
}

// BuildCard assembles a card from an instance's execution, its (redacted) state and its model (nil
// when the version cannot be loaded).
func BuildCard(ex Execution, snap process.Snapshot, m *bpmn.Model, children []Child) Card {
	c := Card{ID: ex.ID, RunID: ex.RunID, ProcessKey: ex.ProcessKey, Version: snap.Version, BusinessKey: snap.BusinessKey,
		Entity: ex.Entity, RecordID: ex.RecordID, StartedAt: ex.StartedAt, EndedAt: ex.EndedAt, EndElement: snap.EndElement,
		Parent: ex.Parent, Children: children, ActiveElements: snap.ActiveElements, Variables: snap.Variables,
		Incidents: snap.Incidents, Elements: []ElementState{}, Timers: []TimerView{}, Subscriptions: []SubscriptionView{},
		UserTasks: []TaskView{}, Declared: []DeclaredVariable{}, Timeline: []TimelineEntry{}}
	if c.Version == 0 {
		c.Version = ex.Version
	}
	c.Diagram = "/api/v1/processes/" + url.PathEscape(c.ProcessKey) + "/versions/" + strconv.Itoa(c.Version) + "/xml"
	c.Status = ex.State
	if ex.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		c.Status = snap.Status
	}
	if c.ActiveElements == nil {
		c.ActiveElements = []string{}
	}
	if c.Incidents == nil {
		c.Incidents = []*process.Incident{}
	}
	node := func(i int) *bpmn.Node {
		if m == nil || i < 0 || i >= len(m.Nodes) {
			return nil
		}
		return &m.Nodes[i]
	}
	name := func(id string) string {
		if m == nil {
			return ""
		}
		for i := range m.Nodes {
			if m.Nodes[i].ID == id {
				return m.Nodes[i].Name
			}
		}
		return ""
	}
	if m != nil {
		c.ProcessName = m.Name
	}
	for _, t := range snap.Tokens {
		i := slices.IndexFunc(c.Elements, func(e ElementState) bool { return e.Element == t.Element })
		if i < 0 {
			e := ElementState{Element: t.Element, Name: name(t.Element)}
			if n := node(t.Node); n != nil {
				e.Kind = string(n.Kind)
			}
			c.Elements = append(c.Elements, e)
			i = len(c.Elements) - 1
		}
		c.Elements[i].Tokens++
		if t.Status == "waiting" || t.Status == "joined" {
			c.Elements[i].Waiting++
		}
	}
	for _, in := range snap.Incidents {
		if i := slices.IndexFunc(c.Elements, func(e ElementState) bool { return e.Element == in.Element }); i >= 0 {
			c.Elements[i].Incidents++
		}
	}
	for _, sub := range snap.Subs {
		n := node(sub.Node)
		el, on := "", "catch"
		if n != nil {
			el = n.ID
			switch {
			case n.Kind.IsBoundary():
				on = "boundary"
			case sub.Token == 0:
				on = "eventSubProcess"
			}
		}
		switch sub.Kind {
		case "timer":
			c.Timers = append(c.Timers, TimerView{Element: el, Name: name(el), On: on, DueAt: sub.FireAt, Fired: sub.Fired})
		case "message":
			c.Subscriptions = append(c.Subscriptions, SubscriptionView{Element: el, Name: name(el), Message: sub.Message, CorrelationKey: sub.Key, On: on})
		}
	}
	for _, u := range snap.UserTasks {
		c.UserTasks = append(c.UserTasks, TaskView{UserTask: *u, InboxID: ex.ID + "~" + u.ID})
	}
	if m != nil {
		for _, d := range m.Variables {
			c.Declared = append(c.Declared, DeclaredVariable{Name: d.Name, Type: d.Type, Required: d.Required, Value: snap.Variables[d.Name]})
		}
	}
	for _, h := range snap.History {
		c.Timeline = append(c.Timeline, TimelineEntry{HistoryEntry: h, Name: name(h.Element)})
	}
	return c
}
