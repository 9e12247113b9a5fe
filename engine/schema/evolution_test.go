package schema

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"testing"
)

func TestCompare(t *testing.T) {
	base := testEntity()
	change := func(fn func(e *Entity)) Entity {
		e := testEntity()
		fn(&e)
		return e
	}
	tests := []struct {
		name     string
		new      Entity
		kind     ChangeKind
		field    string
		breaking bool
	}{
		{"optional field added", change(func(e *Entity) { e.Fields = append(e.Fields, Field{Name: "x", Type: TypeString}) }), FieldAdded, "x", false},
		{"required field without default", change(func(e *Entity) { e.Fields = append(e.Fields, Field{Name: "x", Type: TypeString, Required: true}) }), FieldAdded, "x", true},
		{"required field with default", change(func(e *Entity) {
			e.Fields = append(e.Fields, Field{Name: "x", Type: TypeString, Required: true, Default: "a"})
		}), FieldAdded, "x", false},
		{"field removed", change(func(e *Entity) { e.Fields = e.Fields[1:] }), FieldRemoved, "name", true},
		{"type change", change(func(e *Entity) { e.Fields[2].Type = TypeString; e.Fields[2].Min, e.Fields[2].Max = nil, nil }), TypeChanged, "age", true},
		{"type widening", change(func(e *Entity) { e.Fields[2].Type = TypeDecimal }), TypeChanged, "age", false},
		{"becomes required", change(func(e *Entity) { e.Fields[1].Required = true }), RequiredAdded, "notes", true},
		{"max falls", change(func(e *Entity) { e.Fields[2].Max = ptrF(100) }), ConstraintTightened, "age", true},
		{"max rises", change(func(e *Entity) { e.Fields[2].Max = ptrF(200) }), ConstraintRelaxed, "age", false},
		{"max length falls", change(func(e *Entity) { e.Fields[0].MaxLength = ptrI(5) }), ConstraintTightened, "name", true},
		{"pattern added", change(func(e *Entity) { e.Fields[1].Pattern = "^a" }), ConstraintTightened, "notes", true},
		{"option removed", change(func(e *Entity) { e.Fields[8].Options = e.Fields[8].Options[:1] }), OptionRemoved, "status", true},
		{"option added", change(func(e *Entity) { e.Fields[8].Options = append(e.Fields[8].Options, Option{Value: "x"}) }), OptionAdded, "status", false},
		{"rule added", change(func(e *Entity) { e.Fields[0].Rules = []Rule{{Expr: "name != \"x\"", Message: Label{En: "m"}}} }), RuleAdded, "name", true},
		{"unique added", change(func(e *Entity) { e.Fields[0].Unique = true }), UniqueAdded, "name", true},
		{"nested max length", change(func(e *Entity) {
			e.Fields[15].Fields = []Field{{Name: "city", Type: TypeString, Required: true}, {Name: "zip", Type: TypeString, MaxLength: ptrI(3)}}
		}), ConstraintTightened, "address.zip", true},
		{"label only", change(func(e *Entity) { e.Fields[0].Label = Label{En: "Full name"} }), PresentationChanged, "name", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := Compare(base, tt.new)
			if len(changes) != 1 {
				t.Fatalf("got %d changes: %+v", len(changes), changes)
			}
			c := changes[0]
			if c.Kind != tt.kind || c.Field != tt.field || c.Breaking != tt.breaking || c.Message == "" {
				t.Fatalf("got %+v", c)
			}
			if got := len(Breaking(changes)) == 1; got != tt.breaking {
				t.Fatalf("Breaking() disagrees")
			}
		})
	}
	if c := Compare(base, testEntity()); len(c) != 0 {
		t.Fatalf("identical versions differ: %+v", c)
	}
}

