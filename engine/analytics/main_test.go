package analytics_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	wfanalytics "github.com/rapportcrm/rapport/workflows/analytics"
)

// env is the package's running stack: embedded FerretDB and Temporal, worker and HTTP, with nothing in it
// but what these tests create, so every figure can be computed by hand.
var env *stacktest.Env

func TestMain(m *testing.M) { stacktest.Main(m, &env) }

// call sends a request as the administrator and fails the test on another status.
func call(t testing.TB, method, path string, body any, status int) stacktest.Response {
	t.Helper()
	return callAs(t, env.AdminToken, method, path, body, status)
}

func callAs(t testing.TB, token, method, path string, body any, status int) stacktest.Response {
	t.Helper()
	r := env.Call(t, method, path, token, body)
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Raw)
	}
	return r
}

// decode reads a response into a typed value.
func decode[T any](t testing.TB, r stacktest.Response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Raw, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
	return v
}

func create(t testing.TB, entity string, rec map[string]any) string {
	t.Helper()
	r := call(t, http.MethodPost, "/api/v1/records/"+entity, rec, http.StatusCreated)
	return r.Body["id"].(string)
}

func patch(t testing.TB, entity, id string, p map[string]any) stacktest.Response {
	t.Helper()
	return call(t, http.MethodPatch, "/api/v1/records/"+entity+"/"+id, p, http.StatusOK)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// csvOf reads a CSV response into rows.
func csvOf(t testing.TB, r stacktest.Response) [][]string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.Raw))).ReadAll()
	if err != nil {
		t.Fatalf("read CSV: %v\n%s", err, r.Raw)
	}
	return rows
}

// shop is the seeded order book: ten companies A…J with orders in 2025 whose RFM scores, Pareto share
// and CLV are computed by hand in the tests, company K without orders, and contact X.
type shop struct {
	companies map[string]string // letter → record ID
	contact   string
}

var (
	seedOnce sync.Once
	seeded   shop
)

// orderBook lists each company's counted orders in 2025 (date, amount in EUR).
var orderBook = map[string][][2]any{
	"A": {{"2025-12-20", 5000}, {"2025-11-10", 3000}, {"2025-10-01", 2000}, {"2025-06-01", 2000}},
	"B": {{"2025-12-01", 4000}, {"2025-09-01", 2000}, {"2025-03-01", 1000}},
	"C": {{"2025-11-15", 1500}, {"2025-05-01", 1500}},
	"D": {{"2025-10-20", 2500}},
	"E": {{"2025-08-15", 1000}, {"2025-02-01", 1000}, {"2025-01-15", 1000}, {"2025-01-10", 1000}, {"2025-01-05", 1000}},
	"F": {{"2025-07-01", 800}},
	"G": {{"2025-05-20", 600}, {"2025-04-20", 600}},
	"H": {{"2025-04-01", 400}},
	"I": {{"2025-03-15", 300}},
	"J": {{"2025-02-10", 200}},
}

func seedShop(t testing.TB) shop {
	t.Helper()
	seedOnce.Do(func() {
		s := shop{companies: map[string]string{}}
		for _, l := range strings.Split("ABCDEFGHIJK", "") {
			s.companies[l] = create(t, "company", map[string]any{"name": "Company " + l})
		}
		s.contact = create(t, "contact", map[string]any{"firstName": "Xenia", "lastName": "Shopper", "company": s.companies["A"]})
		n := 0
		order := func(co, contact, date string, amount float64, status string) {
			n++
			rec := map[string]any{"number": fmt.Sprintf("SO-%03d", n), "date": date, "amount": map[string]any{"amount": amount, "currency": "EUR"}, "status": status}
			if co != "" {
				rec["company"] = s.companies[co]
			}
			if contact != "" {
				rec["contact"] = contact
			}
			create(t, "order", rec)
		}
		for _, l := range strings.Split("ABCDEFGHIJ", "") {
			for i, o := range orderBook[l] {
				contact := ""
				if l == "A" && i == 0 {
					contact = s.contact
				}
				order(l, contact, o[0].(string), float64(o[1].(int)), "completed")
			}
		}
		order("J", "", "2025-06-01", 99999, "cancelled") // cancelled: not counted
		order("A", "", "2024-12-31", 500, "completed")   // before the period
		order("", s.contact, "2025-06-15", 777, "paid")  // no company: only in the contact view
		seeded = s
	})
	if seeded.companies == nil {
		t.Fatal("seeding failed")
	}
	return seeded
}

const year2025 = "from=2025-01-01&to=2025-12-31"

// runSegments starts a segment run through the API and waits for its result.
func runSegments(t testing.TB, body map[string]any) wfanalytics.RunStatus {
	t.Helper()
	st := decode[wfanalytics.RunStatus](t, call(t, http.MethodPost, "/api/v1/analytics/segments/recompute", body, http.StatusAccepted))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := env.Temporal.GetWorkflow(ctx, st.ID, st.RunID).Get(ctx, nil); err != nil {
		t.Fatalf("segment run: %v", err)
	}
	return decode[wfanalytics.RunStatus](t, call(t, http.MethodGet, "/api/v1/analytics/segments/runs/"+body["customer"].(string), nil, http.StatusOK))
}
