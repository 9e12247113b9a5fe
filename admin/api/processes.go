package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/audit"

	"github.com/danielgtaylor/huma/v2"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
)

// VersionView is a published version with how many instances run it.
type VersionView struct {
	definitions.Version
	Running int64 `json:"running" doc:"Instances of this version still running."`
	Total   int64 `json:"total" doc:"Instances of this version ever started (within the namespace's retention)."`
}

// DefinitionView is a process with its published versions.
type DefinitionView struct {
	definitions.Definition
	Versions []VersionView `json:"versions"`
}

// ValidationReport says whether a BPMN document can be deployed and, if not, why, element by element;
// for a valid one, what publishing it takes: the permissions its tasks need (which the publisher must
// hold) and the identity its instances would run as, or why the caller may not publish it.
type ValidationReport struct {
	Valid          bool                      `json:"valid"`
	Key            string                    `json:"key,omitempty" doc:"The process key (BPMN process ID) the document defines: the first when it defines several."`
	Keys           []string                  `json:"keys,omitempty" doc:"Every process key a deployment of the document stores (its executable processes)."`
	Hash           string                    `json:"hash,omitempty"`
	Problems       []ElementProblem          `json:"problems"`
	Warnings       []ElementProblem          `json:"warnings" doc:"What compiles but deserves attention: undeclared variables, listeners and other settings Rapport does not run, pools that are not deployed."`
	Requirements   []definitions.Requirement `json:"requirements,omitempty" doc:"Permissions the process's tasks need, with the elements needing each."`
	RunAs          *definitions.RunAs        `json:"runAs,omitempty" doc:"The identity the caller publishing it would give its instances."`
	PublishRefusal string                    `json:"publishRefusal,omitempty" doc:"Why the caller may not publish it as it stands."`
}

// ElementProblem is one problem of a BPMN document, tied to the element a modeler should highlight.
type ElementProblem struct {
	ElementID string `json:"elementId"`
	Reason    string `json:"reason"`
}

func elementProblems(ps []bpmn.Problem) []ElementProblem {
	out := make([]ElementProblem, 0, len(ps))
	for _, p := range ps {
		out = append(out, ElementProblem(p))
	}
	return out
}

// StartedInstance identifies a new process instance (or, for a repeated Idempotency-Key, the one the
// first request started).
type StartedInstance = process.Started

// DeployResult is the draft of the document's (first) process, every process the upload stored, and
// the warnings.
type DeployResult struct {
	definitions.Definition
	Processes []definitions.Definition `json:"processes" doc:"The draft of every executable process of the document; publish each by its key."`
	Warnings  []ElementProblem         `json:"warnings"`
}

type bpmnInput struct {
	RawBody []byte `contentType:"application/xml" doc:"A BPMN 2.0 document (bpmn-js or Camunda Modeler 5)."`
}

type keyInput struct {
	Key string `path:"key" maxLength:"255"`
}

type versionXMLInput struct {
	Key     string `path:"key" maxLength:"255"`
	Version int    `path:"version" minimum:"0" doc:"Version number; 0 is the draft."`
}

type xmlOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

type startInput struct {
	Key            string `path:"key" maxLength:"255"`
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Repeating a start with the same key returns the instance the first one started."`
	Body           struct {
		Version     int            `json:"version,omitempty" minimum:"0" doc:"Version to start; 0 or absent starts the latest published."`
		BusinessKey string         `json:"businessKey,omitempty" maxLength:"255" doc:"Correlates messages and lists the instance."`
		Variables   map[string]any `json:"variables,omitempty"`
	}
}

type instanceInput struct {
	ID string `path:"id" maxLength:"300"`
}

type completeInput struct {
	ID   string `path:"id" maxLength:"400" doc:"Task ID from GET /api/v1/tasks."`
	Body struct {
		Variables map[string]any `json:"variables,omitempty" doc:"The form's output."`
	}
}

type messageInput struct {
	Body struct {
		ID             string         `json:"messageId,omitempty" maxLength:"255" doc:"Makes a start the message causes happen once: a retried message with the same ID starts nothing new."`
		Name           string         `json:"name" minLength:"1" maxLength:"255"`
		CorrelationKey string         `json:"correlationKey" minLength:"1" maxLength:"255" doc:"The business key of the instances the message is for, or the value of the correlation key (zeebe:subscription correlationKey) their message catch events wait for."`
		Variables      map[string]any `json:"variables,omitempty"`
		TimeToLive     *int64         `json:"timeToLive,omitempty" minimum:"0" maximum:"2592000000" doc:"Milliseconds an instance with no matching subscription yet keeps the message for one to come (default one hour; 0: not kept)."`
	}
}

