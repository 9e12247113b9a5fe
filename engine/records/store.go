// Package records stores entity schemas and the records validated against them in MongoDB: schema
// versions, records with optimistic versions and soft deletion, the history of every change,
// idempotency keys, the keys that make dedupe and unique fields O(1), and CSV import jobs. It uses only
// what both MongoDB and the embedded FerretDB support — single-document atomic updates, unique _id,
// no transactions — and reaches records by _id alone wherever it can, because the embedded store pushes
// down no other filter (see storage.Backend). Several servers may run against the same MongoDB.
package records

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

// Collection names. Records of an entity live in CollectionPrefix+entity.
const (
	SchemasCollection        = "schemas"
	SchemaVersionsCollection = "schema_versions"
	HistoryCollection        = "record_history"
	IdempotencyCollection    = "idempotency_keys"
	ImportJobsCollection     = "import_jobs"
	ImportMappingsCollection = "import_mappings"
	CollectionPrefix         = "records_"
	// ServerKeysCollection keeps the key cursors are sealed with when the operator configured none.
	ServerKeysCollection = "server_keys"
)

// Options tune a Store; the zero value is usable.
type Options struct {
	// Logger receives background warnings (index creation, import jobs, capacity).
	Logger *slog.Logger
	// Backend is the server the store talks to; nil asks the server on first use.
	Backend *storage.Backend
	// CursorKey seals list cursors (at least 32 bytes, e.g. derived from the server's secret key); nil
	// takes a random key kept in the database, so every server sharing it accepts the others' cursors.
	CursorKey []byte
	// Retention is how long a soft-deleted record may be restored; 30 days by default.
	Retention time.Duration
	// SchemaTTL is how long a server trusts its cached copy of a schema before re-reading it, so a change
	// saved through another server is seen within that time. 2 seconds by default.
	SchemaTTL time.Duration
	// Capacity is the number of records per entity up to which the embedded store serves a list page
	// interactively; a warning is logged once per entity when one grows past it. EmbeddedCapacity by
	// default.
	Capacity int64
	// Now is the clock; time.Now by default (tests may pin it).
	Now func() time.Time
	// PhoneRegion is the region phone numbers without a country prefix are read in.
	PhoneRegion string
	// OnChange, when set, is told of every record created ("created"), updated ("updated") or deleted
	// ("deleted") after the write and its history are stored, whoever made it (API, import, process,
	// plugin): record triggers start processes and record events reach running ones (a cadence ends
	// when its contact is deleted) from here. Its error is logged, never returned to the writer. What
	// it starts it reports to the writer's collector, EffectsOf(ctx) (see Effects). For an update,
	// changed names the fields it changed, so a listener that cares about a few fields can let the
	// rest pass; it is nil for created and deleted.
	OnChange func(ctx context.Context, entity, op string, rec Record, changed []string) error
	// Enforce, when set, applies rules beyond the schema (the entity's published validation and
	// computed-field rule sets) to a record about to be stored: it returns values to store with it and
	// problems that refuse the write.
	Enforce func(ctx context.Context, entity string, rec map[string]any) (map[string]any, []schema.FieldError, error)
}

// Store is the MongoDB-backed store of schemas and records. It is safe for concurrent use.
type Store struct {
	db   *mongo.Database
	opts Options
	reg  *schema.Registry

	backendOnce sync.Once
	backend     *storage.Backend

	schemas *storage.TTLCache[string, SchemaInfo]

	mu sync.Mutex
	// indexed remembers which entity versions already have their indexes and keys, so each is ensured
	// once per process.
	indexed map[string]int
	// warned remembers the entities whose size was reported past the embedded store's capacity; sized
	// those whose size was checked lately.
	warned map[string]bool
	sized  *storage.TTLCache[string, bool]
	// sealer seals and opens list cursors; set by Install or on first use.
	sealer *sealer

	jobs sync.WaitGroup
	// history writes the entries of creates after they answered.
	history *historyWriter
	// stopping is closed by Shutdown: import jobs stop after their current batch.
	stopping chan struct{}
	stopOnce sync.Once
}

