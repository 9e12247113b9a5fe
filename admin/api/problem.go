package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// problemBase prefixes the stable problem types; clients switch on the type, never on the text.
const problemBase = "https://rapport.dev/problems/"

// Problem is an RFC 9457 problem details document, extended with the request ID (to find the log lines)
// and, for validation failures, every field error at once.
type Problem struct {
	Type      string       `json:"type" doc:"Stable URI naming the kind of problem; switch on this, not on the text."`
	Title     string       `json:"title" doc:"Short summary of the problem type."`
	Status    int          `json:"status" doc:"HTTP status code."`
	Detail    string       `json:"detail,omitempty" doc:"Human-readable explanation of this occurrence."`
	Instance  string       `json:"instance,omitempty" doc:"The request path that failed."`
	RequestID string       `json:"requestId,omitempty" doc:"ID of the request; it appears in the server's logs."`
	Errors    []FieldError `json:"errors,omitempty" doc:"Every invalid field or parameter, when the problem is invalid input."`

	headers http.Header
}

// FieldError names one invalid part of a request and why it is invalid.
type FieldError struct {
	Pointer   string `json:"pointer,omitempty" doc:"JSON Pointer (RFC 6901) into the request body."`
	Parameter string `json:"parameter,omitempty" doc:"Name of the invalid query, path or header parameter."`
	Element   string `json:"element,omitempty" doc:"ID of the BPMN element a process definition problem concerns."`
	Message   string `json:"message" doc:"Why the value is invalid."`
}

// Error implements error so handlers can return a *Problem directly.
func (p *Problem) Error() string { return p.Detail }

// GetStatus lets Huma use the problem's status as the response status.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes Huma send problems as application/problem+json.
func (p *Problem) ContentType(string) string { return ProblemContentType }

// GetHeaders lets a problem carry response headers such as Retry-After.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// WithHeader adds a response header to the problem.
func (p *Problem) WithHeader(name, value string) *Problem {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	p.headers.Set(name, value)
	return p
}

// slugs maps statuses to the stable problem type used when a handler does not choose one.
var slugs = map[int]string{
	http.StatusBadRequest:            "bad-request",
	http.StatusUnauthorized:          "unauthenticated",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusNotAcceptable:         "not-acceptable",
	http.StatusConflict:              "conflict",
	http.StatusPreconditionFailed:    "precondition-failed",
	http.StatusRequestEntityTooLarge: "body-too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusUnprocessableEntity:   "validation",
	http.StatusTooManyRequests:       "rate-limited",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// NewProblem builds a problem of the default type for status.
func NewProblem(status int, detail string) *Problem {
	slug, ok := slugs[status]
	if !ok {
		slug = "http-" + strconv.Itoa(status)
	}
	return &Problem{Type: problemBase + slug, Title: http.StatusText(status), Status: status, Detail: detail}
}

// Typed builds a problem with a specific stable type slug, for errors clients must tell apart.
func Typed(status int, slug, detail string) *Problem {
	p := NewProblem(status, detail)
	p.Type = problemBase + slug
	return p
}

var installOnce sync.Once

// installProblemErrors makes Huma produce Rapport problems for every error it raises itself (bad JSON,
// validation, body too large). Huma exposes this hook only as package variables, so it is set once.
func installProblemErrors() {
	installOnce.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			return problemFromHuma(status, msg, errs)
		}
		huma.NewErrorWithContext = func(ctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
			p := problemFromHuma(status, msg, errs)
			if ctx != nil && msg == "request body is required" && strings.HasPrefix(ctx.URL().Path, "/api/v1/processes") {
				p = emptyBPMN() // name what is missing rather than Huma's generic answer
			}
			if ctx != nil {
				p.Instance = ctx.URL().Path
				p.RequestID = requestIDOf(ctx)
			}
			return p
		}
	})
}

func problemFromHuma(status int, msg string, errs []error) *Problem {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status == http.StatusInternalServerError {
		if p := unavailable(errors.Join(errs...)); p != nil {
			return p
		}
	}
	p := NewProblem(status, msg)
	for _, e := range errs {
		if e == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(e, &d) {
			p.Errors = append(p.Errors, fieldErrorFromHuma(d.ErrorDetail()))
			continue
		}
		p.Errors = append(p.Errors, FieldError{Message: e.Error()})
	}
	if status == http.StatusBadRequest && len(p.Errors) == 1 && p.Errors[0].Pointer == "" && p.Errors[0].Parameter == "" {
		// A body that is not JSON: say so in the detail, where people look first.
		p.Detail = "request body is not valid JSON: " + p.Errors[0].Message
		p.Type = problemBase + "malformed-json"
		p.Errors = nil
	}
	return p
}

// fieldErrorFromHuma turns Huma's "body.items[3].tags" locations into JSON pointers ("/items/3/tags")
// and parameter locations ("query.limit") into parameter names.
func fieldErrorFromHuma(d *huma.ErrorDetail) FieldError {
	loc, msg := d.Location, d.Message
	if loc != "body" && !strings.HasPrefix(loc, "body.") && !strings.HasPrefix(loc, "body[") {
		if _, name, ok := strings.Cut(loc, "."); ok {
			return FieldError{Parameter: name, Message: msg}
		}
		return FieldError{Parameter: loc, Message: msg}
	}
	ptr := dottedToPointer(strings.TrimPrefix(loc, "body"))
	// Huma reports a missing property on its parent; point at the property itself.
	if name, ok := strings.CutPrefix(msg, "expected required property "); ok {
		if name, ok = strings.CutSuffix(name, " to be present"); ok {
			return FieldError{Pointer: ptr + dottedToPointer("."+name), Message: "is required"}
		}
	}
	return FieldError{Pointer: ptr, Message: msg}
}

// dottedToPointer converts ".a.b[2].c" to "/a/b/2/c", escaping per RFC 6901.
func dottedToPointer(path string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(part))
	}
	return b.String()
}

func requestIDOf(ctx huma.Context) string {
	if fc := humafiber.Unwrap(ctx); fc != nil {
		if id, ok := fc.Locals(requestid.ConfigDefault.ContextKey).(string); ok {
			return id
		}
	}
	return ""
}

// writeProblem sends p on a Fiber context; used for errors raised outside Huma (unknown routes, body limits,
// panics).
func writeProblem(c *fiber.Ctx, p *Problem) error {
	if id, ok := c.Locals(requestid.ConfigDefault.ContextKey).(string); ok {
		p.RequestID = id
	}
	if p.Instance == "" {
		p.Instance = c.Path()
	}
	for k, vs := range p.headers {
		for _, v := range vs {
			c.Set(k, v)
		}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode problem: %w", err)
	}
	c.Set(fiber.HeaderContentType, ProblemContentType)
	return c.Status(p.Status).Send(body)
}
