package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/admin/api"
)

// TestServiceTasksEndToEnd runs a process whose service tasks create a record through the records store,
// call the real CSV connector plugin and send an in-app notification, and checks each effect.
func TestServiceTasksEndToEnd(t *testing.T) {
	ctx := context.Background()
	do := func(method, path string, body any) (int, []byte) {
		t.Helper()
		status, out, err := env.Do(ctx, method, path, env.AdminToken, body)
		if err != nil {
			t.Fatal(err)
		}
		return status, out
	}
	erpDir := t.TempDir()
	for _, f := range []string{"customers.csv", "orders.csv", "order_lines.csv", "invoices.csv", "payments.csv"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "plugins", "connectors", "csv", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(erpDir, f), raw, 0o644)
	}
	if status, body := do(http.MethodPut, "/api/v1/connectors/erp", map[string]any{"plugin": "csv", "config": map[string]any{"dir": erpDir}}); status != http.StatusOK {
		t.Fatalf("configure connector: %d %s", status, body)
	}
	xml, err := os.ReadFile("testdata/service-tasks.bpmn")
	if err != nil {
		t.Fatal(err)
	}
	deployAndPublish(t, xml, "onboard-customer")
	if status, body := do(http.MethodPut, "/api/v1/notification-templates/customer-onboarded", map[string]any{
		"channels": []string{"inapp"},
		"texts": map[string]any{
			"en": map[string]any{"subject": "Customer onboarded", "body": "Company {{.companyId}} is onboarded."},
			"ru": map[string]any{"subject": "Клиент подключён", "body": "Компания {{.companyId}} подключена."}},
	}); status != http.StatusOK {
		t.Fatalf("save template: %d %s", status, body)
	}
	var me api.UserView
	_, raw := do(http.MethodGet, "/api/v1/auth/me", nil)
	json.Unmarshal(raw, &me)
	status, body := do(http.MethodPost, "/api/v1/processes/onboard-customer/instances", map[string]any{
		"variables": map[string]any{"companyName": "Blue Ocean Ltd", "taxId": "GB123456789", "manager": me.ID}})
	if status != http.StatusCreated {
		t.Fatalf("start: %d %s", status, body)
	}
	var started api.StartedInstance
	json.Unmarshal(body, &started)

	var snap struct {
		Status    string         `json:"status"`
		Variables map[string]any `json:"variables"`
		Incidents []any          `json:"incidents"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, body = do(http.MethodGet, "/api/v1/instances/"+started.ID, nil)
		json.Unmarshal(body, &snap)
		if snap.Status == "completed" || len(snap.Incidents) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if snap.Status != "completed" {
		t.Fatalf("instance did not complete: %s", body)
	}
	companyID, _ := snap.Variables["companyId"].(string)
	if companyID == "" {
		t.Fatalf("no company id in %v", snap.Variables)
	}
	if status, body := do(http.MethodGet, "/api/v1/records/company/"+companyID, nil); status != http.StatusOK || !strings.Contains(string(body), "Blue Ocean Ltd") {
		t.Fatalf("company record: %d %s", status, body)
	}
	if status, body := do(http.MethodGet, "/api/v1/records/company/"+companyID+"/history", nil); status != http.StatusOK || !strings.Contains(string(body), started.ID) {
		t.Errorf("history does not name the process instance: %d %s", status, body)
	}
	if custs, _ := snap.Variables["erpCustomers"].([]any); len(custs) != 1 {
		t.Errorf("connector result not mapped: %v", snap.Variables["erpCustomers"])
	}
	status, body = do(http.MethodGet, "/api/v1/notifications?unread=true", nil)
	if status != http.StatusOK || !strings.Contains(string(body), "customer-onboarded") || !strings.Contains(string(body), "Company "+companyID+" is onboarded.") {
		t.Fatalf("notification not rendered through its template: %d %s", status, body)
	}
	var notes []struct{ ID, Template string }
	json.Unmarshal(body, &notes)
	for _, n := range notes {
		if status, body := do(http.MethodPost, "/api/v1/notifications/"+n.ID+"/read", nil); status != http.StatusNoContent {
			t.Fatalf("mark read: %d %s", status, body)
		}
	}
	if _, body = do(http.MethodGet, "/api/v1/notifications?unread=true", nil); strings.Contains(string(body), "customer-onboarded") {
		t.Fatalf("read notification still unread: %s", body)
	}
	if status, _ := do(http.MethodPost, "/api/v1/notifications/nope/read", nil); status != http.StatusNotFound {
		t.Fatalf("marking an unknown notification: %d", status)
	}
}
