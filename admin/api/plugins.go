package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/plugins/host"
)

// PluginView is an installed plugin as the API shows it.
type PluginView struct {
	Name            string `json:"name"`
	Binary          string `json:"binary"`
	SHA256          string `json:"sha256"`
	ProtocolVersion int    `json:"protocolVersion"`
	Error           string `json:"error,omitempty" doc:"Why the plugin cannot be used (bad manifest, checksum mismatch, a symbolic link...)."`
}

// OperationView is an operation a plugin describes, called from a BPMN connector task whose operation
// header is its name.
type OperationView struct {
	Name        string          `json:"name" doc:"e.g. prices.quote"`
	Description string          `json:"description,omitempty"`
	Input       json.RawMessage `json:"input,omitempty" doc:"JSON Schema of the input object; the task's input mappings set its properties."`
	Output      json.RawMessage `json:"output,omitempty" doc:"JSON Schema of the output, the task's result."`
}

// PluginDescription is what a plugin says about itself: what a process designer offers for its connectors.
type PluginDescription struct {
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Vendor       string          `json:"vendor,omitempty"`
	Capabilities []string        `json:"capabilities" doc:"The fixed methods it offers, e.g. orders.get for GetOrder."`
	ConfigSchema json.RawMessage `json:"configSchema" doc:"JSON Schema (2020-12) of a connector's configuration; fields marked writeOnly or x-secret are secrets. {} when the plugin takes none."`
	Operations   []OperationView `json:"operations" doc:"Its own operations beyond the fixed methods (connector protocol 2)."`
}

type pluginInput struct {
	Name string `path:"name" pattern:"^[a-z0-9][a-z0-9_-]{0,62}$" doc:"Plugin name (its folder in the plugins directory)."`
}

type pluginsOutput struct{ Body []PluginView }

func (s *Server) registerPlugins() {
	tags := []string{"connectors"}
	Register(s, huma.Operation{OperationID: "list-plugins", Method: http.MethodGet, Path: "/api/v1/plugins", Tags: tags,
		Summary:     "Installed plugins",
		Description: "Plugins found in the plugins directory, each binary verified against its manifest, with the reason when one cannot be used."},
		Access{Permission: "connectors.read"}, s.listPlugins)
	Register(s, huma.Operation{OperationID: "describe-plugin", Method: http.MethodGet, Path: "/api/v1/plugins/{name}", Tags: tags,
		Summary:     "A plugin's self-description",
		Description: "Its capabilities, configuration schema and operations with their input and output schemas (the plugin is started once to ask, then the answer is cached)."},
		Access{Permission: "connectors.read"}, s.describePlugin)
	Register(s, huma.Operation{OperationID: "rescan-plugins", Method: http.MethodPost, Path: "/api/v1/plugins/rescan", Tags: tags,
		Summary: "Apply what changed in the plugins directory",
		Description: "Reads the plugins directory again, as the server also does on its own when the directory changes: new plugins become usable, " +
			"removed ones stop, and a plugin whose manifest names a new binary and checksum is upgraded without a restart (calls in flight finish on the old process)."},
		Access{Permission: PermConnectors}, s.rescanPlugins)
}

func (s *Server) listPlugins(context.Context, *struct{}) (*pluginsOutput, error) {
	h, err := s.plugins()
	if err != nil {
		return nil, err
	}
	out := []PluginView{}
	for _, p := range h.Plugins() {
		v := PluginView{Name: p.Name, Binary: p.Manifest.Binary, SHA256: p.Manifest.SHA256, ProtocolVersion: p.Manifest.ProtocolVersion}
		if err := p.Verify(); err != nil {
			v.Error = err.Error()
		}
		out = append(out, v)
	}
	return &pluginsOutput{Body: out}, nil
}

func (s *Server) describePlugin(ctx context.Context, in *pluginInput) (*struct{ Body PluginDescription }, error) {
	h, err := s.plugins()
	if err != nil {
		return nil, err
	}
	d, err := h.Describe(ctx, in.Name)
	if err != nil {
		return nil, connectorProblem(err, "")
	}
	out := PluginDescription{Name: d.Name, Version: d.Version, Vendor: d.Vendor, ConfigSchema: d.ConfigSchema,
		Capabilities: []string{}, Operations: []OperationView{}}
	for _, c := range d.Capabilities {
		out.Capabilities = append(out.Capabilities, string(c))
	}
	if len(out.ConfigSchema) == 0 {
		out.ConfigSchema = json.RawMessage(`{}`)
	}
	for _, op := range d.Operations {
		out.Operations = append(out.Operations, OperationView{Name: op.Name, Description: op.Description, Input: op.Input, Output: op.Output})
	}
	return &struct{ Body PluginDescription }{Body: out}, nil
}

func (s *Server) rescanPlugins(ctx context.Context, _ *struct{}) (*struct{ Body host.RescanReport }, error) {
	h, err := s.plugins()
	if err != nil {
		return nil, err
	}
	rep, err := h.Rescan(ctx)
	if err != nil {
		return nil, err
	}
	if rep.Instances == nil {
		rep.Instances = []host.InstanceChange{}
	}
	for _, l := range []*[]string{&rep.Added, &rep.Upgraded, &rep.Removed} {
		if *l == nil {
			*l = []string{}
		}
	}
	if rep.Changed() {
		s.record(ctx, audit.Event{Action: "plugins.rescan", Outcome: audit.OutcomeSuccess, Target: audit.Target{Type: "plugins"}, After: rep})
	}
	return &struct{ Body host.RescanReport }{Body: rep}, nil
}
