package services

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/surveys"
	"github.com/rapportcrm/rapport/workflows/process"
)

// TypeSurveyCreate is the task type of SurveyCreate.
const TypeSurveyCreate = "survey.create"

// SurveyAnswered is the message a survey answer is published as, with the complaint ID as its
// correlation key and the variables score and comment.
const SurveyAnswered = "survey.answered"

// SurveyCreate runs survey.create tasks: a satisfaction survey about a complaint (inputs complaintId,
// contactId, subject, language, validDays), answered on a public page. The result is {surveyId, link};
// a notify task mails the link to the customer. A retry of the task replaces the token it never
// handed out.
type SurveyCreate struct {
	Surveys *surveys.Store
	// BaseURL is where customers reach Rapport's public pages.
	BaseURL string
}

// Handle creates one survey.
func (c SurveyCreate) Handle(ctx context.Context, req process.TaskRequest) (map[string]any, error) {
	str := func(k string) string {
		v, _ := req.Inputs[k].(string)
		return v
	}
	if str("complaintId") == "" {
		return nil, &process.BPMNError{Code: CodeValidation, Message: "survey.create needs a complaintId input"}
	}
	days := 30.0
	if d, ok := req.Inputs["validDays"].(float64); ok && d > 0 {
		days = d
	}
	_, key := callKey(ctx)
	sv, token, err := c.Surveys.Create(ctx, surveys.Request{Key: key, Complaint: str("complaintId"), Contact: str("contactId"),
		Subject: str("subject"), Language: str("language"), ValidFor: time.Duration(days * 24 * float64(time.Hour))})
	if err != nil {
		return nil, fmt.Errorf("create survey: %w", err)
	}
	return map[string]any{"surveyId": sv.ID, "link": strings.TrimRight(c.BaseURL, "/") + "/survey/" + token}, nil
}
