package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConnectors configures the real CSV connector plugin through the API, tests it, calls a method, and
// checks refusals and what is stored.
func TestConnectors(t *testing.T) {
	ctx := context.Background()
	erpDir := t.TempDir()
	for _, f := range []string{"customers.csv", "orders.csv", "order_lines.csv", "invoices.csv", "payments.csv"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "plugins", "connectors", "csv", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(erpDir, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		wantBody   string
	}{
		{"plugin listed", http.MethodGet, "/api/v1/plugins", nil, http.StatusOK, `"name":"csv"`},
		{"unknown plugin refused", http.MethodPut, "/api/v1/connectors/erp", map[string]any{"plugin": "nope", "config": map[string]any{}}, http.StatusNotFound, "nope"},
		{"config violating the schema refused", http.MethodPut, "/api/v1/connectors/erp", map[string]any{"plugin": "csv", "config": map[string]any{"dir": 7}}, http.StatusUnprocessableEntity, `"pointer":"/config"`},
		{"bad instance name refused", http.MethodPut, "/api/v1/connectors/Bad%20Name", map[string]any{"plugin": "csv", "config": map[string]any{"dir": erpDir}}, http.StatusUnprocessableEntity, "name"},
		{"configure", http.MethodPut, "/api/v1/connectors/erp", map[string]any{"plugin": "csv", "config": map[string]any{"dir": erpDir}}, http.StatusOK, `"plugin":"csv"`},
		{"listed after configure", http.MethodGet, "/api/v1/connectors", nil, http.StatusOK, `"name":"erp"`},
		{"connection test", http.MethodPost, "/api/v1/connectors/erp/test", nil, http.StatusOK, `"OK":true`},
		{"call a method", http.MethodPost, "/api/v1/connectors/erp/call", map[string]any{"method": "FindCustomers", "request": map[string]any{"TaxID": "GB123456789"}}, http.StatusOK, "Blue Ocean"},
		{"not-found maps to 404", http.MethodPost, "/api/v1/connectors/erp/call", map[string]any{"method": "GetOrder", "request": map[string]any{"ID": "SO-404"}}, http.StatusNotFound, "connector-not-found"},
		{"unknown method", http.MethodPost, "/api/v1/connectors/erp/call", map[string]any{"method": "Drop"}, http.StatusUnprocessableEntity, "unknown method"},
		{"unknown instance", http.MethodPost, "/api/v1/connectors/ghost/test", nil, http.StatusNotFound, "ghost"},
		{"delete", http.MethodDelete, "/api/v1/connectors/erp", nil, http.StatusNoContent, ""},
		{"gone after delete", http.MethodPost, "/api/v1/connectors/erp/test", nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := env.Do(ctx, tt.method, tt.path, env.AdminToken, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, status, body, tt.wantStatus, tt.wantBody)
			}
		})
	}

	t.Run("stored configuration survives in MongoDB", func(t *testing.T) {
		if status, body, _ := env.Do(ctx, http.MethodPut, "/api/v1/connectors/erp2", env.AdminToken,
			map[string]any{"plugin": "csv", "config": map[string]any{"dir": erpDir}}); status != http.StatusOK {
			t.Fatalf("configure: %d %s", status, body)
		}
		var doc struct {
			Plugin string `bson:"plugin"`
			Config string `bson:"config"`
		}
		if err := env.DB.Collection("connectors").FindOne(ctx, map[string]any{"_id": "erp2"}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal([]byte(doc.Config), &cfg); err != nil || doc.Plugin != "csv" || cfg["dir"] != erpDir {
			t.Fatalf("stored %+v (%v)", doc, err)
		}
	})
}
