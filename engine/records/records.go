package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/schema"
)

// Record is a stored record as clients see it: the entity's fields plus the system fields (id, version,
// createdAt, updatedAt, createdBy, updatedBy, deletedAt). Datetimes are time.Time.
type Record = map[string]any

// WriteOptions carry what a write needs besides the data.
type WriteOptions struct {
	Actor ChangedBy
	// IfMatch, when positive, is the version the caller last read; a different stored version fails the
	// write with ErrVersionMismatch and nothing is written.
	IfMatch int64
	// IdempotencyKey makes a create repeatable: the same key (per entity and user) returns the first
	// result instead of creating a second record.
	IdempotencyKey string
	// Trusted lets processes, plugins and imports write read-only fields.
	Trusted bool
	// Language picks the language of analysts' rule messages ("en" or "ru").
	Language string
	// Scope is a server-side filter the record must match (the records the caller may change); a record
	// outside it is reported as not found. nil for all.
	Scope bson.D
}

// CreateResult is a created record; Replayed is true when an Idempotency-Key returned an earlier result.
type CreateResult struct {
	Record   Record
	Replayed bool
}

// toRecord turns a decoded document into a plain record: _id becomes id, BSON containers become maps
// and slices, BSON dates become time.Time.
func toRecord(doc bson.M) Record {
	out := make(Record, len(doc))
	for k, v := range doc {
		if k == "_id" {
			k = schema.SysID
		}
		out[k] = plainBSON(v)
	}
	return out
}

func plainBSON(v any) any {
	switch x := v.(type) {
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = plainBSON(e.Value)
		}
		return m
	case bson.M:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plainBSON(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plainBSON(e)
		}
		return m
	case bson.A:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = plainBSON(e)
		}
		return s
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = plainBSON(e)
		}
		return s
	case bson.DateTime:
		return x.Time().UTC()
	case int32:
		return int64(x)
	case bson.ObjectID:
		return x.Hex()
	default:
		return v
	}
}

// userFields drops the system fields from a record.
func userFields(r Record) map[string]any {
	out := make(map[string]any, len(r))
	for k, v := range r {
		if !schema.IsSystemField(k) {
			out[k] = v
		}
	}
	return out
}

// liveFilter adds "not deleted" to a filter.
func liveFilter(f bson.D) bson.D {
	return append(f, bson.E{Key: schema.SysDeletedAt, Value: nil})
}

