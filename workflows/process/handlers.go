package process

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/outbound"
)

// ErrorTypeRefused marks a task failure that retrying cannot fix: an outbound destination the HTTP
// policy refuses.
const ErrorTypeRefused = "OutboundRefused"

// The services built-in task types call. The lead wires them to the record store, the rules engine,
// the task list, in-app notifications, plugins and message correlation; the interpreter only knows
// these interfaces, so tests use doubles and the workflow stays free of storage.
type (
	// Records creates, updates and reads records of an entity (record.create, record.update, record.get).
	Records interface {
		Create(ctx context.Context, entity string, fields map[string]any) (map[string]any, error)
		Update(ctx context.Context, entity, id string, fields map[string]any) (map[string]any, error)
		Get(ctx context.Context, entity, id string) (map[string]any, error)
	}
	// Rules evaluates a rule set or decision table (rules.evaluate, business rule tasks); version ""
	// means the latest published one.
	Rules interface {
		Evaluate(ctx context.Context, key, version string, input map[string]any) (map[string]any, error)
	}
	// TaskList creates a Task record for a person (task.create).
	TaskList interface {
		CreateTask(ctx context.Context, req TaskRequest) (map[string]any, error)
	}
	// TaskCloser is a TaskList that also closes the open Task records named by the input ids
	// (task.close, a cancelled instance's cleanup).
	TaskCloser interface {
		CloseTasks(ctx context.Context, req TaskRequest) (map[string]any, error)
	}
	// Notifier sends an in-app notification (notify).
	Notifier interface {
		Notify(ctx context.Context, to, template string, data map[string]any) error
	}
	// Connectors call an operation of a plugin connector (connector).
	Connectors interface {
		Call(ctx context.Context, connector, operation string, input map[string]any) (map[string]any, error)
	}
	// Messages publishes a BPMN message to the instances waiting for it (message throw events).
	Messages interface {
		Publish(ctx context.Context, name, correlationKey string, variables map[string]any) error
	}
)

// Services are the implementations NewDefaultRegistry wires; nil ones leave their task types
// unregistered (an instance reaching such a task gets an incident).
type Services struct {
	Records    Records
	Rules      Rules
	Tasks      TaskList
	Notifier   Notifier
	Connectors Connectors
	Messages   Messages
	// HTTP is the client of http tasks (outbound.NewClient with the operator's policy); nil uses one with
	// the default policy, which reaches no private address.
	HTTP *http.Client
}

// NewDefaultRegistry registers a handler for every built-in task type whose service is given, and the
// http handler always.
func NewDefaultRegistry(s Services) *Registry {
	r := NewRegistry()
	r.Register("http", HTTPHandler{Client: s.HTTP})
	if s.Records != nil {
		r.Register("record.create", TaskHandlerFunc(func(ctx context.Context, req TaskRequest) (map[string]any, error) {
			return s.Records.Create(ctx, entityOf(req), without(req.Inputs, "entity"))
		}))
		r.Register("record.update", TaskHandlerFunc(func(ctx context.Context, req TaskRequest) (map[string]any, error) {
			id, err := recordID(req)
			if err != nil {
				return nil, err
			}
			return s.Records.Update(ctx, entityOf(req), id, without(req.Inputs, "entity", "id"))
		}))
		r.Register("record.get", TaskHandlerFunc(func(ctx context.Context, req TaskRequest) (map[string]any, error) {
			id, err := recordID(req)
			if err != nil {
				return nil, err
			}
			return s.Records.Get(ctx, entityOf(req), id)
		}))
	}
	if s.Rules != nil {
		r.Register(TypeRulesEvaluate, TaskHandlerFunc(func(ctx context.Context, req TaskRequest) (map[string]any, error) {
			key := req.Headers["ruleset"]
			if key == "" {
				return nil, &BPMNError{Code: "CONFIG", Message: "rules.evaluate needs a ruleset header"}
			}
			return s.Rules.Evaluate(ctx, key, req.Headers["version"], req.Inputs)
		}))
	}
	if s.Tasks != nil {
		r.Register(TypeTaskCreate, TaskHandlerFunc(s.Tasks.CreateTask))
		if c, ok := s.Tasks.(TaskCloser); ok {
			r.Register(TypeTaskClose, TaskHandlerFunc(c.CloseTasks))
		}
	}
	if s.Notifier != nil {
		r.Register("notify", TaskHandlerFunc(func(ctx context.Context, req TaskRequest) (map[string]any, error) {
			to := fmt.Sprint(firstOf(req.Inputs["to"], req.Headers["to"]))
			return nil, s.Notifier.Notify(ctx, to, req.Headers["template"], without(req.Inputs, "to"))
		}))
	}
	if s.Connectors != nil {
		r.Register("connector", TaskHandlerFunc(func(ctx context.Context, req TaskRequest) (map[string]any, error) {
			return s.Connectors.Call(ctx, req.Headers["connector"], req.Headers["operation"], req.Inputs)
		}))
	}
	if s.Messages != nil {
		r.Register(TypeMessagePublish, TaskHandlerFunc(func(ctx context.Context, req TaskRequest) (map[string]any, error) {
			return nil, s.Messages.Publish(ctx, req.Headers["message"], req.Headers["correlationKey"], req.Inputs)
		}))
	}
	return r
}

func entityOf(req TaskRequest) string {
	if e, ok := req.Inputs["entity"].(string); ok && e != "" {
		return e
	}
	return req.Headers["entity"]
}

func recordID(req TaskRequest) (string, error) {
	v := firstOf(req.Inputs["id"], req.Headers["id"])
	if v == nil || v == "" {
		return "", &BPMNError{Code: "CONFIG", Message: req.Type + " needs an id input"}
	}
	return fmt.Sprint(v), nil
}

