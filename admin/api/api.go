// Package api is Rapport's HTTP interface: the REST API under /api/v1 (Fiber for transport, Huma for
// typed operations and the generated OpenAPI document), authentication, and the embedded admin UI.
// Every operation is registered through Register with either a permission or an explicit Public flag, so
// no route can exist without an access decision.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/admin/ui"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/analytics"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/connections"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/forms"
	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/inbox"
	"github.com/rapportcrm/rapport/engine/notifications"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/engine/surveys"
	"github.com/rapportcrm/rapport/engine/telemetry"
	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/workflows/instances"
	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
	"github.com/rapportcrm/rapport/workflows/services"
)

// Version is reported in the OpenAPI document.
const Version = "0.1.0"

// Deps is what the HTTP layer needs from the rest of the process.
type Deps struct {
	Logger   *slog.Logger
	DB       *mongo.Database
	Users    *identity.Store
	Temporal client.Client
	// Namespace and TaskQueue locate the workers readiness looks for.
	Namespace string
	TaskQueue string
	// SessionTTL is how long a login stays valid.
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure; set it whenever the UI is served over HTTPS.
	SecureCookies bool
	// BodyLimit caps every request body, in bytes.
	BodyLimit int
	// Policy decides whether a user holds a permission; nil uses Access.
	Policy Policy
	// Access is the roles model (object- and field-level decisions, custom roles); nil loads it from DB.
	Access *access.Policy
	// Audit receives the audit log; nil writes to DB's audit collection.
	Audit audit.Recorder
	// CORSOrigins are the browser origins allowed to call the API; empty turns CORS off.
	CORSOrigins []string
	// RateLimit caps each user's and each API token's requests; zero values take the defaults.
	RateLimit RateLimit
	// TrustedProxies are the addresses (CIDRs) of reverse proxies whose X-Forwarded-For header names the
	// client. Empty: the peer address is the client and the header is ignored, so nobody can choose the
	// address login limits and audit see.
	TrustedProxies []netip.Prefix
	// Plugins runs connector plugins; nil when no plugins directory is configured.
	Plugins *host.Host
	// Connectors stores configured connector instances, with secrets sealed by Sealer.
	Connectors *connections.Store
	Sealer     *host.Sealer
	// Processes stores BPMN process definitions; nil leaves the process routes out.
	Processes *definitions.Store
	// Starter starts process instances and Messages correlates messages (both with Processes).
	Starter  *process.Starter
	Messages *messages.Publisher
	// Inbox is the materialised task inbox; Instances lists, describes and operates instances (both
	// with Processes).
	Inbox     *inbox.Store
	Instances *instances.Service
	// ExternalTasks serves REST workers the external tasks of processes; nil leaves their routes out.
	ExternalTasks *process.ExternalTasks
	// Notifications holds notifications, their templates and webhooks; nil leaves their routes out.
	Notifications *notifications.Store
	// DevOutbox exposes the development mail outbox (rapport dev without --smtp-url).
	DevOutbox bool
	// Records stores entity schemas and records; nil leaves the schema and record routes out.
	Records *records.Store
	// Rulesets stores rule sets and business calendars; nil leaves the rule set and calendar routes out.
	Rulesets *rulesets.Store
	// Forms keeps the public web forms; nil leaves their routes out.
	Forms *forms.Store
	// Surveys keeps the satisfaction surveys behind the public survey page; nil leaves it out.
	Surveys *surveys.Store
	// PublicURL is where people reach Rapport, for links in answers.
	PublicURL string
	// Cadences starts follow-up cadences in bulk; nil leaves the route out.
	Cadences *services.Cadences
	// Analytics computes the analytics reports; nil leaves their routes out.
	Analytics *analytics.Engine
	// Telemetry receives request metrics and spans (see observe.go); nil measures nothing.
	Telemetry *telemetry.Telemetry
}

// Server is the configured HTTP application.
type Server struct {
	deps Deps
	app  *fiber.App
	api  huma.API
	rate *rateLimiter
	// surveyRate limits the public survey page per client address.
	surveyRate *rateLimiter
}

