package inbox

import (
	"context"
	"fmt"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/schema"
)

// displayNames are the field names that name a record, in the order they are preferred (the admin UI
// picks the same).
var displayNames = []string{"name", "fullName", "title", "subject", "number", "firstName"}

// DisplayField is the field that names an entity's records in lists and links: the first of the usual
// names it has, else its first string field; "" when it has none (the record ID names it then).
func DisplayField(e schema.Entity) string {
	for _, n := range displayNames {
		for i := range e.Fields {
			if e.Fields[i].Name == n {
				return n
			}
		}
	}
	for i := range e.Fields {
		if e.Fields[i].Type == schema.TypeString {
			return e.Fields[i].Name
		}
	}
	return ""
}

// RecordNames resolves a record's display name (and the field it comes from, so readers may drop it
// when that field is hidden from them) through the records store.
func RecordNames(recs *records.Store) NameFunc {
	return func(ctx context.Context, entity, id string) (string, string, error) {
		info, err := recs.Schema(ctx, entity)
		if err != nil {
			return "", "", err
		}
		field := DisplayField(info.Entity)
		if field == "" {
			return "", "", nil
		}
		rec, err := recs.Lookup(ctx, entity, id)
		if err != nil {
			return "", "", err
		}
		if v, ok := rec[field]; ok && v != nil && v != "" {
			return fmt.Sprint(v), field, nil
		}
		return "", "", nil
	}
}
