package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/workflows"
	"github.com/rapportcrm/rapport/workflows/devserver"
	"github.com/rapportcrm/rapport/workflows/process"
)

var record = flag.Bool("record", false, "write the scenario histories to workflows/testdata for the replay test")

const namespace = "e2e"

// stack is an embedded server with a client and a restartable worker.
type stack struct {
	srv   *devserver.Server
	c     client.Client
	w     worker.Worker
	acts  *process.Activities
	inbox *memInbox
	mu    sync.Mutex
	fails map[string]int
}

// start runs the embedded server, dials it and starts a worker with the given handlers.
func (s *stack) start(t testing.TB, reg *process.Registry, store process.DefinitionStore) {
	t.Helper()
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Config{Namespace: namespace, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: namespace, Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s.inbox = newMemInbox()
	s.srv, s.c, s.acts = srv, c, &process.Activities{Registry: reg, Store: store, Inbox: s.inbox}
	s.startWorker(t)
	t.Cleanup(func() { s.w.Stop() })
}

func (s *stack) startWorker(t testing.TB) {
	t.Helper()
	s.w = worker.New(s.c, workflows.TaskQueue, worker.Options{})
	process.Register(s.w, s.acts)
	s.w.RegisterWorkflow(Handwritten)
	s.w.RegisterWorkflow(HandwrittenWaiting)
	s.w.RegisterActivity(Noop)
	if err := s.w.Start(); err != nil {
		t.Fatal(err)
	}
}

// restartWorker stops the worker and starts a fresh one, so the instance continues from history
// (no sticky cache), as after a deployment.
func (s *stack) restartWorker(t testing.TB) {
	s.w.Stop()
	s.startWorker(t)
}

func parse(t testing.TB, xml []byte, id string) *bpmn.Model {
	t.Helper()
	defs, err := bpmn.ParseBytes(xml)
	if err != nil {
		t.Fatal(err)
	}
	m, problems := bpmn.Compile(defs, id)
	if len(problems) > 0 {
		t.Fatalf("compile %s: %v", id, problems)
	}
	return m
}

func testdata(t testing.TB, file, id string) *bpmn.Model {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "engine", "bpmn", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, data, id)
}

// doubles are the task handlers of the scenarios: rules score every lead 80 and rate complaints
// "high", the http task's mail server is down, "notify" fails while s.fails says so, "record.get"
// throws a NOT_FOUND BPMN error while s.fails says so, the rest echo.
func (s *stack) doubles() *process.Registry {
	reg := process.NewRegistry()
	echo := process.TaskHandlerFunc(func(_ context.Context, req process.TaskRequest) (map[string]any, error) {
		return req.Inputs, nil
	})
	for _, typ := range bpmn.BuiltinTaskTypes() {
		reg.Register(typ, echo)
	}
	reg.Register(process.TypeRulesEvaluate, process.TaskHandlerFunc(func(_ context.Context, req process.TaskRequest) (map[string]any, error) {
		return map[string]any{"score": 80, "result": "high"}, nil
	}))
	reg.Register("http", process.TaskHandlerFunc(func(context.Context, process.TaskRequest) (map[string]any, error) {
		return nil, &process.BPMNError{Code: "MAIL_FAILED", Message: "mail server down"}
	}))
	reg.Register("record.get", process.TaskHandlerFunc(func(_ context.Context, req process.TaskRequest) (map[string]any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fails[req.Element] > 0 {
			s.fails[req.Element]--
			return nil, &process.BPMNError{Code: "NOT_FOUND", Message: fmt.Sprintf("%s %v not found", req.Headers["entity"], req.Inputs["id"])}
		}
		return req.Inputs, nil
	}))
	reg.Register("notify", process.TaskHandlerFunc(func(_ context.Context, req process.TaskRequest) (map[string]any, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fails[req.Element] > 0 {
			s.fails[req.Element]--
			return nil, errors.New("notification service unavailable")
		}
		return map[string]any{"sent": true}, nil
	}))
	return reg
}

