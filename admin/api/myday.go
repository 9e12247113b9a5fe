package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/agenda"
)

type myDayInput struct {
	TZ string `query:"tz" maxLength:"64" doc:"The caller's IANA time zone (e.g. Europe/Moscow): today ends at its midnight. Default UTC."`
}

type myDayOutput struct {
	Body struct {
		Date  string        `json:"date" doc:"Today in the caller's time zone."`
		Items []agenda.Item `json:"items"`
	}
}

// viewer is the caller's access to records, as the agenda reads them.
type viewer struct {
	s  *Server
	p  *Principal
	ds map[string]*access.Decision
}

// Decision is the caller's decision on entity; none without the entity's read permission.
func (v *viewer) Decision(entity string) (*access.Decision, bool) {
	if !v.s.allows(v.p, access.RecordPermission(entity, access.ActionRead)) {
		return nil, false
	}
	d, ok := v.ds[entity]
	if !ok {
		dd := v.s.deps.Access.Decide(v.p.Subject(), entity)
		d = &dd
		v.ds[entity] = d
	}
	return d, true
}

// registerMyDay adds the caller's day: whom to call, what to qualify and answer, today and overdue.
func (s *Server) registerMyDay() {
	Register(s, huma.Operation{OperationID: "my-day", Method: http.MethodGet, Path: "/api/v1/my-day", Tags: []string{"tasks"},
		Summary: "My day: whom to call and what is due",
		Description: "The caller's open Task records (calls and follow-ups), leads to qualify and complaints to answer or resolve, due " +
			"today or overdue, ordered by priority: overdue first, then deal value, loyalty stage and lead score. Each item names " +
			"the record, its phone and a link to it; only records the caller may read appear."},
		Access{Permission: access.TasksRead}, func(ctx context.Context, in *myDayInput) (*myDayOutput, error) {
			loc := time.UTC
			if in.TZ != "" {
				l, err := time.LoadLocation(in.TZ)
				if err != nil || in.TZ == "Local" {
					return nil, &Problem{Type: problemBase + "validation", Title: "Unprocessable Entity", Status: http.StatusUnprocessableEntity,
						Detail: "unknown time zone", Errors: []FieldError{{Parameter: "tz", Message: "not an IANA time zone such as Europe/Moscow"}}}
				}
				loc = l
			}
			p := PrincipalFrom(ctx)
			now := time.Now()
			items, err := agenda.Build(ctx, s.deps.Records, &viewer{s: s, p: p, ds: map[string]*access.Decision{}}, agenda.Request{
				UserID: p.User.ID, Now: now, Location: loc,
				Link: func(entity, id string) string { return agenda.RecordLink(s.deps.PublicURL, entity, id) },
			})
			if err != nil {
				return nil, err
			}
			out := &myDayOutput{}
			out.Body.Date, out.Body.Items = now.In(loc).Format("2006-01-02"), items
			return out, nil
		})
}
