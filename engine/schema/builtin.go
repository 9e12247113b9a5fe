package schema

import (
	"fmt"

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
