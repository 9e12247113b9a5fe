// Package connector is the SDK that ERP connector plugins for Rapport are written against.
//
// A plugin author implements the Connector interface (embedding Unimplemented for the
// methods the ERP does not support), declares the matching capabilities in Describe and
// calls Serve from the plugin's main function. Rapport launches the binary through
// hashicorp/go-plugin and talks to it over gRPC: protocol version 1 (package pb/v1) has
// the fixed ERP methods, version 2 adds the described operations of Invoke (package
// pb/v2). Serve offers both, so a plugin works with older and newer Rapport alike.
//
// This package never imports the rest of Rapport, so plugins stay small and independent
// of the CRM's release cycle.
package connector

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// Connector is the contract between Rapport and one ERP or accounting system. Every
// method takes one request and returns one response type so fields can be added later
// without breaking plugins. Methods must honour ctx cancellation and deadlines, and
// return the typed errors of this package (NotFound, Invalid, Conflict, Unavailable,
// Unsupported, Permanent) so callers know whether a retry can help.
type Connector interface {
	// Describe reports the plugin's identity, capabilities and configuration schema. It
	// is called before Configure and must work on an unconfigured connector.
	Describe(ctx context.Context, req DescribeRequest) (DescribeResponse, error)
	// Configure hands the connector its (already schema-validated) configuration. It
	// may be called again to replace the configuration.
	Configure(ctx context.Context, req ConfigureRequest) (ConfigureResponse, error)
	// Health checks that the ERP is reachable with the current configuration.
	Health(ctx context.Context, req HealthRequest) (HealthResponse, error)
	// FindCustomers looks customers up by tax ID, email, phone or name.
	FindCustomers(ctx context.Context, req FindCustomersRequest) (FindCustomersResponse, error)
	// ListCustomers pages through customers, optionally only those changed since a time
	// (the ERP sync reads it to create leads for customers the CRM does not know).
	ListCustomers(ctx context.Context, req ListCustomersRequest) (ListCustomersResponse, error)
	// UpsertCustomer creates a customer or updates the one with the same ID (or tax ID).
	UpsertCustomer(ctx context.Context, req UpsertCustomerRequest) (UpsertCustomerResponse, error)
	// ListOrders pages through sales orders, optionally of one customer and changed since a time.
	ListOrders(ctx context.Context, req ListOrdersRequest) (ListOrdersResponse, error)
	// GetOrder returns one sales order by its ERP ID.
	GetOrder(ctx context.Context, req GetOrderRequest) (GetOrderResponse, error)
	// CreateSalesOrder creates a sales order; the same idempotency key never creates two.
	CreateSalesOrder(ctx context.Context, req CreateSalesOrderRequest) (CreateSalesOrderResponse, error)
	// ListInvoices pages through invoices, used for monetary value and RFM analysis.
	ListInvoices(ctx context.Context, req ListInvoicesRequest) (ListInvoicesResponse, error)
	// ListPayments pages through received payments, used for monetary value and RFM analysis.
	ListPayments(ctx context.Context, req ListPaymentsRequest) (ListPaymentsResponse, error)
	// Invoke runs one of the operations listed in DescribeResponse.Operations with a JSON
	// input, for what the ERP offers beyond the methods above (protocol version 2).
	Invoke(ctx context.Context, req InvokeRequest) (InvokeResponse, error)
}

// Capability names one optional part of the Connector interface. Rapport checks the
// declared capabilities before it calls a method, so a connector implements only what
// its ERP offers.
type Capability string

// The capabilities a connector may declare in DescribeResponse.Capabilities.
const (
	CapFindCustomers    Capability = "customers.find"
	CapListCustomers    Capability = "customers.list"
	CapUpsertCustomer   Capability = "customers.upsert"
	CapListOrders       Capability = "orders.list"
	CapGetOrder         Capability = "orders.get"
	CapCreateSalesOrder Capability = "orders.create"
	CapListInvoices     Capability = "invoices.list"
	CapListPayments     Capability = "payments.list"
)

// AllCapabilities lists every capability this SDK version knows, in a stable order, so
// hosts and the conformance harness can iterate over them.
func AllCapabilities() []Capability {
	return []Capability{CapFindCustomers, CapListCustomers, CapUpsertCustomer, CapListOrders, CapGetOrder,
		CapCreateSalesOrder, CapListInvoices, CapListPayments}
}

// MaxPageSize is the largest page a caller may ask for; connectors clamp larger limits
// to it so a single call cannot pull an entire ERP through one gRPC message.
const MaxPageSize = 500

// DefaultPageSize is the page size used when a request leaves Limit at zero.
const DefaultPageSize = 100

