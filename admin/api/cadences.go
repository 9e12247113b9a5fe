package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/workflows/services"
)

type startCadencesInput struct {
	Body struct {
		Entity        string `json:"entity" enum:"contact,deal" doc:"Start cadences for contacts or open deals."`
		Filter        string `json:"filter,omitempty" maxLength:"4096" doc:"Only records matching this filter (the records list's language)."`
		SpreadMinutes int    `json:"spreadMinutes,omitempty" minimum:"0" maximum:"100000" default:"480" doc:"First follow-ups are spread over this many minutes, so they do not all fall due at once."`
		PageSize      int    `json:"pageSize,omitempty" minimum:"0" maximum:"500" doc:"How many cadences start at once; the next page starts when these wait for their first follow-up. 0: the server's default (50)."`
	}
}

type cadenceJobOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     services.CadenceJob
}

type cadenceJobInput struct {
	ID string `path:"id" maxLength:"64"`
}

// registerCadences adds the bulk start of follow-up cadences for existing records, with progress.
func (s *Server) registerCadences() {
	tags := []string{"processes"}
	Register(s, huma.Operation{OperationID: "start-cadences", Method: http.MethodPost, Path: "/api/v1/cadences", Tags: tags,
		Summary: "Start follow-up cadences for existing records",
		Description: "Every contact (or open deal) matching the filter that has no follow-up cadence yet gets one; the first follow-ups " +
			"are spread over spreadMinutes. Runs in the background, a page of pageSize cadences at a time: the next page starts when " +
			"the page's cadences wait for their first follow-up (or a bounded wait passed), so the engine is never flooded. Follow the job " +
			"at the Location answered: running counts the started cadences that wait for their first follow-up, and the job is done " +
			"only when every started cadence does (or the bounded wait for it passed)."},
		Access{Permission: access.InstancesStart}, func(ctx context.Context, in *startCadencesInput) (*cadenceJobOutput, error) {
			p := PrincipalFrom(ctx)
			if perm := access.RecordPermission(in.Body.Entity, access.ActionRead); !s.allows(p, perm) {
				return nil, NewProblem(http.StatusForbidden, "you lack the permission "+perm)
			}
			job, err := s.deps.Cadences.StartAll(ctx, in.Body.Entity, in.Body.Filter, in.Body.SpreadMinutes, in.Body.PageSize, p.User.ID)
			var pe *records.ParamError
			if errors.As(err, &pe) {
				return nil, &Problem{Type: problemBase + "validation", Title: "Unprocessable Entity", Status: http.StatusUnprocessableEntity,
					Detail: pe.Error(), Errors: []FieldError{{Pointer: "/filter", Message: pe.Error()}}}
			}
			if err != nil {
				return nil, err
			}
			s.record(ctx, audit.Event{Action: "cadences.start", Target: audit.Target{Type: "cadence-job", ID: job.ID}, After: job})
			return &cadenceJobOutput{Status: http.StatusAccepted, Location: "/api/v1/cadences/" + job.ID, Body: job}, nil
		})
	Register(s, huma.Operation{OperationID: "get-cadence-job", Method: http.MethodGet, Path: "/api/v1/cadences/{id}", Tags: tags,
		Summary: "Progress of a bulk cadence start"},
		Access{Permission: access.InstancesStart}, func(ctx context.Context, in *cadenceJobInput) (*cadenceJobOutput, error) {
			job, err := s.deps.Cadences.Job(ctx, in.ID)
			if errors.Is(err, records.ErrNotFound) {
				return nil, NewProblem(http.StatusNotFound, "no cadence job "+in.ID)
			}
			if err != nil {
				return nil, err
			}
			return &cadenceJobOutput{Status: http.StatusOK, Body: job}, nil
		})
}
