// Package sdk_test checks that the plugin SDK is a Go module of its own: a plugin author
// requires github.com/rapportcrm/rapport/plugins/sdk and gets only what a plugin needs,
// never Rapport with its Temporal server and database.
package sdk_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// allowed are the modules the SDK may require directly: the plugin transport (go-plugin,
// gRPC, protobuf), logging (hclog), and the JSON Schema validator of the conformance
// harness.
var allowed = map[string]bool{
	"github.com/hashicorp/go-plugin":           true,
	"github.com/hashicorp/go-hclog":            true,
	"google.golang.org/grpc":                   true,
	"google.golang.org/protobuf":               true,
	"github.com/santhosh-tekuri/jsonschema/v6": true,
}

type goMod struct {
	Module  struct{ Path string }
	Go      string
	Require []struct {
		Path     string
		Indirect bool
	}
	Replace []struct{ Old struct{ Path string } }
}

// TestModuleStandsAlone copies the SDK out of the repository and builds and vets it
// there with GOFLAGS=-mod=mod, so nothing of Rapport (no replace, no parent go.mod, no
// workspace) can help it compile.
func TestModuleStandsAlone(t *testing.T) {
	raw, err := exec.Command("go", "mod", "edit", "-json").Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var m goMod
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.Module.Path != "github.com/rapportcrm/rapport/plugins/sdk" {
		t.Errorf("module path %q", m.Module.Path)
	}
	if len(m.Replace) > 0 {
		t.Errorf("the SDK's go.mod replaces %v; a published module cannot", m.Replace)
	}
	for _, r := range m.Require {
		if strings.HasPrefix(r.Path, "github.com/rapportcrm/rapport") {
			t.Errorf("the SDK requires %s", r.Path)
		}
		if !r.Indirect && !allowed[r.Path] {
			t.Errorf("the SDK requires %s directly; a plugin needs only %v", r.Path, allowed)
		}
	}

	dir := filepath.Join(t.TempDir(), "sdk")
	if err := os.CopyFS(dir, os.DirFS(".")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in a copy of the SDK: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	deps, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(deps)) {
		if strings.HasPrefix(p, "github.com/rapportcrm/rapport/") && !strings.HasPrefix(p, "github.com/rapportcrm/rapport/plugins/sdk") {
			t.Errorf("the SDK imports %s", p)
		}
	}
}
