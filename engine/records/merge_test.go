package records_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/schema"
)

// TestFillFields: what a merge writes on the survivor, field by field.
func TestFillFields(t *testing.T) {
	ten := 10
	two := 2
	e := schema.Entity{Name: "contact", DedupeKeys: []string{"emails", "phones"}, Fields: []schema.Field{
		{Name: "firstName", Type: schema.TypeString},
		{Name: "position", Type: schema.TypeString},
		{Name: "company", Type: schema.TypeReference, Ref: "company"},
		{Name: "emails", Type: schema.TypeList, MaxLength: &ten, Item: &schema.Field{Type: schema.TypeEmail}},
		{Name: "phones", Type: schema.TypeList, MaxLength: &two, Item: &schema.Field{Type: schema.TypePhone}},
		{Name: "tags", Type: schema.TypeList, Item: &schema.Field{Type: schema.TypeString}},
		{Name: "score", Type: schema.TypeInteger},
		{Name: "vip", Type: schema.TypeBoolean},
		{Name: "fullName", Type: schema.TypeString, Computed: `firstName + " "`},
		{Name: "segment", Type: schema.TypeString, ReadOnly: true},
		{Name: "salary", Type: schema.TypeInteger},
		{Name: "complaints", Type: schema.TypeInteger, Merge: schema.MergeSum},
		{Name: "orders", Type: schema.TypeInteger, ReadOnly: true, Merge: schema.MergeSum},
		{Name: "orderTotal", Type: schema.TypeMoney, ReadOnly: true, Merge: schema.MergeSum},
		{Name: "share", Type: schema.TypeDecimal, Merge: schema.MergeSum},
		{Name: "lastCsat", Type: schema.TypeInteger, Merge: schema.MergeLatest},
		{Name: "lastSlaMet", Type: schema.TypeBoolean, Merge: schema.MergeLatest},
	}}
	noSalary := func(field string, _ any) bool { return field != "salary" }
	cases := []struct {
		name                string
		survivor, duplicate map[string]any
		explicit            map[string]any
		newer               map[string]bool
		want                map[string]any
	}{
		{name: "an empty field takes the duplicate's value",
			survivor: map[string]any{"firstName": "Ann", "position": ""}, duplicate: map[string]any{"firstName": "Anna", "position": "Buyer", "company": "c1"},
			want: map[string]any{"position": "Buyer", "company": "c1"}},
		{name: "a field the survivor has keeps its value",
			survivor: map[string]any{"position": "CEO", "score": int64(0), "vip": false}, duplicate: map[string]any{"position": "Buyer", "score": int64(7), "vip": true},
			want: map[string]any{}},
		{name: "nothing to take from an empty duplicate field",
			survivor: map[string]any{}, duplicate: map[string]any{"position": "", "tags": []any{}},
			want: map[string]any{}},
		{name: "a list dedupe key takes the duplicate's values after the survivor's",
			survivor: map[string]any{"emails": []any{"a@x.test"}}, duplicate: map[string]any{"emails": []any{"b@x.test", "a@x.test"}},
			want: map[string]any{"emails": []any{"a@x.test", "b@x.test"}}},
		{name: "as far as the list's maxLength allows",
			survivor: map[string]any{"phones": []any{"+1", "+2"}}, duplicate: map[string]any{"phones": []any{"+3"}},
			want: map[string]any{}},
		{name: "a list that is no dedupe key is only filled when empty",
			survivor: map[string]any{"tags": []any{"a"}}, duplicate: map[string]any{"tags": []any{"b"}},
			want: map[string]any{}},
		{name: "computed and read-only fields are left to their owners",
			survivor: map[string]any{}, duplicate: map[string]any{"fullName": "Anna ", "segment": "at risk"},
			want: map[string]any{}},
		{name: "a field the writer may not write is not filled",
			survivor: map[string]any{}, duplicate: map[string]any{"salary": int64(100)},
			want: map[string]any{}},
		{name: "counts and totals with merge sum add up, read-only ones too",
			survivor:  map[string]any{"complaints": int64(2), "orders": int32(3), "orderTotal": map[string]any{"amount": 100.5, "currency": "RUB"}, "share": 0.25},
			duplicate: map[string]any{"complaints": int64(1), "orders": int64(4), "orderTotal": map[string]any{"amount": int64(50), "currency": "rub"}, "share": 0.5},
			want:      map[string]any{"complaints": int64(3), "orders": int64(7), "orderTotal": map[string]any{"amount": 150.5, "currency": "RUB"}, "share": 0.75}},
		{name: "a sum into an empty field takes the duplicate's value",
			survivor: map[string]any{}, duplicate: map[string]any{"orders": int64(4), "complaints": int64(0)},
			want: map[string]any{"orders": int64(4), "complaints": int64(0)}},
		{name: "totals in two currencies keep the survivor's",
			survivor: map[string]any{"orderTotal": map[string]any{"amount": 10.0, "currency": "RUB"}}, duplicate: map[string]any{"orderTotal": map[string]any{"amount": 1.0, "currency": "USD"}},
			want: map[string]any{}},
		{name: "a last value set later in the duplicate replaces the survivor's",
			survivor: map[string]any{"lastCsat": int64(5), "lastSlaMet": true}, duplicate: map[string]any{"lastCsat": int64(2), "lastSlaMet": false},
			newer: map[string]bool{"lastCsat": true, "lastSlaMet": true},
			want:  map[string]any{"lastCsat": int64(2), "lastSlaMet": false}},
		{name: "a last value set earlier in the duplicate keeps the survivor's",
			survivor: map[string]any{"lastCsat": int64(5), "lastSlaMet": true}, duplicate: map[string]any{"lastCsat": int64(2), "lastSlaMet": false},
			newer: map[string]bool{"lastSlaMet": true},
			want:  map[string]any{"lastSlaMet": false}},
		{name: "a last value fills an empty one",
			survivor: map[string]any{}, duplicate: map[string]any{"lastCsat": int64(3)},
			want: map[string]any{"lastCsat": int64(3)}},
		{name: "explicit values win",
			survivor: map[string]any{"position": "CEO"}, duplicate: map[string]any{"position": "Buyer", "company": "c1"},
			explicit: map[string]any{"position": "CTO", "company": nil},
			want:     map[string]any{"position": "CTO", "company": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := records.FillFields(e, c.survivor, c.duplicate, c.explicit, c.newer, noSalary); !reflect.DeepEqual(got, c.want) {
				t.Errorf("FillFields = %v, want %v", got, c.want)
			}
		})
	}
}

