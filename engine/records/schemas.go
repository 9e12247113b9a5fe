package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/schema"
)

// schemaDoc is the current version of an entity. The definition is kept as JSON text so it round-trips
// exactly as schema.Parse reads it.
type schemaDoc struct {
	ID         string    `bson:"_id"`
	Version    int       `bson:"version"`
	Definition string    `bson:"definition"`
	CreatedAt  time.Time `bson:"createdAt"`
	UpdatedAt  time.Time `bson:"updatedAt"`
	UpdatedBy  string    `bson:"updatedBy"`
	Builtin    bool      `bson:"builtin,omitempty"`
}

// schemaVersionDoc is one saved version; its _id (entity@version) makes two concurrent saves of the same
// version impossible.
type schemaVersionDoc struct {
	ID         string          `bson:"_id"`
	Entity     string          `bson:"entity"`
	Version    int             `bson:"version"`
	Definition string          `bson:"definition"`
	CreatedAt  time.Time       `bson:"createdAt"`
	CreatedBy  string          `bson:"createdBy"`
	Comment    string          `bson:"comment,omitempty"`
	Changes    []schema.Change `bson:"changes,omitempty"`
}

// SchemaInfo is an entity's current definition with who saved it and when.
type SchemaInfo struct {
	Entity    schema.Entity `json:"entity"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
	UpdatedBy string        `json:"updatedBy"`
	Builtin   bool          `json:"builtin"`
}

// SchemaVersion is one saved version of an entity, kept for ever.
type SchemaVersion struct {
	Version   int             `json:"version"`
	CreatedAt time.Time       `json:"createdAt"`
	CreatedBy string          `json:"createdBy"`
	Changes   []schema.Change `json:"changes,omitempty"`
	Entity    schema.Entity   `json:"entity"`
}

// SchemaSaveResult describes a saved (or dry-run) schema change.
type SchemaSaveResult struct {
	// Entity is the definition as saved, with its new version (unchanged on a dry run).
	Entity schema.Entity `json:"entity"`
	// Created is true when the entity did not exist before.
	Created bool `json:"created"`
	// Changes lists every difference from the previous version.
	Changes []schema.Change `json:"changes"`
	// DryRun reports how existing records fare under the new definition; set when the change is breaking
	// or a dry run was asked for.
	DryRun *SchemaDryRun `json:"dryRun,omitempty"`
	// Saved is false on a dry run.
	Saved bool `json:"saved"`
}

// RecordError is one problem of a stored or imported record, located by a JSON pointer. It mirrors
// schema.FieldError under a name of its own, so API documents do not confuse it with request errors.
type RecordError struct {
	Pointer string `json:"pointer" bson:"pointer"`
	Message string `json:"message" bson:"message"`
}

func recordErrors(fes []schema.FieldError) []RecordError {
	out := make([]RecordError, len(fes))
	for i, fe := range fes {
		out[i] = RecordError{Pointer: fe.Pointer, Message: fe.Message}
	}
	return out
}

// RecordViolation is one stored record that a new schema version would reject.
type RecordViolation struct {
	ID     any           `json:"id"`
	Errors []RecordError `json:"errors"`
}

// SchemaDryRun reports how existing records fare under a new schema version.
type SchemaDryRun struct {
	Checked   int               `json:"checked"`
	Violating int               `json:"violating"`
	Examples  []RecordViolation `json:"examples"`
}

func dryRunOf(d schema.DryRun) *SchemaDryRun {
	out := &SchemaDryRun{Checked: d.Checked, Violating: d.Violating, Examples: []RecordViolation{}}
	for _, ex := range d.Examples {
		out.Examples = append(out.Examples, RecordViolation{ID: ex.ID, Errors: recordErrors(ex.Errors)})
	}
	return out
}

// BreakingError refuses a schema change that existing records violate.
type BreakingError struct {
	Changes []schema.Change
	DryRun  SchemaDryRun
}

// Error explains the refusal.
func (e *BreakingError) Error() string {
	return fmt.Sprintf("the change is breaking and %d of %d existing records would violate it; fix the records or relax the change (ask with dryRun=true to see examples)",
		e.DryRun.Violating, e.DryRun.Checked)
}

// NewEntity as SaveSchema's expected version creates an entity and refuses to change an existing one.
const NewEntity = -1

func versionID(name string, v int) string { return fmt.Sprintf("%s@%d", name, v) }

func encodeEntity(e schema.Entity) (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode entity %s: %w", e.Name, err)
	}
	return string(b), nil
}

func decodeEntity(def string) (schema.Entity, error) {
	e, err := schema.Parse([]byte(def))
	if err != nil {
		return schema.Entity{}, fmt.Errorf("decode stored entity: %w", err)
	}
	return e, nil
}

func (d schemaDoc) info() (SchemaInfo, error) {
	e, err := decodeEntity(d.Definition)
	if err != nil {
		return SchemaInfo{}, err
	}
	e.Version = d.Version
	return SchemaInfo{Entity: e, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, UpdatedBy: d.UpdatedBy, Builtin: d.Builtin}, nil
}

// ListSchemas returns every entity's current definition, sorted by name.
func (s *Store) ListSchemas(ctx context.Context) ([]SchemaInfo, error) {
	cur, err := s.db.Collection(SchemasCollection).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	var docs []schemaDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	out := make([]SchemaInfo, 0, len(docs))
	for _, d := range docs {
		info, err := d.info()
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", d.ID, err)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Entity.Name < out[j].Entity.Name })
	return out, nil
}

// Schema returns an entity's current definition, from a short-lived cache (see Options.SchemaTTL).
func (s *Store) Schema(ctx context.Context, name string) (SchemaInfo, error) {
	if info, ok := s.schemas.Get(name); ok {
		return info, nil
	}
	var d schemaDoc
	err := s.db.Collection(SchemasCollection).FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return SchemaInfo{}, fmt.Errorf("entity %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return SchemaInfo{}, fmt.Errorf("read schema %s: %w", name, err)
	}
	info, err := d.info()
	if err != nil {
		return SchemaInfo{}, err
	}
	// Keyed by the stored name, never by the caller's string: a caller's string may be borrowed from a
	// buffer that is reused after the request (fasthttp's), and a map key that changes under the map
	// hands one entity's schema to another.
	s.schemas.Set(d.ID, info)
	return info, nil
}

// validator returns the entity's current definition and its compiled validator.
func (s *Store) validator(ctx context.Context, name string) (*schema.Validator, error) {
	info, err := s.Schema(ctx, name)
	if err != nil {
		return nil, err
	}
	v, err := s.reg.Validator(info.Entity)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s v%d: %w", name, info.Entity.Version, err)
	}
	if err := s.ensureIndexes(ctx, info.Entity); err != nil {
		return nil, err
	}
	return v, nil
}

// SchemaVersions lists every saved version of an entity, newest first.
func (s *Store) SchemaVersions(ctx context.Context, name string) ([]SchemaVersion, error) {
	cur, err := s.db.Collection(SchemaVersionsCollection).Find(ctx, bson.D{{Key: "entity", Value: name}},
		options.Find().SetSort(bson.D{{Key: "version", Value: -1}}))
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	var docs []schemaVersionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", name, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("entity %q: %w", name, ErrNotFound)
	}
	out := make([]SchemaVersion, 0, len(docs))
	for _, d := range docs {
		e, err := decodeEntity(d.Definition)
		if err != nil {
			return nil, err
		}
		e.Version = d.Version
		out = append(out, SchemaVersion{Version: d.Version, CreatedAt: d.CreatedAt, CreatedBy: d.CreatedBy, Changes: d.Changes, Entity: e})
	}
	return out, nil
}

// SaveSchema checks a new or changed entity definition and saves it as the next version. A change that
// existing records would violate is refused with a *BreakingError; with dryRun nothing is saved and the
// result reports the changes and how many records violate them. A *schema.DefinitionError lists every
// problem of an unsound definition. expectVersion, when positive, must equal the current version
// (optimistic concurrency for editors); otherwise ErrSchemaConflict. NewEntity asks that the entity does
// not exist yet (ErrSchemaExists).
func (s *Store) SaveSchema(ctx context.Context, e schema.Entity, by string, expectVersion int, dryRun bool) (SchemaSaveResult, error) {
	all, err := s.ListSchemas(ctx)
	if err != nil {
		return SchemaSaveResult{}, err
	}
	known := make([]string, 0, len(all))
	var old *SchemaInfo
	for i := range all {
		known = append(known, all[i].Entity.Name)
		if all[i].Entity.Name == e.Name {
			old = &all[i]
		}
	}
	if err := schema.Check(e, known); err != nil {
		return SchemaSaveResult{}, err
	}
	if old != nil && expectVersion == NewEntity {
		return SchemaSaveResult{}, fmt.Errorf("entity %q: %w", e.Name, ErrSchemaExists)
	}
	if old != nil && expectVersion > 0 && expectVersion != old.Entity.Version {
		return SchemaSaveResult{}, ErrSchemaConflict
	}
	e.Version = 0
	draft, err := schema.NewValidator(e, schema.WithDefaultRegion(s.opts.PhoneRegion))
	if err != nil {
		return SchemaSaveResult{}, err
	}
	res := SchemaSaveResult{Created: old == nil}
	if old != nil {
		res.Changes = schema.Compare(old.Entity, e)
		if len(schema.Breaking(res.Changes)) > 0 || dryRun {
			d, err := schema.CountViolations(ctx, draft, s.stored(ctx, e.Name), 5)
			if err != nil {
				return SchemaSaveResult{}, err
			}
			res.DryRun = dryRunOf(d)
		}
	}
	if res.Changes == nil {
		res.Changes = []schema.Change{}
	}
	if dryRun {
		if old != nil {
			e.Version = old.Entity.Version
		}
		res.Entity = e
		return res, nil
	}
	if res.DryRun != nil && res.DryRun.Violating > 0 {
		return res, &BreakingError{Changes: schema.Breaking(res.Changes), DryRun: *res.DryRun}
	}
	if old != nil && len(res.Changes) == 0 {
		res.Entity = old.Entity
		return res, nil
	}
	prev := 0
	if old != nil {
		prev = old.Entity.Version
	}
	e.Version = prev + 1
	def, err := encodeEntity(e)
	if err != nil {
		return SchemaSaveResult{}, err
	}
	now := s.opts.Now().UTC()
	ver := schemaVersionDoc{ID: versionID(e.Name, e.Version), Entity: e.Name, Version: e.Version, Definition: def,
		CreatedAt: now, CreatedBy: by, Changes: res.Changes}
	if _, err := s.db.Collection(SchemaVersionsCollection).InsertOne(ctx, ver); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return SchemaSaveResult{}, ErrSchemaConflict
		}
		return SchemaSaveResult{}, fmt.Errorf("save version of %s: %w", e.Name, err)
	}
	if old == nil {
		cur := schemaDoc{ID: e.Name, Version: e.Version, Definition: def, CreatedAt: now, UpdatedAt: now, UpdatedBy: by}
		if _, err := s.db.Collection(SchemasCollection).InsertOne(ctx, cur); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return SchemaSaveResult{}, ErrSchemaConflict
			}
			return SchemaSaveResult{}, fmt.Errorf("save schema %s: %w", e.Name, err)
		}
	} else {
		r, err := s.db.Collection(SchemasCollection).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: e.Name}, {Key: "version", Value: prev}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: e.Version}, {Key: "definition", Value: def},
				{Key: "updatedAt", Value: now}, {Key: "updatedBy", Value: by}}}})
		if err != nil {
			return SchemaSaveResult{}, fmt.Errorf("save schema %s: %w", e.Name, err)
		}
		if r.MatchedCount == 0 {
			return SchemaSaveResult{}, ErrSchemaConflict
		}
	}
	s.schemas.Delete(e.Name)
	if err := s.ensureIndexes(ctx, e); err != nil {
		return SchemaSaveResult{}, err
	}
	res.Entity = e
	res.Saved = true
	return res, nil
}

// stored iterates over an entity's live records as plain maps, for dry runs.
func (s *Store) stored(ctx context.Context, entity string) iter.Seq2[map[string]any, error] {
	return func(yield func(map[string]any, error) bool) {
		cur, err := s.coll(entity).Find(ctx, liveFilter(nil))
		if err != nil {
			yield(nil, fmt.Errorf("read %s records: %w", entity, err))
			return
		}
		defer cur.Close(ctx)
		for cur.Next(ctx) {
			var doc bson.M
			if err := cur.Decode(&doc); err != nil {
				yield(nil, fmt.Errorf("decode %s record: %w", entity, err))
				return
			}
			if !yield(toRecord(doc), nil) {
				return
			}
		}
		if err := cur.Err(); err != nil {
			yield(nil, fmt.Errorf("read %s records: %w", entity, err))
		}
	}
}
