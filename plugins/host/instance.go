package host

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Instance is one configured connector: a plugin plus its configuration, served by its
// own supervised process. It implements connector.Connector, so callers (and the
// conformance harness) use it exactly like an in-process connector; every call is
// bounded by the host's call timeout and the process's concurrency limit.
type Instance struct {
	h      *Host
	name   string
	plugin *installed
	proc   *process
	sem    chan struct{}
}

var _ connector.Connector = (*Instance)(nil)

func newInstance(h *Host, p *installed, name string, merged []byte) *Instance {
	limit := p.manifest.MaxConcurrency
	if limit == 0 {
		limit = h.opts.MaxConcurrency
	}
	return &Instance{h: h, name: name, plugin: p, proc: newProcess(h, p, name, merged), sem: make(chan struct{}, limit)}
}

// Name returns the instance name.
func (in *Instance) Name() string { return in.name }

// Plugin returns the name of the plugin the instance runs.
func (in *Instance) Plugin() string { return in.plugin.manifest.Name }

// Config returns the merged configuration in clear; redact it before showing it.
func (in *Instance) Config() json.RawMessage {
	if err := in.proc.acquire(context.Background()); err != nil {
		return nil
	}
	defer in.proc.release()
	return append(json.RawMessage(nil), in.proc.config...)
}

// PID returns the plugin process ID, or 0 when it is not running. It serves
// diagnostics and the fault tests.
func (in *Instance) PID() int {
	if err := in.proc.acquire(context.Background()); err != nil {
		return 0
	}
	defer in.proc.release()
	return in.proc.pid()
}

// Start launches the plugin process now instead of on first use, e.g. to test a new
// configuration's connection.
func (in *Instance) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, in.h.opts.CallTimeout)
	defer cancel()
	_, err := in.proc.get(ctx)
	return err
}

// do runs one call with the timeout, the concurrency limit and a launched process.
// A method whose capability the plugin did not declare fails as Unsupported without
// reaching the plugin; capb is empty for methods every connector has.
func (in *Instance) do(ctx context.Context, method string, capb connector.Capability, fn func(context.Context, connector.Connector) error) (err error) {
	if o := in.h.opts.Observer; o != nil {
		var done func(error, string)
		ctx, done = o.PluginCall(ctx, in.plugin.manifest.Name, in.name, method)
		defer func() {
			if err != nil {
				done(err, connector.KindOf(err).String())
			} else {
				done(nil, "")
			}
		}()
	}
	ctx, cancel := context.WithTimeout(ctx, in.h.opts.CallTimeout)
	defer cancel()
	if capb != "" {
		d, _, err := in.h.describe(ctx, in.plugin)
		if err != nil {
			return fmt.Errorf("connector %q %s: %w", in.name, method, err)
		}
		if !d.Has(capb) {
			return fmt.Errorf("connector %q %s: %w", in.name, method, connector.Unsupported(capb))
		}
	}
	select {
	case in.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxError(ctx, "connector %q %s: waiting for a free slot", in.name, method)
	}
	defer func() { <-in.sem }()
	conn, err := in.proc.get(ctx)
	if err != nil {
		return fmt.Errorf("connector %q %s: %w", in.name, method, err)
	}
	if err := fn(ctx, conn); err != nil {
		return fmt.Errorf("connector %q %s: %w", in.name, method, err)
	}
	return nil
}

// reconfigure sends merged (already validated by the host) to the process, launching
// it if needed, and on success keeps it for every later launch.
func (in *Instance) reconfigure(ctx context.Context, merged json.RawMessage) error {
	return in.do(ctx, "Configure", "", func(ctx context.Context, c connector.Connector) error {
		if _, err := c.Configure(ctx, connector.ConfigureRequest{Config: merged}); err != nil {
			return err
		}
		if err := in.proc.acquire(ctx); err != nil {
			return err
		}
		in.proc.config = merged
		in.proc.release()
		return nil
	})
}

// Describe returns the plugin's (cached) self-description.
func (in *Instance) Describe(ctx context.Context, _ connector.DescribeRequest) (connector.DescribeResponse, error) {
	d, _, err := in.h.describe(ctx, in.plugin)
	return d, err
}

