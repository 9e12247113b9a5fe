package tasktypes

import (
	"strings"
	"testing"
)

func TestBuiltinDescribesItself(t *testing.T) {
	r := Builtin()
	want := []string{RecordCreate, RecordUpdate, RecordGet, RecordFind, RulesEvaluate, TaskCreate, Notify, HTTP, Connector}
	if got := r.IDs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("IDs = %v, want %v (message.publish is internal)", got, want)
	}
	for _, info := range r.Infos() {
		if info.Title == "" || info.Doc == "" {
			t.Errorf("%s: no title or doc", info.ID)
		}
		for _, p := range append(info.Headers, info.Inputs...) {
			if p.Name == "" || p.Type == "" || p.Doc == "" {
				t.Errorf("%s: parameter %+v is not described", info.ID, p)
			}
		}
	}
	if r.Resolve(HTTPJSON) != HTTP || !r.Known(HTTPJSON) || r.Known(MessagePublish) || r.Known("charge-card") {
		t.Errorf("resolve/known wrong: %v %v %v", r.Resolve(HTTPJSON), r.Known(MessagePublish), r.Known("charge-card"))
	}
	if err := r.Register(httpTask{}); err == nil {
		t.Error("a second http type was accepted")
	}
	if err := r.Alias("x", "nope"); err == nil {
		t.Error("an alias of an unknown type was accepted")
	}
	aliases := r.Aliases()
	if len(aliases) != 1 || aliases[HTTPJSON] != HTTP {
		t.Errorf("Aliases() = %v, want only %s -> %s", aliases, HTTPJSON, HTTP)
	}
	aliases["y"] = HTTP
	if r.Resolve("y") != "y" {
		t.Error("changing the map Aliases returned changed the registry")
	}
}

func TestCheck(t *testing.T) {
	r := Builtin()
	lit := func(s string) *string { return &s }
	cases := []struct {
		name string
		task Task
		want string // "" = no error
	}{
		{"record.update with id input", Task{Type: RecordUpdate, Headers: []Header{{"entity", "lead"}}, Inputs: []Input{{Target: "id", Source: "leadId"}}}, ""},
		{"record.update without id", Task{Type: RecordUpdate, Headers: []Header{{"entity", "lead"}}}, `needs the header or input "id"`},
		{"record.get without entity", Task{Type: RecordGet, Headers: []Header{{"id", "x"}}}, `needs the header or input "entity"`},
		{"connector without headers", Task{Type: Connector}, `needs the header "connector"`},
		{"rules without rule set", Task{Type: RulesEvaluate}, `needs the header "ruleset"`},
		{"http with basic auth", Task{Type: HTTP, Inputs: []Input{{Target: "authentication.type", Literal: lit("basic")}}}, ""},
		{"http with oauth", Task{Type: HTTP, Inputs: []Input{{Target: "authentication.type", Literal: lit("oauth-client-credentials-flow")}}}, "not supported"},
		{"http with a bad timeout", Task{Type: HTTPJSON, Inputs: []Input{{Target: "connectionTimeoutInSeconds", Literal: lit("soon")}}}, "whole number of seconds"},
		{"external type", Task{Type: "charge-card"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := r.Check(tc.task, Env{})
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("errors: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if strings.Contains(e.Error(), tc.want) {
					return
				}
			}
			t.Fatalf("errors %v, want one containing %q", errs, tc.want)
		})
	}
}

func TestRulesetResult(t *testing.T) {
	for _, kind := range []string{"validation", "computed", "scoring", "decision", "decision_table", "assignment", "sla"} {
		if RulesetResult(kind) == nil {
			t.Errorf("no result shape for %s", kind)
		}
	}
	if got := RulesetResult("scoring").String(); got != "{fired: list<string>, score: float}" {
		t.Errorf("scoring = %s", got)
	}
	if RulesetResult("nope") != nil {
		t.Error("unknown kind has a shape")
	}
}
