package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/engine/identity"
)

func decodeProblem(t *testing.T, body []byte) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("response is not a problem document: %v: %s", err, body)
	}
	if p.Type == "" || p.Status == 0 || p.Title == "" {
		t.Fatalf("problem lacks type, status or title: %s", body)
	}
	return p
}

// TestEveryRouteHasAccessPolicy reads the generated OpenAPI document: every operation must name a
// permission (or be explicitly public), and every non-public one must refuse anonymous callers with 401.
func TestEveryRouteHasAccessPolicy(t *testing.T) {
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
	// Besides health and login, the public ones are what customers reach without an account: web forms
	// and the satisfaction survey, each with its own abuse limits (forms_test.go, surveys in the CRM e2e).
	public := map[string]bool{"healthz": true, "readyz": true, "login": true,
		"submit-form": true, "preflight-form": true, "survey-page": true, "survey-answer": true}
	count := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			count++
			t.Run(method+" "+path, func(t *testing.T) {
				if op.Permission == "" {
					t.Fatalf("operation %s has no x-permission", op.OperationID)
				}
				if (op.Permission == "public") != public[op.OperationID] {
					t.Fatalf("operation %s is %q; public ones are exactly %v", op.OperationID, op.Permission, public)
				}
				if op.Permission == "public" {
					return
				}
				concrete := strings.NewReplacer("{", "", "}", "").Replace(path)
				status, body, err := env.Do(ctx, strings.ToUpper(method), concrete, "", nil)
				if err != nil {
					t.Fatal(err)
				}
				if status != http.StatusUnauthorized {
					t.Fatalf("anonymous %s %s = %d, want 401: %s", method, path, status, body)
				}
				decodeProblem(t, body)
			})
		}
	}
	if count < 5 {
		t.Fatalf("only %d operations in the OpenAPI document", count)
	}
}

func TestAuthentication(t *testing.T) {
	ctx := context.Background()
	token, err := env.Login(ctx, "ADMIN@example.test ", "correct horse battery staple")
	if err != nil {
		t.Fatalf("login with differently cased email: %v", err)
	}
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{"fresh token", token, http.StatusOK},
		{"no token", "", http.StatusUnauthorized},
		{"garbage token", "rps_not-a-real-token", http.StatusUnauthorized},
		{"wrong prefix", "abc", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := env.Do(ctx, http.MethodGet, "/api/v1/auth/me", tt.token, nil)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Fatalf("GET /auth/me = %d, want %d: %s", status, tt.wantStatus, body)
			}
			if status == http.StatusOK {
				var u api.UserView
				if err := json.Unmarshal(body, &u); err != nil || u.Email != "admin@example.test" {
					t.Fatalf("me = %s (%v)", body, err)
				}
				if bytes.Contains(body, []byte("password")) {
					t.Fatalf("user view leaks password material: %s", body)
				}
			} else {
				if p := decodeProblem(t, body); p.Status != tt.wantStatus {
					t.Fatalf("problem status %d", p.Status)
				}
			}
		})
	}

	t.Run("cookie session and logout", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.BaseURL+"/api/v1/auth/login",
			strings.NewReader(`{"email":"admin@example.test","password":"correct horse battery staple"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var cookie, csrf *http.Cookie
		for _, c := range resp.Cookies() {
			switch c.Name {
			case api.SessionCookie:
				cookie = c
			case api.CSRFCookie:
				csrf = c
			}
		}
		if csrf == nil || csrf.HttpOnly || csrf.Value == "" {
			t.Fatalf("CSRF cookie missing or HttpOnly: %+v", csrf)
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
			t.Fatalf("session cookie missing or not HttpOnly+SameSite=Strict: %+v", cookie)
		}
		me := func() int {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.BaseURL+"/api/v1/auth/me", nil)
			req.AddCookie(cookie)
			resp, err := env.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if got := me(); got != http.StatusOK {
			t.Fatalf("me with cookie = %d", got)
		}
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, env.BaseURL+"/api/v1/auth/logout", nil)
		req.AddCookie(cookie)
		req.AddCookie(csrf)
		req.Header.Set(api.CSRFHeader, csrf.Value)
		resp, err = env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout = %d", resp.StatusCode)
		}
		if got := me(); got != http.StatusUnauthorized {
			t.Fatalf("me after logout = %d, want 401", got)
		}
	})

	t.Run("disabled user's token stops working", func(t *testing.T) {
		if _, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: "leaver@example.test", Password: "leaver-password"}); err != nil {
			t.Fatal(err)
		}
		tok, err := env.Login(ctx, "leaver@example.test", "leaver-password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB.Collection("users").UpdateOne(ctx, map[string]any{"email": "leaver@example.test"},
			map[string]any{"$set": map[string]any{"disabled": true}}); err != nil {
			t.Fatal(err)
		}
		if status, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/auth/me", tok, nil); status != http.StatusUnauthorized {
			t.Fatalf("disabled user's token = %d: %s", status, body)
		}
	})

	t.Run("non-admin lacks admin permissions but reaches its own profile", func(t *testing.T) {
		if _, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: "agent@example.test", Password: "agent-password"}); err != nil {
			t.Fatal(err)
		}
		tok, err := env.Login(ctx, "agent@example.test", "agent-password")
		if err != nil {
			t.Fatal(err)
		}
		if status, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/auth/me", tok, nil); status != http.StatusOK {
			t.Fatalf("me = %d: %s", status, body)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	ctx := context.Background()
	if _, err := env.Stack.Users.CreateUser(ctx, identity.NewUser{Email: "target@example.test", Password: "the-right-password"}); err != nil {
		t.Fatal(err)
	}
	attempt := func(password string) (int, []byte, http.Header) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, env.BaseURL+"/api/v1/auth/login",
			strings.NewReader(`{"email":"target@example.test","password":"`+password+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes(), resp.Header
	}
	for i := range 5 {
		status, body, _ := attempt("wrong")
		if status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401: %s", i+1, status, body)
		}
		if p := decodeProblem(t, body); !strings.HasSuffix(p.Type, "/invalid-credentials") {
			t.Fatalf("problem type %s", p.Type)
		}
	}
	status, body, header := attempt("wrong")
	if status != http.StatusTooManyRequests || header.Get("Retry-After") == "" {
		t.Fatalf("after repeated failures: %d Retry-After=%q: %s", status, header.Get("Retry-After"), body)
	}
	if status, _, _ := attempt("the-right-password"); status != http.StatusTooManyRequests {
		t.Fatalf("correct password during lockout = %d, want 429", status)
	}
}