type scenario struct {
	name  string
	in    process.Input
	drive func(t *testing.T, s *stack, id string)
	end   string
	// allRuns records every run of an instance that continues as new (<name>@2.json, ...), not only
	// the first.
	allRuns bool
	// vars are result variables the instance must end with (compared as printed).
	vars map[string]string
}

func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	store := memStore{}
	s := &stack{fails: map[string]int{}}
	s.start(t, s.doubles(), store)

	child := parse(t, []byte(doc("approval", `
    <bpmn:startEvent id="Start"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="G" default="FOk"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FNo</bpmn:outgoing><bpmn:outgoing>FOk</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="Approved"><bpmn:incoming>FOk</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Rejected"><bpmn:incoming>FNo</bpmn:incoming><bpmn:errorEventDefinition errorRef="Err" /></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="G" />
    <bpmn:sequenceFlow id="FNo" sourceRef="G" targetRef="Rejected"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt; 1000</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="FOk" sourceRef="G" targetRef="Approved" />`,
		`<bpmn:error id="Err" name="Rejected" errorCode="REJECTED" />`)), "approval")
	store["approval"] = child
	parent := parse(t, []byte(doc("order", `
    <bpmn:startEvent id="Start"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>FA</bpmn:outgoing><bpmn:outgoing>FB</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:callActivity id="Approve"><bpmn:extensionElements><zeebe:calledElement processId="approval" propagateAllChildVariables="false" /></bpmn:extensionElements><bpmn:incoming>FA</bpmn:incoming><bpmn:outgoing>FA2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:boundaryEvent id="Rejected" attachedToRef="Approve"><bpmn:outgoing>FR</bpmn:outgoing><bpmn:errorEventDefinition errorRef="Err" /></bpmn:boundaryEvent>
    <bpmn:intermediateCatchEvent id="Pause"><bpmn:incoming>FB</bpmn:incoming><bpmn:outgoing>FB2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>FA2</bpmn:incoming><bpmn:incoming>FB2</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:serviceTask id="Confirm"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /><rapport:retryPolicy initialInterval="PT0.1S" backoffCoefficient="1" maximumInterval="PT1S" maximumAttempts="2" /></bpmn:extensionElements><bpmn:incoming>F9</bpmn:incoming><bpmn:outgoing>F10</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="Done"><bpmn:incoming>F10</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Refused"><bpmn:incoming>FR</bpmn:incoming><bpmn:terminateEventDefinition /></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Fork" />
    <bpmn:sequenceFlow id="FA" sourceRef="Fork" targetRef="Approve" />
    <bpmn:sequenceFlow id="FB" sourceRef="Fork" targetRef="Pause" />
    <bpmn:sequenceFlow id="FA2" sourceRef="Approve" targetRef="Join" />
    <bpmn:sequenceFlow id="FB2" sourceRef="Pause" targetRef="Join" />
    <bpmn:sequenceFlow id="F9" sourceRef="Join" targetRef="Confirm" />
    <bpmn:sequenceFlow id="F10" sourceRef="Confirm" targetRef="Done" />
    <bpmn:sequenceFlow id="FR" sourceRef="Rejected" targetRef="Refused" />`,
		`<bpmn:error id="Err" name="Rejected" errorCode="REJECTED" />`)), "order")

	ticker := parse(t, []byte(doc("ticker", `
    <bpmn:startEvent id="Start"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Approve"><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:userTask>
    <bpmn:intermediateCatchEvent id="Tick"><bpmn:incoming>F1</bpmn:incoming><bpmn:incoming>FBack</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing><bpmn:timerEventDefinition><bpmn:timeDuration>PT0.2S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="Count"><bpmn:extensionElements><rapport:assign target="amount" expression="=amount + 1" /></bpmn:extensionElements><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="More" default="FBack"><bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>FOut</bpmn:outgoing><bpmn:outgoing>FBack</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="Done"><bpmn:incoming>FOut</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Approve" />
    <bpmn:sequenceFlow id="F1" sourceRef="Approve" targetRef="Tick" />
    <bpmn:sequenceFlow id="F2" sourceRef="Tick" targetRef="Count" />
    <bpmn:sequenceFlow id="F3" sourceRef="Count" targetRef="More" />
    <bpmn:sequenceFlow id="FOut" sourceRef="More" targetRef="Done"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt;= 6</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="FBack" sourceRef="More" targetRef="Tick" />`, "")), "ticker")

	scenarios := []scenario{
		{"lead-qualification", process.Input{Model: testdata(t, "lead-qualification.bpmn", "lead-qualification"),
			Ref: process.Ref{Key: "lead-qualification", Version: 1}, BusinessKey: "L1", Entity: "lead", RecordID: "L1",
			Variables: map[string]any{"record": map[string]any{"id": "L1", "owner": "ann", "source": "web"}}},
			func(t *testing.T, s *stack, id string) {
				task := waitTask(t, s, id, "Task_CallLead")
				checkSearchAttributes(t, s, id, "waiting", []string{"Task_CallLead"}, []string{"ann", "group:sales"})
				s.restartWorker(t) // the waiting instance survives a worker restart
				complete(t, s, id, process.CompleteTaskRequest{TaskID: task, Variables: map[string]any{"outcome": 7}}, false)
				complete(t, s, id, process.CompleteTaskRequest{TaskID: task, Variables: map[string]any{"outcome": "won"}}, true)
			}, "EndEvent_Qualified", false, nil},
		{"complaint-handling", process.Input{Model: testdata(t, "complaint-handling.bpmn", "complaint-handling"),
			Ref: process.Ref{Key: "complaint-handling", Version: 1}, BusinessKey: "C1",
			Variables: map[string]any{"complaintId": "C1", "customerId": "X", "ownerId": "bob"}},
			func(t *testing.T, s *stack, id string) {
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Task_Investigate"), Variables: map[string]any{"resolution": "refund"}}, true)
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Task_CallCustomer")}, true)
				waitActive(t, s, id, "Event_CustomerReply")
				if err := s.c.SignalWorkflow(context.Background(), id, "", process.SignalMessage, process.MessageRequest{Name: "customer-reply", CorrelationKey: "C1"}); err != nil {
					t.Fatal(err)
				}
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Task_SatisfactionCheck"), Variables: map[string]any{"satisfied": true}}, true)
			}, "EndEvent_Resolved", false, nil},
		{"complaint-withdrawn", process.Input{Model: testdata(t, "complaint-handling.bpmn", "complaint-handling"),
			Ref: process.Ref{Key: "complaint-handling", Version: 1}, BusinessKey: "C2",
			Variables: map[string]any{"complaintId": "C2", "customerId": "X", "ownerId": "bob"}},
			func(t *testing.T, s *stack, id string) {
				waitTask(t, s, id, "Task_Investigate")
				if err := s.c.SignalWorkflow(context.Background(), id, "", process.SignalMessage, process.MessageRequest{Name: "complaint-withdrawn", CorrelationKey: "C2"}); err != nil {
					t.Fatal(err)
				}
			}, "EndEvent_Withdrawn", false, nil},
		{"call-activity-incident-retry", process.Input{Model: parent, Variables: map[string]any{"amount": 10}},
			func(t *testing.T, s *stack, id string) {
				in := waitIncident(t, s, id)
				upd(t, s, id, process.UpdateRetryIncident, process.RetryRequest{IncidentID: in.ID}, true)
			}, "Done", false, nil},
		{"call-activity-error", process.Input{Model: parent, Variables: map[string]any{"amount": 5000}}, nil, "Refused", false, nil},
		{"continue-as-new", process.Input{Model: ticker, Variables: map[string]any{"amount": 0},
			Options: process.Options{ContinueAfterEvents: 12}},
			func(t *testing.T, s *stack, id string) {
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Approve")}, true)
			}, "Done", false, nil},
		{"continue-as-new-resume", process.Input{Model: ticker, Variables: map[string]any{"amount": 0},
			Options: process.Options{ContinueAfterEvents: 12}},
			func(t *testing.T, s *stack, id string) {
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Approve")}, true)
			}, "Done", true, nil},
	}
	// A Camunda job of a type Rapport does not run: an external task a worker on the external task
	// queue implements; its result variables land in the process.
	payment := parse(t, []byte(doc("payment", startEvent+`
    <bpmn:serviceTask id="Charge"><bpmn:extensionElements><zeebe:taskDefinition type="charge-card" retries="1" /><zeebe:ioMapping><zeebe:input source="=amount * 100" target="cents" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="Done"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Charge" />
    <bpmn:sequenceFlow id="F1" sourceRef="Charge" targetRef="Done" />`, "")), "payment")
	scenarios = append(scenarios, scenario{"external-task", process.Input{Model: payment, BusinessKey: "SO-1", Variables: map[string]any{"amount": 2.5}},
		func(t *testing.T, s *stack, id string) {
			w := worker.New(s.c, process.ExternalTaskQueue, worker.Options{})
			w.RegisterActivityWithOptions(func(_ context.Context, task process.ExternalTask) (map[string]any, error) {
				return map[string]any{"receipt": fmt.Sprintf("R-%s-%v", task.BusinessKey, task.Variables["cents"])}, nil
			}, activity.RegisterOptions{Name: "charge-card"})
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Stop)
		}, "Done", false, map[string]string{"receipt": "R-SO-1-250"}})
	// Behaviour level 4 (issue 19): the same call activity with an incident and the same ticker that
	// continues as new, now reporting their element runs through the element statistics activity.
	scenarios = append(scenarios,
		scenario{"element-stats-incident-retry", process.Input{Model: parent, Variables: map[string]any{"amount": 10}},
			func(t *testing.T, s *stack, id string) {
				in := waitIncident(t, s, id)
				upd(t, s, id, process.UpdateRetryIncident, process.RetryRequest{IncidentID: in.ID}, true)
			}, "Done", false, nil},
		scenario{"element-stats-continue-as-new", process.Input{Model: ticker, Variables: map[string]any{"amount": 0},
			Options: process.Options{ContinueAfterEvents: 12}},
			func(t *testing.T, s *stack, id string) {
				complete(t, s, id, process.CompleteTaskRequest{TaskID: waitTask(t, s, id, "Approve")}, true)
			}, "Done", true, nil})
	// Behaviour level 5: a record.get that throws NOT_FOUND, which nothing catches, waits at its task
	// with an incident; the retry runs the task again (the record exists now) and the instance ends at
	// its end event (before, it ended "completed" with no end element).
	lookup := parse(t, []byte(doc("lookup", startEvent+`
    <bpmn:serviceTask id="Lookup"><bpmn:extensionElements><zeebe:taskDefinition type="record.get" /><zeebe:taskHeaders><zeebe:header key="entity" value="lead" /></zeebe:taskHeaders><zeebe:ioMapping><zeebe:input source="=leadId" target="id" /><zeebe:output source="=result.id" target="found" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="Done"><bpmn:incoming>F1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Lookup" />
    <bpmn:sequenceFlow id="F1" sourceRef="Lookup" targetRef="Done" />`, "")), "lookup")
	scenarios = append(scenarios, scenario{"uncaught-error-retry", process.Input{Model: lookup, Variables: map[string]any{"leadId": "L7"}},
		func(t *testing.T, s *stack, id string) {
			in := waitIncident(t, s, id)
			if in.Kind != process.IncidentUnhandledError || in.Element != "Lookup" || !strings.Contains(in.Message, "lead L7 not found") {
				t.Fatalf("incident %+v, want the uncaught NOT_FOUND at Lookup", in)
			}
			if snap := state(t, s, id); len(snap.Tokens) != 1 || snap.Tokens[0].Element != "Lookup" {
				t.Fatalf("tokens %+v, want one waiting at Lookup", snap.Tokens)
			}
			upd(t, s, id, process.UpdateRetryIncident, process.RetryRequest{IncidentID: in.ID}, true)
		}, "Done", false, map[string]string{"found": "L7"}})
	scenarios = append(scenarios, elementScenarios(t, store)...)
	scenarios = append(scenarios, operationScenarios(t)...)
	scenarios = append(scenarios, inboxScenarios(t)...)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s.mu.Lock()
			s.fails["Confirm"] = 2 // the confirmation fails both attempts once: an incident to retry
			s.fails["Lookup"] = 1  // the lookup does not find its record once: an uncaught BPMN error
			s.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			id := "scenario-" + sc.name
			run, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue, TypedSearchAttributes: process.SearchAttributes(sc.in)}, process.WorkflowName, sc.in)
			if err != nil {
				t.Fatal(err)
			}
			first := run.GetRunID() // Get follows continue-as-new and moves the run id on
			if sc.drive != nil {
				sc.drive(t, s, id)
			}
			var res process.Result
			if err := run.Get(ctx, &res); err != nil {
				t.Fatalf("instance failed: %v", err)
			}
			if res.EndElement != sc.end {
				t.Fatalf("ended at %s, want %s", res.EndElement, sc.end)
			}
			for k, want := range sc.vars {
				if got := fmt.Sprint(res.Variables[k]); got != want {
					t.Errorf("variable %s = %s, want %s", k, got, want)
				}
			}
			if sc.in.Options.ContinueAfterEvents > 0 {
				d, err := s.c.DescribeWorkflow(ctx, id, "")
				if err != nil {
					t.Fatal(err)
				}
				if d.WorkflowExecution.RunID == first || res.Variables["amount"] != 6.0 {
					t.Fatalf("no continue-as-new (run %s) or lost state (%v)", d.WorkflowExecution.RunID, res.Variables)
				}
			}
			if *record {
				recordRuns(t, s.c, id, first, sc.name, sc.allRuns)
			}
		})
	}
}

