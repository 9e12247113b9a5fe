package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// configSchema is the JSON Schema of the connector's configuration. The host validates
// every instance's configuration against it before Configure is called.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["dir"],
  "additionalProperties": false,
  "properties": {
    "dir": {"type": "string", "minLength": 1, "description": "directory holding customers.csv, orders.csv, order_lines.csv, invoices.csv and payments.csv"},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "EUR", "description": "currency of new sales orders that do not name one"}
  }
}`

// config is the decoded configuration.
type config struct {
	Dir      string `json:"dir"`
	Currency string `json:"currency"`
}

// csvConnector is an ERP made of CSV files in one directory. Reads load the files on
// every call (they are small); writes replace a file atomically. The mutex serialises
// writers inside the process; one directory should be served by one instance.
type csvConnector struct {
	mu  sync.Mutex
	cfg *config
	now func() time.Time
}

func newConnector() *csvConnector { return &csvConnector{now: time.Now} }

var _ connector.Connector = (*csvConnector)(nil)

func (c *csvConnector) Describe(ctx context.Context, _ connector.DescribeRequest) (connector.DescribeResponse, error) {
	return connector.DescribeResponse{
		Name:         "csv",
		Version:      "1.0.0",
		Vendor:       "Rapport",
		Capabilities: connector.AllCapabilities(),
		ConfigSchema: json.RawMessage(configSchema),
		Operations:   []connector.Operation{balanceOp},
	}, ctx.Err()
}

func (c *csvConnector) Configure(ctx context.Context, req connector.ConfigureRequest) (connector.ConfigureResponse, error) {
	if err := ctx.Err(); err != nil {
		return connector.ConfigureResponse{}, err
	}
	var cfg config
	dec := json.NewDecoder(strings.NewReader(string(req.Config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return connector.ConfigureResponse{}, connector.Invalid("decode configuration: %v", err)
	}
	if cfg.Dir == "" {
		return connector.ConfigureResponse{}, connector.Invalid("configuration: dir is required")
	}
	if cfg.Currency == "" {
		cfg.Currency = "EUR"
	}
	st, err := os.Stat(cfg.Dir)
	if err != nil {
		return connector.ConfigureResponse{}, connector.Invalid("configuration: dir: %v", err)
	}
	if !st.IsDir() {
		return connector.ConfigureResponse{}, connector.Invalid("configuration: dir %q is not a directory", cfg.Dir)
	}
	c.mu.Lock()
	c.cfg = &cfg
	c.mu.Unlock()
	return connector.ConfigureResponse{}, nil
}

// dir returns the configured directory after checking the context, so every method
// starts by honouring cancellation.
func (c *csvConnector) dir(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return "", connector.Permanent("connector is not configured")
	}
	return c.cfg.Dir, nil
}

func (c *csvConnector) Health(ctx context.Context, _ connector.HealthRequest) (connector.HealthResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.HealthResponse{}, err
	}
	if _, err := os.Stat(dir); err != nil {
		return connector.HealthResponse{OK: false, Message: err.Error()}, nil
	}
	return connector.HealthResponse{OK: true, Message: "directory " + dir + " is readable"}, nil
}

func customerFromRow(r row) (connector.Customer, error) {
	upd, err := parseTime(r["updated_at"])
	if err != nil {
		return connector.Customer{}, connector.Internal("customer %q: %w", r["id"], err)
	}
	return connector.Customer{ID: r["id"], Name: r["name"], TaxID: r["tax_id"], Email: r["email"], Phone: r["phone"],
		Address:   connector.Address{Street: r["street"], City: r["city"], PostalCode: r["postal_code"], Country: r["country"]},
		UpdatedAt: upd}, nil
}

func customerToRow(cu connector.Customer) row {
	return row{"id": cu.ID, "name": cu.Name, "tax_id": cu.TaxID, "email": cu.Email, "phone": cu.Phone,
		"street": cu.Address.Street, "city": cu.Address.City, "postal_code": cu.Address.PostalCode,
		"country": cu.Address.Country, "updated_at": formatTime(cu.UpdatedAt)}
}

func (c *csvConnector) customers(dir string) ([]connector.Customer, error) {
	rows, err := readTable(dir, customersFile)
	if err != nil {
		return nil, connector.Internal("%w", err)
	}
	out := make([]connector.Customer, 0, len(rows))
	for _, r := range rows {
		cu, err := customerFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, cu)
	}
	return out, nil
}

// normTaxID and normPhone compare identifiers the way people write them differently:
// "DE 123 456 789" equals "de123456789", "+49 30 1234" equals "+49301234".
func normTaxID(s string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '.' {
			return -1
		}
		return r
	}, s))
}

func normPhone(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '+' {
			return r
		}
		return -1
	}, s)
}

func (c *csvConnector) FindCustomers(ctx context.Context, req connector.FindCustomersRequest) (connector.FindCustomersResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.FindCustomersResponse{}, err
	}
	if req.ID == "" && req.TaxID == "" && req.Email == "" && req.Phone == "" && req.Name == "" {
		return connector.FindCustomersResponse{}, connector.Invalid("find customers: give an ID, tax ID, email, phone or name")
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.FindCustomersResponse{}, err
	}
	all, err := c.customers(dir)
	if err != nil {
		return connector.FindCustomersResponse{}, err
	}
	var out []connector.Customer
	for _, cu := range all {
		switch {
		case req.ID != "" && cu.ID != req.ID:
		case req.TaxID != "" && normTaxID(cu.TaxID) != normTaxID(req.TaxID):
		case req.Email != "" && !strings.EqualFold(cu.Email, strings.TrimSpace(req.Email)):
		case req.Phone != "" && normPhone(cu.Phone) != normPhone(req.Phone):
		case req.Name != "" && !strings.Contains(strings.ToLower(cu.Name), strings.ToLower(req.Name)):
		default:
			out = append(out, cu)
		}
		if len(out) == limit {
			break
		}
	}
	return connector.FindCustomersResponse{Customers: out}, nil
}

// ListCustomers pages through customers.csv by ID, keeping those updated at or after
// req.Since (a customer without updated_at is always listed).
func (c *csvConnector) ListCustomers(ctx context.Context, req connector.ListCustomersRequest) (connector.ListCustomersResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.ListCustomersResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.ListCustomersResponse{}, err
	}
	all, err := c.customers(dir)
	if err != nil {
		return connector.ListCustomersResponse{}, err
	}
	slices.SortFunc(all, func(a, b connector.Customer) int { return cmp.Compare(a.ID, b.ID) })
	out, next, err := page(all, func(cu connector.Customer) string { return cu.ID }, func(cu connector.Customer) bool {
		return changedSince(req.Since, cu.UpdatedAt, time.Time{})
	}, req.Cursor, limit)
	return connector.ListCustomersResponse{Customers: out, NextCursor: next}, err
}

func (c *csvConnector) UpsertCustomer(ctx context.Context, req connector.UpsertCustomerRequest) (connector.UpsertCustomerResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.UpsertCustomerResponse{}, err
	}
	in := req.Customer
	if strings.TrimSpace(in.Name) == "" {
		return connector.UpsertCustomerResponse{}, connector.Invalid("upsert customer: name is required")
	}
	if in.Email != "" && !strings.Contains(in.Email, "@") {
		return connector.UpsertCustomerResponse{}, connector.Invalid("upsert customer: email %q is not an address", in.Email)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rows, err := readTable(dir, customersFile)
	if err != nil {
		return connector.UpsertCustomerResponse{}, connector.Internal("%w", err)
	}
	idx := -1
	for i, r := range rows {
		if in.ID != "" && r["id"] == in.ID || in.ID == "" && in.TaxID != "" && normTaxID(r["tax_id"]) == normTaxID(in.TaxID) {
			idx = i
			break
		}
	}
	if in.ID != "" && idx < 0 {
		return connector.UpsertCustomerResponse{}, connector.NotFound("customer %q", in.ID)
	}
	in.UpdatedAt = c.now().UTC().Truncate(time.Second)
	created := idx < 0
	if created {
		in.ID = nextID("C-", rows)
		rows = append(rows, customerToRow(in))
	} else {
		in.ID = rows[idx]["id"]
		rows[idx] = customerToRow(in)
	}
	if err := writeTable(dir, customersFile, customerCols, rows); err != nil {
		return connector.UpsertCustomerResponse{}, connector.Internal("%w", err)
	}
	return connector.UpsertCustomerResponse{Customer: in, Created: created}, nil
}

// nextID returns prefix plus a zero-padded number one above the highest ID with that
// prefix, so generated IDs sort in creation order.
func nextID(prefix string, rows []row) string {
	n := 0
	for _, r := range rows {
		var k int
		if _, err := fmt.Sscanf(strings.TrimPrefix(r["id"], prefix), "%d", &k); err == nil && strings.HasPrefix(r["id"], prefix) && k > n {
			n = k
		}
	}
	return fmt.Sprintf("%s%06d", prefix, n+1)
}

// orders loads orders with their lines, sorted by ID.
func (c *csvConnector) orders(dir string) ([]connector.Order, []row, error) {
	rows, err := readTable(dir, ordersFile)
	if err != nil {
		return nil, nil, connector.Internal("%w", err)
	}
	lineRows, err := readTable(dir, orderLinesFile)
	if err != nil {
		return nil, nil, connector.Internal("%w", err)
	}
	lines := map[string][]connector.OrderLine{}
	for _, l := range lineRows {
		lines[l["order_id"]] = append(lines[l["order_id"]], connector.OrderLine{ProductCode: l["product_code"],
			Description: l["description"], Quantity: l["quantity"], UnitPrice: l["unit_price"], Amount: l["amount"]})
	}
	out := make([]connector.Order, 0, len(rows))
	for _, r := range rows {
		date, err := parseTime(r["date"])
		if err != nil {
			return nil, nil, connector.Internal("order %q: %w", r["id"], err)
		}
		upd, err := parseTime(r["updated_at"])
		if err != nil {
			return nil, nil, connector.Internal("order %q: %w", r["id"], err)
		}
		out = append(out, connector.Order{ID: r["id"], Number: r["number"], CustomerID: r["customer_id"], Date: date,
			State: r["state"], Currency: r["currency"], Total: r["total"], Lines: lines[r["id"]],
			Reference: r["reference"], UpdatedAt: upd})
	}
	slices.SortFunc(out, func(a, b connector.Order) int { return cmp.Compare(a.ID, b.ID) })
	return out, rows, nil
}

// page applies the customer and since filters and keyset paging by ID. The cursor is
// the base64 of the last ID returned, so rows added between pages are neither skipped
// nor repeated.
func page[T any](items []T, id func(T) string, keep func(T) bool, cursor string, limit int) ([]T, string, error) {
	var after string
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) == 0 {
			return nil, "", connector.Invalid("malformed cursor %q", cursor)
		}
		after = string(b)
	}
	var out []T
	for _, it := range items {
		if after != "" && id(it) <= after || !keep(it) {
			continue
		}
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString([]byte(id(out[len(out)-1]))), nil
		}
		out = append(out, it)
	}
	return out, "", nil
}

// changedSince reports whether a record updated at upd (or dated date when it has no
// update time) is on or after since.
func changedSince(since, upd, date time.Time) bool {
	if since.IsZero() {
		return true
	}
	if upd.IsZero() {
		upd = date
	}
	return !upd.Before(since)
}

func (c *csvConnector) ListOrders(ctx context.Context, req connector.ListOrdersRequest) (connector.ListOrdersResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	all, _, err := c.orders(dir)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	out, next, err := page(all, func(o connector.Order) string { return o.ID }, func(o connector.Order) bool {
		return (req.CustomerID == "" || o.CustomerID == req.CustomerID) && changedSince(req.Since, o.UpdatedAt, o.Date)
	}, req.Cursor, limit)
	return connector.ListOrdersResponse{Orders: out, NextCursor: next}, err
}

func (c *csvConnector) GetOrder(ctx context.Context, req connector.GetOrderRequest) (connector.GetOrderResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.GetOrderResponse{}, err
	}
	if req.ID == "" {
		return connector.GetOrderResponse{}, connector.Invalid("get order: id is required")
	}
	all, _, err := c.orders(dir)
	if err != nil {
		return connector.GetOrderResponse{}, err
	}
	for _, o := range all {
		if o.ID == req.ID {
			return connector.GetOrderResponse{Order: o}, nil
		}
	}
	return connector.GetOrderResponse{}, connector.NotFound("order %q", req.ID)
}

// decimalRE accepts plain decimal numbers such as "3", "-1.25" or "0.10" (big.Rat
// alone would also take fractions like "1/3").
var decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// decimal parses a decimal string exactly.
func decimal(field, s string) (*big.Rat, error) {
	s = strings.TrimSpace(s)
	r, ok := new(big.Rat).SetString(s)
	if !ok || !decimalRE.MatchString(s) {
		return nil, connector.Invalid("%s %q is not a decimal number", field, s)
	}
	return r, nil
}

func (c *csvConnector) CreateSalesOrder(ctx context.Context, req connector.CreateSalesOrderRequest) (connector.CreateSalesOrderResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	switch {
	case strings.TrimSpace(req.IdempotencyKey) == "":
		return connector.CreateSalesOrderResponse{}, connector.Invalid("create sales order: idempotency key is required")
	case req.CustomerID == "":
		return connector.CreateSalesOrderResponse{}, connector.Invalid("create sales order: customer ID is required")
	case len(req.Lines) == 0:
		return connector.CreateSalesOrderResponse{}, connector.Invalid("create sales order: at least one line is required")
	}
	total := new(big.Rat)
	lines := make([]row, len(req.Lines))
	outLines := make([]connector.OrderLine, len(req.Lines))
	for i, l := range req.Lines {
		q, err := decimal(fmt.Sprintf("line %d quantity", i+1), l.Quantity)
		if err != nil {
			return connector.CreateSalesOrderResponse{}, err
		}
		if q.Sign() <= 0 {
			return connector.CreateSalesOrderResponse{}, connector.Invalid("line %d quantity must be positive", i+1)
		}
		p, err := decimal(fmt.Sprintf("line %d unit price", i+1), l.UnitPrice)
		if err != nil {
			return connector.CreateSalesOrderResponse{}, err
		}
		amt := new(big.Rat).Mul(q, p)
		total.Add(total, amt)
		outLines[i] = connector.OrderLine{ProductCode: l.ProductCode, Description: l.Description,
			Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: amt.FloatString(2)}
		lines[i] = row{"product_code": l.ProductCode, "description": l.Description, "quantity": l.Quantity,
			"unit_price": l.UnitPrice, "amount": outLines[i].Amount}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	existing, rows, err := c.orders(dir)
	if err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	for _, r := range rows {
		if r["idempotency_key"] == req.IdempotencyKey {
			for _, o := range existing {
				if o.ID == r["id"] {
					return connector.CreateSalesOrderResponse{Order: o, Created: false}, nil
				}
			}
		}
	}
	customers, err := c.customers(dir)
	if err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	if !slices.ContainsFunc(customers, func(cu connector.Customer) bool { return cu.ID == req.CustomerID }) {
		return connector.CreateSalesOrderResponse{}, connector.NotFound("customer %q", req.CustomerID)
	}
	if err := ctx.Err(); err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	now := c.now().UTC().Truncate(time.Second)
	o := connector.Order{ID: nextID("SO-", rows), CustomerID: req.CustomerID, Date: req.Date, State: "draft",
		Currency: req.Currency, Total: total.FloatString(2), Lines: outLines, Reference: req.Reference, UpdatedAt: now}
	o.Number = o.ID
	if o.Currency == "" {
		o.Currency = c.cfg.Currency
	}
	if o.Date.IsZero() {
		o.Date = now
	}
	// Lines first, then the order row: orders.csv is the commit point. A crash between
	// the two leaves lines without an order, which readers ignore and the retry
	// replaces because it drops every line already filed under the new ID.
	lineRows, err := readTable(dir, orderLinesFile)
	if err != nil {
		return connector.CreateSalesOrderResponse{}, connector.Internal("%w", err)
	}
	lineRows = slices.DeleteFunc(lineRows, func(r row) bool { return r["order_id"] == o.ID })
	for _, l := range lines {
		l["order_id"] = o.ID
		lineRows = append(lineRows, l)
	}
	if err := writeTable(dir, orderLinesFile, orderLineCols, lineRows); err != nil {
		return connector.CreateSalesOrderResponse{}, connector.Internal("%w", err)
	}
	rows = append(rows, row{"id": o.ID, "number": o.Number, "customer_id": o.CustomerID, "date": formatTime(o.Date),
		"state": o.State, "currency": o.Currency, "total": o.Total, "reference": o.Reference,
		"updated_at": formatTime(o.UpdatedAt), "idempotency_key": req.IdempotencyKey})
	if err := writeTable(dir, ordersFile, orderCols, rows); err != nil {
		return connector.CreateSalesOrderResponse{}, connector.Internal("%w", err)
	}
	return connector.CreateSalesOrderResponse{Order: o, Created: true}, nil
}

func (c *csvConnector) ListInvoices(ctx context.Context, req connector.ListInvoicesRequest) (connector.ListInvoicesResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.ListInvoicesResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.ListInvoicesResponse{}, err
	}
	rows, err := readTable(dir, invoicesFile)
	if err != nil {
		return connector.ListInvoicesResponse{}, connector.Internal("%w", err)
	}
	all := make([]connector.Invoice, 0, len(rows))
	for _, r := range rows {
		var ts [3]time.Time
		for i, col := range []string{"date", "due_date", "updated_at"} {
			if ts[i], err = parseTime(r[col]); err != nil {
				return connector.ListInvoicesResponse{}, connector.Internal("invoice %q: %w", r["id"], err)
			}
		}
		all = append(all, connector.Invoice{ID: r["id"], Number: r["number"], CustomerID: r["customer_id"],
			OrderID: r["order_id"], Date: ts[0], DueDate: ts[1], State: r["state"], Currency: r["currency"],
			Total: r["total"], AmountDue: r["amount_due"], UpdatedAt: ts[2]})
	}
	slices.SortFunc(all, func(a, b connector.Invoice) int { return cmp.Compare(a.ID, b.ID) })
	out, next, err := page(all, func(v connector.Invoice) string { return v.ID }, func(v connector.Invoice) bool {
		return (req.CustomerID == "" || v.CustomerID == req.CustomerID) && changedSince(req.Since, v.UpdatedAt, v.Date)
	}, req.Cursor, limit)
	return connector.ListInvoicesResponse{Invoices: out, NextCursor: next}, err
}

func (c *csvConnector) ListPayments(ctx context.Context, req connector.ListPaymentsRequest) (connector.ListPaymentsResponse, error) {
	dir, err := c.dir(ctx)
	if err != nil {
		return connector.ListPaymentsResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.ListPaymentsResponse{}, err
	}
	rows, err := readTable(dir, paymentsFile)
	if err != nil {
		return connector.ListPaymentsResponse{}, connector.Internal("%w", err)
	}
	all := make([]connector.Payment, 0, len(rows))
	for _, r := range rows {
		date, err := parseTime(r["date"])
		if err != nil {
			return connector.ListPaymentsResponse{}, connector.Internal("payment %q: %w", r["id"], err)
		}
		upd, err := parseTime(r["updated_at"])
		if err != nil {
			return connector.ListPaymentsResponse{}, connector.Internal("payment %q: %w", r["id"], err)
		}
		all = append(all, connector.Payment{ID: r["id"], CustomerID: r["customer_id"], InvoiceID: r["invoice_id"],
			Date: date, Currency: r["currency"], Amount: r["amount"], Method: r["method"], UpdatedAt: upd})
	}
	slices.SortFunc(all, func(a, b connector.Payment) int { return cmp.Compare(a.ID, b.ID) })
	out, next, err := page(all, func(p connector.Payment) string { return p.ID }, func(p connector.Payment) bool {
		return (req.CustomerID == "" || p.CustomerID == req.CustomerID) && changedSince(req.Since, p.UpdatedAt, p.Date)
	}, req.Cursor, limit)
	return connector.ListPaymentsResponse{Payments: out, NextCursor: next}, err
}
