package connectortest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/plugins/sdk/connector"
	"github.com/rapportcrm/rapport/plugins/sdk/connectortest"
)

// defaults is the smallest connector the README recommends: it embeds the SDK's
// defaults and writes only Describe and Configure.
type defaults struct {
	connector.Unimplemented
}

func (defaults) Describe(context.Context, connector.DescribeRequest) (connector.DescribeResponse, error) {
	return connector.DescribeResponse{Name: "defaults", Version: "0.1.0",
		ConfigSchema: json.RawMessage(`{"type":"object","properties":{"url":{"type":"string"}}}`)}, nil
}

func (defaults) Configure(ctx context.Context, req connector.ConfigureRequest) (connector.ConfigureResponse, error) {
	var cfg struct{ URL string }
	if err := json.Unmarshal(req.Config, &cfg); err != nil || cfg.URL == "" {
		return connector.ConfigureResponse{}, connector.Invalid("url is required")
	}
	return connector.ConfigureResponse{}, ctx.Err()
}

// TestSDKDefaultsConform is issue 18's third point: a connector made of the SDK's
// defaults passes the harness, including the expired-deadline check on Health.
func TestSDKDefaultsConform(t *testing.T) {
	connectortest.Run(t, func(*testing.T) connector.Connector { return defaults{} }, connectortest.Options{
		Config:        json.RawMessage(`{"url":"https://erp.example"}`),
		InvalidConfig: json.RawMessage(`{}`),
	})
}

// upper has one described operation.
type upper struct{ defaults }

func (upper) Describe(ctx context.Context, req connector.DescribeRequest) (connector.DescribeResponse, error) {
	d, err := defaults{}.Describe(ctx, req)
	d.Operations = []connector.Operation{{Name: "text.upper", Description: "Upper-cases a text.",
		Input:  json.RawMessage(`{"type":"object","required":["text"],"properties":{"text":{"type":"string"}},"additionalProperties":false}`),
		Output: json.RawMessage(`{"type":"object","required":["text"],"properties":{"text":{"type":"string"}}}`)}}
	return d, err
}

func (upper) Invoke(ctx context.Context, req connector.InvokeRequest) (connector.InvokeResponse, error) {
	if err := ctx.Err(); err != nil {
		return connector.InvokeResponse{}, err
	}
	if req.Operation != "text.upper" {
		return connector.InvokeResponse{}, connector.UnknownOperation(req.Operation)
	}
	var in struct{ Text string }
	if err := req.Decode(&in); err != nil {
		return connector.InvokeResponse{}, err
	}
	return connector.Output(map[string]string{"text": strings.ToUpper(in.Text)})
}

func TestOperationsConform(t *testing.T) {
	connectortest.Run(t, func(*testing.T) connector.Connector { return upper{} }, connectortest.Options{
		Config:     json.RawMessage(`{"url":"https://erp.example"}`),
		Operations: map[string]json.RawMessage{"text.upper": json.RawMessage(`{"text":"abc"}`)},
	})
}

// Connectors that break the contract on purpose; the harness must fail each one. They
// run in a child test process (see TestHarnessCatches) because a failing harness fails
// its test.
type (
	// ignoresDeadline is the bug issue 18 found in the SDK's old default Health.
	ignoresDeadline struct{ defaults }
	// badOutput answers with an output its schema forbids.
	badOutput struct{ upper }
	// repeatsCustomers declares customers.list but lists its one customer on every page.
	repeatsCustomers struct{ defaults }
)

func (repeatsCustomers) Describe(ctx context.Context, req connector.DescribeRequest) (connector.DescribeResponse, error) {
	d, err := defaults{}.Describe(ctx, req)
	d.Capabilities = []connector.Capability{connector.CapListCustomers}
	return d, err
}

func (repeatsCustomers) ListCustomers(ctx context.Context, req connector.ListCustomersRequest) (connector.ListCustomersResponse, error) {
	if err := ctx.Err(); err != nil {
		return connector.ListCustomersResponse{}, err
	}
	if _, err := connector.PageLimit(req.Limit); err != nil {
		return connector.ListCustomersResponse{}, err
	}
	r := connector.ListCustomersResponse{Customers: []connector.Customer{{ID: "C-1", Name: "Again"}}}
	if req.Cursor == "" {
		r.NextCursor = "second"
	}
	return r, nil
}

func (ignoresDeadline) Health(context.Context, connector.HealthRequest) (connector.HealthResponse, error) {
	return connector.HealthResponse{OK: true}, nil
}

func (badOutput) Invoke(context.Context, connector.InvokeRequest) (connector.InvokeResponse, error) {
	return connector.Output(map[string]int{"text": 42})
}

var broken = map[string]struct {
	c    connector.Connector
	opts connectortest.Options
	want string // a line the harness must report
}{
	"ignores-deadline": {ignoresDeadline{}, connectortest.Options{Config: json.RawMessage(`{"url":"x"}`)},
		"Health with an expired deadline: no error"},
	"bad-output": {badOutput{}, connectortest.Options{Config: json.RawMessage(`{"url":"x"}`),
		Operations: map[string]json.RawMessage{"text.upper": json.RawMessage(`{"text":"abc"}`)}},
		"does not satisfy the output schema"},
	"repeats-customers": {repeatsCustomers{}, connectortest.Options{Config: json.RawMessage(`{"url":"x"}`)},
		`ListCustomers: "C-1" returned twice while paging`},
	"missing-example": {upper{}, connectortest.Options{Config: json.RawMessage(`{"url":"x"}`)},
		`no example input for operation "text.upper"`},
}

// TestBrokenConnector is run by TestHarnessCatches in a child process, once per entry of
// broken; on its own it does nothing.
func TestBrokenConnector(t *testing.T) {
	name := os.Getenv("CONNECTORTEST_BROKEN")
	b, ok := broken[name]
	if !ok {
		t.Skip("run by TestHarnessCatches")
	}
	connectortest.Run(t, func(*testing.T) connector.Connector { return b.c }, b.opts)
}

func TestHarnessCatches(t *testing.T) {
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenConnector$", "-test.v")
			cmd.Env = append(os.Environ(), "CONNECTORTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the harness passed a connector that breaks the contract:\n%s", out)
			}
			if !strings.Contains(string(out), b.want) {
				t.Errorf("the harness failed, but without %q:\n%s", b.want, out)
			}
		})
	}
}
