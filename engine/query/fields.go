// Package query turns the small filter, sort and projection language that
// clients use to list records into MongoDB documents (bson.D). Clients never
// send MongoDB operators: a filter is parsed with expr's parser and only a
// restricted subset (comparisons, in, contains, startsWith, endsWith, nil
// checks, and/or/not) over known fields is translated. See README.md.
package query

import (
	"fmt"
	"sort"

	"github.com/rapportcrm/rapport/engine/schema"
)

// Fields maps every filterable path ("name", "budget.amount",
// "addresses.city") to the field describing its values. For a list, the
// path describes the list and comparisons apply to its items.
type Fields map[string]schema.Field

// FieldsOf lists the filterable paths of an entity, including the system
// fields (id, version, createdAt, ...). Lists of objects contribute the
// paths of their item's fields (matched against any item, as in MongoDB).
func FieldsOf(e schema.Entity) Fields {
	out := Fields{}
	for _, f := range schema.SystemFields() {
		out[f.Name] = f
	}
	for _, f := range e.Fields {
		addField(out, "", f)
	}
	return out
}

func addField(out Fields, prefix string, f schema.Field) {
	path := prefix + f.Name
	out[path] = f
	switch f.Type {
	case schema.TypeMoney:
		out[path+".amount"] = schema.Field{Name: "amount", Type: schema.TypeDecimal}
		out[path+".currency"] = schema.Field{Name: "currency", Type: schema.TypeString}
	case schema.TypeObject:
		for _, sf := range f.Fields {
			addField(out, path+".", sf)
		}
	case schema.TypeList:
		if f.Item != nil && (f.Item.Type == schema.TypeObject || f.Item.Type == schema.TypeMoney) {
			item := *f.Item
			item.Name = f.Name
			for k, v := range subFields(item) {
				out[path+"."+k] = v
			}
		}
	}
}

func subFields(f schema.Field) Fields {
	tmp := Fields{}
	addField(tmp, "", f)
	out := Fields{}
	for k, v := range tmp {
		if len(k) > len(f.Name) {
			out[k[len(f.Name)+1:]] = v
		}
	}
	return out
}

// Without returns the fields minus the paths hide reports, so a reader's filter, sort and projection
// can name only what it may read: a hidden path is unknown to it, with the same error as a path that
// does not exist, so its existence is not revealed either.
func (fs Fields) Without(hide func(path string) bool) Fields {
	out := make(Fields, len(fs))
	for k, v := range fs {
		if !hide(k) {
			out[k] = v
		}
	}
	return out
}

// Names returns the paths in sorted order, for error messages and docs.
func (fs Fields) Names() []string {
	out := make([]string, 0, len(fs))
	for k := range fs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Error is a malformed filter, sort or projection, located by a 1-based
// line and column (in runes) so the API's 400 answer can point at it.
type Error struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// Error renders "line L, column C: message" (the line only when the
// source has several).
func (e *Error) Error() string {
	if e.Line > 1 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
	}
	return fmt.Sprintf("column %d: %s", e.Column, e.Message)
}

// errorAt builds an Error for the rune offset from (0-based) in src.
func errorAt(src string, from int, format string, args ...any) *Error {
	line, col := 1, 1
	i := 0
	for _, r := range src {
		if i == from {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i++
	}
	return &Error{Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
}
