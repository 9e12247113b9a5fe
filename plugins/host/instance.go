package host

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Instance is one configured connector: a plugin plus its configuration, served by its
// own supervised process. It implements connector.Connector, so callers (and the
// conformance harness) use it exactly like an in-process connector; every call is
// bounded by the host's call timeout and the process's concurrency limit.
//
// When the plugin is upgraded (Rescan finds a new manifest) the instance moves to a new
// generation: new calls go to the new binary's process while the old process finishes
// the calls it has and is then stopped.
type Instance struct {
	h    *Host
	name string

	mu  sync.Mutex // guards gen and every gen.calls.Add
	gen *generation
}

// generation is an instance on one installed binary: its process, its concurrency
// slots and its calls in flight.
type generation struct {
	plugin *installed
	proc   *process
	sem    chan struct{}
	calls  sync.WaitGroup
}

var _ connector.Connector = (*Instance)(nil)

func newInstance(h *Host, p *installed, name string, merged []byte) *Instance {
	return &Instance{h: h, name: name, gen: newGeneration(h, p, name, merged)}
}

func newGeneration(h *Host, p *installed, name string, merged []byte) *generation {
	limit := p.manifest.MaxConcurrency
	if limit == 0 {
		limit = h.opts.MaxConcurrency
	}
	return &generation{plugin: p, proc: newProcess(h, p, name, merged), sem: make(chan struct{}, limit)}
}

// current returns the generation new calls go to.
func (in *Instance) current() *generation {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.gen
}

// enter returns the current generation with one more call counted in flight; the caller
// calls done on it when the call ends.
func (in *Instance) enter() *generation {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.gen.calls.Add(1)
	return in.gen
}

// Name returns the instance name.
func (in *Instance) Name() string { return in.name }

// Plugin returns the name of the plugin the instance runs.
func (in *Instance) Plugin() string { return in.current().plugin.manifest.Name }

// Config returns the merged configuration in clear; redact it before showing it.
func (in *Instance) Config() json.RawMessage { return in.current().proc.configuration() }

// PID returns the plugin process ID, or 0 when it is not running. It serves
// diagnostics and the fault tests.
func (in *Instance) PID() int {
	p := in.current().proc
	if err := p.acquire(context.Background()); err != nil {
		return 0
	}
	defer p.release()
	return p.pid()
}

// Start launches the plugin process now instead of on first use, e.g. to test a new
// configuration's connection.
func (in *Instance) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, in.h.opts.CallTimeout)
	defer cancel()
	_, err := in.current().proc.get(ctx)
	return err
}

// upgrade moves the instance to the plugin p (a new binary of the same plugin): the
// configuration must satisfy the new version's schema, and when the old process runs
// the new one is started and configured first, so a binary that fails leaves the old
// one serving. The old process is stopped once its calls in flight have finished.
func (in *Instance) upgrade(ctx context.Context, p *installed) error {
	old := in.current()
	cfg := old.proc.configuration()
	d, err := in.h.describe(ctx, p)
	if err != nil {
		return err
	}
	if err := validateJSON(d.config, cfg); err != nil {
		return connector.Invalid("the configuration of instance %q does not satisfy the new version's schema: %v", in.name, err)
	}
	g := newGeneration(in.h, p, in.name, cfg)
	if old.proc.running() {
		ctx, cancel := context.WithTimeout(ctx, in.h.opts.CallTimeout)
		_, err := g.proc.get(ctx)
		cancel()
		if err != nil {
			g.proc.stop()
			return err
		}
	}
	in.mu.Lock()
	replaced := in.gen == old && string(old.proc.configuration()) == string(cfg)
	if replaced {
		in.gen = g
	}
	in.mu.Unlock()
	if !replaced { // reconfigured meanwhile; the next rescan tries again
		g.proc.stop()
		return connector.Conflict("instance %q changed during the upgrade", in.name)
	}
	in.h.retire(old)
	return nil
}

