package connector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/rapportcrm/rapport/plugins/sdk/connector/pb/v1"
)

// fake returns canned answers so tests can check what survives the gRPC round trip.
type fake struct {
	Unimplemented
	order Order
	err   error
	seen  chan string // idempotency keys the server received
	// customers is what ListCustomers pages through, two at a time; asked records the
	// last ListCustomers request as the server received it.
	customers []Customer
	asked     ListCustomersRequest
}

func (f *fake) ListCustomers(_ context.Context, req ListCustomersRequest) (ListCustomersResponse, error) {
	f.asked = req
	start := 0
	if req.Cursor != "" {
		fmt.Sscanf(req.Cursor, "%d", &start)
	}
	end := min(start+2, len(f.customers))
	r := ListCustomersResponse{Customers: f.customers[start:end]}
	if end < len(f.customers) {
		r.NextCursor = fmt.Sprint(end)
	}
	return r, nil
}

func (f *fake) Describe(context.Context, DescribeRequest) (DescribeResponse, error) {
	return DescribeResponse{Name: "fake", Version: "1.0.0", Capabilities: []Capability{CapGetOrder}, ConfigSchema: []byte(`{"type":"object"}`)}, nil
}

func (f *fake) Configure(context.Context, ConfigureRequest) (ConfigureResponse, error) {
	return ConfigureResponse{}, nil
}

func (f *fake) GetOrder(ctx context.Context, _ GetOrderRequest) (GetOrderResponse, error) {
	if f.err != nil {
		return GetOrderResponse{}, f.err
	}
	return GetOrderResponse{Order: f.order}, nil
}

func (f *fake) CreateSalesOrder(ctx context.Context, req CreateSalesOrderRequest) (CreateSalesOrderResponse, error) {
	f.seen <- req.IdempotencyKey
	<-ctx.Done()
	return CreateSalesOrderResponse{}, ctx.Err()
}

func dial(t *testing.T, impl Connector) Connector { return dialProtocol(t, impl, 1) }

// dialProtocol connects to impl served at one protocol version, as the host does after
// go-plugin negotiated it.
func dialProtocol(t *testing.T, impl Connector, protocol int) Connector {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &GRPCPlugin{Impl: impl, Protocol: protocol}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(Connector)
}

func TestErrorsSurviveGRPC(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		want      *Error
		retryable bool
	}{
		{"not found", NotFound("order %q", "SO-1"), ErrNotFound, false},
		{"invalid", Invalid("limit must not be negative"), ErrInvalid, false},
		{"conflict", Conflict("tax ID taken"), ErrConflict, false},
		{"unavailable", Unavailable("ERP down"), ErrUnavailable, true},
		{"permanent", Permanent("account locked"), ErrPermanent, false},
		{"unsupported", Unsupported(CapListPayments), ErrUnsupported, false},
		{"plain error is internal", errors.New("boom"), ErrInternal, true},
		{"wrapped typed error keeps its kind", fmt.Errorf("lookup: %w", NotFound("x")), ErrNotFound, false},
		{"context deadline is a timeout", context.DeadlineExceeded, ErrTimeout, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, &fake{err: tt.err})
			_, err := c.GetOrder(t.Context(), GetOrderRequest{ID: "SO-1"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v (kind %s), want kind %s", err, KindOf(err), tt.want.Kind)
			}
			if IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", IsRetryable(err), tt.retryable)
			}
			if !strings.Contains(err.Error(), tt.err.Error()) {
				t.Errorf("message lost: got %q, want it to contain %q", err, tt.err)
			}
		})
	}
}

