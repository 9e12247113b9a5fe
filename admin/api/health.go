package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// HealthStatus says whether the process is alive.
type HealthStatus struct {
	Status string `json:"status" enum:"ok"`
}

// Check is the outcome of one readiness probe.
type Check struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// ReadyStatus lists each dependency's state; the whole is ready only when all are.
type ReadyStatus struct {
	Ready  bool             `json:"ready"`
	Checks map[string]Check `json:"checks"`
}

type healthOutput struct{ Body HealthStatus }

type readyOutput struct {
	Status int
	Body   ReadyStatus
}

func (s *Server) registerHealth() {
	Register(s, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"health"},
		Summary: "Liveness", Description: "200 while the process is running; it checks nothing else.",
	}, Access{Public: true}, func(context.Context, *struct{}) (*healthOutput, error) {
		return &healthOutput{Body: HealthStatus{Status: "ok"}}, nil
	})
	Register(s, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"health"},
		Summary:     "Readiness",
		Description: "200 when MongoDB answers a ping, the Temporal frontend answers, and a worker polls Rapport's task queue; 503 otherwise, naming what failed.",
		Responses:   map[string]*huma.Response{"503": {Description: "Not ready"}},
	}, Access{Public: true}, s.ready)
}

func (s *Server) ready(ctx context.Context, _ *struct{}) (*readyOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	checks := map[string]Check{
		"mongodb":  probe(func() error { return s.deps.DB.Client().Ping(ctx, nil) }),
		"temporal": probe(func() error { _, err := s.deps.Temporal.CheckHealth(ctx, nil); return err }),
		"worker":   s.workerPolling(ctx),
	}
	out := &readyOutput{Status: http.StatusOK, Body: ReadyStatus{Ready: true, Checks: checks}}
	for _, c := range checks {
		if !c.OK {
			out.Status = http.StatusServiceUnavailable
			out.Body.Ready = false
		}
	}
	return out, nil
}

// workerPolling asks Temporal whether any worker (in this process or another) polls the task queue.
func (s *Server) workerPolling(ctx context.Context) Check {
	resp, err := s.deps.Temporal.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     s.deps.Namespace,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: s.deps.TaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW,
	})
	if err != nil {
		return Check{Error: err.Error()}
	}
	if len(resp.GetPollers()) == 0 {
		return Check{Error: "no worker is polling task queue " + s.deps.TaskQueue}
	}
	return Check{OK: true}
}

func probe(f func() error) Check {
	if err := f(); err != nil {
		return Check{Error: err.Error()}
	}
	return Check{OK: true}
}
