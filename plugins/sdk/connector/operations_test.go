package connector

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// quoter describes one operation and records the requests it receives.
type quoter struct {
	fake
	got InvokeRequest
}

var quoteOp = Operation{Name: "prices.quote", Description: "Quotes a price.",
	Input:  json.RawMessage(`{"type":"object","required":["product"]}`),
	Output: json.RawMessage(`{"type":"object"}`)}

func (q *quoter) Describe(ctx context.Context, req DescribeRequest) (DescribeResponse, error) {
	d, err := q.fake.Describe(ctx, req)
	d.Operations = []Operation{quoteOp}
	return d, err
}

func (q *quoter) Invoke(_ context.Context, req InvokeRequest) (InvokeResponse, error) {
	q.got = req
	if req.Operation != quoteOp.Name {
		return InvokeResponse{}, UnknownOperation(req.Operation)
	}
	var in struct{ Product string }
	if err := req.Decode(&in); err != nil {
		return InvokeResponse{}, err
	}
	return Output(map[string]string{"product": in.Product, "price": "2.50"})
}

func TestInvokeOverProtocol2(t *testing.T) {
	q := &quoter{}
	c := dialProtocol(t, q, 2)
	d, err := c.Describe(t.Context(), DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	op, ok := d.Operation("prices.quote")
	if !ok || op.Description != quoteOp.Description || string(op.Input) != string(quoteOp.Input) || string(op.Output) != string(quoteOp.Output) {
		t.Fatalf("Describe over protocol 2: operations %+v, want %+v", d.Operations, quoteOp)
	}
	r, err := c.Invoke(t.Context(), InvokeRequest{Operation: "prices.quote", Input: json.RawMessage(`{"Product":"WIDGET"}`), IdempotencyKey: "k-1"})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Output) != `{"price":"2.50","product":"WIDGET"}` {
		t.Errorf("output %s", r.Output)
	}
	if q.got.IdempotencyKey != "k-1" {
		t.Errorf("idempotency key %q did not cross the wire", q.got.IdempotencyKey)
	}
	tests := []struct {
		name string
		req  InvokeRequest
		want *Error
	}{
		{"unknown operation", InvokeRequest{Operation: "stock.level"}, ErrUnsupported},
		{"input with a field the operation lacks", InvokeRequest{Operation: "prices.quote", Input: json.RawMessage(`{"Product":"W","Colour":"red"}`)}, ErrInvalid},
		{"input that is not an object", InvokeRequest{Operation: "prices.quote", Input: json.RawMessage(`[1]`)}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Invoke(t.Context(), tt.req)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v (kind %s), want kind %s", err, KindOf(err), tt.want.Kind)
			}
		})
	}
}

// TestProtocol1HasNoOperations: a plugin negotiated at version 1 (an old plugin, or an
// old host) keeps every fixed method; Describe lists no operations and Invoke answers
// Unsupported without reaching the plugin.
func TestProtocol1HasNoOperations(t *testing.T) {
	q := &quoter{fake: fake{order: Order{ID: "SO-1"}}}
	c := dialProtocol(t, q, 1)
	d, err := c.Describe(t.Context(), DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Operations) != 0 || d.Name != "fake" {
		t.Errorf("Describe over protocol 1: %+v", d)
	}
	if g, err := c.GetOrder(t.Context(), GetOrderRequest{ID: "SO-1"}); err != nil || g.Order.ID != "SO-1" {
		t.Errorf("GetOrder over protocol 1: %+v, %v", g, err)
	}
	_, err = c.Invoke(t.Context(), InvokeRequest{Operation: "prices.quote"})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("Invoke over protocol 1: %v, want unsupported", err)
	}
	if q.got.Operation != "" {
		t.Errorf("Invoke over protocol 1 reached the plugin: %+v", q.got)
	}
}

func TestValidOperationName(t *testing.T) {
	for name, want := range map[string]bool{
		"prices.quote": true, "stock": true, "a.b_c.d2": true,
		"": false, "GetOrder": false, "prices.": false, ".quote": false, "prices..quote": false,
		"prices.Quote": false, "2fa.send": false, "prices-quote": false,
		"a.very.long.operation.name.that.goes.on.and.on.beyond.sixty.four.chars": false,
	} {
		if got := ValidOperationName(name); got != want {
			t.Errorf("ValidOperationName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestUnimplementedHealthHonoursDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := (Unimplemented{}).Health(ctx, HealthRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Health with a canceled context: %v", err)
	}
	if r, err := (Unimplemented{}).Health(t.Context(), HealthRequest{}); err != nil || !r.OK {
		t.Errorf("Health: %+v, %v", r, err)
	}
}
