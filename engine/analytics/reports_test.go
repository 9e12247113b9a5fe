package analytics_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/analytics"
)

func TestLoyalty(t *testing.T) {
	seedShop(t) // contact X: a prospect since creation
	p1 := create(t, "contact", map[string]any{"firstName": "Pavel", "loyaltyStage": "prospect"})
	p2 := create(t, "contact", map[string]any{"firstName": "Polina"})
	c1 := create(t, "contact", map[string]any{"firstName": "Kira", "loyaltyStage": "customer"})
	_ = p1
	patch(t, "contact", p2, map[string]any{"loyaltyStage": "customer"})
	patch(t, "contact", c1, map[string]any{"loyaltyStage": "client"})
	rep := decode[analytics.LoyaltyReport](t, call(t, http.MethodGet, "/api/v1/analytics/loyalty", nil, http.StatusOK))
	stages := map[string]int64{}
	var order []string
	for _, s := range rep.Stages {
		stages[s.Stage] = s.Count
		order = append(order, s.Stage)
	}
	if !slices.Equal(order, []string{"prospect", "customer", "client", "supporter", "advocate", "partner"}) {
		t.Errorf("stages in ladder order: %v", order)
	}
	if rep.Total != 4 || stages["prospect"] != 2 || stages["customer"] != 1 || stages["client"] != 1 || stages["partner"] != 0 {
		t.Errorf("distribution %+v", rep.Stages)
	}
	moves := map[string]int{}
	for _, tr := range rep.Transitions {
		moves[tr.From+"→"+tr.To] = tr.Count
	}
	// Creations enter a stage from "": X, Pavel and Polina as prospects, Kira as a customer.
	if rep.Moves != 6 || moves["→prospect"] != 3 || moves["→customer"] != 1 || moves["prospect→customer"] != 1 || moves["customer→client"] != 1 {
		t.Errorf("transitions %+v", rep.Transitions)
	}
	month := time.Now().UTC().Format("2006-01") + "-01"
	if len(rep.ByMonth) != 4 || rep.ByMonth[0].Month != month {
		t.Errorf("by month %+v", rep.ByMonth)
	}
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/loyalty/csv", nil, http.StatusOK))
	if len(rows) != 1+6+4 || rows[1][0] != "stage" || rows[1][3] != "prospect" || rows[1][4] != "2" {
		t.Errorf("loyalty CSV %v", rows)
	}
}

