package process

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// Causes of a start. Every instance Rapport starts has the ID
//
//	<process key>:<cause>:<what made it start once>
//
// so an operator reads from the ID what started it, and a cause that may be delivered more than once
// (a record change redelivered from the outbox, a message a client retries, a schedule firing) names
// the same instance each time.
const (
	// CauseAPI is a person or an integration starting an instance; the discriminator is a random ID
	// unless the caller supplies an idempotency key.
	CauseAPI = "api"
	// CauseRecord is a record trigger: start element, entity, record, change and record version.
	CauseRecord = "record"
	// CauseMessage is a message start event: start element, correlation key and message ID.
	CauseMessage = "message"
	// CauseTimer is a timer start event on a Temporal schedule, which appends the firing time.
	CauseTimer = "timer"
)

// StartRequest is everything one start needs. The one duplicate policy: a start whose ID was started
// before (running or closed, within the namespace's retention) starts nothing and returns that
// instance, so redelivery is always safe.
type StartRequest struct {
	// Ref names the published version; Version 0 starts the latest.
	Ref Ref `json:"ref"`
	// Cause is one of the Cause constants.
	Cause string `json:"cause"`
	// Once is what makes this start unique within its cause (see the Cause constants); empty for an
	// API start means a random ID.
	Once string `json:"once,omitempty"`
	// StartElement picks the start event; empty is the none start.
	StartElement string `json:"startElement,omitempty"`
	// BusinessKey correlates messages; when empty it defaults to the record ID (record starts) or the
	// instance ID, so every instance can receive messages. Message starts pass the correlation key.
	BusinessKey string `json:"businessKey,omitempty"`
	// Entity and RecordID bind the instance to a record.
	Entity   string `json:"entity,omitempty"`
	RecordID string `json:"recordId,omitempty"`
	// Variables are the start variables, checked against the declarations as the workflow reads them
	// (a declared variable with a default or a null value is not missing).
	Variables map[string]any `json:"variables,omitempty"`
}

// Started is the instance a start made or found.
type Started struct {
	ID          string `json:"id" doc:"Instance ID; use it with /api/v1/instances/{id}."`
	RunID       string `json:"runId"`
	Key         string `json:"key"`
	Version     int    `json:"version"`
	BusinessKey string `json:"businessKey"`
	// Existing is true when the ID had been started before and nothing new was started.
	Existing bool `json:"existing,omitempty"`
}

// VariableProblem is one start variable the declarations refuse.
type VariableProblem struct {
	Name   string
	Reason string
}

// VariablesError lists every start variable the process's declarations refuse.
type VariablesError struct {
	Problems []VariableProblem
}

func (e *VariablesError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Reason
	}
	return "the start variables do not match the process's declared variables: " + strings.Join(parts, "; ")
}

// ErrNoSuchStart means the requested start element is not a start event of the process.
var ErrNoSuchStart = errors.New("no such start event")

// Starter is the one way Rapport starts process instances: the API, record triggers, message starts
// and (through ScheduleAction) timer schedules all go through it, with one ID scheme, one duplicate
// policy, the business key always set and the start variables checked once.
type Starter struct {
	Temporal    client.Client
	TaskQueue   string
	Definitions DefinitionStore
}

// InstanceID is the ID of the instance a cause starts; once discriminates starts of that cause.
func InstanceID(key, cause, once string) string { return key + ":" + cause + ":" + once }

// Start starts (or finds) the instance a request names. Errors: the definition store's for an unknown
// process or version, ErrNoSuchStart, a *VariablesError, or Temporal's.
func (s *Starter) Start(ctx context.Context, req StartRequest) (Started, error) {
	model, version, err := s.Definitions.Load(ctx, req.Ref.Key, req.Ref.Version)
	if err != nil {
		return Started{}, err
	}
	in, err := Prepare(model, version, req)
	if err != nil {
		return Started{}, err
	}
	id := in.ID
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: s.TaskQueue, TypedSearchAttributes: SearchAttributes(in.Input),
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, WorkflowName, in.Input)
	out := Started{ID: id, Key: req.Ref.Key, Version: version, BusinessKey: in.Input.BusinessKey}
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case err == nil:
		out.RunID = run.GetRunID()
	case errors.As(err, &already):
		out.RunID, out.Existing = already.RunId, true
	default:
		return Started{}, fmt.Errorf("start %s: %w", id, err)
	}
	return out, nil
}

