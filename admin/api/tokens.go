package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
)

type tokenListInput struct {
	User string `query:"user" maxLength:"64" doc:"Another user's ID (needs users.manage); the caller's own tokens by default."`
}

// TokenList is a user's API tokens, newest first; secrets are never shown again.
type TokenList struct {
	Items []identity.APIToken `json:"items"`
}

type tokenListOutput struct{ Body TokenList }

type createTokenInput struct {
	Body struct {
		Name          string   `json:"name" minLength:"1" maxLength:"100"`
		Scopes        []string `json:"scopes" minItems:"1" maxItems:"100" doc:"Permissions the token may use, each covered by the creator's (and the owner's) own."`
		ExpiresInDays int      `json:"expiresInDays,omitempty" minimum:"1" maximum:"366" default:"90"`
		User          string   `json:"user,omitempty" maxLength:"64" doc:"An integration user's ID, to create a token for it (needs users.manage)."`
	}
}

// CreatedToken is a new API token with its secret, shown only in this response.
type CreatedToken struct {
	Token  string            `json:"token" doc:"The secret; send as 'Authorization: Bearer <token>'. It is not shown again."`
	Detail identity.APIToken `json:"detail"`
}

type createTokenOutput struct{ Body CreatedToken }

type tokenIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) registerTokens() {
	tags := []string{"tokens"}
	Register(s, huma.Operation{OperationID: "list-tokens", Method: http.MethodGet, Path: "/api/v1/tokens", Tags: tags,
		Summary: "List API tokens"}, Access{Permission: PermAuthenticated}, s.listTokens)
	Register(s, huma.Operation{OperationID: "create-token", Method: http.MethodPost, Path: "/api/v1/tokens", Tags: tags,
		Summary: "Create an API token",
		Description: "Creates a token for the caller, or for an integration user (needs users.manage). Its scopes must be covered by the " +
			"creator's permissions; the token then holds its scopes intersected with its owner's current permissions.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusUnprocessableEntity}}, Access{Permission: access.TokensCreate}, s.createToken)
	Register(s, huma.Operation{OperationID: "revoke-token", Method: http.MethodDelete, Path: "/api/v1/tokens/{id}", Tags: tags,
		Summary: "Revoke an API token", Description: "Revokes one of the caller's tokens, or any token with users.manage. It stops working at once.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound}}, Access{Permission: PermAuthenticated}, s.revokeToken)
}

func (s *Server) listTokens(ctx context.Context, in *tokenListInput) (*tokenListOutput, error) {
	p := PrincipalFrom(ctx)
	owner := p.User.ID
	if in.User != "" && in.User != owner {
		if !s.allows(p, access.UsersManage) {
			return nil, NewProblem(http.StatusForbidden, "listing another user's tokens needs the permission "+access.UsersManage)
		}
		owner = in.User
	}
	tokens, err := s.deps.Users.APITokens(ctx, owner)
	if err != nil {
		return nil, err
	}
	return &tokenListOutput{Body: TokenList{Items: tokens}}, nil
}

// covers reports whether a principal may delegate scope: its roles grant it and, when it acts through a
// token, the token's scopes cover it too.
func (s *Server) covers(p *Principal, scope string) bool {
	if !slices.ContainsFunc(s.deps.Access.Permissions(p.User.Roles), func(g string) bool { return access.Match(g, scope) }) {
		return false
	}
	if sub := p.Subject(); sub.Scopes != nil {
		return slices.ContainsFunc(sub.Scopes, func(g string) bool { return access.Match(g, scope) })
	}
	return true
}

func (s *Server) createToken(ctx context.Context, in *createTokenInput) (*createTokenOutput, error) {
	p := PrincipalFrom(ctx)
	owner := p.User
	if in.Body.User != "" && in.Body.User != p.User.ID {
		if !s.allows(p, access.UsersManage) {
			return nil, NewProblem(http.StatusForbidden, "creating a token for another user needs the permission "+access.UsersManage)
		}
		u, err := s.deps.Users.User(ctx, in.Body.User)
		if err != nil {
			return nil, identityProblem(err)
		}
		if err := s.mayManage(ctx, u); err != nil {
			return nil, err
		}
		if !slices.Contains(u.Roles, access.RoleIntegration) {
			return nil, huma.Error422UnprocessableEntity("tokens can be created for other users only when they hold the integration role",
				&huma.ErrorDetail{Location: "body.user", Message: "not an integration user", Value: in.Body.User})
		}
		owner = u
	}
	ownerPrincipal := &Principal{User: owner}
	var errs []error
	for i, scope := range in.Body.Scopes {
		loc := "body.scopes[" + strconv.Itoa(i) + "]"
		switch {
		case access.ValidateGrant(scope) != nil:
			errs = append(errs, &huma.ErrorDetail{Location: loc, Message: access.ValidateGrant(scope).Error(), Value: scope})
		case !s.covers(p, scope):
			errs = append(errs, &huma.ErrorDetail{Location: loc, Message: "wider than your own permissions", Value: scope})
		case !s.covers(ownerPrincipal, scope):
			errs = append(errs, &huma.ErrorDetail{Location: loc, Message: "wider than the owner's permissions", Value: scope})
		}
	}
	if len(errs) > 0 {
		return nil, huma.Error422UnprocessableEntity("the token's scopes must be covered by your permissions", errs...)
	}
	days := in.Body.ExpiresInDays
	if days <= 0 {
		days = 90
	}
	secret, t, err := s.deps.Users.CreateAPIToken(ctx, identity.NewAPIToken{
		UserID: owner.ID, Name: strings.TrimSpace(in.Body.Name), Scopes: in.Body.Scopes, CreatedBy: p.User.ID,
		TTL: time.Duration(days) * 24 * time.Hour,
	})
	if err != nil {
		return nil, identityProblem(err)
	}
	s.record(ctx, audit.Event{Action: audit.TokenCreated, Target: audit.Target{Type: "token", ID: t.ID, Name: t.Name},
		After: t, Details: map[string]any{"owner": owner.ID}})
	return &createTokenOutput{Body: CreatedToken{Token: secret, Detail: *t}}, nil
}

func (s *Server) revokeToken(ctx context.Context, in *tokenIDInput) (*struct{}, error) {
	p := PrincipalFrom(ctx)
	t, err := s.deps.Users.APIToken(ctx, in.ID)
	if err != nil {
		return nil, identityProblem(err)
	}
	if t.UserID != p.User.ID && !s.allows(p, access.UsersManage) {
		// Someone else's token: its existence is not revealed.
		return nil, NewProblem(http.StatusNotFound, "not found")
	}
	if err := s.deps.Users.RevokeAPIToken(ctx, t.ID); err != nil {
		return nil, identityProblem(err)
	}
	s.record(ctx, audit.Event{Action: audit.TokenRevoked, Target: audit.Target{Type: "token", ID: t.ID, Name: t.Name},
		Details: map[string]any{"owner": t.UserID}})
	return nil, nil
}
