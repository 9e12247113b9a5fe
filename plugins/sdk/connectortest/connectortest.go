// Package connectortest is the conformance harness for Rapport ERP connectors. A plugin
// author calls Run from a Go test with a factory for their connector; the harness then
// checks what Rapport relies on: the self-description and config schema, every declared
// capability (and that undeclared ones answer Unsupported), paging (orders, customers,
// invoices, payments) and the changed-since filter, idempotent sales
// order creation, error kinds, every described operation (its schemas, an example call
// whose output matches the output schema, unknown operations answering Unsupported),
// and that an expired context deadline is honoured.
//
// The factory may return the implementation itself (in-process) or a connector reached
// through Rapport's plugin host (out of process); both must pass.
package connectortest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Options tell the harness how to configure the connector under test.
type Options struct {
	// Config is a valid configuration pointing at a writable test ERP. Required.
	Config json.RawMessage
	// InvalidConfig, when set, must be rejected by Configure with an Invalid error.
	InvalidConfig json.RawMessage
	// CustomerID names an existing customer for connectors that can create orders but
	// not customers. Ignored when the connector declares customers.upsert.
	CustomerID string
	// CallTimeout bounds each call the harness makes; zero means 30 seconds.
	CallTimeout time.Duration
	// Operations holds an example input for each operation the connector describes,
	// by operation name. The harness invokes every operation with its example and
	// checks the output against the operation's output schema; an operation without an
	// example fails the suite, so every operation is exercised.
	Operations map[string]json.RawMessage
}

// Factory returns a fresh, unconfigured connector for one subtest.
type Factory func(t *testing.T) connector.Connector

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, newConnector Factory, opts Options) {
	t.Helper()
	if len(opts.Config) == 0 {
		t.Fatal("connectortest: Options.Config is required")
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 30 * time.Second
	}
	h := &harness{opts: opts, newConnector: newConnector}
	t.Run("Describe", h.testDescribe)
	t.Run("Configure", h.testConfigure)
	t.Run("Unsupported", h.testUnsupported)
	t.Run("Customers", h.testCustomers)
	t.Run("CreateSalesOrderIdempotent", h.testCreateIdempotent)
	t.Run("Paging", h.testPaging)
	t.Run("NotFound", h.testNotFound)
	t.Run("Invalid", h.testInvalid)
	t.Run("Operations", h.testOperations)
	t.Run("ExpiredDeadline", h.testDeadline)
}

type harness struct {
	opts         Options
	newConnector Factory
}

func (h *harness) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), h.opts.CallTimeout)
	t.Cleanup(cancel)
	return ctx
}

// configured returns a configured connector and its description.
func (h *harness) configured(t *testing.T) (connector.Connector, connector.DescribeResponse) {
	t.Helper()
	c := h.newConnector(t)
	d, err := c.Describe(h.ctx(t), connector.DescribeRequest{})
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if _, err := c.Configure(h.ctx(t), connector.ConfigureRequest{Config: h.opts.Config}); err != nil {
		t.Fatalf("Configure with Options.Config: %v", err)
	}
	return c, d
}

func need(t *testing.T, d connector.DescribeResponse, caps ...connector.Capability) {
	t.Helper()
	for _, c := range caps {
		if !d.Has(c) {
			t.Skipf("connector does not declare %s", c)
		}
	}
}

// wantKind fails unless err is a connector error of the sentinel's kind.
func wantKind(t *testing.T, what string, err error, sentinel *connector.Error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %s", what, sentinel.Kind)
		return
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: got %v (kind %s), want kind %s", what, err, connector.KindOf(err), sentinel.Kind)
	}
}

