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

	"github.com/rapportcrm/rapport/engine/identity"
)

// SessionCookie is the name of the browser's session cookie.
const SessionCookie = "rapport_session"

// PermAuthenticated is the permission every logged-in user holds (their own profile, logging out).
const PermAuthenticated = "authenticated"

// Access is the access decision attached to an operation. Exactly one of Public or Permission is set.
type Access struct {
	// Public operations need no login: health checks, login itself, the API description.
	Public bool
	// Permission names what the caller must hold, e.g. "schemas.write". A {name} placeholder is replaced
	// by that path parameter, so "records.{entity}.read" on /api/v1/records/{entity} checks
	// "records.lead.read" for a lead.
	Permission string
}

// Policy decides whether a user holds a permission. The roles and permissions model plugs in here.
type Policy interface {
	Allows(u *identity.User, permission string) bool
}

// AdminOnly is the policy until roles exist: administrators hold every permission, other users only
// PermAuthenticated.
type AdminOnly struct{}

// Allows implements Policy.
func (AdminOnly) Allows(u *identity.User, permission string) bool {
	return permission == PermAuthenticated || slices.Contains(u.Roles, identity.RoleAdmin)
}

// Principal is the authenticated caller of a request.
type Principal struct {
	User  *identity.User
	Token string
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
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	}
	huma.Register(s.api, op, handler)
}

// authenticate resolves the caller and enforces the operation's access decision before any handler runs.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	client := Client{IP: remoteIP(ctx.RemoteAddr()), RequestID: requestIDOf(ctx)}
	ctx = huma.WithValue(ctx, clientKey{}, client)
	access, ok := ctx.Operation().Metadata["access"].(Access)
	if !ok {
		// Only Register adds operations; anything else is refused rather than served unguarded.
		s.reject(ctx, NewProblem(http.StatusForbidden, "operation has no access policy"))
		return
	}
	token := bearerToken(ctx)
	if token == "" {
		if access.Public {
			next(ctx)
			return
		}
		s.reject(ctx, NewProblem(http.StatusUnauthorized, "authentication required: log in and send the token as a Bearer token").
			WithHeader("WWW-Authenticate", `Bearer realm="rapport"`))
		return
	}
	user, _, err := s.deps.Users.SessionUser(ctx.Context(), token)
	if err != nil {
		if access.Public {
			next(ctx)
			return
		}
		if !errors.Is(err, identity.ErrUnauthenticated) {
			s.deps.Logger.Error("resolve session", "requestId", client.RequestID, "error", err)
			s.reject(ctx, NewProblem(http.StatusServiceUnavailable, "cannot check the session right now"))
			return
		}
		s.reject(ctx, NewProblem(http.StatusUnauthorized, "the token is invalid, expired or revoked").
			WithHeader("WWW-Authenticate", `Bearer realm="rapport", error="invalid_token"`))
		return
	}
	if perm := expandPermission(access.Permission, ctx.Param); !access.Public && !s.deps.Policy.Allows(user, perm) {
		s.reject(ctx, NewProblem(http.StatusForbidden, "you lack the permission "+perm))
		return
	}
	next(huma.WithValue(ctx, principalKey{}, &Principal{User: user, Token: token}))
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

// bearerToken takes the token from the Authorization header, or else from the session cookie.
func bearerToken(ctx huma.Context) string {
	if h := ctx.Header("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	if fc := humafiber.Unwrap(ctx); fc != nil {
		return fc.Cookies(SessionCookie)
	}
	return ""
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
		perm = perm[:start] + param(perm[start+1:end]) + perm[end+1:]
	}
}
