package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
)

// newUser creates a user with roles and teams directly in the store and returns it with a session token.
func newUser(t *testing.T, email string, roles, teams []string) (*identity.User, string) {
	t.Helper()
	ctx := context.Background()
	u, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: email, Password: "password-of-" + email, Roles: roles, Teams: teams})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	tok, err := env.Login(ctx, email, "password-of-"+email)
	if err != nil {
		t.Fatal(err)
	}
	return u, tok
}

// call sends a JSON request and decodes a JSON response into out (when non-nil).
func call(t *testing.T, method, path, token string, body, out any) int {
	t.Helper()
	status, raw, err := env.Do(context.Background(), method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && status < 300 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return status
}

func mustStatus(t *testing.T, want int, method, path, token string, body, out any) {
	t.Helper()
	status, raw, err := env.Do(context.Background(), method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

var roleUsers = struct {
	sync.Once
	tokens map[string]string
}{}

// builtInRoleTokens logs in one user per built-in role, once per test binary.
func builtInRoleTokens(t *testing.T) map[string]string {
	t.Helper()
	roleUsers.Do(func() {
		roleUsers.tokens = map[string]string{}
		for _, r := range access.BuiltInRoles() {
			_, tok := newUser(t, "role-"+r.Name+"@roles.test", []string{r.Name}, nil)
			roleUsers.tokens[r.Name] = tok
		}
	})
	if len(roleUsers.tokens) != len(access.BuiltInRoles()) {
		t.Fatal("role users were not created")
	}
	return roleUsers.tokens
}

// TestEveryRouteAsEveryRole runs every operation of the OpenAPI document as an anonymous caller and as a
// user of each built-in role, and checks the status against the access model: 401 anonymous, 403 without
// the permission, neither 401 nor 403 with it.
func TestEveryRouteAsEveryRole(t *testing.T) {
	ctx := context.Background()
	status, body, err := env.Do(ctx, http.MethodGet, "/api/openapi.json", "", nil)
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /api/openapi.json: %d %v", status, err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Permission  string `json:"x-permission"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	policy, err := access.NewPolicy(ctx, nil, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := builtInRoleTokens(t)
	roles := slices.Sorted(func(yield func(string) bool) {
		for r := range tokens {
			if !yield(r) {
				return
			}
		}
	})
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range doc.Paths {
			if !yield(p) {
				return
			}
		}
	})
	// Parameters name objects that do not exist, so no route changes anything real.
	params := strings.NewReplacer("{entity}", "zz-missing-entity")
	count := 0
	for _, path := range paths {
		for method, op := range doc.Paths[path] {
			method = strings.ToUpper(method)
			concrete := params.Replace(path)
			for strings.Contains(concrete, "{") {
				start, end := strings.IndexByte(concrete, '{'), strings.IndexByte(concrete, '}')
				concrete = concrete[:start] + "zz-missing" + concrete[end+1:]
			}
			perm := strings.NewReplacer("{entity}", "zz-missing-entity").Replace(op.Permission)
			var reqBody any
			if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
				reqBody = map[string]any{}
			}
			for _, role := range append([]string{"anonymous"}, roles...) {
				count++
				t.Run(fmt.Sprintf("%s %s as %s", method, path, role), func(t *testing.T) {
					token := ""
					if role != "anonymous" {
						token = tokens[role]
						if op.OperationID == "logout" {
							// Logging out would end the shared session; use a fresh one.
							tok, err := env.Login(ctx, "role-"+role+"@roles.test", "password-of-role-"+role+"@roles.test")
							if err != nil {
								t.Fatal(err)
							}
							token = tok
						}
					}
					status, body, err := env.Do(ctx, method, concrete, token, reqBody)
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case op.Permission == "public":
						if status == http.StatusUnauthorized || status == http.StatusForbidden {
							t.Fatalf("public route answered %d: %s", status, body)
						}
					case role == "anonymous":
						if status != http.StatusUnauthorized {
							t.Fatalf("anonymous got %d, want 401: %s", status, body)
						}
					case policy.AllowsRoles([]string{role}, perm):
						if status == http.StatusUnauthorized || status == http.StatusForbidden {
							t.Fatalf("%s holds %s but got %d: %s", role, perm, status, body)
						}
					default:
						if status != http.StatusForbidden {
							t.Fatalf("%s lacks %s but got %d: %s", role, perm, status, body)
						}
					}
				})
			}
		}
	}
	if count < 8*20 {
		t.Fatalf("only %d route and role combinations", count)
	}
}

