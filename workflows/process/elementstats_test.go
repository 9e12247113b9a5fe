package process

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
)

// reports collects what instances report to the element statistics.
type reports struct {
	mu   sync.Mutex
	seen []ElementReport
}

func (r *reports) RecordElements(_ context.Context, rep ElementReport) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, rep)
	return nil
}

// runs are the element runs reported, per element in report order.
func (r *reports) runs() map[string][]ElementRun {
	out := map[string][]ElementRun{}
	for _, rep := range r.seen {
		for _, run := range rep.Runs {
			out[run.Element] = append(out[run.Element], run)
		}
	}
	return out
}

// TestElementStatistics: an instance reports every element it left with how long it was active in
// workflow time and every incident, in few batches: when it starts waiting for a timer or a person,
// when a task failed, and at its end; service tasks in a row report once, at the end; a parallel
// multi-instance activity is one run of its host.
func TestElementStatistics(t *testing.T) {
	failOnce := `<rapport:retryPolicy initialInterval="PT1S" backoffCoefficient="1" maximumInterval="PT1S" maximumAttempts="1" />`
	type run struct {
		element   string
		durations []time.Duration // of the completed runs, in order
		incidents int
	}
	cases := []struct {
		name    string
		body    string
		vars    map[string]any
		drive   func(t *testing.T, env *envT, c *calls)
		want    []run
		reports int // batches sent, the last one final
	}{
		{"timer, person, incident and retry",
			start + `    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>` + "\n" +
				`    <bpmn:userTask id="Review"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>` + "\n" +
				svc("Work", "noop", "F2", "F3", failOnce) + end("Done", "F3") +
				flow("F0", "Start", "Wait") + flow("F1", "Wait", "Review") + flow("F2", "Review", "Work") + flow("F3", "Work", "Done"),
			nil,
			func(t *testing.T, env *envT, c *calls) {
				c.fails["Work"] = 1
				env.RegisterDelayedCallback(func() {
					update(env, UpdateCompleteTask, CompleteTaskRequest{TaskID: userTaskID(t, env, "Review")})
				}, 150*time.Minute)
				env.RegisterDelayedCallback(func() {
					if in := hasIncident(queryState(t, env), IncidentTaskFailed); in != nil {
						update(env, UpdateRetryIncident, RetryRequest{IncidentID: in.ID})
					}
				}, 3*time.Hour)
			},
			[]run{{"Done", []time.Duration{0}, 0}, {"Review", []time.Duration{30 * time.Minute}, 0}, {"Start", []time.Duration{0}, 0},
				{"Wait", []time.Duration{2 * time.Hour}, 0}, {"Work", []time.Duration{30 * time.Minute}, 1}},
			// Start when the timer is armed, Wait when the person's task opens, Review and the
			// incident when the task failed, Work and Done at the end.
			4},
		{"service tasks in a row report at the end",
			start + svc("A", "noop", "F0", "F1", "") + svc("B", "noop", "F1", "F2", "") + svc("C", "noop", "F2", "F3", "") + end("End", "F3") +
				flow("F0", "Start", "A") + flow("F1", "A", "B") + flow("F2", "B", "C") + flow("F3", "C", "End"),
			nil, nil,
			[]run{{"A", []time.Duration{0}, 0}, {"B", []time.Duration{0}, 0}, {"C", []time.Duration{0}, 0}, {"End", []time.Duration{0}, 0}, {"Start", []time.Duration{0}, 0}},
			1},
		{"an external task is a wait: the runs before it are reported when it starts",
			start + svc("Charge", "charge-card", "F0", "F1", "") + end("End", "F1") + flow("F0", "Start", "Charge") + flow("F1", "Charge", "End"),
			nil,
			func(t *testing.T, env *envT, _ *calls) {
				env.RegisterActivityWithOptions(func(context.Context, ExternalTask) (map[string]any, error) {
					return nil, nil
				}, activity.RegisterOptions{Name: "charge-card"})
			},
			[]run{{"Charge", []time.Duration{0}, 0}, {"End", []time.Duration{0}, 0}, {"Start", []time.Duration{0}, 0}},
			2},
		{"parallel multi-instance is one run",
			start + `    <bpmn:serviceTask id="Each"><bpmn:extensionElements><zeebe:taskDefinition type="noop" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=approvers" inputElement="vote" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:serviceTask>` + "\n" + end("End", "F1") + flow("F0", "Start", "Each") + flow("F1", "Each", "End"),
			map[string]any{"approvers": []any{"a", "b", "c"}}, nil,
			[]run{{"Each", []time.Duration{0}, 0}, {"End", []time.Duration{0}, 0}, {"Start", []time.Duration{0}, 0}},
			1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCalls()
			rec := &reports{}
			env := newEnvWithActivities(t, &Activities{Registry: testRegistry(c), Elements: rec})
			env.SetStartTime(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
			if tc.drive != nil {
				tc.drive(t, env, c)
			}
			env.ExecuteWorkflow(WorkflowName, Input{Model: compileXML(t, doc("stats", tc.body, "")), Variables: tc.vars})
			result(t, env)
			got := rec.runs()
			var names []string
			for el := range got {
				names = append(names, el)
			}
			slices.Sort(names)
			if len(names) != len(tc.want) {
				t.Fatalf("elements reported %v, want %d", names, len(tc.want))
			}
			for i, w := range tc.want {
				if names[i] != w.element {
					t.Fatalf("elements reported %v", names)
				}
				var durations []time.Duration
				incidents := 0
				for _, r := range got[w.element] {
					if r.Incident {
						incidents++
						continue
					}
					durations = append(durations, r.Duration.Round(time.Minute))
				}
				if !slices.Equal(durations, w.durations) || incidents != w.incidents {
					t.Errorf("%s: durations %v and %d incidents, want %v and %d", w.element, durations, incidents, w.durations, w.incidents)
				}
			}
			if len(rec.seen) != tc.reports {
				t.Errorf("%d reports, want %d", len(rec.seen), tc.reports)
			}
			for i, rep := range rec.seen {
				if rep.Seq != i+1 || rep.Final != (i == len(rec.seen)-1) || rep.Process != "stats" || rep.Run == "" {
					t.Errorf("report %d: seq %d final %v process %q run %q", i, rep.Seq, rep.Final, rep.Process, rep.Run)
				}
			}
		})
	}
}
