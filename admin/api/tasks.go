package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/inbox"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/workflows/instances"
	"github.com/rapportcrm/rapport/workflows/process"
)

// The task inbox: a person's open user tasks read from the materialised inbox (engine/inbox, a few reads
// by _id whatever the number of instances), and claiming, unclaiming, reassigning and completing a task.

type listTasksInput struct {
	View       string    `query:"view" enum:"all,mine,claimable" doc:"all (default): mine and claimable; mine: assigned to me; claimable: unassigned, offered to me or my groups."`
	Group      string    `query:"group" maxLength:"255" doc:"Only tasks offered to this group of mine (a team or role)."`
	ProcessKey string    `query:"processKey" maxLength:"255"`
	DueBefore  time.Time `query:"dueBefore" doc:"Only tasks due before this time (RFC 3339)."`
	Entity     string    `query:"entity" maxLength:"100" doc:"Only tasks of instances bound to records of this entity."`
	Record     string    `query:"record" maxLength:"100" doc:"Only tasks of instances bound to this record."`
	Sort       string    `query:"sort" enum:"priority,due,-due,created,-created" doc:"priority (default): highest first, then earliest due."`
	Limit      int       `query:"limit" minimum:"0" maximum:"200" doc:"Page size (default 50)."`
	Cursor     string    `query:"cursor" maxLength:"2000" doc:"The next value of the previous page."`
}

type taskInput struct {
	ID string `path:"id" maxLength:"400" doc:"Task ID from GET /api/v1/tasks."`
}

type assignTaskInput struct {
	ID   string `path:"id" maxLength:"400"`
	Body struct {
		Assignee string `json:"assignee,omitempty" maxLength:"255" doc:"The new assignee's user ID; empty unassigns."`
		Reason   string `json:"reason" minLength:"1" maxLength:"1000"`
	}
}

type assignedOutput struct {
	Body process.AssignResult
}

func (s *Server) registerTasks() {
	tags := []string{"tasks"}
	Register(s, huma.Operation{OperationID: "list-tasks", Method: http.MethodGet, Path: "/api/v1/tasks", Tags: tags,
		Summary: "My task inbox",
		Description: "Open user tasks assigned to the caller, and unassigned ones offered to the caller or a group of theirs (team or role), " +
			"filtered, sorted and paged, with counts, each with its form and the display name of the record it is about."},
		Access{Permission: access.TasksRead}, s.listTasks)
	Register(s, huma.Operation{OperationID: "claim-task", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/claim", Tags: tags,
		Summary: "Claim a task", Description: "Assigns an unassigned task offered to the caller (or a group of theirs) to the caller; 409 when someone claimed it first."},
		Access{Permission: access.TasksComplete}, s.claimTask)
	Register(s, huma.Operation{OperationID: "unclaim-task", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/unclaim", Tags: tags,
		Summary: "Give a claimed task back", Description: "Unassigns a task assigned to the caller, so its candidates may claim it."},
		Access{Permission: access.TasksComplete}, s.unclaimTask)
	Register(s, huma.Operation{OperationID: "assign-task", Method: http.MethodPost, Path: "/api/v1/tasks/{id}/assign", Tags: tags,
		Summary: "Reassign a task", Description: "A process operator (instances.operate and an owner of the process) gives the task to someone else or unassigns it, with a reason."},
		Access{Permission: access.InstancesOperate}, s.assignTask)
	Register(s, huma.Operation{OperationID: "rebuild-inbox", Method: http.MethodPost, Path: "/api/v1/tasks/rebuild", Tags: tags,
		Summary: "Rebuild the task inbox",
		Description: "Maintenance: asks every running instance with open user tasks for them and writes them to the inbox, and removes the tasks of instances that no longer run " +
			"(after the inbox store was lost, or an instance could not write to it). One query per instance: run it rarely."},
		Access{Permission: access.SystemSettings}, s.rebuildInbox)
}

