package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/plugins/host"
)

// TestPluginsRescanAndDescribe installs a plugin into the running server's plugins directory, applies it
// with the rescan route, and reads its description as a process designer would.
func TestPluginsRescanAndDescribe(t *testing.T) {
	ctx := context.Background()
	plugins := filepath.Join(env.DataDir, "plugins")
	if _, _, err := host.Install(ctx, host.InstallOptions{Dir: plugins, Name: "csv-extra", Binary: filepath.Join(plugins, "csv", "connector")}); err != nil {
		t.Fatal(err)
	}
	// A plugin whose binary is a link to a file that matches its checksum (issue 10, finding 19).
	linked := filepath.Join(plugins, "linked")
	if err := os.MkdirAll(linked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(plugins, "csv", "connector"), filepath.Join(linked, "connector")); err != nil {
		t.Fatal(err)
	}
	sum, _ := host.FileSHA256(filepath.Join(plugins, "csv", "connector"))
	os.WriteFile(filepath.Join(linked, host.ManifestFile), fmt.Appendf(nil, `{"name":"linked","binary":"connector","sha256":%q,"protocol_version":2}`, sum), 0o644)
	t.Cleanup(func() {
		os.RemoveAll(linked)
		os.RemoveAll(filepath.Join(plugins, "csv-extra"))
		env.Do(ctx, http.MethodPost, "/api/v1/plugins/rescan", env.AdminToken, nil)
	})

	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		want       []string
	}{
		{"rescan", http.MethodPost, "/api/v1/plugins/rescan", nil, http.StatusOK, []string{`"added"`, `"upgraded"`}},
		{"listed after the rescan", http.MethodGet, "/api/v1/plugins", nil, http.StatusOK, []string{`"name":"csv-extra"`, `"protocolVersion":2`}},
		{"a linked binary listed with why it is refused", http.MethodGet, "/api/v1/plugins", nil, http.StatusOK, []string{`"name":"linked"`, "symbolic link"}},
		{"described with its operations and their schemas", http.MethodGet, "/api/v1/plugins/csv-extra", nil, http.StatusOK,
			[]string{`"name":"customers.balance"`, `"required":["customerId"]`, `"capabilities":["customers.find"`}},
		{"a linked binary never starts", http.MethodGet, "/api/v1/plugins/linked", nil, http.StatusFailedDependency, []string{"symbolic link"}},
		{"a connector on a linked binary is refused", http.MethodPut, "/api/v1/connectors/linked-erp", map[string]any{"plugin": "linked", "config": map[string]any{"dir": "/tmp"}},
			http.StatusFailedDependency, []string{"symbolic link"}},
		{"unknown plugin", http.MethodGet, "/api/v1/plugins/nope", nil, http.StatusNotFound, []string{"not installed"}},
		{"configure the new plugin without a restart", http.MethodPut, "/api/v1/connectors/extra", map[string]any{"plugin": "csv-extra", "config": map[string]any{"dir": seededERP(t)}},
			http.StatusOK, []string{`"plugin":"csv-extra"`}},
		{"call an operation", http.MethodPost, "/api/v1/connectors/extra/call", map[string]any{"method": "customers.balance", "request": map[string]any{"customerId": "C-000001"}},
			http.StatusOK, []string{`"amountDue":"42.00"`}},
		{"an operation's input is checked against its schema", http.MethodPost, "/api/v1/connectors/extra/call", map[string]any{"method": "customers.balance", "request": map[string]any{"customerId": 7}},
			http.StatusUnprocessableEntity, []string{`"pointer":"/request"`, "customerId"}},
		{"an operation the plugin does not describe", http.MethodPost, "/api/v1/connectors/extra/call", map[string]any{"method": "stock.level"},
			http.StatusNotImplemented, []string{"stock.level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := env.Do(ctx, tt.method, tt.path, env.AdminToken, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, status, body, tt.wantStatus)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("%s %s: body lacks %q: %s", tt.method, tt.path, w, body)
				}
			}
		})
	}
	env.Do(ctx, http.MethodDelete, "/api/v1/connectors/extra", env.AdminToken, nil)
}

// TestConnectorTasksValidatedAtDeploy: a connector task naming a configured connector must call an
// operation its plugin offers, with inputs that fit, or the process is refused with the element and the
// reason.
func TestConnectorTasksValidatedAtDeploy(t *testing.T) {
	ctx := context.Background()
	if status, body, _ := env.Do(ctx, http.MethodPut, "/api/v1/connectors/deploy-erp", env.AdminToken,
		map[string]any{"plugin": "csv", "config": map[string]any{"dir": seededERP(t)}}); status != http.StatusOK {
		t.Fatalf("configure: %d %s", status, body)
	}
	defer env.Do(ctx, http.MethodDelete, "/api/v1/connectors/deploy-erp", env.AdminToken, nil)
	tests := []struct {
		name, connector, operation string
		inputs                     []string
		problem                    string // empty: deploys
	}{
		{"fixed method with its request's fields", "deploy-erp", "FindCustomers", []string{"TaxID"}, ""},
		{"described operation with its inputs", "deploy-erp", "customers.balance", []string{"customerId"}, ""},
		{"operation the plugin does not describe", "deploy-erp", "stock.level", nil, `describes no operation "stock.level" (it has: customers.balance)`},
		{"operation without a required input", "deploy-erp", "customers.balance", nil, `requires the input "customerId"`},
		{"operation with an input it does not take", "deploy-erp", "customers.balance", []string{"customerId", "all"}, `has no input "all"`},
		{"fixed method with a field its request lacks", "deploy-erp", "GetOrder", []string{"Number"}, `"Number" is not a field of GetOrder`},
		{"unknown method", "deploy-erp", "DropTables", nil, "unknown method"},
		{"a connector not configured yet is checked when it runs", "not-yet", "FindCustomers", []string{"Anything"}, ""},
		{"no operation header", "deploy-erp", "", nil, `needs the header "operation"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := fmt.Sprintf("connector-check-%d", i)
			status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/processes", env.AdminToken, connectorProcess(key, tt.connector, tt.operation, tt.inputs))
			if err != nil {
				t.Fatal(err)
			}
			if tt.problem == "" {
				if status != http.StatusCreated {
					t.Fatalf("deploy: %d %s", status, body)
				}
				return
			}
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("deploy: %d %s, want 422", status, body)
			}
			p := decodeProblem(t, body)
			if len(p.Errors) != 1 || p.Errors[0].Element != "Task_Call" || !strings.Contains(p.Errors[0].Message, tt.problem) {
				t.Errorf("problems %+v, want one on Task_Call mentioning %q", p.Errors, tt.problem)
			}
		})
	}
}

// seededERP is a CSV "ERP" with the connector's sample data.
func seededERP(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "plugins", "connectors", "csv", "testdata"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// connectorProcess is a one-task process calling operation on a connector with the given input targets.
func connectorProcess(key, connector, operation string, inputs []string) string {
	var maps strings.Builder
	for _, in := range inputs {
		fmt.Fprintf(&maps, `<zeebe:input source="=&quot;x&quot;" target="%s" />`, in)
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="%s" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_Call">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="connector" />
        <zeebe:taskHeaders><zeebe:header key="connector" value="%s" /><zeebe:header key="operation" value="%s" /></zeebe:taskHeaders>
        <zeebe:ioMapping>%s</zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Call" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Call" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`, key, connector, operation, maps.String())
}
