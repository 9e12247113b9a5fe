package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
)

// SessionCookie is the name of the browser's session cookie.
const SessionCookie = "rapport_session"

// PermAuthenticated is the permission every logged-in user holds (their own profile, logging out).
const PermAuthenticated = access.Authenticated

// Access is the access decision attached to an operation. Exactly one of Public or Permission is set.
type Access struct {
	// Public operations need no login: health checks, login itself, the API description.
	Public bool
	// Permission names what the caller must hold, e.g. "schemas.write". A {name} placeholder is replaced
	// by that path parameter, so "records.{entity}.read" on /api/v1/records/{entity} checks
	// "records.lead.read" for a lead.
	Permission string
}

// Policy decides whether a user holds a permission. engine/access.Policy (roles) is the implementation
// the stack uses; an API token's scopes narrow it further in the middleware.
type Policy interface {
	Allows(u *identity.User, permission string) bool
}

// AdminOnly is a policy for tools and tests without roles: administrators hold every permission, other
// users only PermAuthenticated.
type AdminOnly struct{}

// Allows implements Policy.
func (AdminOnly) Allows(u *identity.User, permission string) bool {
	return permission == PermAuthenticated || slices.Contains(u.Roles, identity.RoleAdmin)
}

// Principal is the authenticated caller of a request.
type Principal struct {
	User *identity.User
	// Token is the bearer token or session cookie the request carried.
	Token string
	// Credential says whether Token is a session or an API token, and an API token's scopes.
	Credential *identity.Credential
}

// Subject is the principal as the access model sees it: the user's roles and teams, narrowed by an API
// token's scopes.
func (p *Principal) Subject() access.Subject {
	s := access.Subject{UserID: p.User.ID, Roles: p.User.Roles, Teams: p.User.Teams}
	if p.Credential != nil && p.Credential.Kind == identity.KindToken {
		s.Scopes = p.Credential.Scopes
	}
	return s
}

// Via names the credential for the audit log: "session" or "token:<id>".
func (p *Principal) Via() string {
	if p.Credential != nil && p.Credential.Kind == identity.KindToken {
		return "token:" + p.Credential.ID
	}
	return identity.KindSession
}

type principalKey struct{}
type clientKey struct{}

// Client describes where a request came from, for rate limits and audit.
type Client struct {
	IP        string
	RequestID string
}

// PrincipalFrom returns the authenticated caller, or nil on public operations called anonymously.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// ClientFrom returns the request's origin.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// Register adds an operation with its access decision. Every route of the API goes through here, so the
// permission appears in the OpenAPI document (x-permission) and the middleware enforces it.
func Register[I, O any](s *Server, op huma.Operation, access Access, handler func(context.Context, *I) (*O, error)) {
	if access.Public == (access.Permission != "") {
		panic(fmt.Sprintf("api: operation %s must be either public or have a permission", op.OperationID))
	}
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata["access"] = access
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	if access.Public {
		op.Extensions["x-permission"] = "public"
		op.Security = []map[string][]string{{}}
	} else {
		op.Extensions["x-permission"] = access.Permission
		op.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
	}
	huma.Register(s.api, op, handler)
}