func (s *Server) rebuildInbox(ctx context.Context, _ *struct{}) (*struct{ Body instances.Rebuilt }, error) {
	out, err := s.deps.Instances.RebuildInbox(ctx)
	if err != nil {
		return nil, err
	}
	s.record(ctx, audit.Event{Action: "inbox.rebuild", Outcome: audit.OutcomeSuccess, Target: audit.Target{Type: "inbox"},
		Details: map[string]any{"written": out.Written, "removed": out.Removed}})
	return &struct{ Body instances.Rebuilt }{Body: out}, nil
}

// inboxViewer is the caller as the inbox knows people: user ID and e-mail, teams and roles.
func inboxViewer(p *Principal) inbox.Viewer {
	u := p.User
	return inbox.Viewer{IDs: []string{u.ID, u.Email}, Groups: append(slices.Clone(u.Teams), u.Roles...)}
}

func (s *Server) listTasks(ctx context.Context, in *listTasksInput) (*struct{ Body inbox.Page }, error) {
	page, err := s.deps.Inbox.Read(ctx, inboxViewer(PrincipalFrom(ctx)), inbox.Query{View: in.View, Group: in.Group, ProcessKey: in.ProcessKey,
		DueBefore: in.DueBefore, Entity: in.Entity, RecordID: in.Record, Sort: in.Sort, Limit: in.Limit, Cursor: in.Cursor})
	var pe *inbox.ParamError
	if errors.As(err, &pe) {
		p := Typed(http.StatusBadRequest, "inbox-query-invalid", pe.Error())
		p.Errors = []FieldError{{Parameter: pe.Param, Message: pe.Msg}}
		return nil, p
	}
	if err != nil {
		return nil, err
	}
	if err := s.hideRecordNames(ctx, page.Items); err != nil {
		return nil, err
	}
	return &struct{ Body inbox.Page }{Body: page}, nil
}

// hideRecordNames blanks the record name of every inbox item whose reader may not see it: a task can be
// offered to someone outside the record's scope (a candidate group spanning teams), and the name comes
// from one of the record's fields, which may be hidden from the reader. Whether the record is in scope
// is decided on the record as stored now (one read by ID per record whose scope is not "all").
func (s *Server) hideRecordNames(ctx context.Context, items []inbox.PageItem) error {
	decisions := map[string]access.Decision{}
	for i := range items {
		it := &items[i].Item
		if it.RecordName == "" {
			continue
		}
		d, ok := decisions[it.Entity]
		if !ok {
			d = s.recordDecision(ctx, it.Entity)
			decisions[it.Entity] = d
		}
		if !d.Can(access.ActionRead) || slices.Contains(d.HiddenFields(), it.NameField) {
			it.RecordName = ""
			continue
		}
		if d.Scope(access.ActionRead) == access.ScopeAll {
			continue
		}
		if s.deps.Records == nil || it.RecordID == "" {
			it.RecordName = ""
			continue
		}
		rec, err := s.deps.Records.Lookup(ctx, it.Entity, it.RecordID)
		if errors.Is(err, records.ErrNotFound) {
			it.RecordName = ""
			continue
		}
		if err != nil {
			return fmt.Errorf("record of task %s: %w", it.ID, err)
		}
		if !d.InScope(access.ActionRead, rec) {
			it.RecordName = ""
		}
	}
	return nil
}

// splitTaskID reads <instance>~<task> from a task ID as it stands in a path, percent-encoded where the
// instance ID holds a "/" (a child instance's ID does).
func splitTaskID(segment string) (string, string, error) {
	id, err := pathID(segment, "task")
	if err != nil {
		return "", "", err
	}
	instanceID, taskID, ok := strings.Cut(id, "~")
	if !ok || instanceID == "" || taskID == "" {
		return "", "", NewProblem(http.StatusNotFound, "no task "+id)
	}
	return instanceID, taskID, nil
}

