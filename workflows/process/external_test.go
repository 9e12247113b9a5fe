package process

import (
	"context"
	"testing"

	"go.temporal.io/sdk/activity"
)

// TestExternalTasks runs service tasks of types Rapport does not run as activities of the type's name:
// the worker sees the process variables with the task's inputs over them and its headers, a type
// written as an expression is evaluated when the task starts, and without output mappings the result's
// variables land in the process.
func TestExternalTasks(t *testing.T) {
	m := compileXML(t, doc("ext", start+
		svc("Charge", `=&#34;charge-&#34; + vote`, "F0", "F1", `<zeebe:taskHeaders><zeebe:header key="provider" value="acme" /></zeebe:taskHeaders>`+
			`<zeebe:ioMapping><zeebe:input source="=amount * 100" target="cents" /></zeebe:ioMapping>`)+
		end("End", "F1")+flow("F0", "Start", "Charge")+flow("F1", "Charge", "End"), ""))
	if n := m.Node("Charge"); n == nil || n.Task == nil || !n.Task.External {
		t.Fatal("the task is not external")
	}
	env := newEnv(t, newCalls(), nil)
	var got ExternalTask
	env.RegisterActivityWithOptions(func(_ context.Context, task ExternalTask) (map[string]any, error) {
		got = task
		return map[string]any{"receipt": "R-1", "n": task.Variables["cents"]}, nil
	}, activity.RegisterOptions{Name: "charge-card"})
	env.ExecuteWorkflow(WorkflowName, Input{Model: m, Ref: Ref{Key: "ext"}, BusinessKey: "SO-1", Variables: map[string]any{"amount": 2.5, "vote": "card"}})
	res := result(t, env)
	if res.State != StateCompleted {
		t.Fatalf("result %+v", res)
	}
	if got.Type != "charge-card" || got.Element != "Charge" || got.BusinessKey != "SO-1" || got.Headers["provider"] != "acme" ||
		got.Variables["cents"] != 250.0 || got.Variables["vote"] != "card" {
		t.Fatalf("the worker got %+v", got)
	}
	if res.Variables["receipt"] != "R-1" || res.Variables["n"] != 250.0 {
		t.Fatalf("variables %v, want the worker's result merged", res.Variables)
	}
}