// MissingRefs implements schema.RefResolver: one query per referenced entity. Users are looked up in
// the identity store; teams have no store yet and are accepted as they are.
func (s *Store) MissingRefs(ctx context.Context, entity string, ids []string) ([]string, error) {
	if len(ids) == 0 || entity == schema.RefTeam {
		return nil, nil
	}
	coll := s.coll(entity)
	filter := liveFilter(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if entity == schema.RefUser {
		coll = s.db.Collection("users")
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}
	}
	cur, err := coll.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("look up %s references: %w", entity, err)
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("look up %s references: %w", entity, err)
	}
	have := make(map[string]bool, len(found))
	for _, f := range found {
		have[f.ID] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// callerResolver skips looking up the calling user: an authenticated caller exists, and owner defaults
// to the caller, so most creates would otherwise pay one query for nothing.
type callerResolver struct {
	s    *Store
	user string
}

func (r callerResolver) MissingRefs(ctx context.Context, entity string, ids []string) ([]string, error) {
	if entity == schema.RefUser && r.user != "" {
		rest := ids[:0:0]
		for _, id := range ids {
			if id != r.user {
				rest = append(rest, id)
			}
		}
		ids = rest
	}
	return r.s.MissingRefs(ctx, entity, ids)
}

func (s *Store) validateOpts(o WriteOptions) []schema.ValidateOption {
	opts := []schema.ValidateOption{schema.WithResolver(callerResolver{s: s, user: o.Actor.User}), schema.At(s.opts.Now())}
	if o.Trusted {
		opts = append(opts, schema.Trusted())
	}
	if o.Language != "" {
		opts = append(opts, schema.InLanguage(o.Language))
	}
	return opts
}

// staleClaim is how long an idempotency key may stay claimed without its record before another request
// with the same key takes it over.
const staleClaim = time.Minute

type idemDoc struct {
	ID        string    `bson:"_id"`
	RecordID  string    `bson:"recordId"`
	Hash      string    `bson:"hash"`
	CreatedAt time.Time `bson:"createdAt"`
}

// bodyHash identifies a request body for idempotency: the same key with another body is a client error.
func bodyHash(rec map[string]any) string {
	b, _ := json.Marshal(rec) // maps marshal with sorted keys; values came from JSON
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Create validates and stores a new record, records its history and returns it. Bad data gives a
// *ValidationError, a duplicate a *DuplicateError; in both cases nothing is written.
func (s *Store) Create(ctx context.Context, entity string, rec map[string]any, o WriteOptions) (CreateResult, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return CreateResult{}, err
	}
	e := v.Entity()
	input := rec
	if f := e.Field("owner"); f != nil && f.Type == schema.TypeReference && o.Actor.User != "" {
		if _, ok := rec["owner"]; !ok {
			input = make(map[string]any, len(rec)+1)
			for k, val := range rec {
				input[k] = val
			}
			input["owner"] = o.Actor.User
		}
	}
	norm, problems, err := v.Validate(ctx, input, schema.Create, s.validateOpts(o)...)
	if err != nil {
		return CreateResult{}, fmt.Errorf("validate %s: %w", entity, err)
	}
	if len(problems) == 0 {
		if problems, err = s.enforce(ctx, entity, norm, nil); err != nil {
			return CreateResult{}, err
		}
	}
	if len(problems) > 0 {
		return CreateResult{}, &ValidationError{Problems: problems}
	}
	id := newID()
	var claim *idemDoc
	if o.IdempotencyKey != "" {
		// Keys are per user, except imports: any re-run of the same rows must find the first records.
		scope := o.Actor.User
		if o.Actor.Via == "import" {
			scope = "import"
		}
		claim = &idemDoc{ID: entity + "|" + scope + "|" + o.IdempotencyKey, RecordID: id, Hash: bodyHash(rec), CreatedAt: s.opts.Now().UTC()}
		if res, replay, err := s.claim(ctx, entity, claim); err != nil || replay {
			return res, err
		}
	}
	release := func() {
		if claim != nil {
			_, _ = s.db.Collection(IdempotencyCollection).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: claim.ID}})
		}
	}
	if dup, err := s.findDuplicate(ctx, v, norm, ""); err != nil || dup != nil {
		release()
		if err != nil {
			return CreateResult{}, err
		}
		return CreateResult{}, dup
	}
	if err := s.claimDedupeKeys(ctx, v, norm, id); err != nil {
		release()
		return CreateResult{}, err
	}
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	doc := make(bson.M, len(norm)+6)
	for k, val := range norm {
		if val != nil {
			doc[k] = val
		}
	}
	doc["_id"] = id
	doc[schema.SysVersion] = int64(1)
	doc[schema.SysCreatedAt] = now
	doc[schema.SysUpdatedAt] = now
	if o.Actor.User != "" {
		doc[schema.SysCreatedBy] = o.Actor.User
		doc[schema.SysUpdatedBy] = o.Actor.User
	}
	// The record first, then its history entry, one after the other: on FerretDB (SQLite) concurrent
	// writes contend for the database lock and are slower than sequential ones.
	if _, err := s.coll(entity).InsertOne(ctx, doc); err != nil {
		release()
		if mongo.IsDuplicateKeyError(err) {
			if dup, ferr := s.findDuplicate(ctx, v, norm, ""); ferr == nil && dup != nil {
				return CreateResult{}, dup
			}
			return CreateResult{}, &DuplicateError{Field: "a unique field"}
		}
		return CreateResult{}, fmt.Errorf("insert %s: %w", entity, err)
	}
	out := toRecord(doc)
	if err := s.writeHistory(ctx, entity, id, 1, OpCreate, o.Actor, nil, out, now); err != nil {
		return CreateResult{}, err
	}
	s.changed(ctx, entity, "created", out)
	return CreateResult{Record: out}, nil
}