// claimTask and unclaimTask change a task's assignee for the caller: a claim from nobody to the
// caller, an unclaim from the caller to nobody; each conditional on the assignee it saw.
func (s *Server) claimTask(ctx context.Context, in *taskInput) (*assignedOutput, error) {
	return s.reassignOwn(ctx, in.ID, "task.claim", func(p *Principal, t process.UserTask) (string, string, error) {
		v := inboxViewer(p)
		offered := slices.ContainsFunc(t.CandidateUsers, func(u string) bool { return slices.Contains(v.IDs, u) }) ||
			slices.ContainsFunc(t.CandidateGroups, func(g string) bool { return slices.Contains(v.Groups, g) })
		switch {
		case t.Assignee != "" && slices.Contains(v.IDs, t.Assignee):
			return "", "", Typed(http.StatusConflict, "claimed-already", "the task is yours already")
		case t.Assignee != "":
			return "", "", Typed(http.StatusConflict, "claimed-already", "someone else has the task")
		case !offered:
			s.record(ctx, audit.Event{Action: "task.claim", Outcome: audit.OutcomeDenied, Target: audit.Target{Type: "task", ID: in.ID}})
			return "", "", Typed(http.StatusForbidden, "not-a-candidate", "the task is not offered to you or a group of yours")
		}
		return "", p.User.ID, nil
	})
}

func (s *Server) unclaimTask(ctx context.Context, in *taskInput) (*assignedOutput, error) {
	return s.reassignOwn(ctx, in.ID, "task.unclaim", func(p *Principal, t process.UserTask) (string, string, error) {
		if t.Assignee == "" || !slices.Contains(inboxViewer(p).IDs, t.Assignee) {
			return "", "", Typed(http.StatusConflict, "not-claimed", "the task is not assigned to you")
		}
		return t.Assignee, "", nil
	})
}

// reassignOwn reads the open task, lets decide say from whom to whom it goes (or refuse), reassigns it
// conditionally and audits the change.
func (s *Server) reassignOwn(ctx context.Context, id, action string, decide func(*Principal, process.UserTask) (from, to string, err error)) (*assignedOutput, error) {
	instanceID, taskID, err := splitTaskID(id)
	if err != nil {
		return nil, err
	}
	p := PrincipalFrom(ctx)
	t, err := s.openTask(ctx, instanceID, taskID)
	if err != nil {
		return nil, err
	}
	from, to, err := decide(p, t)
	if err != nil {
		return nil, err
	}
	reason := "claimed"
	if to == "" {
		reason = "given back"
	}
	res, err := s.deps.Instances.Reassign(ctx, instanceID, taskID, from, to, process.Operator{By: p.User.ID, Reason: reason})
	if err != nil {
		return nil, taskError(err, id)
	}
	s.record(ctx, audit.Event{Action: action, Outcome: audit.OutcomeSuccess, Target: audit.Target{Type: "task", ID: id},
		Before: map[string]any{"assignee": res.Before}, After: map[string]any{"assignee": res.After}})
	return &assignedOutput{Body: res}, nil
}

func (s *Server) assignTask(ctx context.Context, in *assignTaskInput) (*instanceOutcome, error) {
	instanceID, taskID, err := splitTaskID(in.ID)
	if err != nil {
		return nil, err
	}
	out, err := s.operate(ctx, instanceID, instances.Operation{Kind: instances.OpAssign, Reason: in.Body.Reason, TaskID: taskID, Assignee: in.Body.Assignee})
	if err != nil {
		return nil, err
	}
	return &instanceOutcome{Body: out}, nil
}

// taskError maps a refused claim: the task is gone or someone came first (409).
func taskError(err error, id string) error {
	var refused *instances.Refused
	if errors.As(err, &refused) {
		return Typed(http.StatusConflict, "task-refused", refused.Msg)
	}
	if errors.Is(err, instances.ErrNotFound) {
		return NewProblem(http.StatusNotFound, "no task "+id)
	}
	return err
}

