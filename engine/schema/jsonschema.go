package schema

import (
	"encoding/json"
	"fmt"
)

// JSONSchemaDraft is the dialect of the generated schemas.
const JSONSchemaDraft = "https://json-schema.org/draft/2020-12/schema"

// JSONSchema returns the JSON Schema (2020-12) describing stored records of
// the entity, the document served at /api/v1/schemas/{entity}/jsonschema.
// The same document (without system fields' readOnly hints mattering) is
// what Validator compiles, so the API, UI forms and plugins agree on it.
// Rapport-specific annotations use "x-" keywords, which validators ignore.
func JSONSchema(e Entity) map[string]any {
	return entitySchema(e, false)
}

// JSONSchemaBytes is JSONSchema encoded as indented JSON, for serving.
func JSONSchemaBytes(e Entity) ([]byte, error) {
	b, err := json.MarshalIndent(JSONSchema(e), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode JSON Schema of %q: %w", e.Name, err)
	}
	return b, nil
}

// entitySchema builds the schema; patch drops "required" at every object
// level so a partial (merge patch) document validates.
func entitySchema(e Entity, patch bool) map[string]any {
	props := map[string]any{}
	for _, f := range systemFields {
		props[f.Name] = fieldSchema(&f, patch)
	}
	props, required := objectProps(e.Fields, patch, props)
	s := map[string]any{
		"$schema":              JSONSchemaDraft,
		"title":                e.Label.Text("en"),
		"type":                 "object",
		"properties":           props,
		"additionalProperties": false,
		"x-rapport-entity":     e.Name,
		"x-rapport-version":    e.Version,
		"x-label":              labelMap(e.Label),
	}
	if !e.Description.IsZero() {
		s["description"] = e.Description.Text("en")
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func objectProps(fields []Field, patch bool, props map[string]any) (map[string]any, []any) {
	if props == nil {
		props = map[string]any{}
	}
	var required []any
	for i := range fields {
		f := &fields[i]
		props[f.Name] = fieldSchema(f, patch)
		if f.Required && !patch {
			required = append(required, f.Name)
		}
	}
	return props, required
}

func labelMap(l Label) map[string]any {
	m := map[string]any{}
	if l.En != "" {
		m["en"] = l.En
	}
	if l.Ru != "" {
		m["ru"] = l.Ru
	}
	return m
}

// fieldSchema returns the JSON Schema of one field's stored value.
func fieldSchema(f *Field, patch bool) map[string]any {
	s := map[string]any{"x-rapport-type": string(f.Type)}
	if !f.Label.IsZero() {
		s["title"] = f.Label.Text("en")
		s["x-label"] = labelMap(f.Label)
	}
	if !f.Description.IsZero() {
		s["description"] = f.Description.Text("en")
		s["x-description"] = labelMap(f.Description)
	}
	if f.ReadOnly || f.Computed != "" {
		s["readOnly"] = true
	}
	if f.Computed != "" {
		s["x-computed"] = f.Computed
	}
	if f.Default != nil {
		s["default"] = f.Default
	}
	stringLimits := func() {
		if f.MinLength != nil {
			s["minLength"] = *f.MinLength
		} else if f.Required {
			s["minLength"] = 1
		}
		if f.MaxLength != nil {
			s["maxLength"] = *f.MaxLength
		}
		if f.Pattern != "" {
			s["pattern"] = f.Pattern
		}
	}
	numberLimits := func(s map[string]any) {
		if f.Min != nil {
			s["minimum"] = *f.Min
		}
		if f.Max != nil {
			s["maximum"] = *f.Max
		}
	}
	switch f.Type {
	case TypeString, TypeText:
		s["type"] = "string"
		stringLimits()
	case TypeInteger:
		s["type"] = "integer"
		numberLimits(s)
	case TypeDecimal:
		s["type"] = "number"
		numberLimits(s)
	case TypeMoney:
		amount := map[string]any{"type": "number"}
		numberLimits(amount)
		s["type"] = "object"
		s["properties"] = map[string]any{
			"amount":   amount,
			"currency": map[string]any{"type": "string", "pattern": currencyRegex.String()},
		}
		s["required"] = []any{"amount", "currency"}
		s["additionalProperties"] = false
	case TypeBoolean:
		s["type"] = "boolean"
	case TypeDate:
		s["type"] = "string"
		s["format"] = "date"
	case TypeDateTime:
		s["type"] = "string"
		s["format"] = "date-time"
	case TypeEnum:
		s["type"] = "string"
		vals := make([]any, 0, len(f.Options))
		opts := make([]any, 0, len(f.Options))
		for _, o := range f.Options {
			vals = append(vals, o.Value)
			opts = append(opts, map[string]any{"value": o.Value, "label": labelMap(o.Label)})
		}
		s["enum"] = vals
		s["x-options"] = opts
	case TypeEmail:
		s["type"] = "string"
		s["format"] = "email"
		s["maxLength"] = 254
	case TypePhone:
		s["type"] = "string"
		s["pattern"] = `^\+[1-9][0-9]{6,14}$`
	case TypeURL:
		s["type"] = "string"
		s["format"] = "uri"
		s["maxLength"] = 2048
	case TypeReference:
		s["type"] = "string"
		s["minLength"] = 1
		s["maxLength"] = 64
		s["x-ref"] = f.Ref
	case TypeList:
		s["type"] = "array"
		if f.Item != nil {
			s["items"] = fieldSchema(f.Item, patch)
		}
		if f.MinLength != nil {
			s["minItems"] = *f.MinLength
		} else if f.Required {
			s["minItems"] = 1
		}
		if f.MaxLength != nil {
			s["maxItems"] = *f.MaxLength
		}
	case TypeObject:
		props, required := objectProps(f.Fields, patch, nil)
		s["type"] = "object"
		s["properties"] = props
		s["additionalProperties"] = false
		if len(required) > 0 {
			s["required"] = required
		}
	}
	return s
}
