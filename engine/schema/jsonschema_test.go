package schema

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestJSONSchemaOfLead(t *testing.T) {
	lead := builtins(t)["lead"]
	raw, err := JSONSchemaBytes(lead)
	if err != nil {
		t.Fatal(err)
	}
	// The served document must itself be a valid 2020-12 schema that a
	// third-party client can compile.
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("https://example.com/lead.json", doc); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Compile("https://example.com/lead.json"); err != nil {
		t.Fatalf("served schema does not compile: %v", err)
	}
	var s struct {
		Schema     string                    `json:"$schema"`
		Required   []string                  `json:"required"`
		Additional bool                      `json:"additionalProperties"`
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != JSONSchemaDraft || s.Additional {
		t.Fatalf("header = %q additionalProperties=%v", s.Schema, s.Additional)
	}
	if !reflect.DeepEqual(s.Required, []string{"source", "name", "status"}) {
		t.Fatalf("required = %v", s.Required)
	}
	status := s.Properties["status"]
	if !reflect.DeepEqual(status["enum"], []any{"new", "contacted", "qualified", "disqualified", "converted"}) || status["default"] != "new" {
		t.Fatalf("status = %v", status)
	}
	if status["x-label"].(map[string]any)["ru"] != "Статус" {
		t.Fatalf("status label = %v", status["x-label"])
	}
	if s.Properties["email"]["format"] != "email" || s.Properties["score"]["readOnly"] != true || s.Properties["contact"]["x-ref"] != "contact" {
		t.Fatalf("field schemas = %v %v %v", s.Properties["email"], s.Properties["score"], s.Properties["contact"])
	}
	budget := s.Properties["budget"]
	if budget["type"] != "object" || !reflect.DeepEqual(budget["required"], []any{"amount", "currency"}) {
		t.Fatalf("budget = %v", budget)
	}
	if s.Properties["createdAt"]["readOnly"] != true {
		t.Fatal("system fields are not described")
	}
}

func BenchmarkValidateLead(b *testing.B) {
	lead := builtins(b)["lead"]
	v, err := NewValidator(lead)
	if err != nil {
		b.Fatal(err)
	}
	rec := decode(b, `{"source":"webForm","name":"Ivan Petrov","companyName":"Romashka","email":"Ivan@Example.com",
		"phone":"+7 912 345-67-89","budget":{"amount":150000,"currency":"rub"},"need":"CRM for 20 users",
		"timeline":"quarter","status":"new"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, errs, err := v.Validate(ctx, rec, Create)
		if err != nil || len(errs) > 0 {
			b.Fatal(err, errs)
		}
	}
}

func BenchmarkNewValidatorLead(b *testing.B) {
	lead := builtins(b)["lead"]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewValidator(lead); err != nil {
			b.Fatal(err)
		}
	}
}