// completeTask sends the completion straight to the instance, with who completes it: the instance's
// validator refuses an unknown task, a caller the task is neither assigned nor offered to, a suspended
// instance and form output of the wrong type, before anything changes. One update and no query on the
// way: the answer comes once the instance applied the completion and (behaviour level 6) wrote the
// inbox in the same workflow task. A caller refused as not a candidate who may operate the process
// (mayOperate, read only then) is sent again as an operator.
func (s *Server) completeTask(ctx context.Context, in *completeInput) (*struct{}, error) {
	instanceID, taskID, err := splitTaskID(in.ID)
	if err != nil {
		return nil, err
	}
	p := PrincipalFrom(ctx)
	v := inboxViewer(p)
	caller := &process.TaskCaller{IDs: v.IDs, Groups: v.Groups, Operator: s.allows(p, "*")}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := s.sendCompletion(ctx, instanceID, process.CompleteTaskRequest{TaskID: taskID, Variables: in.Body.Variables, By: p.User.ID, Caller: caller})
	var refused *temporal.ApplicationError
	if errors.As(err, &refused) && refused.Type() == process.ErrorTypeNotYourTask && !caller.Operator && s.mayOperate(ctx, p, instanceID) {
		caller.Operator = true
		res, err = s.sendCompletion(ctx, instanceID, process.CompleteTaskRequest{TaskID: taskID, Variables: in.Body.Variables, By: p.User.ID, Caller: caller})
	}
	if err != nil {
		return nil, s.completionProblem(ctx, err, in.ID)
	}
	details := map[string]any{}
	if res.Element != "" { // instances at behaviour levels before 6 do not say
		details["element"] = res.Element
	}
	s.record(ctx, audit.Event{Action: "task.complete", Outcome: audit.OutcomeSuccess,
		Target: audit.Target{Type: "task", ID: in.ID}, After: in.Body.Variables, Details: details})
	return nil, nil
}

// sendCompletion sends UpdateCompleteTask and waits for the instance's answer.
func (s *Server) sendCompletion(ctx context.Context, instanceID string, req process.CompleteTaskRequest) (process.CompleteTaskResult, error) {
	var res process.CompleteTaskResult
	handle, err := s.deps.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: instanceID, UpdateName: process.UpdateCompleteTask, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{req},
	})
	if err != nil {
		return res, fmt.Errorf("complete task %s~%s: %w", instanceID, req.TaskID, err)
	}
	if err := handle.Get(ctx, &res); err != nil {
		return res, fmt.Errorf("complete task %s~%s: %w", instanceID, req.TaskID, err)
	}
	return res, nil
}

// completionProblem maps a refused completion: no such instance or open task (404), a caller the task
// is not for (403, audited), anything else the instance refused (422: nothing changed).
func (s *Server) completionProblem(ctx context.Context, err error, id string) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return NewProblem(http.StatusNotFound, "no task "+id)
	}
	var refused *temporal.ApplicationError
	if errors.As(err, &refused) {
		switch refused.Type() {
		case process.ErrorTypeNoTask:
			return NewProblem(http.StatusNotFound, "no open task "+id)
		case process.ErrorTypeNotYourTask:
			details := map[string]any{}
			var element string
			if refused.HasDetails() && refused.Details(&element) == nil {
				details["element"] = element
			}
			s.record(ctx, audit.Event{Action: "task.complete", Outcome: audit.OutcomeDenied, Target: audit.Target{Type: "task", ID: id}, Details: details})
			return Typed(http.StatusForbidden, "not-your-task", "the task is assigned to someone else; only its assignee, a candidate or a process operator may complete it")
		}
		return Typed(http.StatusUnprocessableEntity, "task-refused", refused.Message())
	}
	if ctx.Err() != nil {
		return err
	}
	// The instance's validator refused the completion: nothing changed.
	return Typed(http.StatusUnprocessableEntity, "task-refused", err.Error())
}
