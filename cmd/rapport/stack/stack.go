// Package stack assembles a running Rapport from its parts — the MongoDB store, the Temporal client and
// worker, the HTTP server, and in development the embedded FerretDB and Temporal servers — and takes them
// down again in the right order. The `dev`, `server` and `worker` commands and the tests all start
// Rapport through here, so there is one way to wire it.
package stack

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/analytics"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/connections"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/externaltasks"
	"github.com/rapportcrm/rapport/engine/forms"
	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/inbox"
	"github.com/rapportcrm/rapport/engine/notifications"
	"github.com/rapportcrm/rapport/engine/outbound"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
	"github.com/rapportcrm/rapport/engine/surveys"
	"github.com/rapportcrm/rapport/engine/tasktypes"
	"github.com/rapportcrm/rapport/engine/telemetry"
	"github.com/rapportcrm/rapport/plugins/host"
	"github.com/rapportcrm/rapport/workflows"
	wfanalytics "github.com/rapportcrm/rapport/workflows/analytics"
	"github.com/rapportcrm/rapport/workflows/devserver"
	"github.com/rapportcrm/rapport/workflows/erpsync"
	"github.com/rapportcrm/rapport/workflows/instances"
	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
	"github.com/rapportcrm/rapport/workflows/schedules"
	"github.com/rapportcrm/rapport/workflows/services"
	"github.com/rapportcrm/rapport/workflows/triggers"
)

// Config is everything a Rapport process can be told.
type Config struct {
	// Embedded starts FerretDB and a Temporal server in this process, storing under DataDir.
	Embedded bool
	// DataDir holds the embedded servers' files (embedded mode only).
	DataDir string
	// EmbeddedMongoAddr and EmbeddedTemporalAddr are loopback addresses for the embedded servers;
	// port 0 picks a free one.
	EmbeddedMongoAddr    string
	EmbeddedTemporalAddr string
	// EmbeddedLogLevel filters the embedded servers' own logs (they are chatty below warn).
	EmbeddedLogLevel slog.Level

	// Serve runs the HTTP API and admin UI on HTTPAddr.
	Serve    bool
	HTTPAddr string
	// Work runs the Temporal worker.
	Work bool

	MongoURI          string
	MongoDatabase     string
	TemporalAddress   string
	TemporalNamespace string
	TemporalTLS       TLSConfig

	// AdminEmail and AdminPassword create the first administrator when there are no users; an empty
	// password is generated and printed once to Console.
	AdminEmail    string
	AdminPassword string
	SessionTTL    time.Duration
	SecureCookies bool
	// CORSOrigins are the browser origins allowed to call the API; empty turns CORS off.
	CORSOrigins []string
	// RateLimit caps each user's and each API token's requests; zero values take the defaults.
	RateLimit api.RateLimit
	// TrustedProxies are reverse proxies (CIDRs or addresses) whose X-Forwarded-For names the client.
	TrustedProxies []string
	// HTTPAllow widens what http service tasks may reach beyond public addresses: CIDRs, addresses and
	// host names, each optionally with a port (see engine/outbound).
	HTTPAllow []string

	// PluginsDir holds connector plugins (one folder each with a plugin.json); empty disables plugins.
	// In embedded mode an empty value means DataDir/plugins.
	PluginsDir string
	// SMTPURL is the mail server notifications are sent through (smtp://user:pass@host:587?from=addr,
	// smtps://...); empty keeps mail in the development outbox in embedded mode and sends none otherwise.
	SMTPURL string
	// NoProcessTemplates leaves the shipped CRM processes uninstalled (test stacks of packages that deploy
	// processes of their own under the same keys); everything else shipped is installed.
	NoProcessTemplates bool
	// PublicURL is where people reach Rapport (links in notifications and surveys); empty uses the
	// HTTP server's own address.
	PublicURL string

	// SecretKey (base64, 32 bytes) encrypts connector secrets at rest. In embedded mode, when empty, a
	// key is generated once into DataDir/secret.key.
	SecretKey string

	// MetricsAddr serves Prometheus metrics at /metrics on a listener of its own; empty serves none.
	MetricsAddr string
	// OTLPEndpoint receives traces over OTLP/gRPC (OTLPInsecure: without TLS); empty exports none.
	OTLPEndpoint string
	OTLPInsecure bool
	// TraceExporter receives every span synchronously instead (tests use an in-memory exporter).
	TraceExporter sdktrace.SpanExporter

	// WorkflowCache is how many process instances the worker keeps in memory between their steps
	// (Temporal's sticky workflow cache); an instance that was evicted is rebuilt from its history when it
	// next runs. An idle instance holds about 190 KB (a follow-up cadence, measured), and the SDK's
	// default of 10,000 let 10,000 waiting cadences fill the embedded stack's heap with ~2 GB that every
	// garbage collection marks, slowing every request. The embedded Temporal server's history service
	// keeps as many executions in its own cache (devserver.Config.HistoryCache; Temporal's default of
	// 128,000 held every waiting cadence, ~27 KB each, measured). Zero means DefaultWorkflowCache.
	WorkflowCache int

	Logger *slog.Logger
	// Console receives the start-up banner and a generated admin password; nil discards.
	Console io.Writer
}

