package e2e_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	serviceOnce sync.Once
	service     person
)

// serviceAgent is the one member of the service team, who handles every complaint.
func serviceAgent(t *testing.T) person {
	serviceOnce.Do(func() { service = newPerson(t, "sergei.service@example.test", []string{"agent"}, []string{"service"}) })
	return service
}

var surveyLink = regexp.MustCompile(`http://[^\s]+/survey/[A-Za-z0-9_-]+`)

// page fetches or posts the public survey page without a login.
func page(t *testing.T, method, link string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, link, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("survey page headers: %v", resp.Header)
	}
	return resp.StatusCode, string(b)
}

// TestWebComplaintIsResolvedAndSurveyed: a complaint from the web form is linked to the customer by
// address, classified, given to the service team with deadlines, acknowledged and resolved; the
// customer rates the help on the survey page from the mail, the complaint closes, and the customer's
// record gets the complaint count, the CSAT, the SLA outcome and a loyalty stage proposal.
func TestWebComplaintIsResolvedAndSurveyed(t *testing.T) {
	agent := serviceAgent(t)
	customer := create(t, "contact", map[string]any{"firstName": "Carla", "lastName": "Customer", "emails": []any{"carla@customer.example"},
		"loyaltyStage": "client", "language": "en"})
	form := url.Values{"subject": {"The courier was late again"}, "description": {"Two days late."}, "customerEmail": {"CARLA@customer.example"}}
	if r := env.Call(t, http.MethodPost, "/api/v1/forms/complaint", "", form.Encode(), "Content-Type", "application/x-www-form-urlencoded"); r.Status != http.StatusAccepted {
		t.Fatalf("form: %d %s", r.Status, r.Raw)
	}
	var id string
	eventually(t, "the complaint", 10*time.Second, func() (bool, string) {
		items := list(t, "complaint", `customerEmail == "carla@customer.example"`)
		if len(items) == 1 {
			id = items[0]["id"].(string)
		}
		return id != "", ""
	})
	rec := waitRecord(t, "complaint", id, 60*time.Second, func(r map[string]any) bool { return r["responseDueAt"] != nil })
	if rec["contact"] != customer["id"] || rec["category"] != "delivery" || rec["owner"] != agent.ID || rec["customerLoyaltyStage"] != "client" ||
		rec["channel"] != "web" || rec["resolutionDueAt"] == nil {
		t.Fatalf("complaint: %+v", rec)
	}
	inst := instance(t, "complaint-handling", id, 10*time.Second)
	complete(t, agent.token, openTask(t, inst, "Task_Acknowledge", 30*time.Second), nil, http.StatusNoContent)
	waitRecord(t, "complaint", id, 20*time.Second, func(r map[string]any) bool { return r["status"] == "inProgress" && r["acknowledgedAt"] != nil })
	complete(t, agent.token, openTask(t, inst, "Task_Resolve", 30*time.Second), map[string]any{"action": "resolve", "resolution": "We refunded the delivery."}, http.StatusNoContent)
	rec = waitRecord(t, "complaint", id, 20*time.Second, func(r map[string]any) bool { return r["status"] == "resolved" })
	if rec["slaResolutionMet"] != true || rec["slaResponseMet"] != true {
		t.Errorf("SLA outcome: %+v", rec)
	}

	mails := mail.Wait("carla@customer.example", 1, 30*time.Second)
	if len(mails) != 1 || !strings.Contains(mails[0].Subject, "How did we do?") || !strings.Contains(mails[0].Body, "We refunded the delivery.") {
		t.Fatalf("survey mail: %+v", mails)
	}
	link := surveyLink.FindString(mails[0].Body)
	if status, body := page(t, http.MethodGet, link, nil); status != http.StatusOK || !strings.Contains(body, "The courier was late again") || !strings.Contains(body, `name="score"`) {
		t.Fatalf("survey page: %d %s", status, body)
	}
	if status, _ := page(t, http.MethodPost, link, url.Values{"score": {"9"}}); status != http.StatusUnprocessableEntity {
		t.Errorf("a rating of 9: %d", status)
	}
	if status, body := page(t, http.MethodPost, link, url.Values{"score": {"5"}, "comment": {"Quick and kind"}}); status != http.StatusOK || !strings.Contains(body, "Thank you") {
		t.Fatalf("answer: %d %s", status, body)
	}
	if status, _ := page(t, http.MethodPost, link, url.Values{"score": {"1"}}); status != http.StatusConflict {
		t.Errorf("a second answer: %d", status)
	}
	if status, _ := page(t, http.MethodGet, link[:len(link)-3]+"xyz", nil); status != http.StatusNotFound {
		t.Errorf("a forged link: %d", status)
	}
	ended(t, inst, "End_Closed", 30*time.Second)
	rec = get(t, "complaint", id)
	if rec["status"] != "closed" || rec["satisfactionScore"] != float64(5) || rec["csatComment"] != "Quick and kind" {
		t.Errorf("closed complaint: %+v", rec)
	}
	c := get(t, "contact", customer["id"].(string))
	if c["complaintCount"] != float64(1) || c["lastCsat"] != float64(5) || c["lastComplaintSlaMet"] != true || c["loyaltyStageProposal"] != "supporter" {
		t.Errorf("the customer after the complaint: %+v", c)
	}
}