// TestFunnel walks six leads and three deals through their stages and checks the hand-computed funnel.
func TestFunnel(t *testing.T) {
	lead := func(source string, path ...string) string {
		id := create(t, "lead", map[string]any{"source": source, "name": "Lead " + source})
		for _, st := range path {
			p := map[string]any{"status": st}
			if st == "disqualified" {
				p["disqualificationReason"] = "noNeed"
			}
			patch(t, "lead", id, p)
		}
		return id
	}
	l1 := lead("webForm", "contacted", "qualified", "converted")
	lead("webForm", "contacted", "qualified")
	lead("webForm", "contacted", "disqualified")
	l4 := lead("call", "qualified", "converted") // skips contacted: counted as passed
	lead("call")
	lead("call", "disqualified")

	rep := decode[analytics.FunnelReport](t, call(t, http.MethodGet, "/api/v1/analytics/funnel?entity=lead&by=source", nil, http.StatusOK))
	type st struct {
		reached, current int
		conv             float64
		stays            int
	}
	check := func(name string, g analytics.FunnelGroup, records, won, lost int, rate float64, want []st) {
		t.Helper()
		if g.Records != records || g.Won != won || g.Lost != lost || !near(g.WinRate, rate) || len(g.Stages) != len(want) {
			t.Errorf("%s: records %d won %d lost %d rate %v; want %d %d %d %v", name, g.Records, g.Won, g.Lost, g.WinRate, records, won, lost, rate)
			return
		}
		for i, w := range want {
			s := g.Stages[i]
			if s.Reached != w.reached || s.Current != w.current || !near(s.Conversion, w.conv) || (w.stays >= 0 && s.Stays != w.stays) || s.AvgHours < 0 {
				t.Errorf("%s stage %s: %+v, want %+v", name, s.Stage, s, w)
			}
		}
	}
	// new 6 → contacted 4 (L1 L2 L3 and L4, which skipped it) → qualified 3 → converted 2; won 2, disqualified 2.
	check("total", rep.Total, 6, 2, 2, 0.5, []st{{6, 1, 1, 5}, {4, 0, 0.6667, 3}, {3, 1, 0.75, 2}, {2, 2, 0.6667, 0}})
	if len(rep.Groups) != 2 || rep.Groups[0].Key != "call" || rep.Groups[1].Key != "webForm" {
		t.Fatalf("groups %+v", rep.Groups)
	}
	check("call", rep.Groups[0], 3, 1, 1, 0.5, []st{{3, 1, 1, -1}, {1, 0, 0.3333, -1}, {1, 0, 1, -1}, {1, 1, 1, -1}})
	check("webForm", rep.Groups[1], 3, 1, 1, 0.5, []st{{3, 0, 1, -1}, {3, 0, 1, -1}, {2, 1, 0.6667, -1}, {1, 1, 0.5, -1}})

	deal := func(lead string, path ...string) {
		rec := map[string]any{"name": "Deal", "amount": map[string]any{"amount": 1000, "currency": "EUR"}}
		if lead != "" {
			rec["lead"] = lead
		}
		id := create(t, "deal", rec)
		for _, s := range path {
			patch(t, "deal", id, map[string]any{"stage": s})
		}
	}
	deal(l1, "needsAnalysis", "proposal", "negotiation", "won")
	deal(l4, "proposal", "lost")
	deal("")
	deals := decode[analytics.FunnelReport](t, call(t, http.MethodGet, "/api/v1/analytics/funnel?entity=deal&by=source", nil, http.StatusOK))
	check("deals", deals.Total, 3, 1, 1, 0.5, []st{{3, 1, 1, 2}, {2, 0, 0.6667, 1}, {2, 0, 1, 2}, {1, 0, 0.5, 1}, {1, 1, 1, 0}})
	keys := []string{}
	for _, g := range deals.Groups {
		keys = append(keys, g.Key)
	}
	if !slices.Equal(keys, []string{"", "call", "webForm"}) {
		t.Errorf("deal groups by the lead's source: %v", keys)
	}
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/funnel/csv?entity=lead&by=owner", nil, http.StatusOK))
	// The total and one owner (the administrator), four stages each.
	if len(rows) != 1+4+4 || rows[1][0] != "(total)" || rows[2][2] != "4" || rows[2][3] != "0.6667" {
		t.Errorf("funnel CSV %v", rows)
	}
}

