package schema

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ptrF(f float64) *float64 { return &f }
func ptrI(i int) *int         { return &i }

// testEntity covers every field type once.
func testEntity() Entity {
	return Entity{
		Name:       "person",
		Label:      Label{En: "Person", Ru: "Человек"},
		Version:    1,
		DedupeKeys: []string{"emails"},
		Fields: []Field{
			{Name: "name", Type: TypeString, Required: true, MaxLength: ptrI(10)},
			{Name: "notes", Type: TypeText},
			{Name: "age", Type: TypeInteger, Min: ptrF(0), Max: ptrF(150)},
			{Name: "score", Type: TypeDecimal},
			{Name: "budget", Type: TypeMoney, Min: ptrF(0)},
			{Name: "active", Type: TypeBoolean, Default: true},
			{Name: "born", Type: TypeDate},
			{Name: "seenAt", Type: TypeDateTime},
			{Name: "status", Type: TypeEnum, Default: "new", Options: []Option{{Value: "new"}, {Value: "done"}}},
			{Name: "emails", Type: TypeList, Item: &Field{Type: TypeEmail}, MaxLength: ptrI(3)},
			{Name: "phone", Type: TypePhone},
			{Name: "site", Type: TypeURL},
			{Name: "company", Type: TypeReference, Ref: "company"},
			{Name: "code", Type: TypeString, Pattern: `^[A-Z]{2}$`},
			{Name: "secret", Type: TypeString, ReadOnly: true},
			{Name: "address", Type: TypeObject, Fields: []Field{
				{Name: "city", Type: TypeString, Required: true},
				{Name: "zip", Type: TypeString, MaxLength: ptrI(6)},
			}},
		},
	}
}

func mustValidator(t testing.TB, e Entity) *Validator {
	t.Helper()
	if err := Check(e, []string{"company"}); err != nil {
		t.Fatalf("check: %v", err)
	}
	v, err := NewValidator(e)
	if err != nil {
		t.Fatalf("new validator: %v", err)
	}
	return v
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func pointers(errs []FieldError) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Pointer)
	}
	return out
}

