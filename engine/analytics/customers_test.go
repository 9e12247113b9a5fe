package analytics_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/rapportcrm/rapport/engine/analytics"
)

// rfmWant is the hand-computed RFM of the seeded shop over 2025 (365 days, ten customers): a score is
// 1 + ⌊5 × (customers with a smaller value) ÷ 10⌋, i.e. 1 + ⌊smaller ÷ 2⌋.
//
//	R by last order: J 02-10 < I 03-15 < H 04-01 < G 05-20 < F 07-01 < E 08-15 < D 10-20 < C 11-15 < B 12-01 < A 12-20
//	F by orders:     D F H I J = 1 (0 smaller) · C G = 2 (5 smaller → 3) · B = 3 (7 → 4) · A = 4 (8 → 5) · E = 5 (9 → 5)
//	M by revenue:    J 200 < I 300 < H 400 < F 800 < G 1200 < D 2500 < C 3000 < E 5000 < B 7000 < A 12000
var rfmWant = map[string]struct {
	orders            int64
	revenue           float64
	last              string
	recency           int
	r, f, m           int
	segment           string
	clv               float64 // lifetime 3 years, margin 0.5: revenue ÷ 1 year × 3 × 0.5
	aov, frequency    float64
	segmentRuleRowNum string
}{
	"A": {4, 12000, "2025-12-20", 11, 5, 5, 5, "champions", 18000, 3000, 4, "1"},
	"B": {3, 7000, "2025-12-01", 30, 5, 4, 5, "champions", 10500, 2333.33, 3, "1"},
	"C": {2, 3000, "2025-11-15", 46, 4, 3, 4, "loyal", 4500, 1500, 2, "2"},
	"D": {1, 2500, "2025-10-20", 72, 4, 1, 3, "potential", 3750, 2500, 1, "3"},
	"E": {5, 5000, "2025-08-15", 138, 3, 5, 4, "loyal", 7500, 1000, 5, "2"},
	"F": {1, 800, "2025-07-01", 183, 3, 1, 2, "needs attention", 1200, 800, 1, "4"},
	"G": {2, 1200, "2025-05-20", 225, 2, 3, 3, "at risk", 1800, 600, 2, "5"},
	"H": {1, 400, "2025-04-01", 274, 2, 1, 2, "hibernating", 600, 400, 1, "6"},
	"I": {1, 300, "2025-03-15", 291, 1, 1, 1, "lost", 450, 300, 1, "7"},
	"J": {1, 200, "2025-02-10", 324, 1, 1, 1, "lost", 300, 200, 1, "7"},
}

func letterOf(s shop, id string) string {
	for l, cid := range s.companies {
		if cid == id {
			return l
		}
	}
	return "?"
}

