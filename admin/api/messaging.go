package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/notifications"
)

type templateKeyInput struct {
	Key string `path:"key" maxLength:"64"`
}

type putTemplateInput struct {
	Key  string `path:"key" maxLength:"64"`
	Body notifications.Template
}

type templateOutput struct{ Body notifications.Template }

type createWebhookInput struct {
	Body struct {
		URL       string   `json:"url" minLength:"1" maxLength:"2000" doc:"Where notifications are posted (https)."`
		Templates []string `json:"templates,omitempty" maxItems:"100" doc:"Template keys to post; empty or \"*\" posts every notification on the webhook channel."`
	}
}

type createdWebhook struct {
	notifications.Webhook
	Secret string `json:"secret" doc:"The signing secret, shown once: verify X-Rapport-Signature (t=<unix>,v1=hex HMAC-SHA256 of \"<t>.<body>\")."`
}

type webhookIDInput struct {
	ID string `path:"id" maxLength:"64"`
}

type outboxInput struct {
	To    string `query:"to" maxLength:"320" doc:"Only mail to this address."`
	Limit int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

// templateProblem turns an invalid template into a 422 naming every field.
func templateProblem(err error) error {
	var te *notifications.TemplateError
	if !errors.As(err, &te) {
		return err
	}
	p := NewProblem(http.StatusUnprocessableEntity, err.Error())
	for _, x := range te.Problems {
		p.Errors = append(p.Errors, FieldError{Pointer: x.Pointer, Message: x.Message})
	}
	return p
}

// registerMessaging adds notification templates, webhooks and the development mail outbox.
func (s *Server) registerMessaging() {
	tags := []string{"notifications"}
	Register(s, huma.Operation{OperationID: "list-notification-templates", Method: http.MethodGet, Path: "/api/v1/notification-templates", Tags: tags,
		Summary: "Notification templates", Description: "What each kind of notification says, per language (en, ru), and its default channels."},
		Access{Permission: access.SchemasRead}, func(ctx context.Context, _ *struct{}) (*struct{ Body []notifications.Template }, error) {
			list, err := s.deps.Notifications.Templates(ctx)
			if err != nil {
				return nil, err
			}
			return &struct{ Body []notifications.Template }{Body: list}, nil
		})
	Register(s, huma.Operation{OperationID: "get-notification-template", Method: http.MethodGet, Path: "/api/v1/notification-templates/{key}", Tags: tags,
		Summary: "A notification template"},
		Access{Permission: access.SchemasRead}, func(ctx context.Context, in *templateKeyInput) (*templateOutput, error) {
			t, err := s.deps.Notifications.Template(ctx, in.Key)
			if errors.Is(err, notifications.ErrTemplateNotFound) {
				return nil, NewProblem(http.StatusNotFound, err.Error())
			}
			if err != nil {
				return nil, err
			}
			return &templateOutput{Body: t}, nil
		})
	Register(s, huma.Operation{OperationID: "put-notification-template", Method: http.MethodPut, Path: "/api/v1/notification-templates/{key}", Tags: tags,
		Summary: "Create or change a notification template",
		Description: "Subject and body per language in Go's text/template language over the notification's data: {{.record.name}}, {{.link}}, " +
			"{{date .dueAt}}. A template that does not parse is refused with every problem."},
		Access{Permission: access.SchemasWrite}, func(ctx context.Context, in *putTemplateInput) (*templateOutput, error) {
			t := in.Body
			if t.Key != "" && t.Key != in.Key {
				return nil, &Problem{Type: problemBase + "validation", Title: "Unprocessable Entity", Status: http.StatusUnprocessableEntity,
					Detail: "the key in the body differs from the path", Errors: []FieldError{{Pointer: "/key", Message: "must be " + in.Key}}}
			}
			t.Key = in.Key
			before, _ := s.deps.Notifications.Template(ctx, in.Key)
			saved, err := s.deps.Notifications.SaveTemplate(ctx, t, PrincipalFrom(ctx).User.ID)
			if err != nil {
				return nil, templateProblem(err)
			}
			s.record(ctx, audit.Event{Action: "notification-template.save", Target: audit.Target{Type: "notification-template", ID: in.Key}, Before: before, After: saved})
			return &templateOutput{Body: saved}, nil
		})
	Register(s, huma.Operation{OperationID: "list-webhooks", Method: http.MethodGet, Path: "/api/v1/webhooks", Tags: tags,
		Summary: "Notification webhooks", Description: "Outside systems that receive notifications on the webhook channel, signed."},
		Access{Permission: access.SystemSettings}, func(ctx context.Context, _ *struct{}) (*struct{ Body []notifications.Webhook }, error) {
			list, err := s.deps.Notifications.Webhooks(ctx)
			if err != nil {
				return nil, err
			}
			return &struct{ Body []notifications.Webhook }{Body: list}, nil
		})
	Register(s, huma.Operation{OperationID: "create-webhook", Method: http.MethodPost, Path: "/api/v1/webhooks", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary: "Add a notification webhook", Description: "The answer carries the signing secret once. The URL must be one the outbound policy (--http-allow) lets Rapport reach."},
		Access{Permission: access.SystemSettings}, func(ctx context.Context, in *createWebhookInput) (*struct{ Body createdWebhook }, error) {
			w, secret, err := s.deps.Notifications.CreateWebhook(ctx, in.Body.URL, in.Body.Templates, PrincipalFrom(ctx).User.ID)
			if errors.Is(err, notifications.ErrNoSealer) {
				return nil, NewProblem(http.StatusConflict, err.Error())
			}
			if err != nil {
				return nil, templateProblem(err)
			}
			s.record(ctx, audit.Event{Action: "webhook.create", Target: audit.Target{Type: "webhook", ID: w.ID}, After: w})
			return &struct{ Body createdWebhook }{Body: createdWebhook{Webhook: w, Secret: secret}}, nil
		})
	Register(s, huma.Operation{OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/api/v1/webhooks/{id}", Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Remove a notification webhook"},
		Access{Permission: access.SystemSettings}, func(ctx context.Context, in *webhookIDInput) (*struct{}, error) {
			err := s.deps.Notifications.DeleteWebhook(ctx, in.ID)
			if errors.Is(err, notifications.ErrWebhookNotFound) {
				return nil, NewProblem(http.StatusNotFound, "no webhook "+in.ID)
			}
			if err == nil {
				s.record(ctx, audit.Event{Action: "webhook.delete", Target: audit.Target{Type: "webhook", ID: in.ID}})
			}
			return nil, err
		})
	if s.deps.DevOutbox {
		Register(s, huma.Operation{OperationID: "dev-outbox", Method: http.MethodGet, Path: "/api/v1/dev/outbox", Tags: tags,
			Summary: "Mail kept by `rapport dev`",
			Description: "Without --smtp-url, `rapport dev` keeps every mail here instead of sending it, newest first, so Rapport can be " +
				"evaluated without a mail server. Absent when a mail server is configured."},
			Access{Permission: access.SystemSettings}, func(ctx context.Context, in *outboxInput) (*struct{ Body []notifications.OutboxMail }, error) {
				list, err := s.deps.Notifications.Outbox().List(ctx, in.To, in.Limit)
				if err != nil {
					return nil, err
				}
				return &struct{ Body []notifications.OutboxMail }{Body: list}, nil
			})
	}
}