// New builds the Fiber application with every route registered.
func New(deps Deps) *Server {
	installProblemErrors()
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.SessionTTL <= 0 {
		deps.SessionTTL = 12 * time.Hour
	}
	if deps.BodyLimit <= 0 {
		deps.BodyLimit = 16 << 20
	}
	deps = securityDefaults(deps)
	s := &Server{deps: deps, rate: newRateLimiter(deps.RateLimit, time.Now),
		surveyRate: newRateLimiter(RateLimit{PerSecond: 0.2, Burst: 20}, time.Now)}
	s.app = fiber.New(fiber.Config{
		AppName:               "rapport",
		BodyLimit:             deps.BodyLimit,
		DisableStartupMessage: true,
		ReadTimeout:           60 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		ErrorHandler:          s.handleError,
		// Path parameters, headers and bodies are copied out of fasthttp's request buffer, which is
		// reused for the next request on the connection: a string kept after a request (a cache key, an
		// import job's entity) would otherwise change under its keeper.
		Immutable: true,
	})
	s.app.Use(requestid.New())
	s.app.Use(s.observe)
	s.app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
			deps.Logger.Error("panic while serving request", "requestId", id, "path", c.Path(), "panic", fmt.Sprint(e), "stack", string(debug.Stack()))
		},
	}))
	s.app.Use(s.logRequests)
	s.app.Use(s.secureHeaders())

	cfg := huma.DefaultConfig("Rapport API", Version)
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	cfg.Info.Description = "Rapport low-code CRM: entities, records, rules and processes. Authenticate with " +
		"POST /api/v1/auth/login, then send `Authorization: Bearer <token>` (or use the session cookie in a browser)."
	cfg.OpenAPIPath = "/api/openapi"
	cfg.DocsPath = ""
	cfg.SchemasPath = "/api/schemas"
	// No "$schema" links in bodies: responses stay plain JSON documents.
	cfg.CreateHooks = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer":  {Type: "http", Scheme: "bearer", Description: "A token from POST /api/v1/auth/login."},
		"session": {Type: "apiKey", In: "cookie", Name: SessionCookie, Description: "The browser session cookie."},
	}
	s.api = humafiber.New(s.app, cfg)
	s.api.UseMiddleware(s.authenticate)

	s.registerHealth()
	s.registerAuth()
	s.registerPreferences()
	s.registerAccess()
	s.registerSchemas()
	s.registerRecords()
	s.registerMerge()
	s.registerRulesets()
	s.registerImports()
	s.registerConnectors()
	if deps.Processes != nil {
		s.registerProcesses()
		s.registerTaskTypes()
		s.registerSimulate()
	}
	if deps.Instances != nil {
		s.registerInstances()
	}
	if deps.Inbox != nil {
		s.registerTasks()
	}
	if deps.ExternalTasks != nil {
		s.registerExternalTasks()
	}
	if deps.Notifications != nil {
		s.registerNotifications()
		s.registerMessaging()
	}
	if deps.Forms != nil {
		s.registerForms()
	}
	if deps.Surveys != nil {
		s.registerSurveys()
	}
	if deps.Records != nil {
		s.registerMyDay()
	}
	if deps.Cadences != nil {
		s.registerCadences()
	}
	if deps.Analytics != nil {
		s.registerAnalytics()
	}
	ui.Mount(s.app)
	return s
}

// App exposes the Fiber application, for tests that call it without a listener.
func (s *Server) App() *fiber.App { return s.app }

// OpenAPI is the generated API description.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.app.Listener(ln); err != nil {
		return fmt.Errorf("http: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.app.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("http: shutdown: %w", err)
	}
	return nil
}

// handleError turns every error that reaches Fiber (unknown routes, oversize bodies, panics) into a problem.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	var p *Problem
	var fe *fiber.Error
	switch {
	case errors.As(err, &p):
	case errors.As(err, &fe):
		detail := fe.Message
		switch fe.Code {
		case http.StatusRequestEntityTooLarge:
			detail = fmt.Sprintf("request body exceeds the limit of %d bytes", s.deps.BodyLimit)
		case http.StatusNotFound:
			detail = "no route for " + c.Method() + " " + c.Path()
		}
		p = NewProblem(fe.Code, detail)
	default:
		id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
		s.deps.Logger.Error("request failed", "requestId", id, "path", c.Path(), "error", err)
		if p = unavailable(err); p == nil {
			p = NewProblem(http.StatusInternalServerError, "internal error; quote the request ID when reporting it")
		}
	}
	return writeProblem(c, p)
}

// schemaName names OpenAPI schemas like Huma does, but prefixes types from other Rapport packages with
// their package (ProcessHistoryEntry, RecordsHistoryEntry), so equal type names in different packages
// never collide.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	const own = "github.com/rapportcrm/rapport/"
	if t.Name() == "" || !strings.HasPrefix(pkg, own) || pkg == own+"admin/api" {
		return name
	}
	base := pkg[strings.LastIndexByte(pkg, '/')+1:]
	return strings.ToUpper(base[:1]) + base[1:] + name
}

func (s *Server) logRequests(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status = fe.Code
		}
	}
	id, _ := c.Locals(requestid.ConfigDefault.ContextKey).(string)
	s.deps.Logger.Debug("http request", "method", c.Method(), "path", c.Path(), "status", status,
		"duration", time.Since(start), "requestId", id)
	return err
}
