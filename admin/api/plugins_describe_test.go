package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPluginDescribe: GET /api/v1/plugins/{name} gives the plugin's own description with the JSON Schema
// of its configuration, which the admin app draws the connector form from.
func TestPluginDescribe(t *testing.T) {
	_, agent := newUser(t, "describe-agent@example.test", []string{"agent"}, nil)
	tests := []struct {
		name   string
		path   string
		token  string
		status int
		want   []string
	}{
		{"the csv plugin describes itself", "/api/v1/plugins/csv", env.AdminToken, http.StatusOK, []string{`"name":"csv"`, `"configSchema":{`, `"dir"`, `"capabilities":["`}},
		{"an unknown plugin is not found", "/api/v1/plugins/nope", env.AdminToken, http.StatusNotFound, []string{"nope"}},
		{"needs connectors.read", "/api/v1/plugins/csv", agent, http.StatusForbidden, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := env.Do(t.Context(), http.MethodGet, tc.path, tc.token, nil)
			if err != nil || status != tc.status {
				t.Fatalf("GET %s = %d %v: %s", tc.path, status, err, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("GET %s lacks %s: %.400s", tc.path, w, body)
				}
			}
		})
	}
}
