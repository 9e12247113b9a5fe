package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/rapportcrm/rapport/cmd/rapport/stack"
	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/workflows/process"
)

// qualifyBPMN starts on new leads whose company is QualifyCo and waits for a call: the "qualification"
// of the end-to-end benchmark.
const qualifyBPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Qualify" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="bench-qualify" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created" condition="=record.companyName == &quot;QualifyCo&quot;" /></bpmn:extensionElements><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Qualify"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=&quot;%s&quot;" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="E"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Task_Qualify" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Qualify" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>`

// waitBPMN is started through the API and waits at a user task.
const waitBPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Definitions_Wait" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="bench-wait" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Wait"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=&quot;%s&quot;" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="E"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Task_Wait" /><bpmn:sequenceFlow id="F2" sourceRef="Task_Wait" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>`

// benchStack starts a stack of its own for the benchmark; configure, when given, changes its
// configuration first (e.g. installing the shipped process templates).
func benchStack(b *testing.B, configure ...func(*stack.Config)) *stacktest.Env {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := stacktest.Config(b.TempDir())
	for _, c := range configure {
		c(&cfg)
	}
	env, err := stacktest.StartWith(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(env.Stop)
	return env
}

func benchCall(b *testing.B, env *stacktest.Env, method, path string, body any, want int) []byte {
	b.Helper()
	status, raw, err := env.Do(context.Background(), method, path, env.AdminToken, body)
	if err != nil || status != want {
		b.Fatalf("%s %s: %d %v %s", method, path, status, err, raw)
	}
	return raw
}

func publishBench(b *testing.B, env *stacktest.Env, key, xml string) {
	b.Helper()
	benchCall(b, env, http.MethodPost, "/api/v1/processes", []byte(fmt.Sprintf(xml, adminID(b, env))), http.StatusCreated)
	benchCall(b, env, http.MethodPost, "/api/v1/processes/"+key+"/publish", nil, http.StatusCreated)
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger index at most every 2 s
}

// adminID is the user ID of the stack's administrator.
func adminID(b *testing.B, env *stacktest.Env) string {
	b.Helper()
	var me struct{ ID string }
	if err := json.Unmarshal(benchCall(b, env, http.MethodGet, "/api/v1/auth/me", nil, http.StatusOK), &me); err != nil || me.ID == "" {
		b.Fatalf("the administrator's ID: %v", err)
	}
	return me.ID
}

// BenchmarkLeadToQualification is lead ingest end to end: from POST /records/lead until the
// qualification instance the lead triggers has started (its first step ran: it waits at its user task),
// through the outbox and Temporal. "bare" is the same write of a lead the trigger does not match.
func BenchmarkLeadToQualification(b *testing.B) {
	env := benchStack(b)
	publishBench(b, env, "bench-qualify", qualifyBPMN)
	var seq atomic.Int64
	for _, bc := range []struct{ name, company string }{{"bare", "OtherCo"}, {"started", "QualifyCo"}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				raw := benchCall(b, env, http.MethodPost, "/api/v1/records/lead", map[string]any{"source": "webForm",
					"name": fmt.Sprintf("Ingested %d", seq.Add(1)), "companyName": bc.company, "status": "new"}, http.StatusCreated)
				if bc.company != "QualifyCo" {
					continue
				}
				var lead struct{ ID string }
				json.Unmarshal(raw, &lead)
				// The record start's instance ID (see workflows/triggers): element, entity, record, event, version.
				waitUserTask(b, env, process.InstanceID("bench-qualify", process.CauseRecord, "S:lead:"+lead.ID+":created:v1"))
			}
		})
	}
}

// waitUserTask polls the instance until it waits at its user task and returns that task's ID.
func waitUserTask(b *testing.B, env *stacktest.Env, id string) string {
	b.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		status, raw, err := env.Do(context.Background(), http.MethodGet, "/api/v1/instances/"+id, env.AdminToken, nil)
		if err != nil || status != http.StatusOK {
			continue
		}
		var snap struct {
			UserTasks []struct{ ID string } `json:"userTasks"`
		}
		if json.Unmarshal(raw, &snap) == nil && len(snap.UserTasks) == 1 {
			return id + "~" + snap.UserTasks[0].ID
		}
	}
	b.Fatalf("instance %s did not reach its user task within a minute", id)
	return ""
}

// BenchmarkWaitingInstances measures starting an instance through the API until it waits at its user
// task ("start"), and completing that task until the instance has completed ("complete"), on a server
// with no other instance ("empty") and with RAPPORT_BENCH_WAITING (default 10,000) instances waiting at
// their user tasks. Run it with a fixed -benchtime (Nx): each complete needs a started instance.
func BenchmarkWaitingInstances(b *testing.B) {
	env := benchStack(b)
	publishBench(b, env, "bench-wait", waitBPMN)
	waiting := 10000
	if v, err := strconv.Atoi(os.Getenv("RAPPORT_BENCH_WAITING")); err == nil && v > 0 {
		waiting = v
	}
	var tasks []string
	start := func(b *testing.B) {
		for b.Loop() {
			var st process.Started
			json.Unmarshal(benchCall(b, env, http.MethodPost, "/api/v1/processes/bench-wait/instances", map[string]any{}, http.StatusCreated), &st)
			tasks = append(tasks, waitUserTask(b, env, st.ID))
		}
	}
	complete := func(b *testing.B) {
		for b.Loop() {
			if len(tasks) == 0 {
				b.Fatal("no started instance left to complete; use a fixed -benchtime Nx")
			}
			task := tasks[0]
			tasks = tasks[1:]
			benchCall(b, env, http.MethodPost, "/api/v1/tasks/"+task+"/complete", map[string]any{}, http.StatusNoContent)
			instance, _, _ := strings.Cut(task, "~")
			waitCompleted(b, env, instance)
		}
	}
	b.Run("start/empty", start)
	b.Run("complete/empty", complete)
	seedWaiting(b, env, waiting)
	b.Run(fmt.Sprintf("start/waiting=%d", waiting), start)
	b.Run(fmt.Sprintf("complete/waiting=%d", waiting), complete)
}

