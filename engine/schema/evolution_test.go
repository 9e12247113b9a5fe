package schema

import (
	"context"
	"errors"
	"iter"
	"strings"
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
		{"added up on merge", change(func(e *Entity) { e.Fields[2].Merge = MergeSum }), MergeChanged, "age", false},
		{"latest kept on merge", change(func(e *Entity) { e.Fields[2].Merge = MergeLatest }), MergeChanged, "age", false},
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
	names := map[string]IndexSpec{}
	for _, ix := range got {
		names[ix.Name] = ix
	}
	if ix := got[0]; ix.Name != "taxId_1" || !ix.Unique || !ix.Sparse {
		t.Fatalf("the first company index is %+v, want the unique taxId", ix)
	}
	for _, n := range []string{"updatedAt_-1__id_-1", "createdAt_-1__id_-1", "owner_1_updatedAt_-1__id_-1", "team_1_createdAt_-1__id_-1",
		"loyaltyStage_1__id_1", "owner_1_loyaltyStage_1_updatedAt_-1__id_-1"} {
		if _, ok := names[n]; !ok {
			t.Errorf("company lacks index %s: %v", n, got)
		}
	}
	lead := map[string]bool{}
	for _, ix := range Indexes(ents["lead"]) {
		lead[ix.Name] = true
	}
	for _, n := range []string{"status_1_updatedAt_-1__id_-1", "contact_1_createdAt_-1__id_-1", "company_1__id_1", "deal_1_updatedAt_-1__id_-1",
		"owner_1_status_1_updatedAt_-1__id_-1"} {
		if !lead[n] {
			t.Errorf("lead lacks index %s", n)
		}
	}
	for n := range lead {
		if strings.HasPrefix(n, "source_") || strings.HasPrefix(n, "timeline_") {
			t.Errorf("a non-status enum got an index: %s", n)
		}
	}
	order := map[string]bool{}
	for _, ix := range Indexes(ents["order"]) {
		order[ix.Name] = ix.Unique
	}
	if u, ok := order["number_1"]; !ok || !u {
		t.Errorf("order indexes = %v", order)
	}
	if _, ok := order["externalId_1_updatedAt_-1__id_-1"]; !ok {
		t.Errorf("order lacks its externalId look-up: %v", order)
	}
	timeline := map[string]bool{}
	for _, ix := range Indexes(ents["interaction"], IndexKey{"occurredAt", -1}) {
		timeline[ix.Name] = true
	}
	if !timeline["contact_1_occurredAt_-1__id_-1"] {
		t.Errorf("interaction lacks the timeline index: %v", timeline)
	}
	if n := len(Indexes(ents["lead"])); n > 40 {
		t.Errorf("lead has %d indexes; MongoDB allows 64 and every one costs on each write", n)
	}
	sortable := SortableFields(ents["lead"])
	if sortable[0] != "id" || !contains(sortable, "updatedAt") || !contains(sortable, "status") || contains(sortable, "name") {
		t.Errorf("sortable = %v", sortable)
	}
	for _, v := range ListViews(ents["lead"]) {
		keys := v.Index()
		if last := keys[len(keys)-1]; last.Field != "_id" || last.Order != v.Sort.Order {
			t.Errorf("view %+v: index %v does not end with _id in the sort's direction", v, keys)
		}
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
