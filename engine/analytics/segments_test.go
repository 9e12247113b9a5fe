package analytics_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/analytics"
)

// TestSegments runs the shipped segment table over the shop, checks what lands on each customer record
// (scores, segment, the rule, history), uses the segment in a list filter and in a rule, then lets an
// analyst publish a changed table and follows the moves.
func TestSegments(t *testing.T) {
	s := seedShop(t)
	run := runSegments(t, map[string]any{"customer": "company", "from": "2025-01-01", "to": "2025-12-31"})
	if run.Status != "completed" || run.Result == nil {
		t.Fatalf("run %+v", run)
	}
	res := run.Result
	// Eleven companies read, ten with orders; K has nothing to store, the ten get scores and a segment.
	if res.Customers != 11 || res.Scored != 10 || res.Changed != 10 || res.Failed != 0 || res.Rules != "rfm-segments-company" || res.Version != 1 {
		t.Fatalf("run result %+v", res)
	}
	wantSizes := map[string]int{"champions": 2, "loyal": 2, "potential": 1, "needs attention": 1, "at risk": 1, "hibernating": 1, "lost": 2, "": 1}
	for seg, n := range wantSizes {
		if res.Segments[seg] != n {
			t.Errorf("segment %q has %d customers, want %d (%v)", seg, res.Segments[seg], n, res.Segments)
		}
	}
	for l, w := range rfmWant {
		rec := call(t, http.MethodGet, "/api/v1/records/company/"+s.companies[l], nil, http.StatusOK).Body
		if rec["segment"] != w.segment || rec["rfmRecency"] != float64(w.r) || rec["rfmFrequency"] != float64(w.f) || rec["rfmMonetary"] != float64(w.m) ||
			rec["segmentRule"] != "rfm-segments-company v1 row "+w.segmentRuleRowNum || rec["segmentSince"] == nil {
			t.Errorf("%s: stored %v %v%v%v rule %v since %v; want %s %d%d%d row %s", l, rec["segment"], rec["rfmRecency"], rec["rfmFrequency"],
				rec["rfmMonetary"], rec["segmentRule"], rec["segmentSince"], w.segment, w.r, w.f, w.m, w.segmentRuleRowNum)
		}
	}
	if k := call(t, http.MethodGet, "/api/v1/records/company/"+s.companies["K"], nil, http.StatusOK).Body; k["segment"] != nil || k["rfmRecency"] != nil {
		t.Errorf("K without orders got %v", k)
	}
	// History shows the move, through what and by whom.
	h := call(t, http.MethodGet, "/api/v1/records/company/"+s.companies["G"]+"/history?limit=1", nil, http.StatusOK)
	entry := h.Body["items"].([]any)[0].(map[string]any)
	actor := entry["actor"].(map[string]any)
	changes := map[string]any{}
	for _, c := range entry["changes"].([]any) {
		m := c.(map[string]any)
		changes[m["field"].(string)] = m["after"]
	}
	if actor["via"] != "analytics" || actor["user"] == nil || changes["segment"] != "at risk" || changes["segmentRule"] != "rfm-segments-company v1 row 5" {
		t.Errorf("history entry %v", entry)
	}
	// A second run with the same data changes nothing.
	again := runSegments(t, map[string]any{"customer": "company", "from": "2025-01-01", "to": "2025-12-31"})
	if again.Result.Changed != 0 || again.Result.Scored != 10 {
		t.Errorf("second run %+v", again.Result)
	}
	// The segment is a plain field: list filters and rules use it.
	list := call(t, http.MethodGet, "/api/v1/records/company?count=true&filter="+url.QueryEscape(`segment == "champions"`), nil, http.StatusOK)
	if list.Body["total"] != float64(2) {
		t.Errorf("filter segment == champions: %s", list.Raw)
	}
	call(t, http.MethodPost, "/api/v1/rulesets", map[string]any{"key": "call-at-risk", "kind": "decision", "entity": "company", "default": false,
		"rules": []any{map[string]any{"name": "at risk", "when": `segment == "at risk" && rfmFrequency >= 3`, "outcome": true}},
		"tests": []any{map[string]any{"name": "at risk", "input": map[string]any{"segment": "at risk", "rfmFrequency": 3}, "expect": map[string]any{"outcome": true}}},
	}, http.StatusCreated)
	call(t, http.MethodPost, "/api/v1/rulesets/call-at-risk/publish", map[string]any{}, http.StatusCreated)
	for l, want := range map[string]bool{"G": true, "A": false} {
		rec := call(t, http.MethodGet, "/api/v1/records/company/"+s.companies[l], nil, http.StatusOK).Body
		ev := call(t, http.MethodPost, "/api/v1/rulesets/call-at-risk/evaluate", map[string]any{"record": rec}, http.StatusOK)
		if ev.Body["result"].(map[string]any)["outcome"] != want {
			t.Errorf("rule on %s: %s", l, ev.Raw)
		}
	}
	// Per segment: RFM sizes, Pareto and CLV.
	rfm := decode[analytics.RFMReport](t, call(t, http.MethodGet, "/api/v1/analytics/rfm?"+year2025, nil, http.StatusOK))
	champ := findSegment(rfm.Segments, "champions")
	if champ == nil || champ.Customers != 2 || champ.Orders != 7 || !near(champ.Revenue, 19000) || !near(champ.Share, 0.5864) {
		t.Errorf("RFM champions %+v", champ)
	}
	clv := decode[analytics.CLVReport](t, call(t, http.MethodGet, "/api/v1/analytics/clv?"+year2025+"&margin=0.5", nil, http.StatusOK))
	// Champions: AOV 19000 ÷ 7, frequency 7 ÷ 2 customers ÷ 1 year, × 3 years × 0.5 = 14250 (the mean of A's 18000 and B's 10500).
	if c := findSegment(clv.Segments, "champions"); c == nil || !near(c.CLV, 14250) || !near(c.AOV, 2714.29) || !near(c.Frequency, 3.5) {
		t.Errorf("CLV champions %+v", c)
	}
	if c := findSegment(clv.Segments, "lost"); c == nil || c.Customers != 2 || !near(c.CLV, 375) {
		t.Errorf("CLV lost %+v", c)
	}
	if items := clv.Items; items[0].Segment != "champions" {
		t.Errorf("customer rows carry the stored segment: %+v", items[0])
	}

	// An analyst renames "lost" to "gone" and publishes version 2; the next run moves I and J.
	info := call(t, http.MethodGet, "/api/v1/rulesets/rfm-segments-company", nil, http.StatusOK).Body
	draft := info["draft"].(map[string]any)
	table := draft["table"].(map[string]any)
	rows := table["rows"].([]any)
	rows[6].(map[string]any)["outputs"] = []any{"gone"}
	for _, tc := range draft["tests"].([]any) {
		m := tc.(map[string]any)
		if m["name"] == "lost" {
			m["expect"] = map[string]any{"output": "gone"}
		}
	}
	call(t, http.MethodPut, "/api/v1/rulesets/rfm-segments-company", draft, http.StatusOK)
	call(t, http.MethodPost, "/api/v1/rulesets/rfm-segments-company/publish", map[string]any{"note": "lost is gone"}, http.StatusCreated)
	moved := runSegments(t, map[string]any{"customer": "company", "from": "2025-01-01", "to": "2025-12-31"})
	// Every segmented customer's rule names version 2 now; I and J also change segment.
	if moved.Result.Changed != 10 || moved.Result.Version != 2 || moved.Result.Segments["gone"] != 2 {
		t.Errorf("run after the edit %+v", moved.Result)
	}
	if rec := call(t, http.MethodGet, "/api/v1/records/company/"+s.companies["J"], nil, http.StatusOK).Body; rec["segment"] != "gone" || rec["segmentRule"] != "rfm-segments-company v2 row 7" {
		t.Errorf("J after the edit: %v", rec)
	}
	mv := decode[analytics.MovesReport](t, call(t, http.MethodGet, "/api/v1/analytics/segments/moves?latest=3", nil, http.StatusOK))
	// Ten first assignments ("" → segment) and two renames.
	counts := map[string]int{}
	for _, tr := range mv.Transitions {
		counts[tr.From+"→"+tr.To] = tr.Count
	}
	if mv.Total != 12 || counts["→champions"] != 2 || counts["→lost"] != 2 || counts["lost→gone"] != 2 || counts["→at risk"] != 1 || len(mv.Latest) != 3 {
		t.Errorf("moves %+v", mv)
	}
	if l := mv.Latest[0]; l.To != "gone" || l.From != "lost" || !strings.HasPrefix(l.Rule, "rfm-segments-company v2") || l.Via != "analytics" {
		t.Errorf("latest move %+v", l)
	}
	csvRows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/segments/moves/csv", nil, http.StatusOK))
	if len(csvRows) != 13 {
		t.Errorf("moves CSV has %d rows", len(csvRows))
	}
	// The table goes back to the shipped names for the other tests.
	rows[6].(map[string]any)["outputs"] = []any{"lost"}
	for _, tc := range draft["tests"].([]any) {
		if m := tc.(map[string]any); m["name"] == "lost" {
			m["expect"] = map[string]any{"output": "lost"}
		}
	}
	call(t, http.MethodPut, "/api/v1/rulesets/rfm-segments-company", draft, http.StatusOK)
	call(t, http.MethodPost, "/api/v1/rulesets/rfm-segments-company/publish", map[string]any{}, http.StatusCreated)
}

