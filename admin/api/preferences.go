package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/identity"
)

type preferenceInput struct {
	Key string `path:"key" maxLength:"100" doc:"The preference, e.g. views.lead (a list's saved views) or columns.lead."`
}

type preferenceBody struct {
	Value json.RawMessage `json:"value" doc:"Any JSON value, at most 64 KiB."`
}

type preferenceOutput struct {
	Body preferenceBody
}

type setPreferenceInput struct {
	Key  string `path:"key" maxLength:"100" doc:"The preference, e.g. views.lead (a list's saved views) or columns.lead."`
	Body preferenceBody
}

// registerPreferences serves the caller's own preferences: what they set up in the web app (a list's
// columns and saved views) follows them to every browser. Everyone signed in keeps their own; nobody
// reads another's.
func (s *Server) registerPreferences() {
	tags := []string{"auth"}
	const path = "/api/v1/auth/me/preferences/{key}"
	Register(s, huma.Operation{OperationID: "get-preference", Method: http.MethodGet, Path: path, Tags: tags,
		Summary: "One of the caller's preferences", Errors: []int{http.StatusNotFound}},
		Access{Permission: PermAuthenticated}, func(ctx context.Context, in *preferenceInput) (*preferenceOutput, error) {
			v, err := s.deps.Users.Preference(ctx, PrincipalFrom(ctx).User.ID, in.Key)
			if err != nil {
				return nil, preferenceError(err)
			}
			return &preferenceOutput{Body: preferenceBody{Value: v}}, nil
		})
	Register(s, huma.Operation{OperationID: "set-preference", Method: http.MethodPut, Path: path, Tags: tags,
		Summary: "Store one of the caller's preferences", Errors: []int{http.StatusUnprocessableEntity}},
		Access{Permission: PermAuthenticated}, func(ctx context.Context, in *setPreferenceInput) (*preferenceOutput, error) {
			v := in.Body.Value
			if len(v) == 0 {
				v = json.RawMessage("null")
			}
			if err := s.deps.Users.SetPreference(ctx, PrincipalFrom(ctx).User.ID, in.Key, v); err != nil {
				return nil, preferenceError(err)
			}
			return &preferenceOutput{Body: preferenceBody{Value: v}}, nil
		})
	Register(s, huma.Operation{OperationID: "delete-preference", Method: http.MethodDelete, Path: path, Tags: tags,
		Summary: "Forget one of the caller's preferences", DefaultStatus: http.StatusNoContent},
		Access{Permission: PermAuthenticated}, func(ctx context.Context, in *preferenceInput) (*struct{}, error) {
			return nil, preferenceError(s.deps.Users.DeletePreference(ctx, PrincipalFrom(ctx).User.ID, in.Key))
		})
}

// preferenceError names what was wrong: the key (a path parameter) or the value (the body).
func preferenceError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, identity.ErrNotFound):
		return NewProblem(http.StatusNotFound, "no such preference")
	case errors.Is(err, identity.ErrInvalid):
		p := NewProblem(http.StatusUnprocessableEntity, err.Error())
		if errors.Is(err, identity.ErrInvalidPreferenceKey) {
			p.Errors = []FieldError{{Parameter: "key", Message: err.Error()}}
		} else {
			p.Errors = []FieldError{{Pointer: "/value", Message: err.Error()}}
		}
		return p
	}
	return err
}
