// Package records stores entity schemas and the records validated against them in MongoDB: schema
// versions, records with optimistic versions and soft deletion, the history of every change,
// idempotency keys, and CSV import jobs. It uses only what both MongoDB and the embedded FerretDB
// support — single-document atomic updates, unique keys and upserts, no transactions — so several
// servers may run against the same database.
package records

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/schema"
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
)

// Options tune a Store; the zero value is usable.
type Options struct {
	// Logger receives background warnings (index creation, import jobs).
	Logger *slog.Logger
	// Retention is how long a soft-deleted record may be restored; 30 days by default.
	Retention time.Duration
	// SchemaTTL is how long a server trusts its cached copy of a schema before re-reading it, so a change
	// saved through another server is seen within that time. 2 seconds by default.
	SchemaTTL time.Duration
	// Now is the clock; time.Now by default (tests may pin it).
	Now func() time.Time
	// PhoneRegion is the region phone numbers without a country prefix are read in.
	PhoneRegion string
	// OnChange, when set, is told of every record created ("created") or updated ("updated") after the
	// write and its history are stored, whoever made it (API, import, process, plugin): record triggers
	// start processes from here. Its error is logged, never returned to the writer.
	OnChange func(ctx context.Context, entity, op string, rec Record) error
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

	mu    sync.Mutex
	cache map[string]cachedSchema
	// indexed remembers which entity versions already have their indexes, so each is ensured once.
	indexed map[string]int

	jobs sync.WaitGroup

	// writeLocks serialise writes to one record within this process. MongoDB makes the version-conditioned
	// update atomic on its own, but FerretDB v1 applies an update as read-modify-write, so two concurrent
	// updates of one record could both match the old version; with the lock the embedded store keeps the
	// same guarantee for a single server (the embedded store only ever has one).
	writeLocks [64]sync.Mutex
}

// lockRecord takes the write lock of one record and returns its release.
func (s *Store) lockRecord(entity, id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(entity))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(id))
	m := &s.writeLocks[h.Sum32()%uint32(len(s.writeLocks))]
	m.Lock()
	return m.Unlock
}

type cachedSchema struct {
	entity schema.Entity
	meta   SchemaInfo
	at     time.Time
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
	if opts.PhoneRegion == "" {
		opts.PhoneRegion = schema.DefaultRegion
	}
	return &Store{
		db: db, opts: opts,
		reg:     schema.NewRegistry(schema.WithDefaultRegion(opts.PhoneRegion)),
		cache:   map[string]cachedSchema{},
		indexed: map[string]int{},
	}
}

// Retention is how long deleted records stay restorable.
func (s *Store) Retention() time.Duration { return s.opts.Retention }

// Wait blocks until background import jobs started by this store have finished, for a clean shutdown.
func (s *Store) Wait() { s.jobs.Wait() }

// Install creates the store's own indexes and installs the built-in entities that are not installed yet,
// then makes sure every entity's indexes exist. Several servers may call it at once: each insert is
// keyed, and a duplicate key means another server got there first.
func (s *Store) Install(ctx context.Context) error {
	if err := s.ensureOwnIndexes(ctx); err != nil {
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
	for _, info := range all {
		if err := s.ensureIndexes(ctx, info.Entity); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ensureOwnIndexes(ctx context.Context) error {
	models := map[string][]mongo.IndexModel{
		SchemaVersionsCollection: {{Keys: bson.D{{Key: "entity", Value: 1}, {Key: "version", Value: -1}}, Options: options.Index().SetName("entity_version")}},
		HistoryCollection: {{Keys: bson.D{{Key: "entity", Value: 1}, {Key: "recordId", Value: 1}, {Key: "seq", Value: -1}},
			Options: options.Index().SetName("entity_record_seq")}},
		ImportJobsCollection:    {{Keys: bson.D{{Key: "entity", Value: 1}, {Key: "createdAt", Value: -1}}, Options: options.Index().SetName("entity_createdAt")}},
		ImportResultsCollection: {{Keys: bson.D{{Key: "job", Value: 1}, {Key: "row", Value: 1}}, Options: options.Index().SetName("job_row")}},
	}
	for coll, m := range models {
		if err := s.createIndexes(ctx, s.db.Collection(coll), m); err != nil {
			return err
		}
	}
	return nil
}

// createIndexes creates the named indexes a collection lacks. Existing ones are skipped rather than
// re-created: FerretDB drops the connection on some re-creations. Servers starting together may still
// race, so a failed attempt is retried.
func (s *Store) createIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.createMissingIndexes(ctx, coll, models); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create indexes on %s: %w", coll.Name(), ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return err
}

func (s *Store) createMissingIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) error {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list indexes of %s: %w", coll.Name(), err)
	}
	have := map[string]bool{}
	var errs []error
	for _, sp := range specs {
		have[sp.Name] = true
	}
	for _, m := range models {
		name := ""
		if m.Options != nil {
			var o options.IndexOptions
			for _, set := range m.Options.List() {
				_ = set(&o)
			}
			if o.Name != nil {
				name = *o.Name
			}
		}
		if have[name] {
			continue
		}
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("create index %s on %s: %w", name, coll.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// ensureIndexes creates the indexes schema.Indexes derives for e, once per entity version per process.
func (s *Store) ensureIndexes(ctx context.Context, e schema.Entity) error {
	s.mu.Lock()
	done := s.indexed[e.Name] == e.Version
	s.mu.Unlock()
	if done {
		return nil
	}
	var models []mongo.IndexModel
	for _, ix := range schema.Indexes(e) {
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
	if err := s.createIndexes(ctx, s.coll(e.Name), models); err != nil {
		// An index that cannot be built (existing duplicates, or an option the server lacks) must not
		// stop the server; lists still work, only slower or without the unique guarantee.
		s.opts.Logger.Warn("create record indexes", "entity", e.Name, "error", err)
	}
	s.mu.Lock()
	s.indexed[e.Name] = e.Version
	s.mu.Unlock()
	return nil
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
	// ErrNotFound: no such entity or no such live record.
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

// DuplicateError reports that a create matches an existing record on a dedupe key or unique field.
type DuplicateError struct {
	ExistingID string
	Field      string
}

// Error names the existing record so the caller can open it instead.
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("a record with the same %s already exists: %s", e.Field, e.ExistingID)
}
