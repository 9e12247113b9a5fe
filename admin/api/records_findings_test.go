package api_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/access"
)

// scenario is one request of an API scenario table, in the style of PocketBase's tests/api.go: who sends
// what, the status expected, and what the body must and must not contain.
type scenario struct {
	name    string
	method  string
	path    string
	token   string
	body    any
	headers []string
	status  int
	has     []string
	hasNot  []string
}

func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := env.Call(t, sc.method, sc.path, sc.token, sc.body, sc.headers...)
			if r.Status != sc.status {
				t.Fatalf("%s %s: status %d, want %d: %s", sc.method, sc.path, r.Status, sc.status, r.Raw)
			}
			for _, s := range sc.has {
				if !strings.Contains(string(r.Raw), s) {
					t.Errorf("body lacks %q: %s", s, r.Raw)
				}
			}
			for _, s := range sc.hasNot {
				if strings.Contains(string(r.Raw), s) {
					t.Errorf("body has %q: %s", s, r.Raw)
				}
			}
		})
	}
}

// staffWorld is an entity with a hidden field (salary), a hidden part of an object (secret.internal), a
// read-only field (notes) and a dedupe key (email), and a clerk role that sees all staff records with
// those restrictions.
type staffWorld struct {
	clerk, clerkID string
	// zed is a record made by the administrator, with every field set.
	zed string
}

var staff struct {
	once  sync.Once
	world staffWorld
}

const (
	zedSalary   = 987654
	zedInternal = "internal-only-7731"
	zedName     = "Zed Secretary"
)

func staffSetup(t *testing.T) staffWorld {
	t.Helper()
	staff.once.Do(func() {
		def := map[string]any{"name": "staff", "label": "Staff", "dedupeKeys": []string{"email"}, "fields": []any{
			map[string]any{"name": "name", "type": "string", "required": true, "indexed": true},
			map[string]any{"name": "email", "type": "email"},
			map[string]any{"name": "salary", "type": "integer", "indexed": true},
			map[string]any{"name": "notes", "type": "string"},
			map[string]any{"name": "secret", "type": "object", "fields": []any{
				map[string]any{"name": "internal", "type": "string"}, map[string]any{"name": "public", "type": "string"}}},
			map[string]any{"name": "owner", "type": "reference", "ref": "user"},
			map[string]any{"name": "team", "type": "reference", "ref": "team"},
		}}
		recDo(t, http.MethodPost, "/api/v1/schemas", def).want(t, http.StatusCreated)
		recDo(t, http.MethodPost, "/api/v1/roles", map[string]any{
			"name": "staff-clerk", "permissions": []string{"records.staff.read", "records.staff.write", "records.staff.export", access.ImportsRun},
			"scopes": map[string]string{"staff": "all"},
			"fields": map[string]any{"staff": map[string]any{"hidden": []string{"salary", "secret.internal"}, "readOnly": []string{"notes"}}},
		}).want(t, http.StatusCreated)
		u, tok := newUser(t, "staff-clerk@findings.test", []string{"staff-clerk"}, nil)
		z := recDo(t, http.MethodPost, "/api/v1/records/staff", map[string]any{"name": zedName, "email": "zed@staff.test", "salary": zedSalary,
			"notes": "admin notes", "secret": map[string]any{"internal": zedInternal, "public": "p1"}}).want(t, http.StatusCreated)
		for i := range 4 {
			recDo(t, http.MethodPost, "/api/v1/records/staff", map[string]any{"name": fmt.Sprintf("Staff %d", i), "salary": 1000 * i}).want(t, http.StatusCreated)
		}
		staff.world = staffWorld{clerk: tok, clerkID: u.ID, zed: z.Body["id"].(string)}
	})
	if staff.world.clerk == "" {
		t.Fatal("the staff world was not set up")
	}
	return staff.world
}

func q(s string) string { return url.QueryEscape(s) }

