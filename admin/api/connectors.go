package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/audit"

	"github.com/danielgtaylor/huma/v2"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/engine/connections"
	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/rapportcrm/rapport/workflows/erpsync"
)

// PermConnectors guards every plugin and connector operation: connectors hold ERP credentials.
const PermConnectors = "connectors.manage"

// ConnectorView is a configured connector instance; secrets in its configuration are replaced by "********".
type ConnectorView struct {
	Name    string          `json:"name"`
	Plugin  string          `json:"plugin"`
	Config  json.RawMessage `json:"config"`
	Running bool            `json:"running" doc:"Whether its plugin process is up (it starts on first use)."`
}

type connectorInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_-]{0,62}$" doc:"Instance name, e.g. erp-prod."`
}

type putConnectorInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_-]{0,62}$" doc:"Instance name, e.g. erp-prod."`
	Body struct {
		Plugin string          `json:"plugin" minLength:"1" doc:"Name of the installed plugin."`
		Config json.RawMessage `json:"config" doc:"Configuration, validated against the plugin's schema. Secrets sent back as \"********\" keep their stored value only when nothing else changes; changing where the connector points requires entering them again."`
	}
}

type callConnectorInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_-]{0,62}$" doc:"Instance name, e.g. erp-prod."`
	Body struct {
		Method  string          `json:"method" minLength:"1" doc:"Connector method, e.g. FindCustomers."`
		Request json.RawMessage `json:"request,omitempty" doc:"The method's request as JSON."`
	}
}

type connectorsOutput struct{ Body []ConnectorView }
type connectorOutput struct{ Body ConnectorView }
type callOutput struct{ Body any }

func (s *Server) registerConnectors() {
	tags := []string{"connectors"}
	s.registerPlugins()
	Register(s, huma.Operation{OperationID: "list-connectors", Method: http.MethodGet, Path: "/api/v1/connectors", Tags: tags,
		Summary: "Configured connectors"}, Access{Permission: "connectors.read"}, s.listConnectors)
	Register(s, huma.Operation{OperationID: "put-connector", Method: http.MethodPut, Path: "/api/v1/connectors/{name}", Tags: tags,
		Summary:     "Configure a connector",
		Description: "Creates or replaces a named instance of a plugin. The configuration is validated against the plugin's schema and handed to the plugin, which checks it (for example that the ERP answers), before it is stored with its secrets encrypted."},
		Access{Permission: PermConnectors}, s.putConnector)
	Register(s, huma.Operation{OperationID: "delete-connector", Method: http.MethodDelete, Path: "/api/v1/connectors/{name}", Tags: tags,
		Summary: "Remove a connector", DefaultStatus: http.StatusNoContent},
		Access{Permission: PermConnectors}, s.deleteConnector)
	Register(s, huma.Operation{OperationID: "test-connector", Method: http.MethodPost, Path: "/api/v1/connectors/{name}/test", Tags: tags,
		Summary: "Test a connector's connection"}, Access{Permission: PermConnectors}, s.testConnector)
	Register(s, huma.Operation{OperationID: "call-connector", Method: http.MethodPost, Path: "/api/v1/connectors/{name}/call", Tags: tags,
		Summary: "Call a connector method (diagnosis)", Description: "Runs one connector method with a JSON request and returns its response."},
		Access{Permission: PermConnectors}, s.callConnector)
	s.registerSync()
}

func (s *Server) plugins() (*host.Host, error) {
	if s.deps.Plugins == nil {
		return nil, Typed(http.StatusServiceUnavailable, "plugins-disabled", "this server runs without a plugins directory")
	}
	return s.deps.Plugins, nil
}