type deliveredOutput struct {
	Body messages.Result
}

func (s *Server) registerProcesses() {
	tags := []string{"processes"}
	Register(s, huma.Operation{OperationID: "validate-process", Method: http.MethodPost, Path: "/api/v1/processes/validate", Tags: tags,
		Summary: "Validate a BPMN document", Description: "Reports every problem of the document with its element ID, without storing anything.",
		MaxBodyBytes: definitions.MaxXMLSize},
		Access{Permission: "processes.deploy"}, s.validateProcess)
	Register(s, huma.Operation{OperationID: "deploy-process", Method: http.MethodPost, Path: "/api/v1/processes", Tags: tags,
		Summary: "Deploy a BPMN document as a draft", DefaultStatus: http.StatusCreated, MaxBodyBytes: definitions.MaxXMLSize,
		Description: "Stores the document as the draft of the process it defines (the key is the BPMN process ID). A document with problems is refused with all of them, each naming its element."},
		Access{Permission: "processes.deploy"}, s.deployProcess)
	Register(s, huma.Operation{OperationID: "list-processes", Method: http.MethodGet, Path: "/api/v1/processes", Tags: tags, Summary: "Process definitions"},
		Access{Permission: "processes.read"}, s.listProcesses)
	Register(s, huma.Operation{OperationID: "get-process", Method: http.MethodGet, Path: "/api/v1/processes/{key}", Tags: tags,
		Summary: "A process definition with its versions and their instance counts"},
		Access{Permission: "processes.read"}, s.getProcess)
	Register(s, huma.Operation{OperationID: "get-process-xml", Method: http.MethodGet, Path: "/api/v1/processes/{key}/versions/{version}/xml", Tags: tags,
		Summary: "The BPMN XML of a version (0 = the draft)"},
		Access{Permission: "processes.read"}, s.processXML)
	Register(s, huma.Operation{OperationID: "publish-process", Method: http.MethodPost, Path: "/api/v1/processes/{key}/publish", Tags: tags,
		Summary: "Publish the draft as a new immutable version", DefaultStatus: http.StatusCreated,
		Description: "The version runs as a service principal with the role chosen here (runAs.role; default the first of the caller's roles that fits). " +
			"The caller must hold every permission the process's tasks need (see requirements in POST /api/v1/processes/validate), and the role must grant them on no more records than the caller reaches."},
		Access{Permission: "processes.publish"}, s.publishProcess)
	Register(s, huma.Operation{OperationID: "set-process-owners", Method: http.MethodPut, Path: "/api/v1/processes/{key}/owners", Tags: tags,
		Summary: "Set who owns a process", Description: "Owners (user:<id> or team:<id>) operate its running instances when they hold instances.operate. Only an owner or an administrator may change them."},
		Access{Permission: "processes.publish"}, s.setProcessOwners)
	Register(s, huma.Operation{OperationID: "start-instance", Method: http.MethodPost, Path: "/api/v1/processes/{key}/instances", Tags: tags,
		Summary: "Start an instance", DefaultStatus: http.StatusCreated,
		Description: "Starts a published version (the latest unless one is named) with variables, checked against the declared variable types."},
		Access{Permission: "instances.start"}, s.startInstance)
	Register(s, huma.Operation{OperationID: "complete-task", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/complete", Tags: tags,
		Summary: "Complete a user task", Description: "Validated synchronously by the instance: unknown task, a caller who is not the assignee or a candidate, or form output of the wrong type is refused and changes nothing."},
		Access{Permission: "tasks.complete"}, s.completeTask)
	Register(s, huma.Operation{OperationID: "correlate-message", Method: http.MethodPost, Path: "/api/v1/messages", Tags: tags,
		Summary: "Correlate a message", Description: "Delivers a BPMN message to the running instances whose business key is the correlation key and to those whose message catch waits for this message with this correlation key value; " +
			"answers how many consumed it (a subscription took it) and how many buffered it for timeToLive. When no running instance received it, it starts the processes whose message start event catches it."},
		Access{Permission: "messages.correlate"}, s.correlateMessage)
}

