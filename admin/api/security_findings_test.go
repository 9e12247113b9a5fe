package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/storage"
)

// isolated is a second Rapport HTTP server on the embedded store of the test stack, with a database of
// its own (so lockouts and administrators there do not touch the shared stack) and its own settings,
// listening on loopback like the real one.
type isolated struct {
	base  string
	users *identity.Store
	db    string
}

func newIsolated(t *testing.T, name string, deps api.Deps) *isolated {
	t.Helper()
	ctx := context.Background()
	db := env.DB.Client().Database("isolated_" + name)
	if err := db.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	users, err := identity.NewStore(db, identity.Options{Backend: storage.NewBackend(true)})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	deps.DB, deps.Users = db, users
	s := api.New(deps)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return &isolated{base: "http://" + ln.Addr().String(), users: users, db: db.Name()}
}

// do sends a JSON request with optional bearer token and headers (name, value pairs), with the test
// stack's client code.
func (i *isolated) do(t *testing.T, method, path, token string, body any, headers ...string) (int, []byte) {
	t.Helper()
	r := (&stacktest.Env{BaseURL: i.base, HTTP: env.HTTP}).Call(t, method, path, token, body, headers...)
	return r.Status, r.Raw
}

func (i *isolated) login(t *testing.T, email, password string, headers ...string) string {
	t.Helper()
	status, raw := i.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, headers...)
	if status != http.StatusOK {
		t.Fatalf("login %s: %d %s", email, status, raw)
	}
	var out struct{ Token string }
	_ = json.Unmarshal(raw, &out)
	return out.Token
}

// parallel sends n copies of a request at once and counts the statuses.
func parallel(n int, send func() int) map[int]int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counts := map[int]int{}
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status := send()
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// TestParallelWrongPasswordsHitTheLimit (finding 9): twelve wrong passwords at once against an account
// with a limit of five: exactly five are checked (401), the rest are refused (429), and the right
// password is refused too while the lock lasts.
func TestParallelWrongPasswordsHitTheLimit(t *testing.T) {
	ctx := context.Background()
	if _, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: "raced@example.test", Password: "the-real-password"}); err != nil {
		t.Fatal(err)
	}
	counts := parallel(12, func() int {
		status, _, err := env.Do(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "raced@example.test", "password": "a-wrong-guess"})
		if err != nil {
			t.Error(err)
		}
		return status
	})
	if counts[http.StatusUnauthorized] != identity.PairMaxFailures || counts[http.StatusTooManyRequests] != 12-identity.PairMaxFailures {
		t.Fatalf("statuses %v, want %d × 401 and %d × 429", counts, identity.PairMaxFailures, 12-identity.PairMaxFailures)
	}
	status, _, _ := env.Do(ctx, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "raced@example.test", "password": "the-real-password"})
	if status != http.StatusTooManyRequests {
		t.Fatalf("right password during the lock = %d", status)
	}
}

