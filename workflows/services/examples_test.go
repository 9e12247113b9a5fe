package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/workflows/process"
)

// examples are the example processes the repository ships; every one must validate against the
// built-in schemas. The first three run to their end below; admin/api's run to their end in the API
// tests (TestProcessLifecycle, TestServiceTasksEndToEnd).
var examples = []string{
	"../../engine/bpmn/testdata/lead-qualification.bpmn",
	"../../engine/bpmn/testdata/follow-up-reminders.bpmn",
	"../../engine/bpmn/testdata/complaint-handling.bpmn",
	"../../admin/api/testdata/approval.bpmn",
	"../../admin/api/testdata/service-tasks.bpmn",
}

// providedLater are the refusals of a deployment that looks up what the examples name before it
// exists: the rule sets TestExamplesRunToTheirEnd publishes. Any other problem fails
// TestExamplesValidate.
var providedLater = []string{`rule set "lead-scoring" does not exist`, `rule set "complaint-priority" does not exist`}

// TestExamplesValidate checks every example process against the built-in entity schemas, as deploying
// it would (before the rule sets it names exist).
func TestExamplesValidate(t *testing.T) {
	docs, _ := filepath.Glob("../../docs/*.bpmn")
	for _, f := range append(examples, docs...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = env.Stack.Processes.Check(raw)
			var ie *definitions.InvalidError
			if err != nil && !errors.As(err, &ie) {
				t.Fatalf("%s does not validate: %v", f, err)
			}
			for _, p := range problemsOf(ie) {
				if !slices.ContainsFunc(providedLater, func(s string) bool { return strings.Contains(p.Reason, s) }) {
					t.Errorf("%s: %s: %s", f, p.ElementID, p.Reason)
				}
			}
		})
	}
}

func problemsOf(ie *definitions.InvalidError) []bpmn.Problem {
	if ie == nil {
		return nil
	}
	return ie.Problems
}

// step drives an instance at a time after its start: complete a user task or send a message.
type step struct {
	at      time.Duration
	task    string
	vars    map[string]any
	message string
	key     string
}