func (s *Server) listConnectors(ctx context.Context, _ *struct{}) (*connectorsOutput, error) {
	h, err := s.plugins()
	if err != nil {
		return nil, err
	}
	stored, err := s.deps.Connectors.List(ctx)
	if err != nil {
		return nil, err
	}
	out := []ConnectorView{}
	for _, st := range stored {
		v, err := s.connectorView(ctx, h, st)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return &connectorsOutput{Body: out}, nil
}

// connectorView redacts a stored (sealed) configuration for output.
func (s *Server) connectorView(ctx context.Context, h *host.Host, st host.StoredInstance) (ConnectorView, error) {
	v := ConnectorView{Name: st.Name, Plugin: st.Plugin, Config: st.Config}
	if paths, err := h.SecretPaths(ctx, st.Plugin); err == nil {
		if v.Config, err = host.Redact(st.Config, paths); err != nil {
			return v, err
		}
	} else {
		// Without the plugin's schema nothing tells which fields are secret: show nothing.
		v.Config = json.RawMessage(`{}`)
	}
	if in, err := h.Instance(st.Name); err == nil {
		v.Running = in.PID() > 0
	}
	return v, nil
}

func (s *Server) putConnector(ctx context.Context, in *putConnectorInput) (*connectorOutput, error) {
	h, err := s.plugins()
	if err != nil {
		return nil, err
	}
	cfg := in.Body.Config
	if len(cfg) == 0 {
		cfg = json.RawMessage(`{}`)
	}
	paths, err := h.SecretPaths(ctx, in.Body.Plugin)
	if err != nil {
		return nil, connectorProblem(err, "/plugin")
	}
	if prev, found, err := s.deps.Connectors.Get(ctx, in.Name); err != nil {
		return nil, err
	} else if found && prev.Plugin == in.Body.Plugin {
		opened, err := s.deps.Sealer.OpenConfig(in.Name, prev.Config, paths)
		if err != nil {
			return nil, err
		}
		if cfg, err = connections.KeepSecrets(cfg, opened, paths); err != nil {
			var rb *connections.RebindError
			if errors.As(err, &rb) {
				p := Typed(http.StatusUnprocessableEntity, "secret-rebind", rb.Error())
				for _, sp := range rb.Secrets {
					p.Errors = append(p.Errors, FieldError{Pointer: "/config" + sp, Message: "enter the secret again: the connector now points elsewhere"})
				}
				return nil, p
			}
			return nil, connectorProblem(err, "/config")
		}
	}
	merged, err := h.ValidateConfig(ctx, in.Body.Plugin, cfg)
	if err != nil {
		return nil, connectorProblem(err, "/config")
	}
	if _, err := h.Configure(ctx, in.Name, in.Body.Plugin, merged); err != nil {
		return nil, connectorProblem(err, "/config")
	}
	sealed, err := s.deps.Sealer.SealConfig(in.Name, merged, paths)
	if err != nil {
		return nil, err
	}
	st := host.StoredInstance{Name: in.Name, Plugin: in.Body.Plugin, Config: sealed}
	if err := s.deps.Connectors.Put(ctx, st); err != nil {
		return nil, err
	}
	v, err := s.connectorView(ctx, h, st)
	if err != nil {
		return nil, err
	}
	s.record(ctx, audit.Event{Action: "connector.configure", Outcome: audit.OutcomeSuccess,
		Target: audit.Target{Type: "connector", ID: in.Name}, After: v})
	return &connectorOutput{Body: v}, nil
}

func (s *Server) deleteConnector(ctx context.Context, in *connectorInput) (*struct{}, error) {
	h, err := s.plugins()
	if err != nil {
		return nil, err
	}
	if err := s.deps.Connectors.Delete(ctx, in.Name); err != nil {
		return nil, err
	}
	h.Remove(in.Name)
	s.record(ctx, audit.Event{Action: "connector.remove", Outcome: audit.OutcomeSuccess, Target: audit.Target{Type: "connector", ID: in.Name}})
	return nil, nil
}

// instance returns a running instance, installing it from the store when this process has not yet.
func (s *Server) instance(ctx context.Context, name string) (*host.Instance, error) {
	if _, err := s.plugins(); err != nil {
		return nil, err
	}
	in, err := connections.Resolver{Host: s.deps.Plugins, Store: s.deps.Connectors, Sealer: s.deps.Sealer}.Instance(ctx, name)
	if errors.Is(err, connections.ErrUnknown) {
		return nil, NewProblem(http.StatusNotFound, "no connector named "+name)
	}
	if err != nil {
		return nil, connectorProblem(err, "")
	}
	return in, nil
}

func (s *Server) testConnector(ctx context.Context, in *connectorInput) (*callOutput, error) {
	inst, err := s.instance(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	resp, err := inst.Health(ctx, connector.HealthRequest{})
	if err != nil {
		return nil, connectorProblem(err, "")
	}
	return &callOutput{Body: resp}, nil
}

func (s *Server) callConnector(ctx context.Context, in *callConnectorInput) (*callOutput, error) {
	inst, err := s.instance(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	resp, err := host.Call(ctx, inst, in.Body.Method, in.Body.Request)
	if err != nil {
		return nil, connectorProblem(err, "/request")
	}
	return &callOutput{Body: resp}, nil
}

// connectorProblem maps a connector or host error to a problem with the matching status.
func connectorProblem(err error, pointer string) error {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	status := map[connector.Kind]int{
		connector.KindNotFound:    http.StatusNotFound,
		connector.KindInvalid:     http.StatusUnprocessableEntity,
		connector.KindConflict:    http.StatusConflict,
		connector.KindUnavailable: http.StatusBadGateway,
		connector.KindUnsupported: http.StatusNotImplemented,
		connector.KindPermanent:   http.StatusUnprocessableEntity,
		connector.KindTimeout:     http.StatusGatewayTimeout,
		connector.KindCanceled:    499,
	}[connector.KindOf(err)]
	if status == 0 {
		status = http.StatusBadGateway
	}
	if errors.Is(err, host.ErrChecksum) || errors.Is(err, host.ErrHandshake) || errors.Is(err, host.ErrLink) {
		status = http.StatusFailedDependency
	}
	prob := Typed(status, "connector-"+strings.ReplaceAll(connector.KindOf(err).String(), " ", "-"), err.Error())
	if status == http.StatusUnprocessableEntity && pointer != "" {
		prob.Errors = []FieldError{{Pointer: pointer, Message: err.Error()}}
	}
	return prob
}

// SyncStarted identifies a running ERP import.
type SyncStarted struct {
	InstanceID string `json:"instanceId"`
	RunID      string `json:"runId"`
}

type syncScheduleInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_-]{0,62}$"`
	Body struct {
		Every string `json:"every" doc:"How often to import, as a Go duration (\"1h\", \"15m\"); at least one minute."`
	}
}

func (s *Server) registerSync() {
	tags := []string{"connectors"}
	Register(s, huma.Operation{OperationID: "sync-connector", Method: http.MethodPost, Path: "/api/v1/connectors/{name}/sync", Tags: tags,
		Summary:       "Import the ERP's orders now",
		Description:   "Starts (or joins, if one is running) the import of the connector's sales orders into Order records, matched to companies by tax ID or to contacts by email. It resumes where the last import stopped.",
		DefaultStatus: http.StatusAccepted},
		Access{Permission: PermConnectors}, func(ctx context.Context, in *connectorInput) (*struct{ Body SyncStarted }, error) {
			if _, found, err := s.deps.Connectors.Get(ctx, in.Name); err != nil {
				return nil, err
			} else if !found {
				return nil, NewProblem(http.StatusNotFound, "no connector named "+in.Name)
			}
			run, err := s.deps.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "erpsync-" + in.Name, TaskQueue: s.deps.TaskQueue},
				erpsync.WorkflowName, erpsync.Input{Connector: in.Name})
			if err != nil {
				return nil, fmt.Errorf("start import: %w", err)
			}
			return &struct{ Body SyncStarted }{Body: SyncStarted{InstanceID: run.GetID(), RunID: run.GetRunID()}}, nil
		})
	Register(s, huma.Operation{OperationID: "schedule-connector-sync", Method: http.MethodPut, Path: "/api/v1/connectors/{name}/sync-schedule", Tags: tags,
		Summary: "Import the ERP's orders on a schedule", DefaultStatus: http.StatusNoContent},
		Access{Permission: PermConnectors}, func(ctx context.Context, in *syncScheduleInput) (*struct{}, error) {
			every, err := time.ParseDuration(in.Body.Every)
			if err != nil || every < time.Minute {
				return nil, &Problem{Type: problemBase + "validation", Title: "Unprocessable Entity", Status: http.StatusUnprocessableEntity,
					Detail: "invalid schedule", Errors: []FieldError{{Pointer: "/every", Message: "must be a duration of at least 1m, e.g. \"1h\""}}}
			}
			if _, found, err := s.deps.Connectors.Get(ctx, in.Name); err != nil {
				return nil, err
			} else if !found {
				return nil, NewProblem(http.StatusNotFound, "no connector named "+in.Name)
			}
			sc := s.deps.Temporal.ScheduleClient()
			id := "rapport-erpsync-" + in.Name
			_ = sc.GetHandle(ctx, id).Delete(ctx) // replaced below; a missing schedule is fine
			_, err = sc.Create(ctx, client.ScheduleOptions{
				ID: id, Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
				Action: &client.ScheduleWorkflowAction{ID: "erpsync-" + in.Name, Workflow: erpsync.WorkflowName,
					Args: []any{erpsync.Input{Connector: in.Name}}, TaskQueue: s.deps.TaskQueue},
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			})
			if err != nil {
				return nil, fmt.Errorf("schedule import: %w", err)
			}
			return nil, nil
		})
}
