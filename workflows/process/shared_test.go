package process

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
)

func TestSharedModels(t *testing.T) {
	a := &bpmn.Model{ProcessID: "p", Hash: "h1", Variables: []bpmn.VariableDecl{{Name: "n", Type: "int"}}}
	b := &bpmn.Model{ProcessID: "p", Hash: "h2"}
	rawA, _ := json.Marshal(a)
	rawB, _ := json.Marshal(b)

	tests := []struct {
		name      string
		sh        *shared
		first     []byte
		second    []byte
		wantSame  bool
		wantEqual *bpmn.Model
	}{
		{"the same bytes share one model", newShared(), rawA, rawA, true, a},
		{"other bytes get their own", newShared(), rawA, rawB, false, nil},
		{"without sharing each decodes its own", nil, rawA, rawA, false, a},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m1, err := tc.sh.decodeModel(tc.first)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := tc.sh.decodeModel(tc.second)
			if err != nil {
				t.Fatal(err)
			}
			if (m1 == m2) != tc.wantSame {
				t.Fatalf("same pointer = %v, want %v", m1 == m2, tc.wantSame)
			}
			if tc.wantEqual != nil && !reflect.DeepEqual(m2, tc.wantEqual) {
				t.Fatalf("decoded %+v, want %+v", m2, tc.wantEqual)
			}
		})
	}

	t.Run("a model received decoded joins the shared one with its content", func(t *testing.T) {
		sh := newShared()
		first := sh.model(a)
		copyOfA := *a
		if got := sh.model(&copyOfA); got != first {
			t.Fatal("an equal model was not shared")
		}
		if got := sh.model(b); got != b {
			t.Fatal("another model was replaced")
		}
		if got, _ := sh.decodeModel(rawA); got != first {
			t.Fatal("the model loaded by the activity is not the one received decoded")
		}
		if (*shared)(nil).model(a) != a {
			t.Fatal("without sharing the model must stay the instance's own")
		}
	})

	t.Run("bad JSON is an error", func(t *testing.T) {
		if _, err := newShared().decodeModel([]byte(`{"nodes": 1}`)); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestSharedExpressions(t *testing.T) {
	intModel := &bpmn.Model{Variables: []bpmn.VariableDecl{{Name: "n", Type: "int"}}}
	strModel := &bpmn.Model{Variables: []bpmn.VariableDecl{{Name: "n", Type: "string"}}}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	sh := newShared()

	x1 := newExprs(intModel, true, nil, sh)
	x2 := newExprs(intModel, true, nil, sh)
	v1, err := x1.eval("=n + 1", map[string]any{"n": 1}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := x2.eval("=n + 1", map[string]any{"n": 41}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if v1 != 2 || v2 != 42 {
		t.Fatalf("got %v and %v, want 2 and 42: a shared program must read each instance's variables", v1, v2)
	}
	if x1.progs["n + 1"] != x2.progs["n + 1"] || x1.env != x2.env || x1.declEnv != x2.declEnv {
		t.Fatal("two instances of one model compiled the same expression twice")
	}

	// A variable the other instance does not have changes the environment: its own program.
	x3 := newExprs(intModel, true, nil, sh)
	if _, err := x3.eval("=n + 1", map[string]any{"n": 1, "extra": "x"}, nil, now); err != nil {
		t.Fatal(err)
	}
	if x3.env == x1.env || x3.progs["n + 1"] == x1.progs["n + 1"] {
		t.Fatal("instances with different variables share an environment")
	}

	// Same source, other declared type: never the int model's program.
	xs := newExprs(strModel, true, nil, sh)
	if v, err := xs.eval(`=n + "!"`, map[string]any{"n": "hi"}, nil, now); err != nil || v != "hi!" {
		t.Fatalf("string model: %v, %v", v, err)
	}
	if _, err := xs.eval("=n + 1", map[string]any{"n": "hi"}, nil, now); err == nil {
		t.Fatal("n + 1 compiled for a string n: the int model's program was reused")
	}

	// Business calendars are the instance's own state: its environment is not shared.
	cals := compileCalendars([]calendar.Spec{{Name: "support", TimeZone: "UTC", Hours: map[string][]calendar.Interval{"mon": {{Start: "09:00", End: "18:00"}}}}})
	xc1 := newExprs(intModel, true, cals, sh)
	xc2 := newExprs(intModel, true, cals, sh)
	for _, x := range []*exprs{xc1, xc2} {
		if _, err := x.eval("=n + 1", map[string]any{"n": 1}, nil, now); err != nil {
			t.Fatal(err)
		}
	}
	if xc1.env == xc2.env || xc1.envFP != "" {
		t.Fatal("an environment with calendars was shared")
	}

	// Instances run in their own goroutines on a worker.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := newExprs(intModel, true, nil, sh)
			for j := range 50 {
				v, err := x.eval("=n * 2", map[string]any{"n": i*100 + j}, nil, now)
				if err != nil || v != (i*100+j)*2 {
					t.Errorf("concurrent eval: %v, %v", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
