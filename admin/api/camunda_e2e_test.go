package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/access"
)

// restWorker is an external task worker over the REST API: it fetches and locks tasks of its types
// and completes each with what answer gives (the task's variables in, result variables out).
type restWorker struct {
	token  string
	types  []string
	answer func(taskType string, vars map[string]any) map[string]any
	mu     sync.Mutex
	done   map[string]int // task type → completed
}

func (w *restWorker) run(ctx context.Context, t *testing.T) {
	topics := make([]map[string]any, 0, len(w.types))
	for _, typ := range w.types {
		topics = append(topics, map[string]any{"type": typ, "lockDuration": 60000})
	}
	for ctx.Err() == nil {
		status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/external-tasks/fetchAndLock", w.token,
			map[string]any{"workerId": "e2e", "maxTasks": 10, "topics": topics})
		if err != nil || status != http.StatusOK {
			if ctx.Err() == nil {
				t.Errorf("fetch: %d %v %s", status, err, body)
			}
			return
		}
		var tasks []struct {
			ID        string         `json:"id"`
			Type      string         `json:"type"`
			Variables map[string]any `json:"variables"`
		}
		json.Unmarshal(body, &tasks)
		for _, task := range tasks {
			status, body, err := env.Do(ctx, http.MethodPost, "/api/v1/external-tasks/"+task.ID+"/complete", w.token,
				map[string]any{"workerId": "e2e", "variables": w.answer(task.Type, task.Variables)})
			if err != nil || status != http.StatusNoContent {
				if ctx.Err() == nil {
					t.Errorf("complete %s: %d %v %s", task.Type, status, err, body)
				}
				return
			}
			w.mu.Lock()
			w.done[task.Type]++
			w.mu.Unlock()
		}
		if len(tasks) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestCamundaExamplesRun deploys real Camunda 8 example processes unchanged (engine/bpmn/testdata/camunda,
// origins in its README) and runs each to its end on the embedded stack: their job workers are one
// REST worker, messages are correlated on the processes' own correlation keys, and their FEEL
// conditions, scripts, io mappings, timers, a task type written as an expression and an event-based
// gateway loop run as Camunda would run them.
func TestCamundaExamplesRun(t *testing.T) {
	ctx := context.Background()
	_, token := newUser(t, "e2e.worker@example.test", []string{access.RoleIntegration}, nil)
	message := func(t *testing.T, id, element, name, key string) {
		t.Helper()
		waitInstance(t, id, func(v instanceView) bool { return slices.Contains(v.ActiveElements, element) })
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/messages", env.AdminToken, map[string]any{"name": name, "correlationKey": key, "timeToLive": 0})
			var r struct{ Consumed int }
			json.Unmarshal(body, &r)
			if status != http.StatusOK {
				t.Fatalf("message %s: %d %s", name, status, body)
			}
			if r.Consumed == 1 {
				return
			}
		}
		t.Fatalf("message %s/%s never consumed", name, key)
	}
	cases := []struct {
		file, key string
		vars      map[string]any
		types     []string
		answer    func(string, map[string]any) map[string]any
		drive     func(t *testing.T, id string)
		end       string
		want      map[string]any
	}{
		{file: "c8gs--2-order-process-with-service-workers--order-process.bpmn", key: "process1",
			vars: map[string]any{"orderId": "SO-1", "amount": 30}, types: []string{"checkInventory", "chargePayment", "shipItems"},
			answer: func(typ string, vars map[string]any) map[string]any {
				return map[string]any{typ + "Done": vars["orderId"]}
			},
			end: "Event_0f9sbko", want: map[string]any{"shipItemsDone": "SO-1", "chargePaymentDone": "SO-1"}},
		{file: "c8gs--0-my-first-business-process--rocket-launch.bpmn", key: "rocket-launch",
			vars: map[string]any{"fuelLevel": 80, "missionName": "Artemis"},
			end:  "EndEvent_Success", want: map[string]any{"destination": "Mars", "fuelAfterBurn": 55.0, "experimentsRun": 5.0}},
		{file: "c8ex--async-retry-counter--asnyc-retry-counter.bpmn", key: "AsyncRetryCounterProcess",
			vars: map[string]any{"callbackId": "cb-1"}, types: []string{"sendMessage"},
			answer: func(_ string, vars map[string]any) map[string]any {
				n, _ := vars["sends"].(float64)
				return map[string]any{"sent": true, "sends": n + 1}
			},
			drive: func(t *testing.T, id string) {
				// An error answer: the instance sends again after the 5 s timer, then succeeds.
				message(t, id, "Gateway_0lo9ey2", "fail", "cb-1")
				waitInstance(t, id, func(v instanceView) bool { return slices.Contains(v.ActiveElements, "DeferRetryEvent") })
				message(t, id, "Gateway_0lo9ey2", "success", "cb-1")
			},
			end: "AsyncMessagingDoneEndEvent", want: map[string]any{"sent": true, "sends": 2}},
		{file: "zbnode--Worker-Failure3.bpmn", key: "worker-failure3",
			types:  []string{"console-log-worker-failure-3"},
			answer: func(string, map[string]any) map[string]any { return map[string]any{"logged": "Hello World"} },
			drive: func(t *testing.T, id string) {
				message(t, id, "IntermediateCatchEvent_1smhq9d", "Waiting For A Train That Never Arrives", "none")
			},
			end: "EndEvent_16r84dr", want: map[string]any{"logged": "Hello World"}},
		{file: "zbnode--conditional-pathway.bpmn", key: "condition-test",
			vars: map[string]any{"conditionVariable": false}, types: []string{"pathA", "pathB", "wait"},
			answer: func(typ string, _ map[string]any) map[string]any { return map[string]any{"path" + typ: true} },
			end:    "EndEvent_1g2ztlo", want: map[string]any{"pathpathB": true, "pathwait": true}},
		{file: "c8ex--synchronous-response-springboot--responseProcess.bpmn", key: "responseProcess",
			vars: map[string]any{"requestId": "r-42"}, types: []string{"calculateSomething", "responseFor_r-42"},
			answer: func(typ string, _ map[string]any) map[string]any { return map[string]any{"handled_" + typ: true} },
			end:    "Event_1qo0rla", want: map[string]any{"handled_calculateSomething": true, "handled_responseFor_r-42": true}},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "engine", "bpmn", "testdata", "camunda", c.file))
			if err != nil {
				t.Fatal(err)
			}
			deployAndPublish(t, raw, c.key)
			wctx, stop := context.WithCancel(ctx)
			defer stop()
			w := &restWorker{token: token, types: c.types, answer: c.answer, done: map[string]int{}}
			if len(c.types) > 0 {
				go w.run(wctx, t)
			}
			status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes/"+c.key+"/instances", env.AdminToken,
				map[string]any{"businessKey": "e2e-" + c.key, "variables": c.vars})
			var started struct{ ID string }
			if err := json.Unmarshal(body, &started); err != nil || status != http.StatusCreated {
				t.Fatalf("start: %d %s", status, body)
			}
			if c.drive != nil {
				c.drive(t, started.ID)
			}
			v := waitInstance(t, started.ID, func(v instanceView) bool { return v.Status == "completed" || len(v.Incidents) > 0 })
			if v.Status != "completed" || v.EndElement != c.end {
				t.Fatalf("instance = %+v, want completed at %s", v, c.end)
			}
			for k, want := range c.want {
				if fmt.Sprint(v.Variables[k]) != fmt.Sprint(want) {
					t.Errorf("variable %s = %v, want %v (all: %v)", k, v.Variables[k], want, v.Variables)
				}
			}
		})
	}
}
