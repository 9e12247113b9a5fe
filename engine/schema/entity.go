// Package schema holds Rapport's entity definitions: the field types an
// analyst can use, the checks that keep a definition sound, the JSON Schema
// generated from it, record validation and normalisation, schema evolution
// checks and the indexes storage derives from a definition. It does no I/O:
// storage and HTTP live elsewhere and call into it.
package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Type names a field type. Types are strings so definitions stay readable
// JSON that analysts and the admin UI can edit directly.
type Type string

// The field types a definition may use.
const (
	TypeString    Type = "string"
	TypeText      Type = "text"
	TypeInteger   Type = "integer"
	TypeDecimal   Type = "decimal"
	TypeMoney     Type = "money"
	TypeBoolean   Type = "boolean"
	TypeDate      Type = "date"
	TypeDateTime  Type = "datetime"
	TypeEnum      Type = "enum"
	TypeEmail     Type = "email"
	TypePhone     Type = "phone"
	TypeURL       Type = "url"
	TypeReference Type = "reference"
	TypeList      Type = "list"
	TypeObject    Type = "object"
)

// types lists every known field type in a stable order.
var types = []Type{
	TypeString, TypeText, TypeInteger, TypeDecimal, TypeMoney, TypeBoolean,
	TypeDate, TypeDateTime, TypeEnum, TypeEmail, TypePhone, TypeURL,
	TypeReference, TypeList, TypeObject,
}

// Known reports whether t is one of the field types Rapport understands.
func (t Type) Known() bool {
	for _, k := range types {
		if k == t {
			return true
		}
	}
	return false
}

// Label is a human-readable text in the languages Rapport's UI ships with.
// It decodes from either an object {"en": ..., "ru": ...} or a plain string
// (taken as English) so quick definitions stay short.
type Label struct {
	En string `json:"en,omitempty"`
	Ru string `json:"ru,omitempty"`
}

// UnmarshalJSON accepts a plain string as the English text, because most
// hand-written rule messages are one language only.
func (l *Label) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decode label: %w", err)
		}
		*l = Label{En: s}
		return nil
	}
	type plain Label
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("decode label: %w", err)
	}
	*l = Label(p)
	return nil
}

// Text returns the label in the given language ("en" or "ru"), falling back
// to English and then Russian so a caller always has something to show.
func (l Label) Text(lang string) string {
	if lang == "ru" && l.Ru != "" {
		return l.Ru
	}
	if l.En != "" {
		return l.En
	}
	return l.Ru
}

// IsZero reports whether the label has no text at all.
func (l Label) IsZero() bool { return l.En == "" && l.Ru == "" }

// Option is one allowed value of an enum field with the label users see.
type Option struct {
	Value string `json:"value"`
	Label Label  `json:"label"`
}

// Rule is a validation rule written by an analyst: an expr expression over
// the record that must be true, and the message shown when it is not.
type Rule struct {
	Expr    string `json:"expr"`
	Message Label  `json:"message"`
}

// Field describes one field of an entity (or of a nested object, or the item
// of a list). Constraint pointers are nil when the constraint is not set, so
// "not set" and "zero" stay distinct.
type Field struct {
	Name        string   `json:"name,omitempty"`
	Type        Type     `json:"type"`
	Label       Label    `json:"label,omitzero"`
	Description Label    `json:"description,omitzero"`
	Required    bool     `json:"required,omitempty"`
	Unique      bool     `json:"unique,omitempty"`
	Indexed     bool     `json:"indexed,omitempty"`
	ReadOnly    bool     `json:"readOnly,omitempty"`
	Default     any      `json:"default,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	MinLength   *int     `json:"minLength,omitempty"`
	MaxLength   *int     `json:"maxLength,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Computed    string   `json:"computed,omitempty"`
	// Merge says how a merge of duplicates combines the field: MergeSum adds the duplicate's value to
	// the survivor's (a count or total a process keeps, such as orders or complaints, belongs to the one
	// person both records were); MergeLatest keeps whichever record's value was set last (a last rating
	// or outcome is the person's latest, whichever record it landed on); empty fills the survivor's field
	// only when it is empty.
	Merge   string   `json:"merge,omitempty"`
	Rules   []Rule   `json:"rules,omitempty"`
	Options []Option `json:"options,omitempty"`
	Ref     string   `json:"ref,omitempty"`
	Item    *Field   `json:"item,omitempty"`
	Fields  []Field  `json:"fields,omitempty"`
}