// enforce runs Options.Enforce on rec (the record as it will be stored), adding computed values to rec
// and, for a patch, to the patch that is written.
func (s *Store) enforce(ctx context.Context, entity string, rec, patch map[string]any) ([]schema.FieldError, error) {
	if s.opts.Enforce == nil {
		return nil, nil
	}
	computed, problems, err := s.opts.Enforce(ctx, entity, rec)
	if err != nil {
		return nil, fmt.Errorf("apply the rules of %s: %w", entity, err)
	}
	for k, v := range computed {
		if patch != nil && !reflect.DeepEqual(rec[k], v) {
			patch[k] = v
		}
		rec[k] = v
	}
	return problems, nil
}

// changed tells Options.OnChange of a stored change.
func (s *Store) changed(ctx context.Context, entity, op string, rec Record) {
	if s.opts.OnChange == nil {
		return
	}
	if err := s.opts.OnChange(ctx, entity, op, rec); err != nil {
		s.opts.Logger.Error("after a record change", "entity", entity, "op", op, "id", rec[schema.SysID], "error", err)
	}
}

// claim reserves an idempotency key. When the key was used before it returns the earlier result (replay
// true), ErrIdempotencyReuse for another body, or ErrInProgress while the first request runs.
func (s *Store) claim(ctx context.Context, entity string, c *idemDoc) (CreateResult, bool, error) {
	_, err := s.db.Collection(IdempotencyCollection).InsertOne(ctx, c)
	if err == nil {
		return CreateResult{}, false, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return CreateResult{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	var prev idemDoc
	if err := s.db.Collection(IdempotencyCollection).FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&prev); err != nil {
		return CreateResult{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if prev.Hash != c.Hash {
		return CreateResult{}, false, ErrIdempotencyReuse
	}
	r, err := s.get(ctx, entity, prev.RecordID, true)
	if errors.Is(err, ErrNotFound) {
		// The first request is still running — or died between claiming the key and inserting. A claim
		// older than staleClaim is taken over, atomically, so one retry wins.
		if s.opts.Now().Sub(prev.CreatedAt) < staleClaim {
			return CreateResult{}, false, ErrInProgress
		}
		res, err := s.db.Collection(IdempotencyCollection).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: c.ID}, {Key: "recordId", Value: prev.RecordID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "recordId", Value: c.RecordID}, {Key: "createdAt", Value: c.CreatedAt}}}})
		if err != nil {
			return CreateResult{}, false, fmt.Errorf("take over idempotency key: %w", err)
		}
		if res.MatchedCount == 0 {
			return CreateResult{}, false, ErrInProgress
		}
		return CreateResult{}, false, nil
	}
	if err != nil {
		return CreateResult{}, false, err
	}
	return CreateResult{Record: r, Replayed: true}, true, nil
}

// findDuplicate looks for a live record (other than self) sharing a dedupe key or unique field value.
func (s *Store) findDuplicate(ctx context.Context, v *schema.Validator, norm map[string]any, self string) (*DuplicateError, error) {
	e := v.Entity()
	type probe struct {
		field  string
		values []any
	}
	var probes []probe
	for _, k := range v.DedupeKeys(norm) {
		probes = append(probes, probe{k.Field, k.Values})
	}
	for i := range e.Fields {
		f := &e.Fields[i]
		if val, ok := norm[f.Name]; ok && f.Unique && val != nil {
			probes = append(probes, probe{f.Name, []any{val}})
		}
	}
	for _, p := range probes {
		filter := bson.D{{Key: p.field, Value: bson.D{{Key: "$in", Value: p.values}}}}
		if self != "" {
			filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: self}}})
		}
		var hit struct {
			ID string `bson:"_id"`
		}
		err := s.coll(e.Name).FindOne(ctx, liveFilter(filter), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&hit)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("look for duplicates on %s: %w", p.field, err)
		}
		return &DuplicateError{ExistingID: hit.ID, Field: p.field}, nil
	}
	return nil, nil
}

// Get returns a live record.
func (s *Store) Get(ctx context.Context, entity, id string) (Record, error) {
	if _, err := s.Schema(ctx, entity); err != nil {
		return nil, err
	}
	return s.get(ctx, entity, id, false)
}

