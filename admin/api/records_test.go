package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// recResp is a decoded response of the records API.
type recResp struct{ stacktest.Response }

// recDo sends a request as the administrator with the given headers; a non-[]byte body is JSON-encoded.
func recDo(t testing.TB, method, path string, body any, headers ...string) recResp {
	t.Helper()
	return recResp{env.Call(t, method, path, env.AdminToken, body, headers...)}
}

func (r recResp) want(t testing.TB, status int) recResp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Raw)
	}
	return r
}

// pointers lists the JSON pointers of a problem's errors.
func (r recResp) pointers() []string {
	var out []string
	errs, _ := r.Body["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		if p, ok := m["pointer"].(string); ok && p != "" {
			out = append(out, p)
		} else {
			out = append(out, fmt.Sprint(m["parameter"]))
		}
	}
	return out
}

func countDocs(t testing.TB, entity string, filter bson.D) int64 {
	t.Helper()
	n, err := env.DB.Collection("records_"+entity).CountDocuments(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newLead(name string) map[string]any {
	return map[string]any{"source": "api", "name": name, "status": "new", "email": strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"}
}

func TestRecordsCreateGetPatchDelete(t *testing.T) {
	created := recDo(t, http.MethodPost, "/api/v1/records/lead", newLead("Ivan Petrov")).want(t, http.StatusCreated)
	id, _ := created.Body["id"].(string)
	for _, k := range []string{"id", "version", "createdAt", "updatedAt", "createdBy", "owner"} {
		if created.Body[k] == nil {
			t.Errorf("created record lacks %s: %s", k, created.Raw)
		}
	}
	if created.Body["version"] != float64(1) || created.Header.Get("ETag") != `"1"` {
		t.Errorf("version %v, ETag %q", created.Body["version"], created.Header.Get("ETag"))
	}
	if created.Body["owner"] != created.Body["createdBy"] {
		t.Errorf("owner %v should default to the creator %v", created.Body["owner"], created.Body["createdBy"])
	}
	got := recDo(t, http.MethodGet, "/api/v1/records/lead/"+id, nil).want(t, http.StatusOK)
	if got.Body["name"] != "Ivan Petrov" || got.Body["email"] != "ivan.petrov@example.com" {
		t.Errorf("got %s", got.Raw)
	}

	patched := recDo(t, http.MethodPatch, "/api/v1/records/lead/"+id, `{"status":"contacted","companyName":"Acme","email":null}`,
		"Content-Type", "application/merge-patch+json", "If-Match", `"1"`).want(t, http.StatusOK)
	if patched.Body["status"] != "contacted" || patched.Body["companyName"] != "Acme" || patched.Body["version"] != float64(2) {
		t.Errorf("patched %s", patched.Raw)
	}
	if _, ok := patched.Body["email"]; ok {
		t.Errorf("null should remove email: %s", patched.Raw)
	}
	// A stale If-Match is refused and nothing is written.
	recDo(t, http.MethodPatch, "/api/v1/records/lead/"+id, `{"status":"qualified"}`, "If-Match", `"1"`).want(t, http.StatusPreconditionFailed)
	again := recDo(t, http.MethodGet, "/api/v1/records/lead/"+id, nil).want(t, http.StatusOK)
	if again.Body["status"] != "contacted" || again.Body["version"] != float64(2) {
		t.Errorf("a refused patch changed the record: %s", again.Raw)
	}
	recDo(t, http.MethodPatch, "/api/v1/records/lead/"+id, `{"status":"qualified"}`, "Content-Type", "text/plain").want(t, http.StatusUnsupportedMediaType)

	// Soft delete, then restore.
	del := recDo(t, http.MethodDelete, "/api/v1/records/lead/"+id, nil).want(t, http.StatusOK)
	if del.Body["deletedAt"] == nil {
		t.Errorf("deleted record lacks deletedAt: %s", del.Raw)
	}
	recDo(t, http.MethodGet, "/api/v1/records/lead/"+id, nil).want(t, http.StatusNotFound)
	list := recDo(t, http.MethodGet, "/api/v1/records/lead?deleted=true&filter="+url.QueryEscape(`id == "`+id+`"`), nil).want(t, http.StatusOK)
	if items, _ := list.Body["items"].([]any); len(items) != 1 {
		t.Errorf("deleted list: %s", list.Raw)
	}
	recDo(t, http.MethodDelete, "/api/v1/records/lead/"+id, nil).want(t, http.StatusNotFound)
	restored := recDo(t, http.MethodPost, "/api/v1/records/lead/"+id+"/restore", nil).want(t, http.StatusOK)
	if restored.Body["deletedAt"] != nil || restored.Body["version"] != float64(4) {
		t.Errorf("restored %s", restored.Raw)
	}
	recDo(t, http.MethodPost, "/api/v1/records/lead/"+id+"/restore", nil).want(t, http.StatusConflict)

	// History: newest first, with who, through what and the diff.
	h := recDo(t, http.MethodGet, "/api/v1/records/lead/"+id+"/history?limit=2", nil).want(t, http.StatusOK)
	items, _ := h.Body["items"].([]any)
	if len(items) != 2 || h.Body["next"] != float64(3) {
		t.Fatalf("history page: %s", h.Raw)
	}
	first := items[0].(map[string]any)
	if first["op"] != "restore" || first["version"] != float64(4) {
		t.Errorf("newest entry %v", first)
	}
	if a := first["actor"].(map[string]any); a["via"] != "api" || a["user"] != created.Body["createdBy"] {
		t.Errorf("actor %v", a)
	}
	h2 := recDo(t, http.MethodGet, "/api/v1/records/lead/"+id+"/history?limit=2&before=3", nil).want(t, http.StatusOK)
	items2, _ := h2.Body["items"].([]any)
	if len(items2) != 2 || h2.Body["next"] != nil {
		t.Fatalf("second history page: %s", h2.Raw)
	}
	upd := items2[0].(map[string]any)
	if upd["op"] != "update" {
		t.Fatalf("entry %v", upd)
	}
	changes := map[string]map[string]any{}
	for _, c := range upd["changes"].([]any) {
		m := c.(map[string]any)
		changes[m["field"].(string)] = m
	}
	if changes["status"]["before"] != "new" || changes["status"]["after"] != "contacted" ||
		changes["email"]["before"] != "ivan.petrov@example.com" || changes["email"]["after"] != nil {
		t.Errorf("update diff %v", changes)
	}
	if items2[1].(map[string]any)["op"] != "create" {
		t.Errorf("oldest entry %v", items2[1])
	}
}

func TestRecordsBadInput(t *testing.T) {
	before := countDocs(t, "lead", bson.D{})
	cases := []struct {
		name   string
		body   any
		status int
		want   []string
	}{
		{"every error listed", map[string]any{"source": "fax", "name": "", "email": "ivan@", "phone": "12", "colour": "red", "budget": map[string]any{"amount": "lots"}},
			http.StatusUnprocessableEntity, []string{"/budget/amount", "/budget/currency", "/colour", "/email", "/name", "/phone", "/source"}},
		{"missing reference", map[string]any{"source": "api", "name": "X", "status": "new", "company": "no-such-company"},
			http.StatusUnprocessableEntity, []string{"/company"}},
		{"too long", map[string]any{"source": "api", "name": strings.Repeat("x", 100000), "status": "new"},
			http.StatusUnprocessableEntity, []string{"/name"}},
		{"not an object", []byte(`[1,2]`), http.StatusUnprocessableEntity, nil},
		{"not JSON", []byte(`{"name":`), http.StatusBadRequest, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := recDo(t, http.MethodPost, "/api/v1/records/lead", tc.body).want(t, tc.status)
			if tc.want != nil {
				got := strings.Join(r.pointers(), ",")
				for _, w := range tc.want {
					if !strings.Contains(","+got+",", ","+w+",") {
						t.Errorf("errors %s lack %s", got, w)
					}
				}
			}
		})
	}
	if after := countDocs(t, "lead", bson.D{}); after != before {
		t.Errorf("bad input wrote %d records", after-before)
	}
	recDo(t, http.MethodPost, "/api/v1/records/nosuchentity", newLead("x")).want(t, http.StatusNotFound)
}

func TestRecordsIdempotencyKey(t *testing.T) {
	body := newLead("Idem Potent")
	first := recDo(t, http.MethodPost, "/api/v1/records/lead", body, "Idempotency-Key", "k-1").want(t, http.StatusCreated)
	second := recDo(t, http.MethodPost, "/api/v1/records/lead", body, "Idempotency-Key", "k-1").want(t, http.StatusCreated)
	if first.Body["id"] != second.Body["id"] || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat gave %s, first %s", second.Raw, first.Raw)
	}
	if n := countDocs(t, "lead", bson.D{{Key: "name", Value: "Idem Potent"}}); n != 1 {
		t.Errorf("%d records for one key", n)
	}
	other := newLead("Someone Else")
	recDo(t, http.MethodPost, "/api/v1/records/lead", other, "Idempotency-Key", "k-1").want(t, http.StatusUnprocessableEntity)
	if n := countDocs(t, "lead", bson.D{{Key: "name", Value: "Someone Else"}}); n != 0 {
		t.Errorf("reused key wrote a record")
	}
}

func TestRecordsDedupe(t *testing.T) {
	c := recDo(t, http.MethodPost, "/api/v1/records/company", map[string]any{"name": "Acme", "taxId": "7707083893"}).want(t, http.StatusCreated)
	dup := recDo(t, http.MethodPost, "/api/v1/records/company", map[string]any{"name": "Acme Two", "taxId": "7707083893"}).want(t, http.StatusConflict)
	if !strings.Contains(string(dup.Raw), c.Body["id"].(string)) {
		t.Errorf("409 does not name %v: %s", c.Body["id"], dup.Raw)
	}
	if n := countDocs(t, "company", bson.D{{Key: "name", Value: "Acme Two"}}); n != 0 {
		t.Errorf("duplicate written")
	}
	// A reference to the existing company is accepted.
	recDo(t, http.MethodPost, "/api/v1/records/lead", map[string]any{"source": "api", "name": "Ref", "status": "new", "company": c.Body["id"]}).want(t, http.StatusCreated)
}

func TestRecordsList(t *testing.T) {
	for i := range 7 {
		l := newLead(fmt.Sprintf("List Lead %d", i))
		l["status"] = []string{"new", "contacted"}[i%2]
		l["companyName"] = "ListCo"
		recDo(t, http.MethodPost, "/api/v1/records/lead", l).want(t, http.StatusCreated)
		// createdAt has millisecond precision and equal times are ordered by the random _id: keep the
		// creation order unambiguous.
		time.Sleep(2 * time.Millisecond)
	}
	filter := url.QueryEscape(`companyName == "ListCo" and status == "new"`)
	var seen []string
	cursor := ""
	for page := 0; page < 5; page++ {
		r := recDo(t, http.MethodGet, "/api/v1/records/lead?limit=2&count=true&sort=-createdAt&fields=name,status&filter="+filter+"&cursor="+cursor, nil).want(t, http.StatusOK)
		if r.Body["total"] != float64(4) {
			t.Fatalf("total %v", r.Body["total"])
		}
		for _, it := range r.Body["items"].([]any) {
			m := it.(map[string]any)
			if m["status"] != "new" || m["email"] != nil || m["id"] == nil {
				t.Errorf("item %v", m)
			}
			seen = append(seen, m["name"].(string))
		}
		next, _ := r.Body["next"].(string)
		if next == "" {
			break
		}
		cursor = url.QueryEscape(next)
	}
	want := []string{"List Lead 6", "List Lead 4", "List Lead 2", "List Lead 0"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("pages gave %v, want %v", seen, want)
	}
	bad := []struct {
		query string
		param string
	}{
		{"filter=" + url.QueryEscape(`status == "lost"`), "filter"},
		{"filter=" + url.QueryEscape(`name == "x" and`), "filter"},
		{"sort=need", "sort"},
		{"fields=nope", "fields"},
		{"cursor=garbage", "cursor"},
	}
	for _, b := range bad {
		r := recDo(t, http.MethodGet, "/api/v1/records/lead?"+b.query, nil).want(t, http.StatusBadRequest)
		if ps := r.pointers(); len(ps) != 1 || ps[0] != b.param {
			t.Errorf("%s: errors %s", b.query, r.Raw)
		}
	}
	r := recDo(t, http.MethodGet, "/api/v1/records/lead?filter="+url.QueryEscape(`status == "lost"`), nil)
	if !strings.Contains(r.Body["detail"].(string), "column 11") {
		t.Errorf("filter error lacks the position: %s", r.Raw)
	}
}

func TestRecordsTimeline(t *testing.T) {
	c := recDo(t, http.MethodPost, "/api/v1/records/contact", map[string]any{"firstName": "Anna", "emails": []string{"anna@timeline.test"}}).want(t, http.StatusCreated)
	id := c.Body["id"].(string)
	for i, at := range []string{"2026-01-02T10:00:00Z", "2026-03-01T10:00:00Z", "2026-02-01T10:00:00Z"} {
		recDo(t, http.MethodPost, "/api/v1/records/interaction", map[string]any{"type": "call", "occurredAt": at, "summary": fmt.Sprint(i), "contact": id}).want(t, http.StatusCreated)
	}
	recDo(t, http.MethodPost, "/api/v1/records/interaction", map[string]any{"type": "note", "occurredAt": "2026-04-01T10:00:00Z", "summary": "other"}).want(t, http.StatusCreated)
	r := recDo(t, http.MethodGet, "/api/v1/records/contact/"+id+"/timeline", nil).want(t, http.StatusOK)
	var got []string
	for _, it := range r.Body["items"].([]any) {
		got = append(got, it.(map[string]any)["summary"].(string))
	}
	if strings.Join(got, ",") != "1,2,0" {
		t.Errorf("timeline %v, want newest first 1,2,0", got)
	}
	// Duplicate contact by normalised email.
	dup := recDo(t, http.MethodPost, "/api/v1/records/contact", map[string]any{"firstName": "A", "emails": []string{"ANNA@timeline.test"}}).want(t, http.StatusConflict)
	if !strings.Contains(string(dup.Raw), id) {
		t.Errorf("dedupe 409 does not name %s: %s", id, dup.Raw)
	}
}
