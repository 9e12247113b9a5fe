// Package devserver runs a complete Temporal server inside the Rapport process, persisting to one SQLite
// file, so that `rapport dev` and the integration tests need no Temporal cluster. Production points Rapport
// at a real cluster instead; nothing else in Rapport depends on this package.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Config says where the embedded server keeps its state and what it serves.
type Config struct {
	// DatabaseFile is the SQLite file holding all Temporal state; empty keeps everything in memory.
	DatabaseFile string
	// FrontendAddr is the loopback host:port of the frontend gRPC service; port 0 picks a free one.
	FrontendAddr string
	// Namespace is created (if missing) before the server accepts requests.
	Namespace string
	// Retention is how long closed workflows stay visible in the namespace.
	Retention time.Duration
	// SearchAttributes are registered on the namespace so processes are listable by them.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's log lines (already filtered to the level the caller wants).
	Logger *slog.Logger
	// HistoryCache is how many workflow executions the history service keeps in memory between their
	// steps (its mutable-state cache, Temporal's history.hostLevelCacheMaxSize); an execution that was
	// evicted is read back from the database when it next runs. Temporal's default of 128,000, sized for
	// a cluster host, kept every long-waiting process instance of the embedded server in the heap.
	// Zero means DefaultHistoryCache.
	HistoryCache int
}

// DefaultHistoryCache is how many workflow executions the embedded history service keeps in memory
// unless told otherwise: the executions busy at once, not the thousands that wait for days.
const DefaultHistoryCache = 1000

// Server is a running embedded Temporal server.
type Server struct {
	srv      temporal.Server
	frontend string
	ns       string
}

// Start creates the schema on first use, registers the namespace and its search attributes, and starts
// every Temporal service (frontend, history, matching, worker) in this process.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Namespace == "" {
		return nil, errors.New("devserver: namespace is required")
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	frontendHost, frontendPort, err := pickPort(cfg.FrontendAddr)
	if err != nil {
		return nil, err
	}
	sqlCfg := config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
	}
	if cfg.DatabaseFile == "" {
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		sqlCfg.DatabaseName = "rapport-" + strconv.FormatInt(time.Now().UnixNano(), 36) // ok: activity — server set-up, not workflow code
	} else {
		file, err := filepath.Abs(cfg.DatabaseFile)
		if err != nil {
			return nil, fmt.Errorf("devserver: resolve database file: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("devserver: create data directory: %w", err)
		}
		sqlCfg.DatabaseName = file
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		// WAL with synchronous=normal commits without an fsync per transaction (still safe against a
		// process crash): measured 34-77 workflows/s against 16-22 with SQLite's default rollback journal
		// (BenchmarkThroughput/file, 2 cores). More than one connection measured slower. busy_timeout
		// turns brief lock contention into waiting instead of errors.
		sqlCfg.ConnectAttributes["journal_mode"] = "wal"
		sqlCfg.ConnectAttributes["synchronous"] = "normal"
		sqlCfg.ConnectAttributes["busy_timeout"] = "10000"
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if err := sqlite.SetupSchema(&sqlCfg); err != nil {
				return nil, fmt.Errorf("devserver: create schema: %w", err)
			}
		}
	}

	nsCfg, err := sqlite.NewNamespaceConfig("active", cfg.Namespace, false, cfg.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace config: %w", err)
	}
	nsCfg.Detail.Config.Retention = durationpb.New(cfg.Retention)
	if err := sqlite.CreateNamespaces(&sqlCfg, nsCfg); err != nil {
		return nil, fmt.Errorf("devserver: create namespace: %w", err)
	}

	hosts := map[primitives.ServiceName]static.Hosts{}
	services := map[string]config.Service{}
	for _, name := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		port := frontendPort
		if name != primitives.FrontendService {
			if _, port, err = pickPort(net.JoinHostPort(frontendHost, "0")); err != nil {
				return nil, err
			}
		}
		hosts[name] = static.SingleLocalHost(net.JoinHostPort(frontendHost, strconv.Itoa(port)))
		services[string(name)] = config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: frontendHost}}
	}
	frontend := net.JoinHostPort(frontendHost, strconv.Itoa(frontendPort))
	serverCfg := &config.Config{
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: &sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(serverCfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(newLogger(logger)),
		temporal.WithDynamicConfigClient(dynamicConfig(cfg)),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: create server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start server: %w", err)
	}
	s := &Server{srv: srv, frontend: frontend, ns: cfg.Namespace}
	if err := s.waitReady(ctx); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return s, nil
}

// dynamicConfig is the embedded server's dynamic configuration.
func dynamicConfig(cfg Config) dynamicconfig.StaticClient {
	historyCache := cfg.HistoryCache
	if historyCache <= 0 {
		historyCache = DefaultHistoryCache
	}
	return dynamicconfig.StaticClient{
		// One process, one shard: let the worker poll with little delay and accept our search attributes.
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		dynamicconfig.EnableReadFromSecondaryVisibility.Key():                  false,
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                       historyCache,
	}
}

// waitReady returns once the frontend answers for the namespace, so callers can start workers at once.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c, err := client.Dial(client.Options{HostPort: s.frontend, Namespace: s.ns, Logger: nopLogger{}})
	if err != nil {
		return fmt.Errorf("devserver: dial frontend: %w", err)
	}
	defer c.Close()
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.ns})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devserver: namespace %q not ready: %w", s.ns, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FrontendAddr is the host:port Temporal clients and workers dial.
func (s *Server) FrontendAddr() string { return s.frontend }

// Stop shuts every service down and closes the SQLite file.
func (s *Server) Stop() error {
	if err := s.srv.Stop(); err != nil {
		return fmt.Errorf("devserver: stop: %w", err)
	}
	return nil
}

// pickPort resolves addr, choosing a free port when it asks for port 0.
func pickPort(addr string) (string, int, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("devserver: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("devserver: port in %q: %w", addr, err)
	}
	if port != 0 {
		return host, port, nil
	}
	// The port is free now and bound by the server later. A port the system hands out for ":0" comes from
	// its ephemeral range, where any outgoing connection of any process may take it in between (seen in
	// CI, with test packages running side by side: "bind: address already in use", fatal to the server).
	// So try ports below every system's ephemeral range first (Linux starts at 32768, Windows and macOS at
	// 49152), chosen at random so that servers starting together do not pick the same one.
	for range 50 {
		p := freePortLow + rand.IntN(freePortHigh-freePortLow)
		if l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
			l.Close()
			return host, p, nil
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", 0, fmt.Errorf("devserver: find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return host, l.Addr().(*net.TCPAddr).Port, nil
}

// freePortLow and freePortHigh bound the ports pickPort tries first: below the systems' ephemeral ranges.
const (
	freePortLow  = 20000
	freePortHigh = 32000
)
