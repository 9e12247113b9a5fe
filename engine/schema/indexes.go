package schema

import (
	"fmt"
	"strings"
)

// IndexKey is one key of an index: a stored path and 1 (ascending) or -1.
type IndexKey struct {
	Field string `json:"field"`
	Order int    `json:"order"`
}

// IndexSpec is an index storage should keep on an entity's collection. It is
// a plain description so this package stays free of the MongoDB driver.
// Sparse unique indexes let many records leave an optional unique field
// empty.
type IndexSpec struct {
	Name   string     `json:"name"`
	Keys   []IndexKey `json:"keys"`
	Unique bool       `json:"unique,omitempty"`
	Sparse bool       `json:"sparse,omitempty"`
}

// statusLike reports whether an enum field is the kind lists are filtered
// by (status, stage, ...), which deserves an index.
func statusLike(f *Field) bool {
	if f.Type != TypeEnum {
		return false
	}
	n := f.Name
	return n == "status" || n == "stage" || n == "kind" || n == "type" ||
		strings.HasSuffix(n, "Status") || strings.HasSuffix(n, "Stage")
}

// Indexes derives the indexes of an entity in a stable order: updatedAt and
// createdAt (default sorts), owner with updatedAt (the "my records" list),
// unique fields, dedupe keys, references, status-like enums and fields
// marked Indexed. Storage creates them on startup and on schema change.
func Indexes(e Entity) []IndexSpec {
	var out []IndexSpec
	seen := map[string]bool{}
	add := func(unique, sparse bool, keys ...IndexKey) {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s_%d", k.Field, k.Order)
		}
		name := strings.Join(parts, "_")
		if seen[name] {
			return
		}
		seen[name] = true
		out = append(out, IndexSpec{Name: name, Keys: keys, Unique: unique, Sparse: sparse})
	}
	add(false, false, IndexKey{SysUpdatedAt, -1})
	add(false, false, IndexKey{SysCreatedAt, -1})
	if e.Field("owner") != nil {
		add(false, false, IndexKey{"owner", 1}, IndexKey{SysUpdatedAt, -1})
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		if f.Unique {
			add(true, !f.Required, IndexKey{f.Name, 1})
		}
	}
	for _, k := range e.DedupeKeys {
		add(false, false, IndexKey{k, 1})
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		isRef := f.Type == TypeReference || (f.Type == TypeList && f.Item != nil && f.Item.Type == TypeReference)
		if isRef || statusLike(f) || f.Indexed {
			add(false, false, IndexKey{f.Name, 1})
		}
	}
	return out
}

// SortableFields lists the paths a list may be sorted by: the first key of
// every derived index plus the record ID, for query.ParseSort.
func SortableFields(e Entity) []string {
	out := []string{SysID}
	seen := map[string]bool{SysID: true}
	for _, ix := range Indexes(e) {
		f := ix.Keys[0].Field
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
