package chaos_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/rapportcrm/rapport/cmd/rapport/stack"
	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// testPlugin is the file-backed test connector: its ERP documents are the orders in orders.json, one
// per idempotency key; create_delay_ms makes it pause after storing an order, so a kill can land
// between the ERP's write and its answer.
const testPlugin = "github.com/rapportcrm/rapport/plugins/host/internal/testplugin"

var (
	enabled    = os.Getenv("RAPPORT_CHAOS") != ""
	rapportBin string
)

func TestMain(m *testing.M) {
	if !enabled {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "rapport-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rapportBin = filepath.Join(dir, "rapport")
	if out, err := exec.Command("go", "build", "-o", rapportBin, "github.com/rapportcrm/rapport/cmd/rapport").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build rapport: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// quietConfig is the test stack's configuration with its logs in a file of the test's directory (the
// faults make every part log errors, which would bury the counts).
func quietConfig(t *testing.T) stack.Config {
	cfg := stacktest.Config(t.TempDir())
	if os.Getenv("RAPPORT_TEST_LOG") == "" {
		f, err := os.Create(filepath.Join(cfg.DataDir, "rapport.log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cfg.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return cfg
}

func needChaos(t *testing.T) {
	t.Helper()
	if !enabled {
		t.Skip("chaos tests run with RAPPORT_CHAOS=1 (make test-chaos)")
	}
}

// Process elements the scenarios chain together.
func writeStep(id string) string {
	return fmt.Sprintf(`<bpmn:serviceTask id="%s" name="Note the lead">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="record.create" retries="30" />
        <zeebe:taskHeaders><zeebe:header key="entity" value="interaction" /></zeebe:taskHeaders>
        <zeebe:ioMapping>
          <zeebe:input source="=&quot;note&quot;" target="type" />
          <zeebe:input source="=record.createdAt" target="occurredAt" />
          <zeebe:input source="=record.id" target="summary" />
          <zeebe:input source="=record.id" target="lead" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>`, id)
}

func orderStep(id string) string {
	return fmt.Sprintf(`<bpmn:serviceTask id="%s" name="Order in the ERP">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="connector" retries="30" />
        <zeebe:taskHeaders>
          <zeebe:header key="connector" value="erp" />
          <zeebe:header key="operation" value="CreateSalesOrder" />
        </zeebe:taskHeaders>
        <zeebe:ioMapping>
          <zeebe:input source="=record.id" target="CustomerID" />
          <zeebe:input source="=record.id" target="Reference" />
          <zeebe:input source="=[{ProductCode: &quot;ONBOARDING&quot;, Quantity: &quot;1&quot;, UnitPrice: &quot;100&quot;}]" target="Lines" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>`, id)
}

// timerStep waits 2 s for a lead whose need is "fast" and long (a Go duration) for the others.
func timerStep(id, long string) string {
	return fmt.Sprintf(`<bpmn:intermediateCatchEvent id="%s" name="Wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>=record.need == "fast" ? duration("2s") : duration("%s")</bpmn:timeDuration></bpmn:timerEventDefinition>`, id, long)
}

func confirmStep(id, assignee string) string {
	return fmt.Sprintf(`<bpmn:userTask id="%s" name="Confirm">
      <bpmn:extensionElements><zeebe:assignmentDefinition assignee="=&quot;%s&quot;" /></bpmn:extensionElements>`, id, assignee)
}

// chain builds a record-triggered process (on new leads) running steps in sequence; each step is an
// element's opening tag and extension elements, closed here with its flows.
func chain(key string, steps ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Chaos" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="` + key + `" isExecutable="true">
    <bpmn:startEvent id="S0"><bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created" /></bpmn:extensionElements><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
`)
	prev := "S0"
	for i, st := range steps {
		id := st[strings.Index(st, `id="`)+4:]
		id = id[:strings.IndexByte(id, '"')]
		tag := st[1:strings.IndexAny(st, " >")]
		fmt.Fprintf(&b, "    %s\n      <bpmn:incoming>F%d</bpmn:incoming><bpmn:outgoing>F%d</bpmn:outgoing>\n    </%s>\n", st, i, i+1, tag)
		fmt.Fprintf(&b, "    <bpmn:sequenceFlow id=\"F%d\" sourceRef=\"%s\" targetRef=\"%s\" />\n", i, prev, id)
		prev = id
	}
	fmt.Fprintf(&b, "    <bpmn:endEvent id=\"E\"><bpmn:incoming>F%d</bpmn:incoming></bpmn:endEvent>\n", len(steps))
	fmt.Fprintf(&b, "    <bpmn:sequenceFlow id=\"F%d\" sourceRef=\"%s\" targetRef=\"E\" />\n  </bpmn:process>\n</bpmn:definitions>", len(steps), prev)
	return []byte(b.String())
}

// world is a running Rapport as the scenarios see it: its API, its Temporal, its database and the
// test ERP's directory.
type world struct {
	t        *testing.T
	base     string
	token    string
	http     *http.Client
	temporal client.Client
	db       *mongo.Database
	erpDir   string
}

func worldOf(t *testing.T, env *stacktest.Env, erpDir string) *world {
	return &world{t: t, base: env.BaseURL, token: env.AdminToken, http: &http.Client{Timeout: 60 * time.Second},
		temporal: env.Temporal, db: env.DB, erpDir: erpDir}
}

// call sends a request as the administrator and returns the status, body and time taken.
func (w *world) call(method, path string, body any) (int, []byte, time.Duration) {
	var r io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		r, ct = bytes.NewReader(b), "application/xml"
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, w.base+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", ct)
	}
	if w.token != "" {
		req.Header.Set("Authorization", "Bearer "+w.token)
	}
	start := time.Now()
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), time.Since(start)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, time.Since(start)
}

func (w *world) must(method, path string, body any, want int) []byte {
	w.t.Helper()
	status, raw, _ := w.call(method, path, body)
	if status != want {
		w.t.Fatalf("%s %s: %d %s", method, path, status, raw)
	}
	return raw
}

func (w *world) adminID() string {
	var me struct{ ID string }
	json.Unmarshal(w.must(http.MethodGet, "/api/v1/auth/me", nil, http.StatusOK), &me)
	return me.ID
}

// publish deploys and publishes a process and waits until servers see its trigger.
func (w *world) publish(key string, xml []byte) {
	w.t.Helper()
	w.must(http.MethodPost, "/api/v1/processes", xml, http.StatusCreated)
	w.must(http.MethodPost, "/api/v1/processes/"+key+"/publish", nil, http.StatusCreated)
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger index at most every 2 s
}

// configureERP makes the "erp" connector the test plugin on w.erpDir.
func (w *world) configureERP(delay time.Duration) {
	w.t.Helper()
	w.must(http.MethodPut, "/api/v1/connectors/erp", map[string]any{"plugin": "testplugin",
		"config": map[string]any{"dir": w.erpDir, "create_delay_ms": delay.Milliseconds()}}, http.StatusOK)
}

// createLeads creates n leads with the given concurrency (every second one "fast", the others "slow")
// and returns the IDs of those acknowledged (201).
func (w *world) createLeads(n, concurrency int, tag string) []string {
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	next := make(chan int)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				need := "slow"
				if i%2 == 0 {
					need = "fast"
				}
				if id, ok := w.createLead(fmt.Sprintf("%s lead %d", tag, i), need); ok {
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return ids
}

func (w *world) createLead(name, need string) (string, bool) {
	status, raw, _ := w.call(http.MethodPost, "/api/v1/records/lead", map[string]any{"source": "api", "name": name, "status": "new", "need": need})
	if status != http.StatusCreated {
		return "", false
	}
	var rec struct{ ID string }
	json.Unmarshal(raw, &rec)
	return rec.ID, rec.ID != ""
}

// completeTasks completes every open task of the administrator it finds and returns how many.
func (w *world) completeTasks() int {
	status, raw, _ := w.call(http.MethodGet, "/api/v1/tasks", nil)
	if status != http.StatusOK {
		return 0
	}
	var page struct {
		Items []struct{ ID string }
	}
	json.Unmarshal(raw, &page)
	n := 0
	for _, task := range page.Items {
		if status, _, _ := w.call(http.MethodPost, "/api/v1/tasks/"+task.ID+"/complete", map[string]any{}); status == http.StatusNoContent {
			n++
		}
	}
	return n
}

// instances counts a process's instances by business key (the lead) and how many completed.
func (w *world) instances(key string) (perLead map[string]int, completed int) {
	w.t.Helper()
	perLead = map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var token []byte
	for {
		resp, err := w.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "rapport",
			Query: "RapportProcessKey = '" + key + "'", PageSize: 1000, NextPageToken: token})
		if err != nil {
			w.t.Fatalf("list instances of %s: %v", key, err)
		}
		for _, e := range resp.GetExecutions() {
			var bk string
			if p := e.GetSearchAttributes().GetIndexedFields()["RapportBusinessKey"]; p != nil {
				_ = converter.GetDefaultDataConverter().FromPayload(p, &bk)
			}
			perLead[bk]++
			if e.GetStatus().String() == "Completed" {
				completed++
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return perLead, completed
		}
	}
}

// notes counts the interaction records the processes wrote, by lead.
func (w *world) notes() map[string]int {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cur, err := w.db.Collection("records_interaction").Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "summary", Value: 1}}))
	if err != nil {
		w.t.Fatal(err)
	}
	var docs []struct{ Summary string }
	if err := cur.All(ctx, &docs); err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range docs {
		out[d.Summary]++
	}
	return out
}

