package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/tasktypes"
)

// TestTaskTypes: the designer's catalogue of service task types is the engine's registry, for whoever
// reads processes.
func TestTaskTypes(t *testing.T) {
	tokens := builtInRoleTokens(t)
	s := Suite{Tokens: map[string]string{"analyst": tokens[access.RoleAnalyst], "viewer": tokens[access.RoleViewer],
		"owner": tokens[access.RoleProcessOwner], "agent": tokens[access.RoleAgent]}}
	s.Run(t, []Scenario{
		{Name: "without a credential", Method: http.MethodGet, URL: "/api/v1/task-types", Status: http.StatusUnauthorized},
		{Name: "an agent does not read processes", As: "agent", Method: http.MethodGet, URL: "/api/v1/task-types", Status: http.StatusForbidden,
			Lacks: []string{"record.create"}},
		{Name: "a viewer reads it", As: "viewer", Method: http.MethodGet, URL: "/api/v1/task-types", Status: http.StatusOK,
			Contains: []string{`"id":"record.create"`}},
		{Name: "a process owner reads it", As: "owner", Method: http.MethodGet, URL: "/api/v1/task-types", Status: http.StatusOK,
			Contains: []string{`"id":"connector"`}},
		{Name: "the analyst gets every type the registry describes, internal ones left out", As: "analyst", Method: http.MethodGet,
			URL: "/api/v1/task-types", Status: http.StatusOK,
			Contains: []string{`"aliases":{"io.camunda:http-json:1":"http"}`, `"name":"ruleset"`, `"freeInputs":true`},
			Lacks:    []string{`"id":"message.publish"`},
			Check: func(t *testing.T, r stacktest.Response) {
				var got struct {
					Types []tasktypes.Info `json:"types"`
				}
				if err := json.Unmarshal(r.Raw, &got); err != nil {
					t.Fatal(err)
				}
				want := tasktypes.Builtin().IDs()
				if len(got.Types) != len(want) {
					t.Fatalf("%d types, want %d (%v)", len(got.Types), len(want), want)
				}
				for i, info := range got.Types {
					if info.ID != want[i] || info.Title == "" || info.Doc == "" {
						t.Errorf("type %d is %+v, want %s described", i, info, want[i])
					}
					if info.ID == tasktypes.RecordFind && (info.Result == nil || info.Result.Fields["count"] == nil) {
						t.Errorf("record.find lost its result shape: %+v", info.Result)
					}
				}
			}},
	})
}