// Configure validates req.Config against the plugin's schema and replaces the
// instance's configuration, so the harness can drive an Instance like any connector.
func (in *Instance) Configure(ctx context.Context, req connector.ConfigureRequest) (connector.ConfigureResponse, error) {
	_, err := in.h.Configure(ctx, in.name, in.plugin.manifest.Name, req.Config)
	return connector.ConfigureResponse{}, err
}

// Health asks the plugin whether its ERP is reachable.
func (in *Instance) Health(ctx context.Context, req connector.HealthRequest) (r connector.HealthResponse, err error) {
	err = in.do(ctx, "Health", "", func(ctx context.Context, c connector.Connector) (e error) { r, e = c.Health(ctx, req); return })
	return r, err
}

// FindCustomers forwards to the plugin.
func (in *Instance) FindCustomers(ctx context.Context, req connector.FindCustomersRequest) (r connector.FindCustomersResponse, err error) {
	err = in.do(ctx, "FindCustomers", connector.CapFindCustomers, func(ctx context.Context, c connector.Connector) (e error) { r, e = c.FindCustomers(ctx, req); return })
	return r, err
}

// UpsertCustomer forwards to the plugin.
func (in *Instance) UpsertCustomer(ctx context.Context, req connector.UpsertCustomerRequest) (r connector.UpsertCustomerResponse, err error) {
	err = in.do(ctx, "UpsertCustomer", connector.CapUpsertCustomer, func(ctx context.Context, c connector.Connector) (e error) { r, e = c.UpsertCustomer(ctx, req); return })
	return r, err
}

// ListOrders forwards to the plugin.
func (in *Instance) ListOrders(ctx context.Context, req connector.ListOrdersRequest) (r connector.ListOrdersResponse, err error) {
	err = in.do(ctx, "ListOrders", connector.CapListOrders, func(ctx context.Context, c connector.Connector) (e error) { r, e = c.ListOrders(ctx, req); return })
	return r, err
}

// GetOrder forwards to the plugin.
func (in *Instance) GetOrder(ctx context.Context, req connector.GetOrderRequest) (r connector.GetOrderResponse, err error) {
	err = in.do(ctx, "GetOrder", connector.CapGetOrder, func(ctx context.Context, c connector.Connector) (e error) { r, e = c.GetOrder(ctx, req); return })
	return r, err
}

// CreateSalesOrder forwards to the plugin. After a crash mid-call the error is
// Unavailable (retryable); the retry with the same idempotency key is safe.
func (in *Instance) CreateSalesOrder(ctx context.Context, req connector.CreateSalesOrderRequest) (r connector.CreateSalesOrderResponse, err error) {
	err = in.do(ctx, "CreateSalesOrder", connector.CapCreateSalesOrder, func(ctx context.Context, c connector.Connector) (e error) {
		r, e = c.CreateSalesOrder(ctx, req)
		return
	})
	return r, err
}

// ListInvoices forwards to the plugin.
func (in *Instance) ListInvoices(ctx context.Context, req connector.ListInvoicesRequest) (r connector.ListInvoicesResponse, err error) {
	err = in.do(ctx, "ListInvoices", connector.CapListInvoices, func(ctx context.Context, c connector.Connector) (e error) { r, e = c.ListInvoices(ctx, req); return })
	return r, err
}

// ListPayments forwards to the plugin.
func (in *Instance) ListPayments(ctx context.Context, req connector.ListPaymentsRequest) (r connector.ListPaymentsResponse, err error) {
	err = in.do(ctx, "ListPayments", connector.CapListPayments, func(ctx context.Context, c connector.Connector) (e error) { r, e = c.ListPayments(ctx, req); return })
	return r, err
}

// flattenValidation renders a schema violation on one line, without the schema URL.
func flattenValidation(ve *jsonschema.ValidationError) string {
	lines := strings.Split(strings.TrimSpace(ve.Error()), "\n")
	if len(lines) > 1 {
		lines = lines[1:]
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "- "))
	}
	return strings.Join(lines, "; ")
}
