package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// asUser sends a request with another user's token.
func asUser(t *testing.T, token, method, path string, body any) recResp {
	t.Helper()
	return recResp{env.Call(t, method, path, token, body)}
}

func TestRecordsAccessScopes(t *testing.T) {
	const email, password = "agent.records@example.test", "agent password 123"
	recDo(t, http.MethodPost, "/api/v1/users", map[string]any{"email": email, "roles": []string{"agent"}, "password": password}).want(t, http.StatusCreated)
	token, err := env.Login(context.Background(), email, password)
	if err != nil {
		t.Fatal(err)
	}
	mine := asUser(t, token, http.MethodPost, "/api/v1/records/lead", newLead("Agent Own")).want(t, http.StatusCreated)
	theirs := recDo(t, http.MethodPost, "/api/v1/records/lead", newLead("Admin Own")).want(t, http.StatusCreated)

	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"reads own", http.MethodGet, "/api/v1/records/lead/" + mine.Body["id"].(string), nil, http.StatusOK},
		{"another's record is not found", http.MethodGet, "/api/v1/records/lead/" + theirs.Body["id"].(string), nil, http.StatusNotFound},
		{"cannot patch another's", http.MethodPatch, "/api/v1/records/lead/" + theirs.Body["id"].(string), map[string]any{"status": "contacted"}, http.StatusNotFound},
		{"cannot give a record away", http.MethodPatch, "/api/v1/records/lead/" + mine.Body["id"].(string), map[string]any{"owner": theirs.Body["owner"]}, http.StatusForbidden},
		{"cannot export", http.MethodGet, "/api/v1/exports/lead", nil, http.StatusForbidden},
		{"cannot import", http.MethodPost, "/api/v1/imports/lead?dryRun=true", []byte("name\nx\n"), http.StatusForbidden},
		{"cannot change schemas", http.MethodPut, "/api/v1/schemas/lead", map[string]any{"name": "lead"}, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			asUser(t, token, tc.method, tc.path, tc.body).want(t, tc.status)
		})
	}
	list := asUser(t, token, http.MethodGet, "/api/v1/records/lead?count=true&filter="+url.QueryEscape(`name startsWith "Ag" or name startsWith "Adm"`), nil).want(t, http.StatusOK)
	if list.Body["total"] != float64(1) || !strings.Contains(string(list.Raw), "Agent Own") {
		t.Errorf("agent's list %s", list.Raw)
	}
	if got := recDo(t, http.MethodGet, "/api/v1/records/lead/"+theirs.Body["id"].(string), nil).want(t, http.StatusOK); got.Body["status"] != "new" {
		t.Errorf("a refused patch changed the record: %s", got.Raw)
	}
}
