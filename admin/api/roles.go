package api

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
)

// RoleList is every role, built-in first.
type RoleList struct {
	Items []access.Role `json:"items"`
}

type roleListOutput struct{ Body RoleList }

// PermissionList is the permission catalogue.
type PermissionList struct {
	Items []access.PermissionInfo `json:"items"`
}

type permissionListOutput struct{ Body PermissionList }

type roleNameInput struct {
	Name string `path:"name" maxLength:"40"`
}

type roleOutput struct{ Body access.Role }

// RoleBody is a custom role as clients send it.
type RoleBody struct {
	Description string                       `json:"description,omitempty" maxLength:"2000"`
	Permissions []string                     `json:"permissions" maxItems:"200"`
	Scopes      map[string]access.Scope      `json:"scopes,omitempty" doc:"Entity (or *) to own, team or all; without an entry a role reaches only its holder's own records."`
	Fields      map[string]access.FieldRules `json:"fields,omitempty" doc:"Entity (or *) to hidden and read-only fields."`
}

type createRoleInput struct {
	Body struct {
		Name string `json:"name" pattern:"^[a-z][a-z0-9-]{1,39}$"`
		RoleBody
	}
}

type putRoleInput struct {
	Name string `path:"name" maxLength:"40"`
	Body RoleBody
}

func (s *Server) registerRoles() {
	tags := []string{"roles"}
	read, manage := Access{Permission: access.RolesRead}, Access{Permission: access.RolesManage}
	Register(s, huma.Operation{OperationID: "list-permissions", Method: http.MethodGet, Path: "/api/v1/permissions", Tags: tags,
		Summary: "The permission catalogue"}, read, func(context.Context, *struct{}) (*permissionListOutput, error) {
		return &permissionListOutput{Body: PermissionList{Items: access.Catalogue()}}, nil
	})
	Register(s, huma.Operation{OperationID: "list-roles", Method: http.MethodGet, Path: "/api/v1/roles", Tags: tags,
		Summary: "List roles"}, read, func(context.Context, *struct{}) (*roleListOutput, error) {
		return &roleListOutput{Body: RoleList{Items: s.deps.Access.Roles()}}, nil
	})
	Register(s, huma.Operation{OperationID: "get-role", Method: http.MethodGet, Path: "/api/v1/roles/{name}", Tags: tags,
		Summary: "Get a role", Errors: []int{http.StatusNotFound}}, read, func(_ context.Context, in *roleNameInput) (*roleOutput, error) {
		r, ok := s.deps.Access.Role(in.Name)
		if !ok {
			return nil, NewProblem(http.StatusNotFound, "no role "+in.Name)
		}
		return &roleOutput{Body: r}, nil
	})
	Register(s, huma.Operation{OperationID: "create-role", Method: http.MethodPost, Path: "/api/v1/roles", Tags: tags,
		Summary: "Define a role", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity}}, manage,
		func(ctx context.Context, in *createRoleInput) (*roleOutput, error) {
			r := roleOf(in.Body.Name, in.Body.RoleBody, PrincipalFrom(ctx))
			if err := s.mayDelegate(ctx, r, "the new role"); err != nil {
				return nil, err
			}
			r, err := s.deps.Access.CreateRole(ctx, r)
			if err != nil {
				return nil, roleProblem(err)
			}
			s.record(ctx, audit.Event{Action: audit.RoleCreated, Target: audit.Target{Type: "role", ID: r.Name}, After: r})
			return &roleOutput{Body: r}, nil
		})
	Register(s, huma.Operation{OperationID: "put-role", Method: http.MethodPut, Path: "/api/v1/roles/{name}", Tags: tags,
		Summary: "Change a role", Description: "Replaces a custom role; holders get the new permissions on their next request. Built-in roles, roles the caller holds and roles granting more than the caller holds cannot be changed; the new role may grant only what the caller holds.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}}, manage,
		func(ctx context.Context, in *putRoleInput) (*roleOutput, error) {
			r := roleOf(in.Name, in.Body, PrincipalFrom(ctx))
			if err := s.mayChangeRole(ctx, in.Name); err != nil {
				return nil, err
			}
			if err := s.mayDelegate(ctx, r, "the changed role"); err != nil {
				return nil, err
			}
			before, err := s.deps.Access.UpdateRole(ctx, r)
			if err != nil {
				return nil, roleProblem(err)
			}
			after, _ := s.deps.Access.Role(in.Name)
			s.record(ctx, audit.Event{Action: audit.RoleUpdated, Target: audit.Target{Type: "role", ID: r.Name}, Before: before, After: after})
			return &roleOutput{Body: after}, nil
		})
	Register(s, huma.Operation{OperationID: "delete-role", Method: http.MethodDelete, Path: "/api/v1/roles/{name}", Tags: tags,
		Summary: "Delete a role", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, manage,
		func(ctx context.Context, in *roleNameInput) (*struct{}, error) {
			if err := s.mayChangeRole(ctx, in.Name); err != nil {
				return nil, err
			}
			before, err := s.deps.Access.DeleteRole(ctx, in.Name)
			if err != nil {
				return nil, roleProblem(err)
			}
			s.record(ctx, audit.Event{Action: audit.RoleDeleted, Target: audit.Target{Type: "role", ID: in.Name}, Before: before})
			return nil, nil
		})
}

// mayDelegate refuses (403, listing each excess) a role that would grant more than the caller holds.
func (s *Server) mayDelegate(ctx context.Context, r access.Role, what string) error {
	excess := s.deps.Access.Exceeds(PrincipalFrom(ctx).Subject(), r)
	if len(excess) == 0 {
		return nil
	}
	p := Typed(http.StatusForbidden, "role-exceeds-yours", what+" would grant more than you hold; you cannot hand it out")
	for _, e := range excess {
		p.Errors = append(p.Errors, FieldError{Pointer: "/permissions", Message: e})
	}
	return p
}

// mayChangeRole refuses changing or deleting a built-in role (409), a role the caller holds (403: a role
// manager cannot widen its own access) and a role granting more than the caller (403).
func (s *Server) mayChangeRole(ctx context.Context, name string) error {
	if access.IsBuiltIn(name) {
		return roleProblem(access.ErrBuiltIn)
	}
	p := PrincipalFrom(ctx)
	if slices.Contains(p.User.Roles, name) {
		return Typed(http.StatusForbidden, "own-role", "you hold the role "+name+"; another role manager must change it")
	}
	current, ok := s.deps.Access.Role(name)
	if !ok {
		return roleProblem(access.ErrRoleNotFound)
	}
	return s.mayDelegate(ctx, current, "the role "+name)
}

func roleOf(name string, b RoleBody, p *Principal) access.Role {
	r := access.Role{Name: name, Description: b.Description, Permissions: nonNil(b.Permissions), Scopes: b.Scopes, Fields: b.Fields}
	if p != nil {
		r.UpdatedBy = p.User.ID
	}
	return r
}

func roleProblem(err error) error {
	switch {
	case errors.Is(err, access.ErrBuiltIn):
		return Typed(http.StatusConflict, "built-in-role", err.Error())
	case errors.Is(err, access.ErrRoleExists):
		return Typed(http.StatusConflict, "role-exists", err.Error())
	case errors.Is(err, access.ErrRoleNotFound):
		return NewProblem(http.StatusNotFound, err.Error())
	case errors.Is(err, access.ErrInvalidRole):
		return NewProblem(http.StatusUnprocessableEntity, err.Error())
	}
	return err
}
