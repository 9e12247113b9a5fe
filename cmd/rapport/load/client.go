package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// followUpBPMN is what the load's leads start: a follow-up call for the load's user, completed by the
// load's task operations.
const followUpBPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_Load" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="load-follow-up" name="Follow up a new lead (load test)" isExecutable="true">
    <bpmn:startEvent id="StartEvent_Lead">
      <bpmn:extensionElements><rapport:recordTrigger entity="lead" on="created" /></bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Task_Call" name="Call the lead">
      <bpmn:extensionElements><zeebe:assignmentDefinition assignee="=&quot;%s&quot;" /></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Lead" targetRef="Task_Call" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_Call" targetRef="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>`

// The operations of the mix and their weights (out of 100): reads of one lead, lists, lead creations
// (each starts a follow-up instance), patches, and task work (the inbox, then completing a task).
var mix = []struct {
	op     string
	weight int
}{{"get", 30}, {"list", 15}, {"create", 20}, {"patch", 15}, {"tasks", 20}}

// client is the load's view of one server.
type client struct {
	base  string
	token string
	http  *http.Client

	mu      sync.Mutex
	leads   []string
	claimed map[string]bool
	n       atomic.Int64
}

func newClient(ctx context.Context, cfg Config) (*client, error) {
	c := &client{base: strings.TrimSuffix(cfg.URL, "/"), http: httpClient(cfg.MaxInFlight), claimed: map[string]bool{}}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, _, err := c.do(ctx, http.MethodGet, "/readyz", nil, "")
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("load: %s is not ready: status %d, %v", c.base, status, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var login struct{ Token string }
	if err := c.json(ctx, http.MethodPost, "/api/v1/auth/login", map[string]string{"email": cfg.Email, "password": cfg.Password}, http.StatusOK, &login); err != nil {
		return nil, err
	}
	c.token = login.Token
	return c, nil
}

// setUp publishes the follow-up process and creates the first leads.
func (c *client) setUp(ctx context.Context, seed int) error {
	var me struct{ ID string }
	if err := c.json(ctx, http.MethodGet, "/api/v1/auth/me", nil, http.StatusOK, &me); err != nil {
		return err
	}
	if err := c.json(ctx, http.MethodPost, "/api/v1/processes", []byte(fmt.Sprintf(followUpBPMN, me.ID)), http.StatusCreated, nil); err != nil {
		return err
	}
	if err := c.json(ctx, http.MethodPost, "/api/v1/processes/load-follow-up/publish", nil, http.StatusCreated, nil); err != nil {
		return err
	}
	time.Sleep(2100 * time.Millisecond) // servers re-read the trigger index at most every 2 s
	for range seed {
		if err := c.create(ctx); err != nil {
			return err
		}
	}
	return nil
}

// step sends requests at rate for d and measures them.
func (c *client) step(ctx context.Context, rate float64, d time.Duration, cfg Config) *Step {
	st := &Step{Rate: rate, Duration: d, ops: map[string]*Stats{}, All: &Stats{}}
	for _, m := range mix {
		st.ops[m.op] = &Stats{}
	}
	st.ops["complete"] = &Stats{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	slots := make(chan struct{}, cfg.MaxInFlight)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	total := int(rate * d.Seconds())
	sampler := time.NewTicker(cfg.SampleEvery)
	defer sampler.Stop()
	st.RSS = append(st.RSS, Sample{At: 0, Bytes: rssBytes(cfg.PID)})
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				wg.Wait()
				return st
			}
		}
		select {
		case <-sampler.C:
			st.RSS = append(st.RSS, Sample{At: time.Since(start), Bytes: rssBytes(cfg.PID)})
		default:
		}
		op := pick(c.n.Add(1))
		select {
		case slots <- struct{}{}:
		default:
			mu.Lock()
			st.ops[op].fail("overload: no free slot")
			st.All.fail("overload: no free slot")
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			results := c.run(ctx, op, at)
			mu.Lock()
			for _, r := range results {
				if r.err != "" {
					st.ops[r.op].fail(r.err)
					st.All.fail(r.err)
				} else {
					st.ops[r.op].add(r.latency)
					st.All.add(r.latency)
				}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	st.Elapsed = time.Since(start)
	st.RSS = append(st.RSS, Sample{At: st.Elapsed, Bytes: rssBytes(cfg.PID)})
	return st
}

// pick spreads the operations by weight over consecutive requests (deterministic, so every run sends
// the same mix).
func pick(n int64) string {
	k := int(n*37) % 100
	for _, m := range mix {
		if k < m.weight {
			return m.op
		}
		k -= m.weight
	}
	return mix[0].op
}

type result struct {
	op      string
	latency time.Duration
	err     string
}

// run performs one operation scheduled at at; latency counts from then. "tasks" reads the inbox and,
// when it holds a task nobody took yet, completes it (a second, separately measured request).
func (c *client) run(ctx context.Context, op string, at time.Time) []result {
	check := func(op string, status int, body []byte, err error, want int) result {
		r := result{op: op, latency: time.Since(at)}
		switch {
		case err != nil:
			r.err = "transport: " + err.Error()
		case status != want:
			r.err = fmt.Sprintf("status %d%s", status, problemType(body))
		}
		return r
	}
	switch op {
	case "get":
		status, body, err := c.do(ctx, http.MethodGet, "/api/v1/records/lead/"+c.someLead(), nil, "")
		return []result{check(op, status, body, err, http.StatusOK)}
	case "list":
		status, body, err := c.do(ctx, http.MethodGet, "/api/v1/records/lead?limit=20&sort=-createdAt", nil, "")
		return []result{check(op, status, body, err, http.StatusOK)}
	case "create":
		status, body, err := c.do(ctx, http.MethodPost, "/api/v1/records/lead", newLead(), "")
		c.remember(status, body)
		return []result{check(op, status, body, err, http.StatusCreated)}
	case "patch":
		patch := map[string]any{"need": fmt.Sprintf("follow-up %d", rand.IntN(1000))}
		status, body, err := c.do(ctx, http.MethodPatch, "/api/v1/records/lead/"+c.someLead(), patch, "application/merge-patch+json")
		return []result{check(op, status, body, err, http.StatusOK)}
	}
	status, body, err := c.do(ctx, http.MethodGet, "/api/v1/tasks", nil, "")
	out := []result{check("tasks", status, body, err, http.StatusOK)}
	if out[0].err != "" {
		return out
	}
	id := c.claim(body)
	if id == "" {
		return out
	}
	started := time.Now()
	status, body, err = c.do(ctx, http.MethodPost, "/api/v1/tasks/"+id+"/complete", map[string]any{}, "")
	done := check("complete", status, body, err, http.StatusNoContent)
	done.latency = time.Since(started)
	return append(out, done)
}

// problemType names the problem details type of an error answer (" store-unavailable"), if any.
func problemType(body []byte) string {
	var p struct{ Type string }
	if json.Unmarshal(body, &p) != nil || p.Type == "" {
		return ""
	}
	return " " + p.Type[strings.LastIndexByte(p.Type, '/')+1:]
}

var sources = []string{"webForm", "import", "api", "call", "event", "partner", "referral", "other"}

func newLead() map[string]any {
	n := rand.IntN(1_000_000)
	return map[string]any{"source": sources[n%len(sources)], "name": fmt.Sprintf("Load Lead %d", n), "companyName": "LoadCo",
		"email": fmt.Sprintf("lead%d@load.test", n), "status": "new", "need": "CRM for a sales team"}
}

func (c *client) create(ctx context.Context) error {
	status, body, err := c.do(ctx, http.MethodPost, "/api/v1/records/lead", newLead(), "")
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("load: create a lead: %d %v %s", status, err, body)
	}
	c.remember(status, body)
	return nil
}

func (c *client) remember(status int, body []byte) {
	if status != http.StatusCreated {
		return
	}
	var rec struct{ ID string }
	if json.Unmarshal(body, &rec) == nil && rec.ID != "" {
		c.mu.Lock()
		c.leads = append(c.leads, rec.ID)
		c.mu.Unlock()
	}
}

func (c *client) someLead() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.leads) == 0 {
		return "none"
	}
	return c.leads[rand.IntN(len(c.leads))]
}

// claim picks an open task no other request of this run is completing.
func (c *client) claim(inbox []byte) string {
	var page struct {
		Items []struct{ ID string }
	}
	if json.Unmarshal(inbox, &page) != nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range page.Items {
		if !c.claimed[t.ID] {
			c.claimed[t.ID] = true
			return t.ID
		}
	}
	return ""
}

// do sends one request with the load's token and returns the status and body.
func (c *client) do(ctx context.Context, method, path string, body any, contentType string) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
		if contentType == "" {
			contentType = "application/xml"
		}
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(raw)
		if contentType == "" {
			contentType = "application/json"
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// json sends a request that must answer want and decodes the answer into out (when not nil).
func (c *client) json(ctx context.Context, method, path string, body any, want int, out any) error {
	status, raw, err := c.do(ctx, method, path, body, "")
	if err != nil {
		return fmt.Errorf("load: %s %s: %w", method, path, err)
	}
	if status != want {
		return fmt.Errorf("load: %s %s: status %d: %s", method, path, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("load: %s %s: %w", method, path, err)
		}
	}
	return nil
}
