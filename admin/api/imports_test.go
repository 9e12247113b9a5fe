package api_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

const importCSV = "First name,Last name,E-mail,Phone,Stage\n" +
	"Olga,Ivanova,olga@import.test,8 912 345-67-89,customer\n" +
	"Pavel,,pavel@,+7 912 000 00 00,customer\n" +
	"Rita,Smirnova,rita@import.test,,nosuchstage\n" +
	"Sergey,Orlov,SERGEY@import.test,,prospect\n"

var importMapping = map[string]string{"First name": "firstName", "Last name": "lastName", "E-mail": "emails", "Phone": "phones", "Stage": "loyaltyStage"}

func multipartBody(t *testing.T, csv string, mapping map[string]string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("file", "contacts.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte(csv))
	if mapping != nil {
		m, _ := json.Marshal(mapping)
		_ = w.WriteField("mapping", string(m))
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func waitJob(t *testing.T, location string) map[string]any {
	t.Helper()
	for range 200 {
		j := recDo(t, http.MethodGet, location, nil).want(t, http.StatusOK)
		if j.Body["state"] != "running" {
			return j.Body
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the import job did not finish")
	return nil
}

func TestImportCSVDryRunJobAndRerun(t *testing.T) {
	// Dry run: every row's errors, nothing written.
	body, ct := multipartBody(t, importCSV, importMapping)
	dry := recDo(t, http.MethodPost, "/api/v1/imports/contact?dryRun=true", body, "Content-Type", ct).want(t, http.StatusOK)
	if dry.Body["rows"] != float64(4) || dry.Body["valid"] != float64(2) || dry.Body["invalid"] != float64(2) {
		t.Fatalf("dry run %s", dry.Raw)
	}
	probs := dry.Body["problems"].([]any)
	if len(probs) != 2 || probs[0].(map[string]any)["row"] != float64(2) || probs[1].(map[string]any)["row"] != float64(3) {
		t.Errorf("problems %v", probs)
	}
	if n := countDocs(t, "contact", bson.D{{Key: "emails", Value: "olga@import.test"}}); n != 0 {
		t.Fatal("a dry run wrote records")
	}

	// The real import runs as a job; the mapping is remembered, so the re-run sends plain text/csv.
	var jobs []map[string]any
	for run := range 2 {
		var r recResp
		if run == 0 {
			r = recDo(t, http.MethodPost, "/api/v1/imports/contact", body, "Content-Type", ct).want(t, http.StatusAccepted)
		} else {
			r = recDo(t, http.MethodPost, "/api/v1/imports/contact", importCSV, "Content-Type", "text/csv").want(t, http.StatusAccepted)
		}
		jobs = append(jobs, waitJob(t, r.Header.Get("Location")))
	}
	if j := jobs[0]; j["state"] != "done" || j["done"] != float64(4) || j["created"] != float64(2) || j["failed"] != float64(2) || j["skipped"] != float64(0) {
		t.Errorf("first run %v", j)
	}
	if j := jobs[1]; j["created"] != float64(0) || j["skipped"] != float64(2) || j["failed"] != float64(2) {
		t.Errorf("re-run %v", j)
	}
	if n := countDocs(t, "contact", bson.D{{Key: "emails", Value: bson.D{{Key: "$in", Value: bson.A{"olga@import.test", "sergey@import.test"}}}}}); n != 2 {
		t.Errorf("%d contacts after two runs, want 2", n)
	}
	olga := recDo(t, http.MethodGet, "/api/v1/records/contact?filter="+url.QueryEscape(`emails contains "olga@import.test"`), nil).want(t, http.StatusOK)
	item := olga.Body["items"].([]any)[0].(map[string]any)
	if item["phones"].([]any)[0] != "+79123456789" {
		t.Errorf("imported phone not normalised: %v", item["phones"])
	}
	hist := recDo(t, http.MethodGet, "/api/v1/records/contact/"+item["id"].(string)+"/history", nil).want(t, http.StatusOK)
	a := hist.Body["items"].([]any)[0].(map[string]any)["actor"].(map[string]any)
	if a["via"] != "import" || a["import"] != jobs[0]["id"] {
		t.Errorf("history actor %v", a)
	}
	m := recDo(t, http.MethodGet, "/api/v1/imports/contact/mapping", nil).want(t, http.StatusOK)
	if m.Body["E-mail"] != "emails" {
		t.Errorf("mapping %s", m.Raw)
	}
	res := recDo(t, http.MethodGet, "/api/v1/imports/contact/"+jobs[0]["id"].(string)+"/results", nil).want(t, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(res.Raw)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[2], "2,failed,") || !strings.Contains(lines[2], "/emails/0") {
		t.Errorf("results:\n%s", res.Raw)
	}
	recDo(t, http.MethodGet, "/api/v1/imports/contact/nosuchjob", nil).want(t, http.StatusNotFound)
	recDo(t, http.MethodPost, "/api/v1/imports/contact", "", "Content-Type", "text/csv").want(t, http.StatusBadRequest)
	recDo(t, http.MethodPost, "/api/v1/imports/contact", "a,b\n1,2\n", "Content-Type", "application/pdf").want(t, http.StatusUnsupportedMediaType)
}

func TestImportExportCSVAndJSONLines(t *testing.T) {
	for _, n := range []string{"Exp One", "Exp Two", "Exp Three"} {
		l := newLead(n)
		l["companyName"] = "ExportCo"
		l["budget"] = map[string]any{"amount": 10, "currency": "EUR"}
		recDo(t, http.MethodPost, "/api/v1/records/lead", l).want(t, http.StatusCreated)
	}
	filter := url.QueryEscape(`companyName == "ExportCo"`)
	csv := recDo(t, http.MethodGet, "/api/v1/exports/lead?sort=createdAt&fields=name,budget&filter="+filter, nil).want(t, http.StatusOK)
	want := "id,name,budget\n"
	if !strings.HasPrefix(string(csv.Raw), want) || strings.Count(string(csv.Raw), "\n") != 4 || !strings.Contains(string(csv.Raw), ",Exp Two,10 EUR\n") {
		t.Errorf("CSV export:\n%s", csv.Raw)
	}
	jl := recDo(t, http.MethodGet, "/api/v1/exports/lead?format=jsonl&filter="+filter, nil).want(t, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(string(jl.Raw)), "\n")
	if len(lines) != 3 {
		t.Fatalf("JSON Lines export:\n%s", jl.Raw)
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["companyName"] != "ExportCo" || rec["id"] == nil {
			t.Errorf("line %s: %v", l, err)
		}
	}
	recDo(t, http.MethodGet, "/api/v1/exports/lead?filter="+url.QueryEscape("nope =="), nil).want(t, http.StatusBadRequest)
}
