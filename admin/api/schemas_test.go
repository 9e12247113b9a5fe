package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestSchemasBuiltinAndJSONSchema(t *testing.T) {
	list := recDo(t, http.MethodGet, "/api/v1/schemas", nil).want(t, http.StatusOK)
	var names []string
	var arr []map[string]any
	if err := json.Unmarshal(list.Raw, &arr); err != nil {
		t.Fatal(err)
	}
	for _, s := range arr {
		names = append(names, s["entity"].(map[string]any)["name"].(string))
	}
	for _, want := range []string{"company", "complaint", "contact", "deal", "interaction", "lead", "order", "task"} {
		if !strings.Contains(","+strings.Join(names, ",")+",", ","+want+",") {
			t.Errorf("built-in %s missing from %v", want, names)
		}
	}
	js := recDo(t, http.MethodGet, "/api/v1/schemas/lead/jsonschema", nil).want(t, http.StatusOK)
	if js.Body["$schema"] != "https://json-schema.org/draft/2020-12/schema" || !strings.HasPrefix(js.Header.Get("Content-Type"), "application/schema+json") {
		t.Errorf("JSON Schema %s (%s)", js.Raw[:min(200, len(js.Raw))], js.Header.Get("Content-Type"))
	}
	recDo(t, http.MethodGet, "/api/v1/schemas/nosuch", nil).want(t, http.StatusNotFound)
	recDo(t, http.MethodGet, "/api/v1/schemas/nosuch/jsonschema", nil).want(t, http.StatusNotFound)
}

func TestSchemasCreateChangeRefuseBreaking(t *testing.T) {
	def := map[string]any{"name": "widget", "label": "Widget", "fields": []any{
		map[string]any{"name": "title", "type": "string", "required": true},
		map[string]any{"name": "weight", "type": "decimal"},
	}}
	created := recDo(t, http.MethodPost, "/api/v1/schemas", def).want(t, http.StatusCreated)
	if e := created.Body["entity"].(map[string]any); e["version"] != float64(1) || created.Body["saved"] != true {
		t.Fatalf("created %s", created.Raw)
	}
	recDo(t, http.MethodPost, "/api/v1/schemas", def).want(t, http.StatusConflict)
	if a := recDo(t, http.MethodGet, "/api/v1/audit?action=schema.save&target=widget", nil).want(t, http.StatusOK); !strings.Contains(string(a.Raw), `"version":1`) {
		t.Fatalf("schema change not audited: %s", a.Raw)
	}
	recDo(t, http.MethodPost, "/api/v1/records/widget", map[string]any{"title": "no weight"}).want(t, http.StatusCreated)
	recDo(t, http.MethodPost, "/api/v1/records/widget", map[string]any{"title": "heavy", "weight": 3.5}).want(t, http.StatusCreated)

	// weight becomes required: one record lacks it, so the change is refused, and a dry run counts it.
	def["fields"].([]any)[1].(map[string]any)["required"] = true
	dry := recDo(t, http.MethodPut, "/api/v1/schemas/widget?dryRun=true", def).want(t, http.StatusOK)
	dr, _ := dry.Body["dryRun"].(map[string]any)
	if dry.Body["saved"] != false || dr["violating"] != float64(1) || dr["checked"] != float64(2) || len(dr["examples"].([]any)) != 1 {
		t.Errorf("dry run %s", dry.Raw)
	}
	refused := recDo(t, http.MethodPut, "/api/v1/schemas/widget", def).want(t, http.StatusConflict)
	if !strings.Contains(refused.Body["detail"].(string), "1 of 2") || len(refused.pointers()) == 0 {
		t.Errorf("refusal %s", refused.Raw)
	}
	got := recDo(t, http.MethodGet, "/api/v1/schemas/widget", nil).want(t, http.StatusOK)
	if got.Header.Get("ETag") != `"1"` {
		t.Errorf("refused change saved: ETag %s", got.Header.Get("ETag"))
	}

	// A compatible change (a new optional field) makes version 2, recorded with who and when.
	def["fields"].([]any)[1].(map[string]any)["required"] = false
	def["fields"] = append(def["fields"].([]any), map[string]any{"name": "colour", "type": "string"})
	recDo(t, http.MethodPut, "/api/v1/schemas/widget", def, "If-Match", `"7"`).want(t, http.StatusPreconditionFailed)
	changed := recDo(t, http.MethodPut, "/api/v1/schemas/widget", def, "If-Match", `"1"`).want(t, http.StatusOK)
	if changed.Header.Get("ETag") != `"2"` {
		t.Errorf("change: %s", changed.Raw)
	}
	vs := recDo(t, http.MethodGet, "/api/v1/schemas/widget/versions", nil).want(t, http.StatusOK)
	var versions []map[string]any
	if err := json.Unmarshal(vs.Raw, &versions); err != nil || len(versions) != 2 {
		t.Fatalf("versions %s", vs.Raw)
	}
	if versions[0]["version"] != float64(2) || versions[0]["createdBy"] == "" || versions[0]["createdAt"] == nil {
		t.Errorf("newest version %v", versions[0])
	}
	// The new field is usable at once.
	recDo(t, http.MethodPost, "/api/v1/records/widget", map[string]any{"title": "red", "colour": "red"}).want(t, http.StatusCreated)
	// The embedded store keeps no secondary index (it serves no query from one, and each would slow every
	// write): the collection has its _id index alone.
	specs, err := env.DB.Collection("records_widget").Indexes().ListSpecifications(t.Context())
	if err != nil || len(specs) != 1 || specs[0].Name != "_id_" {
		t.Errorf("indexes %v, %v", specs, err)
	}
}

func TestSchemasInvalidDefinition(t *testing.T) {
	bad := map[string]any{"name": "thing", "fields": []any{
		map[string]any{"name": "a", "type": "nope"},
		map[string]any{"name": "id", "type": "string"},
		map[string]any{"name": "c", "type": "reference", "ref": "nosuch"},
	}}
	r := recDo(t, http.MethodPost, "/api/v1/schemas", bad).want(t, http.StatusUnprocessableEntity)
	ps := strings.Join(r.pointers(), ",")
	for _, want := range []string{"/fields/0/type", "/fields/1/name", "/fields/2/ref"} {
		if !strings.Contains(ps, want) {
			t.Errorf("errors %s lack %s", ps, want)
		}
	}
	typo := map[string]any{"name": "thing", "fields": []any{map[string]any{"name": "a", "type": "string", "requried": true}}}
	recDo(t, http.MethodPost, "/api/v1/schemas", typo).want(t, http.StatusUnprocessableEntity)
	if n, _ := env.DB.Collection("schemas").CountDocuments(t.Context(), bson.D{{Key: "_id", Value: "thing"}}); n != 0 {
		t.Error("an invalid definition was saved")
	}
}
