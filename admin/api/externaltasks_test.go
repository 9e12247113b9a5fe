package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/workflows/process"
)

func startPayment(t *testing.T, orderID string, amount float64) string {
	t.Helper()
	status, body, err := env.Do(context.Background(), http.MethodPost, "/api/v1/processes/order-payment/instances", env.AdminToken,
		map[string]any{"businessKey": orderID, "variables": map[string]any{"orderId": orderID, "amount": amount}})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("start: %d %v %s", status, err, body)
	}
	var started struct{ ID string }
	json.Unmarshal(body, &started)
	return started.ID
}

// runPythonWorker runs the REST worker script of testdata for one task.
func runPythonWorker(t *testing.T, token, taskType, action string) map[string]any {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; the worker script needs it")
	}
	cmd := exec.Command(py, "testdata/external_worker.py", env.BaseURL, token, taskType, action, "45")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("worker script (%s): %v\n%s", action, err, out)
	}
	var task map[string]any
	if err := json.Unmarshal(out, &task); err != nil {
		t.Fatalf("worker script printed %q: %v", out, err)
	}
	return task
}

// TestExternalTaskREST runs a Camunda Modeler process whose service task type Rapport does not know
// (charge-card): a worker written in Python against the fetch-and-lock REST API completes it (the
// instance ends at Done with the worker's variables), throws a BPMN error (the error boundary ends it
// at Cancelled), or fails it without retries (an incident with the worker's message). The API refuses
// a worker that does not hold the lock, an unknown task, a caller without externaltasks.work and a
// request without topics, each as problem details.
func TestExternalTaskREST(t *testing.T) {
	ctx := context.Background()
	xml, err := os.ReadFile("testdata/order-payment.bpmn")
	if err != nil {
		t.Fatal(err)
	}
	deployAndPublish(t, xml, "order-payment")
	_, integration := newUser(t, "worker.ext@example.test", []string{access.RoleIntegration}, nil)
	_, viewer := newUser(t, "viewer.ext@example.test", []string{access.RoleViewer}, nil)

	t.Run("completed by the script", func(t *testing.T) {
		id := startPayment(t, "SO-100", 12.5)
		task := runPythonWorker(t, integration, "charge-card", "complete")
		vars, _ := task["variables"].(map[string]any)
		if task["element"] != "Charge" || task["processKey"] != "order-payment" || vars["cents"] != 1250.0 || vars["currency"] != "EUR" || vars["orderId"] != "SO-100" {
			t.Fatalf("the worker got %v, want the Charge task with its inputs over the process variables", task)
		}
		if h, _ := task["headers"].(map[string]any); h["provider"] != "acme-pay" {
			t.Fatalf("headers = %v", task["headers"])
		}
		v := waitInstance(t, id, func(v instanceView) bool { return v.Status != "running" && v.Status != "waiting" })
		if v.Status != "completed" || v.EndElement != "Done" || v.Variables["receipt"] != "R-SO-100" || v.Variables["paid"] != true {
			t.Fatalf("instance = %+v, want completed at Done with the worker's variables", v)
		}
	})

	t.Run("BPMN error caught by the boundary", func(t *testing.T) {
		id := startPayment(t, "SO-101", 99)
		runPythonWorker(t, integration, "charge-card", "error")
		v := waitInstance(t, id, func(v instanceView) bool { return v.Status != "running" && v.Status != "waiting" })
		if v.Status != "completed" || v.EndElement != "Cancelled" {
			t.Fatalf("instance = %+v, want completed at Cancelled", v)
		}
	})

	t.Run("failure without retries is an incident", func(t *testing.T) {
		id := startPayment(t, "SO-102", 5)
		runPythonWorker(t, integration, "charge-card", "fail")
		v := waitInstance(t, id, func(v instanceView) bool { return len(v.Incidents) > 0 })
		if v.Incidents[0].Element != "Charge" || !strings.Contains(v.Incidents[0].Message, "payment provider unreachable") {
			t.Fatalf("incidents = %+v", v.Incidents)
		}
	})

	t.Run("locks", func(t *testing.T) {
		startPayment(t, "SO-103", 1)
		fetch := map[string]any{"workerId": "w1", "maxTasks": 5, "topics": []map[string]any{{"type": "charge-card", "lockDuration": 60000}}}
		var tasks []map[string]any
		for deadline := time.Now().Add(30 * time.Second); len(tasks) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/external-tasks/fetchAndLock", integration, fetch)
			if status != http.StatusOK {
				t.Fatalf("fetch = %d %s", status, body)
			}
			json.Unmarshal(body, &tasks)
		}
		if len(tasks) != 1 {
			t.Fatalf("fetched %v, want the one open task", tasks)
		}
		id, _ := tasks[0]["id"].(string)
		fetch2 := map[string]any{"workerId": "w2", "topics": []map[string]any{{"type": "charge-card", "lockDuration": 60000}}}
		steps := []struct {
			name   string
			token  string
			path   string
			body   any
			status int
			want   string
			// after runs once the step passed.
			after func()
		}{
			{name: "locked: another fetch gets nothing", token: integration, path: "fetchAndLock", body: fetch2, status: http.StatusOK, want: "[]"},
			{name: "another worker completes", token: integration, path: id + "/complete", body: map[string]any{"workerId": "w2"}, status: http.StatusConflict, want: "external-task-not-locked"},
			{name: "unknown task", token: integration, path: "0123456789abcdef0123456789abcdef/complete", body: map[string]any{"workerId": "w1"}, status: http.StatusNotFound, want: "external-task-not-found"},
			{name: "without the permission", token: viewer, path: "fetchAndLock", body: fetch, status: http.StatusForbidden},
			{name: "without topics", token: integration, path: "fetchAndLock", body: map[string]any{"workerId": "w1", "topics": []any{}}, status: http.StatusUnprocessableEntity, want: `"pointer":"/topics"`},
			{name: "a lock too short", token: integration, path: id + "/extendLock", body: map[string]any{"workerId": "w1", "newDuration": 5}, status: http.StatusUnprocessableEntity, want: `"pointer":"/newDuration"`},
			{name: "the lock moved to a second from now", token: integration, path: id + "/extendLock", body: map[string]any{"workerId": "w1", "newDuration": 1000}, status: http.StatusNoContent,
				after: func() { time.Sleep(1500 * time.Millisecond) }},
			{name: "expired: another worker fetches it", token: integration, path: "fetchAndLock", body: fetch2, status: http.StatusOK, want: id},
			{name: "the first worker lost it", token: integration, path: id + "/complete", body: map[string]any{"workerId": "w1"}, status: http.StatusConflict, want: "external-task-not-locked"},
			{name: "the second extends", token: integration, path: id + "/extendLock", body: map[string]any{"workerId": "w2", "newDuration": 3600000}, status: http.StatusNoContent},
			{name: "and fails with retries left", token: integration, path: id + "/failure",
				body: map[string]any{"workerId": "w2", "errorMessage": "provider busy", "retries": 2, "retryTimeout": 1000}, status: http.StatusNoContent},
			{name: "not offered during the retry timeout", token: integration, path: "fetchAndLock", body: fetch, status: http.StatusOK, want: "[]",
				after: func() { time.Sleep(1500 * time.Millisecond) }},
			{name: "offered again after it, with the failure", token: integration, path: "fetchAndLock", body: fetch, status: http.StatusOK, want: `"errorMessage":"provider busy"`},
			{name: "and completed", token: integration, path: id + "/complete", body: map[string]any{"workerId": "w1", "variables": map[string]any{"paid": false}}, status: http.StatusNoContent},
			{name: "complete twice", token: integration, path: id + "/complete", body: map[string]any{"workerId": "w1"}, status: http.StatusNotFound, want: "external-task-not-found"},
		}
		for _, c := range steps {
			status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/external-tasks/"+c.path, c.token, c.body)
			if status != c.status || !strings.Contains(string(body), c.want) {
				t.Fatalf("%s: %d %s, want %d with %q", c.name, status, body, c.status, c.want)
			}
			if c.after != nil {
				c.after()
			}
		}
	})
}

