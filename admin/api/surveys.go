package api

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/surveys"
)

// surveyCSP lets the survey page show itself and post its form, nothing else: no scripts at all.
const surveyCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

type surveyPageInput struct {
	Token string `path:"token" maxLength:"200"`
}

type surveyAnswerInput struct {
	Token   string `path:"token" maxLength:"200"`
	RawBody []byte `contentType:"application/x-www-form-urlencoded" doc:"score (1-5) and comment, as the page's form posts them."`
}

type htmlOutput struct {
	Status       int
	ContentType  string `header:"Content-Type"`
	CSP          string `header:"Content-Security-Policy"`
	CacheControl string `header:"Cache-Control"`
	RetryAfter   string `header:"Retry-After"`
	Body         []byte
}

// surveyTexts are the page's words per language.
var surveyTexts = map[string]map[string]string{
	"en": {"title": "How did we do?", "about": "Your complaint", "rate": "Rate our help from 1 (poor) to 5 (excellent)",
		"comment": "Anything you want to tell us (optional)", "send": "Send", "thanks": "Thank you! Your answer helps us get better.",
		"invalid": "This link is not valid or has expired.", "answered": "This survey was already answered. Thank you!",
		"retry": "We could not save your answer right now. Please try again in a minute.", "slow": "Too many attempts. Please try again later."},
	"ru": {"title": "Как мы справились?", "about": "Ваша жалоба", "rate": "Оцените нашу помощь от 1 (плохо) до 5 (отлично)",
		"comment": "Что вы хотите нам сказать (необязательно)", "send": "Отправить", "thanks": "Спасибо! Ваш ответ помогает нам стать лучше.",
		"invalid": "Ссылка недействительна или устарела.", "answered": "Вы уже ответили на этот опрос. Спасибо!",
		"retry": "Не удалось сохранить ответ. Попробуйте ещё раз через минуту.", "slow": "Слишком много попыток. Попробуйте позже."},
}

