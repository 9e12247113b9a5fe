package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/notifications"
)

var env *stacktest.Env

// TestMain starts the stack with the CSV connector plugin installed, so the connectors page configures a
// real plugin from its JSON Schema.
func TestMain(m *testing.M) {
	stacktest.MainWith(m, &env, func(dataDir string) error {
		return stacktest.InstallPlugin(dataDir, "csv", "github.com/rapportcrm/rapport/plugins/connectors/csv")
	})
}

// requireBrowser skips the browser tests where Chromium, node or the npm packages are missing, except in
// CI (RAPPORT_REQUIRE_BROWSER=1), where that is a failure.
func requireBrowser(t *testing.T) {
	t.Helper()
	_, chromium := exec.LookPath("chromium")
	_, node := exec.LookPath("node")
	_, modules := os.Stat(filepath.Join("node_modules", "playwright-core"))
	_, axe := os.Stat(filepath.Join("node_modules", "axe-core"))
	if chromium != nil || node != nil || modules != nil || axe != nil {
		if os.Getenv("RAPPORT_REQUIRE_BROWSER") == "1" {
			t.Fatalf("browser test prerequisites missing: chromium %v, node %v, playwright-core %v, axe-core %v", chromium, node, modules, axe)
		}
		t.Skip("needs chromium, node and `npm ci` in admin/ui (CI installs them)")
	}
}

// journey runs one browser journey (e2e/journeys/<name>.mjs) with the fixtures as its parameters. A
// failing journey saves screenshots into e2e/artifacts (or RAPPORT_E2E_ARTIFACTS) and names them.
func journey(t *testing.T, name string, params map[string]any) {
	t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("e2e", "run.mjs"), name)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "RAPPORT_BASE_URL="+env.BaseURL, "RAPPORT_E2E_PARAMS="+string(raw))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("browser journey %s failed: %v\n%s", name, err, out)
	}
}

// fixtures is what the journeys start from, created through the API as an administrator.
type fixtures struct {
	agent, analyst       account
	lead, benchLead      map[string]any
	taskTitle, userTask  string
	instanceID, agentTok string
}

type account struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

func call(t *testing.T, method, path, token string, body any, want int, headers ...string) map[string]any {
	t.Helper()
	r := env.Call(t, method, path, token, body, headers...)
	if r.Status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r.Body
}

func newAccount(t *testing.T, email string, roles ...string) account {
	t.Helper()
	a := account{Email: email, Password: "pass-" + strings.Split(email, "@")[0] + "-123"}
	u := call(t, http.MethodPost, "/api/v1/users", env.AdminToken,
		map[string]any{"email": email, "name": strings.Split(email, "@")[0], "roles": roles, "teams": []string{"sales"}, "password": a.Password}, http.StatusCreated)
	a.ID = u["user"].(map[string]any)["id"].(string)
	return a
}