// checkSearchAttributes polls until the instance's search attributes show the given state, active
// elements and assignees (visibility is updated asynchronously).
func checkSearchAttributes(t *testing.T, s *stack, id, state string, active, assignees []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := s.c.DescribeWorkflow(context.Background(), id, "")
		if err != nil {
			t.Fatal(err)
		}
		sa := d.TypedSearchAttributes
		st, _ := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword("RapportState"))
		key, _ := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword("RapportProcessKey"))
		rec, _ := sa.GetKeyword(temporal.NewSearchAttributeKeyKeyword("RapportRecordID"))
		act, _ := sa.GetKeywordList(temporal.NewSearchAttributeKeyKeywordList("RapportActiveElements"))
		who, _ := sa.GetKeywordList(temporal.NewSearchAttributeKeyKeywordList("RapportAssignees"))
		if st == state && key != "" && rec != "" && slices.Equal(act, active) && slices.Equal(who, assignees) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("search attributes: state %q key %q record %q active %v assignees %v", st, key, rec, act, who)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recordRuns writes the history of an instance's first run (and, with all, of the runs it continued
// as new into: <name>@2.json, ...) and of the children they started to workflows/testdata. A file
// that exists is never overwritten: recorded histories are not re-recorded.
func recordRuns(t *testing.T, c client.Client, id, runID, name string, all bool) {
	t.Helper()
	for n := 1; runID != ""; n++ {
		file := name
		if n > 1 {
			file = fmt.Sprintf("%s@%d", name, n)
		}
		children, next := writeHistory(t, c, id, runID, file)
		for _, child := range children {
			writeHistory(t, c, child, "", strings.TrimPrefix(strings.ReplaceAll(child, "/", "~"), "scenario-"))
		}
		if !all {
			return
		}
		runID = next
	}
}

