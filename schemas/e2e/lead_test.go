package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	salesOnce sync.Once
	sales     person
)

// salesAgent is the one member of the sales team, so the lead-assignment rule set's round robin picks
// them every time.
func salesAgent(t *testing.T) person {
	salesOnce.Do(func() { sales = newPerson(t, "sara.sales@example.test", []string{"agent"}, []string{"sales"}) })
	return sales
}

// TestTemplatesInstalledOnFirstStart: a fresh installation has the CRM processes published, owned by
// the administrator, running as a process identity the administrator vouched for.
func TestTemplatesInstalledOnFirstStart(t *testing.T) {
	var me struct{ ID string }
	do(t, "", http.MethodGet, "/api/v1/auth/me", nil, &me, http.StatusOK)
	for _, key := range []string{"lead-qualification", "follow-up-cadence", "complaint-handling", "loyalty-ladder"} {
		var def struct {
			LatestVersion int
			Owners        []string
			Versions      []struct {
				PublishedBy string
				RunAs       struct{ Principal, Publisher string }
			}
		}
		do(t, "", http.MethodGet, "/api/v1/processes/"+key, nil, &def, http.StatusOK)
		if def.LatestVersion != 1 || len(def.Owners) != 1 || def.Owners[0] != "user:"+me.ID || len(def.Versions) != 1 ||
			def.Versions[0].PublishedBy != me.ID || def.Versions[0].RunAs.Principal != "process:"+key+"@1" {
			t.Errorf("%s: %+v", key, def)
		}
	}
}

