package services_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/workflows/process"
	"github.com/rapportcrm/rapport/workflows/services"
)

// The CRM task handlers run here on the stack's records store and rule sets without a run-as identity:
// the guard around them is tested with the examples; these tests are about what each task does.

func records() services.Records { return services.Records{Store: env.Stack.Records} }

func task(inputs map[string]any, headers map[string]string) process.TaskRequest {
	return process.TaskRequest{Inputs: inputs, Headers: headers}
}

func newUser(t *testing.T, email string, teams ...string) *identity.User {
	t.Helper()
	ctx := context.Background()
	for _, team := range teams {
		if _, err := env.Stack.Users.Team(ctx, team); err != nil {
			if _, err := env.Stack.Users.CreateTeam(ctx, identity.Team{ID: team, Name: team}); err != nil {
				t.Fatal(err)
			}
		}
	}
	u, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: email, Name: email, Password: "password-of-" + email, Roles: []string{"agent"}, Teams: teams})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestAssignRoundRobinLeastLoadedAndEmptyTeams assigns leads with an assignment rule set: round robin
// takes the enabled members of a team in turn and skips a disabled one, least loaded picks the member
// with the fewest open leads, and a team with nobody available yields no assignee and a reason.
func TestAssignRoundRobinLeastLoadedAndEmptyTeams(t *testing.T) {
	ctx := context.Background()
	ann, bob := newUser(t, "ann.rr@example.test", "rr-team"), newUser(t, "bob.rr@example.test", "rr-team")
	off := newUser(t, "off.rr@example.test", "rr-team")
	disabled := true
	if _, _, err := env.Stack.Users.UpdateUser(ctx, off.ID, identity.UserChange{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	busy, idle := newUser(t, "busy.ll@example.test", "ll-team"), newUser(t, "idle.ll@example.test", "ll-team")
	for range 2 {
		createRecord(t, "lead", map[string]any{"source": "api", "name": "Open lead", "status": "new", "owner": busy.ID})
	}
	createRecord(t, "lead", map[string]any{"source": "api", "name": "Closed lead", "status": "disqualified", "disqualificationReason": "noBudget", "owner": idle.ID})
	putRuleset(t, map[string]any{"key": "test-assignment", "kind": "assignment", "entity": "lead",
		"assignment": map[string]any{
			"routes": []any{
				map[string]any{"name": "least loaded", "when": `region == "ll"`, "team": "ll-team", "strategy": "least_loaded"},
				map[string]any{"name": "nobody", "when": `region == "empty"`, "team": "empty-team", "strategy": "round_robin"},
			},
			"default": map[string]any{"name": "in turn", "team": "rr-team", "strategy": "round_robin"}},
		"tests": []any{map[string]any{"name": "in turn", "input": map[string]any{"region": ""},
			"context": map[string]any{"teams": map[string]any{"rr-team": []any{map[string]any{"id": "u1"}}}},
			"expect":  map[string]any{"route": "in turn", "assignee": "u1"}}}})
	if _, err := env.Stack.Users.CreateTeam(ctx, identity.Team{ID: "empty-team", Name: "Empty"}); err != nil {
		t.Fatal(err)
	}
	assign := services.Assign{Rulesets: env.Stack.Rulesets, Records: records(), Users: env.Stack.Users,
		Cursors: env.DB.Collection("assignment_cursors"), Backend: env.Stack.Backend()}
	run := func(region string) map[string]any {
		t.Helper()
		lead := createRecord(t, "lead", map[string]any{"source": "api", "name": "Lead " + region, "status": "new", "region": region})
		out, err := assign.Handle(ctx, task(map[string]any{"recordId": lead["id"]},
			map[string]string{"ruleset": "test-assignment", "open": `status in ["new", "contacted"]`}))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	counts := map[any]int{}
	var last any
	for i := range 4 {
		out := run("")
		if out["route"] != "in turn" || out["team"] != "rr-team" {
			t.Fatalf("round robin: %+v", out)
		}
		if i > 0 && out["assignee"] == last {
			t.Errorf("round robin gave %v twice in a row", last)
		}
		last = out["assignee"]
		counts[out["assignee"]]++
	}
	if counts[ann.ID] != 2 || counts[bob.ID] != 2 || counts[off.ID] != 0 {
		t.Errorf("round robin shares %v, want two each for %s and %s and none for the disabled %s", counts, ann.ID, bob.ID, off.ID)
	}
	if out := run("ll"); out["assignee"] != idle.ID || out["route"] != "least loaded" {
		t.Errorf("least loaded: %+v, want %s (no open leads) over %s (two)", out, idle.ID, busy.ID)
	}
	if out := run("empty"); out["assignee"] != "" || out["team"] != "empty-team" || out["route"] != "nobody" || !strings.Contains(out["reason"].(string), "no members") {
		t.Errorf("empty team: %+v", out)
	}

	_, err := assign.Handle(ctx, task(map[string]any{"recordId": "x"}, map[string]string{"ruleset": "lead-scoring"}))
	var bpmnErr *process.BPMNError
	if !errors.As(err, &bpmnErr) || !strings.Contains(bpmnErr.Message, "not an assignment rule set") {
		t.Errorf("a scoring rule set as assignment: %v", err)
	}
}

// TestConvertIsIdempotentAndLinksExistingContacts converts a qualified lead into a company, a contact
// and a deal owned by the lead's owner; converting again changes nothing; a second lead with the
// contact's address (written differently) is linked to that contact instead of duplicating it.
func TestConvertIsIdempotentAndLinksExistingContacts(t *testing.T) {
	ctx := context.Background()
	owner := newUser(t, "owner.convert@example.test")
	lead := createRecord(t, "lead", map[string]any{"source": "api", "name": "Vera Buyer", "companyName": "Buyer Ltd", "taxId": "7707083893",
		"email": "vera@buyer.example", "phone": "+79161112233", "status": "qualified", "owner": owner.ID,
		"budget": map[string]any{"amount": 250000, "currency": "RUB"}})
	convert := services.Convert{Records: records()}
	first, err := convert.Handle(ctx, task(map[string]any{"leadId": lead["id"]}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"company", "contact", "deal"} {
		if s, _ := first[k].(string); s == "" {
			t.Fatalf("no %s in %+v", k, first)
		}
	}
	again, err := convert.Handle(ctx, task(map[string]any{"leadId": lead["id"]}, nil))
	if err != nil || again["company"] != first["company"] || again["contact"] != first["contact"] || again["deal"] != first["deal"] {
		t.Fatalf("second conversion: %+v, %v; first %+v", again, err, first)
	}
	if got := getRecord(t, "lead", lead["id"]); got["status"] != "converted" || got["deal"] != first["deal"] || got["contact"] != first["contact"] {
		t.Errorf("converted lead: %+v", got)
	}
	contact := getRecord(t, "contact", first["contact"])
	if contact["firstName"] != "Vera" || contact["lastName"] != "Buyer" || contact["owner"] != owner.ID ||
		contact["company"] != first["company"] || contact["loyaltyStage"] != "prospect" {
		t.Errorf("contact: %+v", contact)
	}
	deal := getRecord(t, "deal", first["deal"])
	if amount, _ := deal["amount"].(map[string]any); deal["owner"] != owner.ID || deal["stage"] != "qualification" || amount["amount"] != float64(250000) {
		t.Errorf("deal: %+v", deal)
	}
	if deals := listRecords(t, "deal", `lead == "`+lead["id"].(string)+`"`); len(deals) != 1 {
		t.Errorf("%d deals for the lead, want 1", len(deals))
	}

	other := createRecord(t, "lead", map[string]any{"source": "api", "name": "Vera B.", "email": "VERA@Buyer.example", "status": "qualified"})
	out, err := convert.Handle(ctx, task(map[string]any{"leadId": other["id"]}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if out["contact"] != first["contact"] || out["deal"] == first["deal"] || out["company"] != nil {
		t.Errorf("a lead with the same address: %+v, want the contact %v linked and a deal of its own", out, first["contact"])
	}

	if _, err := convert.Handle(ctx, task(map[string]any{}, nil)); err == nil {
		t.Error("a conversion without leadId succeeded")
	}
}

// TestMatchComparesNormalisedKeys finds a contact by an address or phone written differently from
// the stored one, reports which key matched, skips empty keys and refuses a field the entity lacks.
func TestMatchComparesNormalisedKeys(t *testing.T) {
	ctx := context.Background()
	c := createRecord(t, "contact", map[string]any{"firstName": "Mira", "lastName": "Match", "emails": []any{"mira@match.example"},
		"phones": []any{"+79160001122"}})
	match := services.Match{Records: records()}
	tests := []struct {
		name  string
		keys  map[string]any
		found bool
		field string
	}{
		{"email in other case", map[string]any{"emails": " MIRA@Match.Example "}, true, "emails"},
		{"phone with spaces", map[string]any{"phones": "+7 916 000-11-22", "emails": ""}, true, "phones"},
		{"nothing matches", map[string]any{"emails": "nobody@match.example"}, false, ""},
		{"not an email", map[string]any{"emails": "not an address"}, false, ""},
		{"only empty keys", map[string]any{"emails": "", "phones": nil}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := match.Handle(ctx, task(map[string]any{"keys": tt.keys}, map[string]string{"entity": "contact"}))
			if err != nil {
				t.Fatal(err)
			}
			if out["found"] != tt.found {
				t.Fatalf("found %v, want %v: %+v", out["found"], tt.found, out)
			}
			if tt.found {
				rec, _ := out["record"].(map[string]any)
				if rec["id"] != c["id"] || out["field"] != tt.field {
					t.Errorf("matched %+v by %v, want %v by %s", rec["id"], out["field"], c["id"], tt.field)
				}
			}
		})
	}
	_, err := match.Handle(ctx, task(map[string]any{"keys": map[string]any{"shoeSize": "42"}}, map[string]string{"entity": "contact"}))
	var bpmnErr *process.BPMNError
	if !errors.As(err, &bpmnErr) || bpmnErr.Code != services.CodeValidation || !strings.Contains(bpmnErr.Message, "shoeSize") {
		t.Errorf("an unknown field: %v", err)
	}
}

// TestSurveyCreateGivesAWorkingLink creates a survey for a complaint: the link opens the public page
// with the complaint's subject, and a survey without a complaint is a BPMN error.
func TestSurveyCreateGivesAWorkingLink(t *testing.T) {
	ctx := context.Background()
	create := services.SurveyCreate{Surveys: env.Stack.Surveys, BaseURL: env.Stack.BaseURL + "/"}
	out, err := create.Handle(ctx, task(map[string]any{"complaintId": "c-1", "subject": "A parcel lost on the way", "language": "en", "validDays": 3.0}, nil))
	if err != nil {
		t.Fatal(err)
	}
	link, _ := out["link"].(string)
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, env.Stack.BaseURL+"/survey/") || out["surveyId"] == "" {
		t.Fatalf("survey: %+v", out)
	}
	status, body, _ := env.Do(ctx, http.MethodGet, u.Path, "", nil)
	if status != http.StatusOK || !strings.Contains(string(body), "A parcel lost on the way") {
		t.Errorf("survey page: %d %s", status, body)
	}
	_, err = create.Handle(ctx, task(map[string]any{"subject": "no complaint"}, nil))
	var bpmnErr *process.BPMNError
	if !errors.As(err, &bpmnErr) || bpmnErr.Code != services.CodeValidation {
		t.Errorf("a survey without a complaint: %v", err)
	}
}

func listRecords(t *testing.T, entity, filter string) []map[string]any {
	t.Helper()
	var page struct{ Items []map[string]any }
	status, body, _ := env.Do(context.Background(), http.MethodGet, "/api/v1/records/"+entity+"?"+url.Values{"filter": {filter}}.Encode(), env.AdminToken, nil)
	if status != http.StatusOK {
		t.Fatalf("list %s: %d %s", entity, status, body)
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Items
}