// processProblem maps store errors to problems: parse failures are 400 (413 when too large), invalid
// definitions 422 with every element problem.
func processProblem(err error) error {
	var pe *bpmn.ParseError
	var ie *definitions.InvalidError
	switch {
	case errors.As(err, &pe):
		status := http.StatusBadRequest
		if pe.Kind == "too_large" {
			status = http.StatusRequestEntityTooLarge
		}
		p := Typed(status, "bpmn-unreadable", pe.Error())
		for _, pr := range pe.Problems {
			p.Errors = append(p.Errors, FieldError{Element: pr.ElementID, Message: pr.Reason})
		}
		return p
	case errors.As(err, &ie):
		p := Typed(http.StatusUnprocessableEntity, "bpmn-invalid", fmt.Sprintf("the process definition has %d problem(s)", len(ie.Problems)))
		for _, pr := range ie.Problems {
			p.Errors = append(p.Errors, FieldError{Element: pr.ElementID, Message: pr.Reason})
		}
		return p
	case errors.Is(err, definitions.ErrNotFound):
		return NewProblem(http.StatusNotFound, err.Error())
	case errors.Is(err, definitions.ErrNoDraft):
		return Typed(http.StatusConflict, "no-draft", err.Error())
	case errors.Is(err, definitions.ErrEmpty):
		return emptyBPMN()
	}
	return startProblem(err)
}

// emptyBPMN answers a BPMN upload without a document.
func emptyBPMN() *Problem {
	p := Typed(http.StatusBadRequest, "bpmn-empty", definitions.ErrEmpty.Error())
	p.Errors = []FieldError{{Pointer: "", Message: "the body is empty; send the BPMN XML as application/xml"}}
	return p
}

// startProblem maps what publishing and starting refuse: authority (403 for what the caller lacks, 422
// for an unfit role), owners, start variables and start events (422).
func startProblem(err error) error {
	var ae *definitions.AuthorityError
	var ve *process.VariablesError
	switch {
	case errors.As(err, &ae):
		status := http.StatusUnprocessableEntity
		if len(ae.Missing) > 0 {
			status = http.StatusForbidden
		}
		p := Typed(status, "run-as-refused", err.Error())
		for _, group := range [][]definitions.Requirement{ae.Missing, ae.RoleLacks, ae.RoleWider} {
			for _, r := range group {
				for _, el := range r.Elements {
					p.Errors = append(p.Errors, FieldError{Element: el, Message: "needs " + r.Permission})
				}
			}
		}
		return p
	case errors.Is(err, definitions.ErrUnknownRole):
		p := Typed(http.StatusUnprocessableEntity, "validation", err.Error())
		p.Errors = []FieldError{{Pointer: "/runAs/role", Message: "no such role"}}
		return p
	case errors.Is(err, definitions.ErrInvalidOwner):
		p := Typed(http.StatusUnprocessableEntity, "validation", err.Error())
		p.Errors = []FieldError{{Pointer: "/owners", Message: err.Error()}}
		return p
	case errors.As(err, &ve):
		return variablesProblem("the start variables do not match the process's declared variables", ve)
	case errors.Is(err, process.ErrNoSuchStart):
		return Typed(http.StatusUnprocessableEntity, "validation", err.Error())
	}
	return err
}

func (s *Server) validateProcess(ctx context.Context, in *bpmnInput) (*struct{ Body ValidationReport }, error) {
	pv, err := s.deps.Processes.Preview(in.RawBody, PrincipalFrom(ctx).Subject(), "")
	var ie *definitions.InvalidError
	switch {
	case err == nil:
		rep := ValidationReport{Valid: true, Key: pv.Model.ProcessID, Hash: pv.Model.Hash, Problems: []ElementProblem{},
			Warnings: elementProblems(pv.Warnings), Requirements: pv.Requirements, RunAs: pv.RunAs}
		for _, m := range pv.Models {
			rep.Keys = append(rep.Keys, m.ProcessID)
		}
		if pv.Refusal != nil {
			rep.PublishRefusal = pv.Refusal.Error()
		}
		return &struct{ Body ValidationReport }{Body: rep}, nil
	case errors.As(err, &ie):
		return &struct{ Body ValidationReport }{Body: ValidationReport{Problems: elementProblems(ie.Problems), Warnings: []ElementProblem{}}}, nil
	default:
		return nil, processProblem(err)
	}
}

func (s *Server) deployProcess(ctx context.Context, in *bpmnInput) (*struct{ Body DeployResult }, error) {
	dep, err := s.deps.Processes.Deploy(ctx, in.RawBody, PrincipalFrom(ctx).User.ID)
	for _, d := range dep.Definitions {
		s.record(ctx, audit.Event{Action: "process.deploy", Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "process", ID: d.Key}, Details: map[string]any{"draftHash": d.DraftHash, "name": d.Name}})
	}
	if err != nil {
		return nil, processProblem(err)
	}
	out := DeployResult{Definition: dep.Definitions[0], Processes: dep.Definitions, Warnings: elementProblems(dep.Warnings)}
	return &struct{ Body DeployResult }{Body: out}, nil
}