// DescribeRequest asks a connector to describe itself; it has no fields yet.
type DescribeRequest struct{}

// DescribeResponse is a connector's self-description, read by the host before it
// configures the plugin (the config schema validates every instance's configuration).
type DescribeResponse struct {
	Name         string          // short machine name, e.g. "csv"
	Version      string          // the plugin's own version, e.g. "1.2.0"
	Vendor       string          // who maintains the plugin
	Capabilities []Capability    // which optional methods work
	ConfigSchema json.RawMessage // JSON Schema (2020-12) of the configuration object
	// Operations are the connector's own methods, called through Invoke; see Operation.
	Operations []Operation
}

// Has reports whether the connector declared capability c.
func (d DescribeResponse) Has(c Capability) bool { return slices.Contains(d.Capabilities, c) }

// ConfigureRequest carries the connector configuration as a JSON object.
type ConfigureRequest struct {
	Config json.RawMessage
}

// ConfigureResponse acknowledges a configuration; it has no fields yet.
type ConfigureResponse struct{}

// HealthRequest asks whether the ERP is reachable; it has no fields yet.
type HealthRequest struct{}

// HealthResponse tells whether the connector can reach its ERP and, if not, why.
type HealthResponse struct {
	OK      bool
	Message string
}

// Address is a postal address as ERPs commonly store it.
type Address struct {
	Street     string
	City       string
	PostalCode string
	Country    string // ISO 3166-1 alpha-2 where known
}

// Customer is a party in the ERP that buys from the company.
type Customer struct {
	ID        string // ERP identifier; empty when creating
	Name      string
	TaxID     string
	Email     string
	Phone     string
	Address   Address
	UpdatedAt time.Time
}

// OrderLine is one line of a sales order. Quantities and money are decimal strings so
// nothing is rounded through floating point.
type OrderLine struct {
	ProductCode string
	Description string
	Quantity    string
	UnitPrice   string
	Amount      string // Quantity × UnitPrice as the ERP computed it
}

// Order is a sales order in the ERP.
type Order struct {
	ID         string
	Number     string // human-facing number, e.g. "SO-0042"
	CustomerID string
	Date       time.Time
	State      string // ERP-specific, e.g. "draft", "confirmed", "done"
	Currency   string // ISO 4217
	Total      string
	Lines      []OrderLine
	Reference  string // the caller's reference, e.g. the CRM deal
	UpdatedAt  time.Time
}

// Invoice is a customer invoice in the ERP.
type Invoice struct {
	ID         string
	Number     string
	CustomerID string
	OrderID    string
	Date       time.Time
	DueDate    time.Time
	State      string // e.g. "open", "paid", "cancelled"
	Currency   string
	Total      string
	AmountDue  string
	UpdatedAt  time.Time
}

// Payment is money received from a customer.
type Payment struct {
	ID         string
	CustomerID string
	InvoiceID  string
	Date       time.Time
	Currency   string
	Amount     string
	Method     string
	UpdatedAt  time.Time
}

// FindCustomersRequest looks customers up; at least one criterion must be set and all
// set criteria must match. Name matches case-insensitively as a substring.
type FindCustomersRequest struct {
	// ID finds the customer with this ERP identifier (for example an order's CustomerID).
	ID    string
	TaxID string
	Email string
	Phone string
	Name  string
	Limit int
}

// FindCustomersResponse holds the matching customers.
type FindCustomersResponse struct {
	Customers []Customer
}

// ListCustomersRequest pages through customers like ListOrdersRequest: Cursor is the
// NextCursor of the previous page (empty for the first); Since keeps customers updated
// at or after that time. Customers come in a stable order (by ID, say) so that paging
// neither skips nor repeats one.
type ListCustomersRequest struct {
	Since  time.Time
	Cursor string
	Limit  int
}

// ListCustomersResponse is one page of customers; an empty NextCursor means the last page.
type ListCustomersResponse struct {
	Customers  []Customer
	NextCursor string
}

// UpsertCustomerRequest creates or updates a customer.
type UpsertCustomerRequest struct {
	Customer Customer
}

// UpsertCustomerResponse returns the stored customer and whether it was new.
type UpsertCustomerResponse struct {
	Customer Customer
	Created  bool
}

// ListOrdersRequest pages through orders. Cursor is the NextCursor of the previous page
// (empty for the first); Since keeps orders updated at or after that time.
type ListOrdersRequest struct {
	CustomerID string
	Since      time.Time
	Cursor     string
	Limit      int
}

// ListOrdersResponse is one page of orders; an empty NextCursor means the last page.
type ListOrdersResponse struct {
	Orders     []Order
	NextCursor string
}

