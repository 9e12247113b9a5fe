package api

import (
	"context"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/schema"
)

// FieldAccess is what the caller may do with an entity's fields: which it never sees and which it may
// see but not change. Forms built from the schema leave hidden fields out and lock read-only ones.
type FieldAccess struct {
	Hidden   []string `json:"hidden" doc:"Fields (dotted paths) absent from every record the caller reads."`
	ReadOnly []string `json:"readOnly" doc:"Fields (dotted paths) the caller may not write, hidden ones included."`
}

// SchemaView is an entity schema as one caller sees it. For callers who do not design schemas, fields
// hidden from them are left out of the definition (and so of the field access too): a hidden field's
// name never reaches them in any form.
type SchemaView struct {
	records.SchemaInfo
	Access FieldAccess `json:"access"`
}

// schemaView applies the caller's field access to a schema.
func (s *Server) schemaView(ctx context.Context, info records.SchemaInfo) SchemaView {
	d := s.recordDecision(ctx, info.Entity.Name)
	v := SchemaView{SchemaInfo: info, Access: FieldAccess{Hidden: nonNil(d.HiddenFields()), ReadOnly: nonNil(d.ReadOnlyFields())}}
	if len(v.Access.Hidden) == 0 || s.designsSchemas(ctx) {
		return v
	}
	v.Entity.Fields = visibleFields(info.Entity.Fields, "", d)
	v.Entity.DedupeKeys = nil
	for _, k := range info.Entity.DedupeKeys {
		if !d.Hidden(k) {
			v.Entity.DedupeKeys = append(v.Entity.DedupeKeys, k)
		}
	}
	readOnly := []string{}
	for _, f := range v.Access.ReadOnly {
		if !d.Hidden(f) {
			readOnly = append(readOnly, f)
		}
	}
	v.Access = FieldAccess{Hidden: []string{}, ReadOnly: readOnly}
	return v
}

func (s *Server) designsSchemas(ctx context.Context) bool {
	p := PrincipalFrom(ctx)
	return p != nil && s.allows(p, PermSchemasWrite)
}

// visibleFields copies fields without those hidden by d, nested object fields included.
func visibleFields(fields []schema.Field, prefix string, d access.Decision) []schema.Field {
	out := make([]schema.Field, 0, len(fields))
	for _, f := range fields {
		path := prefix + f.Name
		if d.Hidden(path) {
			continue
		}
		if f.Type == schema.TypeObject && len(f.Fields) > 0 {
			f.Fields = visibleFields(f.Fields, path+".", d)
		}
		out = append(out, f)
	}
	return out
}