// TestHiddenFieldsInListQueries is issue 10, finding 2: a reader may not filter, sort, project or count
// by a field it may not see (nested paths and parents of hidden parts too), and the cursor carries no
// readable value.
func TestHiddenFieldsInListQueries(t *testing.T) {
	w := staffSetup(t)
	list := "/api/v1/records/staff?count=true&"
	runScenarios(t, []scenario{
		{name: "filter on a hidden field", method: http.MethodGet, path: list + "filter=" + q("salary > 2000"), token: w.clerk,
			status: http.StatusBadRequest, has: []string{`unknown field \"salary\"`}, hasNot: []string{`"total"`}},
		{name: "equality on a hidden field", method: http.MethodGet, path: list + "filter=" + q("salary == 987654"), token: w.clerk,
			status: http.StatusBadRequest, hasNot: []string{zedName}},
		{name: "a hidden nested path", method: http.MethodGet, path: list + "filter=" + q(`secret.internal == "`+zedInternal+`"`), token: w.clerk,
			status: http.StatusBadRequest, has: []string{"unknown field"}},
		{name: "the parent of a hidden part", method: http.MethodGet, path: list + "filter=" + q("secret == nil"), token: w.clerk,
			status: http.StatusBadRequest},
		{name: "sort by a hidden field", method: http.MethodGet, path: list + "sort=-salary", token: w.clerk,
			status: http.StatusBadRequest, has: []string{"cannot sort by"}},
		{name: "project a hidden field", method: http.MethodGet, path: list + "fields=salary", token: w.clerk,
			status: http.StatusBadRequest},
		{name: "a visible nested part still filters", method: http.MethodGet, path: list + "filter=" + q(`secret.public == "p1"`), token: w.clerk,
			status: http.StatusOK, has: []string{`"total":1`, zedName}, hasNot: []string{zedInternal, "987654"}},
		{name: "the administrator may", method: http.MethodGet, path: list + "filter=" + q("salary == 987654"), token: env.AdminToken,
			status: http.StatusOK, has: []string{`"total":1`, zedName}},
	})
	t.Run("the cursor is opaque", func(t *testing.T) {
		r := recDo(t, http.MethodGet, "/api/v1/records/staff?limit=1&sort=-name", nil).want(t, http.StatusOK)
		next, _ := r.Body["next"].(string)
		raw, err := base64.RawURLEncoding.DecodeString(next)
		if next == "" || err != nil {
			t.Fatalf("next %q: %v", next, err)
		}
		first := r.Body["items"].([]any)[0].(map[string]any)["name"].(string)
		if strings.Contains(string(raw), first) || strings.Contains(string(raw), "name") {
			t.Fatalf("the cursor shows the sort value %q: %q", first, raw)
		}
		// The clerk pages its own list with its cursors; a cursor made for another sort is refused.
		seen := map[string]bool{}
		cursor := ""
		for range 10 {
			p := env.Call(t, http.MethodGet, "/api/v1/records/staff?limit=2&sort=name&cursor="+q(cursor), w.clerk, nil)
			if p.Status != http.StatusOK {
				t.Fatalf("page: %d %s", p.Status, p.Raw)
			}
			for _, it := range p.Body["items"].([]any) {
				seen[it.(map[string]any)["id"].(string)] = true
			}
			if cursor, _ = p.Body["next"].(string); cursor == "" {
				break
			}
		}
		if total := recDo(t, http.MethodGet, "/api/v1/records/staff?count=true&limit=1", nil).Body["total"]; float64(len(seen)) != total {
			t.Errorf("paged through %d of %v records", len(seen), total)
		}
		if got := env.Call(t, http.MethodGet, "/api/v1/records/staff?sort=name&cursor="+q(next), w.clerk, nil); got.Status != http.StatusBadRequest {
			t.Fatalf("a cursor of another sort: %d %s", got.Status, got.Raw)
		}
	})
}