func TestAPITokens(t *testing.T) {
	ctx := context.Background()
	tokens := builtInRoleTokens(t)
	var created api.CreatedToken

	t.Run("scopes narrow the owner's permissions", func(t *testing.T) {
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/tokens", env.AdminToken,
			map[string]any{"name": "reporting", "scopes": []string{"records.*.read", "audit.read"}, "expiresInDays": 30}, &created)
		if !strings.HasPrefix(created.Token, identity.APITokenPrefix) || created.Detail.ID == "" {
			t.Fatalf("created %+v", created)
		}
		var me api.MeView
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", created.Token, nil, &me)
		if me.Via != "token:"+created.Detail.ID || !slices.Equal(me.Permissions, []string{"records.*.read", "audit.read"}) {
			t.Fatalf("me through token = %+v", me)
		}
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/audit?limit=1", created.Token, nil, nil)
		mustStatus(t, http.StatusForbidden, http.MethodGet, "/api/v1/users", created.Token, nil, nil)
	})

	t.Run("the secret is stored only as a digest and last use is recorded", func(t *testing.T) {
		var doc bson.M
		if err := env.DB.Collection("api_tokens").FindOne(ctx, bson.D{{Key: "_id", Value: created.Detail.ID}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(doc)
		if bytes.Contains(raw, []byte(created.Token)) || bytes.Contains(raw, []byte(created.Token[4:])) {
			t.Fatalf("stored token holds the secret: %s", raw)
		}
		if doc["lastUsedAt"] == nil || doc["lastUsedIp"] == "" {
			t.Fatalf("last use not recorded: %s", raw)
		}
		var list api.TokenList
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/tokens", env.AdminToken, nil, &list)
		listed, _ := json.Marshal(list)
		if !bytes.Contains(listed, []byte(created.Detail.ID)) || bytes.Contains(listed, []byte(created.Token)) {
			t.Fatalf("token list %s", listed)
		}
	})

	t.Run("scopes wider than the creator are refused", func(t *testing.T) {
		tests := []struct {
			name   string
			token  string
			scopes []string
			want   int
		}{
			{"agent asks for users.manage", tokens[access.RoleAgent], []string{"users.manage"}, http.StatusUnprocessableEntity},
			{"agent asks for everything", tokens[access.RoleAgent], []string{"*"}, http.StatusUnprocessableEntity},
			{"agent asks for delete", tokens[access.RoleAgent], []string{"records.lead.delete"}, http.StatusUnprocessableEntity},
			{"agent asks for an unknown permission", tokens[access.RoleAgent], []string{"launch.missiles"}, http.StatusUnprocessableEntity},
			{"agent asks for its own", tokens[access.RoleAgent], []string{"records.lead.read", "records.*.write"}, http.StatusCreated},
			{"viewer may not create tokens", tokens[access.RoleViewer], []string{"records.lead.read"}, http.StatusForbidden},
			{"a token cannot mint a wider token", created.Token, []string{"users.manage"}, http.StatusForbidden},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				mustStatus(t, tt.want, http.MethodPost, "/api/v1/tokens", tt.token, map[string]any{"name": tt.name, "scopes": tt.scopes}, nil)
			})
		}
	})

	t.Run("revoked, expired and disabled owners' tokens get 401", func(t *testing.T) {
		mint := func(token string) api.CreatedToken {
			var c api.CreatedToken
			mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/tokens", token, map[string]any{"name": "short", "scopes": []string{"records.*.read"}}, &c)
			mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", c.Token, nil, nil)
			return c
		}
		revoked := mint(env.AdminToken)
		mustStatus(t, http.StatusNoContent, http.MethodDelete, "/api/v1/tokens/"+revoked.Detail.ID, env.AdminToken, nil, nil)
		mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", revoked.Token, nil, nil)

		// Expired behind the server's back (as another server would see it): before its first use, since
		// a credential in use is cached for identity.DefaultPrincipalTTL.
		var expired api.CreatedToken
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/tokens", env.AdminToken, map[string]any{"name": "short", "scopes": []string{"records.*.read"}}, &expired)
		if _, err := env.DB.Collection("api_tokens").UpdateOne(ctx, bson.D{{Key: "_id", Value: expired.Detail.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: time.Now().Add(-time.Minute)}}}}); err != nil {
			t.Fatal(err)
		}
		mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", expired.Token, nil, nil)

		leaver, leaverSession := newUser(t, "token-leaver@example.test", []string{access.RoleAgent}, nil)
		disabled := mint(leaverSession)
		mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+leaver.ID, env.AdminToken, map[string]any{"disabled": true}, nil)
		mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", disabled.Token, nil, nil)
		mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", leaverSession, nil, nil)
	})

	t.Run("someone else's token cannot be revoked or even found", func(t *testing.T) {
		mustStatus(t, http.StatusNotFound, http.MethodDelete, "/api/v1/tokens/"+created.Detail.ID, tokens[access.RoleAgent], nil, nil)
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", created.Token, nil, nil)
	})

	t.Run("an owner losing a permission takes it from its tokens at once", func(t *testing.T) {
		second, session := newUser(t, "second-admin@example.test", []string{access.RoleAdmin}, nil)
		var c api.CreatedToken
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/tokens", session, map[string]any{"name": "admin-script", "scopes": []string{"users.manage"}}, &c)
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/users", c.Token, nil, nil)
		mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+second.ID, env.AdminToken, map[string]any{"roles": []string{access.RoleViewer}}, nil)
		mustStatus(t, http.StatusForbidden, http.MethodGet, "/api/v1/users", c.Token, nil, nil)
	})

	t.Run("admins create tokens for integration users only", func(t *testing.T) {
		integration, _ := newUser(t, "erp-bridge@example.test", []string{access.RoleIntegration}, nil)
		person, _ := newUser(t, "a-person@example.test", []string{access.RoleAgent}, nil)
		var c api.CreatedToken
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/tokens", env.AdminToken,
			map[string]any{"name": "erp", "scopes": []string{"records.order.write"}, "user": integration.ID}, &c)
		if c.Detail.UserID != integration.ID {
			t.Fatalf("token owner %s", c.Detail.UserID)
		}
		var me api.MeView
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", c.Token, nil, &me)
		if me.ID != integration.ID {
			t.Fatalf("token acts as %s", me.Email)
		}
		mustStatus(t, http.StatusUnprocessableEntity, http.MethodPost, "/api/v1/tokens", env.AdminToken,
			map[string]any{"name": "x", "scopes": []string{"records.order.read"}, "user": person.ID}, nil)
		mustStatus(t, http.StatusUnprocessableEntity, http.MethodPost, "/api/v1/tokens", env.AdminToken,
			map[string]any{"name": "x", "scopes": []string{"users.manage"}, "user": integration.ID}, nil)
		mustStatus(t, http.StatusForbidden, http.MethodPost, "/api/v1/tokens", tokens[access.RoleAnalyst],
			map[string]any{"name": "x", "scopes": []string{"schemas.read"}, "user": integration.ID}, nil)
	})
}