// New returns a store over db. Call Install once on start-up before serving.
func New(db *mongo.Database, opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.SchemaTTL <= 0 {
		opts.SchemaTTL = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Capacity <= 0 {
		opts.Capacity = EmbeddedCapacity
	}
	if opts.PhoneRegion == "" {
		opts.PhoneRegion = schema.DefaultRegion
	}
	s := &Store{
		db: db, opts: opts, backend: opts.Backend,
		reg:      schema.NewRegistry(schema.WithDefaultRegion(opts.PhoneRegion)),
		schemas:  storage.NewTTLCache[string, SchemaInfo](opts.SchemaTTL, 10000),
		indexed:  map[string]int{},
		warned:   map[string]bool{},
		stopping: make(chan struct{}),
		sized:    storage.NewTTLCache[string, bool](time.Minute, 10000),
	}
	s.schemas.SetClock(opts.Now)
	s.sized.SetClock(opts.Now)
	s.history = newHistoryWriter(s)
	return s
}

// be returns the backend, asking the server once when Options did not name it. If the server cannot
// say, the store falls back to MongoDB's atomic filters, which are correct on both (only slower on the
// embedded store).
func (s *Store) be() *storage.Backend {
	s.backendOnce.Do(func() {
		if s.backend != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := storage.Detect(ctx, s.db)
		if err != nil {
			s.opts.Logger.Warn("cannot tell the database's kind; using MongoDB's conditional writes", "error", err)
			b = storage.NewBackend(false)
		}
		s.backend = b
	})
	return s.backend
}

// Backend is the server the store talks to.
func (s *Store) Backend() *storage.Backend { return s.be() }

// Retention is how long deleted records stay restorable.
func (s *Store) Retention() time.Duration { return s.opts.Retention }

// Wait blocks until background import jobs started by this store have finished.
func (s *Store) Wait() { s.jobs.Wait() }

// Shutdown stops the running import jobs after their current batch — each is left failed as
// interrupted, and running its file again skips the rows already imported — waits for them, and writes
// the history entries still queued, until ctx ends. Call it before closing the database client.
func (s *Store) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	done := make(chan struct{})
	go func() {
		s.jobs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("wait for import jobs: %w", ctx.Err())
	}
	return s.history.stop(ctx)
}

// Install creates the store's own indexes and installs the built-in entities that are not installed yet,
// then makes sure every entity's indexes and keys exist. Several servers may call it at once: each
// insert is keyed, and a duplicate key means another server got there first.
func (s *Store) Install(ctx context.Context) error {
	s.be()
	if err := s.ensureOwnIndexes(ctx); err != nil {
		return err
	}
	// The embedded store's files store a create's history entry with its record (insertCreated) only into
	// a collection that exists: have it from the start.
	if err := s.db.CreateCollection(ctx, HistoryCollection); err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("create the history collection: %w", err)
	}
	if err := s.loadCursorKey(ctx); err != nil {
		return err
	}
	builtin, err := schema.Builtin()
	if err != nil {
		return fmt.Errorf("load built-in entities: %w", err)
	}
	now := s.opts.Now().UTC()
	for _, e := range builtin {
		if e.Version <= 0 {
			e.Version = 1
		}
		def, err := encodeEntity(e)
		if err != nil {
			return err
		}
		ver := schemaVersionDoc{ID: versionID(e.Name, e.Version), Entity: e.Name, Version: e.Version,
			Definition: def, CreatedAt: now, CreatedBy: "system", Comment: "built-in"}
		if _, err := s.db.Collection(SchemaVersionsCollection).InsertOne(ctx, ver); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("install %s version: %w", e.Name, err)
		}
		cur := schemaDoc{ID: e.Name, Version: e.Version, Definition: def, CreatedAt: now, UpdatedAt: now, UpdatedBy: "system", Builtin: true}
		if _, err := s.db.Collection(SchemasCollection).InsertOne(ctx, cur); err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("install %s: %w", e.Name, err)
		}
	}
	if err := s.failInterruptedJobs(ctx); err != nil {
		return err
	}
	all, err := s.ListSchemas(ctx)
	if err != nil {
		return err
	}
	for i, info := range all {
		if all[i], err = s.upgradeBuiltin(ctx, info, builtin); err != nil {
			return err
		}
	}
	for _, info := range all {
		if err := s.ensureIndexes(ctx, info.Entity); err != nil {
			return err
		}
	}
	return nil
}

