package process

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/outbound"
)

func TestHTTPHandler(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			var in map[string]any
			_ = json.NewDecoder(r.Body).Decode(&in)
			w.Header().Set("X-Method", r.Method)
			_ = json.NewEncoder(w).Encode(map[string]any{"got": in["name"], "auth": r.Header.Get("Authorization"), "query": r.URL.RawQuery})
		case "/missing":
			http.Error(w, "nope", http.StatusNotFound)
		case "/down":
			http.Error(w, "down", http.StatusBadGateway)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	cases := []struct {
		name    string
		req     TaskRequest
		status  int
		bpmn    bool // a BPMNError (not retried)
		retried bool // a plain error (retried)
		check   func(t *testing.T, out map[string]any)
	}{
		{"post json", TaskRequest{Headers: map[string]string{"url": srv.URL + "/echo"},
			Inputs: map[string]any{"body": map[string]any{"name": "ann"}, "headers": map[string]any{"Authorization": "Bearer x"}}}, 200, false, false,
			func(t *testing.T, out map[string]any) {
				body := out["body"].(map[string]any)
				if body["got"] != "ann" || body["auth"] != "Bearer x" || out["headers"].(map[string]any)["X-Method"] != "POST" {
					t.Errorf("out %v", out)
				}
			}},
		{"Camunda's REST connector inputs", TaskRequest{Type: "http", Headers: map[string]string{"url": srv.URL + "/echo"},
			Inputs: map[string]any{"method": "GET", "queryParameters": map[string]any{"q": "a b", "n": 2.0},
				"authentication": map[string]any{"type": "basic", "username": "ann", "password": "pw"}, "readTimeoutInSeconds": 5.0}}, 200, false, false,
			func(t *testing.T, out map[string]any) {
				body := out["body"].(map[string]any)
				if body["auth"] != "Basic YW5uOnB3" || body["query"] != "n=2&q=a+b" {
					t.Errorf("out %v", out)
				}
			}},
		{"bearer authentication", TaskRequest{Headers: map[string]string{"url": srv.URL + "/echo"},
			Inputs: map[string]any{"method": "GET", "authentication": map[string]any{"type": "bearer", "token": "t0k"}}}, 200, false, false,
			func(t *testing.T, out map[string]any) {
				if out["body"].(map[string]any)["auth"] != "Bearer t0k" {
					t.Errorf("out %v", out)
				}
			}},
		{"unsupported authentication", TaskRequest{Headers: map[string]string{"url": srv.URL + "/echo"},
			Inputs: map[string]any{"authentication": map[string]any{"type": "oauth-client-credentials-flow"}}}, 0, true, false, nil},
		{"4xx is a result", TaskRequest{Headers: map[string]string{"url": srv.URL + "/missing"}}, 404, false, false,
			func(t *testing.T, out map[string]any) {
				if out["body"] != "nope\n" {
					t.Errorf("body %q", out["body"])
				}
			}},
		{"5xx is retried", TaskRequest{Headers: map[string]string{"url": srv.URL + "/down"}}, 0, false, true, nil},
		{"timeout is retried", TaskRequest{Headers: map[string]string{"url": srv.URL + "/slow", "timeout": "PT0.05S"}}, 0, false, true, nil},
		{"missing url", TaskRequest{}, 0, true, false, nil},
		{"bad timeout", TaskRequest{Headers: map[string]string{"url": srv.URL, "timeout": "soon"}}, 0, true, false, nil},
	}
	// The test server is on loopback, which the default policy refuses: allow exactly it.
	policy, err := outbound.ParsePolicy([]string{srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	handler := HTTPHandler{Client: outbound.NewClient(policy, outbound.Limits{})}
	t.Run("a refused destination fails without retries", func(t *testing.T) {
		_, err := handler.Handle(context.Background(), TaskRequest{Headers: map[string]string{"url": "http://169.254.169.254/latest/meta-data/"}})
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != ErrorTypeRefused {
			t.Fatalf("err = %v, want a non-retryable refusal", err)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := handler.Handle(context.Background(), tc.req)
			var be *BPMNError
			switch {
			case tc.bpmn:
				if !errors.As(err, &be) {
					t.Fatalf("want a BPMN error, got %v", err)
				}
			case tc.retried:
				if err == nil || errors.As(err, &be) {
					t.Fatalf("want a retryable error, got %v", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if out["status"] != tc.status {
					t.Fatalf("status %v, want %d", out["status"], tc.status)
				}
				tc.check(t, out)
			}
		})
	}
}

type fakeRecords struct{ calls []string }

func (f *fakeRecords) Create(_ context.Context, entity string, fields map[string]any) (map[string]any, error) {
	f.calls = append(f.calls, "create "+entity)
	return map[string]any{"id": "new", "name": fields["name"]}, nil
}

func (f *fakeRecords) Update(_ context.Context, entity, id string, fields map[string]any) (map[string]any, error) {
	f.calls = append(f.calls, "update "+entity+" "+id)
	return fields, nil
}

func (f *fakeRecords) Get(_ context.Context, entity, id string) (map[string]any, error) {
	f.calls = append(f.calls, "get "+entity+" "+id)
	return map[string]any{"id": id}, nil
}

type fakeRules struct{ key, version string }

func (f *fakeRules) Evaluate(_ context.Context, key, version string, _ map[string]any) (map[string]any, error) {
	f.key, f.version = key, version
	return map[string]any{"result": 1}, nil
}

func TestDefaultRegistry(t *testing.T) {
	recs := &fakeRecords{}
	rules := &fakeRules{}
	acts := &Activities{Registry: NewDefaultRegistry(Services{Records: recs, Rules: rules})}
	ctx := context.Background()
	cases := []struct {
		req     TaskRequest
		wantErr bool
		call    string
	}{
		{TaskRequest{Type: "record.create", Headers: map[string]string{"entity": "lead"}, Inputs: map[string]any{"name": "x"}}, false, "create lead"},
		{TaskRequest{Type: "record.update", Headers: map[string]string{"entity": "lead"}, Inputs: map[string]any{"id": "L1", "status": "won"}}, false, "update lead L1"},
		{TaskRequest{Type: "record.get", Inputs: map[string]any{"entity": "deal", "id": "D1"}}, false, "get deal D1"},
		{TaskRequest{Type: "record.get", Headers: map[string]string{"entity": "deal"}}, true, ""},
		{TaskRequest{Type: "notify"}, true, ""}, // no notifier wired: unknown type
		{TaskRequest{Type: TypeRulesEvaluate, Headers: map[string]string{"ruleset": "scoring", "version": "2"}}, false, ""},
	}
	for _, tc := range cases {
		recs.calls = nil
		_, err := acts.ExecuteTask(ctx, tc.req)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.req.Type, err, tc.wantErr)
		}
		if tc.call != "" && (len(recs.calls) != 1 || recs.calls[0] != tc.call) {
			t.Errorf("%s: calls %v, want %q", tc.req.Type, recs.calls, tc.call)
		}
	}
	if rules.key != "scoring" || rules.version != "2" {
		t.Errorf("rules called with %q %q", rules.key, rules.version)
	}
}

func TestValidateVariables(t *testing.T) {
	m := compileXML(t, doc("vars", start+end("End", "F0")+flow("F0", "Start", "End"), ""))
	m.Variables = append(m.Variables, bpmn.VariableDecl{Name: "leadRef", Type: "string", Required: true},
		bpmn.VariableDecl{Name: "at", Type: "time"}, bpmn.VariableDecl{Name: "tags", Type: "list"})
	cases := []struct {
		name  string
		vars  map[string]any
		start bool
		ok    bool
	}{
		{"valid start", map[string]any{"leadRef": "L1", "i": 3.0, "at": "2026-01-02T03:04:05Z", "tags": []any{"a"}}, true, true},
		{"missing required at start", map[string]any{"i": 3}, true, false},
		{"missing required in an update is fine", map[string]any{"i": 3}, false, true},
		{"fractional int", map[string]any{"leadRef": "L1", "i": 3.5}, true, false},
		{"string for bool", map[string]any{"leadRef": "L1", "good": "yes"}, true, false},
		{"bad time", map[string]any{"leadRef": "L1", "at": "tomorrow"}, true, false},
		{"scalar for list", map[string]any{"leadRef": "L1", "tags": "a"}, true, false},
		{"undeclared variables pass", map[string]any{"leadRef": "L1", "whatever": map[string]any{}}, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := ValidateVariables(m, tc.vars, tc.start); (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
		})
	}
}