// loginCookies logs in through HTTP like a browser and returns the session and CSRF cookies.
func loginCookies(t *testing.T, email, password string) (session, csrf *http.Cookie) {
	t.Helper()
	raw, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest(http.MethodPost, env.BaseURL+"/api/v1/auth/login", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		switch c.Name {
		case api.SessionCookie:
			session = c
		case api.CSRFCookie:
			csrf = c
		}
	}
	if resp.StatusCode != http.StatusOK || session == nil || csrf == nil {
		t.Fatalf("login %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	return session, csrf
}

func TestCSRF(t *testing.T) {
	_, _ = newUser(t, "browser@example.test", []string{access.RoleViewer}, nil)
	session, csrf := loginCookies(t, "browser@example.test", "password-of-browser@example.test")
	_, otherCSRF := loginCookies(t, "browser@example.test", "password-of-browser@example.test")
	send := func(method, path string, cookies []*http.Cookie, header string) int {
		req, _ := http.NewRequest(method, env.BaseURL+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		if header != "" {
			req.Header.Set(api.CSRFHeader, header)
		}
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name    string
		method  string
		cookies []*http.Cookie
		header  string
		want    int
	}{
		{"reads need no token", http.MethodGet, []*http.Cookie{session}, "", http.StatusOK},
		{"change without the header", http.MethodPost, []*http.Cookie{session, csrf}, "", http.StatusForbidden},
		{"header without the cookie", http.MethodPost, []*http.Cookie{session}, csrf.Value, http.StatusForbidden},
		{"header and cookie disagree", http.MethodPost, []*http.Cookie{session, csrf}, "rpc_forged", http.StatusForbidden},
		{"another session's token", http.MethodPost, []*http.Cookie{session, otherCSRF}, otherCSRF.Value, http.StatusForbidden},
		{"matching header and cookie", http.MethodPost, []*http.Cookie{session, csrf}, csrf.Value, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/auth/me"
			if tt.method == http.MethodPost {
				path = "/api/v1/auth/logout"
			}
			if got := send(tt.method, path, tt.cookies, tt.header); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("bearer tokens need no CSRF token", func(t *testing.T) {
		_, tok := newUser(t, "script@example.test", []string{access.RoleViewer}, nil)
		mustStatus(t, http.StatusNoContent, http.MethodPost, "/api/v1/auth/logout", tok, nil, nil)
	})
}

// auditEntries reads the audit log through the API with the admin token.
func auditEntries(t *testing.T, query string) api.AuditPage {
	t.Helper()
	var page api.AuditPage
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/audit?"+query, env.AdminToken, nil, &page)
	return page
}

func TestLockoutIsAudited(t *testing.T) {
	ctx := context.Background()
	if _, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: "lockme@example.test", Password: "the-real-password"}); err != nil {
		t.Fatal(err)
	}
	const guess = "wrong-guess-Zq9"
	for range 6 {
		call(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "lockme@example.test", "password": guess}, nil)
	}
	status, _, _ := env.Do(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "lockme@example.test", "password": "the-real-password"})
	if status != http.StatusTooManyRequests {
		t.Fatalf("correct password during lockout = %d", status)
	}
	count := func(action string) int {
		n := 0
		for _, e := range auditEntries(t, "action="+action+"&limit=200").Items {
			if e.Actor.Email == "lockme@example.test" {
				n++
				if e.Source.IP == "" || e.Time.IsZero() {
					t.Errorf("entry without source or time: %+v", e)
				}
			}
		}
		return n
	}
	if got := count(audit.LoginFailed); got != 5 {
		t.Errorf("%d failed logins audited, want 5 (the sixth was refused by the lock)", got)
	}
	if got := count(audit.LoginLocked); got != 1 {
		t.Errorf("%d lockouts audited, want 1", got)
	}
	raw, err := env.DB.Collection(audit.Collection).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.M
	if err := raw.All(ctx, &all); err != nil {
		t.Fatal(err)
	}
	dump, _ := json.Marshal(all)
	for _, secret := range []string{guess, "the-real-password", "$argon2", identity.SessionPrefix, "correct horse"} {
		if bytes.Contains(dump, []byte(secret)) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
}

func TestUsersAndTeams(t *testing.T) {
	ctx := context.Background()
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": "north", "name": "North"}, nil)
	mustStatus(t, http.StatusConflict, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": "north", "name": "North"}, nil)

	var created api.CreatedUser
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/users", env.AdminToken,
		map[string]any{"email": "Invitee@Example.test", "name": "Invitee", "roles": []string{"agent"}, "teams": []string{"north"}}, &created)
	if created.Password == "" || created.User.Email != "invitee@example.test" || !slices.Equal(created.User.Teams, []string{"north"}) {
		t.Fatalf("created %+v", created)
	}
	session, err := env.Login(ctx, "invitee@example.test", created.Password)
	if err != nil {
		t.Fatalf("generated password does not log in: %v", err)
	}

	t.Run("unknown roles and teams are refused", func(t *testing.T) {
		mustStatus(t, http.StatusUnprocessableEntity, http.MethodPost, "/api/v1/users", env.AdminToken,
			map[string]any{"email": "x@example.test", "roles": []string{"overlord"}}, nil)
		mustStatus(t, http.StatusUnprocessableEntity, http.MethodPatch, "/api/v1/users/"+created.User.ID, env.AdminToken,
			map[string]any{"teams": []string{"atlantis"}}, nil)
		mustStatus(t, http.StatusConflict, http.MethodPost, "/api/v1/users", env.AdminToken,
			map[string]any{"email": "invitee@example.test"}, nil)
	})

	t.Run("a team with members cannot be deleted", func(t *testing.T) {
		mustStatus(t, http.StatusConflict, http.MethodDelete, "/api/v1/teams/north", env.AdminToken, nil, nil)
	})

	t.Run("role change is audited with before and after", func(t *testing.T) {
		mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+created.User.ID, env.AdminToken, map[string]any{"roles": []string{"manager"}}, nil)
		page := auditEntries(t, "action=user.update&target="+created.User.ID)
		if len(page.Items) == 0 {
			t.Fatal("no audit entry")
		}
		e := page.Items[0]
		before, _ := json.Marshal(e.Before)
		after, _ := json.Marshal(e.After)
		if !strings.Contains(string(before), `"agent"`) || !strings.Contains(string(after), `"manager"`) || e.Actor.Email != "admin@example.test" {
			t.Fatalf("entry %+v before %s after %s", e, before, after)
		}
	})

	t.Run("own password change revokes the other sessions only", func(t *testing.T) {
		other, err := env.Login(ctx, "invitee@example.test", created.Password)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, http.StatusUnprocessableEntity, http.MethodPost, "/api/v1/auth/password", session,
			map[string]any{"current": "not-it-at-all", "password": "a-brand-new-password"}, nil)
		mustStatus(t, http.StatusNoContent, http.MethodPost, "/api/v1/auth/password", session,
			map[string]any{"current": created.Password, "password": "a-brand-new-password"}, nil)
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", session, nil, nil)
		mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", other, nil, nil)
		if _, err := env.Login(ctx, "invitee@example.test", "a-brand-new-password"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("admin reset revokes every session", func(t *testing.T) {
		var reset api.PasswordReset
		mustStatus(t, http.StatusOK, http.MethodPost, "/api/v1/users/"+created.User.ID+"/password", env.AdminToken, map[string]any{}, &reset)
		if reset.Password == "" {
			t.Fatal("no generated password")
		}
		mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", session, nil, nil)
		if _, err := env.Login(ctx, "invitee@example.test", reset.Password); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("list pages by email with a size limit", func(t *testing.T) {
		var first, second api.UserPage
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/users?limit=1", env.AdminToken, nil, &first)
		if len(first.Items) != 1 || first.Next == "" {
			t.Fatalf("first page %+v", first)
		}
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/users?limit=1&cursor="+first.Next, env.AdminToken, nil, &second)
		if len(second.Items) != 1 || second.Items[0].Email <= first.Items[0].Email {
			t.Fatalf("second page %+v after %+v", second, first)
		}
		mustStatus(t, http.StatusUnprocessableEntity, http.MethodGet, "/api/v1/users?limit=100000", env.AdminToken, nil, nil)
		mustStatus(t, http.StatusUnprocessableEntity, http.MethodGet, "/api/v1/audit?limit=100000", env.AdminToken, nil, nil)
	})

	t.Run("audit pages with a cursor", func(t *testing.T) {
		first := auditEntries(t, "action=user.&limit=1")
		if len(first.Items) != 1 || first.Next == "" {
			t.Fatalf("first page %+v", first)
		}
		second := auditEntries(t, "action=user.&limit=1&cursor="+first.Next)
		if len(second.Items) != 1 || second.Items[0].ID >= first.Items[0].ID {
			t.Fatalf("second page %+v after %+v", second.Items, first.Items)
		}
	})
}

func TestCustomRoles(t *testing.T) {
	user, tok := newUser(t, "role-holder@example.test", nil, nil)
	mustStatus(t, http.StatusForbidden, http.MethodGet, "/api/v1/users", tok, nil, nil)
	role := map[string]any{"name": "helpdesk", "description": "Resets passwords", "permissions": []string{"users.manage", "records.complaint.*"},
		"scopes": map[string]string{"complaint": "team"}, "fields": map[string]any{"complaint": map[string]any{"hidden": []string{"internalNote"}}}}
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/roles", env.AdminToken, role, nil)
	mustStatus(t, http.StatusConflict, http.MethodPost, "/api/v1/roles", env.AdminToken, role, nil)
	mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+user.ID, env.AdminToken, map[string]any{"roles": []string{"helpdesk"}}, nil)
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/users", tok, nil, nil)

	t.Run("users.manage cannot hand out or take over more than it holds", func(t *testing.T) {
		var admin api.MeView
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", env.AdminToken, nil, &admin)
		plain, _ := newUser(t, "plain-user@example.test", nil, nil)
		escalations := []struct {
			name   string
			method string
			path   string
			body   any
			want   int
		}{
			{"make itself admin", http.MethodPatch, "/api/v1/users/" + user.ID, map[string]any{"roles": []string{"admin"}}, http.StatusForbidden},
			{"invite an admin", http.MethodPost, "/api/v1/users", map[string]any{"email": "sneaky@example.test", "roles": []string{"admin"}}, http.StatusForbidden},
			{"give a role it lacks", http.MethodPatch, "/api/v1/users/" + plain.ID, map[string]any{"roles": []string{"viewer"}}, http.StatusForbidden},
			{"reset an admin's password", http.MethodPost, "/api/v1/users/" + admin.ID + "/password", map[string]any{}, http.StatusForbidden},
			{"disable an admin", http.MethodPatch, "/api/v1/users/" + admin.ID, map[string]any{"disabled": true}, http.StatusForbidden},
			{"manage a user below it", http.MethodPatch, "/api/v1/users/" + plain.ID, map[string]any{"name": "Plain", "roles": []string{"helpdesk"}}, http.StatusOK},
		}
		for _, tt := range escalations {
			t.Run(tt.name, func(t *testing.T) {
				mustStatus(t, tt.want, tt.method, tt.path, tok, tt.body, nil)
			})
		}
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", env.AdminToken, nil, nil)
	})

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		want   int
	}{
		{"unknown permission", http.MethodPost, "/api/v1/roles", map[string]any{"name": "bad", "permissions": []string{"launch.missiles"}}, http.StatusUnprocessableEntity},
		{"bad scope", http.MethodPost, "/api/v1/roles", map[string]any{"name": "bad", "permissions": []string{}, "scopes": map[string]string{"lead": "galaxy"}}, http.StatusUnprocessableEntity},
		{"built-in cannot change", http.MethodPut, "/api/v1/roles/admin", map[string]any{"permissions": []string{}}, http.StatusConflict},
		{"built-in cannot go", http.MethodDelete, "/api/v1/roles/viewer", nil, http.StatusConflict},
		{"missing role", http.MethodDelete, "/api/v1/roles/nobody", nil, http.StatusNotFound},
		{"catalogue", http.MethodGet, "/api/v1/permissions", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustStatus(t, tt.want, tt.method, tt.path, env.AdminToken, tt.body, nil)
		})
	}

	t.Run("narrowing a role applies at once and is audited", func(t *testing.T) {
		mustStatus(t, http.StatusOK, http.MethodPut, "/api/v1/roles/helpdesk", env.AdminToken, map[string]any{"permissions": []string{"records.complaint.read"}}, nil)
		mustStatus(t, http.StatusForbidden, http.MethodGet, "/api/v1/users", tok, nil, nil)
		page := auditEntries(t, "action=role.update&target=helpdesk")
		if len(page.Items) != 1 {
			t.Fatalf("audit %+v", page)
		}
		before, _ := json.Marshal(page.Items[0].Before)
		if !strings.Contains(string(before), "users.manage") {
			t.Fatalf("before %s", before)
		}
	})

	var roles api.RoleList
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/roles", env.AdminToken, nil, &roles)
	var names []string
	for _, r := range roles.Items {
		names = append(names, r.Name)
	}
	if !sort.StringsAreSorted(names[len(access.BuiltInRoles()):]) || !slices.Contains(names, "helpdesk") || !roles.Items[0].BuiltIn {
		t.Fatalf("roles %v", names)
	}
}

func TestSecurityHeaders(t *testing.T) {
	get := func(path string) http.Header {
		req, _ := http.NewRequest(http.MethodGet, env.BaseURL+path, nil)
		req.Header.Set("Authorization", "Bearer "+env.AdminToken)
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header
	}
	tests := []struct {
		path  string
		want  map[string]string
		lacks []string
	}{
		{"/api/v1/auth/me", map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"},
			[]string{"Access-Control-Allow-Origin"}},
		{"/api/v1/nowhere", map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}, nil},
		{"/", map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}, []string{"Cache-Control"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			h := get(tt.path)
			for k, v := range tt.want {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			for _, k := range tt.lacks {
				if h.Get(k) != "" {
					t.Errorf("%s is set: %q", k, h.Get(k))
				}
			}
		})
	}
	if csp := get("/").Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("UI CSP %q", csp)
	}
}

