package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// PluginDescription is a plugin's self-description: what it is, which optional methods work, and the
// JSON Schema of its configuration, from which the admin UI draws the connector form.
type PluginDescription struct {
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Vendor       string          `json:"vendor,omitempty"`
	Capabilities []string        `json:"capabilities"`
	ConfigSchema json.RawMessage `json:"configSchema" doc:"JSON Schema (2020-12) of the configuration object; fields marked writeOnly or x-secret are secrets."`
}

type pluginNameInput struct {
	Name string `path:"name" pattern:"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$" doc:"Installed plugin name."`
}

// registerPluginDescribe adds GET /api/v1/plugins/{name}: the plugin describes itself (launched once,
// unconfigured; the answer is cached by the host).
func (s *Server) registerPluginDescribe(tags []string) {
	Register(s, huma.Operation{OperationID: "describe-plugin", Method: http.MethodGet, Path: "/api/v1/plugins/{name}", Tags: tags,
		Summary: "A plugin's description and configuration schema", Errors: []int{http.StatusNotFound}},
		Access{Permission: "connectors.read"}, func(ctx context.Context, in *pluginNameInput) (*struct{ Body PluginDescription }, error) {
			h, err := s.plugins()
			if err != nil {
				return nil, err
			}
			d, err := h.Describe(ctx, in.Name)
			if err != nil {
				return nil, connectorProblem(err, "")
			}
			out := PluginDescription{Name: d.Name, Version: d.Version, Vendor: d.Vendor, Capabilities: []string{}, ConfigSchema: d.ConfigSchema}
			for _, c := range d.Capabilities {
				out.Capabilities = append(out.Capabilities, string(c))
			}
			if len(out.ConfigSchema) == 0 {
				out.ConfigSchema = json.RawMessage(`{}`)
			}
			return &struct{ Body PluginDescription }{Body: out}, nil
		})
}