func uniq(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func (h *harness) testDescribe(t *testing.T) {
	c := h.newConnector(t)
	d, err := c.Describe(h.ctx(t), connector.DescribeRequest{})
	if err != nil {
		t.Fatalf("Describe before Configure must work: %v", err)
	}
	if d.Name == "" || d.Version == "" {
		t.Errorf("Describe: name %q and version %q must both be set", d.Name, d.Version)
	}
	known := map[connector.Capability]bool{}
	for _, c := range connector.AllCapabilities() {
		known[c] = true
	}
	for _, c := range d.Capabilities {
		if !known[c] {
			t.Errorf("Describe: unknown capability %q", c)
		}
	}
	schema, err := compileSchema("config", d.ConfigSchema)
	if err != nil {
		t.Fatalf("Describe: config schema: %v", err)
	}
	if err := validate(schema, h.opts.Config); err != nil {
		t.Errorf("Options.Config does not satisfy the connector's own schema: %v", err)
	}
	seen := map[string]bool{}
	for _, op := range d.Operations {
		if !connector.ValidOperationName(op.Name) {
			t.Errorf("Describe: operation name %q: want lower-case words joined by dots, e.g. prices.quote", op.Name)
		}
		if seen[op.Name] {
			t.Errorf("Describe: operation %q listed twice", op.Name)
		}
		seen[op.Name] = true
		if len(op.Input) > 0 {
			s, err := compileSchema(op.Name+".input", op.Input)
			if err != nil {
				t.Errorf("Describe: operation %q input schema: %v", op.Name, err)
			} else if err := validate(s, json.RawMessage(`[]`)); err == nil {
				t.Errorf("Describe: operation %q input schema accepts an array; inputs are JSON objects (\"type\": \"object\")", op.Name)
			}
		}
		if len(op.Output) > 0 {
			if _, err := compileSchema(op.Name+".output", op.Output); err != nil {
				t.Errorf("Describe: operation %q output schema: %v", op.Name, err)
			}
		}
	}
}

// compileSchema compiles one of a connector's JSON Schemas; name tells them apart.
func compileSchema(name string, raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(raw) == 0 {
		return nil, errors.New("empty schema")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	url := "connectortest:///" + name + ".json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	return s, nil
}

func validate(s *jsonschema.Schema, raw json.RawMessage) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parse config: %w", err)
	}
	return s.Validate(v)
}

func (h *harness) testConfigure(t *testing.T) {
	if len(h.opts.InvalidConfig) > 0 {
		c := h.newConnector(t)
		_, err := c.Configure(h.ctx(t), connector.ConfigureRequest{Config: h.opts.InvalidConfig})
		wantKind(t, "Configure(InvalidConfig)", err, connector.ErrInvalid)
	}
	c, _ := h.configured(t)
	r, err := c.Health(h.ctx(t), connector.HealthRequest{})
	if err != nil {
		t.Fatalf("Health after Configure: %v", err)
	}
	if !r.OK {
		t.Errorf("Health after Configure: not OK: %s", r.Message)
	}
}

// call invokes the method behind a capability with a minimal request.
func call(ctx context.Context, c connector.Connector, capb connector.Capability) error {
	var err error
	switch capb {
	case connector.CapFindCustomers:
		_, err = c.FindCustomers(ctx, connector.FindCustomersRequest{Name: "x"})
	case connector.CapListCustomers:
		_, err = c.ListCustomers(ctx, connector.ListCustomersRequest{Limit: 1})
	case connector.CapUpsertCustomer:
		_, err = c.UpsertCustomer(ctx, connector.UpsertCustomerRequest{Customer: connector.Customer{Name: uniq("connectortest")}})
	case connector.CapListOrders:
		_, err = c.ListOrders(ctx, connector.ListOrdersRequest{Limit: 1})
	case connector.CapGetOrder:
		_, err = c.GetOrder(ctx, connector.GetOrderRequest{ID: uniq("missing")})
	case connector.CapCreateSalesOrder:
		_, err = c.CreateSalesOrder(ctx, connector.CreateSalesOrderRequest{IdempotencyKey: uniq("k"), CustomerID: uniq("missing"),
			Lines: []connector.OrderLine{{ProductCode: "P", Quantity: "1", UnitPrice: "1"}}})
	case connector.CapListInvoices:
		_, err = c.ListInvoices(ctx, connector.ListInvoicesRequest{Limit: 1})
	case connector.CapListPayments:
		_, err = c.ListPayments(ctx, connector.ListPaymentsRequest{Limit: 1})
	default:
		err = fmt.Errorf("unknown capability %q", capb)
	}
	return err
}

