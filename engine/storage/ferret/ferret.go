// Package ferret runs FerretDB inside the Rapport process so that `rapport dev` and the tests have a
// MongoDB-compatible store without installing anything: documents live in SQLite files in one directory.
package ferret

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses, for IndexIDs and List
)

// Config says where the embedded store keeps its files and where it listens.
type Config struct {
	// Dir holds the SQLite files, one per database; it is created if missing.
	Dir string
	// Addr is the loopback TCP address to listen on; "127.0.0.1:0" picks a free port.
	Addr string
	// Logger receives FerretDB's own log lines; nil discards them.
	Logger *slog.Logger
}

// Server is a running embedded FerretDB.
type Server struct {
	uri    string
	dir    string
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	// indexed is closed when the loop adding _id indexes has stopped.
	indexed chan struct{}

	mu  sync.Mutex
	dbs map[string]*sql.DB
	// readers are the read-only pools List queries, one per database file.
	readers map[string]*sql.DB
	// inserts are Insert's prepared statements on the writers, by file and collection.
	inserts map[string]*sql.Stmt
	stopped bool
}

// Start launches FerretDB and returns once it accepts connections, so callers can connect at once.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("ferret: data directory is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("ferret: resolve data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ferret: create data directory: %w", err)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ferret: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("ferret: listen address %q is not a loopback address; the embedded store has no authentication", addr)
	}
	logger := slog.New(slog.DiscardHandler)
	if cfg.Logger != nil {
		logger = slog.New(quietDumps{Handler: cfg.Logger.Handler()})
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: addr},
		Handler:  "sqlite",
		// WAL (FerretDB's default) with synchronous=normal: commits do not wait for an fsync, yet a crash of
		// the process loses nothing, only a power cut may lose the last commits — the same choice as for the
		// embedded Temporal server. Measured: a record create 1.82 → 1.18 ms, a raw insert 0.80 → 0.60 ms
		// (go test ./engine/records -bench CreateLead).
		SQLiteURL: "file:" + dir + "/?_pragma=synchronous(normal)",
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("ferret: create: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Server{dir: dir, logger: logger, cancel: cancel, done: make(chan struct{}), indexed: make(chan struct{}), dbs: map[string]*sql.DB{}, readers: map[string]*sql.DB{}, inserts: map[string]*sql.Stmt{}}
	go func() {
		defer close(s.done)
		if err := f.Run(runCtx); err != nil {
			logger.Error("embedded FerretDB stopped", "error", err)
		}
	}()
	// MongoDBURI blocks until the listener is bound.
	uriCh := make(chan string, 1)
	go func() { uriCh <- f.MongoDBURI() }()
	select {
	case s.uri = <-uriCh:
	case <-ctx.Done():
		cancel()
		<-s.done
		return nil, fmt.Errorf("ferret: start: %w", ctx.Err())
	case <-time.After(30 * time.Second):
		cancel()
		return nil, errors.New("ferret: listener did not start within 30s")
	}
	go s.indexLoop(runCtx)
	return s, nil
}

// URI is the mongodb:// address clients use to reach this store.
func (s *Server) URI() string { return s.uri }

// Stop closes the listener and the SQLite backend; it waits until both are closed so the files are consistent.
func (s *Server) Stop() {
	s.cancel()
	<-s.indexed
	s.mu.Lock()
	for _, stmt := range s.inserts {
		_ = stmt.Close()
	}
	clear(s.inserts)
	for _, db := range s.dbs {
		_ = db.Close()
	}
	clear(s.dbs)
	for _, db := range s.readers {
		_ = db.Close()
	}
	clear(s.readers)
	s.stopped = true
	s.mu.Unlock()
	<-s.done
}

// idColumn is the expression FerretDB v1.24's SQLite backend filters a {_id: value} query, update and
// delete by (metadata.IDColumn).
const idColumn = `_ferretdb_sjson->'$._id'`

