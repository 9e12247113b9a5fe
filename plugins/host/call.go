package host

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// callers maps a method name to a function that decodes its JSON request, calls it and returns the
// response, so diagnostics (the admin API, `rapport plugin call`) can reach any method by name.
var callers = map[string]func(context.Context, connector.Connector, json.RawMessage) (any, error){
	"Describe":         call(connector.Connector.Describe),
	"Health":           call(connector.Connector.Health),
	"FindCustomers":    call(connector.Connector.FindCustomers),
	"UpsertCustomer":   call(connector.Connector.UpsertCustomer),
	"ListOrders":       call(connector.Connector.ListOrders),
	"GetOrder":         call(connector.Connector.GetOrder),
	"CreateSalesOrder": call(connector.Connector.CreateSalesOrder),
	"ListInvoices":     call(connector.Connector.ListInvoices),
	"ListPayments":     call(connector.Connector.ListPayments),
}

func call[Req, Resp any](m func(connector.Connector, context.Context, Req) (Resp, error)) func(context.Context, connector.Connector, json.RawMessage) (any, error) {
	return func(ctx context.Context, c connector.Connector, raw json.RawMessage) (any, error) {
		var req Req
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, connector.Invalid("request is not a valid %T: %v", req, err)
			}
		}
		return m(c, ctx, req)
	}
}

// Methods lists the connector methods Call accepts (Configure is excluded: configuration goes through
// the host so it is validated and stored).
func Methods() []string {
	out := make([]string, 0, len(callers))
	for name := range callers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Call invokes a connector method by name with a JSON request, for diagnosis.
func Call(ctx context.Context, c connector.Connector, method string, request json.RawMessage) (any, error) {
	f, ok := callers[method]
	if !ok {
		return nil, connector.Invalid("unknown method %q; one of %v", method, Methods())
	}
	return f(ctx, c, request)
}