// testUnsupported checks that capabilities match behaviour: undeclared ones answer
// Unsupported, declared ones never do.
func (h *harness) testUnsupported(t *testing.T) {
	c, d := h.configured(t)
	for _, capb := range connector.AllCapabilities() {
		err := call(h.ctx(t), c, capb)
		if !d.Has(capb) {
			wantKind(t, string(capb)+" (not declared)", err, connector.ErrUnsupported)
		} else if errors.Is(err, connector.ErrUnsupported) {
			t.Errorf("%s is declared but answers %v", capb, err)
		}
	}
}

func (h *harness) testCustomers(t *testing.T) {
	c, d := h.configured(t)
	need(t, d, connector.CapUpsertCustomer)
	ctx := h.ctx(t)
	in := connector.Customer{Name: uniq("Harness GmbH"), TaxID: uniq("TAX"), Email: uniq("buyer") + "@example.com", Phone: "+49 30 1234567"}
	r, err := c.UpsertCustomer(ctx, connector.UpsertCustomerRequest{Customer: in})
	if err != nil {
		t.Fatalf("UpsertCustomer(new): %v", err)
	}
	if !r.Created || r.Customer.ID == "" {
		t.Fatalf("UpsertCustomer(new): created=%v id=%q, want created with an ID", r.Created, r.Customer.ID)
	}
	upd := r.Customer
	upd.Phone = "+49 30 7654321"
	r2, err := c.UpsertCustomer(ctx, connector.UpsertCustomerRequest{Customer: upd})
	if err != nil {
		t.Fatalf("UpsertCustomer(existing): %v", err)
	}
	if r2.Created || r2.Customer.ID != r.Customer.ID {
		t.Errorf("UpsertCustomer(existing): created=%v id=%q, want update of %q", r2.Created, r2.Customer.ID, r.Customer.ID)
	}
	if d.Has(connector.CapListCustomers) {
		h.checkListedCustomer(t, ctx, c, r.Customer.ID, upd.Phone)
	}
	if !d.Has(connector.CapFindCustomers) {
		return
	}
	for _, q := range []connector.FindCustomersRequest{{ID: r.Customer.ID}, {TaxID: in.TaxID}, {Email: in.Email}, {Name: in.Name}} {
		f, err := c.FindCustomers(ctx, q)
		if err != nil {
			t.Errorf("FindCustomers(%+v): %v", q, err)
			continue
		}
		if len(f.Customers) != 1 || f.Customers[0].ID != r.Customer.ID {
			t.Errorf("FindCustomers(%+v): got %d customers %+v, want exactly %q", q, len(f.Customers), f.Customers, r.Customer.ID)
		} else if f.Customers[0].Phone != upd.Phone {
			t.Errorf("FindCustomers(%+v): phone %q, want the updated %q", q, f.Customers[0].Phone, upd.Phone)
		}
	}
	f, err := c.FindCustomers(ctx, connector.FindCustomersRequest{TaxID: uniq("NOBODY")})
	if err != nil || len(f.Customers) != 0 {
		t.Errorf("FindCustomers(unknown tax ID): got %d customers, err %v; want none and no error", len(f.Customers), err)
	}
}