// callProcess is a published process whose first user task, with a form, is assigned to the given user;
// its second is offered to the sales team, for its members to claim.
const callProcess = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="Definitions_E2E" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="e2e-call" name="Call a new lead" isExecutable="true">
    <bpmn:extensionElements>
      <rapport:variables><rapport:variable name="agentId" type="string" required="true" /></rapport:variables>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Call" name="Call the new lead">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition assignee="=agentId" />
        <rapport:formFields>
          <rapport:field name="outcome" type="string" label="Outcome" required="true" />
          <rapport:field name="calls" type="int" label="Calls made" />
        </rapport:formFields>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming>
      <bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="Offer" name="Send the offer">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="sales" />
      </bpmn:extensionElements>
      <bpmn:incoming>F2</bpmn:incoming>
      <bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Call" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call" targetRef="Offer" />
    <bpmn:sequenceFlow id="F3" sourceRef="Offer" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`

func setup(t *testing.T) fixtures {
	t.Helper()
	call(t, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": "sales", "name": "Sales"}, http.StatusCreated)
	fx := fixtures{agent: newAccount(t, "agent@example.test", "agent"), analyst: newAccount(t, "analyst@example.test", "analyst")}
	fx.lead = call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken, map[string]any{
		"source": "call", "name": "Olga Petrova", "phone": "+7 912 345-67-89", "status": "new", "owner": fx.agent.ID,
	}, http.StatusCreated)
	fx.taskTitle = "Call Olga about the offer"
	call(t, http.MethodPost, "/api/v1/records/task", env.AdminToken, map[string]any{
		"title": fx.taskTitle, "kind": "call", "status": "open", "dueAt": time.Now().Add(-30 * time.Minute).UTC().Format(time.RFC3339),
		"assignee": fx.agent.ID, "owner": fx.agent.ID, "relatedEntity": "lead", "relatedId": fx.lead["id"],
	}, http.StatusCreated)
	fx.benchLead = call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken, map[string]any{
		"source": "partner", "name": "Bench Partner Lead", "status": "new", "budget": map[string]any{"amount": 5000, "currency": "RUB"},
	}, http.StatusCreated)

	call(t, http.MethodPost, "/api/v1/records/complaint", env.AdminToken, map[string]any{
		"channel": "phone", "subject": "Late delivery", "severity": "high", "status": "new",
		"responseDueAt":   time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339),
		"resolutionDueAt": time.Now().Add(46 * time.Hour).UTC().Format(time.RFC3339),
	}, http.StatusCreated)

	call(t, http.MethodPost, "/api/v1/processes", env.AdminToken, callProcess, http.StatusCreated, "Content-Type", "application/xml")
	call(t, http.MethodPost, "/api/v1/processes/e2e-call/publish", env.AdminToken, nil, http.StatusCreated)
	started := call(t, http.MethodPost, "/api/v1/processes/e2e-call/instances", env.AdminToken,
		map[string]any{"variables": map[string]any{"agentId": fx.agent.ID}}, http.StatusCreated)
	fx.instanceID = started["id"].(string)
	reminder := notifications.Template{Key: "lead-call-reminder", Channels: []string{"inapp"}, Texts: map[string]notifications.Text{
		"en": {Subject: "{{.title}}", Body: "Lead {{.record.name}} waits for your call."},
		"ru": {Subject: "{{.title}}", Body: "Лид {{.record.name}} ждёт звонка."}}}
	if _, err := env.Stack.Notifications.SaveTemplate(context.Background(), reminder, fx.agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Stack.Notifications.Send(context.Background(), notifications.Request{Key: "e2e-reminder", To: fx.agent.ID,
		Template: "lead-call-reminder", Source: fx.instanceID,
		Data: map[string]any{"title": "Call Olga Petrova today", "entity": "lead", "recordId": fx.lead["id"], "record": fx.lead}}); err != nil {
		t.Fatal(err)
	}
	fx.userTask = "Call the new lead"
	tok, err := env.Login(context.Background(), fx.agent.Email, fx.agent.Password)
	if err != nil {
		t.Fatal(err)
	}
	fx.agentTok = tok
	if n := waitTasks(t, tok, func(n int) bool { return n == 1 }); n != 1 {
		t.Fatalf("the agent's inbox holds %d tasks, want 1", n)
	}
	return fx
}

// erpDir is a copy of the CSV connector's test ERP (its CSV files) for the connectors page to point at.
func erpDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "plugins", "connectors", "csv", "testdata")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".csv") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitTasks polls the caller's inbox until ok accepts its size (the instance starts asynchronously).
func waitTasks(t *testing.T, token string, ok func(int) bool) int {
	t.Helper()
	var n int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r := env.Call(t, http.MethodGet, "/api/v1/tasks", token, nil)
		var page struct{ Items []any }
		if err := json.Unmarshal(r.Raw, &page); err != nil {
			t.Fatalf("tasks: %s", r.Raw)
		}
		if n = len(page.Items); ok(n) {
			break
		}
	}
	return n
}

// TestBrowserJourneys walks the journeys of the admin app in Debian's Chromium against the whole stack:
// an agent works "my day", completes a task form, edits a lead (history, conflicts, inline errors) and
// moves it on the leads board; an analyst extends the lead schema and writes, tests and publishes a
// scoring rule set; an administrator imports leads from CSV, creates a role with a hidden field and a
// user with it, who never sees that field; an analyst imports a Camunda Modeler file into the process
// designer, fixes the problems shown on the diagram in the properties panel, publishes, sees the diff of a
// second version, starts it from the generated form, exports a version's XML and the element templates
// (in English and Russian); every main page passes axe-core; a process owner pages through the monitor's instance list, finds an instance on its heat
// map, suspends it, changes a variable, moves its token, resumes it and sees it complete, runs a bulk
// retry and a bulk migration, retries and skips incidents, delivers a message, cancels and terminates
// (monitorJourney); and the analytics dashboards show the figures of seeded orders, leads, complaints and
// processes (analyticsJourneys). CI sets RAPPORT_REQUIRE_BROWSER=1, so there it cannot be skipped.
func TestBrowserJourneys(t *testing.T) {
	requireBrowser(t)
	fx := setup(t)
	erp := erpDir(t) // lives as long as the whole test: the configured connector checks it in the background
	admin := map[string]any{"email": stacktest.AdminEmail, "password": stacktest.AdminPassword}

	t.Run("agent", func(t *testing.T) {
		journey(t, "agent", map[string]any{"agent": fx.agent, "lead": fx.lead, "taskTitle": fx.taskTitle, "userTask": fx.userTask, "adminToken": env.AdminToken})
		// What the browser did reached the server: the call is done, the offer claimed, the lead changed.
		var mine struct {
			Items []struct{ Element, Assignee string }
		}
		r := env.Call(t, http.MethodGet, "/api/v1/tasks?view=mine", fx.agentTok, nil)
		if err := json.Unmarshal(r.Raw, &mine); err != nil || len(mine.Items) != 1 || mine.Items[0].Element != "Offer" || mine.Items[0].Assignee != fx.agent.ID {
			t.Errorf("after the journey the agent's tasks are %s, want only the claimed Offer", r.Raw)
		}
		lead := call(t, http.MethodGet, fmt.Sprintf("/api/v1/records/lead/%s", fx.lead["id"]), env.AdminToken, nil, http.StatusOK)
		if lead["status"] != "qualified" || lead["need"] != "Twenty seats from March" || lead["companyName"] != "Changed Elsewhere Ltd" {
			t.Errorf("the lead after the journey: status %v, need %v, company %v", lead["status"], lead["need"], lead["companyName"])
		}
	})
	t.Run("analyst", func(t *testing.T) {
		journey(t, "analyst", map[string]any{"analyst": fx.analyst, "benchLead": fx.benchLead})
		schema := call(t, http.MethodGet, "/api/v1/schemas/lead", env.AdminToken, nil, http.StatusOK)
		raw, _ := json.Marshal(schema)
		if !strings.Contains(string(raw), `"name":"tier"`) || !strings.Contains(string(raw), `budget.amount \u003e= 1000`) {
			t.Errorf("the saved lead schema lacks the tier field or its rule: %s", raw)
		}
		rs := call(t, http.MethodGet, "/api/v1/rulesets/lead-score-e2e", env.AdminToken, nil, http.StatusOK)
		if rs["latestVersion"] != float64(1) {
			t.Errorf("the rule set's published version is %v, want 1 (the second publish must be refused)", rs["latestVersion"])
		}
	})
	t.Run("admin", func(t *testing.T) {
		journey(t, "admin", map[string]any{"admin": admin, "adminToken": env.AdminToken, "erpDir": erp})
		imported := call(t, http.MethodGet, "/api/v1/records/lead?count=true&filter="+url.QueryEscape(`name startsWith "Imported"`), env.AdminToken, nil, http.StatusOK)
		if imported["total"] != float64(1) {
			t.Errorf("the CSV import created %v leads, want 1 (one row was invalid)", imported["total"])
		}
		connectors := env.Call(t, http.MethodGet, "/api/v1/connectors", env.AdminToken, nil)
		if !strings.Contains(string(connectors.Raw), `"name":"erp"`) {
			t.Errorf("the connector configured in the browser is not stored: %s", connectors.Raw)
		}
		role := call(t, http.MethodGet, "/api/v1/roles/junior-agent", env.AdminToken, nil, http.StatusOK)
		raw, _ := json.Marshal(role["fields"])
		if !strings.Contains(string(raw), `"hidden":["budget"]`) {
			t.Errorf("the role's field rules: %s", raw)
		}
	})
	t.Run("designer", func(t *testing.T) {
		call(t, http.MethodPost, "/api/v1/rulesets", env.AdminToken, map[string]any{"key": "designer-score", "kind": "scoring", "entity": "lead",
			"rules": []any{map[string]any{"name": "partner", "when": `source == "partner"`, "points": 40}},
			"tests": []any{map[string]any{"name": "a partner lead", "input": map[string]any{"source": "partner"}, "expect": map[string]any{"score": 40}}}}, http.StatusCreated)
		call(t, http.MethodPost, "/api/v1/rulesets/designer-score/publish", env.AdminToken, nil, http.StatusCreated)
		journey(t, "designer", map[string]any{"analyst": fx.analyst, "ruleset": "designer-score"})
		// What the browser drew reached the server: two versions, the second with the renamed task, the
		// condition as fixed in the panel's expression editor, the task type and the rule set picked there.
		for _, lang := range []string{"en", "ru"} {
			key := "e2e-triage-" + lang
			def := call(t, http.MethodGet, "/api/v1/processes/"+key, env.AdminToken, nil, http.StatusOK)
			if def["latestVersion"] != float64(2) {
				t.Errorf("%s: latest version %v, want 2", key, def["latestVersion"])
			}
			// The instance started from the generated form runs version 2 (the count is eventually consistent).
			started := 0.0
			for deadline := time.Now().Add(15 * time.Second); started == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				for _, v := range call(t, http.MethodGet, "/api/v1/processes/"+key, env.AdminToken, nil, http.StatusOK)["versions"].([]any) {
					if v := v.(map[string]any); v["version"] == float64(2) {
						started = v["total"].(float64)
					}
				}
			}
			if started != 1 {
				t.Errorf("%s: %v instances of version 2 started, want 1", key, started)
			}
			xml := env.Call(t, http.MethodGet, "/api/v1/processes/"+key+"/versions/2/xml", env.AdminToken, nil)
			for _, want := range []string{"Mark as hot lead", "score &gt;= 50", `type="record.get"`, `key="designer-score"`, `resultVariable="rating"`} {
				if !strings.Contains(string(xml.Raw), want) {
					t.Errorf("%s version 2 lacks %s:\n%s", key, want, xml.Raw)
				}
			}
		}
	})
	t.Run("pages", func(t *testing.T) {
		journey(t, "pages", map[string]any{"admin": admin, "lead": fx.lead, "instance": fx.instanceID})
	})
	t.Run("monitor", monitorJourney)
	t.Run("analytics", analyticsJourneys)
}
