package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/rapportcrm/rapport/plugins/sdk/connectortest"
)

// seedDir copies the sample ERP from testdata into a fresh directory so tests can write.
func seedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformanceInProcess(t *testing.T) {
	dir := seedDir(t)
	connectortest.Run(t, func(*testing.T) connector.Connector { return newConnector() }, connectortest.Options{
		Config:        mustJSON(t, map[string]string{"dir": dir}),
		InvalidConfig: mustJSON(t, map[string]string{"dir": filepath.Join(dir, "does-not-exist")}),
		Operations:    map[string]json.RawMessage{"customers.balance": json.RawMessage(`{"customerId":"C-000001"}`)},
	})
}

func TestCustomerBalance(t *testing.T) {
	c := newConnector()
	if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: mustJSON(t, map[string]string{"dir": seedDir(t)})}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		input    string
		want     string
		wantKind *connector.Error
	}{
		{"the paid invoice does not count", `{"customerId":"C-000001"}`,
			`{"customerId":"C-000001","openInvoices":1,"balances":[{"currency":"EUR","amountDue":"42.00"}]}`, nil},
		{"another currency", `{"customerId":"C-000002"}`,
			`{"customerId":"C-000002","openInvoices":1,"balances":[{"currency":"GBP","amountDue":"80.00"}]}`, nil},
		{"unknown customer", `{"customerId":"C-999999"}`, "", connector.ErrNotFound},
		{"input field the operation lacks", `{"customerId":"C-000001","all":true}`, "", connector.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Invoke(t.Context(), connector.InvokeRequest{Operation: "customers.balance", Input: json.RawMessage(tt.input)})
			if tt.wantKind != nil {
				if !errors.Is(err, tt.wantKind) {
					t.Fatalf("err = %v, want %s", err, tt.wantKind.Kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Output) != tt.want {
				t.Errorf("output %s\nwant   %s", r.Output, tt.want)
			}
		})
	}
	if _, err := c.Invoke(t.Context(), connector.InvokeRequest{Operation: "stock.level"}); !errors.Is(err, connector.ErrUnsupported) {
		t.Errorf("unknown operation: %v", err)
	}
}