func TestOrderRoundTrip(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	want := Order{ID: "SO-7", Number: "SO-7", CustomerID: "C-1", Date: when, State: "draft", Currency: "EUR", Total: "12.50",
		Lines:     []OrderLine{{ProductCode: "A", Description: "Apple", Quantity: "5", UnitPrice: "2.50", Amount: "12.50"}},
		Reference: "deal-9", UpdatedAt: when.Add(time.Hour)}
	c := dial(t, &fake{order: want})
	got, err := c.GetOrder(t.Context(), GetOrderRequest{ID: "SO-7"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Order, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.Order, want)
	}
	d, err := c.Describe(t.Context(), DescribeRequest{})
	if err != nil || !d.Has(CapGetOrder) || d.Has(CapListOrders) || string(d.ConfigSchema) != `{"type":"object"}` {
		t.Errorf("Describe = %+v, %v", d, err)
	}
	if _, err := c.ListPayments(t.Context(), ListPaymentsRequest{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unimplemented method: err = %v, want unsupported", err)
	}
}

func TestDeadlineCrossesTheWire(t *testing.T) {
	f := &fake{seen: make(chan string, 1)}
	c := dial(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.CreateSalesOrder(ctx, CreateSalesOrderRequest{IdempotencyKey: "k", CustomerID: "C"})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout that is also context.DeadlineExceeded", err)
	}
	if key := <-f.seen; key != "k" {
		t.Errorf("server saw key %q, want k", key)
	}
}

func TestPageLimit(t *testing.T) {
	tests := []struct {
		in, want int
		invalid  bool
	}{{0, DefaultPageSize, false}, {7, 7, false}, {MaxPageSize + 1, MaxPageSize, false}, {-1, 0, true}}
	for _, tt := range tests {
		got, err := PageLimit(tt.in)
		if (err != nil) != tt.invalid || got != tt.want {
			t.Errorf("PageLimit(%d) = %d, %v; want %d, invalid=%v", tt.in, got, err, tt.want, tt.invalid)
		}
		if tt.invalid && !errors.Is(err, ErrInvalid) {
			t.Errorf("PageLimit(%d): err %v is not ErrInvalid", tt.in, err)
		}
	}
}

func TestListCustomersRoundTrip(t *testing.T) {
	since := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	f := &fake{customers: []Customer{
		{ID: "C-1", Name: "Alpha", TaxID: "7701", Email: "a@alpha.example", Phone: "+7 495 1", UpdatedAt: since,
			Address: Address{Street: "Tverskaya 1", City: "Moscow", PostalCode: "125009", Country: "RU"}},
		{ID: "C-2", Name: "Beta"}, {ID: "C-3", Name: "Gamma"}}}
	c := dial(t, f)
	var got []Customer
	cursor := ""
	for range 3 {
		r, err := c.ListCustomers(t.Context(), ListCustomersRequest{Since: since, Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Customers...)
		if cursor = r.NextCursor; cursor == "" {
			break
		}
	}
	if !reflect.DeepEqual(got, f.customers) {
		t.Errorf("pages:\n got %+v\nwant %+v", got, f.customers)
	}
	if !f.asked.Since.Equal(since) || f.asked.Limit != 2 || f.asked.Cursor != "2" {
		t.Errorf("the plugin received %+v, want since %v, limit 2 and the cursor of the second page", f.asked, since)
	}
}

// TestListCustomersOfAPluginBuiltBeforeIt: a plugin built with an SDK that had no
// ListCustomers serves a Connector service without the method; calling it answers
// Unsupported (gRPC Unimplemented), and the plugin's other methods keep working.
func TestListCustomersOfAPluginBuiltBeforeIt(t *testing.T) {
	old := pb.Connector_ServiceDesc
	old.Methods = slices.DeleteFunc(slices.Clone(old.Methods), func(m grpc.MethodDesc) bool { return m.MethodName == "ListCustomers" })
	if len(old.Methods) != len(pb.Connector_ServiceDesc.Methods)-1 {
		t.Fatalf("the service has no ListCustomers to remove: %v", pb.Connector_ServiceDesc.Methods)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&old, NewGRPCServer(&fake{order: Order{ID: "SO-1"}, customers: []Customer{{ID: "C-1"}}}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := NewGRPCClient(conn)
	if _, err := c.ListCustomers(t.Context(), ListCustomersRequest{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ListCustomers of an old plugin: %v (kind %s), want unsupported", err, KindOf(err))
	}
	if r, err := c.GetOrder(t.Context(), GetOrderRequest{ID: "SO-1"}); err != nil || r.Order.ID != "SO-1" {
		t.Errorf("GetOrder of the old plugin: %+v, %v", r, err)
	}
}