func TestRFM(t *testing.T) {
	s := seedShop(t)
	rep := decode[analytics.RFMReport](t, call(t, http.MethodGet, "/api/v1/analytics/rfm?"+year2025+"&limit=1000", nil, http.StatusOK))
	if rep.Customers != 10 || rep.Orders != 21 || !near(rep.Revenue, 32400) {
		t.Fatalf("totals: %d customers, %d orders, revenue %v; want 10, 21, 32400", rep.Customers, rep.Orders, rep.Revenue)
	}
	if rep.Period.Days() != 365 || len(rep.Items) != 10 {
		t.Fatalf("period %+v, %d items", rep.Period, len(rep.Items))
	}
	for i, c := range rep.Items {
		l := letterOf(s, c.ID)
		w, ok := rfmWant[l]
		if !ok {
			t.Errorf("unexpected customer %s (%s)", c.ID, l)
			continue
		}
		if c.Orders != w.orders || !near(c.Revenue, w.revenue) || c.LastOrder != w.last || c.RecencyDays != w.recency || c.R != w.r || c.F != w.f || c.M != w.m {
			t.Errorf("%s: got orders %d revenue %v last %s recency %d RFM %d%d%d; want %d %v %s %d %d%d%d",
				l, c.Orders, c.Revenue, c.LastOrder, c.RecencyDays, c.R, c.F, c.M, w.orders, w.revenue, w.last, w.recency, w.r, w.f, w.m)
		}
		if c.Name != "Company "+l {
			t.Errorf("%s: name %q", l, c.Name)
		}
		if i > 0 && rep.Items[i-1].Revenue < c.Revenue {
			t.Errorf("items not by revenue: %v before %v", rep.Items[i-1].Revenue, c.Revenue)
		}
	}
	// The R × F grid: A and B at (5,5) and (5,4)…, 25 cells adding up to the customers.
	cells := map[[2]int]int{}
	total := 0
	for _, g := range rep.Grid {
		cells[[2]int{g.R, g.F}] = g.Customers
		total += g.Customers
	}
	if len(rep.Grid) != 25 || total != 10 || cells[[2]int{1, 1}] != 2 || cells[[2]int{5, 5}] != 1 || cells[[2]int{3, 5}] != 1 || cells[[2]int{4, 1}] != 1 {
		t.Errorf("grid %+v", rep.Grid)
	}
	// Paging.
	page := decode[analytics.RFMReport](t, call(t, http.MethodGet, "/api/v1/analytics/rfm?"+year2025+"&offset=8&limit=5", nil, http.StatusOK))
	if len(page.Items) != 2 || letterOf(s, page.Items[0].ID) != "I" || letterOf(s, page.Items[1].ID) != "J" {
		t.Errorf("page 8+5: %+v", page.Items)
	}
	// Contacts: the order of A with contact X and the order without a company.
	con := decode[analytics.RFMReport](t, call(t, http.MethodGet, "/api/v1/analytics/rfm?customer=contact&"+year2025, nil, http.StatusOK))
	if con.Customers != 1 || con.Orders != 2 || !near(con.Revenue, 5777) || con.Items[0].ID != s.contact || con.Items[0].Name != "Xenia Shopper" {
		t.Errorf("contact RFM %+v", con)
	}
	// Another currency has no orders.
	usd := decode[analytics.RFMReport](t, call(t, http.MethodGet, "/api/v1/analytics/rfm?currency=usd&"+year2025, nil, http.StatusOK))
	if usd.Customers != 0 || usd.Orders != 0 {
		t.Errorf("USD RFM %+v", usd)
	}
	// CSV: every customer with its scores.
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/rfm/csv?"+year2025, nil, http.StatusOK))
	if len(rows) != 11 || !slices.Equal(rows[0], analytics.CustomersCSVHeader) {
		t.Fatalf("CSV header/rows: %v", rows)
	}
	if a := rows[1]; letterOf(s, a[0]) != "A" || a[6] != "4" || a[7] != "12000" || a[8] != "5" || a[9] != "5" || a[10] != "5" {
		t.Errorf("CSV row of A: %v", a)
	}
}

func TestPareto(t *testing.T) {
	seedShop(t)
	rep := decode[analytics.ParetoReport](t, call(t, http.MethodGet, "/api/v1/analytics/pareto?"+year2025, nil, http.StatusOK))
	// The top 20% of ten customers are two, A and B: (12000 + 7000) ÷ 32400.
	if rep.Customers != 10 || rep.TopCustomers != 2 || !near(rep.TopShare, 0.5864) || !near(rep.Revenue, 32400) {
		t.Fatalf("pareto %+v", rep)
	}
	if len(rep.Curve) != 20 {
		t.Fatalf("curve has %d points", len(rep.Curve))
	}
	// 5% of customers → ⌈0.5⌉ = 1 (A): 12000 ÷ 32400; 50% → 5 (A B E C D): 29500 ÷ 32400; 100% → all.
	for _, w := range []struct {
		i, customers int
		share        float64
	}{{0, 1, 0.3704}, {3, 2, 0.5864}, {9, 5, 0.9105}, {19, 10, 1}} {
		if p := rep.Curve[w.i]; p.Customers != w.customers || !near(p.RevenueShare, w.share) {
			t.Errorf("curve point %d = %+v, want %d customers, share %v", w.i, p, w.customers, w.share)
		}
	}
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/pareto/csv?"+year2025, nil, http.StatusOK))
	if len(rows) != 21 || rows[4][1] != "2" || rows[4][2] != "0.5864" {
		t.Errorf("pareto CSV %v", rows)
	}
}

