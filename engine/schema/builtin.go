package schema

import (
	"fmt"
	"slices"

	"github.com/rapportcrm/rapport/schemas"
)

// Builtin parses and checks the entity definitions Rapport ships (package
// schemas), sorted by name, ready to be installed on first start.
func Builtin() ([]Entity, error) {
	defs, err := schemas.Entities()
	if err != nil {
		return nil, fmt.Errorf("load built-in entities: %w", err)
	}
	out := make([]Entity, 0, len(defs))
	names := make([]string, 0, len(defs))
	for _, d := range defs {
		e, err := Parse(d.JSON)
		if err != nil {
			return nil, fmt.Errorf("built-in entity %s: %w", d.Name, err)
		}
		out = append(out, e)
		names = append(names, e.Name)
	}
	for _, e := range out {
		if err := Check(e, names); err != nil {
			return nil, fmt.Errorf("built-in entity %s: %w", e.Name, err)
		}
	}
	return out, nil
}

// Upgrade adds to an installed built-in entity what a newer Rapport ships in it and the installed one
// lacks — top-level fields, and options of enum fields both have — so the shipped processes, which
// write those fields and values, keep working on an existing install. Nothing the installed definition
// has is changed or removed: an analyst's edits stay. It returns the upgraded entity and what it added
// ("field externalId", "source: option erp"); none added means there is nothing to save. An added field
// is optional even when the shipped one is required, because the records stored so far lack it.
func Upgrade(installed, shipped Entity) (Entity, []string) {
	out := installed
	out.Fields = append([]Field(nil), installed.Fields...)
	var added []string
	for _, f := range shipped.Fields {
		have := out.Field(f.Name)
		if have == nil {
			f.Required = false
			out.Fields = append(out.Fields, f)
			added = append(added, "field "+f.Name)
			continue
		}
		if have.Type != TypeEnum || f.Type != TypeEnum {
			continue
		}
		opts := append([]Option(nil), have.Options...)
		for _, o := range f.Options {
			if !slices.ContainsFunc(opts, func(h Option) bool { return h.Value == o.Value }) {
				opts = append(opts, o)
				added = append(added, f.Name+": option "+o.Value)
			}
		}
		have.Options = opts
	}
	return out, added
}