// orders counts the ERP's orders by reference (the lead).
func (w *world) orders() map[string]int {
	w.t.Helper()
	out := map[string]int{}
	raw, err := os.ReadFile(filepath.Join(w.erpDir, "orders.json"))
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		w.t.Fatal(err)
	}
	var store struct {
		Orders map[string]struct{ Reference string } `json:"orders"`
	}
	if err := json.Unmarshal(raw, &store); err != nil {
		w.t.Fatalf("orders.json: %v", err)
	}
	for _, o := range store.Orders {
		out[o.Reference]++
	}
	return out
}

// leadsExist counts the acknowledged leads that can be read back.
func (w *world) leadsExist(ids []string) (found int) {
	for _, id := range ids {
		if status, _, _ := w.call(http.MethodGet, "/api/v1/records/lead/"+id, nil); status == http.StatusOK {
			found++
		}
	}
	return found
}

// tally is what a scenario counts at its end: notes and ERP orders only when its process has those
// steps (withNotes, withOrders), and what is lost or duplicated by kind.
type tally struct {
	leads, instances, completed, notes, orders, duplicates, lost int
	withNotes, withOrders                                        bool
	lostBy, duplicatedBy                                         map[string]int
}

// count compares what exists with the acknowledged leads: each must have exactly one instance, and
// (when the process has those steps) one note and one ERP order; more is a duplicate, fewer is lost.
func (w *world) count(key string, leads []string, withNotes, withOrders bool) tally {
	per, completed := w.instances(key)
	tl := tally{leads: len(leads), completed: completed, withNotes: withNotes, withOrders: withOrders,
		lostBy: map[string]int{}, duplicatedBy: map[string]int{}}
	for _, n := range per {
		tl.instances += n
	}
	check := func(kind string, m map[string]int) int {
		total := 0
		for _, id := range leads {
			switch n := m[id]; {
			case n == 0:
				tl.lost++
				tl.lostBy[kind]++
			case n > 1:
				tl.duplicates += n - 1
				tl.duplicatedBy[kind] += n - 1
			}
		}
		for _, n := range m {
			total += n
		}
		return total
	}
	check("instances", per)
	if withNotes {
		tl.notes = check("notes", w.notes())
	}
	if withOrders {
		tl.orders = check("ERP documents", w.orders())
	}
	if missing := len(leads) - w.leadsExist(leads); missing > 0 {
		tl.lost += missing
		tl.lostBy["leads"] += missing
	}
	return tl
}