func (s *Server) listProcesses(ctx context.Context, _ *struct{}) (*struct{ Body []definitions.Definition }, error) {
	list, err := s.deps.Processes.List(ctx)
	if err != nil {
		return nil, err
	}
	return &struct{ Body []definitions.Definition }{Body: list}, nil
}

func (s *Server) getProcess(ctx context.Context, in *keyInput) (*struct{ Body DefinitionView }, error) {
	d, err := s.deps.Processes.Get(ctx, in.Key)
	if err != nil {
		return nil, processProblem(err)
	}
	versions, err := s.deps.Processes.Versions(ctx, in.Key)
	if err != nil {
		return nil, err
	}
	view := DefinitionView{Definition: d, Versions: []VersionView{}}
	for _, v := range versions {
		q := fmt.Sprintf("RapportProcessKey = %s AND RapportProcessVersion = %d", messages.Quote(in.Key), v.Version)
		total, err := s.countWorkflows(ctx, q)
		if err != nil {
			return nil, err
		}
		running, err := s.countWorkflows(ctx, q+" AND ExecutionStatus = 'Running'")
		if err != nil {
			return nil, err
		}
		view.Versions = append(view.Versions, VersionView{Version: v, Running: running, Total: total})
	}
	return &struct{ Body DefinitionView }{Body: view}, nil
}

func (s *Server) countWorkflows(ctx context.Context, query string) (int64, error) {
	resp, err := s.deps.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: s.deps.Namespace, Query: query})
	if err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	return resp.GetCount(), nil
}

func (s *Server) processXML(ctx context.Context, in *versionXMLInput) (*xmlOutput, error) {
	if in.Version == 0 {
		d, err := s.deps.Processes.Get(ctx, in.Key)
		if err != nil {
			return nil, processProblem(err)
		}
		return &xmlOutput{ContentType: "application/xml", Body: []byte(d.DraftXML)}, nil
	}
	v, err := s.deps.Processes.Version(ctx, in.Key, in.Version)
	if err != nil {
		return nil, processProblem(err)
	}
	return &xmlOutput{ContentType: "application/xml", Body: []byte(v.XML)}, nil
}

// PublishResult is the published version and anything that needs attention after publishing.
type PublishResult = definitions.Published

type publishInput struct {
	Key  string `path:"key" maxLength:"255"`
	Body *struct {
		RunAs struct {
			Role string `json:"role,omitempty" maxLength:"40" doc:"The role of the version's service principal."`
		} `json:"runAs,omitzero"`
	}
}

func (s *Server) publishProcess(ctx context.Context, in *publishInput) (*struct{ Body PublishResult }, error) {
	req := definitions.PublishRequest{By: PrincipalFrom(ctx).Subject()}
	if in.Body != nil {
		req.RunAsRole = in.Body.RunAs.Role
	}
	v, err := s.deps.Processes.Publish(ctx, in.Key, req)
	if err != nil {
		var ae *definitions.AuthorityError
		if errors.As(err, &ae) {
			s.record(ctx, audit.Event{Action: "process.publish", Outcome: audit.OutcomeDenied, Reason: err.Error(),
				Target: audit.Target{Type: "process", ID: in.Key}, Details: map[string]any{"runAsRole": req.RunAsRole}})
		}
		return nil, processProblem(err)
	}
	s.record(ctx, audit.Event{Action: "process.publish", Outcome: audit.OutcomeSuccess,
		Target: audit.Target{Type: "process", ID: in.Key}, Details: map[string]any{"version": v.Version.Version, "hash": v.Hash,
			"runAs": v.RunAs.Principal, "runAsRole": v.RunAs.Role, "permissions": v.RunAs.Permissions, "warnings": v.Warnings}})
	return &struct{ Body PublishResult }{Body: v}, nil
}

type ownersInput struct {
	Key  string `path:"key" maxLength:"255"`
	Body struct {
		Owners []string `json:"owners" minItems:"1" maxItems:"50" doc:"user:<id> or team:<id>."`
	}
}

