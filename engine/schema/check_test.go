package schema

import (
	"errors"
	"reflect"
	"testing"
)

func TestCheckDefinitionProblems(t *testing.T) {
	base := func(fields ...Field) Entity {
		return Entity{Name: "thing", Label: Label{En: "Thing"}, Fields: fields}
	}
	tests := []struct {
		name string
		e    Entity
		want []string
	}{
		{"ok", base(Field{Name: "a", Type: TypeString}), nil},
		{"unknown type", base(Field{Name: "a", Type: "strng"}), []string{"/fields/0/type"}},
		{"enum without options", base(Field{Name: "a", Type: TypeEnum}), []string{"/fields/0/options"}},
		{"bad pattern", base(Field{Name: "a", Type: TypeString, Pattern: "("}), []string{"/fields/0/pattern"}},
		{"unknown ref", base(Field{Name: "a", Type: TypeReference, Ref: "nope"}), []string{"/fields/0/ref"}},
		{"known refs", base(Field{Name: "a", Type: TypeReference, Ref: "company"}, Field{Name: "u", Type: TypeReference, Ref: RefUser}, Field{Name: "s", Type: TypeReference, Ref: "thing"}), nil},
		{"duplicate names", base(Field{Name: "a", Type: TypeString}, Field{Name: "a", Type: TypeText}), []string{"/fields/1/name"}},
		{"system name", base(Field{Name: "createdAt", Type: TypeDateTime}), []string{"/fields/0/name"}},
		{"bad name", base(Field{Name: "First Name", Type: TypeString}), []string{"/fields/0/name"}},
		{"min over max", base(Field{Name: "a", Type: TypeInteger, Min: ptrF(5), Max: ptrF(1)}), []string{"/fields/0/min"}},
		{"length on integer", base(Field{Name: "a", Type: TypeInteger, MaxLength: ptrI(3)}), []string{"/fields/0/maxLength"}},
		{"list without item", base(Field{Name: "a", Type: TypeList}), []string{"/fields/0/item"}},
		{"nested problem", base(Field{Name: "a", Type: TypeObject, Fields: []Field{{Name: "b", Type: "x"}}}), []string{"/fields/0/fields/0/type"}},
		{"bad default", base(Field{Name: "a", Type: TypeInteger, Default: "x"}), []string{"/fields/0/default"}},
		{"enum default not an option", base(Field{Name: "a", Type: TypeEnum, Options: []Option{{Value: "x"}}, Default: "y"}), []string{"/fields/0/default"}},
		{"rule without message", base(Field{Name: "a", Type: TypeString, Rules: []Rule{{Expr: "true"}}}), []string{"/fields/0/rules/0/message"}},
		{"bad dedupe key", Entity{Name: "thing", Label: Label{En: "T"}, Fields: []Field{{Name: "a", Type: TypeBoolean}}, DedupeKeys: []string{"a", "b"}}, []string{"/dedupeKeys/0", "/dedupeKeys/1"}},
		{"bad entity name", Entity{Name: "Bad-Name", Label: Label{En: "T"}, Fields: []Field{{Name: "a", Type: TypeString}}}, []string{"/name"}},
		{"merge sum on numbers", base(Field{Name: "n", Type: TypeInteger, Merge: MergeSum}, Field{Name: "d", Type: TypeDecimal, Merge: MergeSum}, Field{Name: "m", Type: TypeMoney, Merge: MergeSum}), nil},
		{"merge sum on a string", base(Field{Name: "a", Type: TypeString, Merge: MergeSum}), []string{"/fields/0/merge"}},
		{"unknown merge", base(Field{Name: "a", Type: TypeInteger, Merge: "max"}), []string{"/fields/0/merge"}},
		{"merge sum on a computed field", base(Field{Name: "a", Type: TypeInteger, Computed: "1", Merge: MergeSum}), []string{"/fields/0/merge"}},
		{"merge latest on any type", base(Field{Name: "r", Type: TypeInteger, Merge: MergeLatest}, Field{Name: "b", Type: TypeBoolean, Merge: MergeLatest}, Field{Name: "s", Type: TypeString, Merge: MergeLatest}), nil},
		{"merge latest on a computed field", base(Field{Name: "a", Type: TypeInteger, Computed: "1", Merge: MergeLatest}), []string{"/fields/0/merge"}},
		{"all problems at once", base(Field{Name: "a", Type: "x"}, Field{Name: "b", Type: TypeEnum}), []string{"/fields/0/type", "/fields/1/options"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.e, []string{"company"})
			var got []string
			if err != nil {
				var de *DefinitionError
				if !errors.As(err, &de) {
					t.Fatalf("error %T is not a *DefinitionError", err)
				}
				got = pointers(de.Problems)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	if _, err := Parse([]byte(`{"name":"x","label":"X","fields":[{"name":"a","type":"string","requried":true}]}`)); err == nil {
		t.Fatal("typo in a definition key was accepted")
	}
	e, err := Parse([]byte(`{"name":"x","label":"X","fields":[{"name":"a","type":"integer","default":3}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Label.En != "X" || e.Fields[0].Default != int64(3) {
		t.Fatalf("parsed %+v", e)
	}
}