func TestCLV(t *testing.T) {
	s := seedShop(t)
	rep := decode[analytics.CLVReport](t, call(t, http.MethodGet, "/api/v1/analytics/clv?"+year2025+"&lifetime=3&margin=0.5", nil, http.StatusOK))
	if rep.Customers != 10 || !near(rep.Average, 4860) || rep.Params.Margin != 0.5 || rep.Params.LifetimeYears != 3 || rep.Formula != analytics.CLVFormula {
		t.Fatalf("CLV totals %+v", rep)
	}
	for _, c := range rep.Items {
		w := rfmWant[letterOf(s, c.ID)]
		if !near(c.CLV, w.clv) || !near(c.AOV, w.aov) || !near(c.Frequency, w.frequency) {
			t.Errorf("%s: CLV %v AOV %v frequency %v; want %v %v %v", letterOf(s, c.ID), c.CLV, c.AOV, c.Frequency, w.clv, w.aov, w.frequency)
		}
	}
	// Defaults: three years, margin 1.
	def := decode[analytics.CLVReport](t, call(t, http.MethodGet, "/api/v1/analytics/clv?"+year2025+"&limit=1", nil, http.StatusOK))
	if len(def.Items) != 1 || !near(def.Items[0].CLV, 36000) || !near(def.Average, 9720) {
		t.Errorf("default CLV %+v", def)
	}
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/clv/csv?"+year2025+"&margin=0.5", nil, http.StatusOK))
	if len(rows) != 11 || rows[1][13] != "18000" {
		t.Errorf("CLV CSV %v", rows)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name, path, param string
		status            int
	}{
		{"malformed date", "/api/v1/analytics/rfm?from=2025-13-01", "from", http.StatusUnprocessableEntity},
		{"from after to", "/api/v1/analytics/pareto?from=2025-06-01&to=2025-01-01", "from", http.StatusUnprocessableEntity},
		{"unknown customer entity", "/api/v1/analytics/rfm?customer=lead", "customer", http.StatusUnprocessableEntity},
		{"margin above 1", "/api/v1/analytics/clv?margin=2", "margin", http.StatusUnprocessableEntity},
		{"unknown funnel", "/api/v1/analytics/funnel?entity=order", "entity", http.StatusUnprocessableEntity},
		{"unknown grouping", "/api/v1/analytics/funnel?by=colour", "by", http.StatusUnprocessableEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, http.MethodGet, tc.path, nil, tc.status)
			if r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("content type %q", r.Header.Get("Content-Type"))
			}
			errs, _ := r.Body["errors"].([]any)
			found := false
			for _, e := range errs {
				m, _ := e.(map[string]any)
				if m["parameter"] == tc.param || m["location"] == "query."+tc.param {
					found = true
				}
			}
			if !found {
				t.Errorf("problem does not name %s: %s", tc.param, r.Raw)
			}
		})
	}
	r := call(t, http.MethodPost, "/api/v1/analytics/segments/recompute", map[string]any{"customer": "company", "rules": "no-such-rules"}, http.StatusUnprocessableEntity)
	if !slices.Contains(pointers(r.Body), "/rules") {
		t.Errorf("recompute with unknown rules: %s", r.Raw)
	}
	r = call(t, http.MethodPut, "/api/v1/analytics/segments/schedule/company", map[string]any{"every": "5s"}, http.StatusUnprocessableEntity)
	if !slices.Contains(pointers(r.Body), "/every") {
		t.Errorf("schedule every 5s: %s", r.Raw)
	}
	if got := call(t, http.MethodGet, "/api/v1/analytics/rfm?"+url.Values{"from": {"2025-01-01"}, "to": {"2025-12-31"}}.Encode(), nil, http.StatusOK); got.Body["customers"] == nil {
		t.Errorf("a good request after bad ones: %s", got.Raw)
	}
}

func pointers(body map[string]any) []string {
	var out []string
	errs, _ := body["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		if p, ok := m["pointer"].(string); ok {
			out = append(out, p)
		}
	}
	return out
}
