package process

import (
	"testing"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// TestChangedGate checks the versioning helper: a new instance takes the new path of a change.
// (Running instances that started before the change replay DefaultVersion; TestReplay covers that
// the recorded histories still replay.)
func TestChangedGate(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (bool, error) {
		r := &runner{ctx: ctx}
		return r.changed(changeFirstRelease), nil
	}, workflow.RegisterOptions{Name: "gate"})
	env.ExecuteWorkflow("gate")
	var got bool
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if !got {
		t.Fatal("a new instance did not take the new path")
	}
}