func TestReadsSampleData(t *testing.T) {
	c := newConnector()
	if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: mustJSON(t, map[string]string{"dir": seedDir(t)})}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		query connector.FindCustomersRequest
		want  []string
	}{
		{"tax ID written differently", connector.FindCustomersRequest{TaxID: "de123456789"}, []string{"C-000001"}},
		{"email any case", connector.FindCustomersRequest{Email: "BUY@blueocean.example"}, []string{"C-000002"}},
		{"phone without spaces", connector.FindCustomersRequest{Phone: "+44202222222"}, []string{"C-000002"}},
		{"name substring", connector.FindCustomersRequest{Name: "acme"}, []string{"C-000001"}},
		{"all criteria must match", connector.FindCustomersRequest{Name: "acme", Email: "buy@blueocean.example"}, nil},
		{"limit", connector.FindCustomersRequest{Name: "a", Limit: 1}, []string{"C-000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.FindCustomers(t.Context(), tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cu := range r.Customers {
				got = append(got, cu.ID)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	o, err := c.GetOrder(t.Context(), connector.GetOrderRequest{ID: "SO-000001"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Order.Total != "150.00" || len(o.Order.Lines) != 1 || o.Order.Lines[0].ProductCode != "WIDGET" {
		t.Errorf("GetOrder(SO-000001) = %+v", o.Order)
	}
	since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	inv, err := c.ListInvoices(t.Context(), connector.ListInvoicesRequest{Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Invoices) != 2 || inv.Invoices[0].ID != "INV-0002" {
		t.Errorf("ListInvoices(since Feb) = %+v, want INV-0002 and INV-0003", inv.Invoices)
	}
	pay, err := c.ListPayments(t.Context(), connector.ListPaymentsRequest{CustomerID: "C-000001"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pay.Payments) != 2 || pay.Payments[1].Amount != "50.00" {
		t.Errorf("ListPayments(C-000001) = %+v", pay.Payments)
	}
}

func TestCreateSalesOrderComputesAmounts(t *testing.T) {
	c := newConnector()
	dir := seedDir(t)
	if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: mustJSON(t, map[string]string{"dir": dir, "currency": "CHF"})}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		lines     []connector.OrderLine
		wantTotal string
		wantErr   *connector.Error
	}{
		{"exact decimals", []connector.OrderLine{{ProductCode: "A", Quantity: "3", UnitPrice: "0.10"}, {ProductCode: "B", Quantity: "1.5", UnitPrice: "2"}}, "3.30", nil},
		{"bad quantity", []connector.OrderLine{{ProductCode: "A", Quantity: "three", UnitPrice: "1"}}, "", connector.ErrInvalid},
		{"fraction is not a decimal", []connector.OrderLine{{ProductCode: "A", Quantity: "1/3", UnitPrice: "1"}}, "", connector.ErrInvalid},
		{"zero quantity", []connector.OrderLine{{ProductCode: "A", Quantity: "0", UnitPrice: "1"}}, "", connector.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.CreateSalesOrder(t.Context(), connector.CreateSalesOrderRequest{IdempotencyKey: tt.name, CustomerID: "C-000002", Lines: tt.lines})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr.Kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Order.Total != tt.wantTotal || r.Order.Currency != "CHF" {
				t.Errorf("total %s %s, want %s CHF", r.Order.Total, r.Order.Currency, tt.wantTotal)
			}
		})
	}
	// A fresh connector on the same directory sees the created order: it was written to disk.
	c2 := newConnector()
	if _, err := c2.Configure(t.Context(), connector.ConfigureRequest{Config: mustJSON(t, map[string]string{"dir": dir})}); err != nil {
		t.Fatal(err)
	}
	r, err := c2.CreateSalesOrder(t.Context(), connector.CreateSalesOrderRequest{IdempotencyKey: "exact decimals", CustomerID: "C-000002",
		Lines: []connector.OrderLine{{ProductCode: "X", Quantity: "1", UnitPrice: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Created || r.Order.Total != "3.30" {
		t.Errorf("replay from a new process: created=%v total=%s, want the stored order (3.30)", r.Created, r.Order.Total)
	}
}

// TestListCustomersChangedSince: the sample customers page by ID, and Since keeps only
// those updated on or after it.
func TestListCustomersChangedSince(t *testing.T) {
	c := newConnector()
	if _, err := c.Configure(t.Context(), connector.ConfigureRequest{Config: mustJSON(t, map[string]string{"dir": seedDir(t)})}); err != nil {
		t.Fatal(err)
	}
	first, err := c.ListCustomers(t.Context(), connector.ListCustomersRequest{Limit: 1})
	if err != nil || len(first.Customers) != 1 || first.Customers[0].ID != "C-000001" || first.NextCursor == "" {
		t.Fatalf("first page of 1: %+v, %v; want Acme and a cursor", first, err)
	}
	second, err := c.ListCustomers(t.Context(), connector.ListCustomersRequest{Cursor: first.NextCursor, Limit: 1})
	if err != nil || len(second.Customers) != 1 || second.Customers[0].Email != "buy@blueocean.example" || second.NextCursor != "" {
		t.Fatalf("second page: %+v, %v; want Blue Ocean and no cursor", second, err)
	}
	since := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	r, err := c.ListCustomers(t.Context(), connector.ListCustomersRequest{Since: since})
	if err != nil || len(r.Customers) != 1 || r.Customers[0].ID != "C-000002" {
		t.Errorf("changed since %v: %+v, %v; want only Blue Ocean (updated 2026-02-10)", since, r.Customers, err)
	}
}
