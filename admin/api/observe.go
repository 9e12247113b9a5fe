package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// observe measures and traces every request: a counter and a latency histogram by route pattern,
// method and status (Deps.Telemetry's /metrics), and a server span that continues the caller's W3C
// trace context and reaches the handler through the request context, so the spans of the store, the
// process start and the worker join it. Without Telemetry it only calls the next handler.
func (s *Server) observe(c *fiber.Ctx) error {
	t := s.deps.Telemetry
	if t == nil {
		return c.Next()
	}
	start := time.Now()
	// Fiber's strings point into buffers reused by the next request: copy what outlives this one.
	method := strings.Clone(c.Method())
	var span trace.Span
	if t.Tracing() {
		ctx := t.Propagator().Extract(c.UserContext(), headerCarrier{c})
		ctx, span = t.Tracer().Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method)))
		c.SetUserContext(ctx)
	}
	err := c.Next()
	status := statusOf(c, err)
	route := routeOf(c, status)
	t.HTTPRequest(route, method, status, time.Since(start))
	if span != nil {
		span.SetName(method + " " + route)
		id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
		span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status),
			attribute.String("rapport.request_id", strings.Clone(id)))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
	return err
}

// statusOf is the status the response will have once the error handler has turned err into a problem.
func statusOf(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	var p *Problem
	var fe *fiber.Error
	switch {
	case errors.As(err, &p):
		return p.Status
	case errors.As(err, &fe):
		return fe.Code
	}
	return http.StatusInternalServerError
}

// routeOf names the route that answered with its pattern (Fiber's, e.g. /api/v1/records/:entity), never
// the raw path, so the number of metric series stays bounded; static files and unknown paths fall into
// the prefix that served them.
func routeOf(c *fiber.Ctx, status int) string {
	r := c.Route()
	if r == nil {
		return "unmatched"
	}
	if r.Method == "USE" {
		if status == http.StatusNotFound {
			return "unmatched"
		}
		if r.Path == "/" {
			return "/*"
		}
		return r.Path + "/*"
	}
	return r.Path
}

// headerCarrier reads and writes W3C trace context headers on a Fiber request.
type headerCarrier struct{ c *fiber.Ctx }

func (h headerCarrier) Get(key string) string { return strings.Clone(h.c.Get(key)) }
func (h headerCarrier) Set(key, value string) { h.c.Request().Header.Set(key, value) }
func (h headerCarrier) Keys() []string {
	var keys []string
	h.c.Request().Header.VisitAll(func(k, _ []byte) { keys = append(keys, string(k)) })
	return keys
}