// do runs one call with the timeout, the concurrency limit and a launched process.
// check, when set, vets the call against the plugin's description first (a capability
// the plugin did not declare fails as Unsupported without reaching the plugin).
func (in *Instance) do(ctx context.Context, method string, check func(*description) error, fn func(context.Context, connector.Connector) error) error {
	return in.run(ctx, method, check, func(ctx context.Context, _ *generation, c connector.Connector) error { return fn(ctx, c) })
}

// run is do for calls that need the generation they run on. The host's observer sees every call.
func (in *Instance) run(ctx context.Context, method string, check func(*description) error, fn func(context.Context, *generation, connector.Connector) error) (err error) {
	if o := in.h.opts.Observer; o != nil {
		var done func(error, string)
		ctx, done = o.PluginCall(ctx, in.Plugin(), in.name, method)
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
	g := in.enter()
	defer g.calls.Done()
	if check != nil {
		d, err := in.h.describe(ctx, g.plugin)
		if err == nil {
			err = check(d)
		}
		if err != nil {
			return fmt.Errorf("connector %q %s: %w", in.name, method, err)
		}
	}
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxError(ctx, "connector %q %s: waiting for a free slot", in.name, method)
	}
	defer func() { <-g.sem }()
	conn, err := g.proc.get(ctx)
	if err != nil {
		return fmt.Errorf("connector %q %s: %w", in.name, method, err)
	}
	if err := fn(ctx, g, conn); err != nil {
		return fmt.Errorf("connector %q %s: %w", in.name, method, err)
	}
	return nil
}

// needs is the check of a method behind capability c.
func needs(c connector.Capability) func(*description) error {
	return func(d *description) error {
		if !d.resp.Has(c) {
			return connector.Unsupported(c)
		}
		return nil
	}
}

// reconfigure sends merged (already validated by the host) to the process, launching
// it if needed, and on success keeps it for every later launch.
func (in *Instance) reconfigure(ctx context.Context, merged json.RawMessage) error {
	return in.run(ctx, "Configure", nil, func(ctx context.Context, g *generation, c connector.Connector) error {
		if _, err := c.Configure(ctx, connector.ConfigureRequest{Config: merged}); err != nil {
			return err
		}
		return g.proc.setConfiguration(ctx, merged)
	})
}

// Describe returns the plugin's (cached) self-description.
func (in *Instance) Describe(ctx context.Context, _ connector.DescribeRequest) (connector.DescribeResponse, error) {
	d, err := in.h.describe(ctx, in.current().plugin)
	if err != nil {
		return connector.DescribeResponse{}, err
	}
	return d.resp, nil
}

// Configure validates req.Config against the plugin's schema and replaces the
// instance's configuration, so the harness can drive an Instance like any connector.
func (in *Instance) Configure(ctx context.Context, req connector.ConfigureRequest) (connector.ConfigureResponse, error) {
	_, err := in.h.Configure(ctx, in.name, in.Plugin(), req.Config)
	return connector.ConfigureResponse{}, err
}

// Health asks the plugin whether its ERP is reachable.
func (in *Instance) Health(ctx context.Context, req connector.HealthRequest) (r connector.HealthResponse, err error) {
	err = in.do(ctx, "Health", nil, func(ctx context.Context, c connector.Connector) (e error) { r, e = c.Health(ctx, req); return })
	return r, err
}

// FindCustomers forwards to the plugin.
func (in *Instance) FindCustomers(ctx context.Context, req connector.FindCustomersRequest) (r connector.FindCustomersResponse, err error) {
	err = in.do(ctx, "FindCustomers", needs(connector.CapFindCustomers), func(ctx context.Context, c connector.Connector) (e error) { r, e = c.FindCustomers(ctx, req); return })
	return r, err
}

// ListCustomers forwards to the plugin when it declares customers.list; a plugin that
// does not (among them every plugin built before the method existed) gets no call and
// the answer is Unsupported.
func (in *Instance) ListCustomers(ctx context.Context, req connector.ListCustomersRequest) (r connector.ListCustomersResponse, err error) {
	err = in.do(ctx, "ListCustomers", needs(connector.CapListCustomers), func(ctx context.Context, c connector.Connector) (e error) { r, e = c.ListCustomers(ctx, req); return })
	return r, err
}

