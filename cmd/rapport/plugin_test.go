package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// TestPluginCommands runs `rapport plugin list | check | call` against the real CSV connector binary.
func TestPluginCommands(t *testing.T) {
	dataDir := t.TempDir()
	if err := stacktest.InstallPlugin(dataDir, "csv", "github.com/rapportcrm/rapport/plugins/connectors/csv"); err != nil {
		t.Fatal(err)
	}
	pluginsDir := filepath.Join(dataDir, "plugins")
	// A second plugin whose binary was changed after its manifest was written.
	tampered := filepath.Join(pluginsDir, "tampered")
	if err := os.CopyFS(tampered, os.DirFS(filepath.Join(pluginsDir, "csv"))); err != nil {
		t.Fatal(err)
	}
	manifest, _ := os.ReadFile(filepath.Join(tampered, "plugin.json"))
	os.WriteFile(filepath.Join(tampered, "plugin.json"), bytes.Replace(manifest, []byte(`"name":"csv"`), []byte(`"name":"tampered"`), 1), 0o644)
	f, _ := os.OpenFile(filepath.Join(tampered, "connector"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("tampered"))
	f.Close()

	testdata, _ := filepath.Abs(filepath.Join("..", "..", "plugins", "connectors", "csv", "testdata"))
	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    []string
	}{
		{"list", []string{"plugin", "list"}, "", []string{"csv", "ok", "tampered", "checksum mismatch"}},
		{"check", []string{"plugin", "check", "csv"}, "", []string{"csv", "capabilities:", "orders.create", "operations: customers.balance"}},
		{"check refuses a tampered binary", []string{"plugin", "check", "tampered"}, "checksum", nil},
		{"call", []string{"plugin", "call", "--config", `{"dir":"` + testdata + `"}`, "--request", `{"TaxID":"GB123456789"}`, "csv", "FindCustomers"}, "", []string{"Blue Ocean"}},
		{"call with a bad config", []string{"plugin", "call", "--config", `{"dir":7}`, "csv", "Health"}, "--config", nil},
		{"call without a method", []string{"plugin", "call", "csv"}, "usage", nil},
		{"call an operation", []string{"plugin", "call", "--config", `{"dir":"` + testdata + `"}`, "--request", `{"customerId":"C-000002"}`, "csv", "customers.balance"}, "",
			[]string{`"amountDue": "80.00"`}},
		{"install a copy under another name", []string{"plugin", "install", "--name", "csv-copy", filepath.Join(pluginsDir, "csv", "connector")}, "",
			[]string{"installed csv-copy 1.0.0"}},
		{"listed after install", []string{"plugin", "list"}, "", []string{"csv-copy", "ok"}},
		{"install refuses what does not start", []string{"plugin", "install", "--name", "bad", filepath.Join(pluginsDir, "csv", "plugin.json")}, "does not start", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"rapport", "--log-level", "error"}, tt.args[0], tt.args[1], "--plugins-dir", pluginsDir)
			args = append(args, tt.args[2:]...)
			err := newApp(&out, &out).Run(context.Background(), args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
