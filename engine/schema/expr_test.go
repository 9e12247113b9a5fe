package schema

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBuiltinExpressions(t *testing.T) {
	ents := builtins(t)
	contact, err := NewValidator(ents["contact"])
	if err != nil {
		t.Fatal(err)
	}
	out, errs, err := contact.Validate(context.Background(), decode(t, `{"firstName":"Ivan","lastName":"Petrov"}`), Create)
	if err != nil || len(errs) > 0 {
		t.Fatalf("%v %v", err, errs)
	}
	if out["fullName"] != "Ivan Petrov" {
		t.Fatalf("fullName = %q", out["fullName"])
	}
	if _, errs, _ := contact.Validate(context.Background(), decode(t, `{"firstName":"Ivan","fullName":"x"}`), Create); len(errs) != 1 || errs[0].Pointer != "/fullName" {
		t.Fatalf("computed field accepted from client: %v", errs)
	}

	lead, err := NewValidator(ents["lead"])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mode    Mode
		in      string
		current map[string]any
		lang    string
		want    string // pointer of the single expected error, "" for none
		message string
	}{
		{"qualified needs no reason", Create, `{"source":"call","name":"A","status":"qualified"}`, nil, "", "", ""},
		{"disqualified without reason", Create, `{"source":"call","name":"A","status":"disqualified"}`, nil, "", "/disqualificationReason", "needs a reason"},
		{"russian message", Create, `{"source":"call","name":"A","status":"disqualified"}`, nil, "ru", "/disqualificationReason", "нужна причина"},
		{"disqualified with reason", Create, `{"source":"call","name":"A","status":"disqualified","disqualificationReason":"noBudget"}`, nil, "", "", ""},
		{"patch merged with stored record", Patch, `{"status":"disqualified"}`, map[string]any{"source": "call", "name": "A", "status": "new"}, "", "/disqualificationReason", "needs a reason"},
		{"patch removing reason", Patch, `{"disqualificationReason":null}`, map[string]any{"source": "call", "name": "A", "status": "disqualified", "disqualificationReason": "noNeed"}, "", "/disqualificationReason", "needs a reason"},
		{"patch without stored record skips rules", Patch, `{"status":"disqualified"}`, nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []ValidateOption{InLanguage(tt.lang)}
			if tt.current != nil {
				opts = append(opts, WithCurrent(tt.current))
			}
			_, errs, err := lead.Validate(context.Background(), decode(t, tt.in), tt.mode, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Pointer != tt.want || !strings.Contains(errs[0].Message, tt.message) {
				t.Fatalf("errors = %v, want one at %s containing %q", errs, tt.want, tt.message)
			}
		})
	}
}

func TestExpressionDefinitionProblems(t *testing.T) {
	base := func(fields ...Field) Entity {
		return Entity{Name: "thing", Label: Label{En: "Thing"}, Fields: fields}
	}
	tests := []struct {
		name string
		e    Entity
		want string // pointer
		msg  string
	}{
		{"unknown field in rule", base(Field{Name: "a", Type: TypeString, Rules: []Rule{{Expr: `b == "x"`, Message: Label{En: "m"}}}}), "/fields/0/rules/0/expr", "1:"},
		{"rule not boolean", base(Field{Name: "a", Type: TypeInteger, Rules: []Rule{{Expr: `a + 1`, Message: Label{En: "m"}}}}), "/fields/0/rules/0/expr", "bool"},
		{"computed of wrong type", base(Field{Name: "a", Type: TypeInteger}, Field{Name: "b", Type: TypeInteger, Computed: `"x"`}), "/fields/1/computed", ""},
		{"computed list", base(Field{Name: "a", Type: TypeList, Item: &Field{Type: TypeString}, Computed: `[]`}), "/fields/0/computed", "cannot be computed"},
		{"cycle", base(Field{Name: "a", Type: TypeInteger, Computed: `b + 1`}, Field{Name: "b", Type: TypeInteger, Computed: `a + 1`}), "/fields", "cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.e, nil)
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a definition error", err)
			}
			if de.Problems[0].Pointer != tt.want || !strings.Contains(de.Problems[0].Message, tt.msg) {
				t.Fatalf("problems = %v", de.Problems)
			}
		})
	}
}

func TestComputedOrderAndNow(t *testing.T) {
	e := Entity{Name: "thing", Label: Label{En: "T"}, Fields: []Field{
		{Name: "c", Type: TypeInteger, Computed: "b * 2"},
		{Name: "b", Type: TypeInteger, Computed: "a + 1"},
		{Name: "a", Type: TypeInteger},
		{Name: "due", Type: TypeDate, Computed: "addDays(now, 3)"},
	}}
	v := mustValidator(t, e)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	out, errs, err := v.Validate(context.Background(), map[string]any{"a": 4}, Create, At(now))
	if err != nil || len(errs) > 0 {
		t.Fatalf("%v %v", err, errs)
	}
	if out["b"] != int64(5) || out["c"] != int64(10) || out["due"] != "2026-05-04" {
		t.Fatalf("out = %#v", out)
	}
}

func TestMergePatch(t *testing.T) {
	doc := map[string]any{"a": 1, "o": map[string]any{"x": 1, "y": 2}, "r": "keep"}
	got := MergePatch(doc, map[string]any{"a": nil, "o": map[string]any{"y": nil, "z": 3}, "n": "new"})
	want := map[string]any{"o": map[string]any{"x": 1, "z": 3}, "r": "keep", "n": "new"}
	if !equalJSON(got, want) {
		t.Fatalf("got %#v", got)
	}
	if _, ok := doc["a"]; !ok {
		t.Fatal("MergePatch modified its input")
	}
}
