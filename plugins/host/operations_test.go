package host

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/plugins/host/internal/testconn"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

// TestProtocolVersions: the manifest's protocol_version caps what the host offers, and a
// plugin built before protocol 2 (serving only version 1) keeps working with every fixed
// method while its operations are unavailable.
func TestProtocolVersions(t *testing.T) {
	tests := []struct {
		name     string
		protocol int
		args     []string
		wantOps  bool
	}{
		{"new plugin, manifest 2", 2, nil, true},
		{"new plugin pinned to 1 by its manifest", 1, nil, false},
		{"old plugin (protocol 1 only), manifest 1", 1, []string{"--protocol1"}, false},
		{"old plugin (protocol 1 only), manifest 2", 2, []string{"--protocol1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			install(t, root, "testplugin", "testplugin", func(m *Manifest) { m.ProtocolVersion, m.Args = tt.protocol, tt.args })
			h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
			in, err := h.Configure(t.Context(), "p", "testplugin", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := in.Describe(t.Context(), connector.DescribeRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := d.Operation("orders.count"); ok != tt.wantOps {
				t.Errorf("Describe lists orders.count: %v, want %v", ok, tt.wantOps)
			}
			if _, err := in.CreateSalesOrder(t.Context(), connector.CreateSalesOrderRequest{IdempotencyKey: "k", CustomerID: "C1",
				Lines: []connector.OrderLine{{ProductCode: "P", Quantity: "1", UnitPrice: "1"}}}); err != nil {
				t.Errorf("a fixed method: %v", err)
			}
			r, err := in.Invoke(t.Context(), connector.InvokeRequest{Operation: "orders.count", Input: json.RawMessage(`{"customerId":"C1"}`)})
			if tt.wantOps {
				if err != nil || string(r.Output) != `{"count":1}` {
					t.Errorf("Invoke: %s, %v", r.Output, err)
				}
			} else if !errors.Is(err, connector.ErrUnsupported) {
				t.Errorf("Invoke without protocol 2: %v, want unsupported", err)
			}
		})
	}
}

// TestInvokeChecksSchemas: the host refuses an input the operation's schema forbids
// before the plugin sees it, and an output that breaks the plugin's own output schema.
func TestInvokeChecksSchemas(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	good, err := h.Configure(t.Context(), "good", "testplugin", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := h.Configure(t.Context(), "bad", "testplugin", cfgJSON(t, testconn.Config{Dir: t.TempDir(), Mode: "bad-output"}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		in       *Instance
		op, body string
		want     *connector.Error
		mention  string
	}{
		{"valid", good, "orders.count", `{"customerId":"C1"}`, nil, ""},
		{"missing required input", good, "orders.count", `{}`, connector.ErrInvalid, "customerId"},
		{"input the schema forbids", good, "orders.count", `{"customerId":"C1","all":true}`, connector.ErrInvalid, "all"},
		{"input of the wrong type", good, "orders.count", `{"customerId":7}`, connector.ErrInvalid, "customerId"},
		{"input not an object", good, "orders.count", `[1]`, connector.ErrInvalid, "object"},
		{"operation not described", good, "orders.drop", `{}`, connector.ErrUnsupported, "orders.drop"},
		{"output breaks its schema", bad, "orders.count", `{"customerId":"C1"}`, connector.ErrPermanent, "output schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Invoke(t.Context(), connector.InvokeRequest{Operation: tt.op, Input: json.RawMessage(tt.body)})
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want kind %s mentioning %q", err, tt.want.Kind, tt.mention)
			}
		})
	}
}

func TestCheckOperation(t *testing.T) {
	root := t.TempDir()
	install(t, root, "testplugin", "testplugin", nil)
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	tests := []struct {
		name    string
		op      string
		inputs  []string
		mention string // empty: valid
	}{
		{"declared method, its fields", "CreateSalesOrder", []string{"CustomerID", "Lines", "currency"}, ""},
		{"declared method, no inputs", "ListOrders", nil, ""},
		{"a field the request lacks", "GetOrder", []string{"ID", "Number"}, `"Number" is not a field of GetOrder`},
		{"undeclared capability", "FindCustomers", []string{"TaxID"}, "does not declare customers.find"},
		{"unknown method", "DropDatabase", nil, "unknown method"},
		{"described operation", "orders.count", []string{"customerId"}, ""},
		{"operation without its required input", "orders.count", nil, `requires the input "customerId"`},
		{"operation with an input it forbids", "orders.count", []string{"customerId", "all"}, `has no input "all"`},
		{"operation not described", "orders.drop", nil, `describes no operation "orders.drop" (it has: orders.count)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.CheckOperation(t.Context(), "testplugin", tt.op, tt.inputs)
			if tt.mention == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, connector.ErrInvalid) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want invalid mentioning %q", err, tt.mention)
			}
		})
	}
	if err := h.CheckOperation(t.Context(), "nope", "GetOrder", nil); !errors.Is(err, connector.ErrNotFound) {
		t.Errorf("unknown plugin: %v", err)
	}
}

// TestDescriptionRefusesBadOperations: a plugin whose operations cannot be called as
// described is refused when it describes itself, not when a process runs.
func TestDescriptionRefusesBadOperations(t *testing.T) {
	tests := []struct {
		name    string
		ops     []connector.Operation
		mention string
	}{
		{"upper-case name", []connector.Operation{{Name: "Prices.Quote"}}, "operation name"},
		{"listed twice", []connector.Operation{{Name: "a.b"}, {Name: "a.b"}}, "listed twice"},
		{"input schema not JSON", []connector.Operation{{Name: "a.b", Input: json.RawMessage(`{`)}}, "input schema"},
		{"output schema that does not compile", []connector.Operation{{Name: "a.b", Output: json.RawMessage(`{"type":7}`)}}, "output schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileDescription("p", connector.DescribeResponse{Name: "p", Operations: tt.ops})
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want it to mention %q", err, tt.mention)
			}
		})
	}
}