// indexSuffix names the index IndexIDs adds to a collection's table.
const indexSuffix = "_rapport_by_id"

// IndexIDs makes every by-_id query, update and delete of every collection an index lookup. FerretDB
// v1.24 pushes a {_id: value} filter down to SQLite as `_ferretdb_sjson->'$._id' = ?`, but creates the
// unique _id index of a collection on `_ferretdb_sjson->"_id"` — an expression SQLite does not take for
// the same one — so each by-ID operation scanned the whole table (measured: an update by _id of one of
// 20,000 records 124 ms; with this index 0.07 ms). IndexIDs adds, to each table lacking it, an index on
// the very expression the queries use. SQLite keeps it up to date on every write; FerretDB does not know
// of it and needs not. Start runs it every few seconds for collections created meanwhile; call it after
// creating collections to have them indexed at once.
func (s *Server) IndexIDs(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(s.dir, "*.sqlite"))
	if err != nil {
		return fmt.Errorf("ferret: list databases: %w", err)
	}
	var errs []error
	for _, f := range files {
		if err := s.indexDatabase(ctx, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writer is the connection that adds indexes to, and inserts into, one database file. Its transactions
// take the write lock when they begin (waiting for FerretDB's writer as long as it must), and, like
// FerretDB's, commit without waiting for an fsync.
func (s *Server) writer(file string) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, errors.New("ferret: the store is stopped")
	}
	db := s.dbs[file]
	if db == nil {
		var err error
		if db, err = sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)&_pragma=synchronous(normal)&_txlock=immediate"); err != nil {
			return nil, fmt.Errorf("ferret: open %s: %w", filepath.Base(file), err)
		}
		db.SetMaxOpenConns(1)
		s.dbs[file] = db
	}
	return db, nil
}

func (s *Server) indexDatabase(ctx context.Context, file string) error {
	db, err := s.writer(file)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || ?)`, indexSuffix)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not set up yet
		}
		return fmt.Errorf("ferret: list the tables of %s: %w", filepath.Base(file), err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return fmt.Errorf("ferret: list the tables of %s: %w", filepath.Base(file), err)
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, t+indexSuffix, t, idColumn)
		if _, err := db.ExecContext(ctx, q); err != nil && !strings.Contains(err.Error(), "no such table") {
			return fmt.Errorf("ferret: index %s by _id: %w", t, err)
		}
	}
	return nil
}

// indexLoop runs IndexIDs now and every few seconds until ctx ends.
func (s *Server) indexLoop(ctx context.Context) {
	defer close(s.indexed)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if err := s.IndexIDs(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("index collections by _id", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// quietDumps lowers FerretDB's wire-protocol dumps to debug. FerretDB logs the whole request and response
// at warn whenever a command fails, and ordinary probes fail by design (listing the indexes of a
// collection not created yet), which would flood the console of `rapport dev`. It also defers
// WithAttrs and WithGroup until a record is actually logged: FerretDB derives a logger for every
// request, and a text handler formats the attributes at once, which cost 3.5% of a record create's CPU
// for logs that are nearly never written.
type quietDumps struct {
	slog.Handler
	derive []func(slog.Handler) slog.Handler
}

func (q quietDumps) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError && (strings.HasPrefix(r.Message, "Response ") || strings.HasPrefix(r.Message, "Request ")) {
		if !q.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	h := q.Handler
	for _, d := range q.derive {
		h = d(h)
	}
	return h.Handle(ctx, r)
}

func (q quietDumps) Enabled(ctx context.Context, l slog.Level) bool { return q.Handler.Enabled(ctx, l) }

func (q quietDumps) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietDumps{q.Handler, append(q.derive[:len(q.derive):len(q.derive)], func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })}
}

func (q quietDumps) WithGroup(name string) slog.Handler {
	return quietDumps{q.Handler, append(q.derive[:len(q.derive):len(q.derive)], func(h slog.Handler) slog.Handler { return h.WithGroup(name) })}
}
