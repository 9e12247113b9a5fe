package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// configSchema is the JSON Schema of the Tryton connector's configuration.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["url", "database", "username", "password"],
  "additionalProperties": false,
  "properties": {
    "url": {"type": "string", "pattern": "^https?://", "description": "trytond base URL, e.g. http://127.0.0.1:8000"},
    "database": {"type": "string", "minLength": 1},
    "username": {"type": "string", "minLength": 1},
    "password": {"type": "string", "writeOnly": true},
    "company": {"type": "integer", "minimum": 1, "description": "company ID; defaults to the user's current company"}
  }
}`

type config struct {
	URL      string `json:"url"`
	Database string `json:"database"`
	Username string `json:"username"`
	Password string `json:"password"`
	Company  int64  `json:"company,omitempty"`
}

// trytonConnector reaches a Tryton server (6.0 or later) through JSON-RPC. Customers
// are parties (tax ID = a party identifier, email and phone = contact mechanisms; all
// but the company's own party are listed),
// orders are sale.sale records whose "reference" holds the idempotency key, invoices
// are customer invoices. Payments are not offered: plain Tryton has no payment records
// a CRM can page through without the account_payment module.
type trytonConnector struct {
	mu      sync.Mutex // serialises CreateSalesOrder's search-then-create and guards the fields below
	rpc     *rpcClient
	company int64
	ctx     map[string]any // Tryton context sent with every model call
}

func newConnector() *trytonConnector { return &trytonConnector{} }

var _ connector.Connector = (*trytonConnector)(nil)

func (c *trytonConnector) Describe(ctx context.Context, _ connector.DescribeRequest) (connector.DescribeResponse, error) {
	return connector.DescribeResponse{Name: "tryton", Version: "1.0.0", Vendor: "Rapport",
		Capabilities: []connector.Capability{connector.CapFindCustomers, connector.CapListCustomers, connector.CapUpsertCustomer,
			connector.CapListOrders, connector.CapGetOrder, connector.CapCreateSalesOrder, connector.CapListInvoices},
		ConfigSchema: json.RawMessage(configSchema), Operations: []connector.Operation{productsOp}}, ctx.Err()
}

func (c *trytonConnector) Configure(ctx context.Context, req connector.ConfigureRequest) (connector.ConfigureResponse, error) {
	var cfg config
	if err := json.Unmarshal(req.Config, &cfg); err != nil {
		return connector.ConfigureResponse{}, connector.Invalid("decode configuration: %v", err)
	}
	if cfg.URL == "" || cfg.Database == "" || cfg.Username == "" {
		return connector.ConfigureResponse{}, connector.Invalid("configuration needs url, database and username")
	}
	rpc := newRPCClient(cfg.URL, cfg.Database, cfg.Username, cfg.Password)
	company := cfg.Company
	if company == 0 {
		var prefs record
		if err := rpc.callInto(ctx, &prefs, "model.res.user.get_preferences", true, map[string]any{}); err != nil {
			return connector.ConfigureResponse{}, asConfigError(err)
		}
		company = prefs.id("company")
		if company == 0 {
			return connector.ConfigureResponse{}, connector.Invalid("user %q has no current company; set \"company\"", cfg.Username)
		}
	} else if _, err := rpc.call(ctx, "model.res.user.get_preferences", true, map[string]any{}); err != nil {
		return connector.ConfigureResponse{}, asConfigError(err)
	}
	c.mu.Lock()
	c.rpc, c.company, c.ctx = rpc, company, map[string]any{"company": company}
	c.mu.Unlock()
	return connector.ConfigureResponse{}, nil
}

// asConfigError reports a configuration that cannot reach or log into Tryton as
// invalid, so the admin sees it when saving, while timeouts stay timeouts.
func asConfigError(err error) error {
	switch connector.KindOf(err) {
	case connector.KindTimeout, connector.KindCanceled:
		return err
	}
	return connector.Invalid("cannot use this Tryton configuration: %v", err)
}

func (c *trytonConnector) client(ctx context.Context) (*rpcClient, map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc == nil {
		return nil, nil, connector.Permanent("connector is not configured")
	}
	return c.rpc, c.ctx, nil
}

func (c *trytonConnector) Health(ctx context.Context, _ connector.HealthRequest) (connector.HealthResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.HealthResponse{}, err
	}
	if _, err := rpc.call(ctx, "model.res.user.get_preferences", true, tctx); err != nil {
		if k := connector.KindOf(err); k == connector.KindTimeout || k == connector.KindCanceled {
			return connector.HealthResponse{}, err
		}
		return connector.HealthResponse{OK: false, Message: err.Error()}, nil
	}
	return connector.HealthResponse{OK: true, Message: "logged in to " + rpc.url}, nil
}

var partyFields = []string{"name", "email", "phone", "identifiers.code", "addresses.street", "addresses.city",
	"addresses.postal_code", "addresses.country.code", "write_date", "create_date"}

func customerFrom(r record) connector.Customer {
	cu := connector.Customer{ID: r.idStr("id"), Name: r.str("name"), Email: r.str("email"), Phone: r.str("phone"),
		UpdatedAt: updated(r)}
	if ids := r.subs("identifiers"); len(ids) > 0 {
		cu.TaxID = ids[0].str("code")
	}
	if as := r.subs("addresses"); len(as) > 0 {
		a := as[0]
		cu.Address = connector.Address{Street: a.str("street"), City: a.str("city"), PostalCode: a.str("postal_code"),
			Country: a.sub("country").str("code")}
	}
	return cu
}

// updated is a record's last change: write_date, or create_date if never written.
func updated(r record) time.Time {
	if t := r.time("write_date"); !t.IsZero() {
		return t
	}
	return r.time("create_date")
}

func compactTaxID(s string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "", ".", "").Replace(s))
}

func compactPhone(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '+' {
			return r
		}
		return -1
	}, s)
}

func (c *trytonConnector) FindCustomers(ctx context.Context, req connector.FindCustomersRequest) (connector.FindCustomersResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.FindCustomersResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.FindCustomersResponse{}, err
	}
	var domain []any
	if req.ID != "" {
		id, err := strconv.Atoi(req.ID)
		if err != nil {
			return connector.FindCustomersResponse{}, nil // not a Tryton party ID: no such customer
		}
		domain = append(domain, []any{"id", "=", id})
	}
	if req.TaxID != "" {
		domain = append(domain, []any{"identifiers.code", "in", uniqStrings(req.TaxID, compactTaxID(req.TaxID))})
	}
	if req.Email != "" {
		domain = append(domain, []any{"contact_mechanisms", "where", []any{
			[]any{"type", "=", "email"}, []any{"value", "ilike", strings.TrimSpace(req.Email)}}})
	}
	if req.Phone != "" {
		domain = append(domain, []any{"contact_mechanisms", "where", []any{
			[]any{"type", "in", []string{"phone", "mobile"}}, []any{"value_compact", "=", compactPhone(req.Phone)}}})
	}
	if req.Name != "" {
		domain = append(domain, []any{"name", "ilike", "%" + req.Name + "%"})
	}
	if len(domain) == 0 {
		return connector.FindCustomersResponse{}, connector.Invalid("find customers: give an ID, tax ID, email, phone or name")
	}
	var rows []record
	if err := rpc.callInto(ctx, &rows, "model.party.party.search_read", domain, 0, limit, [][]string{{"id", "ASC"}}, partyFields, tctx); err != nil {
		return connector.FindCustomersResponse{}, err
	}
	out := make([]connector.Customer, len(rows))
	for i, r := range rows {
		out[i] = customerFrom(r)
	}
	return connector.FindCustomersResponse{Customers: out}, nil
}

// ListCustomers pages through parties by ID, those written (or, never written, created)
// at or after req.Since. The company's own party is left out: it is not a customer.
func (c *trytonConnector) ListCustomers(ctx context.Context, req connector.ListCustomersRequest) (connector.ListCustomersResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.ListCustomersResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.ListCustomersResponse{}, err
	}
	domain, err := pageDomain(req.Cursor, "", "", req.Since)
	if err != nil {
		return connector.ListCustomersResponse{}, err
	}
	company, _ := tctx["company"].(int64)
	var companies []record
	if err := rpc.callInto(ctx, &companies, "model.company.company.read", []int64{company}, []string{"party"}, tctx); err != nil {
		return connector.ListCustomersResponse{}, err
	}
	if len(companies) > 0 && companies[0].id("party") != 0 {
		domain = append(domain, []any{"id", "!=", companies[0].id("party")})
	}
	rows, next, err := searchPage(ctx, rpc, tctx, "party.party", domain, limit, partyFields)
	if err != nil {
		return connector.ListCustomersResponse{}, err
	}
	out := make([]connector.Customer, len(rows))
	for i, r := range rows {
		out[i] = customerFrom(r)
	}
	return connector.ListCustomersResponse{Customers: out, NextCursor: next}, nil
}

func uniqStrings(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func parseID(kind, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, connector.NotFound("%s %q (Tryton IDs are positive integers)", kind, s)
	}
	return id, nil
}

func (c *trytonConnector) readParty(ctx context.Context, rpc *rpcClient, tctx map[string]any, id int64) (record, error) {
	var rows []record
	if err := rpc.callInto(ctx, &rows, "model.party.party.search_read", []any{[]any{"id", "=", id}}, 0, 1, nil, partyFields, tctx); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, connector.NotFound("customer %d", id)
	}
	return rows[0], nil
}

func (c *trytonConnector) UpsertCustomer(ctx context.Context, req connector.UpsertCustomerRequest) (connector.UpsertCustomerResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.UpsertCustomerResponse{}, err
	}
	in := req.Customer
	if strings.TrimSpace(in.Name) == "" {
		return connector.UpsertCustomerResponse{}, connector.Invalid("upsert customer: name is required")
	}
	c.mu.Lock() // one upsert at a time so two calls with one tax ID do not both create
	defer c.mu.Unlock()
	var id int64
	if in.ID != "" {
		if id, err = parseID("customer", in.ID); err != nil {
			return connector.UpsertCustomerResponse{}, err
		}
		if _, err := c.readParty(ctx, rpc, tctx, id); err != nil {
			return connector.UpsertCustomerResponse{}, err
		}
	} else if in.TaxID != "" {
		var ids []int64
		if err := rpc.callInto(ctx, &ids, "model.party.party.search", []any{[]any{"identifiers.code", "=", compactTaxID(in.TaxID)}}, 0, 1, nil, tctx); err != nil {
			return connector.UpsertCustomerResponse{}, err
		}
		if len(ids) > 0 {
			id = ids[0]
		}
	}
	if id == 0 {
		vals := map[string]any{"name": in.Name}
		if in.TaxID != "" {
			vals["identifiers"] = []any{[]any{"create", []any{map[string]any{"code": compactTaxID(in.TaxID)}}}}
		}
		var mechs []any
		if in.Email != "" {
			mechs = append(mechs, map[string]any{"type": "email", "value": in.Email})
		}
		if in.Phone != "" {
			mechs = append(mechs, map[string]any{"type": "phone", "value": in.Phone})
		}
		if len(mechs) > 0 {
			vals["contact_mechanisms"] = []any{[]any{"create", mechs}}
		}
		vals["addresses"] = []any{[]any{"create", []any{map[string]any{"street": in.Address.Street, "city": in.Address.City,
			"postal_code": in.Address.PostalCode}}}}
		var ids []int64
		if err := rpc.callInto(ctx, &ids, "model.party.party.create", []any{vals}, tctx); err != nil {
			return connector.UpsertCustomerResponse{}, err
		}
		r, err := c.readParty(ctx, rpc, tctx, ids[0])
		if err != nil {
			return connector.UpsertCustomerResponse{}, err
		}
		return connector.UpsertCustomerResponse{Customer: customerFrom(r), Created: true}, nil
	}
	if _, err := rpc.call(ctx, "model.party.party.write", []int64{id}, map[string]any{"name": in.Name}, tctx); err != nil {
		return connector.UpsertCustomerResponse{}, err
	}
	for typ, val := range map[string]string{"email": in.Email, "phone": in.Phone} {
		if val == "" {
			continue
		}
		if err := c.setMechanism(ctx, rpc, tctx, id, typ, val); err != nil {
			return connector.UpsertCustomerResponse{}, err
		}
	}
	r, err := c.readParty(ctx, rpc, tctx, id)
	if err != nil {
		return connector.UpsertCustomerResponse{}, err
	}
	return connector.UpsertCustomerResponse{Customer: customerFrom(r)}, nil
}

// setMechanism makes val the party's first contact mechanism of type typ.
func (c *trytonConnector) setMechanism(ctx context.Context, rpc *rpcClient, tctx map[string]any, party int64, typ, val string) error {
	var ids []int64
	if err := rpc.callInto(ctx, &ids, "model.party.contact_mechanism.search",
		[]any{[]any{"party", "=", party}, []any{"type", "=", typ}}, 0, 1, [][]string{{"sequence", "ASC"}, {"id", "ASC"}}, tctx); err != nil {
		return err
	}
	var err error
	if len(ids) > 0 {
		_, err = rpc.call(ctx, "model.party.contact_mechanism.write", ids, map[string]any{"value": val}, tctx)
	} else {
		_, err = rpc.call(ctx, "model.party.contact_mechanism.create", []any{map[string]any{"party": party, "type": typ, "value": val}}, tctx)
	}
	return err
}

var saleFields = []string{"number", "party", "sale_date", "state", "currency.code", "total_amount", "reference",
	"description", "lines", "write_date", "create_date"}

var lineFields = []string{"sale", "product.code", "description", "quantity", "unit_price", "amount", "type"}

func formatQty(r record) string {
	if n, ok := r["quantity"].(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	return ""
}

// orders turns sale.sale rows into orders, reading all their lines in one call.
func (c *trytonConnector) orders(ctx context.Context, rpc *rpcClient, tctx map[string]any, rows []record) ([]connector.Order, error) {
	var lineIDs []int64
	for _, r := range rows {
		for _, v := range asList(r["lines"]) {
			if n, ok := v.(json.Number); ok {
				id, _ := n.Int64()
				lineIDs = append(lineIDs, id)
			}
		}
	}
	lines := map[int64][]connector.OrderLine{}
	if len(lineIDs) > 0 {
		var lrows []record
		if err := rpc.callInto(ctx, &lrows, "model.sale.line.read", lineIDs, lineFields, tctx); err != nil {
			return nil, err
		}
		for _, l := range lrows {
			if l.str("type") != "" && l.str("type") != "line" {
				continue
			}
			lines[l.id("sale")] = append(lines[l.id("sale")], connector.OrderLine{ProductCode: l.sub("product").str("code"),
				Description: l.str("description"), Quantity: formatQty(l), UnitPrice: l.decimal("unit_price"), Amount: l.decimal("amount")})
		}
	}
	out := make([]connector.Order, len(rows))
	for i, r := range rows {
		o := connector.Order{ID: r.idStr("id"), Number: r.str("number"), CustomerID: r.idStr("party"), Date: r.time("sale_date"),
			State: r.str("state"), Currency: r.sub("currency").str("code"), Total: r.decimal("total_amount"),
			Lines: lines[r.id("id")], Reference: r.str("description"), UpdatedAt: updated(r)}
		if o.Number == "" {
			o.Number = o.ID // drafts get their number when quoted
		}
		out[i] = o
	}
	return out, nil
}

// decimalRE accepts plain decimal numbers such as "3", "-1.25" or "0.10".
var decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

func asList(v any) []any { l, _ := v.([]any); return l }

// pageDomain adds keyset paging (id > last) and the customer and since filters.
func pageDomain(cursor, customerField, customerID string, since time.Time) ([]any, error) {
	domain := []any{}
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		after, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil {
			return nil, connector.Invalid("malformed cursor %q", cursor)
		}
		domain = append(domain, []any{"id", ">", after})
	}
	if customerID != "" {
		id, err := strconv.ParseInt(customerID, 10, 64)
		if err != nil {
			id = -1 // matches nothing: an unknown customer has no records
		}
		domain = append(domain, []any{customerField, "=", id})
	}
	if !since.IsZero() {
		domain = append(domain, []any{"OR", []any{"write_date", ">=", datetimeValue(since)},
			[]any{[]any{"write_date", "=", nil}, []any{"create_date", ">=", datetimeValue(since)}}})
	}
	return domain, nil
}

// searchPage fetches limit+1 rows ordered by ID to know whether another page follows.
func searchPage(ctx context.Context, rpc *rpcClient, tctx map[string]any, model string, domain []any, limit int, fields []string) ([]record, string, error) {
	var rows []record
	if err := rpc.callInto(ctx, &rows, "model."+model+".search_read", domain, 0, limit+1, [][]string{{"id", "ASC"}}, fields, tctx); err != nil {
		return nil, "", err
	}
	if len(rows) <= limit {
		return rows, "", nil
	}
	rows = rows[:limit]
	return rows, base64.RawURLEncoding.EncodeToString([]byte(rows[limit-1].idStr("id"))), nil
}

func (c *trytonConnector) ListOrders(ctx context.Context, req connector.ListOrdersRequest) (connector.ListOrdersResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	domain, err := pageDomain(req.Cursor, "party", req.CustomerID, req.Since)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	rows, next, err := searchPage(ctx, rpc, tctx, "sale.sale", domain, limit, saleFields)
	if err != nil {
		return connector.ListOrdersResponse{}, err
	}
	orders, err := c.orders(ctx, rpc, tctx, rows)
	return connector.ListOrdersResponse{Orders: orders, NextCursor: next}, err
}

func (c *trytonConnector) GetOrder(ctx context.Context, req connector.GetOrderRequest) (connector.GetOrderResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.GetOrderResponse{}, err
	}
	if req.ID == "" {
		return connector.GetOrderResponse{}, connector.Invalid("get order: id is required")
	}
	id, err := parseID("order", req.ID)
	if err != nil {
		return connector.GetOrderResponse{}, err
	}
	// search_read rather than read: reading a missing ID is an access error in Tryton.
	var rows []record
	if err := rpc.callInto(ctx, &rows, "model.sale.sale.search_read", []any{[]any{"id", "=", id}}, 0, 1, nil, saleFields, tctx); err != nil {
		return connector.GetOrderResponse{}, err
	}
	if len(rows) == 0 {
		return connector.GetOrderResponse{}, connector.NotFound("order %d", id)
	}
	orders, err := c.orders(ctx, rpc, tctx, rows)
	if err != nil {
		return connector.GetOrderResponse{}, err
	}
	return connector.GetOrderResponse{Order: orders[0]}, nil
}

func (c *trytonConnector) CreateSalesOrder(ctx context.Context, req connector.CreateSalesOrderRequest) (connector.CreateSalesOrderResponse, error) {
	rpc, tctx, err := c.client(ctx)
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
	qty := make([]float64, len(req.Lines))
	for i, l := range req.Lines {
		if !decimalRE.MatchString(l.Quantity) || !decimalRE.MatchString(l.UnitPrice) {
			return connector.CreateSalesOrderResponse{}, connector.Invalid("line %d: quantity %q and unit price %q must be decimal numbers", i+1, l.Quantity, l.UnitPrice)
		}
		qty[i], _ = strconv.ParseFloat(l.Quantity, 64)
		if qty[i] <= 0 {
			return connector.CreateSalesOrderResponse{}, connector.Invalid("line %d: quantity %q must be positive", i+1, l.Quantity)
		}
	}
	// The search and the create run under one lock, and the key lives in the sale's
	// reference, so a retry after any crash finds the sale instead of creating another.
	c.mu.Lock()
	defer c.mu.Unlock()
	var existing []record
	if err := rpc.callInto(ctx, &existing, "model.sale.sale.search_read", []any{[]any{"reference", "=", req.IdempotencyKey}},
		0, 1, [][]string{{"id", "ASC"}}, saleFields, tctx); err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	if len(existing) > 0 {
		orders, err := c.orders(ctx, rpc, tctx, existing)
		if err != nil {
			return connector.CreateSalesOrderResponse{}, err
		}
		return connector.CreateSalesOrderResponse{Order: orders[0]}, nil
	}
	partyID, err := parseID("customer", req.CustomerID)
	if err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	var party []record
	if err := rpc.callInto(ctx, &party, "model.party.party.search_read", []any{[]any{"id", "=", partyID}}, 0, 1, nil, []string{"addresses"}, tctx); err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	if len(party) == 0 {
		return connector.CreateSalesOrderResponse{}, connector.NotFound("customer %d", partyID)
	}
	vals := map[string]any{"party": partyID, "company": c.company, "reference": req.IdempotencyKey, "description": req.Reference}
	if addrs := asList(party[0]["addresses"]); len(addrs) > 0 {
		vals["invoice_address"], vals["shipment_address"] = addrs[0], addrs[0]
	}
	if !req.Date.IsZero() {
		vals["sale_date"] = dateValue(req.Date)
	}
	if req.Currency != "" {
		var cur []int64
		if err := rpc.callInto(ctx, &cur, "model.currency.currency.search", []any{[]any{"code", "=", req.Currency}}, 0, 1, nil, tctx); err != nil {
			return connector.CreateSalesOrderResponse{}, err
		}
		if len(cur) == 0 {
			return connector.CreateSalesOrderResponse{}, connector.Invalid("currency %q is not defined in Tryton", req.Currency)
		}
		vals["currency"] = cur[0]
	}
	var lines []any
	for i, l := range req.Lines {
		line := map[string]any{"type": "line", "quantity": qty[i], "unit_price": decimalValue(l.UnitPrice),
			"description": l.Description}
		var prods []record
		if err := rpc.callInto(ctx, &prods, "model.product.product.search_read", []any{[]any{"code", "=", l.ProductCode}}, 0, 1, nil,
			[]string{"sale_uom", "default_uom", "rec_name"}, tctx); err != nil {
			return connector.CreateSalesOrderResponse{}, err
		}
		if len(prods) == 0 {
			return connector.CreateSalesOrderResponse{}, connector.Invalid("line %d: no product with code %q", i+1, l.ProductCode)
		}
		line["product"] = prods[0].id("id")
		unit := prods[0].id("sale_uom")
		if unit == 0 {
			unit = prods[0].id("default_uom")
		}
		line["unit"] = unit
		if l.Description == "" {
			line["description"] = prods[0].str("rec_name")
		}
		lines = append(lines, line)
	}
	vals["lines"] = []any{[]any{"create", lines}}
	if err := ctx.Err(); err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	var ids []int64
	if err := rpc.callInto(ctx, &ids, "model.sale.sale.create", []any{vals}, tctx); err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	if len(ids) != 1 {
		return connector.CreateSalesOrderResponse{}, connector.Internal("tryton created %d sales, want 1", len(ids))
	}
	var rows []record
	if err := rpc.callInto(ctx, &rows, "model.sale.sale.search_read", []any{[]any{"id", "=", ids[0]}}, 0, 1, nil, saleFields, tctx); err != nil {
		return connector.CreateSalesOrderResponse{}, err
	}
	orders, err := c.orders(ctx, rpc, tctx, rows)
	if err != nil || len(orders) == 0 {
		return connector.CreateSalesOrderResponse{}, fmt.Errorf("read created sale %d: %w", ids[0], err)
	}
	return connector.CreateSalesOrderResponse{Order: orders[0], Created: true}, nil
}

func (c *trytonConnector) ListInvoices(ctx context.Context, req connector.ListInvoicesRequest) (connector.ListInvoicesResponse, error) {
	rpc, tctx, err := c.client(ctx)
	if err != nil {
		return connector.ListInvoicesResponse{}, err
	}
	limit, err := connector.PageLimit(req.Limit)
	if err != nil {
		return connector.ListInvoicesResponse{}, err
	}
	domain, err := pageDomain(req.Cursor, "party", req.CustomerID, req.Since)
	if err != nil {
		return connector.ListInvoicesResponse{}, err
	}
	domain = append(domain, []any{"type", "=", "out"})
	rows, next, err := searchPage(ctx, rpc, tctx, "account.invoice", domain, limit,
		[]string{"number", "party", "invoice_date", "state", "currency.code", "total_amount", "amount_to_pay", "write_date", "create_date"})
	if err != nil {
		return connector.ListInvoicesResponse{}, err
	}
	out := make([]connector.Invoice, len(rows))
	for i, r := range rows {
		out[i] = connector.Invoice{ID: r.idStr("id"), Number: r.str("number"), CustomerID: r.idStr("party"),
			Date: r.time("invoice_date"), State: r.str("state"), Currency: r.sub("currency").str("code"),
			Total: r.decimal("total_amount"), AmountDue: r.decimal("amount_to_pay"), UpdatedAt: updated(r)}
	}
	return connector.ListInvoicesResponse{Invoices: out, NextCursor: next}, nil
}

func (c *trytonConnector) ListPayments(context.Context, connector.ListPaymentsRequest) (connector.ListPaymentsResponse, error) {
	return connector.ListPaymentsResponse{}, connector.Unsupported(connector.CapListPayments)
}
