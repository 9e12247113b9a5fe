package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/tasktypes"
)

// The catalogue of service task types (engine/tasktypes), as each type describes itself: the designer's
// properties panel and the Camunda Modeler element templates are generated from it, so a new task type
// reaches them without a change to the web app. Reading it needs what reading processes needs.

// TaskTypeCatalogue is the task types a service task may name and the other names some of them answer to.
type TaskTypeCatalogue struct {
	Types []tasktypes.Info `json:"types" doc:"Every task type a service task may name, in the order the designer lists them."`
	// Aliases map another name (Camunda's REST connector) to the type it runs as.
	Aliases map[string]string `json:"aliases" doc:"Other names of a type, e.g. io.camunda:http-json:1 runs as http."`
}

func (s *Server) registerTaskTypes() {
	Register(s, huma.Operation{OperationID: "list-task-types", Method: http.MethodGet, Path: "/api/v1/task-types", Tags: []string{"processes"},
		Summary: "Service task types",
		Description: "The task types Rapport runs itself, each with its headers, inputs and the shape of its result, from the engine's registry. " +
			"A service task naming another type is an external task, run by a worker outside Rapport."},
		Access{Permission: access.ProcessesRead}, s.listTaskTypes)
}

func (s *Server) listTaskTypes(context.Context, *struct{}) (*struct{ Body TaskTypeCatalogue }, error) {
	reg := tasktypes.Builtin()
	out := TaskTypeCatalogue{Aliases: reg.Aliases()}
	for _, info := range reg.Infos() {
		if !info.Internal {
			out.Types = append(out.Types, info)
		}
	}
	return &struct{ Body TaskTypeCatalogue }{Body: out}, nil
}
