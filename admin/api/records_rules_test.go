package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/access"
)

func leadAs(t *testing.T, token, name string, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"source": "api", "name": name, "status": "new",
		"email": strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"}
	for k, v := range extra {
		body[k] = v
	}
	var out map[string]any
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/records/lead", token, body, &out)
	return out["id"].(string)
}

// listedLeads returns the IDs of leads whose name starts with prefix, as the token lists them.
func listedLeads(t *testing.T, token, prefix string) []string {
	t.Helper()
	var page struct {
		Items []map[string]any `json:"items"`
	}
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/records/lead?limit=200", token, nil, &page)
	var ids []string
	for _, r := range page.Items {
		if name, _ := r["name"].(string); strings.HasPrefix(name, prefix) {
			ids = append(ids, r["id"].(string))
		}
	}
	slices.Sort(ids)
	return ids
}

func TestAgentSeesOnlyOwnLeads(t *testing.T) {
	_, alice := newUser(t, "agent-alice@example.test", []string{access.RoleAgent}, nil)
	_, bob := newUser(t, "agent-bob@example.test", []string{access.RoleAgent}, nil)
	id := leadAs(t, alice, "Scope Alice Lead", nil)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   []int
	}{
		{"read", http.MethodGet, "/api/v1/records/lead/" + id, nil, []int{http.StatusNotFound}},
		{"patch", http.MethodPatch, "/api/v1/records/lead/" + id, map[string]any{"status": "contacted"}, []int{http.StatusNotFound}},
		{"delete", http.MethodDelete, "/api/v1/records/lead/" + id, nil, []int{http.StatusNotFound, http.StatusForbidden}},
		{"history", http.MethodGet, "/api/v1/records/lead/" + id + "/history", nil, []int{http.StatusNotFound}},
		{"export", http.MethodGet, "/api/v1/exports/lead?format=jsonl", nil, []int{http.StatusForbidden, http.StatusOK}},
	}
	for _, tt := range tests {
		t.Run("bob cannot "+tt.name, func(t *testing.T) {
			status, body, err := env.Do(context.Background(), tt.method, tt.path, bob, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(tt.want, status) {
				t.Fatalf("status %d, want one of %v: %s", status, tt.want, body)
			}
			if status == http.StatusOK && bytes.Contains(body, []byte(id)) {
				t.Fatalf("alice's lead leaks: %.300s", body)
			}
		})
	}
	t.Run("bob's list lacks it, alice's has it", func(t *testing.T) {
		if got := listedLeads(t, bob, "Scope Alice"); len(got) != 0 {
			t.Fatalf("bob lists %v", got)
		}
		if got := listedLeads(t, alice, "Scope Alice"); !slices.Equal(got, []string{id}) {
			t.Fatalf("alice lists %v", got)
		}
	})
}

func TestManagerSeesExactlyTheTeam(t *testing.T) {
	for _, team := range []string{"east", "west"} {
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": team, "name": team}, nil)
	}
	_, manager := newUser(t, "manager-east@example.test", []string{access.RoleManager}, []string{"east"})
	east1 := leadAs(t, env.AdminToken, "Team Scope East One", map[string]any{"team": "east"})
	east2 := leadAs(t, env.AdminToken, "Team Scope East Two", map[string]any{"team": "east"})
	west := leadAs(t, env.AdminToken, "Team Scope West", map[string]any{"team": "west"})
	want := []string{east1, east2}
	slices.Sort(want)
	if got := listedLeads(t, manager, "Team Scope"); !slices.Equal(got, want) {
		t.Fatalf("manager lists %v, want %v", got, want)
	}
	mustStatus(t, http.StatusNotFound, http.MethodGet, "/api/v1/records/lead/"+west, manager, nil, nil)
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/records/lead/"+east1, manager, nil, nil)
}

func TestHiddenFieldNeverLeaks(t *testing.T) {
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/roles", env.AdminToken, map[string]any{
		"name": "lead-auditor", "permissions": []string{"records.lead.read", "records.lead.export", "records.lead.write"},
		"scopes": map[string]string{"lead": "all"},
		"fields": map[string]any{"lead": map[string]any{"hidden": []string{"email"}}},
	}, nil)
	_, auditor := newUser(t, "lead-auditor@example.test", []string{"lead-auditor"}, nil)
	const secret = "hidden.secret.address@example.com"
	id := leadAs(t, env.AdminToken, "Hidden Field Lead", map[string]any{"email": secret})
	mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/records/lead/"+id, env.AdminToken, map[string]any{"email": "changed." + secret}, nil)
	for _, path := range []string{
		"/api/v1/records/lead/" + id,
		"/api/v1/records/lead?limit=200",
		"/api/v1/records/lead/" + id + "/history",
		"/api/v1/exports/lead?format=jsonl",
		"/api/v1/exports/lead?format=csv",
	} {
		t.Run(path, func(t *testing.T) {
			status, body, err := env.Do(context.Background(), http.MethodGet, path, auditor, nil)
			if err != nil || status != http.StatusOK {
				t.Fatalf("status %d %v: %s", status, err, body)
			}
			if bytes.Contains(body, []byte(secret)) {
				t.Fatalf("hidden field leaks: %.400s", body)
			}
			if strings.Contains(path, "jsonl") {
				sc := bufio.NewScanner(bytes.NewReader(body))
				for sc.Scan() {
					var row map[string]any
					if json.Unmarshal(sc.Bytes(), &row) == nil {
						if _, ok := row["email"]; ok {
							t.Fatalf("export row has the hidden field: %s", sc.Text())
						}
					}
				}
			}
		})
	}
	t.Run("writing it is refused naming the field", func(t *testing.T) {
		status, body, _ := env.Do(context.Background(), http.MethodPatch, "/api/v1/records/lead/"+id, auditor, map[string]any{"email": "x@example.com"})
		if status != http.StatusForbidden || !bytes.Contains(body, []byte("email")) {
			t.Fatalf("status %d: %s", status, body)
		}
	})
}