var surveyPage = template.Must(template.New("survey").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T.title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#222}
fieldset{border:0;padding:0;display:flex;gap:.5rem}label.s{display:flex;flex-direction:column;align-items:center;border:1px solid #bbb;border-radius:.4rem;padding:.5rem .9rem;cursor:pointer}
textarea{width:100%;min-height:6rem}button{margin-top:1rem;padding:.6rem 1.4rem;font-size:1rem}.err{color:#a00}</style></head>
<body><h1>{{.T.title}}</h1>
{{if .Message}}<p{{if .Error}} class="err"{{end}}>{{.Message}}</p>{{end}}
{{if .Form}}<p>{{.T.about}}: <strong>{{.Subject}}</strong></p>
<form method="post" action="{{.Action}}">
<p>{{.T.rate}}</p>
<fieldset>{{range .Scores}}<label class="s"><input type="radio" name="score" value="{{.}}" required>{{.}}</label>{{end}}</fieldset>
<p><label>{{.T.comment}}<br><textarea name="comment" maxlength="2000"></textarea></label></p>
<button type="submit">{{.T.send}}</button>
</form>{{end}}
</body></html>
`))

type surveyView struct {
	Lang, Subject, Action, Message string
	Error, Form                    bool
	T                              map[string]string
	Scores                         []int
}

func renderSurvey(status int, v surveyView) (*htmlOutput, error) {
	if _, ok := surveyTexts[v.Lang]; !ok {
		v.Lang = "en"
	}
	v.T = surveyTexts[v.Lang]
	v.Scores = []int{1, 2, 3, 4, 5}
	if v.Message != "" {
		v.Message = v.T[v.Message]
	}
	var buf bytes.Buffer
	if err := surveyPage.Execute(&buf, v); err != nil {
		return nil, err
	}
	return &htmlOutput{Status: status, ContentType: "text/html; charset=utf-8", CSP: surveyCSP, CacheControl: "no-store", Body: buf.Bytes()}, nil
}

// registerSurveys adds the satisfaction survey page customers open from the link in their mail: no
// login, a 1-5 rating and a comment, limited per address.
func (s *Server) registerSurveys() {
	tags := []string{"surveys"}
	Register(s, huma.Operation{OperationID: "survey-page", Method: http.MethodGet, Path: "/survey/{token}", Tags: tags,
		Summary: "The satisfaction survey page", Description: "A small server-rendered page (no script) with a 1-5 rating and a comment."},
		Access{Public: true}, func(ctx context.Context, in *surveyPageInput) (*htmlOutput, error) {
			if wait := s.surveyRate.take("survey:" + ClientFrom(ctx).IP); wait > 0 {
				out, err := renderSurvey(http.StatusTooManyRequests, surveyView{Message: "slow", Error: true})
				if out != nil {
					out.RetryAfter = strconv.Itoa(int(wait/time.Second) + 1)
				}
				return out, err
			}
			sv, err := s.deps.Surveys.Open(ctx, in.Token)
			switch {
			case errors.Is(err, surveys.ErrNotFound):
				return renderSurvey(http.StatusNotFound, surveyView{Message: "invalid", Error: true})
			case err != nil:
				return nil, err
			case sv.AnsweredAt != nil && sv.Delivered:
				return renderSurvey(http.StatusOK, surveyView{Lang: sv.Language, Message: "answered"})
			}
			return renderSurvey(http.StatusOK, surveyView{Lang: sv.Language, Subject: sv.Subject, Action: "/survey/" + url.PathEscape(in.Token), Form: true})
		})
	Register(s, huma.Operation{OperationID: "survey-answer", Method: http.MethodPost, Path: "/survey/{token}", Tags: tags, MaxBodyBytes: 16 << 10,
		Summary: "Answer the satisfaction survey", Description: "The page's form post: score 1-5 and an optional comment; answered once."},
		Access{Public: true}, func(ctx context.Context, in *surveyAnswerInput) (*htmlOutput, error) {
			if wait := s.surveyRate.take("survey:" + ClientFrom(ctx).IP); wait > 0 {
				out, err := renderSurvey(http.StatusTooManyRequests, surveyView{Message: "slow", Error: true})
				if out != nil {
					out.RetryAfter = strconv.Itoa(int(wait/time.Second) + 1)
				}
				return out, err
			}
			vals, _ := url.ParseQuery(string(in.RawBody))
			score, _ := strconv.Atoi(vals.Get("score"))
			sv, err := s.deps.Surveys.Answer(ctx, in.Token, score, vals.Get("comment"))
			var inv *surveys.InvalidError
			switch {
			case errors.Is(err, surveys.ErrNotFound):
				return renderSurvey(http.StatusNotFound, surveyView{Message: "invalid", Error: true})
			case errors.Is(err, surveys.ErrAnswered):
				open, _ := s.deps.Surveys.Open(ctx, in.Token)
				return renderSurvey(http.StatusConflict, surveyView{Lang: open.Language, Message: "answered"})
			case errors.As(err, &inv):
				open, _ := s.deps.Surveys.Open(ctx, in.Token)
				out, rerr := renderSurvey(http.StatusUnprocessableEntity, surveyView{Lang: open.Language, Subject: open.Subject,
					Action: "/survey/" + url.PathEscape(in.Token), Form: true})
				if out != nil {
					out.Body = bytes.Replace(out.Body, []byte("<form"), []byte(`<p class="err">`+template.HTMLEscapeString(inv.Error())+"</p><form"), 1)
				}
				return out, rerr
			case err != nil:
				s.deps.Logger.Error("survey answer", "error", err)
				return renderSurvey(http.StatusServiceUnavailable, surveyView{Lang: sv.Language, Message: "retry", Error: true})
			}
			return renderSurvey(http.StatusOK, surveyView{Lang: sv.Language, Message: "thanks"})
		})
}