// TestAdminsDemotingEachOther (finding 10): two administrators, each demoting (or disabling) the other
// at the same moment, never leave the installation without an enabled administrator.
func TestAdminsDemotingEachOther(t *testing.T) {
	ctx := context.Background()
	srv := newIsolated(t, "last_admin", api.Deps{})
	var ids [2]string
	var tokens [2]string
	for i, name := range []string{"ada", "bea"} {
		email := name + "@admins.test"
		u, err := srv.users.CreateUser(ctx, identity.NewUser{Email: email, Password: "password of " + name, Roles: []string{access.RoleAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i], tokens[i] = u.ID, srv.login(t, email, "password of "+name)
	}
	changes := []struct {
		name    string
		demote  map[string]any
		restore map[string]any
	}{
		{"roles", map[string]any{"roles": []string{access.RoleViewer}}, map[string]any{"roles": []string{access.RoleAdmin}}},
		{"disable", map[string]any{"disabled": true}, map[string]any{"disabled": false}},
	}
	for _, ch := range changes {
		for round := range 5 {
			var wg sync.WaitGroup
			var statuses [2]int
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i], _ = srv.do(t, http.MethodPatch, "/api/v1/users/"+ids[1-i], tokens[i], ch.demote)
				}()
			}
			wg.Wait()
			admins := 0
			for _, id := range ids {
				u, err := srv.users.User(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if !u.Disabled && len(u.Roles) == 1 && u.Roles[0] == access.RoleAdmin {
					admins++
				}
			}
			ok := 0
			for _, s := range statuses {
				if s == http.StatusOK {
					ok++
				}
			}
			if admins != 1 || ok != 1 {
				t.Fatalf("%s round %d: statuses %v left %d enabled administrators", ch.name, round, statuses, admins)
			}
			// Put both back for the next round, through the store (the survivor's session is still good, the
			// other's was revoked when disabled).
			for i, id := range ids {
				change := identity.UserChange{}
				if v, ok := ch.restore["roles"].([]string); ok {
					change.Roles = &v
				}
				if v, ok := ch.restore["disabled"].(bool); ok {
					change.Disabled = &v
				}
				if _, _, err := srv.users.UpdateUser(ctx, id, change); err != nil {
					t.Fatal(err)
				}
				tokens[i] = srv.login(t, []string{"ada", "bea"}[i]+"@admins.test", "password of "+[]string{"ada", "bea"}[i])
			}
		}
	}
	status, raw := srv.do(t, http.MethodPatch, "/api/v1/users/"+ids[1], tokens[0], map[string]any{"disabled": true})
	if status != http.StatusOK {
		t.Fatalf("disabling one of two admins: %d %s", status, raw)
	}
	status, raw = srv.do(t, http.MethodPatch, "/api/v1/users/"+ids[0], tokens[0], map[string]any{"roles": []string{access.RoleViewer}})
	if status != http.StatusConflict || !strings.Contains(string(raw), "last-admin") {
		t.Fatalf("demoting the last admin: %d %s", status, raw)
	}
}

// TestTrustedProxies (finding 21): behind a trusted proxy the client's own address counts, so a guesser
// locks only itself out and the account's owner still logs in; without trusting the proxy the header is
// ignored, so nobody can choose the address the limits see.
func TestTrustedProxies(t *testing.T) {
	ctx := context.Background()
	proxied := newIsolated(t, "proxied", api.Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if _, err := proxied.users.CreateUser(ctx, identity.NewUser{Email: "owner@proxied.test", Password: "owner's password"}); err != nil {
		t.Fatal(err)
	}
	guesser := []string{"X-Forwarded-For", "203.0.113.7"}
	for range identity.PairMaxFailures {
		if status, raw := proxied.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "owner@proxied.test", "password": "guess"}, guesser...); status != http.StatusUnauthorized {
			t.Fatalf("guess: %d %s", status, raw)
		}
	}
	if status, _ := proxied.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "owner@proxied.test", "password": "owner's password"}, guesser...); status != http.StatusTooManyRequests {
		t.Fatalf("the guesser's address is not locked: %d", status)
	}
	proxied.login(t, "owner@proxied.test", "owner's password", "X-Forwarded-For", "198.51.100.9, 127.0.0.1")
	var failed audit.Event
	if err := env.DB.Client().Database(proxied.db).Collection(audit.Collection).FindOne(ctx, bson.D{{Key: "action", Value: audit.LoginFailed}}).Decode(&failed); err != nil {
		t.Fatal(err)
	}
	if failed.Source.IP != "203.0.113.7" {
		t.Fatalf("audited address %q, want the client's", failed.Source.IP)
	}

	direct := newIsolated(t, "direct", api.Deps{})
	if _, err := direct.users.CreateUser(ctx, identity.NewUser{Email: "owner@direct.test", Password: "owner's password"}); err != nil {
		t.Fatal(err)
	}
	for i := range identity.PairMaxFailures {
		direct.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "owner@direct.test", "password": "guess"},
			"X-Forwarded-For", "192.0.2."+string(rune('1'+i)))
	}
	if status, _ := direct.do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": "owner@direct.test", "password": "guess"},
		"X-Forwarded-For", "192.0.2.200"); status != http.StatusTooManyRequests {
		t.Fatalf("a forged X-Forwarded-For escaped the limit: %d", status)
	}
}

