package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/identity"
)

// UserView is a user as the API shows it: never with password material.
type UserView struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"createdAt"`
}

func viewOf(u *identity.User) UserView {
	return UserView{ID: u.ID, Email: u.Email, Name: u.Name, Roles: u.Roles, CreatedAt: u.CreatedAt}
}

type loginInput struct {
	Body struct {
		Email    string `json:"email" minLength:"3" maxLength:"254" doc:"The user's email address."`
		Password string `json:"password" minLength:"1" maxLength:"1024" doc:"The user's password."`
	}
}

// LoginResponse carries the new session's bearer token.
type LoginResponse struct {
	Token     string    `json:"token" doc:"Send as 'Authorization: Bearer <token>'."`
	ExpiresAt time.Time `json:"expiresAt"`
	User      UserView  `json:"user"`
}

type loginOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      LoginResponse
}

type meOutput struct {
	Body UserView
}

type logoutOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

func (s *Server) registerAuth() {
	Register(s, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login", Tags: []string{"auth"},
		Summary:     "Log in",
		Description: "Checks an email and password and starts a session: the token is returned once and also set as an HttpOnly cookie. Repeated failures for an account or from an address are answered with 429.",
		Errors:      []int{http.StatusUnauthorized, http.StatusTooManyRequests},
	}, Access{Public: true}, s.login)
	Register(s, huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/api/v1/auth/me", Tags: []string{"auth"},
		Summary: "The current user",
	}, Access{Permission: PermAuthenticated}, func(ctx context.Context, _ *struct{}) (*meOutput, error) {
		return &meOutput{Body: viewOf(PrincipalFrom(ctx).User)}, nil
	})
	Register(s, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout", Tags: []string{"auth"},
		Summary: "Log out", Description: "Revokes the session the request was made with.", DefaultStatus: http.StatusNoContent,
	}, Access{Permission: PermAuthenticated}, s.logout)
}

func (s *Server) login(ctx context.Context, in *loginInput) (*loginOutput, error) {
	client := ClientFrom(ctx)
	email := identity.NormalizeEmail(in.Body.Email)
	if wait := s.limiter.blockedFor(email, client.IP); wait > 0 {
		return nil, tooManyAttempts(wait)
	}
	user, err := s.deps.Users.Authenticate(ctx, email, in.Body.Password)
	if errors.Is(err, identity.ErrInvalidCredentials) {
		s.deps.Logger.Info("login failed", "email", email, "ip", client.IP, "requestId", client.RequestID)
		s.limiter.fail(email, client.IP)
		return nil, Typed(http.StatusUnauthorized, "invalid-credentials", "the email or password is wrong")
	}
	if err != nil {
		return nil, err
	}
	s.limiter.succeed(email)
	token, sess, err := s.deps.Users.CreateSession(ctx, user.ID, s.deps.SessionTTL)
	if err != nil {
		return nil, err
	}
	s.deps.Logger.Info("login", "userId", user.ID, "ip", client.IP, "requestId", client.RequestID)
	return &loginOutput{
		SetCookie: s.sessionCookie(token, sess.ExpiresAt),
		Body:      LoginResponse{Token: token, ExpiresAt: sess.ExpiresAt, User: viewOf(user)},
	}, nil
}

func (s *Server) logout(ctx context.Context, _ *struct{}) (*logoutOutput, error) {
	if err := s.deps.Users.RevokeSession(ctx, PrincipalFrom(ctx).Token); err != nil {
		return nil, err
	}
	return &logoutOutput{SetCookie: s.sessionCookie("", time.Unix(0, 0))}, nil
}

// sessionCookie is HttpOnly (no script can read it) and SameSite=Strict (no other site can send it).
func (s *Server) sessionCookie(token string, expires time.Time) http.Cookie {
	return http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Expires: expires.UTC(),
		HttpOnly: true, Secure: s.deps.SecureCookies, SameSite: http.SameSiteStrictMode,
	}
}

func tooManyAttempts(wait time.Duration) *Problem {
	secs := int(wait.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return Typed(http.StatusTooManyRequests, "login-locked",
		"too many failed logins; try again in "+strconv.Itoa(secs)+" seconds").WithHeader("Retry-After", strconv.Itoa(secs))
}
