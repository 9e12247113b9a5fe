package stack

import (
	"bytes"
	"testing"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/schemas"
	"github.com/rapportcrm/rapport/workflows/services"
)

// TestProcessTemplatesValidateWithoutWarnings compiles every shipped process template against the
// built-in entity schemas, as publishing does, and refuses problems and warnings alike: every variable
// a template reads is declared.
func TestProcessTemplatesValidateWithoutWarnings(t *testing.T) {
	entities, err := schemas.Entities()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]*expression.Type{}
	for _, d := range entities {
		e, err := schema.Parse(d.JSON)
		if err != nil {
			t.Fatal(err)
		}
		types[e.Name] = expression.ObjectOf(schema.EnvFor(e).Vars())
	}
	lookup := func(entity string) (*expression.Type, bool) { t, ok := types[entity]; return t, ok }
	procs, err := schemas.Processes()
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 4 {
		t.Errorf("%d process templates, want 4", len(procs))
	}
	for _, d := range procs {
		t.Run(d.Name, func(t *testing.T) {
			defs, err := bpmn.Parse(bytes.NewReader(d.JSON), 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			model, problems := bpmn.CompileWith(defs, bpmn.Options{CheckExpr: bpmn.DefaultExprChecker(lookup), TaskTypes: services.CRMTaskTypes()})
			for _, p := range problems {
				t.Errorf("problem at %s: %s", p.ElementID, p.Reason)
			}
			if model == nil {
				return
			}
			if model.ProcessID != d.Name {
				t.Errorf("process id %q in %s.bpmn", model.ProcessID, d.Name)
			}
			for _, w := range model.Warnings {
				t.Errorf("warning at %s: %s", w.ElementID, w.Reason)
			}
		})
	}
}