// DefaultWorkflowCache is how many process instances a worker keeps in memory unless told otherwise:
// enough for the instances that are busy at once, a bounded heap for the thousands that wait for days.
const DefaultWorkflowCache = 1000

// workflowCache is WorkflowCache or its default.
func (c Config) workflowCache() int {
	if c.WorkflowCache <= 0 {
		return DefaultWorkflowCache
	}
	return c.WorkflowCache
}

// TLSConfig holds the client certificate settings for a Temporal cluster that requires TLS.
type TLSConfig struct {
	Enabled    bool
	CertFile   string
	KeyFile    string
	CAFile     string
	ServerName string
}

// Stack is a running Rapport process.
type Stack struct {
	cfg    Config
	log    *slog.Logger
	ferret *ferret.Server
	// ferretMu guards ferret, which StopEmbeddedStore and StartEmbeddedStore replace while lists read it.
	ferretMu sync.RWMutex
	temporal *devserver.Server
	mongo    *mongo.Client
	// DB is Rapport's MongoDB database.
	DB *mongo.Database
	// Temporal is a client on Rapport's namespace.
	Temporal client.Client
	// Users is the identity store.
	Users *identity.Store
	// Access is the roles model; Audit the append-only audit log every change is recorded in.
	Access *access.Policy
	Audit  *audit.Log
	// Records stores entity schemas and records (set when serving).
	Records *records.Store
	// Processes stores BPMN process definitions and versions; Rulesets the rule sets and calendars.
	Processes *definitions.Store
	Rulesets  *rulesets.Store
	// Analytics computes RFM, Pareto, CLV, loyalty, funnel, service and process figures.
	Analytics *analytics.Engine
	// Starter is the one way instances start; Messages correlates messages; Outbox delivers the
	// process work of record changes.
	Starter    *process.Starter
	Messages   *messages.Publisher
	Outbox     *triggers.Dispatcher
	stopOutbox context.CancelFunc
	outboxDone chan struct{}
	enforcer   *rulesets.Enforcer
	// Notifications are what processes send people: templates, in-app, mail, webhooks.
	Notifications *notifications.Store
	// Inbox is the materialised task inbox the instances write; Instances lists, describes and
	// operates them.
	Inbox     *inbox.Store
	Instances *instances.Service
	// ExternalTasks are the external tasks parked for REST workers.
	ExternalTasks *process.ExternalTasks
	// bridge polls the external task queue and parks its tasks for REST workers.
	bridge worker.Worker
	// Forms keeps the public web forms; Surveys the satisfaction surveys.
	Forms   *forms.Store
	Surveys *surveys.Store
	// DevOutbox is true when mail goes to the development outbox instead of a mail server.
	DevOutbox bool
	worker    worker.Worker
	http      *api.Server
	// Plugins runs connector plugins (nil without a plugins directory); Connectors stores instances.
	Plugins    *host.Host
	Connectors *connections.Store
	sealer     *host.Sealer
	// backend is the one Backend of the stack's database: its locks are shared by every store.
	backend     *storage.Backend
	backendOnce sync.Once
	// secretKey is the operator's secret key (RAPPORT_SECRET_KEY, generated in embedded mode), nil when
	// none is set; list cursors are sealed with a key derived from it.
	secretKey []byte
	// outbound is the policy every outbound HTTP request of processes passes.
	outbound *outbound.Policy
	ln       net.Listener
	served   chan error
	// cadences runs bulk starts of follow-up cadences; Stop ends them before the clients close.
	cadences *services.Cadences
	// MongoURI and TemporalAddr are where the stack's stores are, for the start-up banner and tests.
	MongoURI     string
	TemporalAddr string
	// BaseURL is the HTTP server's root URL, empty when not serving.
	BaseURL string
	// Telemetry holds the process's metrics and tracer; MetricsURL is where the metrics are served
	// (empty without Config.MetricsAddr).
	Telemetry  *telemetry.Telemetry
	MetricsURL string
	metrics    *http.Server
}

