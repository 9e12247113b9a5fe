package api

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/forms"
)

type formKeyInput struct {
	Key string `path:"key" maxLength:"64"`
}

type putFormInput struct {
	Key  string `path:"key" maxLength:"64"`
	Body forms.Form
}

type formOutput struct{ Body forms.Form }

type submitFormInput struct {
	Key         string `path:"key" maxLength:"64"`
	ContentType string `header:"Content-Type"`
	Origin      string `header:"Origin"`
	Referer     string `header:"Referer"`
	RawBody     []byte `contentType:"application/x-www-form-urlencoded" doc:"The form's fields as application/x-www-form-urlencoded (a plain HTML form) or a JSON object."`
}

type submitFormOutput struct {
	Status      int
	AllowOrigin string `header:"Access-Control-Allow-Origin"`
	Vary        string `header:"Vary"`
	Location    string `header:"Location"`
	Body        *struct {
		Status string `json:"status" doc:"Always \"accepted\": the answer never says whether the record existed."`
	}
}

type preflightInput struct {
	Key    string `path:"key" maxLength:"64"`
	Origin string `header:"Origin"`
}

type preflightOutput struct {
	AllowOrigin  string `header:"Access-Control-Allow-Origin"`
	AllowMethods string `header:"Access-Control-Allow-Methods"`
	AllowHeaders string `header:"Access-Control-Allow-Headers"`
	MaxAge       string `header:"Access-Control-Max-Age"`
	Vary         string `header:"Vary"`
}

// formProblem maps the forms package's errors to problems; allowOrigin keeps them readable by the page.
func formProblem(err error, allowOrigin string) error {
	var inv *forms.InvalidError
	var oe *forms.OriginError
	var rl *forms.RateLimitError
	var tl *forms.TooLargeError
	var p *Problem
	switch {
	case errors.Is(err, forms.ErrNotFound):
		p = NewProblem(http.StatusNotFound, err.Error())
	case errors.Is(err, forms.ErrExists):
		p = NewProblem(http.StatusConflict, err.Error())
	case errors.As(err, &inv):
		p = NewProblem(http.StatusUnprocessableEntity, err.Error())
		for _, x := range inv.Problems {
			p.Errors = append(p.Errors, FieldError{Pointer: x.Pointer, Message: x.Message})
		}
	case errors.As(err, &oe):
		p = Typed(http.StatusForbidden, "origin-not-allowed", err.Error())
	case errors.As(err, &rl):
		p = rateLimited(rl.RetryAfter)
	case errors.As(err, &tl):
		p = NewProblem(http.StatusRequestEntityTooLarge, err.Error())
	default:
		return err
	}
	if allowOrigin != "" {
		p = p.WithHeader("Access-Control-Allow-Origin", allowOrigin).WithHeader("Vary", "Origin")
	}
	return p
}

