package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
)

type userListInput struct {
	Role  string `query:"role" maxLength:"40" doc:"Only users holding this role."`
	Team  string `query:"team" maxLength:"40" doc:"Only members of this team."`
	After string `query:"cursor" maxLength:"254" doc:"The next value of the previous page."`
	Limit int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

// UserPage is one page of users ordered by email.
type UserPage struct {
	Items []UserView `json:"items"`
	Next  string     `json:"next,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type userPageOutput struct{ Body UserPage }

type userIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type userOutput struct{ Body UserView }

type createUserInput struct {
	Body struct {
		Email    string   `json:"email" minLength:"3" maxLength:"254" format:"email"`
		Name     string   `json:"name,omitempty" maxLength:"200"`
		Roles    []string `json:"roles,omitempty" maxItems:"20"`
		Teams    []string `json:"teams,omitempty" maxItems:"50"`
		Password string   `json:"password,omitempty" minLength:"8" maxLength:"1024" doc:"Leave out to generate one, returned once."`
	}
}

// CreatedUser is a new user and, when the server generated it, the one-time password to hand over.
type CreatedUser struct {
	User     UserView `json:"user"`
	Password string   `json:"password,omitempty" doc:"The generated password, shown only in this response."`
}

type createUserOutput struct{ Body CreatedUser }

type updateUserInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Name     *string   `json:"name,omitempty" maxLength:"200"`
		Roles    *[]string `json:"roles,omitempty" maxItems:"20"`
		Teams    *[]string `json:"teams,omitempty" maxItems:"50"`
		Disabled *bool     `json:"disabled,omitempty"`
	}
}

type resetPasswordInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Password string `json:"password,omitempty" minLength:"8" maxLength:"1024" doc:"Leave out to generate one, returned once."`
	}
}

// PasswordReset carries a generated password, shown once.
type PasswordReset struct {
	Password string `json:"password,omitempty"`
}

type resetPasswordOutput struct{ Body PasswordReset }

func (s *Server) registerUsers() {
	tags := []string{"users"}
	perm := Access{Permission: access.UsersManage}
	Register(s, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: "/api/v1/users", Tags: tags,
		Summary: "List users"}, perm, s.listUsers)
	Register(s, huma.Operation{OperationID: "create-user", Method: http.MethodPost, Path: "/api/v1/users", Tags: tags,
		Summary: "Invite a user", Description: "Creates a user with roles and teams; without a password one is generated and returned once.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}}, perm, s.createUser)
	Register(s, huma.Operation{OperationID: "get-user", Method: http.MethodGet, Path: "/api/v1/users/{id}", Tags: tags,
		Summary: "Get a user", Errors: []int{http.StatusNotFound}}, perm, func(ctx context.Context, in *userIDInput) (*userOutput, error) {
		u, err := s.deps.Users.User(ctx, in.ID)
		if err != nil {
			return nil, identityProblem(err)
		}
		return &userOutput{Body: viewOf(u)}, nil
	})
	Register(s, huma.Operation{OperationID: "update-user", Method: http.MethodPatch, Path: "/api/v1/users/{id}", Tags: tags,
		Summary: "Change a user", Description: "Changes name, roles, teams or the disabled flag. Disabling revokes the user's sessions and API tokens (enabling the user again does not bring them back). A change that would leave no enabled administrator is refused with 409.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}}, perm, s.updateUser)
	Register(s, huma.Operation{OperationID: "reset-password", Method: http.MethodPost, Path: "/api/v1/users/{id}/password", Tags: tags,
		Summary: "Reset a user's password", Description: "Sets (or generates, returned once) a new password and revokes all of the user's sessions and API tokens.",
		Errors: []int{http.StatusNotFound}}, perm, s.resetPassword)
}

func (s *Server) listUsers(ctx context.Context, in *userListInput) (*userPageOutput, error) {
	users, err := s.deps.Users.ListUsers(ctx, identity.UserQuery{Role: in.Role, Team: in.Team, After: in.After, Limit: in.Limit + 1})
	if err != nil {
		return nil, err
	}
	page := UserPage{Items: []UserView{}}
	if len(users) > in.Limit {
		users = users[:in.Limit]
		page.Next = users[len(users)-1].Email
	}
	for i := range users {
		page.Items = append(page.Items, viewOf(&users[i]))
	}
	return &userPageOutput{Body: page}, nil
}

// exceeding returns what the roles would give beyond what p holds itself (permissions, record scopes,
// visible and writable fields), empty when nothing. Nobody can hand out, or take over an account with,
// more than they hold: a helpdesk role with users.manage cannot make itself admin or reset an
// administrator's password.
func (s *Server) exceeding(p *Principal, roles []string) []string {
	var out []string
	for _, name := range roles {
		if r, ok := s.deps.Access.Role(name); ok {
			out = append(out, s.deps.Access.Exceeds(p.Subject(), r)...)
		}
	}
	return out
}

// mayManage refuses (403) changes to a user whose roles hold more than the caller.
func (s *Server) mayManage(ctx context.Context, target *identity.User) error {
	if excess := s.exceeding(PrincipalFrom(ctx), target.Roles); len(excess) > 0 {
		return NewProblem(http.StatusForbidden, "this user holds "+excess[0]+", which you lack")
	}
	return nil
}

// checkAssignment refuses unknown roles and teams with 422 naming them, and roles holding more than the
// caller with 403.
func (s *Server) checkAssignment(ctx context.Context, roles, teams []string) error {
	var errs []*huma.ErrorDetail
	if err := s.deps.Access.CheckRoles(roles); err != nil {
		errs = append(errs, &huma.ErrorDetail{Location: "body.roles", Message: err.Error(), Value: roles})
	} else if excess := s.exceeding(PrincipalFrom(ctx), roles); len(excess) > 0 {
		return NewProblem(http.StatusForbidden, "these roles grant "+excess[0]+", which you lack; you cannot hand it out")
	}
	if err := s.deps.Users.CheckTeams(ctx, teams); err != nil {
		if !errors.Is(err, identity.ErrNotFound) {
			return err
		}
		errs = append(errs, &huma.ErrorDetail{Location: "body.teams", Message: err.Error(), Value: teams})
	}
	if len(errs) > 0 {
		return huma.Error422UnprocessableEntity("unknown roles or teams", asErrors(errs)...)
	}
	return nil
}

func asErrors(ds []*huma.ErrorDetail) []error {
	out := make([]error, len(ds))
	for i, d := range ds {
		out[i] = d
	}
	return out
}

func (s *Server) createUser(ctx context.Context, in *createUserInput) (*createUserOutput, error) {
	if err := s.checkAssignment(ctx, in.Body.Roles, in.Body.Teams); err != nil {
		return nil, err
	}
	password, generated := in.Body.Password, ""
	if password == "" {
		var err error
		if password, err = identity.GeneratePassword(); err != nil {
			return nil, err
		}
		generated = password
	}
	u, err := s.deps.Users.CreateUser(ctx, identity.NewUser{Email: in.Body.Email, Name: in.Body.Name, Password: password,
		Roles: nonNil(in.Body.Roles), Teams: nonNil(in.Body.Teams)})
	if err != nil {
		return nil, identityProblem(err)
	}
	view := viewOf(u)
	s.record(ctx, audit.Event{Action: audit.UserCreated, Target: audit.Target{Type: "user", ID: u.ID, Name: u.Email}, After: view})
	return &createUserOutput{Body: CreatedUser{User: view, Password: generated}}, nil
}

func (s *Server) updateUser(ctx context.Context, in *updateUserInput) (*userOutput, error) {
	b := in.Body
	var roles, teams []string
	if b.Roles != nil {
		roles = *b.Roles
	}
	if b.Teams != nil {
		teams = *b.Teams
	}
	if err := s.checkAssignment(ctx, roles, teams); err != nil {
		return nil, err
	}
	current, err := s.deps.Users.User(ctx, in.ID)
	if err != nil {
		return nil, identityProblem(err)
	}
	if err := s.mayManage(ctx, current); err != nil {
		return nil, err
	}
	before, after, err := s.deps.Users.UpdateUser(ctx, in.ID, identity.UserChange{Name: b.Name, Roles: b.Roles, Teams: b.Teams, Disabled: b.Disabled})
	if err != nil {
		return nil, identityProblem(err)
	}
	view := viewOf(after)
	s.record(ctx, audit.Event{Action: audit.UserUpdated, Target: audit.Target{Type: "user", ID: after.ID, Name: after.Email},
		Before: viewOf(before), After: view})
	return &userOutput{Body: view}, nil
}

func (s *Server) resetPassword(ctx context.Context, in *resetPasswordInput) (*resetPasswordOutput, error) {
	u, err := s.deps.Users.User(ctx, in.ID)
	if err != nil {
		return nil, identityProblem(err)
	}
	if err := s.mayManage(ctx, u); err != nil {
		return nil, err
	}
	password, generated := in.Body.Password, ""
	if password == "" {
		if password, err = identity.GeneratePassword(); err != nil {
			return nil, err
		}
		generated = password
	}
	if err := s.deps.Users.SetPassword(ctx, u.ID, password, ""); err != nil {
		return nil, identityProblem(err)
	}
	s.record(ctx, audit.Event{Action: audit.UserPasswordSet, Target: audit.Target{Type: "user", ID: u.ID, Name: u.Email},
		Details: map[string]any{"generated": generated != "", "sessionsRevoked": true}})
	return &resetPasswordOutput{Body: PasswordReset{Password: generated}}, nil
}

// identityProblem maps the identity store's errors to problems.
func identityProblem(err error) error {
	switch {
	case errors.Is(err, identity.ErrNotFound):
		return NewProblem(http.StatusNotFound, "not found")
	case errors.Is(err, identity.ErrEmailTaken):
		return Typed(http.StatusConflict, "email-taken", "another user has this email")
	case errors.Is(err, identity.ErrTeamExists):
		return Typed(http.StatusConflict, "team-exists", err.Error())
	case errors.Is(err, identity.ErrTeamInUse):
		return Typed(http.StatusConflict, "team-in-use", err.Error())
	case errors.Is(err, identity.ErrInvalid):
		return NewProblem(http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, identity.ErrLastAdmin):
		return Typed(http.StatusConflict, "last-admin", "this change would leave no enabled administrator")
	}
	return err
}