// checkListedCustomer checks that ListCustomers lists the customer just upserted (with
// its updated phone) among those changed since an hour ago, and none changed since
// tomorrow.
func (h *harness) checkListedCustomer(t *testing.T, ctx context.Context, c connector.Connector, id, phone string) {
	t.Helper()
	recent := listAllCustomers(t, ctx, c, time.Now().Add(-time.Hour), 0)
	n := 0
	for _, cu := range recent {
		if cu.ID == id {
			n++
			if cu.Phone != phone {
				t.Errorf("ListCustomers: customer %q has phone %q, want the updated %q", id, cu.Phone, phone)
			}
		}
	}
	if n != 1 {
		t.Errorf("ListCustomers(since an hour ago): the customer just upserted appears %d times among %d, want once", n, len(recent))
	}
	r, err := c.ListCustomers(ctx, connector.ListCustomersRequest{Since: time.Now().Add(24 * time.Hour)})
	if err != nil || len(r.Customers) != 0 {
		t.Errorf("ListCustomers(since tomorrow): %d customers, err %v; want none", len(r.Customers), err)
	}
}

func listAllCustomers(t *testing.T, ctx context.Context, c connector.Connector, since time.Time, limit int) []connector.Customer {
	t.Helper()
	return walk(t, "ListCustomers", limit, func(cu connector.Customer) string { return cu.ID }, func(cur string) ([]connector.Customer, string, error) {
		r, err := c.ListCustomers(ctx, connector.ListCustomersRequest{Since: since, Cursor: cur, Limit: limit})
		return r.Customers, r.NextCursor, err
	})
}

// customer returns a customer ID orders can be created for.
func (h *harness) customer(t *testing.T, c connector.Connector, d connector.DescribeResponse) string {
	t.Helper()
	if d.Has(connector.CapUpsertCustomer) {
		r, err := c.UpsertCustomer(h.ctx(t), connector.UpsertCustomerRequest{Customer: connector.Customer{Name: uniq("Order Buyer"), TaxID: uniq("TAX")}})
		if err != nil {
			t.Fatalf("UpsertCustomer: %v", err)
		}
		return r.Customer.ID
	}
	if h.opts.CustomerID == "" {
		t.Skip("connector cannot create customers and Options.CustomerID is empty")
	}
	return h.opts.CustomerID
}

func orderReq(key, customer string) connector.CreateSalesOrderRequest {
	return connector.CreateSalesOrderRequest{IdempotencyKey: key, CustomerID: customer, Currency: "EUR",
		Reference: "connectortest " + key,
		Lines:     []connector.OrderLine{{ProductCode: "WIDGET", Description: "Widget", Quantity: "3", UnitPrice: "2.50"}}}
}

func (h *harness) testCreateIdempotent(t *testing.T) {
	c, d := h.configured(t)
	need(t, d, connector.CapCreateSalesOrder)
	cust := h.customer(t, c, d)
	ctx := h.ctx(t)
	key := uniq("idem")
	first, err := c.CreateSalesOrder(ctx, orderReq(key, cust))
	if err != nil {
		t.Fatalf("CreateSalesOrder: %v", err)
	}
	if !first.Created || first.Order.ID == "" {
		t.Fatalf("CreateSalesOrder: created=%v id=%q, want a new order", first.Created, first.Order.ID)
	}
	if first.Order.CustomerID != cust {
		t.Errorf("CreateSalesOrder: customer %q, want %q", first.Order.CustomerID, cust)
	}
	for i := range 2 {
		again, err := c.CreateSalesOrder(ctx, orderReq(key, cust))
		if err != nil {
			t.Fatalf("CreateSalesOrder repeat %d: %v", i+1, err)
		}
		if again.Created || again.Order.ID != first.Order.ID {
			t.Errorf("CreateSalesOrder repeat %d with the same key: created=%v id=%q, want the existing %q", i+1, again.Created, again.Order.ID, first.Order.ID)
		}
	}
	other, err := c.CreateSalesOrder(ctx, orderReq(uniq("idem"), cust))
	if err != nil {
		t.Fatalf("CreateSalesOrder with a new key: %v", err)
	}
	if !other.Created || other.Order.ID == first.Order.ID {
		t.Errorf("CreateSalesOrder with a new key: created=%v id=%q, want a second order", other.Created, other.Order.ID)
	}
	if d.Has(connector.CapGetOrder) {
		g, err := c.GetOrder(ctx, connector.GetOrderRequest{ID: first.Order.ID})
		if err != nil {
			t.Fatalf("GetOrder(created): %v", err)
		}
		if g.Order.ID != first.Order.ID || g.Order.CustomerID != cust || len(g.Order.Lines) != 1 {
			t.Errorf("GetOrder(created) = %+v, want the order just created with 1 line", g.Order)
		}
	}
	if d.Has(connector.CapListOrders) {
		all := listAllOrders(t, ctx, c, cust, 0)
		n := 0
		for _, o := range all {
			if o.ID == first.Order.ID {
				n++
			}
		}
		if n != 1 || len(all) != 2 {
			t.Errorf("ListOrders(customer): the idempotent order appears %d times among %d orders, want once among 2", n, len(all))
		}
	}
}