// TestNewPasswordRevokesTokens (finding 15): changing or resetting a password revokes the user's API
// tokens, and enabling a disabled user does not bring its tokens back.
func TestNewPasswordRevokesTokens(t *testing.T) {
	user, session := newUser(t, "token-owner@example.test", []string{access.RoleAgent}, nil)
	mint := func(session string) string {
		var c api.CreatedToken
		mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/tokens", session, map[string]any{"name": "script", "scopes": []string{"records.lead.read"}}, &c)
		mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", c.Token, nil, nil)
		return c.Token
	}
	steps := []struct {
		name   string
		change func() string // returns a session to mint the next token with
	}{
		{"own password change", func() string {
			mustStatus(t, http.StatusNoContent, http.MethodPost, "/api/v1/auth/password", session,
				map[string]any{"current": "password-of-token-owner@example.test", "password": "second password 2"}, nil)
			return session
		}},
		{"administrator's reset", func() string {
			var reset api.PasswordReset
			mustStatus(t, http.StatusOK, http.MethodPost, "/api/v1/users/"+user.ID+"/password", env.AdminToken, map[string]any{"password": "third password 3"}, &reset)
			tok, err := env.Login(context.Background(), "token-owner@example.test", "third password 3")
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"disable and enable again", func() string {
			mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+user.ID, env.AdminToken, map[string]any{"disabled": true}, nil)
			mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+user.ID, env.AdminToken, map[string]any{"disabled": false}, nil)
			tok, err := env.Login(context.Background(), "token-owner@example.test", "third password 3")
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			token := mint(session)
			session = st.change()
			mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", token, nil, nil)
		})
	}
}

// TestCachedPrincipalsFollowChanges: a credential is resolved once and reused, but every change made
// through this server applies to the very next request.
func TestCachedPrincipalsFollowChanges(t *testing.T) {
	user, session := newUser(t, "cached@example.test", []string{access.RoleAgent}, nil)
	var me api.MeView
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", session, nil, &me) // now cached
	steps := []struct {
		name   string
		change func()
		status int
		check  func(me api.MeView) bool
	}{
		{"role change", func() {
			mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+user.ID, env.AdminToken, map[string]any{"roles": []string{access.RoleViewer}}, nil)
		}, http.StatusOK, func(me api.MeView) bool { return len(me.Roles) == 1 && me.Roles[0] == access.RoleViewer }},
		{"team change", func() {
			mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/teams", env.AdminToken, map[string]any{"id": "cache-team", "name": "Cache"}, nil)
			mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+user.ID, env.AdminToken, map[string]any{"teams": []string{"cache-team"}}, nil)
		}, http.StatusOK, func(me api.MeView) bool { return len(me.Teams) == 1 }},
		{"disable", func() {
			mustStatus(t, http.StatusOK, http.MethodPatch, "/api/v1/users/"+user.ID, env.AdminToken, map[string]any{"disabled": true}, nil)
		}, http.StatusUnauthorized, nil},
	}
	for _, st := range steps {
		st.change()
		status, raw, err := env.Do(context.Background(), http.MethodGet, "/api/v1/auth/me", session, nil)
		if err != nil {
			t.Fatal(err)
		}
		if status != st.status {
			t.Fatalf("%s: status %d, want %d: %s", st.name, status, st.status, raw)
		}
		if st.check != nil {
			var me api.MeView
			_ = json.Unmarshal(raw, &me)
			if !st.check(me) {
				t.Fatalf("%s: stale principal %s", st.name, raw)
			}
		}
	}
	_, other := newUser(t, "cached-logout@example.test", []string{access.RoleAgent}, nil)
	mustStatus(t, http.StatusOK, http.MethodGet, "/api/v1/auth/me", other, nil, nil)
	mustStatus(t, http.StatusNoContent, http.MethodPost, "/api/v1/auth/logout", other, nil, nil)
	mustStatus(t, http.StatusUnauthorized, http.MethodGet, "/api/v1/auth/me", other, nil, nil)
}

// fakeTryton answers the two calls a Tryton connector makes when configured, and remembers every
// password it was sent.
type fakeTryton struct {
	*httptest.Server
	mu        sync.Mutex
	passwords []string
}

func newFakeTryton(t *testing.T) *fakeTryton {
	f := &fakeTryton{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		switch req.Method {
		case "common.db.login":
			var cred struct{ Password string }
			if len(req.Params) > 1 {
				_ = json.Unmarshal(req.Params[1], &cred)
			}
			f.mu.Lock()
			f.passwords = append(f.passwords, cred.Password)
			f.mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"result": []any{1, "session-key"}})
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"result": map[string]any{"company": 1}})
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTryton) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.passwords...)
}

