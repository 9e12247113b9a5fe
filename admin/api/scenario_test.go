package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// Scenario is one API request and what must come back, in the style of PocketBase's tests/api.go: who
// sends it, the request, the expected status, and text the body must and must not contain. Security
// tests are tables of scenarios, so a reviewer reads every case as one line and a new finding is a new
// row. URL, Body and Contains/Lacks may name fixtures as {name}, filled from the suite's Vars.
type Scenario struct {
	Name string
	// As is a key of Suite.Tokens; "" sends no credential.
	As     string
	Method string
	URL    string
	// Body is sent as JSON ([]byte and string bodies as they are, after filling fixtures).
	Body any
	// Headers are name, value pairs.
	Headers []string
	Status  int
	// Contains and Lacks are substrings of the response body (errors included: a problem document must
	// not leak what a success would not show).
	Contains []string
	Lacks    []string
	// Check runs further checks on the response.
	Check func(t *testing.T, r stacktest.Response)
}

// Suite is what a table of scenarios shares: a token per principal and fixture values.
type Suite struct {
	Tokens map[string]string
	Vars   map[string]string
}

// Run runs every scenario as a subtest on the test stack.
func (s Suite) Run(t *testing.T, scenarios []Scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) { s.run(t, sc) })
	}
}

func (s Suite) fill(text string) string {
	for k, v := range s.Vars {
		text = strings.ReplaceAll(text, "{"+k+"}", v)
	}
	return text
}

func (s Suite) run(t *testing.T, sc Scenario) {
	t.Helper()
	var body any
	switch b := sc.Body.(type) {
	case nil:
	case string:
		body = []byte(s.fill(b))
	case []byte:
		body = []byte(s.fill(string(b)))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = []byte(s.fill(string(raw)))
	}
	token := ""
	if sc.As != "" {
		var ok bool
		if token, ok = s.Tokens[sc.As]; !ok {
			t.Fatalf("no token for %q", sc.As)
		}
	}
	headers := make([]string, len(sc.Headers))
	for i, h := range sc.Headers {
		headers[i] = s.fill(h)
	}
	r := env.Call(t, sc.Method, s.fill(sc.URL), token, body, headers...)
	if r.Status != sc.Status {
		t.Fatalf("%s %s as %q = %d, want %d: %s", sc.Method, s.fill(sc.URL), sc.As, r.Status, sc.Status, r.Raw)
	}
	if r.Status >= 400 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("error with Content-Type %q, want a problem document", ct)
		}
		decodeProblem(t, r.Raw)
	}
	for _, want := range sc.Contains {
		if want = s.fill(want); !strings.Contains(string(r.Raw), want) {
			t.Errorf("body lacks %q: %s", want, r.Raw)
		}
	}
	for _, bad := range sc.Lacks {
		if bad = s.fill(bad); strings.Contains(string(r.Raw), bad) {
			t.Errorf("body contains %q: %s", bad, r.Raw)
		}
	}
	if sc.Check != nil {
		sc.Check(t, r)
	}
}
