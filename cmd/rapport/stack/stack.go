// Package stack assembles a running Rapport from its parts — the MongoDB store, the Temporal client and
// worker, the HTTP server, and in development the embedded FerretDB and Temporal servers — and takes them
// down again in the right order. The `dev`, `server` and `worker` commands and the tests all start
// Rapport through here, so there is one way to wire it.
package stack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
	"github.com/rapportcrm/rapport/workflows"
	"github.com/rapportcrm/rapport/workflows/devserver"
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

	Logger *slog.Logger
	// Console receives the start-up banner and a generated admin password; nil discards.
	Console io.Writer
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
	cfg      Config
	log      *slog.Logger
	ferret   *ferret.Server
	temporal *devserver.Server
	mongo    *mongo.Client
	// DB is Rapport's MongoDB database.
	DB *mongo.Database
	// Temporal is a client on Rapport's namespace.
	Temporal client.Client
	// Users is the identity store.
	Users  *identity.Store
	worker worker.Worker
	http   *api.Server
	ln     net.Listener
	served chan error
	// MongoURI and TemporalAddr are where the stack's stores are, for the start-up banner and tests.
	MongoURI     string
	TemporalAddr string
	// BaseURL is the HTTP server's root URL, empty when not serving.
	BaseURL string
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
	defer func() {
		if err != nil {
			s.Stop(context.Background())
		}
	}()
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
	if s.Users, err = identity.NewStore(s.DB, nil); err != nil {
		return nil, err
	}
	if err := s.Users.EnsureIndexes(ctx); err != nil {
		return nil, err
	}
	if cfg.Serve {
		if err := s.bootstrapAdmin(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Work {
		if err := workflows.EnsureSearchAttributes(ctx, s.Temporal, cfg.TemporalNamespace); err != nil {
			return nil, err
		}
		s.worker = worker.New(s.Temporal, workflows.TaskQueue, worker.Options{WorkerStopTimeout: 20 * time.Second})
		workflows.Register(s.worker)
		if err := s.worker.Start(); err != nil {
			s.worker = nil
			return nil, fmt.Errorf("start worker: %w", err)
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
	embeddedLog := slog.New(levelFilter{Handler: s.log.Handler(), min: s.cfg.EmbeddedLogLevel})
	f, err := ferret.Start(ctx, ferret.Config{
		Dir: filepath.Join(s.cfg.DataDir, "mongo"), Addr: s.cfg.EmbeddedMongoAddr,
		Logger: embeddedLog.With("component", "ferretdb"),
	})
	if err != nil {
		return err
	}
	s.ferret = f
	s.MongoURI = f.URI()
	t, err := devserver.Start(ctx, devserver.Config{
		DatabaseFile:     filepath.Join(s.cfg.DataDir, "temporal.db"),
		FrontendAddr:     s.cfg.EmbeddedTemporalAddr,
		Namespace:        s.cfg.TemporalNamespace,
		SearchAttributes: workflows.SearchAttributes(),
		Logger:           embeddedLog,
	})
	if err != nil {
		return err
	}
	s.temporal = t
	s.TemporalAddr = t.FrontendAddr()
	return nil
}

func (s *Stack) connectMongo(ctx context.Context) error {
	c, err := mongo.Connect(options.Client().ApplyURI(s.MongoURI).SetAppName("rapport").SetTimeout(30 * time.Second))
	if err != nil {
		return fmt.Errorf("connect to MongoDB: %w", err)
	}
	s.mongo = c
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Ping(pingCtx, nil); err != nil {
		return fmt.Errorf("ping MongoDB: %w", err)
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

func (s *Stack) serve() error {
	s.http = api.New(api.Deps{
		Logger: s.log, DB: s.DB, Users: s.Users, Temporal: s.Temporal,
		Namespace: s.cfg.TemporalNamespace, TaskQueue: workflows.TaskQueue,
		SessionTTL: s.cfg.SessionTTL, SecureCookies: s.cfg.SecureCookies,
	})
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
	s.served = make(chan error, 1)
	go func() { s.served <- s.http.Serve(ln) }()
	return nil
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
}

// Stop takes the stack down in reverse order: stop taking requests and drain them, stop the worker
// (letting running activities finish), close clients, then stop the embedded servers so their files are
// consistent. It is safe on a partly started stack.
func (s *Stack) Stop(ctx context.Context) {
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
	}
	if s.worker != nil {
		s.worker.Stop()
		s.worker = nil
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
