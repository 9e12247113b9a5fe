package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/workflows/erpsync"
)

// TestERPSync imports orders from the real CSV connector plugin into Order records: customers are matched
// to an existing company by tax ID or created, nothing is duplicated across runs, and later runs pick up
// only what changed since.
func TestERPSync(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("customers.csv", "id,name,tax_id,email,phone,street,city,postal_code,country,updated_at\n"+
		"S1,Sync One GmbH,DE999000111,one@sync.example,,,,,DE,2026-01-01\n"+
		"S2,Sync Two Ltd,GB777000222,two@sync.example,,,,,GB,2026-01-01\n")
	orders := "id,number,customer_id,date,state,currency,total,reference,updated_at,idempotency_key\n" +
		"SY-1,SYNC-1,S1,2026-01-10,done,EUR,150.00,,2026-01-12,\n" +
		"SY-2,SYNC-2,S2,2026-02-15,confirmed,GBP,80.00,,2026-02-15,\n"
	write("orders.csv", orders)
	write("order_lines.csv", "order_id,product_code,description,quantity,unit_price,amount\nSY-1,WIDGET,Widget,10,15.00,150.00\n")
	write("invoices.csv", "id,number,customer_id,order_id,date,due_date,state,currency,total,amount_due,updated_at\n")
	write("payments.csv", "id,customer_id,invoice_id,date,currency,amount,method,updated_at\n")

	do := func(method, path string, body any) (int, []byte) {
		t.Helper()
		status, out, err := env.Do(ctx, method, path, env.AdminToken, body)
		if err != nil {
			t.Fatal(err)
		}
		return status, out
	}
	if status, body := do(http.MethodPut, "/api/v1/connectors/erps", map[string]any{"plugin": "csv", "config": map[string]any{"dir": dir}}); status != http.StatusOK {
		t.Fatalf("configure: %d %s", status, body)
	}
	status, body := do(http.MethodPost, "/api/v1/records/company", map[string]any{"name": "Sync One (already in the CRM)", "taxId": "DE999000111"})
	if status != http.StatusCreated {
		t.Fatalf("create company: %d %s", status, body)
	}
	var existing struct{ ID string }
	json.Unmarshal(body, &existing)

	sync := func() erpsync.Summary {
		t.Helper()
		status, body := do(http.MethodPost, "/api/v1/connectors/erps/sync", nil)
		if status != http.StatusAccepted {
			t.Fatalf("sync: %d %s", status, body)
		}
		var started api.SyncStarted
		json.Unmarshal(body, &started)
		var sum erpsync.Summary
		if err := env.Temporal.GetWorkflow(ctx, started.InstanceID, started.RunID).Get(ctx, &sum); err != nil {
			t.Fatalf("sync run: %v", err)
		}
		return sum
	}
	listOrders := func() []map[string]any {
		t.Helper()
		status, body := do(http.MethodGet, "/api/v1/records/order?limit=50&filter="+url.QueryEscape(`externalId startsWith "erps:"`), nil)
		if status != http.StatusOK {
			t.Fatalf("list orders: %d %s", status, body)
		}
		var page struct{ Items []map[string]any }
		json.Unmarshal(body, &page)
		return page.Items
	}

	if sum := sync(); sum.Created != 2 || sum.Companies != 1 {
		t.Fatalf("first run: %+v, want 2 orders and 1 new company", sum)
	}
	got := listOrders()
	if len(got) != 2 {
		t.Fatalf("orders after the first run: %v", got)
	}
	for _, o := range got {
		if o["number"] == "SYNC-1" {
			if o["company"] != existing.ID || o["status"] != "completed" {
				t.Errorf("SYNC-1 not linked to the existing company by tax ID or status not mapped: %v", o)
			}
			if lines, _ := o["lines"].([]any); len(lines) != 1 {
				t.Errorf("SYNC-1 lines: %v", o["lines"])
			}
		}
	}
	if status, body := do(http.MethodGet, "/api/v1/records/company?filter="+url.QueryEscape(`taxId == "GB777000222"`), nil); status != http.StatusOK || !strings.Contains(string(body), "Sync Two Ltd") {
		t.Errorf("new customer not created as a company: %d %s", status, body)
	}

	if sum := sync(); sum.Created != 0 || sum.Companies != 0 || sum.Updated != 0 {
		t.Fatalf("second run over unchanged data: %+v", sum)
	}
	if n := len(listOrders()); n != 2 {
		t.Fatalf("second run duplicated orders: %d", n)
	}

	write("orders.csv", strings.Replace(orders, "SY-1,SYNC-1,S1,2026-01-10,done,EUR,150.00,,2026-01-12,", "SY-1,SYNC-1,S1,2026-01-10,cancel,EUR,150.00,,2026-03-01,", 1)+
		"SY-3,SYNC-3,S2,2026-03-02,draft,GBP,20.00,,2026-03-02,\n")
	write("invoices.csv", "id,number,customer_id,order_id,date,due_date,state,currency,total,amount_due,updated_at\n"+
		"SI-1,SINV-1,S2,SY-2,2026-02-16,2026-03-18,paid,GBP,80.00,0.00,2026-03-03\n")
	if sum := sync(); sum.Created != 1 || sum.Updated != 1 || sum.Paid != 1 {
		t.Fatalf("run after changes: %+v, want one new, one updated and one paid order", sum)
	}
	got = listOrders()
	if len(got) != 3 {
		t.Fatalf("orders after the changes: %d", len(got))
	}
	for _, o := range got {
		if o["number"] == "SYNC-1" && o["status"] != "cancelled" {
			t.Errorf("SYNC-1 status not updated: %v", o)
		}
		if o["number"] == "SYNC-2" && o["status"] != "paid" {
			t.Errorf("SYNC-2 not marked paid by its settled invoice: %v", o)
		}
	}
	if status, _ := do(http.MethodPost, "/api/v1/connectors/nope/sync", nil); status != http.StatusNotFound {
		t.Errorf("sync of an unknown connector: %d", status)
	}
	if status, body := do(http.MethodPut, "/api/v1/connectors/erps/sync-schedule", map[string]any{"every": "10s"}); status != http.StatusUnprocessableEntity {
		t.Errorf("too frequent schedule: %d %s", status, body)
	}
	if status, body := do(http.MethodPut, "/api/v1/connectors/erps/sync-schedule", map[string]any{"every": "1h"}); status != http.StatusNoContent {
		t.Errorf("schedule: %d %s", status, body)
	}
}
