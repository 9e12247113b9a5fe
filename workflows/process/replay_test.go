package process

import (
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/workflows/replaytest"
)

// TestReplay replays every history recorded from the embedded server (workflows/testdata, written by
// `go test ./workflows/process/e2e -run TestScenarios -record`) against the current interpreter, so a
// change that is not deterministic for running instances fails here. Gate such changes with
// workflow.GetVersion (see versions.go) rather than re-recording. A history <name>.json was recorded
// under workflow id "scenario-<name>" (children: "~" in the name stands for "/"), which call activities
// use in their children's ids; <name>@<n>.json is the n-th run of an instance that continued as new.
// The histories replay as a worker runs them (Register): sharing one set of decoded models and compiled
// expressions among all of them, so sharing them across instances is checked for determinism too.
func TestReplay(t *testing.T) {
	sh := newShared()
	replaytest.Replay(t, replaytest.Options{
		Pattern: filepath.Join("..", "testdata", "*.json"),
		Register: func(r worker.WorkflowReplayer) {
			r.RegisterWorkflowWithOptions(sh.run, workflow.RegisterOptions{Name: WorkflowName})
		},
		Execution: func(f string) workflow.Execution {
			name, _, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".json"), "@") // <name>@2: a later run
			return workflow.Execution{ID: "scenario-" + strings.ReplaceAll(name, "~", "/")}
		},
	})
	// The histories went through the shared path: their models were decoded into the shared set.
	if sh.models.Len() == 0 || sh.progs.Len() == 0 {
		t.Fatalf("replaying shared %d models and %d programs; want both above 0", sh.models.Len(), sh.progs.Len())
	}
}