// waitCompleted polls Temporal until the instance has completed.
func waitCompleted(b *testing.B, env *stacktest.Env, id string) {
	b.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return
		}
	}
	b.Fatalf("instance %s did not complete within a minute", id)
}

// seedWaiting starts n instances of bench-wait through the starter (32 at a time) and waits until all
// of them wait at their user task: the starts return before the instances ran their first step, and on
// a busy machine the last started is not the last to arrive.
func seedWaiting(b *testing.B, env *stacktest.Env, n int) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				_, err := env.Stack.Starter.Start(ctx, process.StartRequest{Ref: process.Ref{Key: "bench-wait"}, Cause: process.CauseAPI, Once: "seed-" + strconv.FormatInt(i, 10)})
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d waiting instances failed to start", failed.Load(), n)
	}
	waitCount(b, "instances waiting at their user task", n, 30*time.Minute, func() (int64, error) {
		return countWorkflows(ctx, env, "RapportProcessKey = 'bench-wait' AND RapportActiveElements = 'Task_Wait' AND ExecutionStatus = 'Running'")
	})
}

// countWorkflows counts the instances matching a Temporal visibility query.
func countWorkflows(ctx context.Context, env *stacktest.Env, query string) (int64, error) {
	resp, err := env.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "rapport", Query: query})
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", query, err)
	}
	return resp.GetCount(), nil
}

// waitCount polls count every second until it reaches n, for at most within; a long wait prints its
// progress on stderr every minute (benchmark logs show only at the end).
func waitCount(b *testing.B, what string, n int, within time.Duration, count func() (int64, error)) {
	b.Helper()
	var got int64
	began, shown := time.Now(), time.Now()
	for deadline := began.Add(within); time.Now().Before(deadline); time.Sleep(time.Second) {
		c, err := count()
		if err == nil {
			if got = c; got >= int64(n) {
				return
			}
		}
		if time.Since(shown) >= time.Minute {
			shown = time.Now()
			fmt.Fprintf(os.Stderr, "%s: %d of %d %s after %v\n", b.Name(), got, n, what, time.Since(began).Round(time.Second))
		}
	}
	b.Fatalf("%d of %d %s after %v", got, n, what, within)
}

// BenchmarkRecordsGetPatch compares reading and patching one lead through the API (HTTP, authentication,
// access decision, validation, history for the patch) with the same read and update sent by the raw
// driver, among 1,000 leads stored as the API stores them. (Create and list against the driver are in
// admin/api; the same operations at 1k and at 50k records in admin/api's scale benchmark.)
func BenchmarkRecordsGetPatch(b *testing.B) {
	env := benchStack(b)
	ctx := context.Background()
	coll := env.DB.Collection("records_lead")
	const n = 1000
	ids := seedRecords(b, env, "lead", n, func(i int) bson.M {
		return bson.M{"source": "import", "name": fmt.Sprintf("Bench %d", i), "companyName": "BenchCo",
			"email": fmt.Sprintf("bench%d@bench.test", i), "status": "new", "owner": "bench"}
	})
	statuses := []string{"contacted", "qualified", "new"}
	b.Run("get/api", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			benchCall(b, env, http.MethodGet, "/api/v1/records/lead/"+ids[i%n], nil, http.StatusOK)
		}
	})
	b.Run("get/driver", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			var doc bson.M
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: ids[i%n]}}).Decode(&doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("patch/api", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			benchCall(b, env, http.MethodPatch, "/api/v1/records/lead/"+ids[i%n], map[string]any{"status": statuses[i%3]}, http.StatusOK)
		}
	})
	b.Run("patch/driver", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: ids[i%n]}}, bson.D{
				{Key: "$set", Value: bson.D{{Key: "status", Value: statuses[i%3]}, {Key: "updatedAt", Value: time.Now().UTC()}}},
				{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
			if err != nil || res.MatchedCount != 1 {
				b.Fatalf("update: %v (%d matched)", err, res.MatchedCount)
			}
		}
	})
}

// seedRecords stores n records of entity with the raw driver as the API stores them (ID, version,
// timestamps a minute apart from 1 January 2026, creator), their fields from fields(i), 1,000 per
// insert, and returns their IDs. Nothing is triggered: they stand for records imported before.
func seedRecords(b *testing.B, env *stacktest.Env, entity string, n int, fields func(i int) bson.M) []string {
	b.Helper()
	coll := env.DB.Collection("records_" + entity)
	ids := make([]string, 0, n)
	docs := make([]any, 0, min(n, 1000))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := uuid.NewString()
		at := base.Add(time.Duration(i) * time.Minute)
		doc := fields(i)
		doc["_id"], doc["version"], doc["createdAt"], doc["updatedAt"], doc["createdBy"] = id, int64(1), at, at, "bench"
		ids = append(ids, id)
		docs = append(docs, doc)
		if len(docs) == cap(docs) || i == n-1 {
			if _, err := coll.InsertMany(context.Background(), docs); err != nil {
				b.Fatalf("seed %s records: %v", entity, err)
			}
			docs = docs[:0]
		}
	}
	return ids
}