// Entity is the definition of one kind of record (lead, contact, ...). A
// definition is immutable once saved: every change makes a new Version.
type Entity struct {
	Name        string  `json:"name"`
	Label       Label   `json:"label"`
	Description Label   `json:"description,omitzero"`
	Version     int     `json:"version,omitempty"`
	Fields      []Field `json:"fields"`
	// DedupeKeys names top-level fields whose normalised value identifies a
	// record: a create matching an existing record on any key is a duplicate.
	DedupeKeys []string `json:"dedupeKeys,omitempty"`
}

// Field returns the top-level field with the given name, or nil.
func (e *Entity) Field(name string) *Field {
	for i := range e.Fields {
		if e.Fields[i].Name == name {
			return &e.Fields[i]
		}
	}
	return nil
}

// MergeSum is Field.Merge for counters and totals: a merge adds the duplicate's value to the survivor's.
const MergeSum = "sum"

// MergeLatest is Field.Merge for a last value (the last rating, the last complaint's outcome): a merge
// keeps the value of the record whose history shows it set later.
const MergeLatest = "latest"

// Parse decodes an entity definition from JSON, rejecting unknown keys so a
// typo such as "requried" is reported instead of silently ignored. It does
// not check the definition: call Check for that.
func Parse(raw []byte) (Entity, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var e Entity
	if err := dec.Decode(&e); err != nil {
		return Entity{}, fmt.Errorf("parse entity definition: %w", err)
	}
	normaliseDefaults(e.Fields)
	return e, nil
}

// normaliseDefaults turns json.Number defaults into int64 or float64 so the
// rest of the package sees the same Go types as in validated records.
func normaliseDefaults(fields []Field) {
	for i := range fields {
		fields[i].Default = plainJSON(fields[i].Default)
		normaliseDefaults(fields[i].Fields)
		if fields[i].Item != nil {
			it := []Field{*fields[i].Item}
			normaliseDefaults(it)
			fields[i].Item = &it[0]
		}
	}
}

// plainJSON converts json.Number values (anywhere inside v) to int64 when
// integral and float64 otherwise.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = plainJSON(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = plainJSON(val)
		}
		return out
	}
	return v
}

// System fields are maintained by storage on every record. Definitions may
// not declare them and clients may not write them.
const (
	SysID        = "id"
	SysVersion   = "version"
	SysCreatedAt = "createdAt"
	SysUpdatedAt = "updatedAt"
	SysCreatedBy = "createdBy"
	SysUpdatedBy = "updatedBy"
	SysDeletedAt = "deletedAt"
	SysDeletedBy = "deletedBy"
)

// Types returns every known field type in a stable order, so the admin UI
// and error messages can offer the full choice.
func Types() []Type { return append([]Type(nil), types...) }

// SystemFields describes the fields storage adds to every record, with their
// types, so JSON Schema, filters and sorting know them too. It returns a
// fresh copy on every call.
func SystemFields() []Field { return append([]Field(nil), systemFields...) }

var systemFields = []Field{
	{Name: SysID, Type: TypeString, ReadOnly: true, Label: Label{En: "ID", Ru: "ID"}},
	{Name: SysVersion, Type: TypeInteger, ReadOnly: true, Label: Label{En: "Version", Ru: "Версия"}},
	{Name: SysCreatedAt, Type: TypeDateTime, ReadOnly: true, Label: Label{En: "Created at", Ru: "Создано"}},
	{Name: SysUpdatedAt, Type: TypeDateTime, ReadOnly: true, Label: Label{En: "Updated at", Ru: "Изменено"}},
	{Name: SysCreatedBy, Type: TypeString, ReadOnly: true, Label: Label{En: "Created by", Ru: "Кем создано"}},
	{Name: SysUpdatedBy, Type: TypeString, ReadOnly: true, Label: Label{En: "Updated by", Ru: "Кем изменено"}},
	{Name: SysDeletedAt, Type: TypeDateTime, ReadOnly: true, Label: Label{En: "Deleted at", Ru: "Удалено"}},
	{Name: SysDeletedBy, Type: TypeString, ReadOnly: true, Label: Label{En: "Deleted by", Ru: "Кем удалено"}},
}

// IsSystemField reports whether name is reserved for storage (including the
// MongoDB primary key "_id").
func IsSystemField(name string) bool {
	if name == "_id" {
		return true
	}
	for _, f := range systemFields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// Reference targets that are not entities: users and teams live in the auth
// store, yet records point at them (owner, assignee, team).
const (
	RefUser = "user"
	RefTeam = "team"
)