// Lookup returns a record whether or not it is deleted, for history and access checks.
func (s *Store) Lookup(ctx context.Context, entity, id string) (Record, error) {
	if _, err := s.Schema(ctx, entity); err != nil {
		return nil, err
	}
	return s.get(ctx, entity, id, true)
}

func (s *Store) get(ctx context.Context, entity, id string, withDeleted bool, scope ...bson.D) (Record, error) {
	filter := bson.D{{Key: "_id", Value: id}}
	for _, sc := range scope {
		if len(sc) > 0 {
			filter = append(filter, bson.E{Key: "$and", Value: bson.A{sc}})
		}
	}
	if !withDeleted {
		filter = liveFilter(filter)
	}
	var doc bson.M
	err := s.coll(entity).FindOne(ctx, filter).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", entity, id, err)
	}
	return toRecord(doc), nil
}

// versionOf reads a record's version as int64 whatever numeric type the store returned.
func versionOf(r Record) int64 {
	switch x := r[schema.SysVersion].(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

// Patch applies a JSON merge patch to a live record with a single-document update conditioned on the
// version it read, retrying when another writer got in between (unless IfMatch pins the version).
func (s *Store) Patch(ctx context.Context, entity, id string, patch map[string]any, o WriteOptions) (Record, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return nil, err
	}
	defer s.lockRecord(entity, id)()
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := s.get(ctx, entity, id, false, o.Scope)
		if err != nil {
			return nil, err
		}
		ver := versionOf(cur)
		if o.IfMatch > 0 && o.IfMatch != ver {
			return nil, ErrVersionMismatch
		}
		stored := userFields(cur)
		norm, problems, err := v.Validate(ctx, patch, schema.Patch, append(s.validateOpts(o), schema.WithCurrent(stored))...)
		if err != nil {
			return nil, fmt.Errorf("validate %s patch: %w", entity, err)
		}
		if len(problems) > 0 {
			return nil, &ValidationError{Problems: problems}
		}
		after := schema.MergePatch(stored, norm)
		if problems, err := s.enforce(ctx, entity, after, norm); err != nil {
			return nil, err
		} else if len(problems) > 0 {
			return nil, &ValidationError{Problems: problems}
		}
		set := bson.D{}
		unset := bson.D{}
		for k := range norm {
			if val, ok := after[k]; ok && val != nil {
				set = append(set, bson.E{Key: k, Value: val})
			} else {
				unset = append(unset, bson.E{Key: k, Value: ""})
			}
		}
		changes := diff(stored, after)
		if len(changes) == 0 {
			return cur, nil
		}
		if dup, err := s.findDuplicate(ctx, v, norm, id); err != nil || dup != nil {
			if err != nil {
				return nil, err
			}
			return nil, dup
		}
		if err := s.claimDedupeKeys(ctx, v, norm, id); err != nil {
			return nil, err
		}
		now := s.opts.Now().UTC().Truncate(time.Millisecond)
		set = append(set, bson.E{Key: schema.SysVersion, Value: ver + 1}, bson.E{Key: schema.SysUpdatedAt, Value: now})
		if o.Actor.User != "" {
			set = append(set, bson.E{Key: schema.SysUpdatedBy, Value: o.Actor.User})
		}
		update := bson.D{{Key: "$set", Value: set}}
		if len(unset) > 0 {
			update = append(update, bson.E{Key: "$unset", Value: unset})
		}
		res, err := s.coll(entity).UpdateOne(ctx, liveFilter(bson.D{{Key: "_id", Value: id}, {Key: schema.SysVersion, Value: ver}}), update)
		if err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return nil, &DuplicateError{Field: "a unique field"}
			}
			return nil, fmt.Errorf("update %s %s: %w", entity, id, err)
		}
		if res.MatchedCount == 0 {
			if o.IfMatch > 0 {
				return nil, ErrVersionMismatch
			}
			continue
		}
		out := make(Record, len(after)+8)
		for k, val := range cur {
			if schema.IsSystemField(k) {
				out[k] = val
			}
		}
		for k, val := range after {
			out[k] = val
		}
		out[schema.SysVersion] = ver + 1
		out[schema.SysUpdatedAt] = now
		if o.Actor.User != "" {
			out[schema.SysUpdatedBy] = o.Actor.User
		}
		if err := s.writeHistoryChanges(ctx, entity, id, ver+1, OpUpdate, o.Actor, changes, now); err != nil {
			return nil, err
		}
		s.changed(ctx, entity, "updated", out)
		return out, nil
	}
	return nil, fmt.Errorf("update %s %s: too many concurrent writers: %w", entity, id, ErrVersionMismatch)
}

