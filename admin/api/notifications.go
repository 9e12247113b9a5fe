package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/notifications"
)

type listNotificationsInput struct {
	Unread bool `query:"unread" doc:"Only notifications not yet read."`
	Limit  int  `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type notificationIDInput struct {
	ID string `path:"id" maxLength:"300"`
}

func (s *Server) registerNotifications() {
	Register(s, huma.Operation{OperationID: "list-notifications", Method: http.MethodGet, Path: "/api/v1/notifications", Tags: []string{"notifications"},
		Summary: "My notifications", Description: "In-app notifications sent to the caller by processes, newest first."},
		Access{Permission: PermAuthenticated}, func(ctx context.Context, in *listNotificationsInput) (*struct{ Body []notifications.Notification }, error) {
			list, err := s.deps.Notifications.List(ctx, PrincipalFrom(ctx).User.ID, in.Unread, in.Limit)
			if err != nil {
				return nil, err
			}
			return &struct{ Body []notifications.Notification }{Body: list}, nil
		})
	Register(s, huma.Operation{OperationID: "read-notification", Method: http.MethodPost, Path: "/api/v1/notifications/{id}/read", Tags: []string{"notifications"},
		Summary: "Mark a notification read", DefaultStatus: http.StatusNoContent},
		Access{Permission: PermAuthenticated}, func(ctx context.Context, in *notificationIDInput) (*struct{}, error) {
			err := s.deps.Notifications.MarkRead(ctx, PrincipalFrom(ctx).User.ID, in.ID)
			if errors.Is(err, notifications.ErrNotFound) {
				return nil, NewProblem(http.StatusNotFound, "no notification "+in.ID)
			}
			return nil, err
		})
}