// walk pages through a listing with the given page size, failing on duplicates, on
// pages larger than asked and on cursors that never end.
func walk[T any](t *testing.T, what string, limit int, id func(T) string, list func(cursor string) ([]T, string, error)) []T {
	t.Helper()
	seen := map[string]bool{}
	var all []T
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("%s: more than 10000 pages; the cursor never ends", what)
		}
		items, next, err := list(cursor)
		if err != nil {
			t.Fatalf("%s page %d: %v", what, pages+1, err)
		}
		if limit > 0 && len(items) > limit {
			t.Errorf("%s page %d: %d items, more than the limit %d", what, pages+1, len(items), limit)
		}
		for _, it := range items {
			if seen[id(it)] {
				t.Errorf("%s: %q returned twice while paging", what, id(it))
			}
			seen[id(it)] = true
			all = append(all, it)
		}
		if next == "" {
			return all
		}
		if next == cursor {
			t.Fatalf("%s: cursor %q did not advance", what, next)
		}
		cursor = next
	}
}

func listAllOrders(t *testing.T, ctx context.Context, c connector.Connector, customer string, limit int) []connector.Order {
	t.Helper()
	return walk(t, "ListOrders", limit, func(o connector.Order) string { return o.ID }, func(cur string) ([]connector.Order, string, error) {
		r, err := c.ListOrders(ctx, connector.ListOrdersRequest{CustomerID: customer, Cursor: cur, Limit: limit})
		return r.Orders, r.NextCursor, err
	})
}

func ids[T any](items []T, id func(T) string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[id(it)] = true
	}
	return m
}

