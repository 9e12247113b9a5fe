// Package plugins_test follows plugins/README.md as a new plugin developer would, so the guide cannot rot:
// from an empty folder, with only Go and the SDK's public module path, it writes the guide's files, runs
// its commands exactly as written, and checks that the connector it builds is called from a process in a
// running Rapport that was never restarted.
package plugins_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

var env *stacktest.Env

func TestMain(m *testing.M) { stacktest.Main(m, &env) }

// block is one marked code block of the guide: `<!-- guide:file NAME -->` before a block that is a file to
// write, `<!-- guide:run STEP -->` before shell commands to run.
type block struct {
	kind, name, body string
}

var markerRE = regexp.MustCompile(`^<!-- guide:(file|run) (\S+) -->$`)

// guideBlocks reads the marked blocks of README.md in order.
func guideBlocks(t *testing.T) []block {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	inFence := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && !inFence:
			if m := markerRE.FindStringSubmatch(line); m != nil {
				cur = &block{kind: m[1], name: m[2]}
			}
		case cur != nil && !inFence:
			if !strings.HasPrefix(line, "```") {
				t.Fatalf("README.md: the guide:%s %s marker is not followed by a code block", cur.kind, cur.name)
			}
			inFence = true
		case strings.HasPrefix(line, "```"):
			out = append(out, *cur)
			cur, inFence = nil, false
		default:
			cur.body += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// goEnv reads one go env value as the repository's toolchain sees it.
func goEnv(t *testing.T, key string) string {
	t.Helper()
	cmd := exec.Command("go", "env", key)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// TestGuide is issue 18's "done when": a plugin created from the guide in an empty folder, offline (no
// module proxy: the SDK module comes from this repository through a replace), is built, tested with the
// harness, installed into the running stack without a restart, configured through the API, and called
// from a process, once through a fixed method and once through an operation; then upgraded in place.
func TestGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Rapport and a plugin; skipped with -short")
	}
	blocks := guideBlocks(t)
	var steps []string
	files := map[string]string{}
	for _, b := range blocks {
		if b.kind == "file" {
			files[b.name] = b.body
		} else if len(steps) == 0 || steps[len(steps)-1] != b.name {
			steps = append(steps, b.name)
		}
	}
	want := []string{"setup", "build", "install", "configure", "deploy", "start", "upgrade"}
	if !slices.Equal(steps, want) {
		t.Fatalf("the guide's steps are %v, want %v", steps, want)
	}
	for _, f := range []string{"main.go", "connector_test.go", "quote.bpmn"} {
		if files[f] == "" {
			t.Fatalf("the guide has no file %s", f)
		}
	}

	// What a developer has: Go, and Rapport's CLI (built here from this repository).
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "rapport"), "./cmd/rapport")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build rapport: %v\n%s", err, out)
	}
	// The SDK's own dependencies come from the module cache, as they would from a proxy: fetch them first
	// (a no-op once cached), then work offline. "all": the plugin's `go mod tidy` also reads the modules
	// that tests of the SDK's dependencies import (testify, go-cmp, gonum, …), which a bare
	// `go mod download` leaves out — on a fresh module cache tidy then failed with "module lookup
	// disabled by GOPROXY=off".
	sdk, err := filepath.Abs("sdk")
	if err != nil {
		t.Fatal(err)
	}
	download := exec.Command("go", "mod", "download", "all")
	download.Dir = sdk
	if out, err := download.CombinedOutput(); err != nil {
		t.Fatalf("go mod download in the SDK: %v\n%s", err, out)
	}
	shellEnv := append(os.Environ(),
		"GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local", "GOWORK=off",
		"PATH="+bin+string(os.PathListSeparator)+filepath.Join(goEnv(t, "GOROOT"), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RAPPORT_URL="+env.BaseURL, "RAPPORT_TOKEN="+env.AdminToken,
		"RAPPORT_PLUGINS_DIR="+filepath.Join(env.DataDir, "plugins"), "RAPPORT_LOG_LEVEL=warn")
	run := func(step, dir string) string {
		t.Helper()
		var script strings.Builder
		for _, b := range blocks {
			if b.kind == "run" && b.name == step {
				script.WriteString(b.body)
			}
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script.String())
		cmd.Dir, cmd.Env = dir, shellEnv
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("guide step %q failed: %v\n--- script\n%s--- stdout\n%s\n--- stderr\n%s", step, err, script.String(), out, stderr.String())
		}
		return string(out)
	}
	call := func(method, path string, body any) stacktest.Response {
		t.Helper()
		r := env.Call(t, method, path, env.AdminToken, body)
		if r.Status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Raw)
		}
		return r
	}

	// 1. Set up the module in an empty folder, then point the SDK's public path at this repository.
	root := t.TempDir()
	run("setup", root)
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 || !entries[0].IsDir() {
		t.Fatalf("the setup step should create one folder, made %v", entries)
	}
	mod := filepath.Join(root, entries[0].Name())
	replace := exec.Command("go", "mod", "edit", "-replace", "github.com/rapportcrm/rapport/plugins/sdk="+sdk)
	replace.Dir, replace.Env = mod, shellEnv
	if out, err := replace.CombinedOutput(); err != nil {
		t.Fatalf("replace the SDK: %v\n%s", err, out)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// 2-4. Tidy, vet, run the harness, build.
	run("build", mod)

	// 5. Install into the running stack; it was never restarted.
	run("install", mod)
	plugins := call(http.MethodGet, "/api/v1/plugins", nil)
	if !strings.Contains(string(plugins.Raw), `"name":"acme"`) || strings.Contains(string(plugins.Raw), `"error"`) {
		t.Fatalf("plugins after the install: %s", plugins.Raw)
	}

	// 6. Try it from the CLI, configure it through the API.
	out := run("configure", mod)
	for _, w := range []string{"acme 0.1.0 by ACME Corp.: ok", "operations: prices.quote", `"total": "7.50"`, `"plugin":"acme"`} {
		if !strings.Contains(out, w) {
			t.Errorf("the configure step's output lacks %q:\n%s", w, out)
		}
	}

	// 7. Deploy and publish the process, start it, and wait for its result.
	run("deploy", mod)
	startAndCheck := func() {
		t.Helper()
		var started struct{ ID string }
		if out := run("start", mod); json.Unmarshal([]byte(out), &started) != nil || started.ID == "" {
			t.Fatalf("start output: %s", out)
		}
		vars := waitCompleted(t, started.ID)
		if vars["total"] != "7.50" || vars["customerId"] == nil || vars["customerId"] == "" {
			t.Fatalf("variables %v, want total 7.50 and the ERP's customer ID", vars)
		}
		// The fixed method reached the ERP: ACME now holds the customer under that ID.
		r := call(http.MethodPost, "/api/v1/connectors/acme/call", map[string]any{"method": "FindCustomers",
			"request": map[string]any{"ID": vars["customerId"]}})
		if !strings.Contains(string(r.Raw), "Blue Ocean Ltd") {
			t.Fatalf("the ERP does not know customer %v: %s", vars["customerId"], r.Raw)
		}
	}
	startAndCheck()

	// 8. Upgrade: a new version of the code, rebuilt and installed while Rapport runs.
	in, err := env.Stack.Plugins.Instance("acme")
	if err != nil {
		t.Fatal(err)
	}
	oldPID := in.PID()
	src := filepath.Join(mod, "main.go")
	code, _ := os.ReadFile(src)
	if !strings.Contains(string(code), `Version: "0.1.0"`) {
		t.Fatal(`the guide's main.go no longer says Version: "0.1.0"`)
	}
	os.WriteFile(src, []byte(strings.Replace(string(code), `Version: "0.1.0"`, `Version: "0.2.0"`, 1)), 0o644)
	out = run("upgrade", mod)
	var rep struct{ Upgraded []string }
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil {
		t.Fatalf("rescan output is not a report: %v\n%s", err, out)
	}
	if d := call(http.MethodGet, "/api/v1/plugins/acme", nil); !strings.Contains(string(d.Raw), `"version":"0.2.0"`) {
		t.Fatalf("after the upgrade the plugin describes itself as %s", d.Raw)
	}
	if pid := in.PID(); pid == oldPID {
		t.Errorf("the instance still runs the old process %d", pid)
	}
	startAndCheck()
}

// waitCompleted polls an instance until it completes and returns its variables; an incident fails.
func waitCompleted(t *testing.T, id string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for {
		var snap struct {
			Status    string         `json:"status"`
			Variables map[string]any `json:"variables"`
			Incidents []any          `json:"incidents"`
		}
		r := env.Call(t, http.MethodGet, "/api/v1/instances/"+id, env.AdminToken, nil)
		if err := json.Unmarshal(r.Raw, &snap); err != nil {
			t.Fatalf("instance %s: %d %s", id, r.Status, r.Raw)
		}
		switch {
		case snap.Status == "completed":
			return snap.Variables
		case len(snap.Incidents) > 0:
			t.Fatalf("instance %s has incidents: %s", id, r.Raw)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("instance %s did not complete: %s", id, r.Raw)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