// TestMergeKeepsTheLatestValue: a field with merge "latest" (the contact's last CSAT and last
// complaint's SLA) keeps the value set last, whichever record holds it: the duplicate's when its history
// shows it set after the survivor's, the survivor's otherwise; a field without it keeps the survivor's.
func TestMergeKeepsTheLatestValue(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	clock := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	s := records.New(db, records.Options{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}})
	tag := fmt.Sprint(time.Now().UnixNano())
	create := func(name string, fields map[string]any) string {
		t.Helper()
		rec := map[string]any{"firstName": name, "emails": []any{name + tag + "@example.test"}}
		maps.Copy(rec, fields)
		res, err := s.Create(ctx, "contact", rec, actor)
		if err != nil {
			t.Fatal(err)
		}
		return res.Record["id"].(string)
	}
	merge := func(survivor, duplicate string) records.Record {
		t.Helper()
		res, err := s.Merge(ctx, records.MergeRequest{Entity: "contact", SurvivorID: survivor, DuplicateID: duplicate}, actor)
		if err != nil {
			t.Fatal(err)
		}
		return res.Record
	}

	// The duplicate's rating came later: it wins; the survivor's position (no merge kind) stays.
	surv := create("older", map[string]any{"lastCsat": 5, "lastComplaintSlaMet": true, "position": "CEO"})
	dup := create("newer", map[string]any{"lastCsat": 2, "lastComplaintSlaMet": false, "position": "Buyer"})
	got := merge(surv, dup)
	if got["lastCsat"] != int64(2) || got["lastComplaintSlaMet"] != false || got["position"] != "CEO" {
		t.Errorf("merged into the older record: lastCsat %v, lastComplaintSlaMet %v, position %v; want 2, false, CEO",
			got["lastCsat"], got["lastComplaintSlaMet"], got["position"])
	}

	// The survivor was rated again after the duplicate: its rating stays; the duplicate's SLA outcome,
	// changed after the survivor's was set, wins.
	dup = create("dup2", map[string]any{"lastCsat": 1, "lastComplaintSlaMet": false})
	surv = create("surv2", map[string]any{"lastCsat": 3, "lastComplaintSlaMet": false})
	for _, p := range []struct {
		id     string
		fields map[string]any
	}{{surv, map[string]any{"lastCsat": 4}}, {dup, map[string]any{"lastComplaintSlaMet": true}}, {dup, map[string]any{"firstName": "dup2b"}}} {
		if _, err := s.Patch(ctx, "contact", p.id, p.fields, actor); err != nil {
			t.Fatal(err)
		}
	}
	got = merge(surv, dup)
	if got["lastCsat"] != int64(4) || got["lastComplaintSlaMet"] != true {
		t.Errorf("merged into the re-rated record: lastCsat %v, lastComplaintSlaMet %v; want 4 (the survivor's, set last) and true (the duplicate's, set last)",
			got["lastCsat"], got["lastComplaintSlaMet"])
	}
}