// TestConnectorSecretsStayWithTheirTarget (finding 12): a stored password is kept when the connector is
// saved unchanged, but a changed URL or database with the placeholder is refused and the new host hears
// nothing; entering the password again is accepted.
func TestConnectorSecretsStayWithTheirTarget(t *testing.T) {
	erpA, erpB := newFakeTryton(t), newFakeTryton(t)
	config := func(url, database, password string) map[string]any {
		return map[string]any{"plugin": "tryton", "config": map[string]any{"url": url, "database": database, "username": "sync", "password": password, "company": 1}}
	}
	s := Suite{Tokens: map[string]string{"admin": env.AdminToken}, Vars: map[string]string{"a": erpA.URL, "b": erpB.URL}}
	s.Run(t, []Scenario{
		{Name: "configure with a password", As: "admin", Method: http.MethodPut, URL: "/api/v1/connectors/sc-erp",
			Body: config("{a}", "prod", "s3cret"), Status: http.StatusOK, Lacks: []string{"s3cret"}},
		{Name: "saving unchanged keeps the password", As: "admin", Method: http.MethodPut, URL: "/api/v1/connectors/sc-erp",
			Body: config("{a}", "prod", "********"), Status: http.StatusOK, Lacks: []string{"s3cret"}},
		{Name: "a new URL with the placeholder is refused", As: "admin", Method: http.MethodPut, URL: "/api/v1/connectors/sc-erp",
			Body: config("{b}", "prod", "********"), Status: http.StatusUnprocessableEntity,
			Contains: []string{"secret-rebind", `"pointer":"/config/password"`, "/url"}, Lacks: []string{"s3cret"}},
		{Name: "a new database with the placeholder is refused", As: "admin", Method: http.MethodPut, URL: "/api/v1/connectors/sc-erp",
			Body: config("{a}", "other", "********"), Status: http.StatusUnprocessableEntity, Contains: []string{"/database"}},
		{Name: "the new URL with the password entered again", As: "admin", Method: http.MethodPut, URL: "/api/v1/connectors/sc-erp",
			Body: config("{b}", "prod", "n3w-secret"), Status: http.StatusOK},
	})
	if got := erpA.seen(); len(got) < 2 || got[0] != "s3cret" || got[1] != "s3cret" {
		t.Fatalf("ERP A received %q", got)
	}
	for _, p := range erpB.seen() {
		if p != "n3w-secret" {
			t.Fatalf("ERP B received %q; it must only ever get the password entered for it", erpB.seen())
		}
	}
	if len(erpB.seen()) == 0 {
		t.Fatal("ERP B was never configured")
	}
	mustStatus(t, http.StatusNoContent, http.MethodDelete, "/api/v1/connectors/sc-erp", env.AdminToken, nil, nil)
}

// TestTokenLookupByID: an API token names its ID, so it is found with one read by _id (no scan as the
// token collection grows); the secret part is still checked, so a right ID with a wrong secret is refused.
func TestTokenLookupByID(t *testing.T) {
	var c api.CreatedToken
	mustStatus(t, http.StatusCreated, http.MethodPost, "/api/v1/tokens", env.AdminToken, map[string]any{"name": "by-id", "scopes": []string{"records.*.read"}}, &c)
	if !strings.HasPrefix(c.Token, identity.APITokenPrefix+c.Detail.ID+"_") {
		t.Fatalf("token %q does not name its ID %s", c.Token, c.Detail.ID)
	}
	last := c.Token[len(c.Token)-1]
	other := byte('A')
	if last == 'A' {
		other = 'B'
	}
	forged := c.Token[:len(c.Token)-1] + string(other)
	s := Suite{Tokens: map[string]string{"token": c.Token, "forged": forged}}
	s.Run(t, []Scenario{
		{Name: "the token", As: "token", Method: http.MethodGet, URL: "/api/v1/auth/me", Status: http.StatusOK},
		{Name: "its ID with another secret", As: "forged", Method: http.MethodGet, URL: "/api/v1/auth/me", Status: http.StatusUnauthorized},
	})
}
