package process

import (
	"testing"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// TestBehaviourLevel checks the versioning helper: a new instance takes the latest level, a continued
// instance keeps the level it started with. (Histories recorded before a level replay the first
// release; TestReplay covers that.)
func TestBehaviourLevel(t *testing.T) {
	cases := []struct {
		name   string
		resume *State
		want   int
	}{
		{"new instance", nil, levelLatest},
		{"continued new instance", &State{Level: levelLatest}, levelLatest},
		{"continued instance of the first release", &State{}, levelFirstRelease},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			env.RegisterWorkflowWithOptions(func(ctx workflow.Context) (int, error) {
				return behaviourLevel(ctx, tc.resume), nil
			}, workflow.RegisterOptions{Name: "level"})
			env.ExecuteWorkflow("level")
			var got int
			if err := env.GetWorkflowResult(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("level %d, want %d", got, tc.want)
			}
		})
	}
}
