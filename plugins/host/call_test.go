package host

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

type fakeConnector struct {
	connector.Unimplemented
	gotOrder  string
	gotCreate connector.CreateSalesOrderRequest
	gotInvoke connector.InvokeRequest
}

func (f *fakeConnector) CreateSalesOrder(_ context.Context, req connector.CreateSalesOrderRequest) (connector.CreateSalesOrderResponse, error) {
	f.gotCreate = req
	return connector.CreateSalesOrderResponse{Created: true}, nil
}

func (f *fakeConnector) Invoke(_ context.Context, req connector.InvokeRequest) (connector.InvokeResponse, error) {
	f.gotInvoke = req
	if req.Operation != "prices.quote" {
		return connector.InvokeResponse{}, connector.UnknownOperation(req.Operation)
	}
	return connector.InvokeResponse{Output: json.RawMessage(`{"price":"2.50"}`)}, nil
}

func (f *fakeConnector) Describe(context.Context, connector.DescribeRequest) (connector.DescribeResponse, error) {
	return connector.DescribeResponse{Name: "fake"}, nil
}

func (f *fakeConnector) Configure(context.Context, connector.ConfigureRequest) (connector.ConfigureResponse, error) {
	return connector.ConfigureResponse{}, nil
}

func (f *fakeConnector) Health(context.Context, connector.HealthRequest) (connector.HealthResponse, error) {
	return connector.HealthResponse{OK: true, Message: "fine"}, nil
}

func (f *fakeConnector) GetOrder(_ context.Context, req connector.GetOrderRequest) (connector.GetOrderResponse, error) {
	f.gotOrder = req.ID
	if req.ID == "missing" {
		return connector.GetOrderResponse{}, connector.NotFound("order %s", req.ID)
	}
	return connector.GetOrderResponse{}, nil
}

func TestCall(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		request  string
		wantKind error
		wantJSON string
	}{
		{"health", "Health", ``, nil, `{"OK":true,"Message":"fine"}`},
		{"request decoded", "GetOrder", `{"ID":"o-1"}`, nil, ``},
		{"typed error passes through", "GetOrder", `{"ID":"missing"}`, connector.ErrNotFound, ``},
		{"unknown method", "DropDatabase", `{}`, connector.ErrInvalid, ``},
		{"bad request JSON", "GetOrder", `{"ID":7}`, connector.ErrInvalid, ``},
		{"unsupported method", "ListPayments", `{}`, connector.ErrUnsupported, ``},
		{"operation answers its output as is", "prices.quote", `{"product":"W"}`, nil, `{"price":"2.50"}`},
		{"operation not described", "stock.level", `{}`, connector.ErrUnsupported, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeConnector{}
			got, err := Call(context.Background(), f, tt.method, json.RawMessage(tt.request))
			if tt.wantKind != nil {
				if !errors.Is(err, tt.wantKind) {
					t.Fatalf("err = %v, want %v", err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantJSON != "" {
				raw, _ := json.Marshal(got)
				if string(raw) != tt.wantJSON {
					t.Fatalf("response %s, want %s", raw, tt.wantJSON)
				}
			}
			if tt.method == "GetOrder" && f.gotOrder != "o-1" {
				t.Fatalf("request not decoded: got ID %q", f.gotOrder)
			}
		})
	}
}

// TestCallWithKey: a process task's idempotency key reaches CreateSalesOrder (unless the
// request has its own) and operations.
func TestCallWithKey(t *testing.T) {
	f := &fakeConnector{}
	if _, err := CallWithKey(t.Context(), f, "CreateSalesOrder", json.RawMessage(`{"CustomerID":"C1"}`), "task-key"); err != nil {
		t.Fatal(err)
	}
	if f.gotCreate.IdempotencyKey != "task-key" || f.gotCreate.CustomerID != "C1" {
		t.Errorf("CreateSalesOrder got %+v", f.gotCreate)
	}
	if _, err := CallWithKey(t.Context(), f, "CreateSalesOrder", json.RawMessage(`{"IdempotencyKey":"own"}`), "task-key"); err != nil {
		t.Fatal(err)
	}
	if f.gotCreate.IdempotencyKey != "own" {
		t.Errorf("the request's own key was replaced: %+v", f.gotCreate)
	}
	if _, err := CallWithKey(t.Context(), f, "prices.quote", json.RawMessage(`{"product":"W"}`), "task-key"); err != nil {
		t.Fatal(err)
	}
	if f.gotInvoke.IdempotencyKey != "task-key" || string(f.gotInvoke.Input) != `{"product":"W"}` {
		t.Errorf("Invoke got %+v", f.gotInvoke)
	}
}
