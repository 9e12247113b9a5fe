package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadManifest(t *testing.T) {
	sum := strings.Repeat("0a", 32)
	tests := []struct {
		name    string
		folder  string
		json    string
		wantErr string
	}{
		{"valid", "csv", `{"name":"csv","binary":"bin/csv","sha256":"` + strings.ToUpper(sum) + `","protocol_version":1,"default_config":{"currency":"EUR"}}`, ""},
		{"name differs from folder", "other", `{"name":"csv","binary":"csv","sha256":"` + sum + `","protocol_version":1}`, "folder name"},
		{"bad name", "Bad", `{"name":"Bad","binary":"csv","sha256":"` + sum + `","protocol_version":1}`, "lower-case"},
		{"binary escapes folder", "csv", `{"name":"csv","binary":"../evil","sha256":"` + sum + `","protocol_version":1}`, "inside the plugin folder"},
		{"absolute binary", "csv", `{"name":"csv","binary":"/bin/sh","sha256":"` + sum + `","protocol_version":1}`, "inside the plugin folder"},
		{"short checksum", "csv", `{"name":"csv","binary":"csv","sha256":"abc","protocol_version":1}`, "64 hex"},
		{"protocol 2 (operations)", "csv", `{"name":"csv","binary":"csv","sha256":"` + sum + `","protocol_version":2}`, ""},
		{"future protocol", "csv", `{"name":"csv","binary":"csv","sha256":"` + sum + `","protocol_version":3}`, "not supported"},
		{"no protocol", "csv", `{"name":"csv","binary":"csv","sha256":"` + sum + `"}`, "not supported"},
		{"default config not an object", "csv", `{"name":"csv","binary":"csv","sha256":"` + sum + `","protocol_version":1,"default_config":[1]}`, "JSON object"},
		{"not JSON", "csv", `{`, "parse manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.folder)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tt.json), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := LoadManifest(dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.SHA256 != sum {
					t.Errorf("sha256 %q not normalised to lower case", m.SHA256)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestBrokenManifestListedAndRefused(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	h, _ := newHost(t, root, Options{})
	ps := h.Plugins()
	if len(ps) != 1 || ps[0].Name != "broken" || ps[0].Err == nil {
		t.Fatalf("Plugins() = %+v, want the broken plugin with its error", ps)
	}
	if _, err := h.Describe(t.Context(), "broken"); err == nil || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("Describe(broken) err = %v, want the manifest error", err)
	}
}
