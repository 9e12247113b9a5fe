package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// schemaView is the part of GET /api/v1/schemas/{entity} these tests read.
type schemaView struct {
	Entity struct {
		Fields []struct {
			Name   string `json:"name"`
			Fields []struct {
				Name string `json:"name"`
			} `json:"fields"`
		} `json:"fields"`
	} `json:"entity"`
	Access struct {
		Hidden   []string `json:"hidden"`
		ReadOnly []string `json:"readOnly"`
	} `json:"access"`
}

func (v schemaView) field(name string) bool {
	return slices.ContainsFunc(v.Entity.Fields, func(f struct {
		Name   string `json:"name"`
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}) bool {
		return f.Name == name
	})
}

// TestSchemaFieldAccess: the schema a caller reads carries their field access, so forms built from it
// lock read-only fields; for callers who do not design schemas, fields hidden from them (nested ones too)
// are absent from the definition, its JSON Schema and the list, so a hidden field's name never reaches
// them. Designers still see every field, with the hidden ones named.
func TestSchemaFieldAccess(t *testing.T) {
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/roles", env.AdminToken, map[string]any{
		"name": "budget-blind", "permissions": []string{"schemas.read", "records.lead.read", "records.lead.write", "records.contact.read"},
		"scopes": map[string]string{"*": "all"},
		"fields": map[string]any{
			"lead":    map[string]any{"hidden": []string{"budget"}, "readOnly": []string{"status"}},
			"contact": map[string]any{"hidden": []string{"consents.email"}},
		},
	}, nil)
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/roles", env.AdminToken, map[string]any{
		"name": "budget-blind-designer", "permissions": []string{"schemas.read", "schemas.write", "records.lead.read"},
		"scopes": map[string]string{"*": "all"},
		"fields": map[string]any{"lead": map[string]any{"hidden": []string{"budget"}}},
	}, nil)
	_, blind := newUser(t, "budget-blind@example.test", []string{"budget-blind"}, nil)
	_, designer := newUser(t, "budget-blind-designer@example.test", []string{"budget-blind-designer"}, nil)

	tests := []struct {
		name         string
		token        string
		entity       string
		wantField    string
		present      bool
		wantHidden   []string
		wantReadOnly string
	}{
		{"hidden field absent for a reader", blind, "lead", "budget", false, []string{}, "status"},
		{"other fields stay", blind, "lead", "name", true, []string{}, "status"},
		{"a designer sees the hidden field, named", designer, "lead", "budget", true, []string{"budget"}, ""},
		{"administrators see everything", env.AdminToken, "lead", "budget", true, []string{}, ""},
		{"a nested hidden field is absent, its parent stays", blind, "contact", "consents", true, []string{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v schemaView
			mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/schemas/"+tc.entity, tc.token, nil, &v)
			if v.field(tc.wantField) != tc.present {
				t.Errorf("field %s present = %v, want %v", tc.wantField, !tc.present, tc.present)
			}
			if !slices.Equal(v.Access.Hidden, tc.wantHidden) {
				t.Errorf("access.hidden = %v, want %v", v.Access.Hidden, tc.wantHidden)
			}
			if tc.wantReadOnly != "" && !slices.Contains(v.Access.ReadOnly, tc.wantReadOnly) {
				t.Errorf("access.readOnly = %v, want it to hold %s", v.Access.ReadOnly, tc.wantReadOnly)
			}
		})
	}
	t.Run("nested hidden field absent from its object", func(t *testing.T) {
		var v schemaView
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/schemas/contact", blind, nil, &v)
		for _, f := range v.Entity.Fields {
			if f.Name == "consents" {
				for _, sub := range f.Fields {
					if sub.Name == "email" {
						t.Fatal("consents.email is in the contact schema of a user it is hidden from")
					}
				}
				if len(f.Fields) == 0 {
					t.Fatal("consents lost its visible fields")
				}
			}
		}
	})
	for _, path := range []string{"/api/v1/schemas", "/api/v1/schemas/lead", "/api/v1/schemas/lead/jsonschema"} {
		t.Run("no trace in "+path, func(t *testing.T) {
			status, body, err := env.Do(t.Context(), http.MethodGet, path, blind, nil)
			if err != nil || status != http.StatusOK {
				t.Fatalf("%d %v", status, err)
			}
			if strings.Contains(string(body), `"budget"`) {
				t.Fatalf("the hidden field's name is in %s: %.300s", path, body)
			}
		})
	}
}
