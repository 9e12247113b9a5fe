package schemas

import (
	"encoding/json"
	"testing"
)

func TestEntitiesAreNamedJSON(t *testing.T) {
	defs, err := Entities()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"company", "complaint", "contact", "deal", "interaction", "lead", "order", "task"}
	if len(defs) != len(want) {
		t.Fatalf("got %d entities, want %d", len(defs), len(want))
	}
	for i, d := range defs {
		if d.Name != want[i] {
			t.Errorf("entity %d = %q, want %q", i, d.Name, want[i])
		}
		var head struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(d.JSON, &head); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
		if head.Name != d.Name {
			t.Errorf("%s.json declares name %q", d.Name, head.Name)
		}
	}
}

func TestRulesAreNamedByKey(t *testing.T) {
	defs, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) == 0 {
		t.Fatal("no default rule sets")
	}
	for _, d := range defs {
		var head struct {
			Key string `json:"key"`
		}
		if err := json.Unmarshal(d.JSON, &head); err != nil {
			t.Errorf("%s: %v", d.Name, err)
		}
		if head.Key != d.Name {
			t.Errorf("%s.json declares key %q", d.Name, head.Key)
		}
	}
}