// TestService checks SLA compliance, times, CSAT and reopen rate over four complaints whose deadlines
// and answers are set relative to their creation.
func TestService(t *testing.T) {
	complaint := func(severity, team string, set map[string]time.Duration, extra map[string]any) {
		r := call(t, http.MethodPost, "/api/v1/records/complaint", map[string]any{"channel": "email", "subject": "Broken", "severity": severity, "team": team}, http.StatusCreated)
		created, err := time.Parse(time.RFC3339Nano, r.Body["createdAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		p := map[string]any{}
		for f, d := range set {
			p[f] = created.Add(d).Format(time.RFC3339Nano)
		}
		for k, v := range extra {
			p[k] = v
		}
		patch(t, "complaint", r.Body["id"].(string), p)
	}
	h := time.Hour
	complaint("high", "t1", map[string]time.Duration{"responseDueAt": h, "acknowledgedAt": 30 * time.Minute, "resolutionDueAt": 8 * h, "resolvedAt": 6 * h}, map[string]any{"satisfactionScore": 5})
	complaint("high", "t1", map[string]time.Duration{"responseDueAt": h, "acknowledgedAt": 2 * h, "resolutionDueAt": 8 * h, "resolvedAt": 10 * h}, map[string]any{"satisfactionScore": 2, "reopenCount": 1})
	complaint("low", "t2", map[string]time.Duration{"responseDueAt": -h, "resolutionDueAt": 100 * h}, nil)
	complaint("low", "t2", map[string]time.Duration{"responseDueAt": 24 * h, "resolvedAt": 4 * h}, map[string]any{"satisfactionScore": 4})

	rep := decode[analytics.ServiceReport](t, call(t, http.MethodGet, "/api/v1/analytics/service", nil, http.StatusOK))
	tot := rep.Total
	// Acknowledge: met 1, breached 2 (late; unanswered past due), pending 1 → 1/3. Resolve: met 1, breached 1, pending 1.
	if tot.Complaints != 4 || tot.Acknowledge != (analytics.SLA{Met: 1, Breached: 2, Pending: 1, Compliance: 0.3333}) ||
		tot.Resolve != (analytics.SLA{Met: 1, Breached: 1, Pending: 1, Compliance: 0.5}) {
		t.Errorf("SLA %+v", tot)
	}
	// Hours: acknowledge (0.5 + 2) ÷ 2; resolve (6 + 10 + 4) ÷ 3. CSAT (5 + 2 + 4) ÷ 3. Reopened 1 of 3 resolved.
	if !near(tot.AvgHoursToAcknowledge, 1.25) || tot.Acknowledged != 2 || !near(tot.AvgHoursToResolve, 6.67) || tot.Resolved != 3 ||
		!near(tot.CSATAverage, 3.67) || tot.CSATResponses != 3 || tot.Reopened != 1 || !near(tot.ReopenRate, 0.3333) {
		t.Errorf("times, CSAT, reopen %+v", tot)
	}
	if len(rep.Groups) != 2 {
		t.Fatalf("groups %+v", rep.Groups)
	}
	hi, lo := rep.Groups[0], rep.Groups[1]
	if hi.Severity != "high" || hi.Team != "t1" || hi.Complaints != 2 || hi.Acknowledge.Compliance != 0.5 || hi.Resolve.Compliance != 0.5 ||
		!near(hi.CSATAverage, 3.5) || !near(hi.ReopenRate, 0.5) {
		t.Errorf("high/t1 %+v", hi)
	}
	if lo.Severity != "low" || lo.Team != "t2" || lo.Acknowledge != (analytics.SLA{Breached: 1, Pending: 1}) || lo.Resolve != (analytics.SLA{Pending: 1}) ||
		!near(lo.CSATAverage, 4) || lo.ReopenRate != 0 {
		t.Errorf("low/t2 %+v", lo)
	}
	csat := map[int]int64{}
	for _, c := range rep.CSAT {
		csat[c.Score] = c.Count
	}
	if len(rep.CSAT) != 5 || csat[1] != 0 || csat[2] != 1 || csat[4] != 1 || csat[5] != 1 {
		t.Errorf("CSAT distribution %+v", rep.CSAT)
	}
	if len(rep.ByMonth) != 1 || rep.ByMonth[0].Complaints != 4 || rep.ByMonth[0].Month != time.Now().UTC().Format("2006-01")+"-01" {
		t.Errorf("by month %+v", rep.ByMonth)
	}
	team := decode[analytics.ServiceReport](t, call(t, http.MethodGet, "/api/v1/analytics/service?team=t2", nil, http.StatusOK))
	if team.Total.Complaints != 2 || len(team.Groups) != 1 {
		t.Errorf("team filter %+v", team.Total)
	}
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/service/csv", nil, http.StatusOK))
	if len(rows) != 1+1+2+1 || rows[1][0] != "(total)" || rows[1][3] != "4" || rows[1][7] != "0.3333" {
		t.Errorf("service CSV %v", rows)
	}
}

func TestProcessFigures(t *testing.T) {
	ctx := context.Background()
	feed := func(el string, d time.Duration, incident bool) {
		if err := env.Stack.Analytics.ElementFinished(ctx, analytics.ElementEvent{Process: "figures", Version: 1, Element: el, Duration: d, Incident: incident}); err != nil {
			t.Fatal(err)
		}
	}
	for range 9 {
		feed("review", 100*time.Millisecond, false)
	}
	feed("review", time.Second, false)
	feed("review", 0, true)
	feed("approve", 50*time.Millisecond, false)
	feed("approve", 70*time.Millisecond, false)
	rep := decode[analytics.ProcessReport](t, call(t, http.MethodGet, "/api/v1/analytics/processes/figures", nil, http.StatusOK))
	if len(rep.Instances) != 8 {
		t.Errorf("instance states %v", rep.Instances)
	}
	for state, n := range rep.Instances {
		if n != 0 {
			t.Errorf("%s: %d instances of a process never started", state, n)
		}
	}
	if len(rep.Elements) != 2 {
		t.Fatalf("elements %+v", rep.Elements)
	}
	// approve: mean 60 ms; the 2nd of 2 (70 ms) lies in the bucket up to 2^(25/4) = 76.11 ms.
	// review: 11 runs, 1 incident; mean (9 × 100 + 1000) ÷ 10 = 190 ms; the 9th of 10 (100 ms) in the bucket up to 2^(27/4) = 107.63 ms.
	a, r := rep.Elements[0], rep.Elements[1]
	if a.Element != "approve" || a.Runs != 2 || a.Completed != 2 || a.Incidents != 0 || !near(a.MeanMs, 60) || !near(a.P90Ms, 76.11) {
		t.Errorf("approve %+v", a)
	}
	if r.Element != "review" || r.Runs != 11 || r.Completed != 10 || r.Incidents != 1 || !near(r.IncidentRate, 0.0909) || !near(r.MeanMs, 190) || !near(r.P90Ms, 107.63) {
		t.Errorf("review %+v", r)
	}
	rows := csvOf(t, call(t, http.MethodGet, "/api/v1/analytics/processes/figures/csv?version=1", nil, http.StatusOK))
	if len(rows) != 3 || rows[2][0] != "review" || rows[2][3] != "1" {
		t.Errorf("process CSV %v", rows)
	}
	if other := decode[analytics.ProcessReport](t, call(t, http.MethodGet, "/api/v1/analytics/processes/figures?version=2", nil, http.StatusOK)); len(other.Elements) != 0 {
		t.Errorf("version 2 has no figures: %+v", other.Elements)
	}
}

// TestScopes: an agent sees only the orders and complaints they may read, cannot run segments or read
// process figures, and a role hiding the order amount cannot compute monetary figures.
func TestScopes(t *testing.T) {
	s := seedShop(t)
	user := func(email string, roles ...string) string {
		call(t, http.MethodPost, "/api/v1/users", map[string]any{"email": email, "roles": roles, "password": "analytics password 1"}, http.StatusCreated)
		tok, err := env.Login(context.Background(), email, "analytics password 1")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	agent := user("agent.analytics@example.test", "agent")
	// The agent's order of a company the agent may not read: made for the agent by the administrator, as
	// an agent may not link a record it cannot read (issue 10, finding 16).
	me := callAs(t, agent, http.MethodGet, "/api/v1/auth/me", nil, http.StatusOK)
	call(t, http.MethodPost, "/api/v1/records/order", map[string]any{"number": "AG-1", "date": "2024-06-01", "company": s.companies["B"],
		"amount": map[string]any{"amount": 640, "currency": "EUR"}, "owner": me.Body["id"]}, http.StatusCreated)
	const y2024 = "/api/v1/analytics/rfm?from=2024-01-01&to=2024-12-31"
	all := decode[analytics.RFMReport](t, call(t, http.MethodGet, y2024, nil, http.StatusOK))
	if all.Customers != 2 || all.Orders != 2 || !near(all.Revenue, 1140) {
		t.Errorf("administrator's 2024: %+v", all)
	}
	mine := decode[analytics.RFMReport](t, callAs(t, agent, http.MethodGet, y2024, nil, http.StatusOK))
	if mine.Customers != 1 || mine.Orders != 1 || !near(mine.Revenue, 640) || mine.Items[0].ID != s.companies["B"] || mine.Items[0].Name != "" {
		t.Errorf("agent's 2024 (own orders; the company is not theirs, so no name): %+v", mine)
	}
	if svc := decode[analytics.ServiceReport](t, callAs(t, agent, http.MethodGet, "/api/v1/analytics/service", nil, http.StatusOK)); svc.Total.Complaints != 0 {
		t.Errorf("agent sees others' complaints: %+v", svc.Total)
	}
	callAs(t, agent, http.MethodPost, "/api/v1/analytics/segments/recompute", map[string]any{"customer": "company"}, http.StatusForbidden)
	callAs(t, agent, http.MethodGet, "/api/v1/analytics/processes/figures", nil, http.StatusForbidden)

	call(t, http.MethodPost, "/api/v1/roles", map[string]any{"name": "amount-blind", "permissions": []string{"analytics.read", "records.*.read"},
		"scopes": map[string]string{"*": "all"}, "fields": map[string]any{"order": map[string]any{"hidden": []string{"amount"}}}}, http.StatusCreated)
	blind := user("blind.analytics@example.test", "amount-blind")
	r := callAs(t, blind, http.MethodGet, "/api/v1/analytics/pareto?"+year2025, nil, http.StatusForbidden)
	if !containsAll(string(r.Raw), "amount", "order") {
		t.Errorf("refusal does not name the hidden field: %s", r.Raw)
	}
	callAs(t, blind, http.MethodGet, "/api/v1/analytics/loyalty", nil, http.StatusOK)
	callAs(t, user("nobody.analytics@example.test"), http.MethodGet, "/api/v1/analytics/loyalty", nil, http.StatusForbidden)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
