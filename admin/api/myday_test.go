package api_test

import (
	"net/http"
	"testing"
	"time"
)

// TestMyDay lists an agent's day in priority order — overdue first, then deal value, loyalty stage and
// lead score — with names, phones and links: calls, leads to qualify and complaints to answer, and
// nothing of anyone else's, beyond today or waiting for the customer.
func TestMyDay(t *testing.T) {
	agent, token := newUser(t, "myday.agent@example.test", []string{"agent"}, nil)
	other, _ := newUser(t, "myday.other@example.test", []string{"agent"}, nil)
	now := time.Now().UTC()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	create := func(entity string, fields map[string]any) string {
		t.Helper()
		r := recDo(t, http.MethodPost, "/api/v1/records/"+entity, fields).want(t, http.StatusCreated)
		return r.Body["id"].(string)
	}
	partner := create("contact", map[string]any{"firstName": "Pavel", "lastName": "Partner", "phones": []any{"+79161110001"}, "loyaltyStage": "partner", "owner": agent.ID})
	prospect := create("contact", map[string]any{"firstName": "Polina", "lastName": "Prospect", "phones": []any{"+79161110002"}, "loyaltyStage": "prospect", "owner": agent.ID})
	deal := create("deal", map[string]any{"name": "Big deal", "amount": map[string]any{"amount": 900000, "currency": "RUB"}, "contact": prospect, "owner": agent.ID})
	task := func(title, contact, deal string, due time.Duration, assignee string) {
		f := map[string]any{"title": title, "kind": "call", "status": "open", "dueAt": at(due), "assignee": assignee, "owner": assignee}
		if contact != "" {
			f["contact"] = contact
		}
		if deal != "" {
			f["deal"] = deal
		}
		create("task", f)
	}
	// Due-ness is relative to the end of today in UTC; a task due in 30 hours is tomorrow or later.
	task("Call Pavel", partner, "", -time.Minute, agent.ID)
	task("Call Polina about the deal", prospect, deal, -2*time.Minute, agent.ID)
	task("Call Polina later", prospect, "", 30*time.Hour, agent.ID)
	task("Someone else's call", partner, "", -time.Hour, other.ID)
	lead := create("lead", map[string]any{"source": "api", "name": "Lena Lead", "phone": "+79161110003", "status": "new", "owner": agent.ID, "qualifyDueAt": at(-3 * time.Minute)})
	advocate := create("contact", map[string]any{"firstName": "Anton", "lastName": "Advocate", "phones": []any{"+79161110004"}, "loyaltyStage": "advocate", "owner": agent.ID})
	complaint := create("complaint", map[string]any{"channel": "phone", "subject": "Broken kettle", "status": "new", "owner": agent.ID,
		"contact": advocate, "customerLoyaltyStage": "advocate", "responseDueAt": at(-4 * time.Minute), "resolutionDueAt": at(20 * time.Hour)})
	// Waiting for the customer stops the clock: not on the day even though its deadline passed.
	create("complaint", map[string]any{"channel": "phone", "subject": "Waiting for photos", "status": "waitingCustomer", "owner": agent.ID,
		"acknowledgedAt": at(-time.Hour), "resolutionDueAt": at(-time.Minute)})

	var day struct {
		Date  string
		Items []struct {
			Kind, Title, Entity, ID, Name, Phone, Link, LoyaltyStage string
			Overdue                                                  bool
			DealValue                                                float64
		}
	}
	if status := call(t, http.MethodGet, "/api/v1/my-day?tz=UTC", token, nil, &day); status != http.StatusOK {
		t.Fatalf("my-day: %d", status)
	}
	var names []string
	for _, it := range day.Items {
		names = append(names, it.Kind+":"+it.Name)
	}
	want := []string{"task:Big deal", "task:Pavel Partner", "complaint:Broken kettle", "lead:Lena Lead"}
	if len(names) != len(want) {
		t.Fatalf("items %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("items %v, want %v", names, want)
		}
	}
	first := day.Items[0]
	if first.Entity != "deal" || first.ID != deal || first.DealValue != 900000 || first.Phone != "+79161110002" || !first.Overdue ||
		first.Link == "" || first.Link[len(first.Link)-len(deal):] != deal {
		t.Errorf("deal item: %+v", first)
	}
	if it := day.Items[1]; it.Phone != "+79161110001" || it.LoyaltyStage != "partner" || it.Entity != "contact" || it.ID != partner {
		t.Errorf("partner item: %+v", it)
	}
	if it := day.Items[2]; it.ID != complaint || it.Title != "Answer" || it.Phone != "+79161110004" || it.LoyaltyStage != "advocate" || !it.Overdue {
		t.Errorf("complaint item: %+v", it)
	}
	if it := day.Items[3]; it.ID != lead || it.Title != "Qualify" || it.Phone != "+79161110003" {
		t.Errorf("lead item: %+v", it)
	}
	if status := call(t, http.MethodGet, "/api/v1/my-day?tz=Mars/Olympus", token, nil, nil); status != http.StatusUnprocessableEntity {
		t.Errorf("unknown zone: %d", status)
	}
}