func (s *Server) setProcessOwners(ctx context.Context, in *ownersInput) (*struct{ Body definitions.Definition }, error) {
	p := PrincipalFrom(ctx)
	d, err := s.deps.Processes.Get(ctx, in.Key)
	if err != nil {
		return nil, processProblem(err)
	}
	if !d.OwnedBy(p.Subject()) && !s.allows(p, "*") {
		return nil, Typed(http.StatusForbidden, "not-an-owner", "only an owner of "+in.Key+" or an administrator may change its owners")
	}
	before, err := s.deps.Processes.SetOwners(ctx, in.Key, in.Body.Owners)
	if err != nil {
		return nil, processProblem(err)
	}
	after, err := s.deps.Processes.Get(ctx, in.Key)
	if err != nil {
		return nil, processProblem(err)
	}
	s.record(ctx, audit.Event{Action: "process.owners", Outcome: audit.OutcomeSuccess, Target: audit.Target{Type: "process", ID: in.Key},
		Before: map[string]any{"owners": before.Owners}, After: map[string]any{"owners": after.Owners}})
	after.DraftXML = ""
	return &struct{ Body definitions.Definition }{Body: after}, nil
}

func (s *Server) startInstance(ctx context.Context, in *startInput) (*struct{ Body StartedInstance }, error) {
	p := PrincipalFrom(ctx)
	once := ""
	if in.IdempotencyKey != "" {
		sum := sha256.Sum256([]byte(p.User.ID + "\x00" + in.IdempotencyKey))
		once = hex.EncodeToString(sum[:16])
	}
	st, err := s.deps.Starter.Start(ctx, process.StartRequest{Ref: process.Ref{Key: in.Key, Version: in.Body.Version}, Cause: process.CauseAPI,
		Once: once, BusinessKey: in.Body.BusinessKey, Variables: in.Body.Variables})
	if err != nil {
		return nil, processProblem(err)
	}
	if !st.Existing {
		s.record(ctx, audit.Event{Action: "instance.start", Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "instance", ID: st.ID}, Details: map[string]any{"process": in.Key, "version": st.Version, "businessKey": st.BusinessKey}})
	}
	return &struct{ Body StartedInstance }{Body: st}, nil
}

// openTask finds an open user task of a running instance.
func (s *Server) openTask(ctx context.Context, instanceID, taskID string) (process.UserTask, error) {
	val, err := s.deps.Temporal.QueryWorkflow(ctx, instanceID, "", process.QueryUserTasks)
	if err != nil {
		return process.UserTask{}, NewProblem(http.StatusNotFound, "no task "+instanceID+"~"+taskID)
	}
	var tasks []process.UserTask
	if err := val.Get(&tasks); err != nil {
		return process.UserTask{}, fmt.Errorf("decode tasks of %s: %w", instanceID, err)
	}
	for _, t := range tasks {
		if t.ID == taskID {
			return t, nil
		}
	}
	return process.UserTask{}, NewProblem(http.StatusNotFound, "no open task "+instanceID+"~"+taskID)
}

// mayOperate reports whether the caller may operate an instance: an administrator, or an owner of its
// process definition holding instances.operate (definitions.Definition.OperableBy).
func (s *Server) mayOperate(ctx context.Context, p *Principal, instanceID string) bool {
	if s.allows(p, "*") {
		return true
	}
	if !s.allows(p, access.InstancesOperate) {
		return false
	}
	desc, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, instanceID, "")
	if err != nil {
		return false
	}
	key := ""
	if sa := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["RapportProcessKey"]; sa != nil {
		key = strings.Trim(string(sa.GetData()), `"`)
	}
	d, err := s.deps.Processes.Get(ctx, key)
	if err != nil {
		return false
	}
	return d.OperableBy(p.Subject(), func(perm string) bool { return s.allows(p, perm) })
}

func (s *Server) correlateMessage(ctx context.Context, in *messageInput) (*deliveredOutput, error) {
	msg := messages.Message{Name: in.Body.Name, CorrelationKey: in.Body.CorrelationKey, Variables: in.Body.Variables, ID: in.Body.ID}
	if ttl := in.Body.TimeToLive; ttl != nil {
		msg.TimeToLive = time.Duration(*ttl) * time.Millisecond
		if *ttl == 0 {
			msg.TimeToLive = -1 // not kept
		}
	}
	res, err := s.deps.Messages.Publish(ctx, msg)
	if err != nil {
		return nil, processProblem(err)
	}
	s.record(ctx, audit.Event{Action: "message.correlate", Outcome: audit.OutcomeSuccess,
		Target: audit.Target{Type: "message", ID: in.Body.Name}, Details: map[string]any{"correlationKey": in.Body.CorrelationKey,
			"consumed": res.Consumed, "buffered": res.Buffered, "delivered": res.Delivered, "started": res.Started}})
	return &deliveredOutput{Body: res}, nil
}
