package host

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/plugins/host/internal/testconn"
	"github.com/rapportcrm/rapport/plugins/sdk/connector"
)

func TestInstall(t *testing.T) {
	root := t.TempDir()
	build := t.TempDir()
	version := func(n int) string {
		p := filepath.Join(build, "rapport-connector-erp")
		b, err := os.ReadFile(testBins["testplugin"])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, append(b, strings.Repeat("v", n)...), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := func() []string {
		es, _ := os.ReadDir(filepath.Join(root, "erp"))
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}

	m1, d, err := Install(t.Context(), InstallOptions{Dir: root, Binary: version(0)})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Name != "erp" || !strings.HasPrefix(m1.Binary, "rapport-connector-erp-") || m1.ProtocolVersion != connector.ProtocolVersion || d.Name != "testplugin" {
		t.Fatalf("installed %+v, described %+v", m1, d)
	}
	if got, err := LoadManifest(filepath.Join(root, "erp")); err != nil || got.SHA256 != m1.SHA256 {
		t.Fatalf("manifest on disk %+v, %v", got, err)
	}
	h, _ := newHost(t, root, Options{HealthInterval: -1, ScanInterval: -1})
	in, err := h.Configure(t.Context(), "erp-1", "erp", cfgJSON(t, testconn.Config{Dir: t.TempDir()}))
	if err != nil {
		t.Fatalf("the installed plugin does not run: %v", err)
	}
	if ps := h.Plugins(); len(ps) != 1 || ps[0].Verify() != nil {
		t.Fatalf("Plugins() = %+v (a staging folder left behind?)", ps)
	}

	// Upgrades: the manifest's own settings stay, the previous binary stays for the
	// draining process, older ones go.
	m := m1
	m.MaxConcurrency = 3
	writeManifest(t, filepath.Join(root, "erp"), m)
	m2, _, err := Install(t.Context(), InstallOptions{Dir: root, Binary: version(1)})
	if err != nil {
		t.Fatal(err)
	}
	if m2.SHA256 == m1.SHA256 || m2.MaxConcurrency != 3 {
		t.Errorf("upgrade manifest %+v", m2)
	}
	if fs := files(); !slices.Contains(fs, m1.Binary) || !slices.Contains(fs, m2.Binary) {
		t.Errorf("after the first upgrade: %v", fs)
	}
	rep, err := h.Rescan(t.Context())
	if err != nil || len(rep.Instances) != 1 || rep.Instances[0].Action != "upgraded" {
		t.Fatalf("rescan after install: %+v, %v", rep, err)
	}
	if _, err := in.Health(t.Context(), connector.HealthRequest{}); err != nil {
		t.Fatal(err)
	}
	m3, _, err := Install(t.Context(), InstallOptions{Dir: root, Binary: version(2)})
	if err != nil {
		t.Fatal(err)
	}
	if fs := files(); slices.Contains(fs, m1.Binary) || !slices.Contains(fs, m2.Binary) || !slices.Contains(fs, m3.Binary) {
		t.Errorf("after the second upgrade: %v, want %s and %s only", fs, m2.Binary, m3.Binary)
	}
}

func TestInstallRefusals(t *testing.T) {
	root := t.TempDir()
	notAPlugin, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true binary")
	}
	tests := []struct {
		name    string
		opts    InstallOptions
		mention string
	}{
		{"a binary that is no plugin", InstallOptions{Binary: notAPlugin, Name: "nope"}, "does not start"},
		{"a name that cannot be a folder", InstallOptions{Binary: testBins["testplugin"], Name: "Bad Name"}, "lower-case"},
		{"a protocol this host does not know", InstallOptions{Binary: testBins["testplugin"], Name: "future", ProtocolVersion: 9}, "not supported"},
		{"no binary", InstallOptions{Binary: filepath.Join(root, "missing"), Name: "missing"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = root
			_, _, err := Install(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.mention)
			}
			if es, _ := os.ReadDir(root); len(es) != 0 {
				t.Errorf("a refused install left %v behind", es)
			}
		})
	}
	if _, _, err := Install(t.Context(), InstallOptions{Dir: filepath.Join(root, "absent"), Binary: testBins["testplugin"]}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing plugins directory: %v", err)
	}
}
