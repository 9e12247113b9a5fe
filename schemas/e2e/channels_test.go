package e2e_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImportedLeadsAreQualified: leads uploaded as a CSV file through the records import API start
// lead qualification like leads created one by one: a cold one is disqualified for its low score and
// nurtured, a middling one goes to its owner's Qualify task with a deadline.
func TestImportedLeadsAreQualified(t *testing.T) {
	agent := salesAgent(t)
	csv := "source,name,email,phone,need,timeline\n" +
		"import,Ivan Imported,ivan@imported.example,+79165551001,A quote for 20 seats,month\n" +
		"import,Inna Idle,inna@imported.example,,,year\n"
	r := env.Call(t, http.MethodPost, "/api/v1/imports/lead", env.AdminToken, csv, "Content-Type", "text/csv")
	if r.Status != http.StatusAccepted {
		t.Fatalf("import: %d %s", r.Status, r.Raw)
	}
	loc := r.Header.Get("Location")
	eventually(t, "the import job", 30*time.Second, func() (bool, string) {
		var job struct {
			State   string
			Created int
		}
		do(t, "", http.MethodGet, loc, nil, &job, http.StatusOK)
		return job.State == "done" && job.Created == 2, job.State
	})
	byEmail := func(email string) string {
		items := list(t, "lead", `email == "`+email+`"`)
		if len(items) != 1 {
			t.Fatalf("leads with %s: %v", email, items)
		}
		return items[0]["id"].(string)
	}
	warm, cold := byEmail("ivan@imported.example"), byEmail("inna@imported.example")

	rec := waitRecord(t, "lead", warm, 60*time.Second, func(r map[string]any) bool { return r["qualifyDueAt"] != nil })
	if rec["status"] != "contacted" || rec["owner"] != agent.ID || rec["score"] != float64(25) || rec["source"] != "import" {
		t.Errorf("imported lead in qualification: %+v", rec)
	}
	inst := instance(t, "lead-qualification", warm, 30*time.Second)
	defer env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
	if q := openTask(t, inst, "Task_Qualify", 30*time.Second); q.Assignee != agent.ID {
		t.Errorf("Qualify of the imported lead is for %q, want the sales agent", q.Assignee)
	}

	rec = waitRecord(t, "lead", cold, 60*time.Second, func(r map[string]any) bool { return r["status"] == "disqualified" })
	if rec["disqualificationReason"] != "lowScore" || rec["nurtureUntil"] == nil {
		t.Errorf("imported cold lead: %+v", rec)
	}
	coldInst := instance(t, "lead-qualification", cold, 30*time.Second)
	env.Temporal.TerminateWorkflow(context.Background(), coldInst, "", "end of test")
}

// TestLeadWithAKnownTaxIDJoinsTheCompany: a lead naming the tax ID of a company already in the CRM is
// linked to that company and counts as an existing customer (it scores for it); converting it makes a
// contact and a deal of that company, never a second company with the same tax ID.
func TestLeadWithAKnownTaxIDJoinsTheCompany(t *testing.T) {
	agent := salesAgent(t)
	company := create(t, "company", map[string]any{"name": "Known Tools LLC", "taxId": "7702000042", "loyaltyStage": "client"})
	lead := create(t, "lead", map[string]any{"source": "api", "name": "Kostya Known", "companyName": "Known Tools", "taxId": "7702000042",
		"email": "kostya@knowntools.example", "phone": "+79160000042", "need": "More seats",
		"budget": map[string]any{"amount": 2000000, "currency": "RUB"}, "timeline": "now"})
	id := lead["id"].(string)
	rec := waitRecord(t, "lead", id, 60*time.Second, func(r map[string]any) bool { return r["status"] == "converted" })
	// 30 budget + 25 now + 20 existing customer + 5 phone + 5 need
	if rec["company"] != company["id"] || rec["existingCustomer"] != true || rec["score"] != float64(85) || rec["owner"] != agent.ID ||
		!strings.Contains(rec["scoreExplanation"].(string), "existing customer") {
		t.Fatalf("lead of a known company: %+v", rec)
	}
	if c := get(t, "contact", rec["contact"].(string)); c["company"] != company["id"] {
		t.Errorf("the new contact's company: %v, want %v", c["company"], company["id"])
	}
	if d := get(t, "deal", rec["deal"].(string)); d["company"] != company["id"] {
		t.Errorf("the deal's company: %v, want %v", d["company"], company["id"])
	}
	if same := list(t, "company", `taxId == "7702000042"`); len(same) != 1 {
		t.Errorf("%d companies with the tax ID, want 1: %v", len(same), same)
	}
}