// writeHistory writes the history of one run to workflows/testdata/<name>.json unless that file
// exists, and returns the ids of the child workflows it started and the run it continued as new into.
// Children's files replace "/" in their ids by "~".
func writeHistory(t *testing.T, c client.Client, id, runID, name string) (children []string, next string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", name+".json")
	h := readHistory(t, c, id, runID)
	for _, ev := range h.Events {
		if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
			children = append(children, a.GetWorkflowId())
		}
		if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
			next = a.GetNewExecutionRunId()
		}
	}
	if _, err := os.Stat(path); err == nil {
		return children, next // recorded before: never re-recorded
	}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return children, next
}

// readHistory reads the history of one run (runID "": the latest).
func readHistory(t *testing.T, c client.Client, id, runID string) *historypb.History {
	t.Helper()
	iter := c.GetWorkflowHistory(context.Background(), id, runID, false, 0)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	return &h
}

func state(t *testing.T, s *stack, id string) process.Snapshot {
	t.Helper()
	v, err := s.c.QueryWorkflow(context.Background(), id, "", process.QueryState)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var snap process.Snapshot
	if err := v.Get(&snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

// poll re-queries the state until ok holds (the instance moves on its own between steps).
func poll(t *testing.T, s *stack, id string, what string, ok func(process.Snapshot) bool) process.Snapshot {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		snap := state(t, s, id)
		if ok(snap) {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; active %v incidents %v", what, snap.ActiveElements, snap.Incidents)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitTask(t *testing.T, s *stack, id, element string) string {
	var task string
	poll(t, s, id, "user task "+element, func(snap process.Snapshot) bool {
		for _, u := range snap.UserTasks {
			if u.Element == element {
				task = u.ID
				return true
			}
		}
		return false
	})
	return task
}

func waitActive(t *testing.T, s *stack, id, element string) {
	poll(t, s, id, element, func(snap process.Snapshot) bool {
		for _, sub := range snap.Subs {
			if sub.Kind == "message" && sub.Token != 0 {
				return true
			}
		}
		return false
	})
}

func waitIncident(t *testing.T, s *stack, id string) *process.Incident {
	snap := poll(t, s, id, "an incident", func(snap process.Snapshot) bool { return len(snap.Incidents) > 0 })
	return snap.Incidents[0]
}

func complete(t *testing.T, s *stack, id string, req process.CompleteTaskRequest, accept bool) {
	upd(t, s, id, process.UpdateCompleteTask, req, accept)
}

func upd(t *testing.T, s *stack, id, name string, arg any, accept bool) {
	t.Helper()
	h, err := s.c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(context.Background(), nil)
	}
	if accept && err != nil {
		t.Fatalf("%s refused: %v", name, err)
	}
	if !accept && err == nil {
		t.Fatalf("%s %v accepted, want refused", name, arg)
	}
}

type memStore map[string]*bpmn.Model

func (m memStore) Load(_ context.Context, key string, _ int) (*bpmn.Model, int, error) {
	if p, ok := m[key]; ok {
		return p, 1, nil
	}
	return nil, 0, fmt.Errorf("process %q not found", key)
}

// doc wraps process contents in a Camunda-Modeler-5-style definitions element.
func doc(id, body, roots string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_` + id + `" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.31.0" modeler:executionPlatform="Camunda Cloud">
  <bpmn:process id="` + id + `" isExecutable="true">
    <bpmn:extensionElements><rapport:variables><rapport:variable name="amount" type="float" /></rapport:variables></bpmn:extensionElements>
` + body + `
  </bpmn:process>
  ` + roots + `
</bpmn:definitions>`
}

// quiet keeps the SDK's log lines out of test output.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
