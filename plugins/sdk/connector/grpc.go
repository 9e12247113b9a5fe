package connector

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	pb "github.com/rapportcrm/rapport/plugins/sdk/connector/pb/v1"
	pb2 "github.com/rapportcrm/rapport/plugins/sdk/connector/pb/v2"
	"google.golang.org/grpc"
)

// GRPCPlugin binds a Connector to go-plugin's gRPC transport for one protocol version.
// The plugin side sets Impl; the host side leaves it nil and receives a Connector
// from Dispense that forwards every call over gRPC.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Connector
	// Protocol is the version this plugin set speaks: 1 (the fixed methods) or 2 (plus
	// the Operations service behind Invoke). Zero means 1.
	Protocol int
}

// GRPCServer registers the implementation on the plugin's gRPC server: the version-1
// service always, the version-2 Operations service too from protocol 2 on.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return fmt.Errorf("connector plugin: no implementation to serve")
	}
	pb.RegisterConnectorServer(s, NewGRPCServer(p.Impl))
	if p.Protocol >= 2 {
		pb2.RegisterOperationsServer(s, &operationsServer{impl: p.Impl})
	}
	return nil
}

// GRPCClient returns the host-side Connector that talks to the plugin process.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewGRPCClientVersion(c, p.Protocol), nil
}

// NewGRPCServer adapts a Connector to the generated protocol-version-1 server
// interface. Errors are converted to gRPC status codes so their kind survives the wire.
func NewGRPCServer(impl Connector) pb.ConnectorServer { return &grpcServer{impl: impl} }

// NewGRPCClient returns a Connector that calls a protocol-version-1 server over conn
// and turns gRPC status errors back into typed *Error values. Its Invoke answers
// Unsupported, as a version-1 plugin has no operations.
func NewGRPCClient(conn grpc.ClientConnInterface) Connector { return NewGRPCClientVersion(conn, 1) }

// NewGRPCClientVersion is NewGRPCClient for a server negotiated at protocol version
// protocol; from 2 on, Describe lists the plugin's operations and Invoke calls them.
func NewGRPCClientVersion(conn grpc.ClientConnInterface, protocol int) Connector {
	c := &grpcClient{c: pb.NewConnectorClient(conn), protocol: max(protocol, 1)}
	if protocol >= 2 {
		c.ops = pb2.NewOperationsClient(conn)
	}
	return c
}

type grpcServer struct {
	pb.UnimplementedConnectorServer
	impl Connector
}

func (s *grpcServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	r, err := s.impl.Describe(ctx, DescribeRequest{})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.DescribeResponse{Name: r.Name, Version: r.Version, Vendor: r.Vendor,
		Capabilities: capsToPB(r.Capabilities), ConfigSchema: r.ConfigSchema}, nil
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if _, err := s.impl.Configure(ctx, ConfigureRequest{Config: req.GetConfig()}); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServer) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	r, err := s.impl.Health(ctx, HealthRequest{})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.HealthResponse{Ok: r.OK, Message: r.Message}, nil
}

