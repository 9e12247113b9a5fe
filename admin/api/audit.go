package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
)

// record appends an audit entry for the request in ctx: the actor is the authenticated caller and the
// source the client's address and request ID. A failure to write is logged, not returned: the change it
// describes has already happened.
func (s *Server) record(ctx context.Context, e audit.Event) {
	s.recordFor(ctx, PrincipalFrom(ctx), ClientFrom(ctx), e)
}

func (s *Server) recordFor(ctx context.Context, p *Principal, c Client, e audit.Event) {
	if p != nil && e.Actor.ID == "" {
		e.Actor = audit.Actor{ID: p.User.ID, Email: p.User.Email, Via: p.Via()}
	}
	if e.Source.IP == "" {
		e.Source = audit.Source{IP: c.IP, RequestID: c.RequestID}
	}
	if err := s.deps.Audit.Record(ctx, e); err != nil {
		s.deps.Logger.Error("write audit entry", "action", e.Action, "requestId", c.RequestID, "error", err)
	}
}

type auditListInput struct {
	Actor      string    `query:"actor" maxLength:"100" doc:"User ID of the actor."`
	Action     string    `query:"action" maxLength:"100" doc:"Exact action, or a prefix ending in a dot (auth.)."`
	Target     string    `query:"target" maxLength:"200" doc:"ID of the target object."`
	TargetType string    `query:"targetType" maxLength:"100" doc:"Kind of target: user, team, role, token, schema..."`
	Since      time.Time `query:"since" doc:"Entries at or after this time (RFC 3339)."`
	Until      time.Time `query:"until" doc:"Entries before this time (RFC 3339)."`
	Cursor     string    `query:"cursor" maxLength:"64" doc:"The next value of the previous page."`
	Limit      int       `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

// AuditPage is one page of audit entries, newest first.
type AuditPage struct {
	Items []audit.Event `json:"items"`
	Next  string        `json:"next,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

type auditListOutput struct{ Body AuditPage }

func (s *Server) registerAudit() {
	Register(s, huma.Operation{
		OperationID: "list-audit", Method: http.MethodGet, Path: "/api/v1/audit", Tags: []string{"audit"},
		Summary:     "Read the audit log",
		Description: "Append-only log of logins, lockouts, token, user, role and team changes and every change to schemas, rules, processes and running instances; newest first.",
	}, Access{Permission: access.AuditRead}, func(ctx context.Context, in *auditListInput) (*auditListOutput, error) {
		log, ok := s.deps.Audit.(interface {
			List(context.Context, audit.Query) ([]audit.Event, string, error)
		})
		if !ok {
			return &auditListOutput{Body: AuditPage{Items: []audit.Event{}}}, nil
		}
		items, next, err := log.List(ctx, audit.Query{
			ActorID: in.Actor, Action: in.Action, TargetID: in.Target, Target: in.TargetType,
			Since: in.Since, Until: in.Until, Before: in.Cursor, Limit: in.Limit,
		})
		if err != nil {
			return nil, err
		}
		return &auditListOutput{Body: AuditPage{Items: items, Next: next}}, nil
	})
}
