package schema

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/rapportcrm/rapport/schemas"
)

func builtins(t testing.TB) map[string]Entity {
	t.Helper()
	list, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Entity{}
	for _, e := range list {
		out[e.Name] = e
	}
	if defs, _ := schemas.Entities(); len(defs) != len(out) {
		t.Fatalf("%d definitions embedded, %d loaded", len(defs), len(out))
	}
	return out
}

// TestBuiltinEntities checks every shipped definition and that a typical
// record of each validates, so a broken JSON file fails the build.
func TestBuiltinEntities(t *testing.T) {
	ents := builtins(t)
	var names []string
	for n := range ents {
		names = append(names, n)
	}
	records := map[string]string{
		"company":     `{"name":"ООО Ромашка","taxId":"7707083893","website":"romashka.ru","addresses":[{"kind":"legal","city":"Москва"}]}`,
		"contact":     `{"firstName":"Иван","emails":["Ivan@Example.com"],"phones":["+7 912 345-67-89"],"consents":{"email":{"granted":true,"at":"2026-01-01T00:00:00Z"}}}`,
		"lead":        `{"source":"webForm","name":"Ivan","email":"ivan@example.com","budget":{"amount":1000,"currency":"RUB"}}`,
		"deal":        `{"name":"Big deal","amount":{"amount":5000,"currency":"EUR"},"expectedCloseDate":"2026-03-01"}`,
		"interaction": `{"type":"call","direction":"outbound","occurredAt":"2026-01-02T10:00:00+03:00","summary":"Discussed prices"}`,
		"task":        `{"title":"Call back","dueAt":"2026-01-03T09:00:00Z"}`,
		"complaint":   `{"channel":"phone","subject":"Late delivery","satisfactionScore":4}`,
		"order":       `{"number":"A-1","date":"2026-01-02","amount":{"amount":10,"currency":"RUB"},"lines":[{"product":"Tea","quantity":2}]}`,
	}
	for name, e := range ents {
		if err := Check(e, names); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		v, err := NewValidator(e)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rec, ok := records[name]
		if !ok {
			t.Errorf("no sample record for %s", name)
			continue
		}
		if _, errs, err := v.Validate(context.Background(), decode(t, rec), Create); err != nil || len(errs) > 0 {
			t.Errorf("%s sample: %v %v", name, err, errs)
		}
		if f := e.Field("owner"); f == nil || f.Ref != RefUser {
			t.Errorf("%s has no owner reference to users", name)
		}
	}
	lead := ents["lead"]
	if st := lead.Field("status"); st == nil || len(st.Options) != 5 || st.Default != "new" {
		t.Errorf("lead status = %+v", st)
	}
	if ents["contact"].DedupeKeys[0] != "emails" || ents["company"].DedupeKeys[0] != "taxId" {
		t.Error("dedupe keys of contact/company changed")
	}
}

// TestUpgrade adds what a newer shipped definition has and keeps every edit of the installed one.
func TestUpgrade(t *testing.T) {
	enum := func(name string, values ...string) Field {
		f := Field{Name: name, Type: TypeEnum}
		for _, v := range values {
			f.Options = append(f.Options, Option{Value: v, Label: Label{En: v}})
		}
		return f
	}
	str := func(name string, required bool) Field { return Field{Name: name, Type: TypeString, Required: required} }
	cases := []struct {
		name               string
		installed, shipped []Field
		want               []Field
		added              []string
	}{
		{"same", []Field{str("a", true), enum("s", "x")}, []Field{str("a", true), enum("s", "x")},
			[]Field{str("a", true), enum("s", "x")}, nil},
		{"new field is added optional", []Field{str("a", true)}, []Field{str("a", true), str("b", true)},
			[]Field{str("a", true), str("b", false)}, []string{"field b"}},
		{"new option is appended after the analyst's", []Field{enum("s", "x", "mine")}, []Field{enum("s", "x", "erp")},
			[]Field{enum("s", "x", "mine", "erp")}, []string{"s: option erp"}},
		{"analyst's field and type stay", []Field{str("s", false), str("own", true)}, []Field{enum("s", "x")},
			[]Field{str("s", false), str("own", true)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			installed := Entity{Name: "e", Version: 3, Fields: c.installed}
			before := fmt.Sprint(installed)
			got, added := Upgrade(installed, Entity{Name: "e", Fields: c.shipped})
			if !reflect.DeepEqual(got.Fields, c.want) || !reflect.DeepEqual(added, c.added) || got.Version != 3 {
				t.Errorf("got %+v %v, want %+v %v", got.Fields, added, c.want, c.added)
			}
			if fmt.Sprint(installed) != before {
				t.Errorf("the installed entity was changed: %v", installed)
			}
		})
	}
}

// TestCadenceKeepsNextFollowUp: the follow-up cadence owns nextFollowUpAt (a bulk start reads its absence
// as "no cadence yet"), so neither a user's edit nor a merge filling the survivor's empty fields may set it.
func TestCadenceKeepsNextFollowUp(t *testing.T) {
	ents := builtins(t)
	for _, name := range []string{"contact", "deal"} {
		e := ents[name]
		f := e.Field("nextFollowUpAt")
		if f == nil || !f.ReadOnly {
			t.Errorf("%s.nextFollowUpAt: %+v, want a read-only field", name, f)
		}
	}
}