func TestBadRequests(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		wantStatus int
		wantType   string
		wantErrors []string
	}{
		{"malformed JSON", http.MethodPost, "/api/v1/auth/login", []byte(`{"email":`), http.StatusBadRequest, "malformed-json", nil},
		{"not JSON at all", http.MethodPost, "/api/v1/auth/login", []byte(`hello`), http.StatusBadRequest, "malformed-json", nil},
		{"validation lists every field", http.MethodPost, "/api/v1/auth/login", []byte(`{"email":"x","unknown":1}`), http.StatusUnprocessableEntity, "validation", []string{"/email", "/password", "/unknown"}},
		{"body over the operation limit", http.MethodPost, "/api/v1/auth/login", bytes.Repeat([]byte("a"), 2<<20), http.StatusRequestEntityTooLarge, "body-too-large", nil},
		{"unknown route", http.MethodGet, "/api/v1/nowhere", nil, http.StatusNotFound, "not-found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := env.Do(ctx, tt.method, tt.path, "", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tt.wantStatus, body)
			}
			p := decodeProblem(t, body)
			if !strings.HasSuffix(p.Type, "/"+tt.wantType) {
				t.Fatalf("type %s, want .../%s", p.Type, tt.wantType)
			}
			var pointers []string
			for _, e := range p.Errors {
				pointers = append(pointers, e.Pointer)
			}
			for _, want := range tt.wantErrors {
				if !strings.Contains(strings.Join(pointers, " "), want) {
					t.Errorf("errors %v lack pointer %s", pointers, want)
				}
			}
		})
	}
}

// TestServerBodyLimit announces a body larger than the server accepts: the server answers 413 from the
// headers alone, before reading the body (sent over a raw connection, so no client races the early reply).
func TestServerBodyLimit(t *testing.T) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.BaseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: rapport\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 64<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != api.ProblemContentType {
		t.Fatalf("oversize body: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if p := decodeProblem(t, body); !strings.HasSuffix(p.Type, "/body-too-large") {
		t.Fatalf("type %s", p.Type)
	}
}

func TestHealthAndDocs(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/healthz", http.StatusOK, `"status":"ok"`},
		{"/readyz", http.StatusOK, `"ready":true`},
		{"/api/openapi.json", http.StatusOK, `"openapi":"3.1`},
		{"/api/docs", http.StatusOK, "swagger-ui"},
		{"/api/docs/vendor/swagger-ui/swagger-ui-bundle.js", http.StatusOK, "SwaggerUIBundle"},
		{"/", http.StatusOK, `<div id="app">`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body, err := env.Do(ctx, http.MethodGet, tt.path, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus || !bytes.Contains(body, []byte(tt.wantBody)) {
				t.Fatalf("GET %s = %d, want %d containing %q: %.300s", tt.path, status, tt.wantStatus, tt.wantBody, body)
			}
		})
	}
}