// line is the tally as `make test-chaos` prints it; a count the scenario does not take (its process
// has no such step) reads "-", and what is lost or duplicated is named by kind.
func (tl tally) line(scenario string) string {
	opt := func(counted bool, n int) string {
		if !counted {
			return "-"
		}
		return fmt.Sprint(n)
	}
	line := fmt.Sprintf("chaos %s: leads (acknowledged writes)=%d instances=%d completed=%d notes written by processes=%s ERP documents=%s duplicates=%d lost=%d",
		scenario, tl.leads, tl.instances, tl.completed, opt(tl.withNotes, tl.notes), opt(tl.withOrders, tl.orders), tl.duplicates, tl.lost)
	for _, by := range []struct {
		what string
		m    map[string]int
	}{{"lost", tl.lostBy}, {"duplicated", tl.duplicatedBy}} {
		for _, kind := range []string{"leads", "instances", "notes", "ERP documents"} {
			if n := by.m[kind]; n > 0 {
				line += fmt.Sprintf(" (%s %s: %d)", by.what, kind, n)
			}
		}
	}
	return line
}

// report prints a scenario's counts in the form `make test-chaos` shows, and fails the test on any
// duplicate, loss or unfinished instance.
func report(t *testing.T, scenario string, tl tally, extra string) {
	t.Helper()
	line := tl.line(scenario)
	if extra != "" {
		line += "; " + extra
	}
	fmt.Println(line)
	t.Log(line)
	if tl.duplicates != 0 || tl.lost != 0 || tl.completed != tl.leads || tl.instances != tl.leads {
		t.Errorf("%s: want every acknowledged lead to have exactly one completed instance, nothing duplicated or lost", scenario)
	}
}

