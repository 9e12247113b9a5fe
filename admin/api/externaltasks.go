package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/externaltasks"
	"github.com/rapportcrm/rapport/workflows/process"
)

// registerExternalTasks adds the fetch-and-lock API for external task workers without a Temporal SDK
// (Camunda 7's protocol with plain JSON variables).
func (s *Server) registerExternalTasks() {
	tags := []string{"External tasks"}
	work := Access{Permission: "externaltasks.work"}
	Register(s, huma.Operation{OperationID: "fetch-and-lock-external-tasks", Method: http.MethodPost, Path: "/api/v1/external-tasks/fetchAndLock", Tags: tags,
		Summary: "Fetch and lock external tasks",
		Description: "Locks up to maxTasks open tasks of the given types for the worker, oldest first, each for its topic's lockDuration (milliseconds), " +
			"and returns them with their variables (fields hidden from the caller removed). Answers at once; an empty list means there is no work."},
		work, s.fetchAndLock)
	Register(s, huma.Operation{OperationID: "complete-external-task", Method: http.MethodPost, Path: "/api/v1/external-tasks/{id}/complete", Tags: tags,
		Summary: "Complete an external task", DefaultStatus: http.StatusNoContent,
		Description: "The variables are merged into the process (or read by the task's output mappings as result) and the process continues."},
		work, s.completeExternalTask)
	Register(s, huma.Operation{OperationID: "fail-external-task", Method: http.MethodPost, Path: "/api/v1/external-tasks/{id}/failure", Tags: tags,
		Summary: "Report a failed attempt", DefaultStatus: http.StatusNoContent,
		Description: "With retries above 0 the task is offered again after retryTimeout (milliseconds); with 0 the process gets an incident with the error message, which an operator retries."},
		work, s.failExternalTask)
	Register(s, huma.Operation{OperationID: "bpmn-error-external-task", Method: http.MethodPost, Path: "/api/v1/external-tasks/{id}/bpmnError", Tags: tags,
		Summary: "Throw a BPMN error", DefaultStatus: http.StatusNoContent,
		Description: "An error boundary event of the task (or an error event sub-process) with the error code catches it; uncaught, it is an incident."},
		work, s.bpmnErrorExternalTask)
	Register(s, huma.Operation{OperationID: "extend-lock-external-task", Method: http.MethodPost, Path: "/api/v1/external-tasks/{id}/extendLock", Tags: tags,
		Summary: "Extend the lock", DefaultStatus: http.StatusNoContent, Description: "The lock now ends newDuration milliseconds from now."},
		work, s.extendExternalTaskLock)
}

// ExternalTopic is one task type a worker fetches.
type ExternalTopic struct {
	Type         string `json:"type" minLength:"1" maxLength:"255" doc:"The task type (zeebe:taskDefinition type, or the Camunda 7 topic)."`
	LockDuration int64  `json:"lockDuration" minimum:"1000" maximum:"86400000" doc:"How long the tasks stay locked, in milliseconds."`
}

type fetchInput struct {
	Body struct {
		WorkerID string          `json:"workerId" minLength:"1" maxLength:"255" doc:"Names the worker; only it may finish what it locked."`
		MaxTasks int             `json:"maxTasks,omitempty" minimum:"1" maximum:"100" doc:"At most this many tasks (default 10)."`
		Topics   []ExternalTopic `json:"topics" minItems:"1" maxItems:"50"`
	}
}

type completeExternalInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		WorkerID  string         `json:"workerId" minLength:"1" maxLength:"255" doc:"The worker that locked the task."`
		Variables map[string]any `json:"variables,omitempty" doc:"The task's result variables."`
	}
}

type failExternalInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		WorkerID     string `json:"workerId" minLength:"1" maxLength:"255" doc:"The worker that locked the task."`
		ErrorMessage string `json:"errorMessage" minLength:"1" maxLength:"4000" doc:"What went wrong; the incident shows it."`
		Retries      int    `json:"retries" minimum:"0" maximum:"1000" doc:"How many more attempts; 0 raises an incident."`
		RetryTimeout int64  `json:"retryTimeout,omitempty" minimum:"0" maximum:"86400000" doc:"Milliseconds before the task is offered again."`
	}
}

type bpmnErrorInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		WorkerID     string `json:"workerId" minLength:"1" maxLength:"255" doc:"The worker that locked the task."`
		ErrorCode    string `json:"errorCode" minLength:"1" maxLength:"255" doc:"Matched against the errorCode of error boundary events."`
		ErrorMessage string `json:"errorMessage,omitempty" maxLength:"4000"`
	}
}

type extendLockInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		WorkerID    string `json:"workerId" minLength:"1" maxLength:"255" doc:"The worker that locked the task."`
		NewDuration int64  `json:"newDuration" minimum:"1000" maximum:"86400000" doc:"Milliseconds from now."`
	}
}

func (s *Server) fetchAndLock(ctx context.Context, in *fetchInput) (*struct{ Body []process.LockedTask }, error) {
	max := in.Body.MaxTasks
	if max == 0 {
		max = 10
	}
	topics := make([]externaltasks.Topic, 0, len(in.Body.Topics))
	for _, t := range in.Body.Topics {
		topics = append(topics, externaltasks.Topic{Type: t.Type, LockDuration: time.Duration(t.LockDuration) * time.Millisecond})
	}
	tasks, err := s.deps.ExternalTasks.FetchAndLock(ctx, in.Body.WorkerID, max, topics)
	if err != nil {
		return nil, err
	}
	hidden, err := s.hiddenAnywhere(ctx)
	if err != nil {
		return nil, err
	}
	for i := range tasks {
		for k, v := range tasks[i].Variables {
			tasks[i].Variables[k] = stripRecords(v, hidden)
		}
	}
	return &struct{ Body []process.LockedTask }{Body: tasks}, nil
}

func (s *Server) completeExternalTask(ctx context.Context, in *completeExternalInput) (*struct{}, error) {
	err := s.deps.ExternalTasks.Complete(ctx, in.ID, in.Body.WorkerID, in.Body.Variables)
	return s.externalDone(ctx, "external-task.complete", in.ID, in.Body.WorkerID, nil, err)
}

func (s *Server) failExternalTask(ctx context.Context, in *failExternalInput) (*struct{}, error) {
	err := s.deps.ExternalTasks.Fail(ctx, in.ID, in.Body.WorkerID, in.Body.ErrorMessage, in.Body.Retries,
		time.Duration(in.Body.RetryTimeout)*time.Millisecond)
	return s.externalDone(ctx, "external-task.fail", in.ID, in.Body.WorkerID,
		map[string]any{"errorMessage": in.Body.ErrorMessage, "retries": in.Body.Retries}, err)
}

func (s *Server) bpmnErrorExternalTask(ctx context.Context, in *bpmnErrorInput) (*struct{}, error) {
	err := s.deps.ExternalTasks.ThrowError(ctx, in.ID, in.Body.WorkerID, in.Body.ErrorCode, in.Body.ErrorMessage)
	return s.externalDone(ctx, "external-task.bpmn-error", in.ID, in.Body.WorkerID, map[string]any{"errorCode": in.Body.ErrorCode}, err)
}

func (s *Server) extendExternalTaskLock(ctx context.Context, in *extendLockInput) (*struct{}, error) {
	err := s.deps.ExternalTasks.ExtendLock(ctx, in.ID, in.Body.WorkerID, time.Duration(in.Body.NewDuration)*time.Millisecond)
	return externalProblem(err)
}

// externalDone audits what a worker did to a task and answers it.
func (s *Server) externalDone(ctx context.Context, action, id, worker string, details map[string]any, err error) (*struct{}, error) {
	if err != nil {
		return externalProblem(err)
	}
	if details == nil {
		details = map[string]any{}
	}
	details["workerId"] = worker
	s.record(ctx, audit.Event{Action: action, Outcome: audit.OutcomeSuccess, Target: audit.Target{Type: "external-task", ID: id}, Details: details})
	return nil, nil
}

// externalProblem maps what the external task operations refuse.
func externalProblem(err error) (*struct{}, error) {
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, externaltasks.ErrNotFound):
		return nil, Typed(http.StatusNotFound, "external-task-not-found", "no open external task has this id: it was finished, or its process no longer waits for it")
	case errors.Is(err, externaltasks.ErrNotLocked):
		p := Typed(http.StatusConflict, "external-task-not-locked", "the task is not locked by this worker: another worker holds it or the lock expired; fetch and lock it again")
		p.Errors = []FieldError{{Pointer: "/workerId", Message: "does not hold the task's lock"}}
		return nil, p
	}
	return nil, err
}