// TestExamplesRunToTheirEnd runs each shipped example, published through the API, to its end event
// with the real task handlers of the stack (records, rule sets, Task records, notifications, http, and
// the run-as guard) on the embedded FerretDB, in Temporal's test environment so that hours and days of
// timers pass at once.
func TestExamplesRunToTheirEnd(t *testing.T) {
	ctx := context.Background()
	admin := me(t)
	mail := newMailServer(t)

	// Rule sets the examples evaluate (complaint-handling pins version 2 of its rule set).
	putRuleset(t, map[string]any{"key": "lead-scoring", "kind": "scoring", "entity": "lead",
		"rules": []any{map[string]any{"name": "partner", "when": `source == "partner"`, "points": 60}},
		"tests": []any{map[string]any{"name": "partner", "input": map[string]any{"source": "partner"}, "expect": map[string]any{"score": 60}}}})
	priority := func(urgent []any) map[string]any {
		return map[string]any{"key": "complaint-priority", "kind": "decision", "entity": "complaint", "default": "normal",
			"rules": []any{map[string]any{"name": "urgent", "when": "severity in " + mustJSON(urgent), "outcome": "urgent"}},
			"tests": []any{map[string]any{"name": "critical", "input": map[string]any{"severity": "critical"}, "expect": map[string]any{"outcome": "urgent"}}}}
	}
	putRuleset(t, priority([]any{"critical"}))
	putRuleset(t, priority([]any{"high", "critical"}))

	// Records the instances work on, written before the examples are published so that record
	// triggers do not start instances of their own on the running stack.
	partnerLead := createRecord(t, "lead", map[string]any{"source": "partner", "name": "Partner Lead", "status": "new"})
	webLead := createRecord(t, "lead", map[string]any{"source": "webForm", "name": "Web Lead", "status": "new"})
	customer := createRecord(t, "contact", map[string]any{"firstName": "Carla", "lastName": "Customer", "loyaltyStage": "customer"})
	complaint := func() map[string]any {
		return createRecord(t, "complaint", map[string]any{"channel": "email", "subject": "Broken delivery", "severity": "high",
			"status": "new", "contact": customer["id"]})
	}
	resolved, withdrawn := complaint(), complaint()

	for _, f := range examples[:3] {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimSuffix(filepath.Base(f), ".bpmn")
		if status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes", env.AdminToken, raw); status != http.StatusCreated {
			t.Fatalf("deploy %s: %d %s", key, status, body)
		}
		if status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/processes/"+key+"/publish", env.AdminToken, nil); status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", key, status, body)
		}
	}

	tests := []struct {
		name  string
		start process.StartRequest
		// later starts the instance that far in the future (the follow-up process looks back 90 days).
		later time.Duration
		steps []step
		end   string
		check func(t *testing.T, res process.Result)
	}{
		{"a partner lead is qualified", process.StartRequest{Ref: process.Ref{Key: "lead-qualification"}, Cause: process.CauseRecord,
			StartElement: "StartEvent_LeadCreated", Entity: "lead", RecordID: partnerLead["id"].(string), Variables: map[string]any{"record": partnerLead}}, 0,
			[]step{{at: time.Hour, task: "Task_CallLead", vars: map[string]any{"outcome": "qualified"}}}, "EndEvent_Qualified",
			func(t *testing.T, res process.Result) {
				if rec := getRecord(t, "lead", partnerLead["id"]); rec["status"] != "qualified" {
					t.Errorf("lead status %v", rec["status"])
				}
				checkHistoryNamesPrincipal(t, "lead", partnerLead["id"], "process:lead-qualification@1")
			}},
		{"a web lead is disqualified", process.StartRequest{Ref: process.Ref{Key: "lead-qualification"}, Cause: process.CauseRecord,
			StartElement: "StartEvent_LeadCreated", Entity: "lead", RecordID: webLead["id"].(string), Variables: map[string]any{"record": webLead}}, 0,
			nil, "EndEvent_Unqualified",
			func(t *testing.T, res process.Result) {
				if rec := getRecord(t, "lead", webLead["id"]); rec["status"] != "disqualified" {
					t.Errorf("lead status %v", rec["status"])
				}
			}},
		{"a complaint is escalated, resolved and the customer satisfied", process.StartRequest{Ref: process.Ref{Key: "complaint-handling"}, Cause: process.CauseAPI,
			Variables: map[string]any{"complaintId": resolved["id"], "customerId": customer["id"], "ownerId": admin}}, 0,
			[]step{
				{at: 49 * time.Hour, task: "Task_Escalate"},
				{at: 50 * time.Hour, task: "Task_Investigate", vars: map[string]any{"resolution": "Refund issued"}},
				{at: 51 * time.Hour, message: "customer-reply", key: resolved["id"].(string)},
				{at: 52 * time.Hour, task: "Task_SatisfactionCheck", vars: map[string]any{"satisfied": true}},
			}, "EndEvent_Resolved",
			func(t *testing.T, res process.Result) {
				p, _ := res.Variables["priority"].(map[string]any)
				if res.Variables["escalations"] != float64(1) || p["outcome"] != "urgent" {
					t.Errorf("escalations %v, priority %v", res.Variables["escalations"], res.Variables["priority"])
				}
				if got := mail.bodies(); len(got) != 1 || !strings.Contains(got[0], "Refund issued") {
					t.Errorf("mails sent: %q", got)
				}
			}},
		{"a complaint is withdrawn", process.StartRequest{Ref: process.Ref{Key: "complaint-handling"}, Cause: process.CauseAPI,
			Variables: map[string]any{"complaintId": withdrawn["id"], "customerId": customer["id"], "ownerId": admin}}, 0,
			[]step{{at: time.Hour, message: "complaint-withdrawn", key: withdrawn["id"].(string)}}, "EndEvent_Withdrawn",
			func(t *testing.T, res process.Result) {
				if rec := getRecord(t, "complaint", withdrawn["id"]); rec["status"] != "closed" {
					t.Errorf("complaint status %v", rec["status"])
				}
			}},
		{"contacts not touched for a quarter get call tasks", process.StartRequest{Ref: process.Ref{Key: "follow-up-reminders"}, Cause: process.CauseTimer,
			Once: "StartEvent_Weekdays", StartElement: "StartEvent_Weekdays"}, 100 * 24 * time.Hour, nil, "EndEvent_Done",
			func(t *testing.T, res process.Result) {
				var page struct{ Items []map[string]any }
				q := url.Values{"filter": {`relatedId == "` + customer["id"].(string) + `"`}}
				if status, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/records/task?"+q.Encode(), env.AdminToken, nil); status != http.StatusOK {
					t.Fatalf("list tasks: %d %s", status, body)
				} else {
					json.Unmarshal(body, &page)
				}
				if len(page.Items) == 0 || page.Items[0]["title"] != "Call Carla Customer" || page.Items[0]["assignee"] != admin || page.Items[0]["kind"] != "call" {
					t.Errorf("call tasks for the customer: %+v", page.Items)
				}
				_, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/notifications", env.AdminToken, nil)
				if !strings.Contains(string(body), "daily-follow-up-summary") {
					t.Errorf("the owner got no summary: %s", body)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model, version, err := env.Stack.Processes.Load(ctx, tt.start.Ref.Key, 0)
			if err != nil {
				t.Fatal(err)
			}
			tt.start.Ref.Version = version
			prepared, err := process.Prepare(model, version, tt.start)
			if err != nil {
				t.Fatal(err)
			}
			var suite testsuite.WorkflowTestSuite
			tenv := suite.NewTestWorkflowEnvironment()
			tenv.SetWorkerOptions(worker.Options{Interceptors: env.Stack.WorkerInterceptors()})
			if tt.later > 0 {
				tenv.SetStartTime(time.Now().Add(tt.later))
			}
			reg := env.Stack.TaskRegistry()
			reg.Register("http", process.HTTPHandler{Client: mail.client})
			process.Register(tenv, &process.Activities{Registry: reg, Store: env.Stack.Processes})
			tenv.SetTestTimeout(2 * time.Minute)
			for _, s := range tt.steps {
				tenv.RegisterDelayedCallback(func() { drive(t, tenv, admin, s) }, s.at)
			}
			tenv.ExecuteWorkflow(process.WorkflowName, prepared.Input)
			if err := tenv.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res process.Result
			if err := tenv.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			if res.State != process.StateCompleted || res.EndElement != tt.end {
				var snap process.Snapshot
				if v, err := tenv.QueryWorkflow(process.QueryState); err == nil {
					v.Get(&snap)
				}
				t.Fatalf("ended %s at %s, want completed at %s; incidents %+v", res.State, res.EndElement, tt.end, snap.Incidents)
			}
			tt.check(t, res)
		})
	}
}

