package records_test

import (
	"reflect"
	"testing"

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
	}}
	noSalary := func(field string, _ any) bool { return field != "salary" }
	cases := []struct {
		name                string
		survivor, duplicate map[string]any
		explicit            map[string]any
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
		{name: "explicit values win",
			survivor: map[string]any{"position": "CEO"}, duplicate: map[string]any{"position": "Buyer", "company": "c1"},
			explicit: map[string]any{"position": "CTO", "company": nil},
			want:     map[string]any{"position": "CTO", "company": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := records.FillFields(e, c.survivor, c.duplicate, c.explicit, noSalary); !reflect.DeepEqual(got, c.want) {
				t.Errorf("FillFields = %v, want %v", got, c.want)
			}
		})
	}
}