// authenticate resolves the caller and enforces the operation's access decision before any handler runs:
// authentication (401), CSRF for cookie sessions (403), the per-caller rate limit (429) and the
// operation's permission, narrowed by an API token's scopes (403).
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	client := Client{IP: ClientIP(remoteIP(ctx.RemoteAddr()), ctx.Header("X-Forwarded-For"), s.deps.TrustedProxies), RequestID: requestIDOf(ctx)}
	ctx = huma.WithValue(ctx, clientKey{}, client)
	op, ok := ctx.Operation().Metadata["access"].(Access)
	if !ok {
		// Only Register adds operations; anything else is refused rather than served unguarded.
		s.reject(ctx, NewProblem(http.StatusForbidden, "operation has no access policy"))
		return
	}
	token, fromCookie := bearerToken(ctx)
	if token == "" {
		if op.Public {
			next(ctx)
			return
		}
		s.reject(ctx, NewProblem(http.StatusUnauthorized, "authentication required: log in and send the token as a Bearer token").
			WithHeader("WWW-Authenticate", `Bearer realm="rapport"`))
		return
	}
	user, cred, err := s.deps.Users.Resolve(ctx.Context(), token, client.IP)
	if err != nil {
		if op.Public {
			next(ctx)
			return
		}
		if !errors.Is(err, identity.ErrUnauthenticated) {
			s.deps.Logger.Error("resolve credential", "requestId", client.RequestID, "error", err)
			s.reject(ctx, NewProblem(http.StatusServiceUnavailable, "cannot check the session right now"))
			return
		}
		s.reject(ctx, NewProblem(http.StatusUnauthorized, "the token is invalid, expired or revoked").
			WithHeader("WWW-Authenticate", `Bearer realm="rapport", error="invalid_token"`))
		return
	}
	if op.Public {
		next(ctx)
		return
	}
	p := &Principal{User: user, Token: token, Credential: cred}
	if fromCookie && !safeMethod(ctx.Method()) && !s.csrfOK(ctx, cred) {
		s.recordFor(ctx.Context(), p, client, audit.Event{Action: audit.CSRFRefused, Outcome: audit.OutcomeDenied,
			Target: audit.Target{Type: "route", ID: ctx.Method() + " " + ctx.URL().Path}})
		s.reject(ctx, Typed(http.StatusForbidden, "csrf", "a cookie-authenticated change needs the "+CSRFHeader+" header with the token from the "+CSRFCookie+" cookie"))
		return
	}
	if wait := s.rate.take(rateKey(p)); wait > 0 {
		s.reject(ctx, rateLimited(wait))
		return
	}
	perm := expandPermission(op.Permission, ctx.Param)
	if !s.allows(p, perm) {
		s.reject(ctx, NewProblem(http.StatusForbidden, "you lack the permission "+perm))
		return
	}
	next(huma.WithValue(ctx, principalKey{}, p))
}

// allows is the function-level decision: the user's roles grant perm and, for an API token, its scopes
// cover it too.
func (s *Server) allows(p *Principal, perm string) bool {
	if !s.deps.Policy.Allows(p.User, perm) {
		return false
	}
	if p.Credential != nil && p.Credential.Kind == identity.KindToken {
		return access.Granted(p.Credential.Scopes, perm)
	}
	return true
}

// recordDecision is the object- and field-level decision for the caller on an entity's records. The
// records code calls it once per request; see docs/DEVELOPING.md, "Record access".
func (s *Server) recordDecision(ctx context.Context, entity string) access.Decision {
	p := PrincipalFrom(ctx)
	if p == nil {
		return s.deps.Access.Decide(access.Subject{}, entity)
	}
	return s.deps.Access.Decide(p.Subject(), entity)
}

// reject writes p as the response without calling the handler.
func (s *Server) reject(ctx huma.Context, p *Problem) {
	p.Instance = ctx.URL().Path
	p.RequestID = requestIDOf(ctx)
	for k, vs := range p.headers {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", ProblemContentType)
	ctx.SetStatus(p.Status)
	if err := json.NewEncoder(ctx.BodyWriter()).Encode(p); err != nil {
		s.deps.Logger.Error("write problem", "error", err)
	}
}

// bearerToken takes the token from the Authorization header, or else from the session cookie; fromCookie
// tells which, because only cookies need CSRF protection.
func bearerToken(ctx huma.Context) (token string, fromCookie bool) {
	if h := ctx.Header("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token), false
		}
		return "", false
	}
	if fc := humafiber.Unwrap(ctx); fc != nil {
		if c := fc.Cookies(SessionCookie); c != "" {
			return c, true
		}
	}
	return "", false
}

func remoteIP(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}

// expandPermission fills {name} placeholders from the request's path parameters.
func expandPermission(perm string, param func(string) string) string {
	for {
		start := strings.IndexByte(perm, '{')
		end := strings.IndexByte(perm, '}')
		if start < 0 || end < start {
			return perm
		}
		// A parameter cannot change the permission's shape: dots and stars become plain characters.
		value := strings.NewReplacer(".", "_", "*", "_").Replace(param(perm[start+1 : end]))
		perm = perm[:start] + value + perm[end+1:]
	}
}
