package schema

import (
	"fmt"
	"slices"
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

// ListView is a list clients ask for — the admin UI's lists, "my records", a record's timeline, the
// look-ups of processes: the records whose Equal fields each have a given value, in the order of Sort.
// Indexes derives one index per view, so MongoDB serves every one of them from an index (bounds on the
// Equal fields, then the sort key and the record ID in order) without sorting in memory.
type ListView struct {
	Equal []string
	Sort  IndexKey
}

// DefaultSorts are the orders every entity is listed in: newest change first (the default) and newest
// first.
var DefaultSorts = []IndexKey{{SysUpdatedAt, -1}, {SysCreatedAt, -1}}

// filterFields are the fields lists filter an entity's records by: status-like enums, references (owner,
// team, assignee, links to other records), dedupe keys and fields marked Indexed.
func filterFields(e Entity) []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		isRef := f.Type == TypeReference || (f.Type == TypeList && f.Item != nil && f.Item.Type == TypeReference)
		if isRef || statusLike(f) || f.Indexed {
			add(f.Name)
		}
	}
	for _, k := range e.DedupeKeys {
		add(k)
	}
	return out
}

// ListViews derives the lists an entity is read by: every default sort (and extra, such as a timeline's
// occurredAt) alone and after an equality on each filter field; each filter field and unique field as a
// sort of its own; and the owner's records of a status, the "my open leads" list.
func ListViews(e Entity, extra ...IndexKey) []ListView {
	sorts := append(slices.Clone(DefaultSorts), extra...)
	filters := filterFields(e)
	var out []ListView
	for _, s := range sorts {
		out = append(out, ListView{Sort: s})
	}
	for _, f := range filters {
		out = append(out, ListView{Sort: IndexKey{f, 1}})
	}
	for i := range e.Fields {
		if f := &e.Fields[i]; f.Unique && !slices.Contains(filters, f.Name) {
			out = append(out, ListView{Sort: IndexKey{f.Name, 1}})
		}
	}
	for _, f := range filters {
		for _, s := range sorts {
			out = append(out, ListView{Equal: []string{f}, Sort: s})
		}
	}
	if e.Field("owner") != nil {
		for i := range e.Fields {
			if f := &e.Fields[i]; statusLike(f) {
				out = append(out, ListView{Equal: []string{"owner", f.Name}, Sort: IndexKey{SysUpdatedAt, -1}})
			}
		}
	}
	return out
}

// Index is the index that serves a view: its Equal fields, its sort key, and the record ID in the sort's
// direction (lists break ties by ID in the direction of the last sort key, so one index serves the sort
// both ways round).
func (v ListView) Index() []IndexKey {
	keys := make([]IndexKey, 0, len(v.Equal)+2)
	for _, f := range v.Equal {
		keys = append(keys, IndexKey{f, 1})
	}
	return append(keys, v.Sort, IndexKey{"_id", v.Sort.Order})
}

// Indexes derives the indexes of an entity in a stable order: a unique (sparse, when optional) index
// per unique field, then one per list view (see ListViews). Storage creates them on startup and on
// schema change.
func Indexes(e Entity, extra ...IndexKey) []IndexSpec {
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
	for i := range e.Fields {
		f := &e.Fields[i]
		if f.Unique {
			add(true, !f.Required, IndexKey{f.Name, 1})
		}
	}
	for _, v := range ListViews(e, extra...) {
		add(false, false, v.Index()...)
	}
	return out
}

// SortableFields lists the paths a list may be sorted by — the sort keys of the entity's list views and
// the record ID — for query.ParseSort.
func SortableFields(e Entity, extra ...IndexKey) []string {
	out := []string{SysID}
	seen := map[string]bool{SysID: true}
	for _, v := range ListViews(e, extra...) {
		if f := v.Sort.Field; !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
