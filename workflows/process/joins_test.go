package process

import (
	"testing"
	"time"
)

// TestInclusiveJoin checks the BPMN 2.0 rule for inclusive joins on textbook cases: the join fires
// when every incoming flow that can still receive a token has one. A token blocks it only while it
// has a path to an empty incoming flow that passes neither the join nor a node from which a filled
// incoming flow can be reached. The first release waited for any token of the scope that could
// reach the join at all, and consumed every token waiting there in one firing.
func TestInclusiveJoin(t *testing.T) {
	join := gateway("inclusiveGateway", "J", []string{"Fa", "Fb"}, []string{"F9"}, "") +
		svc("After", "noop", "F9", "F10", "") + end("End", "F10") + flow("F9", "J", "After") + flow("F10", "After", "End")
	cases := []struct {
		name string
		body string
		vars map[string]any
		// after is how often the join fired (After ran) before the user task U is completed, and in all.
		before, after int
	}{
		{
			// F takes both branches; B is a person: the join waits for her.
			"waits for an activated branch", start +
				gateway("inclusiveGateway", "F", []string{"F0"}, []string{"FA", "FB"}, "") +
				svc("A", "noop", "FA", "Fa", "") + userTask("U", "FB", "Fb", "") + join +
				flow("F0", "Start", "F") + condFlow("FA", "F", "A", "=a") + condFlow("FB", "F", "U", "=b") +
				flow("Fa", "A", "J") + flow("Fb", "U", "J"),
			map[string]any{"a": true, "b": true}, 0, 1,
		},
		{
			// Two tokens come along flow a (one now, one when U is done); flow b is not activated. The
			// waiting person can only bring a token to the filled flow a: the join fires for each token.
			"a token that can only reach a filled flow does not block", start +
				gateway("exclusiveGateway", "XS", []string{"F0"}, []string{"FP", "FZ"}, ` default="FP"`) +
				gateway("parallelGateway", "P", []string{"FP"}, []string{"FT", "FU"}, "") +
				svc("T", "noop", "FT", "FT2", "") + userTask("U", "FU", "FU2", "") +
				gateway("exclusiveGateway", "M", []string{"FT2", "FU2"}, []string{"Fa"}, "") +
				svc("Z", "noop", "FZ", "Fb", "") + join +
				flow("F0", "Start", "XS") + flow("FP", "XS", "P") + condFlow("FZ", "XS", "Z", "=b") +
				flow("FT", "P", "T") + flow("FU", "P", "U") + flow("FT2", "T", "M") + flow("FU2", "U", "M") +
				flow("Fa", "M", "J") + flow("Fb", "Z", "J"),
			map[string]any{"b": false}, 1, 2,
		},
		{
			// The person's path to the empty flow b passes the inclusive fork F, from which the filled
			// flow a is reachable: her token may as well take a, so it does not hold the join.
			"a token whose path passes a node reaching a filled flow does not block", start +
				gateway("parallelGateway", "P", []string{"F0"}, []string{"FM", "FU"}, "") +
				userTask("U", "FU", "FU2", "") +
				gateway("exclusiveGateway", "M", []string{"FM", "FU2"}, []string{"FF"}, "") +
				gateway("inclusiveGateway", "F", []string{"FF"}, []string{"FA", "FB"}, "") +
				svc("A", "noop", "FA", "Fa", "") + svc("B", "noop", "FB", "Fb", "") + join +
				flow("F0", "Start", "P") + flow("FM", "P", "M") + flow("FU", "P", "U") + flow("FU2", "U", "M") +
				flow("FF", "M", "F") + condFlow("FA", "F", "A", "=a") + condFlow("FB", "F", "B", "=b") +
				flow("Fa", "A", "J") + flow("Fb", "B", "J"),
			map[string]any{"a": true, "b": false}, 1, 2,
		},
		{
			// The person is upstream of the empty flow b only: the join waits for her.
			"a token upstream of an empty flow blocks", start +
				gateway("parallelGateway", "P", []string{"F0"}, []string{"FA", "FU"}, "") +
				svc("A", "noop", "FA", "Fa", "") + userTask("U", "FU", "Fb", "") + join +
				flow("F0", "Start", "P") + flow("FA", "P", "A") + flow("FU", "P", "U") +
				flow("Fa", "A", "J") + flow("Fb", "U", "J"),
			nil, 0, 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			env := newEnv(t, c, nil)
			before := -1
			env.RegisterDelayedCallback(func() {
				before = c.count("After")
				update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "U")})
			}, time.Hour)
			env.SetTestTimeout(10 * time.Second)
			env.RegisterDelayedCallback(env.CancelWorkflow, 24*time.Hour)
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, doc("or", tc.body, "")), Variables: tc.vars})
			res := result(t, env)
			if before != tc.before || c.count("After") != tc.after || res.EndElement != "End" {
				t.Fatalf("join fired %d times before U, %d in all (end %s); want %d and %d", before, c.count("After"), res.EndElement, tc.before, tc.after)
			}
		})
	}
}