// registerForms adds the public web forms: their definitions (analysts) and their submissions
// (anyone, within each form's origin, size and rate limits).
func (s *Server) registerForms() {
	tags := []string{"forms"}
	Register(s, huma.Operation{OperationID: "list-forms", Method: http.MethodGet, Path: "/api/v1/forms", Tags: tags,
		Summary: "Public web forms"},
		Access{Permission: access.SchemasRead}, func(ctx context.Context, _ *struct{}) (*struct{ Body []forms.Form }, error) {
			list, err := s.deps.Forms.List(ctx)
			if err != nil {
				return nil, err
			}
			return &struct{ Body []forms.Form }{Body: list}, nil
		})
	Register(s, huma.Operation{OperationID: "get-form", Method: http.MethodGet, Path: "/api/v1/forms/{key}", Tags: tags,
		Summary: "A public web form"},
		Access{Permission: access.SchemasRead}, func(ctx context.Context, in *formKeyInput) (*formOutput, error) {
			f, err := s.deps.Forms.Get(ctx, in.Key)
			if err != nil {
				return nil, formProblem(err, "")
			}
			return &formOutput{Body: f}, nil
		})
	Register(s, huma.Operation{OperationID: "put-form", Method: http.MethodPut, Path: "/api/v1/forms/{key}", Tags: tags,
		Summary: "Define a public web form",
		Description: "Creates or replaces the form: the entity its submissions create, the allowed and required fields, fixed values, " +
			"allowed origins, the honeypot field, the size limit and the per-address rate limit."},
		Access{Permission: access.SchemasWrite}, func(ctx context.Context, in *putFormInput) (*formOutput, error) {
			f := in.Body
			if f.Key != "" && f.Key != in.Key {
				return nil, formProblem(&forms.InvalidError{Problems: []forms.Problem{{Pointer: "/key", Message: "must be " + in.Key}}}, "")
			}
			f.Key = in.Key
			by := PrincipalFrom(ctx).User.ID
			before, getErr := s.deps.Forms.Get(ctx, in.Key)
			saved, err := s.deps.Forms.Save(ctx, f, by, errors.Is(getErr, forms.ErrNotFound))
			if err != nil {
				return nil, formProblem(err, "")
			}
			s.record(ctx, audit.Event{Action: "form.save", Target: audit.Target{Type: "form", ID: in.Key}, Before: before, After: saved})
			return &formOutput{Body: saved}, nil
		})
	Register(s, huma.Operation{OperationID: "delete-form", Method: http.MethodDelete, Path: "/api/v1/forms/{key}", Tags: tags,
		Summary: "Remove a public web form", DefaultStatus: http.StatusNoContent},
		Access{Permission: access.SchemasWrite}, func(ctx context.Context, in *formKeyInput) (*struct{}, error) {
			if err := s.deps.Forms.Delete(ctx, in.Key); err != nil {
				return nil, formProblem(err, "")
			}
			s.record(ctx, audit.Event{Action: "form.delete", Target: audit.Target{Type: "form", ID: in.Key}})
			return nil, nil
		})
	Register(s, huma.Operation{OperationID: "submit-form", Method: http.MethodPost, Path: "/api/v1/forms/{key}", Tags: tags,
		Summary: "Submit a public web form", MaxBodyBytes: forms.MaxBytes,
		Description: "No login. The form's allowed fields only, from its allowed origins, within its size and per-address rate limits; " +
			"a filled honeypot field is dropped silently. Answers 202 (or 303 to the form's page for a plain HTML post) whether " +
			"or not the record existed. See docs/FORMS.md for the HTML snippet."},
		Access{Public: true}, s.submitForm)
	Register(s, huma.Operation{OperationID: "preflight-form", Method: http.MethodOptions, Path: "/api/v1/forms/{key}", Tags: tags,
		Summary: "CORS preflight of a form submission", DefaultStatus: http.StatusNoContent},
		Access{Public: true}, func(ctx context.Context, in *preflightInput) (*preflightOutput, error) {
			out := &preflightOutput{AllowMethods: "POST", AllowHeaders: "Content-Type", MaxAge: "600", Vary: "Origin"}
			if f, err := s.deps.Forms.Get(ctx, in.Key); err == nil && !f.Disabled {
				out.AllowOrigin = allowedOrigin(f, in.Origin)
			}
			return out, nil
		})
}

// allowedOrigin is the Access-Control-Allow-Origin a form's answer carries for a page: the page's own
// origin when the form accepts it.
func allowedOrigin(f forms.Form, origin string) string {
	if origin == "" {
		return ""
	}
	if len(f.Origins) == 0 {
		return origin
	}
	for _, o := range f.Origins {
		if o == origin {
			return origin
		}
	}
	return ""
}

func (s *Server) submitForm(ctx context.Context, in *submitFormInput) (*submitFormOutput, error) {
	origin := in.Origin
	if origin == "" && in.Referer != "" {
		if u, err := url.Parse(in.Referer); err == nil && u.Host != "" {
			origin = u.Scheme + "://" + u.Host
		}
	}
	allow := ""
	if f, err := s.deps.Forms.Get(ctx, in.Key); err == nil {
		allow = allowedOrigin(f, in.Origin)
	}
	sub := forms.Submission{Origin: origin, Client: ClientFrom(ctx).IP, Size: len(in.RawBody)}
	mt, _, _ := mime.ParseMediaType(in.ContentType)
	switch mt {
	case "application/json":
		if err := json.Unmarshal(in.RawBody, &sub.Fields); err != nil {
			p := Typed(http.StatusBadRequest, "malformed-json", "the body is not a JSON object: "+err.Error())
			return nil, formProblem(p, allow)
		}
	case "application/x-www-form-urlencoded", "":
		vals, err := url.ParseQuery(string(in.RawBody))
		if err != nil {
			return nil, formProblem(NewProblem(http.StatusBadRequest, "the body is not urlencoded: "+err.Error()), allow)
		}
		sub.Fields, sub.Strings = map[string]any{}, true
		for k, v := range vals {
			sub.Fields[k] = v[len(v)-1]
		}
	default:
		return nil, formProblem(NewProblem(http.StatusUnsupportedMediaType, "send application/x-www-form-urlencoded or application/json"), allow)
	}
	res, err := s.deps.Forms.Submit(ctx, in.Key, sub)
	if err != nil {
		var p *Problem
		if errors.As(err, &p) {
			return nil, err
		}
		return nil, formProblem(err, allow)
	}
	out := &submitFormOutput{Status: http.StatusAccepted, AllowOrigin: allow, Vary: "Origin"}
	if res.Redirect != "" && mt != "application/json" {
		out.Status, out.Location = http.StatusSeeOther, res.Redirect
		return out, nil
	}
	out.Body = &struct {
		Status string `json:"status" doc:"Always \"accepted\": the answer never says whether the record existed."`
	}{Status: "accepted"}
	return out, nil
}