// standalone builds a second server on the test stack's stores with other settings, called in memory.
func standalone(t *testing.T, deps api.Deps) func(*http.Request) *http.Response {
	t.Helper()
	deps.DB, deps.Users = env.DB, env.Stack.Users
	s := api.New(deps)
	return func(r *http.Request) *http.Response {
		resp, err := s.App().Test(r, -1)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
}

func TestCORS(t *testing.T) {
	preflight := func(do func(*http.Request) *http.Response, origin string) string {
		req := httptest.NewRequest(http.MethodOptions, "/api/v1/auth/me", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		return do(req).Header.Get("Access-Control-Allow-Origin")
	}
	off := standalone(t, api.Deps{})
	on := standalone(t, api.Deps{CORSOrigins: []string{"https://crm.example.com"}})
	tests := []struct {
		name   string
		do     func(*http.Request) *http.Response
		origin string
		want   string
	}{
		{"off by default", off, "https://crm.example.com", ""},
		{"configured origin", on, "https://crm.example.com", "https://crm.example.com"},
		{"other origin", on, "https://evil.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := preflight(tt.do, tt.origin); got != tt.want {
				t.Fatalf("Access-Control-Allow-Origin = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPerCallerRateLimit(t *testing.T) {
	do := standalone(t, api.Deps{RateLimit: api.RateLimit{PerSecond: 0.01, Burst: 3}})
	_, agentToken := newUser(t, "busy-agent@example.test", []string{access.RoleAgent}, nil)
	me := func(token string) *http.Response {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return do(req)
	}
	for i := range 3 {
		if resp := me(agentToken); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d = %d", i+1, resp.StatusCode)
		}
	}
	resp := me(agentToken)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d Retry-After=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := me(env.AdminToken); resp.StatusCode != http.StatusOK {
		t.Fatalf("another user is limited too: %d", resp.StatusCode)
	}
}

// TestClientCannotSetSystemFields: id, version, createdAt and createdBy come from the server; a client
// sending them is refused or ignored, never obeyed.
func TestClientCannotSetSystemFields(t *testing.T) {
	var me api.MeView
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", env.AdminToken, nil, &me)
	lead := func(extra map[string]any) map[string]any {
		m := map[string]any{"source": "api", "name": "Mass Assignment", "status": "new", "email": "mass.assignment@example.com"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	check := func(t *testing.T, status int, body map[string]any, wantVersion float64) {
		t.Helper()
		if status >= 400 && status < 500 {
			return // refused outright
		}
		if status >= 300 {
			t.Fatalf("status %d", status)
		}
		if body["createdBy"] != me.ID || body["version"] != wantVersion || body["id"] == "chosen-id" ||
			body["createdAt"] == "2001-01-01T00:00:00Z" {
			t.Fatalf("client-set system fields were obeyed: %v", body)
		}
	}
	forged := map[string]any{"id": "chosen-id", "version": 99, "createdBy": "mallory", "createdAt": "2001-01-01T00:00:00Z"}
	var created map[string]any
	status := call(t, http.MethodPost, "/api/v1/records/lead", env.AdminToken, lead(forged), &created)
	check(t, status, created, 1)

	var clean map[string]any
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/records/lead", env.AdminToken,
		lead(map[string]any{"email": "clean.lead@example.com", "name": "Clean Lead"}), &clean)
	var patched map[string]any
	status = call(t, http.MethodPatch, "/api/v1/records/lead/"+clean["id"].(string), env.AdminToken,
		map[string]any{"version": 99, "createdBy": "mallory", "createdAt": "2001-01-01T00:00:00Z", "status": "contacted"}, &patched)
	check(t, status, patched, 2)
}
