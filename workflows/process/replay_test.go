package process

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplay replays every history recorded from the embedded server (workflows/testdata, written by
// `go test ./workflows/process/e2e -run TestScenarios -record`) against the current interpreter, so a
// change that is not deterministic for running instances fails here. Gate such changes with
// workflow.GetVersion (see versions.go) rather than re-recording. A history <name>.json was recorded
// under workflow id "scenario-<name>" (children: "~" in the name stands for "/"), which call activities
// use in their children's ids; <name>@<n>.json is the n-th run of an instance that continued as new.
func TestReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in workflows/testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(Run, workflow.RegisterOptions{Name: WorkflowName})
			file, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			h, err := client.HistoryFromJSON(file, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".json"), "@") // <name>@2: a later run
			id := "scenario-" + strings.ReplaceAll(name, "~", "/")
			if err := r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: id},
			}); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