// TestHotLeadIsAssignedAndConverted: a partner lead with a big budget buying now scores above the
// threshold: the sales agent owns it (in-app and mail), it becomes a company, a contact and a deal,
// and the contact's follow-up cadence starts.
func TestHotLeadIsAssignedAndConverted(t *testing.T) {
	agent := salesAgent(t)
	lead := create(t, "lead", map[string]any{"source": "partner", "name": "Hana Hot", "companyName": "Hot Metals", "taxId": "7701000001",
		"email": "hana@hotmetals.example", "phone": "+79160000001", "need": "CRM for 50 people",
		"budget": map[string]any{"amount": 2000000, "currency": "RUB"}, "timeline": "now"})
	id := lead["id"].(string)
	rec := waitRecord(t, "lead", id, 60*time.Second, func(r map[string]any) bool { return r["status"] == "converted" })
	if rec["owner"] != agent.ID || rec["score"] != float64(80) || !strings.Contains(rec["scoreExplanation"].(string), "partner or referral") ||
		rec["contact"] == nil || rec["company"] == nil || rec["deal"] == nil {
		t.Fatalf("converted lead: %+v", rec)
	}
	deal := get(t, "deal", rec["deal"].(string))
	company := get(t, "company", rec["company"].(string))
	contact := get(t, "contact", rec["contact"].(string))
	if deal["lead"] != id || deal["owner"] != agent.ID || company["taxId"] != "7701000001" || contact["firstName"] != "Hana" ||
		contact["company"] != company["id"] {
		t.Errorf("deal %+v\ncompany %+v\ncontact %+v", deal, company, contact)
	}
	if !notified(t, agent.token, "lead-assigned", id) {
		t.Error("the owner has no in-app notification of the lead")
	}
	if !mailAbout(agent.Email, "Hana Hot", 10*time.Second) {
		t.Errorf("no mail about the lead to the owner: %+v", mail.To(agent.Email))
	}
	// The new contact's cadence schedules its first follow-up.
	waitRecord(t, "contact", contact["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["nextFollowUpAt"] != nil })
}

// TestLeadMatchingACustomerIsLinked: a lead with the address of an existing client (written in
// another case) is linked to the contact and marked an existing customer.
func TestLeadMatchingACustomerIsLinked(t *testing.T) {
	client := create(t, "contact", map[string]any{"firstName": "Kira", "lastName": "Client", "emails": []any{"kira@client.example"}, "loyaltyStage": "client"})
	lead := create(t, "lead", map[string]any{"source": "api", "name": "Kira Client", "email": "Kira@Client.example"})
	rec := waitRecord(t, "lead", lead["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["score"] != nil })
	if rec["contact"] != client["id"] || rec["existingCustomer"] != true {
		t.Errorf("lead: %+v", rec)
	}
}

// TestColdLeadIsDisqualified: a web lead with nothing that scores is disqualified for its low score
// and nurtured until a date from the settings.
func TestColdLeadIsDisqualified(t *testing.T) {
	lead := create(t, "lead", map[string]any{"source": "webForm", "name": "Cold Carl", "timeline": "year"})
	rec := waitRecord(t, "lead", lead["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["status"] == "disqualified" })
	until, err := time.Parse(time.RFC3339, rec["nurtureUntil"].(string))
	if rec["disqualificationReason"] != "lowScore" || err != nil || until.Before(time.Now().Add(170*24*time.Hour)) {
		t.Errorf("lead: %+v", rec)
	}
	// The lead is written disqualified inside the task; the instance moves on to the nurture timer after it.
	inst := instance(t, "lead-qualification", lead["id"].(string), 30*time.Second)
	eventually(t, "the instance waiting for the nurture period", 20*time.Second, func() (bool, string) {
		active := strings.Join(snapshot(t, inst).ActiveElements, ",")
		return active == "Event_Nurture", active
	})
}

// TestWebFormLeadIsQualified: a lead from the public contact form starts qualification like any lead.
func TestWebFormLeadIsQualified(t *testing.T) {
	salesAgent(t)
	r := env.Call(t, http.MethodPost, "/api/v1/forms/contact-us", "", "name=Wanda+Web&email=wanda%40web.example&phone=%2B79160000009&need=A+quote&timeline=month",
		"Content-Type", "application/x-www-form-urlencoded")
	if r.Status != http.StatusAccepted {
		t.Fatalf("form: %d %s", r.Status, r.Raw)
	}
	var leads []map[string]any
	eventually(t, "the form's lead", 10*time.Second, func() (bool, string) {
		leads = list(t, "lead", `email == "wanda@web.example"`)
		return len(leads) == 1, ""
	})
	rec := waitRecord(t, "lead", leads[0]["id"].(string), 60*time.Second, func(r map[string]any) bool { return r["qualifyDueAt"] != nil })
	if rec["source"] != "webForm" || rec["score"] != float64(25) || rec["status"] != "contacted" {
		t.Errorf("lead: %+v", rec)
	}
}

// TestLeadNobodyCanTakeWaitsForItsTeam: a lead of a territory whose team has nobody available gets no
// one assigned; it is given to the team and its Qualify task offered to the team, and nothing fails
// for want of someone to tell.
func TestLeadNobodyCanTakeWaitsForItsTeam(t *testing.T) {
	lead := create(t, "lead", map[string]any{"source": "api", "name": "Nina Northwest", "region": "northwest", "timeline": "month",
		"phone": "+79165550123", "need": "Quote"})
	id := lead["id"].(string)
	inst := instance(t, "lead-qualification", id, 30*time.Second)
	defer env.Temporal.TerminateWorkflow(context.Background(), inst, "", "end of test")
	q := openTask(t, inst, "Task_Qualify", 30*time.Second)
	if q.Assignee != "" || len(q.CandidateGroups) != 1 || q.CandidateGroups[0] != "sales-northwest" {
		t.Errorf("Qualify is for %q / %v, want nobody in particular and the sales-northwest team", q.Assignee, q.CandidateGroups)
	}
	rec := waitRecord(t, "lead", id, 20*time.Second, func(r map[string]any) bool { return r["status"] == "contacted" })
	if rec["team"] != "sales-northwest" || rec["qualifyDueAt"] == nil {
		t.Errorf("lead: %+v", rec)
	}
	if s := snapshot(t, inst); len(s.Incidents) > 0 {
		t.Errorf("incidents: %+v", s.Incidents)
	}
}
