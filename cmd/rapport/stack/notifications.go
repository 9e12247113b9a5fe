package stack

import (
	"context"
	"fmt"
	"strings"

	"github.com/rapportcrm/rapport/engine/notifications"
	"github.com/rapportcrm/rapport/engine/outbound"
	"github.com/rapportcrm/rapport/engine/surveys"
	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/services"
)

// startNotifications opens the notification store with its channels: SMTP when --smtp-url is set, the
// development outbox in embedded mode without it, otherwise no mail (the email channel is skipped and
// says so in each notification's deliveries).
func (s *Stack) startNotifications(ctx context.Context) error {
	opts := notifications.Options{Users: s.Users, HTTP: outbound.NewClient(s.outbound, outbound.Limits{}), CheckURL: s.outbound.CheckURL}
	if s.sealer != nil {
		opts.Sealer = s.sealer
	}
	s.Notifications = notifications.New(s.DB, opts)
	switch {
	case s.cfg.SMTPURL != "":
		cfg, err := notifications.ParseSMTPURL(s.cfg.SMTPURL)
		if err != nil {
			return fmt.Errorf("--smtp-url: %w", err)
		}
		s.Notifications.SetMailer(notifications.NewSMTP(cfg))
	case s.cfg.Embedded:
		s.Notifications.SetMailer(s.Notifications.Outbox())
		s.DevOutbox = true
	default:
		s.log.Warn("no mail server configured (--smtp-url): notifications are not mailed")
	}
	return s.Notifications.EnsureIndexes(ctx)
}

// PublicURL is the root URL people reach Rapport at, for links in notifications and surveys.
func (s *Stack) PublicURL() string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return s.BaseURL
}

// startSurveys opens the satisfaction surveys; an answer is published as the message survey.answered
// to the complaint's process (correlation key: the complaint ID).
func (s *Stack) startSurveys() {
	s.Surveys = surveys.New(s.DB, s.Backend())
	s.Surveys.OnAnswer = func(ctx context.Context, sv surveys.Survey) error {
		_, err := s.Messages.Publish(ctx, messages.Message{Name: services.SurveyAnswered, CorrelationKey: sv.Complaint, ID: sv.ID,
			Variables: map[string]any{"score": sv.Score, "comment": sv.Comment, "surveyId": sv.ID}})
		return err
	}
}