// TestERPEnrichesTheLead: with a connector named erp configured (the CSV connector plugin, a real
// plugin process), a lead whose email the ERP knows as a customer is marked an existing customer and
// scores for it, though the CRM has no record of them; with the connector removed again the step is
// skipped and the lead qualifies without an incident.
func TestERPEnrichesTheLead(t *testing.T) {
	salesAgent(t)
	dir := t.TempDir()
	customers := "id,name,tax_id,email,phone,street,city,postal_code,country,updated_at\n" +
		"E1,Enriched Parts JSC,7703000077,elena@enrichedparts.example,,,,,RU,2026-01-01\n"
	if err := os.WriteFile(filepath.Join(dir, "customers.csv"), []byte(customers), 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, "", http.MethodPut, "/api/v1/connectors/erp", map[string]any{"plugin": "csv", "config": map[string]any{"dir": dir}}, nil, http.StatusOK)
	removed := false
	removeERP := func() {
		if !removed {
			removed = true
			do(t, "", http.MethodDelete, "/api/v1/connectors/erp", nil, nil, http.StatusNoContent)
		}
	}
	defer removeERP()

	middle := map[string]any{"source": "api", "timeline": "month", "need": "Spare parts"} // 20 points
	known := create(t, "lead", merge(middle, map[string]any{"name": "Elena ERP", "email": "Elena@EnrichedParts.example"}))
	stranger := create(t, "lead", merge(middle, map[string]any{"name": "Egor Elsewhere", "email": "egor@elsewhere.example"}))
	nameless := create(t, "lead", merge(middle, map[string]any{"name": "Zoya Nokeys"})) // nothing to ask the ERP by
	k := waitRecord(t, "lead", known["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["score"] != nil })
	s := waitRecord(t, "lead", stranger["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["score"] != nil })
	if k["existingCustomer"] != true || k["score"] != float64(40) || k["contact"] != nil {
		t.Errorf("the ERP's customer: %+v", k)
	}
	if s["existingCustomer"] == true || s["score"] != float64(20) {
		t.Errorf("a lead the ERP does not know: %+v", s)
	}

	if z := waitRecord(t, "lead", nameless["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["score"] != nil }); z["score"] != float64(20) {
		t.Errorf("a lead without email or tax ID: %+v", z)
	}

	removeERP()
	none := create(t, "lead", merge(middle, map[string]any{"name": "Nikita NoERP", "email": "elena@enrichedparts.example"}))
	n := waitRecord(t, "lead", none["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["score"] != nil })
	if n["existingCustomer"] == true || n["score"] != float64(20) {
		t.Errorf("without an ERP: %+v", n)
	}
	for _, id := range []string{known["id"].(string), stranger["id"].(string), nameless["id"].(string), none["id"].(string)} {
		inst := instance(t, "lead-qualification", id, 10*time.Second)
		if s := snapshot(t, inst); len(s.Incidents) > 0 {
			t.Errorf("%s: incidents %+v", id, s.Incidents)
		}
		env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
	}
}

// merge returns a copy of base with extra's fields set.
func merge(base, extra map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// TestERPSyncedOrdersMoveTheContactUpTheLadder: orders the ERP sync imports through the real CSV
// connector plugin are records like any other: matched to the contact by the ERP customer's email,
// they start the loyalty-ladder process, which moves the prospect to client, naming its rule. (The
// customer is a known contact, so the sync's customers phase creates no lead for it; see
// TestERPSyncCreatesLeadsForUnknownCustomers.)
func TestERPSyncedOrdersMoveTheContactUpTheLadder(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"customers.csv": "id,name,tax_id,email,phone,street,city,postal_code,country,updated_at\n" +
			"R1,Roman Repeat,,roman@repeat.example,,,,,RU,2026-01-01\n",
		"orders.csv": "id,number,customer_id,date,state,currency,total,reference,updated_at,idempotency_key\n" +
			"RO-1,ERP-RO-1,R1,2026-01-10,done,RUB,1200.00,,2026-01-12,\n" +
			"RO-2,ERP-RO-2,R1,2026-02-15,confirmed,RUB,800.00,,2026-02-15,\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := create(t, "contact", map[string]any{"firstName": "Roman", "lastName": "Repeat", "emails": []any{"roman@repeat.example"}, "loyaltyStage": "prospect"})
	id := c["id"].(string)
	do(t, "", http.MethodPut, "/api/v1/connectors/shop-erp", map[string]any{"plugin": "csv", "config": map[string]any{"dir": dir}}, nil, http.StatusOK)
	defer do(t, "", http.MethodDelete, "/api/v1/connectors/shop-erp", nil, nil, http.StatusNoContent)

	var started struct{ InstanceID, RunID string }
	do(t, "", http.MethodPost, "/api/v1/connectors/shop-erp/sync", nil, &started, http.StatusAccepted)
	var sum struct{ Created int }
	if err := env.Temporal.GetWorkflow(context.Background(), started.InstanceID, started.RunID).Get(context.Background(), &sum); err != nil || sum.Created != 2 {
		t.Fatalf("sync: %+v, %v; want 2 orders created", sum, err)
	}
	rec := waitRecord(t, "contact", id, 60*time.Second, func(r map[string]any) bool { return r["loyaltyStage"] == "client" && r["orderCount"] == float64(2) })
	if rec["loyaltyStageRule"] != "a repeat buyer" {
		t.Errorf("the contact after the ERP's orders: %+v", rec)
	}
	if orders := list(t, "order", `contact == "`+id+`"`); len(orders) != 2 {
		t.Errorf("orders linked to the contact: %v", orders)
	}
}

// TestERPSyncCreatesLeadsForUnknownCustomers: the ERP sync through the real CSV connector plugin lists
// the ERP's customers (customers.list); of three, one has the tax ID of a company in the CRM and one the
// email of a contact, so only the third becomes a lead, source "erp", created like any other lead: its
// lead qualification starts and writes its score. A second sync creates nothing new.
func TestERPSyncCreatesLeadsForUnknownCustomers(t *testing.T) {
	salesAgent(t)
	dir := t.TempDir()
	customers := "id,name,tax_id,email,phone,street,city,postal_code,country,updated_at\n" +
		"L1,Ledger Known LLC,7704000016,billing@ledgerknown.example,,,,,RU,2026-03-01\n" +
		"L2,Lidia Known,,Lidia@KnownContact.example,,,,,RU,2026-03-02\n" +
		"L3,Leonid Newcomer,,leonid@newcomer-erp.example,+7 916 555-10-03,,Moscow,,RU,2026-03-03\n"
	if err := os.WriteFile(filepath.Join(dir, "customers.csv"), []byte(customers), 0o644); err != nil {
		t.Fatal(err)
	}
	company := create(t, "company", map[string]any{"name": "Ledger Known LLC", "taxId": "7704000016"})
	contact := create(t, "contact", map[string]any{"firstName": "Lidia", "lastName": "Known", "emails": []any{"lidia@knowncontact.example"}})
	do(t, "", http.MethodPut, "/api/v1/connectors/lead-erp", map[string]any{"plugin": "csv", "config": map[string]any{"dir": dir}}, nil, http.StatusOK)
	defer do(t, "", http.MethodDelete, "/api/v1/connectors/lead-erp", nil, nil, http.StatusNoContent)

	type summary struct {
		Leads   int `json:"leadsCreated"`
		Matched int `json:"customersMatched"`
		Skipped int `json:"customersSkipped"`
	}
	sync := func() summary {
		t.Helper()
		var started struct{ InstanceID, RunID string }
		do(t, "", http.MethodPost, "/api/v1/connectors/lead-erp/sync", nil, &started, http.StatusAccepted)
		var sum summary
		if err := env.Temporal.GetWorkflow(context.Background(), started.InstanceID, started.RunID).Get(context.Background(), &sum); err != nil {
			t.Fatalf("sync: %v", err)
		}
		return sum
	}
	if sum := sync(); sum != (summary{Leads: 1, Matched: 2}) {
		t.Fatalf("first sync: %+v, want 1 lead created and 2 customers matched", sum)
	}
	leads := list(t, "lead", `externalId startsWith "lead-erp:"`)
	if len(leads) != 1 {
		t.Fatalf("leads from the ERP: %v, want only the unknown customer's", leads)
	}
	lead := leads[0]
	id := lead["id"].(string)
	if lead["externalId"] != "lead-erp:L3" || lead["source"] != "erp" || lead["name"] != "Leonid Newcomer" ||
		lead["email"] != "leonid@newcomer-erp.example" || lead["phone"] != "+79165551003" {
		t.Errorf("the unknown customer's lead: %+v", lead)
	}
	for _, known := range []string{"billing@ledgerknown.example", "lidia@knowncontact.example"} {
		if l := list(t, "lead", `email == "`+known+`"`); len(l) != 0 {
			t.Errorf("a lead for the known customer %s: %v", known, l)
		}
	}
	inst := instance(t, "lead-qualification", id, 60*time.Second)
	defer env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
	rec := waitRecord(t, "lead", id, 60*time.Second, func(r map[string]any) bool { return r["score"] != nil })
	if rec["scoreExplanation"] == nil {
		t.Errorf("the ERP lead was scored without an explanation: %+v", rec)
	}

	if sum := sync(); sum.Leads != 0 {
		t.Errorf("second sync: %+v, want no new lead", sum)
	}
	if again := list(t, "lead", `email == "leonid@newcomer-erp.example"`); len(again) != 1 {
		t.Errorf("leads of the unknown customer after the second sync: %d, want 1", len(again))
	}
	if c := get(t, "company", company["id"].(string)); c["name"] != "Ledger Known LLC" {
		t.Errorf("the known company: %+v", c)
	}
	if c := list(t, "contact", `"lidia@knowncontact.example" in emails`); len(c) != 1 || c[0]["id"] != contact["id"] {
		t.Errorf("contacts with the known email: %v", c)
	}
}