// upgradeBuiltin saves, as the entity's next version by "system", what this Rapport ships in a built-in
// entity and an existing install lacks (schema.Upgrade: fields and enum options, never removing an
// analyst's edits), so the shipped processes can write them. It returns the entity as it now stands. A
// server that saved the same upgrade first wins (the version check); an upgrade existing records would
// violate, or that clashes with an analyst's edits, is left out with a warning.
func (s *Store) upgradeBuiltin(ctx context.Context, info SchemaInfo, shipped []schema.Entity) (SchemaInfo, error) {
	if !info.Builtin {
		return info, nil
	}
	i := slices.IndexFunc(shipped, func(e schema.Entity) bool { return e.Name == info.Entity.Name })
	if i < 0 {
		return info, nil
	}
	up, added := schema.Upgrade(info.Entity, shipped[i])
	if len(added) == 0 {
		return info, nil
	}
	res, err := s.SaveSchema(ctx, up, "system", info.Entity.Version, false)
	var breaking *BreakingError
	var unsound *schema.DefinitionError
	switch {
	case errors.Is(err, ErrSchemaConflict):
		return s.Schema(ctx, info.Entity.Name)
	case errors.As(err, &breaking) || errors.As(err, &unsound):
		s.opts.Logger.Warn("a built-in entity was not upgraded: its records or an analyst's edits conflict with what this version ships",
			"entity", info.Entity.Name, "adds", added, "error", err)
		return info, nil
	case err != nil:
		return info, fmt.Errorf("upgrade built-in entity %s: %w", info.Entity.Name, err)
	}
	s.opts.Logger.Info("built-in entity upgraded", "entity", info.Entity.Name, "version", res.Entity.Version, "added", added)
	info.Entity = res.Entity
	return info, nil
}

func (s *Store) ensureOwnIndexes(ctx context.Context) error {
	models := map[string][]mongo.IndexModel{
		SchemaVersionsCollection: {{Keys: bson.D{{Key: "entity", Value: 1}, {Key: "version", Value: -1}}, Options: options.Index().SetName("entity_version")}},
		ImportJobsCollection:     {{Keys: bson.D{{Key: "entity", Value: 1}, {Key: "createdAt", Value: -1}}, Options: options.Index().SetName("entity_createdAt")}},
	}
	for coll, m := range models {
		if err := storage.EnsureIndexes(ctx, s.db.Collection(coll), m...); err != nil {
			return err
		}
	}
	return nil
}

// ensureIndexes creates the indexes schema.Indexes derives for e and makes sure its keys (dedupe and
// unique values) are built for its key fields, once per entity version per process.
func (s *Store) ensureIndexes(ctx context.Context, e schema.Entity) error {
	s.mu.Lock()
	done := s.indexed[e.Name] == e.Version
	s.mu.Unlock()
	if done {
		return nil
	}
	var models []mongo.IndexModel
	for _, ix := range schema.Indexes(e, extraSorts(e.Name)...) {
		keys := bson.D{}
		for _, k := range ix.Keys {
			keys = append(keys, bson.E{Key: storedPath(k.Field), Value: k.Order})
		}
		o := options.Index().SetName(ix.Name)
		if ix.Unique {
			o.SetUnique(true)
			if ix.Sparse {
				o.SetSparse(true)
			}
		}
		models = append(models, mongo.IndexModel{Keys: keys, Options: o})
	}
	if err := storage.EnsureIndexes(ctx, s.coll(e.Name), models...); err != nil {
		// An index that cannot be built (existing duplicates, or an option the server lacks) must not
		// stop the server; lists still work, only slower, and uniqueness is kept by the keys.
		s.opts.Logger.Warn("create record indexes", "entity", e.Name, "error", err)
	}
	s.indexSorts(ctx, e)
	if err := s.ensureKeys(ctx, e); err != nil {
		return err
	}
	s.mu.Lock()
	s.indexed[e.Name] = e.Version
	s.mu.Unlock()
	return nil
}

