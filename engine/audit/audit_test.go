package audit

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCleanDropsSecrets(t *testing.T) {
	type user struct {
		Email        string `json:"email"`
		PasswordHash string `json:"passwordHash"`
		Roles        []string
	}
	tests := []struct {
		name    string
		in      any
		want    []string
		notWant []string
	}{
		{"struct with hash", user{Email: "a@b.c", PasswordHash: "$argon2id$v=19$xyz", Roles: []string{"admin"}}, []string{"a@b.c", "admin"}, []string{"argon2", "passwordHash"}},
		{"nested password", map[string]any{"body": map[string]any{"email": "x", "password": "hunter2hunter2"}}, []string{`"email":"x"`}, []string{"hunter2"}},
		{"token values by prefix", map[string]any{"note": "rpt_abcdefghijklmnopqrstu", "list": []any{"rps_abcdefghijklmnop"}}, []string{"[redacted]"}, []string{"rpt_abcdef", "rps_abcdef"}},
		{"token keys but not token IDs", map[string]any{"token": "opaque", "tokenId": "t-1", "csrfToken": "c"}, []string{"t-1"}, []string{"opaque", `"c"`}},
		{"secrets in lists", []any{map[string]any{"clientSecret": "s3cr3t", "name": "erp"}}, []string{"erp"}, []string{"s3cr3t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := clean(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(out)
			for _, w := range tt.want {
				if !strings.Contains(string(raw), w) {
					t.Errorf("%s lacks %q", raw, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(raw), w) {
					t.Errorf("%s still holds %q", raw, w)
				}
			}
		})
	}
}

func TestCleanTruncatesHugeValues(t *testing.T) {
	out, err := clean(map[string]any{"blob": strings.Repeat("x", maxDetailsLength+1)})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := out.(map[string]any); !ok || m["truncated"] != true {
		t.Fatalf("huge value kept: %.100v", out)
	}
}
