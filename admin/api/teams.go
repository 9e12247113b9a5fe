package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/identity"
)

// TeamList is every team.
type TeamList struct {
	Items []identity.Team `json:"items"`
}

type teamListOutput struct{ Body TeamList }

type teamIDInput struct {
	ID string `path:"id" maxLength:"40"`
}

type teamOutput struct{ Body identity.Team }

type createTeamInput struct {
	Body struct {
		ID          string `json:"id" pattern:"^[a-z][a-z0-9-]{1,39}$" doc:"Short identifier stored in records' team field."`
		Name        string `json:"name" minLength:"1" maxLength:"200"`
		Description string `json:"description,omitempty" maxLength:"2000"`
	}
}

type updateTeamInput struct {
	ID   string `path:"id" maxLength:"40"`
	Body struct {
		Name        string `json:"name" minLength:"1" maxLength:"200"`
		Description string `json:"description,omitempty" maxLength:"2000"`
	}
}

func (s *Server) registerTeams() {
	tags := []string{"teams"}
	perm := Access{Permission: access.UsersManage}
	Register(s, huma.Operation{OperationID: "list-teams", Method: http.MethodGet, Path: "/api/v1/teams", Tags: tags,
		Summary: "List teams"}, perm, func(ctx context.Context, _ *struct{}) (*teamListOutput, error) {
		teams, err := s.deps.Users.Teams(ctx)
		if err != nil {
			return nil, err
		}
		return &teamListOutput{Body: TeamList{Items: teams}}, nil
	})
	Register(s, huma.Operation{OperationID: "create-team", Method: http.MethodPost, Path: "/api/v1/teams", Tags: tags,
		Summary: "Create a team", DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}}, perm,
		func(ctx context.Context, in *createTeamInput) (*teamOutput, error) {
			t, err := s.deps.Users.CreateTeam(ctx, identity.Team{ID: in.Body.ID, Name: in.Body.Name, Description: in.Body.Description})
			if err != nil {
				return nil, identityProblem(err)
			}
			s.record(ctx, audit.Event{Action: audit.TeamCreated, Target: audit.Target{Type: "team", ID: t.ID, Name: t.Name}, After: t})
			return &teamOutput{Body: *t}, nil
		})
	Register(s, huma.Operation{OperationID: "get-team", Method: http.MethodGet, Path: "/api/v1/teams/{id}", Tags: tags,
		Summary: "Get a team", Errors: []int{http.StatusNotFound}}, perm,
		func(ctx context.Context, in *teamIDInput) (*teamOutput, error) {
			t, err := s.deps.Users.Team(ctx, in.ID)
			if err != nil {
				return nil, identityProblem(err)
			}
			return &teamOutput{Body: *t}, nil
		})
	Register(s, huma.Operation{OperationID: "update-team", Method: http.MethodPatch, Path: "/api/v1/teams/{id}", Tags: tags,
		Summary: "Rename a team", Errors: []int{http.StatusNotFound}}, perm,
		func(ctx context.Context, in *updateTeamInput) (*teamOutput, error) {
			before, after, err := s.deps.Users.UpdateTeam(ctx, in.ID, in.Body.Name, in.Body.Description)
			if err != nil {
				return nil, identityProblem(err)
			}
			s.record(ctx, audit.Event{Action: audit.TeamUpdated, Target: audit.Target{Type: "team", ID: after.ID, Name: after.Name}, Before: before, After: after})
			return &teamOutput{Body: *after}, nil
		})
	Register(s, huma.Operation{OperationID: "delete-team", Method: http.MethodDelete, Path: "/api/v1/teams/{id}", Tags: tags,
		Summary: "Delete a team without members", DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, perm,
		func(ctx context.Context, in *teamIDInput) (*struct{}, error) {
			before, err := s.deps.Users.DeleteTeam(ctx, in.ID)
			if err != nil {
				return nil, identityProblem(err)
			}
			s.record(ctx, audit.Event{Action: audit.TeamDeleted, Target: audit.Target{Type: "team", ID: before.ID, Name: before.Name}, Before: before})
			return nil, nil
		})
}