// Start brings the configured parts up in dependency order; on any failure it takes down what it
// started and returns the error.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if cfg.MongoDatabase == "" {
		cfg.MongoDatabase = "rapport"
	}
	if cfg.TemporalNamespace == "" {
		cfg.TemporalNamespace = "rapport"
	}
	s := &Stack{cfg: cfg, log: cfg.Logger}
	if s.outbound, err = outbound.ParsePolicy(cfg.HTTPAllow); err != nil {
		return nil, fmt.Errorf("--http-allow: %w", err)
	}
	defer func() {
		if err != nil {
			s.Stop(context.Background())
		}
	}()
	if err := s.startTelemetry(ctx); err != nil {
		return nil, err
	}
	if cfg.Work {
		// The SDK keeps one workflow cache per process, sized when the process's first worker starts — in
		// embedded mode that is one of the Temporal server's own system workers, so this comes first.
		worker.SetStickyWorkflowCacheSize(cfg.workflowCache())
	}
	if cfg.Embedded {
		if err := s.startEmbedded(ctx); err != nil {
			return nil, err
		}
	} else {
		s.MongoURI, s.TemporalAddr = cfg.MongoURI, cfg.TemporalAddress
	}
	if s.MongoURI == "" {
		return nil, errors.New("no MongoDB URI: set RAPPORT_MONGODB_URI")
	}
	if s.TemporalAddr == "" {
		return nil, errors.New("no Temporal address: set RAPPORT_TEMPORAL_ADDRESS")
	}
	if err := s.connectMongo(ctx); err != nil {
		return nil, err
	}
	if err := s.connectTemporal(ctx); err != nil {
		return nil, err
	}
	if s.Users, err = identity.NewStore(s.DB, identity.Options{Backend: s.Backend()}); err != nil {
		return nil, err
	}
	if err := s.Users.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	if s.Access, err = access.NewPolicy(ctx, s.DB, access.Options{}); err != nil {
		return nil, err
	}
	if s.Audit = audit.New(s.DB, nil); s.Audit.EnsureIndexes(ctx) != nil {
		s.log.Warn("audit log indexes could not be created; filters will be slower")
	}
	if cfg.Serve {
		if err := s.bootstrapAdmin(ctx); err != nil {
			return nil, err
		}
		if err := s.listen(); err != nil {
			return nil, err
		}
	}
	if err := s.startPlugins(ctx); err != nil {
		return nil, err
	}
	s.Records = records.New(s.DB, records.Options{Logger: s.log, OnChange: s.recordChanged, Enforce: s.enforceRules, CursorKey: s.secretKey,
		Backend: s.Backend()})
	if err := s.Records.Install(ctx); err != nil {
		return nil, fmt.Errorf("install entity schemas: %w", err)
	}
	if err := s.startNotifications(ctx); err != nil {
		return nil, err
	}
	s.Rulesets = rulesets.New(s.DB, rulesets.Options{Entities: s.Records})
	if err := s.Rulesets.Install(ctx); err != nil {
		return nil, fmt.Errorf("install rule sets: %w", err)
	}
	s.enforcer = s.Rulesets.NewEnforcer()
	s.Forms = forms.New(s.DB, s.Records, s.Records)
	if err := s.installDefaults(ctx); err != nil {
		return nil, fmt.Errorf("install the shipped defaults: %w", err)
	}
	if s.Analytics, err = analytics.New(ctx, s.DB, analytics.Options{Records: s.Records, Rulesets: s.Rulesets, Backend: s.Backend(), Logger: s.log}); err != nil {
		return nil, err
	}
	if err := s.Analytics.Install(ctx); err != nil {
		return nil, fmt.Errorf("install analytics: %w", err)
	}
	// Deploying checks http tasks against the outbound policy and connector tasks against their plugin's
	// description.
	connectorTasks := services.Connectors{Resolver: connections.Resolver{Host: s.Plugins, Store: s.Connectors, Sealer: s.sealer}}
	s.Processes = definitions.New(s.DB, definitions.Options{Entities: s.entityTypes, Authority: s.Access,
		OnPublish: s.schedulePublished, CheckTask: func(taskType string, headers []bpmn.Header, inputs []bpmn.Mapping) error {
			if err := s.outbound.CheckTask(taskType, headers, inputs); err != nil {
				return err
			}
			return connectorTasks.CheckTask(taskType, headers, inputs)
		}, TaskEnv: s.taskEnv(), TaskTypes: services.CRMTaskTypes()})
	if err := s.Processes.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	if err := s.startOutbox(ctx); err != nil {
		return nil, err
	}
	s.ExternalTasks = &process.ExternalTasks{Store: externaltasks.New(s.DB, s.Backend()), Temporal: s.Temporal}
	if err := s.ExternalTasks.Store.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	if cfg.Serve && !cfg.NoProcessTemplates {
		if err := s.installProcesses(ctx); err != nil {
			return nil, fmt.Errorf("install the process templates: %w", err)
		}
	}
	s.startSurveys()
	if s.ferret != nil {
		// Every collection exists now: make their by-_id operations index lookups before serving (new
		// collections are indexed by the embedded store's own loop).
		if err := s.ferret.IndexIDs(ctx); err != nil {
			s.log.Warn("index the embedded store's collections by _id", "error", err)
		}
	}
	s.Inbox = inbox.New(s.DB, inbox.Options{Backend: s.Backend(), Names: inbox.RecordNames(s.Records),
		Forms: inbox.ModelForms{Models: s.Processes}})
	s.Instances = &instances.Service{Temporal: s.Temporal, Namespace: cfg.TemporalNamespace, TaskQueue: workflows.TaskQueue,
		Definitions: s.Processes, Inbox: s.Inbox}
	if err := s.serveMetrics(); err != nil {
		return nil, err
	}
	if cfg.Work {
		if err := workflows.EnsureSearchAttributes(ctx, s.Temporal, cfg.TemporalNamespace); err != nil {
			return nil, err
		}
		s.worker = worker.New(s.Temporal, workflows.TaskQueue, worker.Options{WorkerStopTimeout: 20 * time.Second,
			Interceptors: s.WorkerInterceptors()})
		workflows.Register(s.worker)
		process.Register(s.worker, &process.Activities{Registry: s.TaskRegistry(), Store: s.Processes, Calendars: s.Rulesets,
			Inbox: process.InboxStore{Store: s.Inbox}, Elements: process.ElementStats{Engine: s.Analytics}})
		instances.RegisterBatches(s.worker, &instances.BatchActivities{Service: s.Instances, Audit: s.Audit})
		erpsync.Register(s.worker, &erpsync.Activities{
			Resolver: connections.Resolver{Host: s.Plugins, Store: s.Connectors, Sealer: s.sealer},
			Records:  s.Records, State: s.DB.Collection("erp_sync"),
		})
		wfanalytics.Register(s.worker, &wfanalytics.Activities{Engine: s.Analytics})
		if err := s.worker.Start(); err != nil {
			s.worker = nil
			return nil, fmt.Errorf("start worker: %w", err)
		}
		s.bridge = worker.New(s.Temporal, process.ExternalTaskQueue, worker.Options{WorkerStopTimeout: 5 * time.Second})
		process.RegisterBridge(s.bridge, &process.Bridge{Store: s.ExternalTasks.Store})
		if err := s.bridge.Start(); err != nil {
			s.bridge = nil
			return nil, fmt.Errorf("start external task bridge: %w", err)
		}
	}
	if cfg.Serve {
		if err := s.serve(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) startEmbedded(ctx context.Context) error {
	if s.cfg.DataDir == "" {
		return errors.New("embedded mode needs a data directory")
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	f, err := ferret.Start(ctx, s.ferretConfig(s.cfg.EmbeddedMongoAddr))
	if err != nil {
		return err
	}
	s.ferret = f
	s.MongoURI = f.URI()
	t, err := devserver.Start(ctx, s.devserverConfig(s.cfg.EmbeddedTemporalAddr))
	if err != nil {
		return err
	}
	s.temporal = t
	s.TemporalAddr = t.FrontendAddr()
	s.outbound.RefuseOwnPorts(portOf(f.URI()), portOf(s.TemporalAddr))
	return nil
}

// portOf returns the port of a host:port address or a URL, 0 when there is none.
func portOf(addr string) int {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// startPlugins opens the plugin host and the sealed connector store; plugins start on first use.
func (s *Stack) startPlugins(ctx context.Context) error {
	s.Connectors = connections.NewStore(s.DB)
	dir, keyText := s.cfg.PluginsDir, s.cfg.SecretKey
	if s.cfg.Embedded {
		if dir == "" {
			dir = filepath.Join(s.cfg.DataDir, "plugins")
		}
		if keyText == "" {
			var err error
			if keyText, err = devSecretKey(filepath.Join(s.cfg.DataDir, "secret.key")); err != nil {
				return err
			}
		}
	}
	var key []byte
	if keyText != "" {
		var err error
		if key, err = base64.StdEncoding.DecodeString(strings.TrimSpace(keyText)); err != nil {
			return fmt.Errorf("RAPPORT_SECRET_KEY is not base64: %w", err)
		}
		s.secretKey = key
	}
	if dir == "" {
		return nil
	}
	if keyText == "" {
		return errors.New("a plugins directory is set but no secret key: set RAPPORT_SECRET_KEY (32 random bytes, base64) to encrypt connector secrets")
	}
	var err error
	if s.sealer, err = host.NewSealer(key); err != nil {
		return fmt.Errorf("RAPPORT_SECRET_KEY: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil && !os.IsExist(err) {
		return fmt.Errorf("create plugins directory: %w", err)
	}
	// The host watches the directory: plugins installed or upgraded while Rapport runs are picked up
	// without a restart (POST /api/v1/plugins/rescan applies them at once).
	if s.Plugins, err = host.New(host.Options{Dir: dir, Logger: s.log.With("component", "plugins"), Observer: s.Telemetry}); err != nil {
		return err
	}
	if err := s.Plugins.Restore(ctx, s.Connectors, s.sealer); err != nil {
		// One broken instance must not keep the others (or Rapport) down.
		s.log.Warn("some connector instances could not be restored", "error", err)
	}
	return nil
}

// devSecretKey reads the development key file, creating it with a random key on first use.
func devSecretKey(path string) (string, error) {
	if raw, err := os.ReadFile(path); err == nil {
		return string(raw), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read secret key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate secret key: %w", err)
	}
	text := base64.StdEncoding.EncodeToString(key)
	if err := os.WriteFile(path, []byte(text+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write secret key: %w", err)
	}
	return text, nil
}

// storeSelectionTimeout bounds how long a store operation waits for a reachable server: while the store
// is down, requests fail within it (the API answers 503) instead of hanging for the whole operation
// timeout. A MongoDB replica set elects a new primary within it as a rule.
const storeSelectionTimeout = 5 * time.Second

func (s *Stack) connectMongo(ctx context.Context) error {
	c, err := mongo.Connect(options.Client().ApplyURI(s.MongoURI).SetAppName("rapport").SetTimeout(30 * time.Second).
		SetServerSelectionTimeout(storeSelectionTimeout).SetMonitor(s.Telemetry.StoreMonitor()))
	if err != nil {
		return fmt.Errorf("connect to MongoDB: %w", err)
	}
	s.mongo = c
	// A store that is still starting (docker compose, a restarting replica set) gets 30 s, although one
	// ping gives up after the server selection timeout.
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := c.Ping(pingCtx, nil)
		if err == nil {
			break
		}
		if pingCtx.Err() != nil {
			return fmt.Errorf("ping MongoDB: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.DB = c.Database(s.cfg.MongoDatabase)
	return nil
}

func (s *Stack) connectTemporal(ctx context.Context) error {
	opts := client.Options{
		HostPort:  s.TemporalAddr,
		Namespace: s.cfg.TemporalNamespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(levelFilter{Handler: s.log.Handler(), min: slog.LevelWarn}).With("component", "temporal-sdk")),
	}
	tracing, err := s.temporalTracing()
	if err != nil {
		return err
	}
	opts.Interceptors = tracing
	if s.cfg.TemporalTLS.Enabled {
		tlsCfg, err := s.cfg.TemporalTLS.load()
		if err != nil {
			return err
		}
		opts.ConnectionOptions.TLS = tlsCfg
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connect to Temporal at %s: %w", s.TemporalAddr, err)
	}
	s.Temporal = c
	return nil
}

func (t TLSConfig) load() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load Temporal client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read Temporal CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate found in Temporal CA file %s", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func (s *Stack) bootstrapAdmin(ctx context.Context) error {
	email := s.cfg.AdminEmail
	if email == "" {
		email = "admin@localhost"
	}
	created, generated, err := s.Users.Bootstrap(ctx, email, s.cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("create the first administrator: %w", err)
	}
	if created {
		s.log.Info("created the first administrator", "email", email)
		if generated != "" {
			fmt.Fprintf(s.cfg.Console, "\n  First administrator created: %s\n  Password (shown once, change it): %s\n\n", email, generated)
		}
	}
	return nil
}

// enforceRules applies the entity's published validation and computed rule sets to a record being written.
func (s *Stack) enforceRules(ctx context.Context, entity string, rec map[string]any) (map[string]any, []schema.FieldError, error) {
	if s.enforcer == nil {
		return nil, nil, nil
	}
	return s.enforcer.Enforce(ctx, entity, rec)
}

// startOutbox wires the one starter, the message publisher and the record-change outbox, and starts the
// outbox's delivery loop (every Rapport process writes records: the server for people, the worker for
// processes).
func (s *Stack) startOutbox(ctx context.Context) error {
	s.Starter = &process.Starter{Temporal: s.Temporal, TaskQueue: workflows.TaskQueue, Definitions: s.Processes}
	s.Messages = &messages.Publisher{Temporal: s.Temporal, Starts: s.Processes, Starter: s.Starter, Namespace: s.cfg.TemporalNamespace}
	matcher := triggers.NewMatcher(s.Processes, triggers.RefsFrom(s.recordRefs))
	s.Outbox = triggers.NewDispatcher(s.DB, matcher, s.Starter, s.Messages, s.log.With("component", "outbox"))
	if s.Telemetry.Tracing() {
		s.Outbox.Propagator = s.Telemetry.Propagator()
	}
	if err := s.Outbox.EnsureIndexes(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.stopOutbox, s.outboxDone = cancel, make(chan struct{})
	go func() {
		defer close(s.outboxDone)
		s.Outbox.Run(runCtx)
	}()
	return nil
}

// recordChanged writes the process work of a stored record change to the outbox.
func (s *Stack) recordChanged(ctx context.Context, entity, op string, rec records.Record, changed []string) error {
	s.Telemetry.RecordWritten(entity, op)
	if s.Outbox == nil {
		return nil
	}
	return s.Outbox.RecordChanged(ctx, entity, op, rec, changed)
}

// recordRefs lists an entity's reference fields to other records (not users or teams): a change of a
// record is also delivered to the instances bound to the records it references.
func (s *Stack) recordRefs(ctx context.Context, entity string) ([]string, error) {
	info, err := s.Records.Schema(ctx, entity)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range info.Entity.Fields {
		if f.Type == schema.TypeReference && f.Ref != schema.RefUser && f.Ref != schema.RefTeam {
			out = append(out, f.Name)
		}
	}
	return out, nil
}

// schedulePublished makes the timer start events of a newly published version run on Temporal
// schedules; a failure is a warning for the publisher (the version stays published).
func (s *Stack) schedulePublished(ctx context.Context, v definitions.Version, m *bpmn.Model) []string {
	if err := schedules.Sync(ctx, s.Temporal, workflows.TaskQueue, v.Key, v.Version, m); err != nil {
		s.log.Error("schedule timer starts", "process", v.Key, "version", v.Version, "error", err)
		return []string{"timer start events are not scheduled: " + err.Error()}
	}
	return nil
}

// entityTypes types `record` in record-triggered processes by the entity's current schema.
func (s *Stack) entityTypes(entity string) (*expression.Type, bool) {
	if s.Records == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := s.Records.Schema(ctx, entity)
	if err != nil {
		return nil, false
	}
	return expression.ObjectOf(schema.EnvFor(info.Entity).Vars()), true
}

// taskEnv is what the task type checks look up when a process is deployed: entities (their record
// types and enum values), rule sets and configured connectors. A lookup that fails for another reason
// than "not found" does not refuse the process.
func (s *Stack) taskEnv() tasktypes.Env {
	lookup := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}
	return tasktypes.Env{
		Entity: func(name string) (tasktypes.Entity, bool) {
			ctx, cancel := lookup()
			defer cancel()
			info, err := s.Records.Schema(ctx, name)
			if errors.Is(err, records.ErrNotFound) {
				return tasktypes.Entity{}, false
			}
			if err != nil {
				return tasktypes.Entity{}, true
			}
			out := tasktypes.Entity{Type: expression.ObjectOf(schema.EnvFor(info.Entity).Vars()), Enums: map[string][]string{}}
			for _, f := range info.Entity.Fields {
				if f.Type == schema.TypeEnum {
					for _, o := range f.Options {
						out.Enums[f.Name] = append(out.Enums[f.Name], o.Value)
					}
				}
			}
			return out, true
		},
		Ruleset: func(key string) (tasktypes.Ruleset, bool) {
			ctx, cancel := lookup()
			defer cancel()
			info, err := s.Rulesets.Get(ctx, key)
			if errors.Is(err, rulesets.ErrNotFound) {
				return tasktypes.Ruleset{}, false
			}
			if err != nil {
				return tasktypes.Ruleset{}, true
			}
			return tasktypes.Ruleset{Kind: string(info.Kind), Entity: info.Entity}, true
		},
		Connector: func(name string) bool {
			if s.Connectors == nil {
				return true
			}
			ctx, cancel := lookup()
			defer cancel()
			_, ok, err := s.Connectors.Get(ctx, name)
			return ok || err != nil
		},
	}
}

// WorkerInterceptors are the interceptors of the process worker: process metrics, the guard that
// checks every task against its process's run-as identity, and the heartbeats that get a killed
// worker's tasks retried in seconds. (Tracing comes with the client.)
func (s *Stack) WorkerInterceptors() []interceptor.WorkerInterceptor {
	guard := &services.Guard{RunAs: s.Processes, Access: s.Access, Users: s.Users, Audit: s.Audit}
	return []interceptor.WorkerInterceptor{&processMetrics{t: s.Telemetry}, guard.Interceptor(),
		services.Heartbeats{}.Interceptor()}
}

// TaskRegistry wires every task type of the process interpreter to Rapport's stores and plugins; the
// worker runs it, and tests run processes on it.
func (s *Stack) TaskRegistry() *process.Registry {
	recs := services.Records{Store: s.Records, Access: s.Access}
	reg := process.NewDefaultRegistry(process.Services{
		Records:    recs,
		Rules:      services.Rules{Rulesets: s.Rulesets, Records: recs},
		Tasks:      services.Tasks{Records: recs},
		Connectors: services.Connectors{Resolver: connections.Resolver{Host: s.Plugins, Store: s.Connectors, Sealer: s.sealer}},
		Messages:   services.Messages{Publisher: s.Messages},
		HTTP:       outbound.NewClient(s.outbound, outbound.Limits{}),
	})
	reg.Register(services.TypeRecordFind, services.Find{Records: recs})
	reg.Register(services.TypeRecordMatch, services.Match{Records: recs})
	reg.Register(services.TypeRulesAssign, services.Assign{Rulesets: s.Rulesets, Records: recs, Users: s.Users,
		Cursors: s.DB.Collection("assignment_cursors"), Backend: s.Backend()})
	reg.Register(services.TypeLeadConvert, services.Convert{Records: recs})
	reg.Register(services.TypeSurveyCreate, services.SurveyCreate{Surveys: s.Surveys, BaseURL: s.PublicURL()})
	reg.Register(services.TypeNotify, services.Notify{Store: s.Notifications, Records: recs, BaseURL: s.PublicURL()})
	return reg
}

func (s *Stack) serve() error {
	trusted, err := api.ParseTrustedProxies(s.cfg.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	s.cadences = &services.Cadences{Records: s.Records, Starter: s.Starter, Jobs: s.DB.Collection("cadence_jobs"), Logger: s.log}
	s.http = api.New(api.Deps{
		Records: s.Records, Rulesets: s.Rulesets, Processes: s.Processes, Notifications: s.Notifications, Analytics: s.Analytics,
		Starter: s.Starter, Messages: s.Messages, Inbox: s.Inbox, Instances: s.Instances, ExternalTasks: s.ExternalTasks,
		DevOutbox: s.DevOutbox, Forms: s.Forms, Surveys: s.Surveys, PublicURL: s.PublicURL(),
		Cadences: s.cadences,
		Logger:   s.log, DB: s.DB, Users: s.Users, Temporal: s.Temporal,
		Namespace: s.cfg.TemporalNamespace, TaskQueue: workflows.TaskQueue,
		SessionTTL: s.cfg.SessionTTL, SecureCookies: s.cfg.SecureCookies,
		Plugins: s.Plugins, Connectors: s.Connectors, Sealer: s.sealer,
		Access: s.Access, Audit: s.Audit, CORSOrigins: s.cfg.CORSOrigins, RateLimit: s.cfg.RateLimit,
		TrustedProxies: trusted, Telemetry: s.Telemetry,
	})
	s.served = make(chan error, 1)
	go func() { s.served <- s.http.Serve(s.ln) }()
	return nil
}

// listen opens the HTTP listener before anything else needs the server's address (links in
// notifications, the outbound policy refusing our own port); serve starts answering on it.
func (s *Stack) listen() error {
	addr := s.cfg.HTTPAddr
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.BaseURL = "http://" + ln.Addr().String()
	s.outbound.RefuseOwnPorts(portOf(ln.Addr().String()))
	return nil
}

// Backend tells whether the stack's database is MongoDB or the FerretDB embedded in this process, which
// decides how stores make single-document updates atomic.
func (s *Stack) Backend() *storage.Backend {
	s.backendOnce.Do(func() {
		if s.ferret != nil {
			s.backend = storage.NewEmbedded(storeFiles{s})
			return
		}
		s.backend = storage.NewBackend(s.cfg.Embedded)
	})
	return s.backend
}

// StopEmbeddedTemporal stops the embedded Temporal server while the rest of the stack keeps running, as
// an outage would; StartEmbeddedTemporal brings it back. Tests use them to show that nothing Rapport
// promised is lost while Temporal is unreachable.
func (s *Stack) StopEmbeddedTemporal() error {
	if s.temporal == nil {
		return errors.New("no embedded Temporal server is running")
	}
	err := s.temporal.Stop()
	s.temporal = nil
	if err != nil {
		return fmt.Errorf("stop embedded Temporal: %w", err)
	}
	return nil
}

// StartEmbeddedTemporal starts the embedded Temporal server again on its address and database file; the
// stack's client and worker reconnect by themselves.
func (s *Stack) StartEmbeddedTemporal(ctx context.Context) error {
	if !s.cfg.Embedded || s.temporal != nil {
		return errors.New("the embedded Temporal server is not stopped")
	}
	t, err := devserver.Start(ctx, s.devserverConfig(s.TemporalAddr))
	if err != nil {
		return err
	}
	s.temporal = t
	return nil
}

// StopEmbeddedStore stops the embedded FerretDB while the rest of the stack keeps running, as a store
// outage would; StartEmbeddedStore brings it back on the same address and files. Chaos tests use them to
// show that the API answers 503 meanwhile and loses no acknowledged write.
func (s *Stack) StopEmbeddedStore() error {
	if s.ferret == nil {
		return errors.New("no embedded store is running")
	}
	s.ferret.Stop()
	s.ferretMu.Lock()
	s.ferret = nil
	s.ferretMu.Unlock()
	return nil
}

// StartEmbeddedStore starts the embedded FerretDB again after StopEmbeddedStore; the MongoDB client
// reconnects by itself.
func (s *Stack) StartEmbeddedStore(ctx context.Context) error {
	if !s.cfg.Embedded || s.ferret != nil {
		return errors.New("the embedded store is not stopped")
	}
	u, err := url.Parse(s.MongoURI)
	if err != nil {
		return fmt.Errorf("store address %s: %w", s.MongoURI, err)
	}
	f, err := ferret.Start(ctx, s.ferretConfig(u.Host))
	if err != nil {
		return err
	}
	s.ferretMu.Lock()
	s.ferret = f
	s.ferretMu.Unlock()
	return nil
}

// storeFiles answers lists from, and inserts into, the files of the embedded store the stack runs,
// whichever instance that is (StartEmbeddedStore starts a new one); while it is stopped, lists and
// inserts go through the MongoDB client and fail as every other read and write does.
type storeFiles struct{ s *Stack }

func (f storeFiles) List(ctx context.Context, q storage.ListQuery) (storage.ListResult, error) {
	fs, err := f.server()
	if err != nil {
		return storage.ListResult{}, err
	}
	return fs.List(ctx, q)
}

func (f storeFiles) IndexSort(ctx context.Context, database, collection, key string) error {
	fs, err := f.server()
	if err != nil {
		return err
	}
	return fs.IndexSort(ctx, database, collection, key)
}

func (f storeFiles) Insert(ctx context.Context, database string, docs []storage.InsertDoc) error {
	fs, err := f.server()
	if err != nil {
		return err
	}
	return fs.Insert(ctx, database, docs)
}

func (f storeFiles) server() (*ferret.Server, error) {
	f.s.ferretMu.RLock()
	defer f.s.ferretMu.RUnlock()
	if f.s.ferret == nil {
		return nil, fmt.Errorf("%w: the embedded store is stopped", storage.ErrNotPushed)
	}
	return f.s.ferret, nil
}

func (s *Stack) ferretConfig(addr string) ferret.Config {
	return ferret.Config{Dir: filepath.Join(s.cfg.DataDir, "mongo"), Addr: addr,
		Logger: slog.New(levelFilter{Handler: s.log.Handler(), min: s.cfg.EmbeddedLogLevel}).With("component", "ferretdb")}
}

func (s *Stack) devserverConfig(addr string) devserver.Config {
	return devserver.Config{
		DatabaseFile:     filepath.Join(s.cfg.DataDir, "temporal.db"),
		FrontendAddr:     addr,
		Namespace:        s.cfg.TemporalNamespace,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           slog.New(levelFilter{Handler: s.log.Handler(), min: s.cfg.EmbeddedLogLevel}),
		HistoryCache:     s.cfg.workflowCache(),
	}
}

// Banner prints where everything is, for the person who just ran `rapport dev`.
func (s *Stack) Banner() {
	w := s.cfg.Console
	fmt.Fprintln(w, "Rapport is running.")
	if s.BaseURL != "" {
		fmt.Fprintf(w, "  Admin UI:          %s/\n", s.BaseURL)
		fmt.Fprintf(w, "  API docs:          %s/api/docs/\n", s.BaseURL)
	}
	fmt.Fprintf(w, "  Temporal frontend: %s (namespace %s)\n", s.TemporalAddr, s.cfg.TemporalNamespace)
	fmt.Fprintf(w, "  MongoDB URI:       %s (database %s)\n", s.MongoURI, s.cfg.MongoDatabase)
	if s.MetricsURL != "" {
		fmt.Fprintf(w, "  Metrics:           %s\n", s.MetricsURL)
	}
}

// Stop takes the stack down in reverse order: stop taking requests and drain them, stop the worker
// (letting running activities finish), close clients, then stop the embedded servers so their files are
// consistent. It is safe on a partly started stack.
func (s *Stack) Stop(ctx context.Context) {
	if s.metrics != nil {
		_ = s.metrics.Close()
		s.metrics = nil
	}
	if s.http != nil {
		shutdownCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if err := s.http.Shutdown(shutdownCtx); err != nil {
			s.log.Warn("HTTP shutdown", "error", err)
		}
		cancel()
		if err := <-s.served; err != nil {
			s.log.Warn("HTTP server", "error", err)
		}
		s.http = nil
	} else if s.ln != nil {
		s.ln.Close() // opened but never served: the start failed in between
	}
	if s.cadences != nil {
		// A bulk start stops between two cadences and saves where it got to; running it again picks up the rest.
		s.cadences.Close()
		s.cadences = nil
	}
	if s.bridge != nil {
		s.bridge.Stop()
		s.bridge = nil
	}
	s.ln = nil
	if s.worker != nil {
		s.worker.Stop()
		s.worker = nil
	}
	if s.Records != nil {
		// Import jobs stop after their current batch (a re-run skips the rows already imported) and are
		// waited for, so none writes through a closed client.
		importsCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := s.Records.Shutdown(importsCtx); err != nil {
			s.log.Warn("import jobs still running at shutdown", "error", err)
		}
		cancel()
	}
	if s.stopOutbox != nil {
		s.stopOutbox()
		<-s.outboxDone
		s.stopOutbox = nil
	}
	if s.Plugins != nil {
		if err := s.Plugins.Close(); err != nil {
			s.log.Warn("plugin host close", "error", err)
		}
		s.Plugins = nil
	}
	if s.Temporal != nil {
		s.Temporal.Close()
		s.Temporal = nil
	}
	if s.mongo != nil {
		if err := s.mongo.Disconnect(ctx); err != nil {
			s.log.Warn("MongoDB disconnect", "error", err)
		}
		s.mongo = nil
	}
	if s.temporal != nil {
		if err := s.temporal.Stop(); err != nil {
			s.log.Warn("embedded Temporal stop", "error", err)
		}
		s.temporal = nil
	}
	if s.ferret != nil {
		s.ferret.Stop()
		s.ferret = nil
	}
	if err := s.Telemetry.Shutdown(ctx); err != nil {
		s.log.Warn("telemetry shutdown", "error", err)
	}
}

// levelFilter passes records at or above min; it lets the embedded servers be quieter than Rapport.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (l levelFilter) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= l.min && l.Handler.Enabled(ctx, level)
}

func (l levelFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFilter{Handler: l.Handler.WithAttrs(attrs), min: l.min}
}

func (l levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{Handler: l.Handler.WithGroup(name), min: l.min}
}
