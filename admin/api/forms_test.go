package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
)

// formPost submits a form without logging in, from a page of origin; a redirect is not followed.
func formPost(t *testing.T, key, origin, contentType, body string) recResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.BaseURL+"/api/v1/forms/"+key, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := recResp{stacktest.Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// TestPublicFormDefinitions refuses forms that would let the internet write what it must not.
func TestPublicFormDefinitions(t *testing.T) {
	tests := []struct {
		name     string
		form     map[string]any
		pointers []string
	}{
		{"unknown field, read-only field, owner", map[string]any{"entity": "lead", "fields": []any{"name", "shoeSize", "score", "owner"}},
			[]string{"/fields/1", "/fields/2", "/fields/3"}},
		{"required outside the fields", map[string]any{"entity": "lead", "fields": []any{"name"}, "required": []any{"email"}}, []string{"/required/0"}},
		{"honeypot is a real field", map[string]any{"entity": "lead", "fields": []any{"name"}, "honeypot": "email"}, []string{"/honeypot"}},
		{"bad origin and value", map[string]any{"entity": "lead", "fields": []any{"name"}, "origins": []any{"shop.example"}, "values": map[string]any{"nope": 1}},
			[]string{"/values/nope", "/origins/0"}},
		{"unknown entity", map[string]any{"entity": "spaceship", "fields": []any{"name"}}, []string{"/entity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := recDo(t, http.MethodPut, "/api/v1/forms/bad-form", tt.form).want(t, http.StatusUnprocessableEntity)
			got := r.pointers()
			slices.Sort(got)
			want := slices.Clone(tt.pointers)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("pointers %v, want %v: %s", got, want, r.Raw)
			}
		})
	}
	recDo(t, http.MethodGet, "/api/v1/forms/bad-form", nil).want(t, http.StatusNotFound)
}

// TestPublicFormSubmissions submits a contact form the way a web site does: only from its origin,
// only its fields, within its size and rate limits, a honeypot dropping bots, and the same answer
// whether or not the contact existed.
func TestPublicFormSubmissions(t *testing.T) {
	const origin = "https://shop.example"
	recDo(t, http.MethodPut, "/api/v1/forms/newsletter", map[string]any{
		"entity": "contact", "fields": []any{"firstName", "lastName", "emails"}, "required": []any{"firstName", "emails"},
		"values": map[string]any{"loyaltyStage": "prospect"}, "origins": []any{origin}, "honeypot": "website",
		"maxBytes": 600, "ratePerMinute": 1, "burst": 5, "redirect": "https://shop.example/thanks",
	}).want(t, http.StatusOK)
	if r := recDo(t, http.MethodGet, "/api/v1/forms/newsletter", nil).want(t, http.StatusOK); r.Body["entity"] != "contact" {
		t.Errorf("stored form: %s", r.Raw)
	}
	email := "form.visitor@example.test"
	count := func() int64 { return countDocs(t, "contact", bson.D{{Key: "emails", Value: email}}) }

	r := formPost(t, "newsletter", origin, "application/json", `{"firstName":"Vera","emails":["`+email+`"]}`).want(t, http.StatusAccepted)
	if r.Header.Get("Access-Control-Allow-Origin") != origin || r.Body["status"] != "accepted" {
		t.Errorf("answer %v %s", r.Header, r.Raw)
	}
	if count() != 1 {
		t.Fatalf("%d contacts after the first submission", count())
	}
	// The same visitor again, as a plain HTML form: the same answer (a redirect), no second contact.
	form := url.Values{"firstName": {"Vera"}, "emails": {email}}.Encode()
	r = formPost(t, "newsletter", origin, "application/x-www-form-urlencoded", form).want(t, http.StatusSeeOther)
	if r.Header.Get("Location") != "https://shop.example/thanks" || count() != 1 {
		t.Errorf("duplicate: location %q, %d contacts", r.Header.Get("Location"), count())
	}
	// A bot fills the honeypot: accepted, nothing stored.
	bot := "bot@example.test"
	formPost(t, "newsletter", origin, "application/json", `{"firstName":"Bot","emails":["`+bot+`"],"website":"http://spam"}`).want(t, http.StatusAccepted)
	if countDocs(t, "contact", bson.D{{Key: "emails", Value: bot}}) != 0 {
		t.Error("a honeypot submission was stored")
	}
	cases := []struct {
		name, origin, ctype, body string
		status                    int
		pointers                  []string
	}{
		{"another site", "https://evil.example", "application/json", `{"firstName":"X","emails":["x@example.test"]}`, http.StatusForbidden, nil},
		{"no origin", "", "application/json", `{"firstName":"X","emails":["x@example.test"]}`, http.StatusForbidden, nil},
		{"fields outside the form and missing ones", origin, "application/json", `{"lastName":"X","owner":"u1"}`, http.StatusUnprocessableEntity,
			[]string{"/emails", "/firstName", "/owner"}},
		{"a value the schema refuses", origin, "application/json", `{"firstName":"X","emails":["not-an-email"]}`, http.StatusUnprocessableEntity, []string{"/emails/0"}},
		{"too large", origin, "application/json", `{"firstName":"` + strings.Repeat("x", 700) + `","emails":["y@example.test"]}`, http.StatusRequestEntityTooLarge, nil},
		{"not JSON", origin, "application/json", `{`, http.StatusBadRequest, nil},
		{"unknown form", origin, "application/json", `{}`, http.StatusNotFound, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "newsletter"
			if c.name == "unknown form" {
				key = "no-such-form"
			}
			r := formPost(t, key, c.origin, c.ctype, c.body).want(t, c.status)
			if c.pointers != nil {
				got := r.pointers()
				slices.Sort(got)
				if !slices.Equal(got, c.pointers) {
					t.Errorf("pointers %v, want %v", got, c.pointers)
				}
			}
		})
	}
	// The bucket (burst 5, one a minute) is empty now: the next submission waits.
	r = formPost(t, "newsletter", origin, "application/json", `{"firstName":"Late","emails":["late@example.test"]}`).want(t, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	pre := recResp{env.Call(t, http.MethodOptions, "/api/v1/forms/newsletter", "", nil, "Origin", origin, "Access-Control-Request-Method", "POST")}
	if pre.Status != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Errorf("preflight %d %v", pre.Status, pre.Header)
	}
	recDo(t, http.MethodDelete, "/api/v1/forms/newsletter", nil).want(t, http.StatusNoContent)
	formPost(t, "newsletter", origin, "application/json", `{}`).want(t, http.StatusNotFound)
}
