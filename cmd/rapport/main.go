// Command rapport is the one Rapport binary: `rapport dev` runs everything in one process on embedded
// servers, `rapport server` and `rapport worker` run against a production MongoDB and Temporal cluster.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v3"

	"github.com/rapportcrm/rapport/admin/api"
	"github.com/rapportcrm/rapport/cmd/rapport/stack"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		fmt.Fprintln(os.Stderr, "Stopping (press Ctrl-C again to force)...")
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "Forced exit.")
		os.Exit(130)
	}()
	if err := newApp(os.Stdout, os.Stderr).Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "rapport:", err)
		os.Exit(1)
	}
}

// newApp builds the command tree; it takes its outputs as arguments so tests can run it.
func newApp(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "rapport",
		Usage:     "low-code CRM: entities, rules and BPMN processes on Temporal and MongoDB",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "minimum level of Rapport's logs: debug, info, warn, error", Sources: cli.EnvVars("RAPPORT_LOG_LEVEL")},
			&cli.StringFlag{Name: "log-format", Value: "auto", Usage: "log format: text, json, or auto (text on a terminal, JSON otherwise)", Sources: cli.EnvVars("RAPPORT_LOG_FORMAT")},
		},
		Commands: []*cli.Command{devCommand(stdout, stderr), serverCommand(stdout, stderr), workerCommand(stdout, stderr), pluginCommand(stdout, stderr),
			recordsCommand(stdout, stderr), loadCommand(stdout, stderr)},
	}
}

func devCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run everything in one process on embedded Temporal and FerretDB (evaluation and development)",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data-dir", Value: "./data", Usage: "directory for all state (SQLite files of FerretDB and Temporal)", Sources: cli.EnvVars("RAPPORT_DATA_DIR")},
			&cli.StringFlag{Name: "http-addr", Value: "127.0.0.1:8080", Usage: "address of the HTTP API and admin UI", Sources: cli.EnvVars("RAPPORT_HTTP_ADDR")},
			&cli.StringFlag{Name: "mongo-addr", Value: "127.0.0.1:27017", Usage: "loopback address of the embedded FerretDB (MongoDB wire protocol)", Sources: cli.EnvVars("RAPPORT_DEV_MONGO_ADDR")},
			&cli.StringFlag{Name: "temporal-addr", Value: "127.0.0.1:7233", Usage: "loopback address of the embedded Temporal frontend", Sources: cli.EnvVars("RAPPORT_DEV_TEMPORAL_ADDR")},
			&cli.StringFlag{Name: "embedded-log-level", Value: "warn", Usage: "minimum level of the embedded servers' logs", Sources: cli.EnvVars("RAPPORT_EMBEDDED_LOG_LEVEL")},
			workflowCacheFlag(),
		}, append(append(append(adminFlags(), namespaceFlag()), pluginFlags("connector plugins directory (default: <data-dir>/plugins; secret key generated into <data-dir>/secret.key)")...), telemetryFlags("127.0.0.1:9464")...)...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			logger, err := newLogger(cmd, stderr)
			if err != nil {
				return err
			}
			var embeddedLevel slog.Level
			if err := embeddedLevel.UnmarshalText([]byte(cmd.String("embedded-log-level"))); err != nil {
				return fmt.Errorf("--embedded-log-level: %w", err)
			}
			cfg := stack.Config{
				Embedded: true, Serve: true, Work: true,
				DataDir: cmd.String("data-dir"), HTTPAddr: cmd.String("http-addr"),
				EmbeddedMongoAddr: cmd.String("mongo-addr"), EmbeddedTemporalAddr: cmd.String("temporal-addr"),
				EmbeddedLogLevel: embeddedLevel, TemporalNamespace: cmd.String("temporal-namespace"),
			}
			applyAdminFlags(cmd, &cfg)
			applyPluginFlags(cmd, &cfg)
			applyTelemetryFlags(cmd, &cfg)
			cfg.WorkflowCache = int(cmd.Int("workflow-cache"))
			return run(ctx, cfg, logger, stdout)
		},
	}
}

// workflowCacheFlag sizes the worker's cache of process instances (stack.Config.WorkflowCache).
func workflowCacheFlag() cli.Flag {
	return &cli.IntFlag{Name: "workflow-cache", Value: stack.DefaultWorkflowCache, Usage: "process instances the worker keeps in memory between their steps (about 130 KB each), and the embedded Temporal server its cached executions (about 27 KB each); others are rebuilt from their history when they next run", Sources: cli.EnvVars("RAPPORT_WORKFLOW_CACHE")}
}

func serverCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "run the HTTP API and admin UI against an external MongoDB and Temporal cluster",
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "http-addr", Value: "0.0.0.0:8080", Usage: "address of the HTTP API and admin UI", Sources: cli.EnvVars("RAPPORT_HTTP_ADDR")},
		}, externalFlags()...), append(append(adminFlags(), pluginFlags("connector plugins directory; empty disables connectors")...), telemetryFlags("")...)...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			logger, err := newLogger(cmd, stderr)
			if err != nil {
				return err
			}
			cfg := externalConfig(cmd)
			cfg.Serve, cfg.HTTPAddr = true, cmd.String("http-addr")
			applyAdminFlags(cmd, &cfg)
			applyPluginFlags(cmd, &cfg)
			applyTelemetryFlags(cmd, &cfg)
			return run(ctx, cfg, logger, stdout)
		},
	}
}

func workerCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "worker",
		Usage: "run the Temporal worker that executes processes, against an external MongoDB and Temporal cluster",
		Flags: append(append(append(externalFlags(), workflowCacheFlag()), pluginFlags("connector plugins directory; empty disables connectors")...), telemetryFlags("")...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			logger, err := newLogger(cmd, stderr)
			if err != nil {
				return err
			}
			cfg := externalConfig(cmd)
			cfg.Work = true
			cfg.WorkflowCache = int(cmd.Int("workflow-cache"))
			applyPluginFlags(cmd, &cfg)
			applyTelemetryFlags(cmd, &cfg)
			return run(ctx, cfg, logger, stdout)
		},
	}
}

// pluginFlags locate the connector plugins and the key that encrypts their secrets, say where processes
// may send HTTP requests and mail, and where people reach Rapport; every command that publishes or runs
// processes takes them.
func pluginFlags(dirUsage string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "plugins-dir", Usage: dirUsage, Sources: cli.EnvVars("RAPPORT_PLUGINS_DIR")},
		&cli.StringFlag{Name: "secret-key", Usage: "base64 of 32 random bytes that encrypt connector secrets at rest (`openssl rand -base64 32`)", Sources: cli.EnvVars("RAPPORT_SECRET_KEY")},
		&cli.StringSliceFlag{Name: "http-allow", Usage: "private hosts and networks http service tasks may reach besides public addresses: CIDRs, addresses or host names, each optionally with :port (e.g. 10.20.0.0/16, erp.internal:8443, *.corp.example); loopback, link-local, RFC 1918 and ULA addresses and Rapport's own ports are refused otherwise", Sources: cli.EnvVars("RAPPORT_HTTP_ALLOW")},
		&cli.StringFlag{Name: "smtp-url", Usage: "mail server of notifications: smtp://user:password@host:587?from=crm@example.com (STARTTLS), smtps://... (TLS); without it `rapport dev` keeps mail in an outbox readable at /api/v1/dev/outbox", Sources: cli.EnvVars("RAPPORT_SMTP_URL")},
		&cli.StringFlag{Name: "public-url", Usage: "where people reach Rapport, e.g. https://crm.example.com (links in notifications and survey mails; default: the HTTP address)", Sources: cli.EnvVars("RAPPORT_PUBLIC_URL")},
	}
}

func applyPluginFlags(cmd *cli.Command, cfg *stack.Config) {
	cfg.PluginsDir = cmd.String("plugins-dir")
	cfg.SecretKey = cmd.String("secret-key")
	cfg.HTTPAllow = cmd.StringSlice("http-allow")
	cfg.SMTPURL = cmd.String("smtp-url")
	cfg.PublicURL = cmd.String("public-url")
}

// telemetryFlags say where metrics are served and traces sent. Metrics have a listener of their own
// (the worker has no API; Prometheus scrapes without a token; the network decides who reads them).
func telemetryFlags(metricsDefault string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "metrics-addr", Value: metricsDefault, Usage: "address serving Prometheus metrics at /metrics, apart from the API (empty: none); bind it to a private interface", Sources: cli.EnvVars("RAPPORT_METRICS_ADDR")},
		&cli.StringFlag{Name: "otlp-endpoint", Usage: "OTLP/gRPC collector receiving traces, host:port or URL (empty: no traces, at no cost)", Sources: cli.EnvVars("RAPPORT_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")},
		&cli.BoolFlag{Name: "otlp-insecure", Usage: "send traces without TLS (a collector on the same host or private network)", Sources: cli.EnvVars("RAPPORT_OTLP_INSECURE")},
	}
}

func applyTelemetryFlags(cmd *cli.Command, cfg *stack.Config) {
	cfg.MetricsAddr = cmd.String("metrics-addr")
	cfg.OTLPEndpoint = cmd.String("otlp-endpoint")
	cfg.OTLPInsecure = cmd.Bool("otlp-insecure")
}

func namespaceFlag() cli.Flag {
	return &cli.StringFlag{Name: "temporal-namespace", Value: "rapport", Usage: "Temporal namespace of Rapport's processes", Sources: cli.EnvVars("RAPPORT_TEMPORAL_NAMESPACE")}
}