func (s *grpcServer) FindCustomers(ctx context.Context, req *pb.FindCustomersRequest) (*pb.FindCustomersResponse, error) {
	r, err := s.impl.FindCustomers(ctx, FindCustomersRequest{ID: req.GetId(), TaxID: req.GetTaxId(), Email: req.GetEmail(),
		Phone: req.GetPhone(), Name: req.GetName(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.FindCustomersResponse{Customers: mapSlice(r.Customers, customerToPB)}, nil
}

func (s *grpcServer) ListCustomers(ctx context.Context, req *pb.ListCustomersRequest) (*pb.ListCustomersResponse, error) {
	r, err := s.impl.ListCustomers(ctx, ListCustomersRequest{Since: tsFromPB(req.GetSince()), Cursor: req.GetCursor(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ListCustomersResponse{Customers: mapSlice(r.Customers, customerToPB), NextCursor: r.NextCursor}, nil
}

func (s *grpcServer) UpsertCustomer(ctx context.Context, req *pb.UpsertCustomerRequest) (*pb.UpsertCustomerResponse, error) {
	r, err := s.impl.UpsertCustomer(ctx, UpsertCustomerRequest{Customer: customerFromPB(req.GetCustomer())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.UpsertCustomerResponse{Customer: customerToPB(r.Customer), Created: r.Created}, nil
}

func (s *grpcServer) ListOrders(ctx context.Context, req *pb.ListOrdersRequest) (*pb.ListOrdersResponse, error) {
	r, err := s.impl.ListOrders(ctx, ListOrdersRequest{CustomerID: req.GetCustomerId(),
		Since: tsFromPB(req.GetSince()), Cursor: req.GetCursor(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ListOrdersResponse{Orders: mapSlice(r.Orders, orderToPB), NextCursor: r.NextCursor}, nil
}

func (s *grpcServer) GetOrder(ctx context.Context, req *pb.GetOrderRequest) (*pb.GetOrderResponse, error) {
	r, err := s.impl.GetOrder(ctx, GetOrderRequest{ID: req.GetId()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.GetOrderResponse{Order: orderToPB(r.Order)}, nil
}

func (s *grpcServer) CreateSalesOrder(ctx context.Context, req *pb.CreateSalesOrderRequest) (*pb.CreateSalesOrderResponse, error) {
	r, err := s.impl.CreateSalesOrder(ctx, CreateSalesOrderRequest{IdempotencyKey: req.GetIdempotencyKey(),
		CustomerID: req.GetCustomerId(), Currency: req.GetCurrency(), Date: tsFromPB(req.GetDate()),
		Lines: linesFromPB(req.GetLines()), Reference: req.GetReference()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CreateSalesOrderResponse{Order: orderToPB(r.Order), Created: r.Created}, nil
}

func (s *grpcServer) ListInvoices(ctx context.Context, req *pb.ListInvoicesRequest) (*pb.ListInvoicesResponse, error) {
	r, err := s.impl.ListInvoices(ctx, ListInvoicesRequest{CustomerID: req.GetCustomerId(),
		Since: tsFromPB(req.GetSince()), Cursor: req.GetCursor(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ListInvoicesResponse{Invoices: mapSlice(r.Invoices, invoiceToPB), NextCursor: r.NextCursor}, nil
}

func (s *grpcServer) ListPayments(ctx context.Context, req *pb.ListPaymentsRequest) (*pb.ListPaymentsResponse, error) {
	r, err := s.impl.ListPayments(ctx, ListPaymentsRequest{CustomerID: req.GetCustomerId(),
		Since: tsFromPB(req.GetSince()), Cursor: req.GetCursor(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ListPaymentsResponse{Payments: mapSlice(r.Payments, paymentToPB), NextCursor: r.NextCursor}, nil
}

type grpcClient struct {
	c        pb.ConnectorClient
	ops      pb2.OperationsClient // nil below protocol 2
	protocol int
}

// clampInt32 keeps limits inside the wire type; limits beyond int32 are clamped by the
// connector anyway.
func clampInt32(n int) int32 {
	const maxInt32 = 1<<31 - 1
	switch {
	case n > maxInt32:
		return maxInt32
	case n < -maxInt32:
		return -maxInt32
	}
	return int32(n)
}

func (c *grpcClient) Describe(ctx context.Context, _ DescribeRequest) (DescribeResponse, error) {
	r, err := c.c.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return DescribeResponse{}, fromStatus(err)
	}
	d := DescribeResponse{Name: r.GetName(), Version: r.GetVersion(), Vendor: r.GetVendor(),
		Capabilities: capsFromPB(r.GetCapabilities()), ConfigSchema: r.GetConfigSchema()}
	if c.ops != nil {
		ops, err := c.ops.ListOperations(ctx, &pb2.ListOperationsRequest{})
		if err != nil {
			return DescribeResponse{}, fromStatus(err)
		}
		d.Operations = mapSlice(ops.GetOperations(), operationFromPB)
	}
	return d, nil
}

func (c *grpcClient) Configure(ctx context.Context, req ConfigureRequest) (ConfigureResponse, error) {
	if _, err := c.c.Configure(ctx, &pb.ConfigureRequest{Config: req.Config}); err != nil {
		return ConfigureResponse{}, fromStatus(err)
	}
	return ConfigureResponse{}, nil
}

func (c *grpcClient) Health(ctx context.Context, _ HealthRequest) (HealthResponse, error) {
	r, err := c.c.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return HealthResponse{}, fromStatus(err)
	}
	return HealthResponse{OK: r.GetOk(), Message: r.GetMessage()}, nil
}

func (c *grpcClient) FindCustomers(ctx context.Context, req FindCustomersRequest) (FindCustomersResponse, error) {
	r, err := c.c.FindCustomers(ctx, &pb.FindCustomersRequest{Id: req.ID, TaxId: req.TaxID, Email: req.Email,
		Phone: req.Phone, Name: req.Name, Limit: clampInt32(req.Limit)})
	if err != nil {
		return FindCustomersResponse{}, fromStatus(err)
	}
	return FindCustomersResponse{Customers: mapSlice(r.GetCustomers(), customerFromPB)}, nil
}

// ListCustomers calls the plugin. A plugin built before the method existed answers
// gRPC Unimplemented, which arrives here as an Unsupported error like any method the
// plugin does not offer.
func (c *grpcClient) ListCustomers(ctx context.Context, req ListCustomersRequest) (ListCustomersResponse, error) {
	r, err := c.c.ListCustomers(ctx, &pb.ListCustomersRequest{Since: tsToPB(req.Since), Cursor: req.Cursor, Limit: clampInt32(req.Limit)})
	if err != nil {
		return ListCustomersResponse{}, fromStatus(err)
	}
	return ListCustomersResponse{Customers: mapSlice(r.GetCustomers(), customerFromPB), NextCursor: r.GetNextCursor()}, nil
}

func (c *grpcClient) UpsertCustomer(ctx context.Context, req UpsertCustomerRequest) (UpsertCustomerResponse, error) {
	r, err := c.c.UpsertCustomer(ctx, &pb.UpsertCustomerRequest{Customer: customerToPB(req.Customer)})
	if err != nil {
		return UpsertCustomerResponse{}, fromStatus(err)
	}
	return UpsertCustomerResponse{Customer: customerFromPB(r.GetCustomer()), Created: r.GetCreated()}, nil
}

func (c *grpcClient) ListOrders(ctx context.Context, req ListOrdersRequest) (ListOrdersResponse, error) {
	r, err := c.c.ListOrders(ctx, &pb.ListOrdersRequest{CustomerId: req.CustomerID, Since: tsToPB(req.Since),
		Cursor: req.Cursor, Limit: clampInt32(req.Limit)})
	if err != nil {
		return ListOrdersResponse{}, fromStatus(err)
	}
	return ListOrdersResponse{Orders: mapSlice(r.GetOrders(), orderFromPB), NextCursor: r.GetNextCursor()}, nil
}

func (c *grpcClient) GetOrder(ctx context.Context, req GetOrderRequest) (GetOrderResponse, error) {
	r, err := c.c.GetOrder(ctx, &pb.GetOrderRequest{Id: req.ID})
	if err != nil {
		return GetOrderResponse{}, fromStatus(err)
	}
	return GetOrderResponse{Order: orderFromPB(r.GetOrder())}, nil
}

func (c *grpcClient) CreateSalesOrder(ctx context.Context, req CreateSalesOrderRequest) (CreateSalesOrderResponse, error) {
	r, err := c.c.CreateSalesOrder(ctx, &pb.CreateSalesOrderRequest{IdempotencyKey: req.IdempotencyKey,
		CustomerId: req.CustomerID, Currency: req.Currency, Date: tsToPB(req.Date),
		Lines: linesToPB(req.Lines), Reference: req.Reference})
	if err != nil {
		return CreateSalesOrderResponse{}, fromStatus(err)
	}
	return CreateSalesOrderResponse{Order: orderFromPB(r.GetOrder()), Created: r.GetCreated()}, nil
}

func (c *grpcClient) ListInvoices(ctx context.Context, req ListInvoicesRequest) (ListInvoicesResponse, error) {
	r, err := c.c.ListInvoices(ctx, &pb.ListInvoicesRequest{CustomerId: req.CustomerID, Since: tsToPB(req.Since),
		Cursor: req.Cursor, Limit: clampInt32(req.Limit)})
	if err != nil {
		return ListInvoicesResponse{}, fromStatus(err)
	}
	return ListInvoicesResponse{Invoices: mapSlice(r.GetInvoices(), invoiceFromPB), NextCursor: r.GetNextCursor()}, nil
}

func (c *grpcClient) ListPayments(ctx context.Context, req ListPaymentsRequest) (ListPaymentsResponse, error) {
	r, err := c.c.ListPayments(ctx, &pb.ListPaymentsRequest{CustomerId: req.CustomerID, Since: tsToPB(req.Since),
		Cursor: req.Cursor, Limit: clampInt32(req.Limit)})
	if err != nil {
		return ListPaymentsResponse{}, fromStatus(err)
	}
	return ListPaymentsResponse{Payments: mapSlice(r.GetPayments(), paymentFromPB), NextCursor: r.GetNextCursor()}, nil
}

func (c *grpcClient) Invoke(ctx context.Context, req InvokeRequest) (InvokeResponse, error) {
	if c.ops == nil {
		return InvokeResponse{}, &Error{Kind: KindUnsupported, Message: fmt.Sprintf(
			"operation %q: the plugin speaks connector protocol %d, which has no operations (rebuild it with a newer SDK)", req.Operation, c.protocol)}
	}
	r, err := c.ops.Invoke(ctx, &pb2.InvokeRequest{Operation: req.Operation, Input: req.Input, IdempotencyKey: req.IdempotencyKey})
	if err != nil {
		return InvokeResponse{}, fromStatus(err)
	}
	return InvokeResponse{Output: r.GetOutput()}, nil
}

// operationsServer serves protocol version 2's Operations service from a Connector.
type operationsServer struct {
	pb2.UnimplementedOperationsServer
	impl Connector
}

func (s *operationsServer) ListOperations(ctx context.Context, _ *pb2.ListOperationsRequest) (*pb2.ListOperationsResponse, error) {
	r, err := s.impl.Describe(ctx, DescribeRequest{})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb2.ListOperationsResponse{Operations: mapSlice(r.Operations, operationToPB)}, nil
}

func (s *operationsServer) Invoke(ctx context.Context, req *pb2.InvokeRequest) (*pb2.InvokeResponse, error) {
	r, err := s.impl.Invoke(ctx, InvokeRequest{Operation: req.GetOperation(), Input: req.GetInput(), IdempotencyKey: req.GetIdempotencyKey()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb2.InvokeResponse{Output: r.Output}, nil
}

func operationToPB(o Operation) *pb2.Operation {
	return &pb2.Operation{Name: o.Name, Description: o.Description, InputSchema: o.Input, OutputSchema: o.Output}
}

func operationFromPB(o *pb2.Operation) Operation {
	return Operation{Name: o.GetName(), Description: o.GetDescription(), Input: o.GetInputSchema(), Output: o.GetOutputSchema()}
}