// Delete soft-deletes a live record: it disappears from lists and reads but can be restored within the
// retention period.
func (s *Store) Delete(ctx context.Context, entity, id string, o WriteOptions) (Record, error) {
	return s.setDeleted(ctx, entity, id, o, true)
}

// Restore brings back a soft-deleted record deleted less than the retention period ago.
func (s *Store) Restore(ctx context.Context, entity, id string, o WriteOptions) (Record, error) {
	return s.setDeleted(ctx, entity, id, o, false)
}

func (s *Store) setDeleted(ctx context.Context, entity, id string, o WriteOptions, del bool) (Record, error) {
	if _, err := s.Schema(ctx, entity); err != nil {
		return nil, err
	}
	defer s.lockRecord(entity, id)()
	cur, err := s.get(ctx, entity, id, true, o.Scope)
	if err != nil {
		return nil, err
	}
	deletedAt, isDeleted := cur[schema.SysDeletedAt].(time.Time)
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	switch {
	case del && isDeleted:
		return nil, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
	case !del && !isDeleted:
		return nil, ErrNotDeleted
	case !del && now.Sub(deletedAt) > s.opts.Retention:
		return nil, ErrRetentionOver
	}
	ver := versionOf(cur)
	if o.IfMatch > 0 && o.IfMatch != ver {
		return nil, ErrVersionMismatch
	}
	set := bson.D{{Key: schema.SysVersion, Value: ver + 1}, {Key: schema.SysUpdatedAt, Value: now}}
	if o.Actor.User != "" {
		set = append(set, bson.E{Key: schema.SysUpdatedBy, Value: o.Actor.User})
	}
	var update bson.D
	op := OpRestore
	var change FieldChange
	if del {
		op = OpDelete
		set = append(set, bson.E{Key: schema.SysDeletedAt, Value: now})
		if o.Actor.User != "" {
			set = append(set, bson.E{Key: schema.SysDeletedBy, Value: o.Actor.User})
		}
		update = bson.D{{Key: "$set", Value: set}}
		change = FieldChange{Field: schema.SysDeletedAt, After: now}
	} else {
		update = bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: schema.SysDeletedAt, Value: ""}, {Key: schema.SysDeletedBy, Value: ""}}}}
		change = FieldChange{Field: schema.SysDeletedAt, Before: deletedAt}
	}
	res, err := s.coll(entity).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: schema.SysVersion, Value: ver}}, update)
	if err != nil {
		return nil, fmt.Errorf("update %s %s: %w", entity, id, err)
	}
	if res.MatchedCount == 0 {
		return nil, ErrVersionMismatch
	}
	if err := s.writeHistoryChanges(ctx, entity, id, ver+1, op, o.Actor, []FieldChange{change}, now); err != nil {
		return nil, err
	}
	return s.get(ctx, entity, id, true)
}

// diff lists the top-level fields whose value differs between before and after, in name order.
func diff(before, after map[string]any) []FieldChange {
	var out []FieldChange
	for k, b := range before {
		a, ok := after[k]
		if !ok {
			out = append(out, FieldChange{Field: k, Before: b})
		} else if !sameValue(a, b) {
			out = append(out, FieldChange{Field: k, Before: b, After: a})
		}
	}
	for k, a := range after {
		if _, ok := before[k]; !ok && a != nil {
			out = append(out, FieldChange{Field: k, After: a})
		}
	}
	sortChanges(out)
	return out
}

// sameValue compares two plain values, treating numbers by value (int64 1 equals float64 1).
func sameValue(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