// Prepared is a checked start: the workflow input and the instance ID.
type Prepared struct {
	ID    string
	Input Input
}

// Prepare checks a start against a model and builds the workflow input and instance ID; Start and
// ScheduleAction use it, and tests may too.
func Prepare(m *bpmn.Model, version int, req StartRequest) (Prepared, error) {
	if req.StartElement != "" && !isStart(m, req.StartElement) {
		return Prepared{}, fmt.Errorf("%w %q in process %s", ErrNoSuchStart, req.StartElement, req.Ref.Key)
	}
	if err := checkStartVariables(m, startNode(m, req.StartElement), req.Variables); err != nil {
		return Prepared{}, err
	}
	once := req.Once
	if once == "" {
		once = uuid.NewString()
	}
	id := InstanceID(req.Ref.Key, req.Cause, once)
	bk := req.BusinessKey
	if bk == "" {
		bk = req.RecordID
	}
	if bk == "" {
		bk = id
	}
	return Prepared{ID: id, Input: Input{Ref: Ref{Key: req.Ref.Key, Version: version}, Variables: req.Variables, BusinessKey: bk,
		Entity: req.Entity, RecordID: req.RecordID, StartElement: req.StartElement}}, nil
}

// ScheduleAction is the workflow action of the schedule behind a timer start event: the same input,
// ID scheme and search attributes as Start (the schedule appends the firing time to the ID).
func ScheduleAction(m *bpmn.Model, key string, version int, element, taskQueue string) (*client.ScheduleWorkflowAction, error) {
	p, err := Prepare(m, version, StartRequest{Ref: Ref{Key: key, Version: version}, Cause: CauseTimer, Once: element, StartElement: element})
	if err != nil {
		return nil, err
	}
	return &client.ScheduleWorkflowAction{ID: p.ID, Workflow: WorkflowName, Args: []any{p.Input}, TaskQueue: taskQueue,
		TypedSearchAttributes: SearchAttributes(p.Input)}, nil
}

func isStart(m *bpmn.Model, element string) bool {
	if len(m.Scopes) == 0 {
		return false
	}
	for _, i := range m.Scopes[0].Starts {
		if m.Nodes[i].ID == element {
			return true
		}
	}
	return false
}

// startNode is the start event an instance begins at: the named one, else the none start, else the
// first; nil when the process has none.
func startNode(m *bpmn.Model, element string) *bpmn.Node {
	if len(m.Scopes) == 0 {
		return nil
	}
	starts := m.Scopes[0].Starts
	for _, i := range starts {
		if element != "" && m.Nodes[i].ID == element {
			return &m.Nodes[i]
		}
	}
	for _, i := range starts {
		if m.Nodes[i].Kind == bpmn.KindStartNone {
			return &m.Nodes[i]
		}
	}
	if len(starts) > 0 {
		return &m.Nodes[starts[0]]
	}
	return nil
}

// checkStartVariables applies the interpreter's own start check (ValidateVariables) declaration by
// declaration, so every refused variable is named. A required variable the start event's output
// mappings set (record.id → leadId) is not missing.
func checkStartVariables(m *bpmn.Model, start *bpmn.Node, vars map[string]any) error {
	var ve VariablesError
	for _, d := range m.Variables {
		one := &bpmn.Model{Variables: []bpmn.VariableDecl{d}}
		required := true
		if start != nil {
			for _, o := range start.Outputs {
				if name, _, _ := strings.Cut(o.Target, "."); name == d.Name {
					required = false
				}
			}
		}
		if err := ValidateVariables(one, vars, required); err != nil {
			ve.Problems = append(ve.Problems, VariableProblem{Name: d.Name, Reason: err.Error()})
		}
	}
	if len(ve.Problems) > 0 {
		return &ve
	}
	return nil
}