// indexSorts has the embedded store's files keep an index for each order an entity is listed in by
// default (newest changes first, newest first, and the entity's own, such as a timeline's), so that such
// a page walks an index and stops after its limit (storage.Files). It creates the collection first: the
// files index, and insert into, only a collection that exists. Like the indexes above, one that cannot be made is logged,
// and lists still work, only slower.
func (s *Store) indexSorts(ctx context.Context, e schema.Entity) {
	l := s.be().Files()
	if l == nil {
		return
	}
	if err := s.db.CreateCollection(ctx, CollectionPrefix+e.Name); err != nil && !isAlreadyExists(err) {
		s.opts.Logger.Warn("create a record collection", "entity", e.Name, "error", err)
		return
	}
	for _, k := range append(slices.Clone(schema.DefaultSorts), extraSorts(e.Name)...) {
		if err := l.IndexSort(ctx, s.db.Name(), CollectionPrefix+e.Name, storedPath(k.Field)); err != nil {
			s.opts.Logger.Warn("index a record order in the embedded store's files", "entity", e.Name, "order", k.Field, "error", err)
		}
	}
}

// isAlreadyExists reports MongoDB's NamespaceExists (48), which creating an existing collection returns.
func isAlreadyExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && ce.Code == 48
}

// coll is the collection of an entity's records.
func (s *Store) coll(entity string) *mongo.Collection {
	return s.db.Collection(CollectionPrefix + entity)
}

// storedPath maps an API path to the stored one: the record ID is MongoDB's primary key.
func storedPath(p string) string {
	if p == schema.SysID {
		return "_id"
	}
	return p
}

var rename = map[string]string{schema.SysID: "_id"}

func newID() string { return uuid.NewString() }

// ChangedBy says who changed a record and through what, for history.
type ChangedBy struct {
	// User is the ID of the user on whose behalf the change was made, if any.
	User string `bson:"user,omitempty" json:"user,omitempty"`
	// Process, Plugin and Import identify a process instance, plugin or import job making the change.
	Process string `bson:"process,omitempty" json:"process,omitempty"`
	Plugin  string `bson:"plugin,omitempty" json:"plugin,omitempty"`
	Import  string `bson:"import,omitempty" json:"import,omitempty"`
	// RunAs is the service principal a process acted under (process:<key>@<version>).
	RunAs string `bson:"runAs,omitempty" json:"runAs,omitempty"`
	// Via is the channel: "api", "import", "process" or "plugin".
	Via string `bson:"via" json:"via"`
}

// Errors the API maps to statuses.
var (
	// ErrNotFound: no such entity or no such live record (or one outside the caller's scope).
	ErrNotFound = errors.New("not found")
	// ErrVersionMismatch: the If-Match version is stale; nothing was written.
	ErrVersionMismatch = errors.New("the record was changed since you read it")
	// ErrIdempotencyReuse: an Idempotency-Key was reused with a different request body.
	ErrIdempotencyReuse = errors.New("the Idempotency-Key was already used for a different request")
	// ErrInProgress: a request with the same Idempotency-Key is still being processed.
	ErrInProgress = errors.New("a request with this Idempotency-Key is still in progress")
	// ErrRetentionOver: a deleted record is past its retention period and cannot be restored.
	ErrRetentionOver = errors.New("the record was deleted longer ago than the retention period")
	// ErrNotDeleted: restore of a record that is not deleted.
	ErrNotDeleted = errors.New("the record is not deleted")
	// ErrSchemaConflict: another change to the schema was saved first.
	ErrSchemaConflict = errors.New("the schema was changed by someone else; reload and retry")
	// ErrSchemaExists: a create of an entity that already exists.
	ErrSchemaExists = errors.New("the entity already exists; change it with PUT")
)

// ValidationError lists every problem of a record; nothing was written.
type ValidationError struct {
	Problems []schema.FieldError
}

// Error summarises the problems.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "invalid record: " + strings.Join(parts, "; ")
}

// DuplicateError reports that a write matches another live record on a dedupe key or unique field.
// ExistingID names that record only when the writer may read it; otherwise it is empty, so a duplicate
// never reveals a record outside the writer's scope.
type DuplicateError struct {
	ExistingID string
	Field      string
	// Restore is true when the record being restored lost the value to another record meanwhile.
	Restore bool
}

// Error names the existing record, when it may, so the caller can open it instead.
func (e *DuplicateError) Error() string {
	what := "a record with the same " + e.Field + " already exists"
	if e.Restore {
		what = "another record took its " + e.Field + " while it was deleted; change that record or this one's value first"
	}
	if e.ExistingID != "" {
		return what + ": " + e.ExistingID
	}
	return what
}