func records(recs ...map[string]any) iter.Seq2[map[string]any, error] {
	return func(yield func(map[string]any, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

func TestCountViolations(t *testing.T) {
	e := testEntity()
	e.Version = 2
	e.Fields[0].MaxLength = ptrI(3)
	e.Fields = append(e.Fields, Field{Name: "region", Type: TypeString, Required: true})
	v := mustValidator(t, e)
	stored := []map[string]any{
		{"id": "1", "name": "Ann", "region": "EU", "createdAt": "2026-01-01T00:00:00Z"},
		{"id": "2", "name": "Annabel", "region": "EU"},
		{"id": "3", "name": "Bob"},
		{"id": "4", "name": "Clementine"},
	}
	d, err := CountViolations(context.Background(), v, records(stored...), 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.Checked != 4 || d.Violating != 3 || len(d.Examples) != 2 {
		t.Fatalf("dry run = %+v", d)
	}
	if d.Examples[0].ID != "2" || d.Examples[0].Errors[0].Pointer != "/name" || d.Examples[1].Errors[0].Pointer != "/region" {
		t.Fatalf("examples = %+v", d.Examples)
	}
	boom := errors.New("cursor failed")
	failing := func(yield func(map[string]any, error) bool) { yield(nil, boom) }
	if _, err := CountViolations(context.Background(), v, failing, 1); !errors.Is(err, boom) {
		t.Fatalf("iterator error lost: %v", err)
	}
}

func TestIndexes(t *testing.T) {
	ents := builtins(t)
	got := Indexes(ents["company"])
	names := make([]string, len(got))
	for i, ix := range got {
		names[i] = ix.Name
	}
	want := []string{"updatedAt_-1", "createdAt_-1", "owner_1_updatedAt_-1", "taxId_1", "loyaltyStage_1", "segment_1", "owner_1", "team_1"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("company indexes = %v, want %v", names, want)
	}
	if !got[3].Unique || !got[3].Sparse {
		t.Fatalf("taxId index = %+v", got[3])
	}
	lead := map[string]bool{}
	for _, ix := range Indexes(ents["lead"]) {
		lead[ix.Name] = true
	}
	for _, n := range []string{"status_1", "contact_1", "company_1", "deal_1", "owner_1"} {
		if !lead[n] {
			t.Errorf("lead lacks index %s", n)
		}
	}
	if lead["source_1"] || lead["timeline_1"] {
		t.Error("non-status enums got an index")
	}
	order := map[string]bool{}
	for _, ix := range Indexes(ents["order"]) {
		order[ix.Name] = ix.Unique
	}
	if u, ok := order["number_1"]; !ok || !u || !func() bool { _, ok := order["externalId_1"]; return ok }() {
		t.Errorf("order indexes = %v", order)
	}
	sortable := SortableFields(ents["lead"])
	if sortable[0] != "id" || !contains(sortable, "updatedAt") || !contains(sortable, "status") || contains(sortable, "name") {
		t.Errorf("sortable = %v", sortable)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRegistryCachesPerVersion(t *testing.T) {
	r := NewRegistry()
	e := testEntity()
	v1, err := r.Validator(e)
	if err != nil {
		t.Fatal(err)
	}
	v1b, _ := r.Validator(e)
	if v1 != v1b {
		t.Fatal("same version compiled twice")
	}
	e.Version = 2
	v2, _ := r.Validator(e)
	if v2 == v1 {
		t.Fatal("new version served from the old cache entry")
	}
	r.Forget(e.Name)
	if v, _ := r.Validator(e); v == v2 {
		t.Fatal("Forget kept the entry")
	}
	e.Version = 0
	d1, _ := r.Validator(e)
	d2, _ := r.Validator(e)
	if d1 == d2 {
		t.Fatal("drafts must not be cached")
	}
	bad := testEntity()
	bad.Version = 9
	bad.Fields[0].Rules = []Rule{{Expr: "nope > 1", Message: Label{En: "m"}}}
	if _, err := r.Validator(bad); err == nil {
		t.Fatal("bad expression compiled")
	}
}
