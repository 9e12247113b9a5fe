package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/analytics"
	wfanalytics "github.com/rapportcrm/rapport/workflows/analytics"
)

// analyticsSeed is what the dashboards' journeys look at, created through the API: two teams, an agent of
// the north team who owns the north team's records, a user whose role hides the order amount, five
// companies with orders in 2024, four contacts on the loyalty ladder, five leads and two deals walked
// through their stages, four complaints with deadlines, answers and satisfaction scores, and a process
// with two published versions. Every figure the journeys check follows from it by hand (see the
// comments in e2e/journeys/analytics.mjs); the team filter and the 2024 period keep other tests' records
// out of them.
type analyticsSeed struct {
	Agent   account `json:"agent"`
	Blind   account `json:"blind"`
	North   string  `json:"north"`
	Process string  `json:"process"`
}

const (
	northTeam = "an-north"
	southTeam = "an-south"
)

// analyticsProcess waits an hour on a timer, so a started instance stays open; {name} differs between
// the two published versions.
const analyticsProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_AN" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="an-review" name="{name}" isExecutable="true">
    <bpmn:startEvent id="Received" name="Complaint received"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait" name="Wait for the customer">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="Closed" name="Closed"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Received" targetRef="Wait" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Closed" />
  </bpmn:process>