func findSegment(list []analytics.SegmentSize, name string) *analytics.SegmentSize {
	for i := range list {
		if list[i].Segment == name {
			return &list[i]
		}
	}
	return nil
}

func TestSegmentSchedule(t *testing.T) {
	call(t, http.MethodPut, "/api/v1/analytics/segments/schedule/contact", map[string]any{"cron": "0 3 * * *", "windowDays": 730}, http.StatusNoContent)
	h := env.Temporal.ScheduleClient().GetHandle(t.Context(), "rapport-analytics-segments-contact")
	d, err := h.Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Temporal keeps a cron expression as the calendar it stands for: at 03:00:00 every day.
	if cal := d.Schedule.Spec.Calendars; len(cal) != 1 || cal[0].Hour[0].Start != 3 || cal[0].Minute[0].Start != 0 || cal[0].DayOfMonth[0].End != 31 {
		t.Errorf("schedule spec %+v", d.Schedule.Spec)
	}
	call(t, http.MethodPut, "/api/v1/analytics/segments/schedule/contact", map[string]any{"every": "24h"}, http.StatusNoContent)
	if d, err = h.Describe(t.Context()); err != nil || len(d.Schedule.Spec.Intervals) != 1 {
		t.Errorf("replaced schedule %+v %v", d, err)
	}
	call(t, http.MethodDelete, "/api/v1/analytics/segments/schedule/contact", nil, http.StatusNoContent)
	if _, err := h.Describe(t.Context()); err == nil {
		t.Error("the schedule is still there")
	}
}