// forgedCursor is what a client could build before cursors were sealed: the old plain BSON form.
func forgedCursor(t *testing.T, sort string, v any) string {
	t.Helper()
	raw, err := bson.Marshal(bson.D{{Key: "s", Value: sort}, {Key: "v", Value: bson.A{v, "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestForgedCursors is issue 10, finding 8: cursor values were used as raw equality values, so a client
// could inject operators; a cursor is now sealed, and anything else is a 400 naming the parameter.
func TestForgedCursors(t *testing.T) {
	base := "/api/v1/records/lead?sort=status&cursor="
	var scs []scenario
	for name, v := range map[string]any{
		"regex":  bson.D{{Key: "$regex", Value: ".*"}},
		"in":     bson.D{{Key: "$in", Value: bson.A{"new", "qualified"}}},
		"exists": bson.D{{Key: "$exists", Value: true}},
		"where":  bson.D{{Key: "$where", Value: "sleep(100)"}},
	} {
		scs = append(scs, scenario{name: name, method: http.MethodGet, path: base + q(forgedCursor(t, "status:1,_id:1", v)), token: env.AdminToken,
			status: http.StatusBadRequest, has: []string{`"parameter":"cursor"`}, hasNot: []string{`"items"`}})
	}
	scs = append(scs, scenario{name: "garbage", method: http.MethodGet, path: base + "AAAA", token: env.AdminToken, status: http.StatusBadRequest})
	runScenarios(t, scs)
}

// TestHistoryStripsNestedHiddenFields is issue 10, finding 5: a change of a hidden part of an object
// shows no value of it in the history, and a change of nothing but the hidden part is not shown at all.
func TestHistoryStripsNestedHiddenFields(t *testing.T) {
	w := staffSetup(t)
	r := recDo(t, http.MethodPost, "/api/v1/records/staff", map[string]any{"name": "History Subject",
		"secret": map[string]any{"internal": "first-internal-41", "public": "a"}}).want(t, http.StatusCreated)
	id := r.Body["id"].(string)
	recDo(t, http.MethodPatch, "/api/v1/records/staff/"+id, map[string]any{"secret": map[string]any{"internal": "second-internal-42"}}).want(t, http.StatusOK)
	recDo(t, http.MethodPatch, "/api/v1/records/staff/"+id, map[string]any{"secret": map[string]any{"internal": "third-internal-43", "public": "b"}}).want(t, http.StatusOK)
	h := env.Call(t, http.MethodGet, "/api/v1/records/staff/"+id+"/history", w.clerk, nil)
	if h.Status != http.StatusOK {
		t.Fatalf("history: %d %s", h.Status, h.Raw)
	}
	for _, leak := range []string{"first-internal-41", "second-internal-42", "third-internal-43", "internal"} {
		if strings.Contains(string(h.Raw), leak) {
			t.Fatalf("history shows %q: %s", leak, h.Raw)
		}
	}
	items := h.Body["items"].([]any)
	if len(items) != 3 {
		t.Fatalf("%d entries: %s", len(items), h.Raw)
	}
	if ch := items[1].(map[string]any)["changes"].([]any); len(ch) != 0 {
		t.Errorf("a change of the hidden part alone is shown: %v", ch)
	}
	newest := items[0].(map[string]any)["changes"].([]any)
	if len(newest) != 1 || newest[0].(map[string]any)["after"].(map[string]any)["public"] != "b" {
		t.Errorf("the visible part of the change: %v", newest)
	}
	// The administrator sees it all.
	if a := recDo(t, http.MethodGet, "/api/v1/records/staff/"+id+"/history", nil); !strings.Contains(string(a.Raw), "second-internal-42") {
		t.Errorf("the administrator's history lacks the change: %s", a.Raw)
	}
}

// TestPatchParentOfProtectedPart is issue 10, finding 6: patching the parent of a hidden or read-only
// part to null (or a whole new value) would delete the part; it is refused naming the parent.
func TestPatchParentOfProtectedPart(t *testing.T) {
	w := staffSetup(t)
	path := "/api/v1/records/staff/" + w.zed
	runScenarios(t, []scenario{
		{name: "parent to null", method: http.MethodPatch, path: path, token: w.clerk, body: map[string]any{"secret": nil},
			status: http.StatusForbidden, has: []string{`"pointer":"/secret"`}},
		{name: "the hidden part itself", method: http.MethodPatch, path: path, token: w.clerk, body: map[string]any{"secret": map[string]any{"internal": nil}},
			status: http.StatusForbidden, has: []string{`"/secret/internal"`}},
		{name: "the visible part", method: http.MethodPatch, path: path, token: w.clerk, body: map[string]any{"secret": map[string]any{"public": "p1"}},
			status: http.StatusOK, hasNot: []string{zedInternal}},
	})
	got := recDo(t, http.MethodGet, path, nil).want(t, http.StatusOK)
	if got.Body["secret"].(map[string]any)["internal"] != zedInternal {
		t.Fatalf("the hidden part is gone: %s", got.Raw)
	}
}

// TestImportAppliesTheCreateChecks is issue 10, finding 7: an import row may not do what the importing
// user's create may not — write a hidden or read-only field, or give the record to someone else — and
// the dry run reports the same.
func TestImportAppliesTheCreateChecks(t *testing.T) {
	w := staffSetup(t)
	csv := "name,salary,notes,owner\n" +
		"Imp Hidden,5000,,\n" +
		"Imp ReadOnly,,written,\n" +
		"Imp Owner,,," + firstUserID(t) + "\n" +
		"Imp Fine,,,\n"
	dry := env.Call(t, http.MethodPost, "/api/v1/imports/staff?dryRun=true", w.clerk, csv, "Content-Type", "text/csv")
	if dry.Status != http.StatusOK || dry.Body["valid"] != float64(1) || dry.Body["invalid"] != float64(3) {
		t.Fatalf("dry run: %d %s", dry.Status, dry.Raw)
	}
	for _, p := range []string{`"/salary"`, `"/notes"`, `"/owner"`} {
		if !strings.Contains(string(dry.Raw), p) {
			t.Errorf("dry run does not name %s: %s", p, dry.Raw)
		}
	}
	r := env.Call(t, http.MethodPost, "/api/v1/imports/staff", w.clerk, csv, "Content-Type", "text/csv")
	if r.Status != http.StatusAccepted {
		t.Fatalf("import: %d %s", r.Status, r.Raw)
	}
	job := waitJobAs(t, w.clerk, r.Header.Get("Location"))
	if job["created"] != float64(1) || job["failed"] != float64(3) {
		t.Fatalf("job %v", job)
	}
	if n := countDocs(t, "staff", bson.D{{Key: "name", Value: bson.D{{Key: "$in", Value: bson.A{"Imp Hidden", "Imp ReadOnly", "Imp Owner"}}}}}); n != 0 {
		t.Fatalf("%d refused rows were stored", n)
	}
	var fine struct {
		Owner string `bson:"owner"`
	}
	if err := env.DB.Collection("records_staff").FindOne(t.Context(), bson.D{{Key: "name", Value: "Imp Fine"}}).Decode(&fine); err != nil || fine.Owner != w.clerkID {
		t.Fatalf("the allowed row: owner %q, %v", fine.Owner, err)
	}
}

// firstUserID is the administrator's user ID.
func firstUserID(t *testing.T) string {
	t.Helper()
	me := recDo(t, http.MethodGet, "/api/v1/auth/me", nil).want(t, http.StatusOK)
	if u, ok := me.Body["user"].(map[string]any); ok {
		return u["id"].(string)
	}
	return me.Body["id"].(string)
}

func waitJobAs(t *testing.T, token, location string) map[string]any {
	t.Helper()
	for range 600 {
		j := env.Call(t, http.MethodGet, location, token, nil)
		if j.Status != http.StatusOK {
			t.Fatalf("job: %d %s", j.Status, j.Raw)
		}
		if j.Body["state"] != "running" {
			return j.Body
		}
		waitABit()
	}
	t.Fatal("the import job did not finish")
	return nil
}

// TestExportNeutralisesFormulas is issue 10, finding 14: a CSV cell a spreadsheet would run as a formula
// is written as text.
func TestExportNeutralisesFormulas(t *testing.T) {
	for _, n := range []string{`=HYPERLINK("http://evil.test","x")`, "@SUM(1+1)", "+1+1", "-2+3"} {
		l := newLead("Formula " + n)
		l["name"], l["companyName"], l["email"] = n, "FormulaCo", ""
		delete(l, "email")
		recDo(t, http.MethodPost, "/api/v1/records/lead", l).want(t, http.StatusCreated)
	}
	r := recDo(t, http.MethodGet, "/api/v1/exports/lead?fields=name&filter="+q(`companyName == "FormulaCo"`), nil).want(t, http.StatusOK)
	body := string(r.Raw)
	for _, want := range []string{`"'=HYPERLINK(""http://evil.test"",""x"")"`, ",'@SUM(1+1)", ",'+1+1", ",'-2+3"} {
		if !strings.Contains(body, want) {
			t.Errorf("export lacks %q:\n%s", want, body)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if _, cell, ok := strings.Cut(line, ","); ok && cell != "" && strings.ContainsAny(cell[:1], "=+-@\t") {
			t.Errorf("a formula cell: %q", line)
		}
	}
}

// TestDuplicatesAndReferencesOutsideScope is issue 10, finding 16: a duplicate of a record the caller
// may not read is refused without its ID, and a reference to such a record is refused exactly like a
// reference to no record at all.
func TestDuplicatesAndReferencesOutsideScope(t *testing.T) {
	_, agent := newUser(t, "agent-scope16@findings.test", []string{access.RoleAgent}, nil)
	theirs := recDo(t, http.MethodPost, "/api/v1/records/contact", map[string]any{"firstName": "Theirs", "emails": []string{"theirs16@findings.test"}}).want(t, http.StatusCreated)
	company := recDo(t, http.MethodPost, "/api/v1/records/company", map[string]any{"name": "Out Of Scope Co"}).want(t, http.StatusCreated)
	theirID, companyID := theirs.Body["id"].(string), company.Body["id"].(string)
	runScenarios(t, []scenario{
		{name: "duplicate out of scope", method: http.MethodPost, path: "/api/v1/records/contact", token: agent,
			body:   map[string]any{"firstName": "Mine", "emails": []string{"THEIRS16@findings.test"}},
			status: http.StatusConflict, has: []string{`"/emails"`}, hasNot: []string{theirID}},
		{name: "the administrator is told which", method: http.MethodPost, path: "/api/v1/records/contact", token: env.AdminToken,
			body:   map[string]any{"firstName": "Mine", "emails": []string{"theirs16@findings.test"}},
			status: http.StatusConflict, has: []string{theirID}},
		{name: "reference out of scope", method: http.MethodPost, path: "/api/v1/records/contact", token: agent,
			body:   map[string]any{"firstName": "Ref", "company": companyID},
			status: http.StatusUnprocessableEntity, has: []string{`"/company"`}},
	})
	outOfScope := env.Call(t, http.MethodPost, "/api/v1/records/contact", agent, map[string]any{"firstName": "Ref", "company": companyID})
	missing := env.Call(t, http.MethodPost, "/api/v1/records/contact", agent, map[string]any{"firstName": "Ref", "company": "no-such-company-16"})
	if outOfScope.Status != missing.Status || fmt.Sprint(outOfScope.Body["errors"]) != strings.ReplaceAll(fmt.Sprint(missing.Body["errors"]), "no-such-company-16", companyID) {
		t.Fatalf("an out-of-scope reference answers differently from a missing one:\n%s\n%s", outOfScope.Raw, missing.Raw)
	}
}

// TestImportJobsOfOthers is issue 10, finding 17: another user's import job and its results are not
// found; the user who started it, and an administrator, see them.
func TestImportJobsOfOthers(t *testing.T) {
	w := staffSetup(t)
	_, reader := newUser(t, "staff-reader17@findings.test", []string{access.RoleViewer}, nil)
	r := env.Call(t, http.MethodPost, "/api/v1/imports/staff", w.clerk, "name\nJob Owner Row\n", "Content-Type", "text/csv")
	if r.Status != http.StatusAccepted {
		t.Fatalf("import: %d %s", r.Status, r.Raw)
	}
	loc := r.Header.Get("Location")
	waitJobAs(t, w.clerk, loc)
	runScenarios(t, []scenario{
		{name: "another user's job", method: http.MethodGet, path: loc, token: reader, status: http.StatusNotFound, hasNot: []string{"created"}},
		{name: "another user's results", method: http.MethodGet, path: loc + "/results", token: reader, status: http.StatusNotFound},
		{name: "the owner's job", method: http.MethodGet, path: loc, token: w.clerk, status: http.StatusOK, has: []string{`"created":1`}},
		{name: "the owner's results", method: http.MethodGet, path: loc + "/results", token: w.clerk, status: http.StatusOK, has: []string{"1,created,"}},
		{name: "the administrator", method: http.MethodGet, path: loc, token: env.AdminToken, status: http.StatusOK},
	})
}

// TestTeamChangesNeedAssign is issue 10, finding 18: moving a record to another team takes the assign
// permission, as giving it to another owner does.
func TestTeamChangesNeedAssign(t *testing.T) {
	for _, team := range []string{"north18", "south18"} {
		env.Call(t, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": team, "name": team})
	}
	_, agent := newUser(t, "agent18@findings.test", []string{access.RoleAgent}, []string{"north18"})
	_, manager := newUser(t, "manager18@findings.test", []string{access.RoleManager}, []string{"north18"})
	mine := env.Call(t, http.MethodPost, "/api/v1/records/lead", agent, map[string]any{"source": "api", "name": "Team Move", "status": "new", "team": "north18"})
	if mine.Status != http.StatusCreated {
		t.Fatalf("create in the agent's own team: %d %s", mine.Status, mine.Raw)
	}
	id := mine.Body["id"].(string)
	runScenarios(t, []scenario{
		{name: "agent moves its record", method: http.MethodPatch, path: "/api/v1/records/lead/" + id, token: agent,
			body: map[string]any{"team": "south18"}, status: http.StatusForbidden, has: []string{`"/team"`}},
		{name: "agent takes it out of its team", method: http.MethodPatch, path: "/api/v1/records/lead/" + id, token: agent,
			body: map[string]any{"team": nil}, status: http.StatusForbidden, has: []string{`"/team"`}},
		{name: "agent creates in another team", method: http.MethodPost, path: "/api/v1/records/lead", token: agent,
			body: map[string]any{"source": "api", "name": "Elsewhere", "status": "new", "team": "south18"}, status: http.StatusForbidden},
		{name: "agent re-sends the same team", method: http.MethodPatch, path: "/api/v1/records/lead/" + id, token: agent,
			body: map[string]any{"team": "north18", "status": "contacted"}, status: http.StatusOK},
		{name: "a manager may move it", method: http.MethodPatch, path: "/api/v1/records/lead/" + id, token: manager,
			body: map[string]any{"team": "south18"}, status: http.StatusOK, has: []string{`"team":"south18"`}},
	})
}

// TestFilterIntegerOutOfRange is issue 10, finding 20: a whole number beyond what records can hold is
// refused instead of wrapping round and matching everything.
func TestFilterIntegerOutOfRange(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "beyond int64", method: http.MethodGet, path: "/api/v1/records/lead?count=true&filter=" + q("score > 9223372036854775807"),
			token: env.AdminToken, status: http.StatusBadRequest, has: []string{"out of range"}, hasNot: []string{`"total"`}},
		{name: "beyond 2^53", method: http.MethodGet, path: "/api/v1/records/lead?count=true&filter=" + q("score < -9007199254740993"),
			token: env.AdminToken, status: http.StatusBadRequest, has: []string{"out of range"}},
	})
}

func waitABit() { time.Sleep(50 * time.Millisecond) }
