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
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields := map[string]any{"channel": "email", "subject": c.subject, "severity": c.severity, "customerEmail": c.email}
			if c.category != "" {
				fields["category"] = c.category
			}
			rec := create(t, "complaint", fields)
			id := rec["id"].(string)
			inst := instance(t, "complaint-handling", id, 30*time.Second)
			defer env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
			rec = waitRecord(t, "complaint", id, 60*time.Second, func(r map[string]any) bool { return r["responseDueAt"] != nil })
			if rec["category"] != c.wantCategory || rec["severity"] != c.wantSeverity || rec["vip"] != c.wantVIP || rec["owner"] != agent.ID {
				t.Errorf("category %v, severity %v, VIP %v, owner %v; want %s, %s, %v, %s", rec["category"], rec["severity"], rec["vip"], rec["owner"],
					c.wantCategory, c.wantSeverity, c.wantVIP, agent.ID)
			}
			created, _ := time.Parse(time.RFC3339, rec["createdAt"].(string))
			want, _ := support.AddBusinessDuration(created, c.respond)
			if got, err := time.Parse(time.RFC3339, rec["responseDueAt"].(string)); err != nil || got.Sub(want).Abs() > time.Minute {
				t.Errorf("to be answered by %v, want %v business hours after %v: %v", rec["responseDueAt"], c.respond, created, want)
			}
			assignment, _ := snapshot(t, inst).Variables["assignment"].(map[string]any)
			if assignment["route"] != c.wantRoute {
				t.Errorf("assignment %+v, want the route %q", assignment, c.wantRoute)
			}
		})
	}
}