func TestValidateErrors(t *testing.T) {
	v := mustValidator(t, testEntity())
	tests := []struct {
		name    string
		mode    Mode
		in      string
		want    []string // pointers, sorted
		message string   // substring of the first message
	}{
		{"valid minimal", Create, `{"name":"Ann"}`, nil, ""},
		{"missing required", Create, `{}`, []string{"/name"}, "is required"},
		{"empty required", Create, `{"name":"  "}`, []string{"/name"}, "must not be empty"},
		{"null required", Create, `{"name":null}`, []string{"/name"}, "is required"},
		{"unknown field", Create, `{"name":"A","nmae":"x"}`, []string{"/nmae"}, "is not a field of the person"},
		{"wrong type", Create, `{"name":5}`, []string{"/name"}, "must be a string"},
		{"too long", Create, `{"name":"abcdefghijk"}`, []string{"/name"}, "at most 10 characters"},
		{"integer not whole", Create, `{"name":"A","age":1.5}`, []string{"/age"}, "whole number"},
		{"integer out of range", Create, `{"name":"A","age":200}`, []string{"/age"}, "at most 150"},
		{"bad email in list", Create, `{"name":"A","emails":["a@b.com","nope"]}`, []string{"/emails/1"}, "valid email"},
		{"email without dot", Create, `{"name":"A","emails":["a@localhost"]}`, []string{"/emails/0"}, "dot"},
		{"too many emails", Create, `{"name":"A","emails":["a@b.ru","c@d.ru","e@f.ru","g@h.ru"]}`, []string{"/emails"}, "at most 3"},
		{"bad phone", Create, `{"name":"A","phone":"12"}`, []string{"/phone"}, "phone"},
		{"bad url", Create, `{"name":"A","site":"ftp://x.org"}`, []string{"/site"}, "http"},
		{"enum", Create, `{"name":"A","status":"lost"}`, []string{"/status"}, "one of: new, done"},
		{"date", Create, `{"name":"A","born":"31.01.2020"}`, []string{"/born"}, "YYYY-MM-DD"},
		{"datetime", Create, `{"name":"A","seenAt":"2020-01-01 10:00"}`, []string{"/seenAt"}, "RFC 3339"},
		{"money currency", Create, `{"name":"A","budget":{"amount":5,"currency":"rubles"}}`, []string{"/budget/currency"}, "ISO 4217"},
		{"money negative", Create, `{"name":"A","budget":{"amount":-5,"currency":"RUB"}}`, []string{"/budget/amount"}, "at least 0"},
		{"money missing currency", Create, `{"name":"A","budget":{"amount":5}}`, []string{"/budget/currency"}, "is required"},
		{"pattern", Create, `{"name":"A","code":"abc"}`, []string{"/code"}, "required format"},
		{"nested required", Create, `{"name":"A","address":{"zip":"1"}}`, []string{"/address/city"}, "is required"},
		{"nested unknown", Create, `{"name":"A","address":{"city":"X","street":"Y"}}`, []string{"/address/street"}, "this object"},
		{"system field", Create, `{"name":"A","id":"x"}`, []string{"/id"}, "maintained by Rapport"},
		{"read-only", Create, `{"name":"A","secret":"x"}`, []string{"/secret"}, "read-only"},
		{"every error listed", Create, `{"age":"x","phone":"1","zzz":1}`, []string{"/age", "/name", "/phone", "/zzz"}, ""},
		{"unknown null field", Create, `{"name":"A","zzz":null}`, []string{"/zzz"}, "is not a field"},
		{"patch unknown null field", Patch, `{"zzz":null}`, []string{"/zzz"}, "is not a field"},
		{"error inside list item", Create, `{"name":"A","emails":["a@b.ru",5]}`, []string{"/emails/1"}, "email address"},
		{"patch partial ok", Patch, `{"age":30}`, nil, ""},
		{"patch cannot remove required", Patch, `{"name":null}`, []string{"/name"}, "is required"},
		{"patch cannot empty required", Patch, `{"name":""}`, []string{"/name"}, "must not be empty"},
		{"patch checks types", Patch, `{"age":"old"}`, []string{"/age"}, "whole number"},
		{"patch nested partial ok", Patch, `{"address":{"zip":"123"}}`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, err := v.Validate(context.Background(), decode(t, tt.in), tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			got := pointers(errs)
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("pointers = %v, want %v (errors %v)", got, tt.want, errs)
			}
			if tt.message != "" && !strings.Contains(errs[0].Message, tt.message) {
				t.Fatalf("message %q does not contain %q", errs[0].Message, tt.message)
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	v := mustValidator(t, testEntity())
	in := decode(t, `{"name":" Ann ","emails":[" Ann@Example.COM "],"phone":"8 (912) 345-67-89",
		"site":"example.com/x","age":42,"score":3,"seenAt":"2026-01-02T03:04:05+03:00",
		"budget":{"amount":10,"currency":"rub"},"address":{"city":"Moscow"}}`)
	out, errs, err := v.Validate(context.Background(), in, Create)
	if err != nil || len(errs) > 0 {
		t.Fatalf("errors: %v %v", err, errs)
	}
	want := map[string]any{
		"name":    "Ann",
		"emails":  []any{"ann@example.com"},
		"phone":   "+79123456789",
		"site":    "https://example.com/x",
		"age":     int64(42),
		"score":   float64(3),
		"seenAt":  time.Date(2026, 1, 2, 0, 4, 5, 0, time.UTC),
		"budget":  map[string]any{"amount": float64(10), "currency": "RUB"},
		"address": map[string]any{"city": "Moscow"},
		"active":  true,
		"status":  "new",
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("normalised\n got %#v\nwant %#v", out, want)
	}
	keys := v.DedupeKeys(out)
	if len(keys) != 1 || keys[0].Field != "emails" || !reflect.DeepEqual(keys[0].Values, []any{"ann@example.com"}) {
		t.Fatalf("dedupe keys = %#v", keys)
	}
}

func TestValidatePatchRemoval(t *testing.T) {
	v := mustValidator(t, testEntity())
	out, errs, err := v.Validate(context.Background(), decode(t, `{"notes":null,"age":"7"}`), Patch)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Pointer != "/age" {
		t.Fatalf("errs = %v", errs)
	}
	if val, ok := out["notes"]; !ok || val != nil {
		t.Fatalf("removal not kept: %#v", out)
	}
	if _, ok := out["status"]; ok {
		t.Fatalf("patch must not apply defaults: %#v", out)
	}
}

func TestValidateTrustedAndStoredValues(t *testing.T) {
	v := mustValidator(t, testEntity())
	stored := map[string]any{
		"id": "abc", "createdAt": time.Now(), "name": "Ann", "secret": "s",
		"seenAt": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "age": int32(5),
	}
	out, errs, err := v.Validate(context.Background(), stored, Create, Trusted(), IgnoreSystemFields())
	if err != nil || len(errs) > 0 {
		t.Fatalf("errors: %v %v", err, errs)
	}
	if _, ok := out["id"]; ok {
		t.Fatal("system field kept")
	}
	if out["age"] != int64(5) || out["secret"] != "s" {
		t.Fatalf("out = %#v", out)
	}
}

type fakeResolver struct {
	existing map[string]bool
	calls    int
}

func (f *fakeResolver) MissingRefs(_ context.Context, entity string, ids []string) ([]string, error) {
	f.calls++
	var missing []string
	for _, id := range ids {
		if !f.existing[entity+"/"+id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

func TestValidateReferences(t *testing.T) {
	v := mustValidator(t, testEntity())
	r := &fakeResolver{existing: map[string]bool{"company/c1": true}}
	tests := []struct {
		in   string
		want []string
	}{
		{`{"name":"A","company":"c1"}`, nil},
		{`{"name":"A","company":"c2"}`, []string{"/company"}},
	}
	for _, tt := range tests {
		_, errs, err := v.Validate(context.Background(), decode(t, tt.in), Create, WithResolver(r))
		if err != nil {
			t.Fatal(err)
		}
		got := pointers(errs)
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("%s: got %v want %v", tt.in, errs, tt.want)
		}
	}
	if r.calls != 2 {
		t.Fatalf("resolver calls = %d, want 2", r.calls)
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// bsonLikeE mimics bson.E so the test needs no driver import.
type bsonLikeE struct {
	Key   string
	Value any
}

type bsonLikeD []bsonLikeE

type hexID string

func (h hexID) Hex() string { return string(h) }

func TestValidatePatchAgainstStoredRecord(t *testing.T) {
	v := mustValidator(t, testEntity())
	stored := map[string]any{"id": "1", "name": "Ann", "age": int64(3000), "company": hexID("c1"),
		"address": bsonLikeD{{Key: "city", Value: "Paris"}}}
	tests := []struct {
		name  string
		patch string
		want  []string
	}{
		{"nested partial patch merges", `{"address":{"zip":"75001"}}`, nil},
		{"unrelated old problem ignored", `{"notes":"hi"}`, nil},
		{"touched old problem reported", `{"age":3001}`, []string{"/age"}},
		{"nested removal of a required part", `{"address":{"city":null}}`, []string{"/address/city"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, err := v.Validate(context.Background(), decode(t, tt.patch), Patch, WithCurrent(stored))
			if err != nil {
				t.Fatal(err)
			}
			got := pointers(errs)
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", errs, tt.want)
			}
		})
	}
}

func TestValidatorConcurrentUse(t *testing.T) {
	lead, err := NewValidator(builtins(t)["lead"])
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []FieldError)
	for i := 0; i < 4; i++ {
		go func(i int) {
			status := "new"
			if i%2 == 1 {
				status = "disqualified"
			}
			rec := map[string]any{"source": "call", "name": "A", "status": status, "phone": "+7 912 345 67 89"}
			_, errs, _ := lead.Validate(context.Background(), rec, Create)
			done <- errs
		}(i)
	}
	failed := 0
	for i := 0; i < 4; i++ {
		if errs := <-done; len(errs) == 1 && errs[0].Pointer == "/disqualificationReason" {
			failed++
		} else if len(errs) != 0 {
			t.Errorf("unexpected errors %v", errs)
		}
	}
	if failed != 2 {
		t.Fatalf("%d of 4 concurrent validations failed the rule, want 2", failed)
	}
}