func sameIDs(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func (h *harness) testPaging(t *testing.T) {
	c, d := h.configured(t)
	ctx := h.ctx(t)
	if d.Has(connector.CapListOrders) {
		cust := ""
		if d.Has(connector.CapCreateSalesOrder) {
			cust = h.customer(t, c, d)
			for range 5 {
				if _, err := c.CreateSalesOrder(ctx, orderReq(uniq("page"), cust)); err != nil {
					t.Fatalf("CreateSalesOrder for paging: %v", err)
				}
			}
		}
		whole := listAllOrders(t, ctx, c, cust, 0)
		paged := listAllOrders(t, ctx, c, cust, 2)
		oid := func(o connector.Order) string { return o.ID }
		if !sameIDs(ids(whole, oid), ids(paged, oid)) {
			t.Errorf("ListOrders: pages of 2 return %d orders, one big page %d; the sets differ", len(paged), len(whole))
		}
		if cust != "" && len(paged) != 5 {
			t.Errorf("ListOrders(customer with 5 new orders): got %d", len(paged))
		}
		for _, o := range paged {
			if cust != "" && o.CustomerID != cust {
				t.Errorf("ListOrders(customer %q) returned order %q of customer %q", cust, o.ID, o.CustomerID)
			}
		}
		future := time.Now().Add(24 * time.Hour)
		r, err := c.ListOrders(ctx, connector.ListOrdersRequest{CustomerID: cust, Since: future})
		if err != nil || len(r.Orders) != 0 {
			t.Errorf("ListOrders(since tomorrow): %d orders, err %v; want none", len(r.Orders), err)
		}
	}
	if d.Has(connector.CapListCustomers) {
		if d.Has(connector.CapUpsertCustomer) {
			for range 3 {
				if _, err := c.UpsertCustomer(ctx, connector.UpsertCustomerRequest{Customer: connector.Customer{Name: uniq("Paging Customer")}}); err != nil {
					t.Fatalf("UpsertCustomer for paging: %v", err)
				}
			}
		}
		cid := func(cu connector.Customer) string { return cu.ID }
		whole := listAllCustomers(t, ctx, c, time.Time{}, 0)
		if a, b := whole, listAllCustomers(t, ctx, c, time.Time{}, 2); !sameIDs(ids(a, cid), ids(b, cid)) {
			t.Errorf("ListCustomers: pages of 2 return %d customers, one big page %d; the sets differ", len(b), len(a))
		}
		if d.Has(connector.CapUpsertCustomer) && len(whole) < 3 {
			t.Errorf("ListCustomers: %d customers after creating 3", len(whole))
		}
	}
	if d.Has(connector.CapListInvoices) {
		vid := func(v connector.Invoice) string { return v.ID }
		list := func(limit int) []connector.Invoice {
			return walk(t, "ListInvoices", limit, vid, func(cur string) ([]connector.Invoice, string, error) {
				r, err := c.ListInvoices(ctx, connector.ListInvoicesRequest{Cursor: cur, Limit: limit})
				return r.Invoices, r.NextCursor, err
			})
		}
		if a, b := list(0), list(2); !sameIDs(ids(a, vid), ids(b, vid)) {
			t.Errorf("ListInvoices: pages of 2 return %d invoices, one big page %d; the sets differ", len(b), len(a))
		}
	}
	if d.Has(connector.CapListPayments) {
		pid := func(p connector.Payment) string { return p.ID }
		list := func(limit int) []connector.Payment {
			return walk(t, "ListPayments", limit, pid, func(cur string) ([]connector.Payment, string, error) {
				r, err := c.ListPayments(ctx, connector.ListPaymentsRequest{Cursor: cur, Limit: limit})
				return r.Payments, r.NextCursor, err
			})
		}
		if a, b := list(0), list(2); !sameIDs(ids(a, pid), ids(b, pid)) {
			t.Errorf("ListPayments: pages of 2 return %d payments, one big page %d; the sets differ", len(b), len(a))
		}
	}
}

func (h *harness) testNotFound(t *testing.T) {
	c, d := h.configured(t)
	ctx := h.ctx(t)
	ran := false
	if d.Has(connector.CapGetOrder) {
		ran = true
		_, err := c.GetOrder(ctx, connector.GetOrderRequest{ID: uniq("missing-order")})
		wantKind(t, "GetOrder(missing)", err, connector.ErrNotFound)
	}
	if d.Has(connector.CapUpsertCustomer) {
		ran = true
		_, err := c.UpsertCustomer(ctx, connector.UpsertCustomerRequest{Customer: connector.Customer{ID: uniq("missing-customer"), Name: "Nobody"}})
		wantKind(t, "UpsertCustomer(missing ID)", err, connector.ErrNotFound)
	}
	if !ran {
		t.Skip("no capability addresses an object by ID")
	}
}

func (h *harness) testInvalid(t *testing.T) {
	c, d := h.configured(t)
	ctx := h.ctx(t)
	if d.Has(connector.CapFindCustomers) {
		_, err := c.FindCustomers(ctx, connector.FindCustomersRequest{})
		wantKind(t, "FindCustomers(no criteria)", err, connector.ErrInvalid)
	}
	if d.Has(connector.CapUpsertCustomer) {
		_, err := c.UpsertCustomer(ctx, connector.UpsertCustomerRequest{Customer: connector.Customer{TaxID: uniq("TAX")}})
		wantKind(t, "UpsertCustomer(no name)", err, connector.ErrInvalid)
	}
	if d.Has(connector.CapCreateSalesOrder) {
		req := orderReq("", h.customer(t, c, d))
		_, err := c.CreateSalesOrder(ctx, req)
		wantKind(t, "CreateSalesOrder(no idempotency key)", err, connector.ErrInvalid)
		req = orderReq(uniq("k"), req.CustomerID)
		req.Lines = nil
		_, err = c.CreateSalesOrder(ctx, req)
		wantKind(t, "CreateSalesOrder(no lines)", err, connector.ErrInvalid)
	}
	if d.Has(connector.CapListOrders) {
		_, err := c.ListOrders(ctx, connector.ListOrdersRequest{Limit: -1})
		wantKind(t, "ListOrders(limit -1)", err, connector.ErrInvalid)
	}
	if d.Has(connector.CapListCustomers) {
		_, err := c.ListCustomers(ctx, connector.ListCustomersRequest{Limit: -1})
		wantKind(t, "ListCustomers(limit -1)", err, connector.ErrInvalid)
	}
}

// testDeadline calls every declared capability with a context whose deadline has
// passed: the call must fail as a timeout instead of doing the work.
func (h *harness) testDeadline(t *testing.T) {
	c, d := h.configured(t)
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with an expired deadline: no error", what)
		} else if !errors.Is(err, connector.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s with an expired deadline: got %v (kind %s), want a timeout", what, err, connector.KindOf(err))
		}
	}
	_, err := c.Health(ctx, connector.HealthRequest{})
	check("Health", err)
	for _, capb := range d.Capabilities {
		check(string(capb), call(ctx, c, capb))
	}
	for _, op := range d.Operations {
		if in, ok := h.opts.Operations[op.Name]; ok {
			_, err := c.Invoke(ctx, connector.InvokeRequest{Operation: op.Name, Input: in, IdempotencyKey: uniq("k")})
			check("operation "+op.Name, err)
		}
	}
}