// TestExternalTaskTemporalWorker implements an external task with a Temporal SDK worker on its own
// task queue (the task's taskQueue header): the activity gets the task, its result lands in the
// output mapping, and an application error of type BpmnError is caught by the boundary.
func TestExternalTaskTemporalWorker(t *testing.T) {
	doc := camundaDoc(`<bpmn:error id="Err" errorCode="NO_ADDRESS"/>
<bpmn:process id="send-invoice" isExecutable="true">
  <bpmn:startEvent id="S"/>
  <bpmn:serviceTask id="Send"><bpmn:extensionElements><zeebe:taskDefinition type="invoice.send" retries="1"/>
    <zeebe:taskHeaders><zeebe:header key="taskQueue" value="invoices-go"/></zeebe:taskHeaders>
    <zeebe:ioMapping><zeebe:input source="=&quot;INV-&quot; + orderId" target="number"/><zeebe:output source="=result.sentTo" target="sentTo"/></zeebe:ioMapping>
  </bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:boundaryEvent id="NoAddress" attachedToRef="Send"><bpmn:errorEventDefinition errorRef="Err"/></bpmn:boundaryEvent>
  <bpmn:endEvent id="Sent"/><bpmn:endEvent id="Unsent"/>
  <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Send"/><bpmn:sequenceFlow id="F2" sourceRef="Send" targetRef="Sent"/>
  <bpmn:sequenceFlow id="F3" sourceRef="NoAddress" targetRef="Unsent"/>
</bpmn:process>`)
	deployAndPublish(t, doc, "send-invoice")
	w := worker.New(env.Temporal, "invoices-go", worker.Options{})
	w.RegisterActivityWithOptions(func(ctx context.Context, task process.ExternalTask) (map[string]any, error) {
		if task.Variables["orderId"] == "SO-NONE" {
			return nil, temporal.NewNonRetryableApplicationError("no billing address", process.ErrorTypeBPMN, nil, "NO_ADDRESS")
		}
		return map[string]any{"sentTo": "billing@" + task.BusinessKey + ".example", "number": task.Variables["number"]}, nil
	}, activity.RegisterOptions{Name: "invoice.send"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, c := range []struct{ order, end, sentTo string }{{"SO-200", "Sent", "billing@SO-200.example"}, {"SO-NONE", "Unsent", ""}} {
		status, body, _ := env.Do(context.Background(), http.MethodPost, "/api/v1/processes/send-invoice/instances", env.AdminToken,
			map[string]any{"businessKey": c.order, "variables": map[string]any{"orderId": c.order}})
		if status != http.StatusCreated {
			t.Fatalf("start: %d %s", status, body)
		}
		var started struct{ ID string }
		json.Unmarshal(body, &started)
		v := waitInstance(t, started.ID, func(v instanceView) bool { return v.Status == "completed" || len(v.Incidents) > 0 })
		got, _ := v.Variables["sentTo"].(string)
		if v.Status != "completed" || v.EndElement != c.end || got != c.sentTo {
			t.Fatalf("%s: instance = %+v, want completed at %s with sentTo %q", c.order, v, c.end, c.sentTo)
		}
		if _, leaked := v.Variables["number"]; leaked {
			t.Fatalf("%s: the task maps its outputs, yet the result's other variables landed: %v", c.order, v.Variables)
		}
	}
}