// UpsertCustomer forwards to the plugin.
func (in *Instance) UpsertCustomer(ctx context.Context, req connector.UpsertCustomerRequest) (r connector.UpsertCustomerResponse, err error) {
	err = in.do(ctx, "UpsertCustomer", needs(connector.CapUpsertCustomer), func(ctx context.Context, c connector.Connector) (e error) { r, e = c.UpsertCustomer(ctx, req); return })
	return r, err
}

// ListOrders forwards to the plugin.
func (in *Instance) ListOrders(ctx context.Context, req connector.ListOrdersRequest) (r connector.ListOrdersResponse, err error) {
	err = in.do(ctx, "ListOrders", needs(connector.CapListOrders), func(ctx context.Context, c connector.Connector) (e error) { r, e = c.ListOrders(ctx, req); return })
	return r, err
}

// GetOrder forwards to the plugin.
func (in *Instance) GetOrder(ctx context.Context, req connector.GetOrderRequest) (r connector.GetOrderResponse, err error) {
	err = in.do(ctx, "GetOrder", needs(connector.CapGetOrder), func(ctx context.Context, c connector.Connector) (e error) { r, e = c.GetOrder(ctx, req); return })
	return r, err
}

// CreateSalesOrder forwards to the plugin. After a crash mid-call the error is
// Unavailable (retryable); the retry with the same idempotency key is safe.
func (in *Instance) CreateSalesOrder(ctx context.Context, req connector.CreateSalesOrderRequest) (r connector.CreateSalesOrderResponse, err error) {
	err = in.do(ctx, "CreateSalesOrder", needs(connector.CapCreateSalesOrder), func(ctx context.Context, c connector.Connector) (e error) {
		r, e = c.CreateSalesOrder(ctx, req)
		return
	})
	return r, err
}

// ListInvoices forwards to the plugin.
func (in *Instance) ListInvoices(ctx context.Context, req connector.ListInvoicesRequest) (r connector.ListInvoicesResponse, err error) {
	err = in.do(ctx, "ListInvoices", needs(connector.CapListInvoices), func(ctx context.Context, c connector.Connector) (e error) { r, e = c.ListInvoices(ctx, req); return })
	return r, err
}

// ListPayments forwards to the plugin.
func (in *Instance) ListPayments(ctx context.Context, req connector.ListPaymentsRequest) (r connector.ListPaymentsResponse, err error) {
	err = in.do(ctx, "ListPayments", needs(connector.CapListPayments), func(ctx context.Context, c connector.Connector) (e error) { r, e = c.ListPayments(ctx, req); return })
	return r, err
}

// Invoke runs a described operation. The input is checked against the operation's
// input schema before it reaches the plugin (an Invalid error naming the field), and the
// output against its output schema on the way back: a plugin that breaks its own
// contract fails the call as Permanent instead of handing a process a result of the
// wrong shape.
func (in *Instance) Invoke(ctx context.Context, req connector.InvokeRequest) (r connector.InvokeResponse, err error) {
	if len(req.Input) == 0 {
		req.Input = json.RawMessage(`{}`)
	}
	var op *operation
	check := func(d *description) error {
		op = d.ops[req.Operation]
		if op == nil {
			return connector.UnknownOperation(req.Operation)
		}
		if err := validateJSON(op.input, req.Input); err != nil {
			return connector.Invalid("input: %v", err)
		}
		return nil
	}
	err = in.do(ctx, req.Operation, check, func(ctx context.Context, c connector.Connector) error {
		var e error
		if r, e = c.Invoke(ctx, req); e != nil {
			return e
		}
		if !json.Valid(r.Output) {
			return connector.Permanent("the plugin's output is not JSON")
		}
		if e := validateJSON(op.output, r.Output); e != nil {
			return connector.Permanent("the plugin's output does not satisfy its output schema: %v", e)
		}
		return nil
	})
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