// waitFor polls cond every second until it holds or d passed.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Second)
	}
}

// proc is a rapport process started by a scenario, with what its banner said.
type proc struct {
	cmd      *exec.Cmd
	done     chan error
	base     string
	temporal string
	mongo    string
}

// startRapport runs the built binary with args and waits for its banner (or, for a worker, a moment).
func startRapport(t *testing.T, logPath string, args ...string) *proc {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rapportBin, append([]string{"--log-level", "warn", "--log-format", "text"}, args...)...)
	cmd.Stderr = logFile
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RAPPORT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "Admin UI:"):
				p.base = strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(line, "Admin UI:")), "/")
			case strings.HasPrefix(line, "Temporal frontend:"):
				p.temporal = strings.Fields(strings.TrimPrefix(line, "Temporal frontend:"))[0]
			case strings.HasPrefix(line, "MongoDB URI:"):
				p.mongo = strings.Fields(strings.TrimPrefix(line, "MongoDB URI:"))[0]
				close(ready)
			}
		}
	}()
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("rapport %v exited: %v (log: %s)", args[0], err, logPath)
	case <-time.After(4 * time.Minute):
		p.kill()
		t.Fatalf("rapport %v did not start within 4 minutes (log: %s)", args[0], logPath)
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the process to stop (SIGTERM) and kills it after 30 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

// connect dials the process's Temporal and MongoDB and logs in to its API.
func (p *proc) connect(t *testing.T, erpDir string) *world {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: p.temporal, Namespace: "rapport", Logger: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := mongo.Connect(options.Client().ApplyURI(p.mongo))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, base: p.base, http: &http.Client{Timeout: 60 * time.Second}, temporal: c, db: m.Database("rapport"), erpDir: erpDir}
	var login struct{ Token string }
	json.Unmarshal(w.must(http.MethodPost, "/api/v1/auth/login", map[string]string{"email": stacktest.AdminEmail, "password": stacktest.AdminPassword}, http.StatusOK), &login)
	w.token = login.Token
	t.Cleanup(func() { c.Close(); _ = m.Disconnect(context.Background()) })
	return w
}

// quiet keeps the SDK's logs out of the test output.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