func firstOf(a any, b string) any {
	if a != nil && a != "" {
		return a
	}
	if b != "" {
		return b
	}
	return nil
}

func without(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// DefaultHTTPTimeout bounds an http task that sets no timeout header.
const DefaultHTTPTimeout = 30 * time.Second

// HTTPHandler runs http tasks and Camunda's REST connector (io.camunda:http-json:1): headers url,
// method (default GET, POST when there is a body) and timeout (ISO 8601 or Go duration); inputs url
// and method override the headers, body is sent as JSON, headers (an object) become request headers,
// queryParameters (an object) are added to the URL, authentication {type: noAuth | basic (username,
// password) | bearer (token)} authenticates, and readTimeoutInSeconds or connectionTimeoutInSeconds
// bound the call when no timeout header does. The result is {status, body, headers}; a body
// that is JSON is decoded. 5xx answers and network errors are retried by the task's retry policy; 4xx
// answers are results, so the process decides what they mean.
type HTTPHandler struct {
	Client *http.Client
}

// Handle performs the call.
func (h HTTPHandler) Handle(ctx context.Context, req TaskRequest) (map[string]any, error) {
	url := fmt.Sprint(firstOf(req.Inputs["url"], req.Headers["url"]))
	if url == "" || url == "<nil>" {
		return nil, &BPMNError{Code: "CONFIG", Message: "http task needs a url"}
	}
	timeout := DefaultHTTPTimeout
	if t := req.Headers["timeout"]; t != "" {
		d, err := parseTimeout(t)
		if err != nil {
			return nil, &BPMNError{Code: "CONFIG", Message: fmt.Sprintf("http timeout %q: %v", t, err)}
		}
		timeout = d
	} else if secs, ok := seconds(firstOf(req.Inputs["readTimeoutInSeconds"], ""), firstOf(req.Inputs["connectionTimeoutInSeconds"], "")); ok {
		timeout = secs // Camunda's REST connector
	}
	if qp, ok := req.Inputs["queryParameters"].(map[string]any); ok && len(qp) > 0 {
		u, err := neturl.Parse(url)
		if err != nil {
			return nil, &BPMNError{Code: "CONFIG", Message: fmt.Sprintf("http url %q: %v", url, err)}
		}
		q := u.Query()
		for _, k := range sortedKeys(qp) {
			q.Set(k, fmt.Sprint(qp[k]))
		}
		u.RawQuery = q.Encode()
		url = u.String()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	method := http.MethodGet
	if b, ok := req.Inputs["body"]; ok && b != nil {
		data, err := json.Marshal(b)
		if err != nil {
			return nil, &BPMNError{Code: "CONFIG", Message: fmt.Sprintf("encode body: %v", err)}
		}
		body = bytes.NewReader(data)
		method = http.MethodPost
	}
	if m := fmt.Sprint(firstOf(req.Inputs["method"], req.Headers["method"])); m != "<nil>" {
		method = strings.ToUpper(m)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, url, body) // ok: activity — the http task handler runs in the task activity
	if err != nil {
		return nil, &BPMNError{Code: "CONFIG", Message: fmt.Sprintf("build request: %v", err)}
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if hs, ok := req.Inputs["headers"].(map[string]any); ok {
		for _, k := range sortedKeys(hs) {
			hreq.Header.Set(k, fmt.Sprint(hs[k]))
		}
	}
	if auth, ok := req.Inputs["authentication"].(map[string]any); ok {
		switch typ := fmt.Sprint(auth["type"]); typ {
		case "basic":
			hreq.SetBasicAuth(fmt.Sprint(auth["username"]), fmt.Sprint(auth["password"]))
		case "bearer":
			hreq.Header.Set("Authorization", "Bearer "+fmt.Sprint(auth["token"]))
		case "noAuth", "<nil>":
		default:
			return nil, &BPMNError{Code: "CONFIG", Message: fmt.Sprintf("http authentication type %q is not supported; use noAuth, basic or bearer", typ)}
		}
	}
	client := h.Client
	if client == nil {
		client = outbound.NewClient(&outbound.Policy{}, outbound.Limits{})
	}
	resp, err := client.Do(hreq)
	if errors.Is(err, outbound.ErrRefused) {
		// Retrying cannot help: the destination is refused until the operator allows it. The task fails
		// with the reason (an incident), rather than throwing a BPMN error a diagram could catch.
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s: %v", method, url, err), ErrorTypeRefused, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read response of %s: %w", url, err)
	}
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	out := map[string]any{"status": resp.StatusCode}
	var decoded any
	if len(raw) > 0 && json.Unmarshal(raw, &decoded) == nil {
		out["body"] = decoded
	} else {
		out["body"] = string(raw)
	}
	headers := map[string]any{}
	for k, v := range resp.Header {
		headers[k] = strings.Join(v, ", ")
	}
	out["headers"] = headers
	return out, nil
}

// seconds is the first of the values that is a positive number of seconds.
func seconds(vals ...any) (time.Duration, bool) {
	for _, v := range vals {
		var n float64
		switch x := v.(type) {
		case float64:
			n = x
		case int:
			n = float64(x)
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				continue
			}
			n = f
		default:
			continue
		}
		if n > 0 {
			return time.Duration(n * float64(time.Second)), true
		}
	}
	return 0, false
}

func parseTimeout(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	iso, err := bpmn.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse duration: %w", err)
	}
	d, ok := iso.Fixed()
	if !ok || d <= 0 {
		return 0, errors.New("timeout must be a positive fixed duration")
	}
	return d, nil
}