// testOperations invokes every described operation with its example input and checks
// the output against the output schema; an operation nobody describes must answer
// Unsupported.
func (h *harness) testOperations(t *testing.T) {
	c, d := h.configured(t)
	ctx := h.ctx(t)
	missing := uniq("connectortest.missing")
	missing = strings.ReplaceAll(missing, "-", "_")
	_, err := c.Invoke(ctx, connector.InvokeRequest{Operation: missing, Input: json.RawMessage(`{}`)})
	wantKind(t, "Invoke(an operation the connector does not describe)", err, connector.ErrUnsupported)
	for name := range h.opts.Operations {
		if _, ok := d.Operation(name); !ok {
			t.Errorf("Options.Operations has an example for %q, which the connector does not describe", name)
		}
	}
	for _, op := range d.Operations {
		t.Run(op.Name, func(t *testing.T) {
			in, ok := h.opts.Operations[op.Name]
			if !ok {
				t.Fatalf("no example input for operation %q: add one to Options.Operations", op.Name)
			}
			if len(op.Input) > 0 {
				if s, err := compileSchema(op.Name+".input", op.Input); err == nil {
					if err := validate(s, in); err != nil {
						t.Fatalf("the example input of %q does not satisfy its input schema: %v", op.Name, err)
					}
				}
			}
			r, err := c.Invoke(ctx, connector.InvokeRequest{Operation: op.Name, Input: in, IdempotencyKey: uniq("k")})
			if err != nil {
				t.Fatalf("Invoke(%s, example): %v", op.Name, err)
			}
			if !json.Valid(r.Output) {
				t.Fatalf("Invoke(%s): output is not JSON: %q", op.Name, r.Output)
			}
			if len(op.Output) > 0 {
				if s, err := compileSchema(op.Name+".output", op.Output); err == nil {
					if err := validate(s, r.Output); err != nil {
						t.Errorf("Invoke(%s): output %s does not satisfy the output schema: %v", op.Name, r.Output, err)
					}
				}
			}
		})
	}
}
