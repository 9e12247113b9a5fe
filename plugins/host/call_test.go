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
	gotOrder string
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
