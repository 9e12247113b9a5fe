package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestVerifyCSRF(t *testing.T) {
	token, err := randomToken("rpc_")
	if err != nil {
		t.Fatal(err)
	}
	sess := &Session{CSRFDigest: digest(token)}
	tests := []struct {
		name  string
		sess  *Session
		value string
		want  bool
	}{
		{"matching token", sess, token, true},
		{"other token", sess, token + "x", false},
		{"empty value", sess, "", false},
		{"session without CSRF", &Session{}, token, false},
		{"no session (API token)", nil, token, false},
		{"oversized value", sess, strings.Repeat("a", 200), false},
	}
	for _, tt := range tests {
		if got := VerifyCSRF(tt.sess, tt.value); got != tt.want {
			t.Errorf("%s: VerifyCSRF = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw string
		ok bool
	}{
		{"short", false},
		{"exactly8", true},
		{strings.Repeat("p", 1024), true},
		{strings.Repeat("p", 1025), false},
	}
	for _, tt := range tests {
		err := checkPassword(tt.pw)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("checkPassword(len %d) = %v, want ok=%v", len(tt.pw), err, tt.ok)
		}
	}
}

func TestTokensAreDistinctAndPrefixed(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := randomToken(APITokenPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, APITokenPrefix) || len(tok) < 40 || seen[tok] {
			t.Fatalf("token %q", tok)
		}
		seen[tok] = true
		if d := digest(tok); len(d) != 64 || strings.Contains(d, tok) {
			t.Fatalf("digest %q", d)
		}
	}
}

func TestCheckPreference(t *testing.T) {
	tests := []struct {
		key, value string
		ok         bool
	}{
		{"views.lead", `[{"name":"Mine","query":"f_owner=me"}]`, true},
		{"columns.contact", `["name","email"]`, true},
		{"a", `null`, true},
		{"", `1`, false},
		{".hidden", `1`, false},
		{"views/lead", `1`, false},
		{strings.Repeat("k", 101), `1`, false},
		{"views.lead", `{"unclosed":`, false},
		{"views.lead", `"` + strings.Repeat("v", MaxPreferenceBytes) + `"`, false},
	}
	for _, tt := range tests {
		err := CheckPreference(tt.key, []byte(tt.value))
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("CheckPreference(%.20q, %.20q) = %v, want ok=%v", tt.key, tt.value, err, tt.ok)
		}
	}
}
