package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
)

// UserView is a user as the API shows it: never with password material.
type UserView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	Teams     []string  `json:"teams"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func viewOf(u *identity.User) UserView {
	return UserView{ID: u.ID, Email: u.Email, Name: u.Name, Roles: nonNil(u.Roles), Teams: nonNil(u.Teams),
		Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

type loginInput struct {
	Body struct {
		Email    string `json:"email" minLength:"3" maxLength:"254" doc:"The user's email address."`
		Password string `json:"password" minLength:"1" maxLength:"1024" doc:"The user's password."`
	}
}

// LoginResponse carries the new session's bearer token and the CSRF token cookie requests need.
type LoginResponse struct {
	Token     string    `json:"token" doc:"Send as 'Authorization: Bearer <token>'."`
	CSRFToken string    `json:"csrfToken" doc:"Send as X-CSRF-Token on changes made with the session cookie; also set as the rapport_csrf cookie."`
	ExpiresAt time.Time `json:"expiresAt"`
	User      UserView  `json:"user"`
}

// Both cookies go out as separate Set-Cookie headers; Fiber would join a list into one line.
type loginOutput struct {
	SetCookie  http.Cookie `header:"Set-Cookie"`
	CSRFCookie http.Cookie `header:"Set-Cookie"`
	Body       LoginResponse
}

// MeView is the caller's own profile with the permissions it holds through this credential.
type MeView struct {
	UserView
	Permissions []string `json:"permissions" doc:"Granted permissions (patterns); an API token narrows them to its scopes."`
	Via         string   `json:"via" doc:"session or token:<id>."`
}

type meOutput struct {
	Body MeView
}

type logoutOutput struct {
	SetCookie  http.Cookie `header:"Set-Cookie"`
	CSRFCookie http.Cookie `header:"Set-Cookie"`
}

type passwordInput struct {
	Body struct {
		Current  string `json:"current" minLength:"1" maxLength:"1024" doc:"The current password."`
		Password string `json:"password" minLength:"8" maxLength:"1024" doc:"The new password."`
	}
}

func (s *Server) registerAuth() {
	Register(s, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login", Tags: []string{"auth"},
		Summary:     "Log in",
		Description: "Checks an email and password and starts a session: the token is returned once and also set as an HttpOnly cookie, with a CSRF token for cookie-authenticated changes. Repeated failures for an account or from an address are answered with 429.",
		Errors:      []int{http.StatusUnauthorized, http.StatusTooManyRequests},
	}, Access{Public: true}, s.login)
	Register(s, huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/api/v1/auth/me", Tags: []string{"auth"},
		Summary: "The current user",
	}, Access{Permission: PermAuthenticated}, func(ctx context.Context, _ *struct{}) (*meOutput, error) {
		p := PrincipalFrom(ctx)
		perms := s.deps.Access.Permissions(p.User.Roles)
		if sub := p.Subject(); sub.Scopes != nil {
			// A token holds the scopes its owner still holds.
			owner := &Principal{User: p.User}
			perms = slices.DeleteFunc(slices.Clone(sub.Scopes), func(scope string) bool { return !s.covers(owner, scope) })
		}
		return &meOutput{Body: MeView{UserView: viewOf(p.User), Permissions: nonNil(perms), Via: p.Via()}}, nil
	})
	Register(s, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout", Tags: []string{"auth"},
		Summary: "Log out", Description: "Revokes the session the request was made with.", DefaultStatus: http.StatusNoContent,
	}, Access{Permission: PermAuthenticated}, s.logout)
	Register(s, huma.Operation{
		OperationID: "change-password", Method: http.MethodPost, Path: "/api/v1/auth/password", Tags: []string{"auth"},
		Summary:       "Change one's own password",
		Description:   "Checks the current password, sets the new one and revokes every other session and every API token of the user.",
		DefaultStatus: http.StatusNoContent,
	}, Access{Permission: PermAuthenticated}, s.changePassword)
}

func (s *Server) login(ctx context.Context, in *loginInput) (*loginOutput, error) {
	client := ClientFrom(ctx)
	email := identity.NormalizeEmail(in.Body.Email)
	target := audit.Target{Type: "user", Name: email}
	attempt, err := s.deps.Users.BeginLogin(ctx, email, client.IP)
	if err != nil {
		return nil, loginRefused(err)
	}
	user, err := s.deps.Users.Authenticate(ctx, email, in.Body.Password)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		s.deps.Logger.Info("login failed", "email", email, "ip", client.IP, "requestId", client.RequestID)
		s.record(ctx, audit.Event{Action: audit.LoginFailed, Outcome: audit.OutcomeFailure, Actor: audit.Actor{Email: email}, Target: target})
		s.auditLock(ctx, email, target, attempt.Failed())
		return nil, Typed(http.StatusUnauthorized, "invalid-credentials", "the email or password is wrong")
	}
	if err != nil {
		attempt.Abandon(ctx)
		return nil, err
	}
	if err := attempt.Succeeded(ctx); err != nil {
		return nil, err
	}
	token, sess, err := s.deps.Users.CreateSession(ctx, user.ID, s.deps.SessionTTL)
	if err != nil {
		return nil, err
	}
	s.deps.Logger.Info("login", "userId", user.ID, "ip", client.IP, "requestId", client.RequestID)
	target.ID = user.ID
	s.record(ctx, audit.Event{Action: audit.LoginSucceeded, Actor: audit.Actor{ID: user.ID, Email: user.Email, Via: identity.KindSession}, Target: target})
	return &loginOutput{
		SetCookie: s.sessionCookie(token, sess.ExpiresAt), CSRFCookie: s.csrfCookie(sess.CSRF, sess.ExpiresAt),
		Body: LoginResponse{Token: token, CSRFToken: sess.CSRF, ExpiresAt: sess.ExpiresAt, User: viewOf(user)},
	}, nil
}

// auditLock records a lockout once, by the failure that filled a limit.
func (s *Server) auditLock(ctx context.Context, email string, target audit.Target, locked []string) {
	if len(locked) == 0 {
		return
	}
	s.record(ctx, audit.Event{Action: audit.LoginLocked, Outcome: audit.OutcomeDenied, Actor: audit.Actor{Email: email}, Target: target,
		Details: map[string]any{"window": identity.LoginWindow.String(), "limits": locked,
			"pairLimit": identity.PairMaxFailures, "addressLimit": identity.AddressMaxFailures, "accountLimit": identity.AccountMaxFailures}})
}

func (s *Server) logout(ctx context.Context, _ *struct{}) (*logoutOutput, error) {
	p := PrincipalFrom(ctx)
	if p.Credential != nil && p.Credential.Kind == identity.KindSession {
		if err := s.deps.Users.RevokeSession(ctx, p.Token); err != nil {
			return nil, err
		}
		s.record(ctx, audit.Event{Action: audit.Logout, Target: audit.Target{Type: "user", ID: p.User.ID, Name: p.User.Email}})
	}
	return &logoutOutput{SetCookie: s.sessionCookie("", time.Unix(0, 0)), CSRFCookie: s.csrfCookie("", time.Unix(0, 0))}, nil
}

func (s *Server) changePassword(ctx context.Context, in *passwordInput) (*struct{}, error) {
	p := PrincipalFrom(ctx)
	keep := ""
	if p.Credential != nil && p.Credential.Kind == identity.KindSession {
		keep = p.Token
	}
	target := audit.Target{Type: "user", ID: p.User.ID, Name: p.User.Email}
	// Guessing the current password here counts against the same limits as logging in.
	attempt, err := s.deps.Users.BeginLogin(ctx, p.User.Email, ClientFrom(ctx).IP)
	if err != nil {
		return nil, loginRefused(err)
	}
	err = s.deps.Users.ChangePassword(ctx, p.User.ID, in.Body.Current, in.Body.Password, keep)
	switch {
	case errors.Is(err, identity.ErrInvalidCredentials):
		s.auditLock(ctx, p.User.Email, target, attempt.Failed())
		s.record(ctx, audit.Event{Action: audit.PasswordChanged, Outcome: audit.OutcomeFailure, Target: target})
		return nil, Typed(http.StatusUnprocessableEntity, "wrong-password", "the current password is wrong")
	case errors.Is(err, identity.ErrInvalid):
		attempt.Abandon(ctx)
		return nil, NewProblem(http.StatusUnprocessableEntity, err.Error())
	case err != nil:
		attempt.Abandon(ctx)
		return nil, err
	}
	if err := attempt.Succeeded(ctx); err != nil {
		return nil, err
	}
	s.record(ctx, audit.Event{Action: audit.PasswordChanged, Target: target, Details: map[string]any{"otherSessionsRevoked": true, "apiTokensRevoked": true}})
	return nil, nil
}

// sessionCookie is HttpOnly (no script can read it) and SameSite=Strict (no other site can send it).
func (s *Server) sessionCookie(token string, expires time.Time) http.Cookie {
	return http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Expires: expires.UTC(),
		HttpOnly: true, Secure: s.deps.SecureCookies, SameSite: http.SameSiteStrictMode,
	}
}

// loginRefused answers a refused login attempt: 429 with Retry-After when a limit is reached.
func loginRefused(err error) error {
	le, ok := identity.IsLocked(err)
	if !ok {
		return err
	}
	secs := int(le.RetryAfter.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return Typed(http.StatusTooManyRequests, "login-locked",
		"too many failed logins; try again in "+strconv.Itoa(secs)+" seconds").WithHeader("Retry-After", strconv.Itoa(secs))
}