</bpmn:definitions>`

func newUser(t *testing.T, email string, roles, teams []string) account {
	t.Helper()
	a := account{Email: email, Password: "pass-" + strings.Split(email, "@")[0] + "-123"}
	u := call(t, http.MethodPost, "/api/v1/users", env.AdminToken,
		map[string]any{"email": email, "name": strings.Split(email, "@")[0], "roles": roles, "teams": teams, "password": a.Password}, http.StatusCreated)
	a.ID = u["user"].(map[string]any)["id"].(string)
	return a
}

func create(t *testing.T, entity string, rec map[string]any) map[string]any {
	t.Helper()
	return call(t, http.MethodPost, "/api/v1/records/"+entity, env.AdminToken, rec, http.StatusCreated)
}

func patch(t *testing.T, entity string, rec map[string]any, changes map[string]any) {
	t.Helper()
	call(t, http.MethodPatch, fmt.Sprintf("/api/v1/records/%s/%s", entity, rec["id"]), env.AdminToken, changes, http.StatusOK)
}

func seedAnalytics(t *testing.T) analyticsSeed {
	t.Helper()
	for _, team := range []map[string]any{{"id": northTeam, "name": "North"}, {"id": southTeam, "name": "South"}} {
		call(t, http.MethodPost, "/api/v1/teams", env.AdminToken, team, http.StatusCreated)
	}
	call(t, http.MethodPost, "/api/v1/roles", env.AdminToken, map[string]any{"name": "an-amount-blind",
		"permissions": []string{"analytics.read", "records.*.read", "schemas.read"}, "scopes": map[string]string{"*": "all"},
		"fields": map[string]any{"order": map[string]any{"hidden": []string{"amount"}}}}, http.StatusCreated)
	s := analyticsSeed{North: northTeam, Process: "an-review",
		Agent: newUser(t, "an.agent@example.test", []string{"agent"}, []string{northTeam}),
		Blind: newUser(t, "an.blind@example.test", []string{"an-amount-blind"}, nil)}
	me := call(t, http.MethodGet, "/api/v1/auth/me", env.AdminToken, nil, http.StatusOK)["id"].(string)
	own := func(north bool) map[string]any {
		if north {
			return map[string]any{"owner": s.Agent.ID, "team": northTeam}
		}
		return map[string]any{"owner": me, "team": southTeam}
	}
	with := func(rec map[string]any, north bool) map[string]any {
		for k, v := range own(north) {
			rec[k] = v
		}
		return rec
	}

	// Orders in 2024 (EUR): C1 and C2 are the north team's (the agent's), C3-C5 the south's.
	companies := []struct {
		name   string
		north  bool
		orders [][2]any
	}{
		{"Alpha Trading", true, [][2]any{{"2024-03-10", 1000}, {"2024-11-20", 3000}}},
		{"Beta Foods", true, [][2]any{{"2024-06-01", 500}}},
		{"Gamma Steel", false, [][2]any{{"2024-02-01", 2000}, {"2024-05-01", 2000}, {"2024-12-01", 4000}}},
		{"Delta Logistics", false, [][2]any{{"2024-09-15", 1500}}},
		{"Epsilon Retail", false, [][2]any{{"2024-01-20", 250}}},
	}
	n := 0
	for _, c := range companies {
		co := create(t, "company", with(map[string]any{"name": c.name}, c.north))
		for _, o := range c.orders {
			n++
			create(t, "order", with(map[string]any{"number": fmt.Sprintf("AN-%03d", n), "date": o[0], "company": co["id"], "status": "completed",
				"amount": map[string]any{"amount": o[1], "currency": "EUR"}}, c.north))
		}
	}
	create(t, "order", with(map[string]any{"number": "AN-X", "date": "2024-07-07", "status": "cancelled",
		"amount": map[string]any{"amount": 99999, "currency": "EUR"}}, true)) // cancelled, no customer: never counted

	// The loyalty ladder of contacts: north K1 prospect → customer, K2 customer → client; south K3
	// prospect, K4 client → supporter.
	for _, k := range []struct {
		name        string
		north       bool
		stage, next string
	}{{"Kira", true, "prospect", "customer"}, {"Kostya", true, "customer", "client"}, {"Karina", false, "prospect", ""}, {"Klim", false, "client", "supporter"}} {
		rec := create(t, "contact", with(map[string]any{"firstName": k.name, "lastName": "Loyal", "loyaltyStage": k.stage}, k.north))
		if k.next != "" {
			patch(t, "contact", rec, map[string]any{"loyaltyStage": k.next})
		}
	}

	// Leads: north L1 webForm → converted, L2 webForm → contacted, L3 call → disqualified; south L4 call →
	// qualified, L5 partner stays new. Deals: north from L1 → won; south stays in qualification.
	var l1 map[string]any
	for i, l := range []struct {
		source string
		north  bool
		path   []string
	}{
		{"webForm", true, []string{"contacted", "qualified", "converted"}},
		{"webForm", true, []string{"contacted"}},
		{"call", true, []string{"disqualified"}},
		{"call", false, []string{"contacted", "qualified"}},
		{"partner", false, nil},
	} {
		rec := create(t, "lead", with(map[string]any{"source": l.source, "name": fmt.Sprintf("Funnel lead %d", i+1), "status": "new"}, l.north))
		for _, st := range l.path {
			p := map[string]any{"status": st}
			if st == "disqualified" {
				p["disqualificationReason"] = "noNeed"
			}
			patch(t, "lead", rec, p)
		}
		if i == 0 {
			l1 = rec
		}
	}
	deal := create(t, "deal", with(map[string]any{"name": "Alpha renewal", "lead": l1["id"], "stage": "qualification", "amount": map[string]any{"amount": 3000, "currency": "EUR"}}, true))
	for _, st := range []string{"needsAnalysis", "proposal", "won"} {
		patch(t, "deal", deal, map[string]any{"stage": st})
	}
	create(t, "deal", with(map[string]any{"name": "Gamma expansion", "stage": "qualification", "amount": map[string]any{"amount": 9000, "currency": "EUR"}}, false))

	// Complaints, times relative to their creation: north Q1 answered and resolved in time (CSAT 5), Q2
	// late on both (CSAT 2, reopened once); south Q3 unanswered past its response deadline, Q4 resolved
	// in 4 h (CSAT 4).
	h := time.Hour
	for _, q := range []struct {
		severity string
		north    bool
		times    map[string]time.Duration
		extra    map[string]any
	}{
		{"high", true, map[string]time.Duration{"responseDueAt": h, "acknowledgedAt": 30 * time.Minute, "resolutionDueAt": 8 * h, "resolvedAt": 6 * h}, map[string]any{"satisfactionScore": 5}},
		{"high", true, map[string]time.Duration{"responseDueAt": h, "acknowledgedAt": 2 * h, "resolutionDueAt": 8 * h, "resolvedAt": 10 * h}, map[string]any{"satisfactionScore": 2, "reopenCount": 1}},
		{"low", false, map[string]time.Duration{"responseDueAt": -h, "resolutionDueAt": 100 * h}, nil},
		{"medium", false, map[string]time.Duration{"responseDueAt": 24 * h, "resolvedAt": 4 * h}, map[string]any{"satisfactionScore": 4}},
	} {
		rec := create(t, "complaint", with(map[string]any{"channel": "email", "subject": "Analytics complaint", "severity": q.severity, "status": "new"}, q.north))
		created, err := time.Parse(time.RFC3339Nano, rec["createdAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		p := map[string]any{}
		for f, d := range q.times {
			p[f] = created.Add(d).Format(time.RFC3339Nano)
		}
		for k, v := range q.extra {
			p[k] = v
		}
		patch(t, "complaint", rec, p)
	}

	// The process: version 1, then version 2 (another name), one instance of version 2 waiting on its
	// timer (it reports its start event; its Wait lasts an hour). The figures checked are fed to the
	// engine as the interpreter reports them, so they are known: Wait took 1, 2 and 3 s and had one
	// incident in version 1, 4 s in version 2; Closed took 10 ms twice in version 1.
	for _, name := range []string{"Review a complaint", "Review a complaint (v2)"} {
		call(t, http.MethodPost, "/api/v1/processes", env.AdminToken, strings.Replace(analyticsProcess, "{name}", name, 1), http.StatusCreated, "Content-Type", "application/xml")
		call(t, http.MethodPost, "/api/v1/processes/an-review/publish", env.AdminToken, nil, http.StatusCreated)
	}
	call(t, http.MethodPost, "/api/v1/processes/an-review/instances", env.AdminToken, map[string]any{"variables": map[string]any{}}, http.StatusCreated)
	ctx := context.Background()
	feed := func(version int, el string, d time.Duration, incident bool) {
		if err := env.Stack.Analytics.ElementFinished(ctx, analytics.ElementEvent{Process: "an-review", Version: version, Element: el, Duration: d, Incident: incident}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		feed(1, "Wait", d, false)
	}
	feed(1, "Wait", 0, true)
	feed(1, "Closed", 10*time.Millisecond, false)
	feed(1, "Closed", 10*time.Millisecond, false)
	feed(2, "Wait", 4*time.Second, false)
	// Temporal's visibility lists the new instance a moment after it starts.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var rep analytics.ProcessReport
		raw := env.Call(t, http.MethodGet, "/api/v1/analytics/processes/an-review", env.AdminToken, nil).Raw
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("process figures: %s", raw)
		}
		open := rep.Instances["running"] + rep.Instances["waiting"]
		if open == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the instance of an-review is not listed as open: %v", rep.Instances)
		}
	}
	return s
}

// analyticsJourneys (run by TestBrowserJourneys) opens every analytics dashboard in Chromium on the
// seeded records: an administrator changes the period, team, grouping, CLV assumptions and process
// version and sees the figures change, recomputes the segments and sees the segment moves, and exports
// each chart's CSV; every dashboard passes axe-core in English (and two in Russian); the agent sees only
// their own records' figures and no process figures; a user whose role hides the order amount gets a
// refusal naming it on the customer dashboards while the others work.
func analyticsJourneys(t *testing.T) {
	s := seedAnalytics(t)
	admin := map[string]any{"email": stacktest.AdminEmail, "password": stacktest.AdminPassword}
	t.Run("admin", func(t *testing.T) {
		journey(t, "analytics", map[string]any{"admin": admin, "seed": s})
		// The segment run the administrator started in the browser stored the segments.
		r := call(t, http.MethodGet, "/api/v1/records/company?filter="+url.QueryEscape(`name == "Gamma Steel"`), env.AdminToken, nil, http.StatusOK)
		items, _ := r["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["segment"] != "champions" {
			t.Errorf("Gamma Steel after the segment run: %v", items)
		}
	})
	t.Run("scopes", func(t *testing.T) {
		journey(t, "analytics-scopes", map[string]any{"seed": s})
	})
	t.Run("schedule", func(t *testing.T) {
		ctx := context.Background()
		schedule := env.Temporal.ScheduleClient().GetHandle(ctx, wfanalytics.ScheduleID("company"))
		journey(t, "analytics-schedule", map[string]any{"admin": admin})
		d, err := schedule.Describe(ctx)
		if err != nil {
			t.Fatalf("the schedule saved in the browser: %v", err)
		}
		if cal := d.Schedule.Spec.Calendars; len(cal) != 1 || len(cal[0].Hour) != 1 || cal[0].Hour[0].Start != 3 || len(d.Schedule.Spec.Intervals) != 0 {
			t.Errorf("the schedule's spec is not 0 3 * * *: %+v", d.Schedule.Spec)
		}
		var in wfanalytics.Input
		if a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || len(a.Args) != 1 {
			t.Errorf("the schedule's action: %+v", d.Schedule.Action)
		} else if p, ok := a.Args[0].(*commonpb.Payload); !ok || converter.GetDefaultDataConverter().FromPayload(p, &in) != nil || in.Customer != "company" || in.WindowDays != 90 {
			t.Errorf("the schedule's run input: %+v (%T)", in, a.Args[0])
		}

		journey(t, "analytics-schedule", map[string]any{"admin": admin, "stop": true})
		var nf *serviceerror.NotFound
		if _, err := schedule.Describe(ctx); !errors.As(err, &nf) {
			t.Errorf("the schedule after stopping it in the browser: %v", err)
		}
	})
}
