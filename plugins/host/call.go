package host

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// method is one fixed connector method reachable by name: it decodes its JSON request,
// calls the method and returns the response.
type method struct {
	call func(context.Context, connector.Connector, json.RawMessage) (any, error)
	req  reflect.Type         // the request type, whose fields a task's inputs may name
	capb connector.Capability // the capability it needs; empty for Describe and Health
}

// methods maps a method name to its caller, so diagnostics (the admin API, `rapport plugin
// call`) and connector tasks can reach any method by name. Configure is excluded:
// configuration goes through the host so it is validated and stored.
var methods = map[string]method{
	"Describe":         bind(connector.Connector.Describe, ""),
	"Health":           bind(connector.Connector.Health, ""),
	"FindCustomers":    bind(connector.Connector.FindCustomers, connector.CapFindCustomers),
	"ListCustomers":    bind(connector.Connector.ListCustomers, connector.CapListCustomers),
	"UpsertCustomer":   bind(connector.Connector.UpsertCustomer, connector.CapUpsertCustomer),
	"ListOrders":       bind(connector.Connector.ListOrders, connector.CapListOrders),
	"GetOrder":         bind(connector.Connector.GetOrder, connector.CapGetOrder),
	"CreateSalesOrder": bind(connector.Connector.CreateSalesOrder, connector.CapCreateSalesOrder),
	"ListInvoices":     bind(connector.Connector.ListInvoices, connector.CapListInvoices),
	"ListPayments":     bind(connector.Connector.ListPayments, connector.CapListPayments),
}

func bind[Req, Resp any](m func(connector.Connector, context.Context, Req) (Resp, error), c connector.Capability) method {
	return method{capb: c, req: reflect.TypeFor[Req](), call: func(ctx context.Context, conn connector.Connector, raw json.RawMessage) (any, error) {
		var req Req
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, connector.Invalid("request is not a valid %T: %v", req, err)
			}
		}
		return m(conn, ctx, req)
	}}
}

// Methods lists the fixed connector methods Call accepts besides described operations.
func Methods() []string {
	out := make([]string, 0, len(methods))
	for name := range methods {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Call invokes a fixed connector method by name (FindCustomers) with its JSON request,
// or a described operation by its name (prices.quote) with its JSON input, for
// diagnosis. An operation answers its output as raw JSON.
func Call(ctx context.Context, c connector.Connector, name string, request json.RawMessage) (any, error) {
	return CallWithKey(ctx, c, name, request, "")
}

// CallWithKey is Call with an idempotency key that stays the same across retries of one
// call (a process task): it becomes CreateSalesOrder's IdempotencyKey unless the request
// has one, and an operation's InvokeRequest.IdempotencyKey.
func CallWithKey(ctx context.Context, c connector.Connector, name string, request json.RawMessage, key string) (any, error) {
	if connector.ValidOperationName(name) {
		r, err := c.Invoke(ctx, connector.InvokeRequest{Operation: name, Input: request, IdempotencyKey: key})
		if err != nil {
			return nil, err
		}
		return json.RawMessage(r.Output), nil
	}
	m, ok := methods[name]
	if !ok {
		return nil, connector.Invalid("unknown method %q; one of %v or an operation the plugin describes", name, Methods())
	}
	if name == "CreateSalesOrder" && key != "" {
		var err error
		if request, err = withDefault(request, "IdempotencyKey", key); err != nil {
			return nil, err
		}
	}
	return m.call(ctx, c, request)
}

// withDefault sets field in a JSON object request unless it is already there.
func withDefault(request json.RawMessage, field, value string) (json.RawMessage, error) {
	obj := map[string]json.RawMessage{}
	if len(request) > 0 && string(request) != "null" {
		if err := json.Unmarshal(request, &obj); err != nil {
			return nil, connector.Invalid("request must be a JSON object: %v", err)
		}
	}
	if _, ok := obj[field]; ok {
		return request, nil
	}
	v, _ := json.Marshal(value)
	obj[field] = v
	return json.Marshal(obj)
}

// CheckOperation tells whether a connector task may call name on the plugin with inputs
// (the names its input mappings set), before any process runs it: a fixed method must
// be one the plugin declares, and the inputs must be fields of its request; a described
// operation must be listed, with every input its schema requires and none its schema
// forbids.
func (h *Host) CheckOperation(ctx context.Context, pluginName, name string, inputs []string) error {
	p, err := h.plugin(pluginName)
	if err != nil {
		return err
	}
	d, err := h.describe(ctx, p)
	if err != nil {
		return err
	}
	if connector.ValidOperationName(name) {
		op := d.ops[name]
		if op == nil {
			names := make([]string, 0, len(d.ops))
			for n := range d.ops {
				names = append(names, n)
			}
			slices.Sort(names)
			return connector.Invalid("plugin %q describes no operation %q (it has: %s)", pluginName, name, listOrNone(names))
		}
		return checkInputs(name, op.Input, inputs)
	}
	m, ok := methods[name]
	switch {
	case !ok:
		return connector.Invalid("unknown method %q; one of %s or an operation the plugin describes", name, strings.Join(Methods(), ", "))
	case m.capb != "" && !d.resp.Has(m.capb):
		return connector.Invalid("plugin %q does not declare %s, which %s needs", pluginName, m.capb, name)
	}
	fields := map[string]bool{}
	var names []string
	for i := range m.req.NumField() {
		if f := m.req.Field(i); f.IsExported() {
			fields[strings.ToLower(f.Name)] = true
			names = append(names, f.Name)
		}
	}
	for _, in := range inputs {
		if !fields[strings.ToLower(in)] {
			return connector.Invalid("input %q is not a field of %s's request (fields: %s)", in, name, listOrNone(names))
		}
	}
	return nil
}

// checkInputs compares input names with the top level of an operation's input schema.
func checkInputs(op string, schema json.RawMessage, inputs []string) error {
	var s struct {
		Required             []string                   `json:"required"`
		Properties           map[string]json.RawMessage `json:"properties"`
		AdditionalProperties *bool                      `json:"additionalProperties"`
	}
	if len(schema) > 0 {
		if err := json.Unmarshal(schema, &s); err != nil {
			return fmt.Errorf("operation %q input schema: %w", op, err)
		}
	}
	for _, r := range s.Required {
		if !slices.Contains(inputs, r) {
			return connector.Invalid("operation %q requires the input %q", op, r)
		}
	}
	if s.AdditionalProperties != nil && !*s.AdditionalProperties {
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, in := range inputs {
			if _, ok := s.Properties[in]; !ok {
				return connector.Invalid("operation %q has no input %q (inputs: %s)", op, in, listOrNone(names))
			}
		}
	}
	return nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
