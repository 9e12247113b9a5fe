package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/engine/rules/calendar"
)

// TestVIPAndClassificationTablesRouteTheComplaint: the shipped decision tables decide how a complaint
// is handled. A partner's medium complaint about a rude manager is classified staff, is VIP and raised
// to high (4 business hours to answer) and routed by the VIP route; a customer with 600,000 in orders
// is VIP too, so their low complaint about a broken box (product) is raised to high; an ordinary
// customer's low complaint keeps the category it came with, is not VIP, stays low (16 hours) and takes
// the service team's default route.
func TestVIPAndClassificationTablesRouteTheComplaint(t *testing.T) {
	agent := serviceAgent(t)
	raw, err := os.ReadFile("../calendars/support.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec calendar.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	support, err := calendar.New(spec)
	if err != nil {
		t.Fatal(err)
	}

	customer := func(first, email, stage string) string {
		c := create(t, "contact", map[string]any{"firstName": first, "lastName": "Vip", "emails": []any{email}, "loyaltyStage": stage, "language": "en"})
		return c["id"].(string)
	}
	customer("Pavel", "pavel@partner.example", "partner")
	big := customer("Bella", "bella@bigbuyer.example", "customer")
	create(t, "order", map[string]any{"number": "VIP-1", "date": time.Now().UTC().Format(time.DateOnly), "contact": big,
		"amount": map[string]any{"amount": 600000, "currency": "RUB"}})
	customer("Oksana", "oksana@ordinary.example", "customer")

	cases := []struct {
		name, email, subject, severity, category string
		wantCategory, wantSeverity, wantRoute    string
		wantVIP                                  bool
		respond                                  time.Duration
	}{
		{"partner", "pavel@partner.example", "The manager was rude", "medium", "", "staff", "high", "VIP", true, 4 * time.Hour},
		{"big buyer", "bella@bigbuyer.example", "The box arrived broken", "low", "", "product", "high", "VIP", true, 4 * time.Hour},
		{"ordinary", "oksana@ordinary.example", "The courier was late", "low", "billing", "billing", "low", "service team", false, 16 * time.Hour},
	}
	// All three are registered first and handled side by side.
	ids := make([]string, len(cases))
	for i, c := range cases {
		fields := map[string]any{"channel": "email", "subject": c.subject, "severity": c.severity, "customerEmail": c.email}
		if c.category != "" {
			fields["category"] = c.category
		}
		ids[i] = create(t, "complaint", fields)["id"].(string)
	}
	for i, c := range cases {
		id := ids[i]
		t.Run(c.name, func(t *testing.T) {
			rec := waitRecord(t, "complaint", id, 90*time.Second, func(r map[string]any) bool { return r["responseDueAt"] != nil })
			inst := instance(t, "complaint-handling", id, 30*time.Second)
			defer env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
			if rec["category"] != c.wantCategory || rec["severity"] != c.wantSeverity || rec["vip"] != c.wantVIP || rec["owner"] != agent.ID {
				t.Errorf("category %v, severity %v, VIP %v, owner %v; want %s, %s, %v, %s", rec["category"], rec["severity"], rec["vip"], rec["owner"],
					c.wantCategory, c.wantSeverity, c.wantVIP, agent.ID)
			}
			// The deadline is the severity's target, counted in the support calendar from when the
			// process computed it (after the complaint was created, before now).
			created, _ := time.Parse(time.RFC3339, rec["createdAt"].(string))
			earliest, _ := support.AddBusinessDuration(created.Add(-time.Second), c.respond)
			latest, _ := support.AddBusinessDuration(time.Now(), c.respond)
			if got, err := time.Parse(time.RFC3339, rec["responseDueAt"].(string)); err != nil || got.Before(earliest) || got.After(latest) {
				t.Errorf("to be answered by %v, want %v business hours after it came (between %v and %v)", rec["responseDueAt"], c.respond, earliest, latest)
			}
			vars := snapshot(t, inst).Variables
			sla, _ := vars["sla"].(map[string]any)
			assignment, _ := vars["assignment"].(map[string]any)
			if sla["target"] != c.wantSeverity || assignment["route"] != c.wantRoute {
				t.Errorf("SLA target %v, assignment %+v; want the target %q and the route %q", sla["target"], assignment, c.wantSeverity, c.wantRoute)
			}
		})
	}
}