// externalFlags are the connection settings shared by `server` and `worker`.
func externalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "mongodb-uri", Usage: "MongoDB connection string, e.g. mongodb://mongo:27017/?replicaSet=rs0", Sources: cli.EnvVars("RAPPORT_MONGODB_URI"), Required: true},
		&cli.StringFlag{Name: "mongodb-database", Value: "rapport", Usage: "MongoDB database name", Sources: cli.EnvVars("RAPPORT_MONGODB_DATABASE")},
		&cli.StringFlag{Name: "temporal-address", Usage: "Temporal frontend host:port", Sources: cli.EnvVars("RAPPORT_TEMPORAL_ADDRESS"), Required: true},
		namespaceFlag(),
		&cli.BoolFlag{Name: "temporal-tls", Usage: "connect to Temporal over TLS", Sources: cli.EnvVars("RAPPORT_TEMPORAL_TLS")},
		&cli.StringFlag{Name: "temporal-tls-cert", Usage: "client certificate file (PEM) for mutual TLS", Sources: cli.EnvVars("RAPPORT_TEMPORAL_TLS_CERT")},
		&cli.StringFlag{Name: "temporal-tls-key", Usage: "client private key file (PEM) for mutual TLS", Sources: cli.EnvVars("RAPPORT_TEMPORAL_TLS_KEY")},
		&cli.StringFlag{Name: "temporal-tls-ca", Usage: "CA certificate file (PEM) to verify the Temporal server", Sources: cli.EnvVars("RAPPORT_TEMPORAL_TLS_CA")},
		&cli.StringFlag{Name: "temporal-tls-server-name", Usage: "server name to verify in the Temporal server's certificate", Sources: cli.EnvVars("RAPPORT_TEMPORAL_TLS_SERVER_NAME")},
	}
}

func externalConfig(cmd *cli.Command) stack.Config {
	return stack.Config{
		MongoURI: cmd.String("mongodb-uri"), MongoDatabase: cmd.String("mongodb-database"),
		TemporalAddress: cmd.String("temporal-address"), TemporalNamespace: cmd.String("temporal-namespace"),
		TemporalTLS: stack.TLSConfig{
			Enabled:  cmd.Bool("temporal-tls") || cmd.String("temporal-tls-cert") != "" || cmd.String("temporal-tls-ca") != "",
			CertFile: cmd.String("temporal-tls-cert"), KeyFile: cmd.String("temporal-tls-key"),
			CAFile: cmd.String("temporal-tls-ca"), ServerName: cmd.String("temporal-tls-server-name"),
		},
	}
}

// adminFlags are the settings of whoever serves HTTP: the first administrator and sessions.
func adminFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "admin-email", Value: "admin@localhost", Usage: "email of the administrator created on first start", Sources: cli.EnvVars("RAPPORT_ADMIN_EMAIL")},
		&cli.StringFlag{Name: "admin-password", Usage: "password of the administrator created on first start (generated and printed once if empty)", Sources: cli.EnvVars("RAPPORT_ADMIN_PASSWORD")},
		&cli.DurationFlag{Name: "session-ttl", Value: 12 * time.Hour, Usage: "how long a login stays valid", Sources: cli.EnvVars("RAPPORT_SESSION_TTL")},
		&cli.BoolFlag{Name: "secure-cookies", Usage: "mark the session cookie Secure (serve over HTTPS)", Sources: cli.EnvVars("RAPPORT_SECURE_COOKIES")},
		&cli.StringSliceFlag{Name: "cors-origins", Usage: "browser origins allowed to call the API, e.g. https://crm.example.com (CORS is off when empty)", Sources: cli.EnvVars("RAPPORT_CORS_ORIGINS")},
		&cli.FloatFlag{Name: "rate-limit", Value: 100, Usage: "requests per second each user and each API token may make on average", Sources: cli.EnvVars("RAPPORT_RATE_LIMIT")},
		&cli.IntFlag{Name: "rate-burst", Value: 1000, Usage: "requests each user and each API token may make at once above the average", Sources: cli.EnvVars("RAPPORT_RATE_BURST")},
		&cli.StringSliceFlag{Name: "trusted-proxies", Usage: "reverse proxies (CIDRs or addresses) whose X-Forwarded-For header names the client; without them every client behind a proxy shares its address for login limits and audit", Sources: cli.EnvVars("RAPPORT_TRUSTED_PROXIES")},
	}
}

func applyAdminFlags(cmd *cli.Command, cfg *stack.Config) {
	cfg.AdminEmail = cmd.String("admin-email")
	cfg.AdminPassword = cmd.String("admin-password")
	cfg.SessionTTL = cmd.Duration("session-ttl")
	cfg.SecureCookies = cmd.Bool("secure-cookies")
	cfg.CORSOrigins = cmd.StringSlice("cors-origins")
	cfg.RateLimit = api.RateLimit{PerSecond: cmd.Float("rate-limit"), Burst: int(cmd.Int("rate-burst"))}
	cfg.TrustedProxies = cmd.StringSlice("trusted-proxies")
}

// run starts the stack and keeps it up until ctx is cancelled (the first SIGINT or SIGTERM).
func run(ctx context.Context, cfg stack.Config, logger *slog.Logger, console io.Writer) error {
	cfg.Logger, cfg.Console = logger, console
	s, err := stack.Start(ctx, cfg)
	if err != nil {
		return err
	}
	s.Banner()
	<-ctx.Done()
	logger.Info("shutting down")
	s.Stop(context.Background())
	logger.Info("stopped")
	return nil
}

// newLogger builds the process logger: text on a terminal, JSON otherwise, unless told.
func newLogger(cmd *cli.Command, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmd.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := strings.ToLower(cmd.String("log-format"))
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format: %q is not text, json or auto", format)
	}
}