// answerSurvey waits for the n-th survey mail to the address and answers it on the public page.
func answerSurvey(t *testing.T, address string, n int, score, comment string) {
	t.Helper()
	mails := mail.Wait(address, n, 30*time.Second)
	if len(mails) != n {
		t.Fatalf("%d survey mails to %s, want %d", len(mails), address, n)
	}
	link := surveyLink.FindString(mails[n-1].Body)
	if status, body := page(t, http.MethodPost, link, url.Values{"score": {score}, "comment": {comment}}); status != http.StatusOK {
		t.Fatalf("answer %s: %d %s", score, status, body)
	}
}

// TestUnhappyCustomerReopensTheComplaintAndMovesDown: a client rates the resolution 1, so the
// complaint reopens, escalates to the next level of the chain (the team leads resolve it) and its
// handler is told (in words, not data); rated 2 again after the second resolution it closes (the settings allow one reopening), the
// SLA counts as breached, and the loyalty rule set proposes moving the client down to customer,
// naming its rule.
func TestUnhappyCustomerReopensTheComplaintAndMovesDown(t *testing.T) {
	agent := serviceAgent(t)
	address := "uma@unhappy.example"
	customer := create(t, "contact", map[string]any{"firstName": "Uma", "lastName": "Unhappy", "emails": []any{address},
		"loyaltyStage": "client", "language": "en"})
	rec := create(t, "complaint", map[string]any{"channel": "phone", "subject": "The fridge still hums", "description": "Since the repair.",
		"customerEmail": address})
	id := rec["id"].(string)
	waitRecord(t, "complaint", id, 60*time.Second, func(r map[string]any) bool { return r["owner"] == agent.ID && r["contact"] == customer["id"] })
	inst := instance(t, "complaint-handling", id, 10*time.Second)
	complete(t, agent.token, openTask(t, inst, "Task_Acknowledge", 30*time.Second), nil, http.StatusNoContent)
	complete(t, agent.token, openTask(t, inst, "Task_Resolve", 30*time.Second), map[string]any{"action": "resolve", "resolution": "Tightened the compressor."}, http.StatusNoContent)
	answerSurvey(t, address, 1, "1", "Still humming")

	rec = waitRecord(t, "complaint", id, 30*time.Second, func(r map[string]any) bool { return r["reopenCount"] == float64(1) })
	if rec["status"] != "inProgress" || rec["escalated"] != true || rec["escalationLevel"] != float64(1) || rec["satisfactionScore"] != float64(1) {
		t.Errorf("reopened complaint: %+v", rec)
	}
	eventually(t, "the reopened notification", 20*time.Second, func() (bool, string) {
		return notified(t, agent.token, "complaint-reopened", id), ""
	})
	if n := notification(t, agent.token, "complaint-reopened", id); !strings.Contains(n.Subject, "Reopened after CSAT 1: The fridge still hums") ||
		!strings.Contains(n.Body, `"Still humming"`) {
		t.Errorf("reopened notification: %q / %q", n.Subject, n.Body)
	}

	again := openTask(t, inst, "Task_Resolve", 30*time.Second)
	if again.Assignee != "" || len(again.CandidateGroups) != 1 || again.CandidateGroups[0] != "manager" {
		t.Errorf("the reopened complaint is offered to %q / %v, want the first level of the chain (manager)", again.Assignee, again.CandidateGroups)
	}
	lead := newPerson(t, "tanya.teamlead@example.test", []string{"manager"}, nil)
	complete(t, lead.token, again, map[string]any{"action": "resolve", "resolution": "Replaced the fridge."}, http.StatusNoContent)
	answerSurvey(t, address, 2, "2", "Took too long")
	ended(t, inst, "End_Closed", 30*time.Second)
	rec = get(t, "complaint", id)
	if rec["status"] != "closed" || rec["satisfactionScore"] != float64(2) || rec["reopenCount"] != float64(1) {
		t.Errorf("closed complaint: %+v", rec)
	}
	c := get(t, "contact", customer["id"].(string))
	if c["complaintCount"] != float64(1) || c["lastCsat"] != float64(2) || c["lastComplaintSlaMet"] != false ||
		c["loyaltyStageProposal"] != "customer" || c["loyaltyStageProposalRule"] != "unhappy client" || c["loyaltyStage"] != "client" {
		t.Errorf("the customer after the complaint: %+v", c)
	}
}