// drive completes a user task (as by) or delivers a message.
func drive(t *testing.T, tenv *testsuite.TestWorkflowEnvironment, by string, s step) {
	if s.message != "" {
		tenv.SignalWorkflow(process.SignalMessage, process.MessageRequest{Name: s.message, CorrelationKey: s.key})
		return
	}
	v, err := tenv.QueryWorkflow(process.QueryUserTasks)
	if err != nil {
		t.Errorf("query user tasks: %v", err)
		return
	}
	var tasks []process.UserTask
	v.Get(&tasks)
	for _, u := range tasks {
		if u.Element == s.task {
			tenv.UpdateWorkflow(process.UpdateCompleteTask, s.task, &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("completing %s was refused: %v", s.task, err) },
				OnAccept: func() {}, OnComplete: func(any, error) {},
			}, process.CompleteTaskRequest{TaskID: u.ID, Variables: s.vars, By: by})
			return
		}
	}
	t.Errorf("no open user task %s (open: %+v)", s.task, tasks)
}

func me(t *testing.T) string {
	t.Helper()
	var u struct{ ID string }
	_, body, _ := env.Do(context.Background(), http.MethodGet, "/api/v1/auth/me", env.AdminToken, nil)
	if err := json.Unmarshal(body, &u); err != nil || u.ID == "" {
		t.Fatalf("me: %s", body)
	}
	return u.ID
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// putRuleset creates a rule set (or replaces its draft) and publishes it.
func putRuleset(t *testing.T, rs map[string]any) {
	t.Helper()
	ctx := context.Background()
	key := rs["key"].(string)
	status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/rulesets", env.AdminToken, rs)
	if status == http.StatusConflict {
		status, body, _ = env.Do(ctx, http.MethodPut, "/api/v1/rulesets/"+key, env.AdminToken, rs)
	}
	if status >= 300 {
		t.Fatalf("save rule set %s: %d %s", key, status, body)
	}
	if status, body, _ := env.Do(ctx, http.MethodPost, "/api/v1/rulesets/"+key+"/publish", env.AdminToken, nil); status != http.StatusCreated {
		t.Fatalf("publish rule set %s: %d %s", key, status, body)
	}
}

func createRecord(t *testing.T, entity string, fields map[string]any) map[string]any {
	t.Helper()
	status, body, _ := env.Do(context.Background(), http.MethodPost, "/api/v1/records/"+entity, env.AdminToken, fields)
	if status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", entity, status, body)
	}
	var rec map[string]any
	json.Unmarshal(body, &rec)
	return rec
}

func getRecord(t *testing.T, entity string, id any) map[string]any {
	t.Helper()
	var rec map[string]any
	_, body, _ := env.Do(context.Background(), http.MethodGet, "/api/v1/records/"+entity+"/"+id.(string), env.AdminToken, nil)
	json.Unmarshal(body, &rec)
	return rec
}

// checkHistoryNamesPrincipal checks that the record's latest change names the process's principal.
func checkHistoryNamesPrincipal(t *testing.T, entity string, id any, principal string) {
	t.Helper()
	var hist struct {
		Items []struct {
			Actor struct{ RunAs, Process, Via string }
		}
	}
	_, body, _ := env.Do(context.Background(), http.MethodGet, "/api/v1/records/"+entity+"/"+id.(string)+"/history", env.AdminToken, nil)
	json.Unmarshal(body, &hist)
	if len(hist.Items) == 0 || hist.Items[0].Actor.RunAs != principal || hist.Items[0].Actor.Via != "process" {
		t.Errorf("history of %s %v does not name %s: %s", entity, id, principal, body)
	}
}

// mailServer stands in for the mail gateway complaint-handling posts resolutions to
// (https://mail.example.com/send): the real http task handler reaches it through a client that
// dials it for any host.
type mailServer struct {
	client *http.Client
	mu     sync.Mutex
	got    []string
}

func newMailServer(t *testing.T) *mailServer {
	m := &mailServer{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.got = append(m.got, string(b))
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"queued": true}`))
	}))
	t.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com"
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	m.client = &http.Client{Transport: tr}
	return m
}

func (m *mailServer) bodies() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got...)
}