// GetOrderRequest names the order to fetch.
type GetOrderRequest struct {
	ID string
}

// GetOrderResponse holds the fetched order.
type GetOrderResponse struct {
	Order Order
}

// CreateSalesOrderRequest creates a sales order. IdempotencyKey is required: a second
// request with the same key returns the first order instead of creating another one,
// which is what makes retries after a crash safe.
type CreateSalesOrderRequest struct {
	IdempotencyKey string
	CustomerID     string
	Currency       string
	Date           time.Time
	Lines          []OrderLine
	Reference      string
}

// CreateSalesOrderResponse returns the order and whether this call created it (false
// when the idempotency key had been seen before).
type CreateSalesOrderResponse struct {
	Order   Order
	Created bool
}

// ListInvoicesRequest pages through invoices like ListOrdersRequest.
type ListInvoicesRequest struct {
	CustomerID string
	Since      time.Time
	Cursor     string
	Limit      int
}

// ListInvoicesResponse is one page of invoices; an empty NextCursor means the last page.
type ListInvoicesResponse struct {
	Invoices   []Invoice
	NextCursor string
}

// ListPaymentsRequest pages through payments like ListOrdersRequest.
type ListPaymentsRequest struct {
	CustomerID string
	Since      time.Time
	Cursor     string
	Limit      int
}

// ListPaymentsResponse is one page of payments; an empty NextCursor means the last page.
type ListPaymentsResponse struct {
	Payments   []Payment
	NextCursor string
}

// Unimplemented answers every optional method with an Unsupported error. Embed it in a
// connector so it compiles when it implements only part of the interface, and so it
// keeps compiling when a later SDK version adds methods.
type Unimplemented struct{}

// Health reports healthy unless ctx is already done (then it returns ctx's error, as
// every method must); connectors that can check their ERP should override it.
func (Unimplemented) Health(ctx context.Context, _ HealthRequest) (HealthResponse, error) {
	if err := ctx.Err(); err != nil {
		return HealthResponse{}, err
	}
	return HealthResponse{OK: true}, nil
}

// Invoke answers every operation as unknown by default; a connector that lists
// operations in Describe overrides it.
func (Unimplemented) Invoke(_ context.Context, req InvokeRequest) (InvokeResponse, error) {
	return InvokeResponse{}, UnknownOperation(req.Operation)
}

// FindCustomers is not supported by default.
func (Unimplemented) FindCustomers(context.Context, FindCustomersRequest) (FindCustomersResponse, error) {
	return FindCustomersResponse{}, Unsupported(CapFindCustomers)
}

// ListCustomers is not supported by default.
func (Unimplemented) ListCustomers(context.Context, ListCustomersRequest) (ListCustomersResponse, error) {
	return ListCustomersResponse{}, Unsupported(CapListCustomers)
}

// UpsertCustomer is not supported by default.
func (Unimplemented) UpsertCustomer(context.Context, UpsertCustomerRequest) (UpsertCustomerResponse, error) {
	return UpsertCustomerResponse{}, Unsupported(CapUpsertCustomer)
}

// ListOrders is not supported by default.
func (Unimplemented) ListOrders(context.Context, ListOrdersRequest) (ListOrdersResponse, error) {
	return ListOrdersResponse{}, Unsupported(CapListOrders)
}

// GetOrder is not supported by default.
func (Unimplemented) GetOrder(context.Context, GetOrderRequest) (GetOrderResponse, error) {
	return GetOrderResponse{}, Unsupported(CapGetOrder)
}

// CreateSalesOrder is not supported by default.
func (Unimplemented) CreateSalesOrder(context.Context, CreateSalesOrderRequest) (CreateSalesOrderResponse, error) {
	return CreateSalesOrderResponse{}, Unsupported(CapCreateSalesOrder)
}

// ListInvoices is not supported by default.
func (Unimplemented) ListInvoices(context.Context, ListInvoicesRequest) (ListInvoicesResponse, error) {
	return ListInvoicesResponse{}, Unsupported(CapListInvoices)
}

// ListPayments is not supported by default.
func (Unimplemented) ListPayments(context.Context, ListPaymentsRequest) (ListPaymentsResponse, error) {
	return ListPaymentsResponse{}, Unsupported(CapListPayments)
}

// PageLimit turns a request's Limit into the page size to use: DefaultPageSize for zero,
// MaxPageSize at most. A negative limit is an Invalid error.
func PageLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, Invalid("limit must not be negative, got %d", limit)
	case limit == 0:
		return DefaultPageSize, nil
	case limit > MaxPageSize:
		return MaxPageSize, nil
	}
	return limit, nil
}
