package records

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

// Record is a stored record as clients see it: the entity's fields plus the system fields (id, version,
// createdAt, updatedAt, createdBy, updatedBy, deletedAt). Datetimes are time.Time.
type Record = map[string]any

// Access gives the writer's access decision on an entity's records (engine/access). The API passes the
// caller's, so a create, patch, delete, restore or import checks exactly the same things whichever way
// it comes: scope, hidden and read-only fields, owner and team changes, and which referenced or
// duplicate records it may learn of. nil writes unchecked (processes and plugins, checked where they
// are configured; maintenance).
type Access func(entity string) access.Decision

// WriteOptions carry what a write needs besides the data.
type WriteOptions struct {
	Actor ChangedBy
	// IfMatch, when positive, is the version the caller last read; a different stored version fails the
	// write with ErrVersionMismatch and nothing is written.
	IfMatch int64
	// IdempotencyKey makes a create repeatable: the same key (per entity and user) returns the first
	// result instead of creating a second record.
	IdempotencyKey string
	// Trusted lets processes and plugins write read-only fields.
	Trusted bool
	// Language picks the language of analysts' rule messages ("en" or "ru").
	Language string
	// Access is the writer's access to records; nil for none to check.
	Access Access
}

// decision is the writer's decision on entity, or nil when the write is unchecked.
func (o WriteOptions) decision(entity string) *access.Decision {
	if o.Access == nil {
		return nil
	}
	d := o.Access(entity)
	return &d
}

// CreateResult is a created record; Replayed is true when an Idempotency-Key returned an earlier result.
type CreateResult struct {
	Record   Record
	Replayed bool
}

// createdField keeps, on the stored record, through what it was created (the user is createdBy): with
// createdAt it is the record's first history entry, which a create therefore need not write (see
// History). Fields starting with "_" are storage's own and never leave the store.
const createdField = "_created"

// toRecord turns a decoded document into a plain record: _id becomes id, BSON containers become maps
// and slices, BSON dates become time.Time; storage's own fields are dropped.
func toRecord(doc bson.M) Record {
	out := make(Record, len(doc))
	for k, v := range doc {
		if k == "_id" {
			k = schema.SysID
		} else if strings.HasPrefix(k, "_") {
			continue
		}
		out[k] = storage.Plain(v)
	}
	return out
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

func isLive(r Record) bool { return r[schema.SysDeletedAt] == nil }

// MissingRefs implements schema.RefResolver: it reads the referenced records by ID. Users are looked up
// in the identity store; teams have no store yet and are accepted as they are.
func (s *Store) MissingRefs(ctx context.Context, entity string, ids []string) ([]string, error) {
	return s.missingRefs(ctx, entity, ids, nil)
}

// missingRefs lists the ids that name no live record of entity — or, with an Access, no record the
// writer may read, so a reference answers the same for a record outside the writer's scope as for one
// that does not exist.
func (s *Store) missingRefs(ctx context.Context, entity string, ids []string, acc Access) ([]string, error) {
	if len(ids) == 0 || entity == schema.RefTeam {
		return nil, nil
	}
	coll := s.coll(entity)
	proj := bson.D{{Key: schema.SysDeletedAt, Value: 1}, {Key: access.OwnerField, Value: 1}, {Key: access.TeamField, Value: 1}, {Key: access.AssigneeField, Value: 1}}
	if entity == schema.RefUser {
		coll, proj, acc = s.db.Collection("users"), bson.D{{Key: "_id", Value: 1}}, nil
	}
	var d *access.Decision
	if acc != nil {
		dd := acc(entity)
		d = &dd
	}
	have := make(map[string]bool, len(ids))
	err := s.be().FindIDs(ctx, coll, ids, proj, func(raw bson.Raw) error {
		var doc bson.M
		if err := bson.Unmarshal(raw, &doc); err != nil {
			return err
		}
		rec := toRecord(doc)
		if entity != schema.RefUser && !isLive(rec) {
			return nil
		}
		if d != nil && !d.InScope(access.ActionRead, rec) {
			return nil
		}
		have[fmt.Sprint(rec[schema.SysID])] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up %s references: %w", entity, err)
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// callerResolver resolves references for one writer: it skips looking up the calling user (an
// authenticated caller exists, and owner defaults to the caller, so most creates would otherwise pay a
// read for nothing) and applies the writer's read scope to referenced records.
type callerResolver struct {
	s      *Store
	user   string
	access Access
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
	return r.s.missingRefs(ctx, entity, ids, r.access)
}

func (s *Store) validateOpts(o WriteOptions) []schema.ValidateOption {
	opts := []schema.ValidateOption{schema.WithResolver(callerResolver{s: s, user: o.Actor.User, access: o.Access}), schema.At(s.opts.Now())}
	if o.Trusted {
		opts = append(opts, schema.Trusted())
	}
	if o.Language != "" {
		opts = append(opts, schema.InLanguage(o.Language))
	}
	return opts
}

// admit checks that the writer may make these changes to a record (current is nil for a create):
// hidden and read-only fields, owner to someone else, and team changes, which — like owner changes —
// need the assign permission (on a create, a team the writer is not in). System fields are left to
// validation, which reports them as not writable.
func admit(d *access.Decision, changes map[string]any, current Record) error {
	if d == nil {
		return nil
	}
	user := make(map[string]any, len(changes))
	for k, v := range changes {
		if !schema.IsSystemField(k) {
			user[k] = v
		}
	}
	err := d.CheckWrite(user)
	team, touched := user[access.TeamField]
	if !touched || d.Can(access.ActionAssign) {
		return err
	}
	var moved bool
	if current == nil {
		t, _ := team.(string)
		moved = t != "" && !slices.Contains(d.Subject.Teams, t)
	} else {
		moved = !storage.SameValue(team, current[access.TeamField])
	}
	if !moved {
		return err
	}
	var fe *access.FieldError
	if !errors.As(err, &fe) {
		if err != nil {
			return err
		}
		fe = &access.FieldError{Entity: d.Entity}
	}
	if !slices.Contains(fe.Fields, access.TeamField) {
		fe.Fields = append(fe.Fields, access.TeamField)
		slices.Sort(fe.Fields)
	}
	return fe
}

// staleClaim is how long an idempotency key or record key may stay claimed without its record before
// another request takes it over.
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

// prepare runs every check of a create on rec for the writer and returns the record to store: access,
// the owner default, validation with reference lookups, and the entity's rules. The API's create and
// every import row go through it, so both check exactly the same.
func (s *Store) prepare(ctx context.Context, v *schema.Validator, rec map[string]any, o WriteOptions) (map[string]any, error) {
	e := v.Entity()
	if err := admit(o.decision(e.Name), rec, nil); err != nil {
		return nil, err
	}
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
		return nil, fmt.Errorf("validate %s: %w", e.Name, err)
	}
	if len(problems) == 0 {
		if problems, err = s.enforce(ctx, e.Name, norm, nil); err != nil {
			return nil, err
		}
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return norm, nil
}

// newDoc is the stored document of a new record.
func (s *Store) newDoc(norm map[string]any, id string, a ChangedBy) bson.M {
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	doc := make(bson.M, len(norm)+7)
	for k, val := range norm {
		if val != nil {
			doc[k] = val
		}
	}
	doc["_id"] = id
	doc[schema.SysVersion] = int64(1)
	doc[schema.SysCreatedAt] = now
	doc[schema.SysUpdatedAt] = now
	if a.User != "" {
		doc[schema.SysCreatedBy] = a.User
		doc[schema.SysUpdatedBy] = a.User
	}
	if a.Via != "api" && a.Via != "" || a.Process != "" || a.Plugin != "" || a.Import != "" || a.RunAs != "" {
		created := a
		created.User = "" // kept as createdBy
		doc[createdField] = created
	}
	return doc
}

// Create validates and stores a new record and returns it. Bad data gives a *ValidationError, a
// duplicate a *DuplicateError, a field the writer may not set an *access.FieldError; in each case
// nothing is written. The create is one insert on the request path (plus one per idempotency or record
// key), which also stores its history entry on the embedded store; elsewhere the entry follows in the
// background (see insertCreated).
func (s *Store) Create(ctx context.Context, entity string, rec map[string]any, o WriteOptions) (CreateResult, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return CreateResult{}, err
	}
	norm, err := s.prepare(ctx, v, rec, o)
	if err != nil {
		return CreateResult{}, err
	}
	id := newID()
	var claim *idemDoc
	if o.IdempotencyKey != "" {
		claim = &idemDoc{ID: s.idemID(entity, o), RecordID: id, Hash: bodyHash(rec), CreatedAt: s.opts.Now().UTC()}
		if res, replay, err := s.claim(ctx, entity, claim); err != nil || replay {
			return res, err
		}
	}
	release := func() {
		if claim != nil {
			_, _ = s.be().DeleteIf(context.WithoutCancel(ctx), s.db.Collection(IdempotencyCollection), claim.ID, "recordId", id)
		}
	}
	keys := recordKeys(v, norm)
	if err := s.claimKeys(ctx, entity, v, keys, id, o.decision(entity)); err != nil {
		release()
		return CreateResult{}, err
	}
	doc := s.newDoc(norm, id, o.Actor)
	out := toRecord(doc)
	if err := s.insertCreated(ctx, entity, doc, createEntryOf(entity, out, o.Actor)); err != nil {
		release()
		s.releaseKeys(ctx, keys, id)
		if mongo.IsDuplicateKeyError(err) || errors.Is(err, storage.ErrDuplicateKey) {
			return CreateResult{}, &DuplicateError{Field: "a unique field"}
		}
		return CreateResult{}, fmt.Errorf("insert %s: %w", entity, err)
	}
	s.changed(ctx, entity, "created", out, nil)
	return CreateResult{Record: out}, nil
}

// insertCreated stores a new record and its history entry. On the embedded store the two go into its
// files in one transaction (storage.Files.Insert): together or not at all, and without FerretDB's round
// trip, which cost a create through the API more than everything else it does (BenchmarkRecordsCreateLead).
// Elsewhere — MongoDB, or a record the files leave to FerretDB — the record is one insert and its entry
// follows in the background (historyWriter).
func (s *Store) insertCreated(ctx context.Context, entity string, doc bson.M, entry RecordHistoryEntry) error {
	if files := s.be().Files(); files != nil {
		rec, err := bson.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encode the record: %w", err)
		}
		h, err := bson.Marshal(entry)
		if err != nil {
			return fmt.Errorf("encode its history: %w", err)
		}
		err = files.Insert(ctx, s.db.Name(), []storage.InsertDoc{{Collection: s.coll(entity).Name(), Doc: rec}, {Collection: HistoryCollection, Doc: h}})
		if !errors.Is(err, storage.ErrNotPushed) {
			return err
		}
	}
	if _, err := s.coll(entity).InsertOne(ctx, doc); err != nil {
		return err
	}
	s.history.add(ctx, entry)
	return nil
}

// idemID is the stored ID of an idempotency key. Keys are per user, except imports: any re-run of the
// same rows must find the first records.
func (s *Store) idemID(entity string, o WriteOptions) string {
	scope := o.Actor.User
	if o.Actor.Via == "import" {
		scope = "import"
	}
	return entity + "|" + scope + "|" + o.IdempotencyKey
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
func (s *Store) changed(ctx context.Context, entity, op string, rec Record, fields []FieldChange) {
	if s.opts.OnChange == nil {
		return
	}
	var changed []string
	if fields != nil {
		changed = make([]string, len(fields))
		for i, f := range fields {
			changed[i] = f.Field
		}
	}
	if err := s.opts.OnChange(ctx, entity, op, rec, changed); err != nil {
		s.opts.Logger.Error("after a record change", "entity", entity, "op", op, "id", rec[schema.SysID], "error", err)
	}
}

// claim reserves an idempotency key. When the key was used before it returns the earlier result (replay
// true), ErrIdempotencyReuse for another body, or ErrInProgress while the first request runs.
func (s *Store) claim(ctx context.Context, entity string, c *idemDoc) (CreateResult, bool, error) {
	coll := s.db.Collection(IdempotencyCollection)
	_, err := coll.InsertOne(ctx, c)
	if err == nil {
		return CreateResult{}, false, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return CreateResult{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return s.reclaim(ctx, entity, c)
}

// reclaim handles an idempotency key already claimed: a replay of its record, a reuse with another body,
// a request still running, or a stale claim taken over.
func (s *Store) reclaim(ctx context.Context, entity string, c *idemDoc) (CreateResult, bool, error) {
	coll := s.db.Collection(IdempotencyCollection)
	var prev idemDoc
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&prev); err != nil {
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
		ok, err := s.be().UpdateIf(ctx, coll, c.ID, "recordId", prev.RecordID,
			bson.D{{Key: "$set", Value: bson.D{{Key: "recordId", Value: c.RecordID}, {Key: "createdAt", Value: c.CreatedAt}}}})
		if err != nil {
			return CreateResult{}, false, fmt.Errorf("take over idempotency key: %w", err)
		}
		if !ok {
			return CreateResult{}, false, ErrInProgress
		}
		return CreateResult{}, false, nil
	}
	if err != nil {
		return CreateResult{}, false, err
	}
	return CreateResult{Record: r, Replayed: true}, true, nil
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

// get reads a record by its bare _id — the one filter the embedded store serves without a scan — and
// checks liveness in Go.
func (s *Store) get(ctx context.Context, entity, id string, withDeleted bool) (Record, error) {
	var doc bson.M
	err := s.coll(entity).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", entity, id, err)
	}
	r := toRecord(doc)
	if !withDeleted && !isLive(r) {
		return nil, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
	}
	return r, nil
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
// version it read (see storage.Backend), retrying when another writer got in between (unless IfMatch
// pins the version). A record outside the writer's write scope is not found.
func (s *Store) Patch(ctx context.Context, entity, id string, patch map[string]any, o WriteOptions) (Record, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return nil, err
	}
	coll := s.coll(entity)
	d := o.decision(entity)
	defer s.be().Lock(coll, id)()
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := s.get(ctx, entity, id, false)
		if err != nil {
			return nil, err
		}
		if d != nil && !d.InScope(access.ActionWrite, cur) {
			return nil, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
		}
		if err := admit(d, patch, cur); err != nil {
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
		changes := diff(stored, after)
		if len(changes) == 0 {
			return cur, nil
		}
		set, unset := bson.D{}, bson.D{}
		for k := range norm {
			if val, ok := after[k]; ok && val != nil {
				set = append(set, bson.E{Key: k, Value: val})
			} else {
				unset = append(unset, bson.E{Key: k, Value: ""})
			}
		}
		before, now := recordKeys(v, stored), recordKeys(v, after)
		added, removed := keysMinus(now, before), keysMinus(before, now)
		if err := s.claimKeys(ctx, entity, v, added, id, d); err != nil {
			return nil, err
		}
		at := s.opts.Now().UTC().Truncate(time.Millisecond)
		set = append(set, bson.E{Key: schema.SysVersion, Value: ver + 1}, bson.E{Key: schema.SysUpdatedAt, Value: at})
		if o.Actor.User != "" {
			set = append(set, bson.E{Key: schema.SysUpdatedBy, Value: o.Actor.User})
		}
		update := bson.D{{Key: "$set", Value: set}}
		if len(unset) > 0 {
			update = append(update, bson.E{Key: "$unset", Value: unset})
		}
		res, err := coll.UpdateOne(ctx, s.be().Match(id, schema.SysVersion, ver), update)
		if err != nil {
			s.releaseKeys(ctx, added, id)
			if mongo.IsDuplicateKeyError(err) {
				return nil, &DuplicateError{Field: "a unique field"}
			}
			return nil, fmt.Errorf("update %s %s: %w", entity, id, err)
		}
		if res.MatchedCount == 0 {
			s.releaseKeys(ctx, added, id)
			if o.IfMatch > 0 {
				return nil, ErrVersionMismatch
			}
			continue
		}
		s.releaseKeys(ctx, removed, id)
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
		out[schema.SysUpdatedAt] = at
		if o.Actor.User != "" {
			out[schema.SysUpdatedBy] = o.Actor.User
		}
		if err := s.writeHistoryChanges(ctx, entity, id, ver+1, OpUpdate, o.Actor, changes, at); err != nil {
			return nil, err
		}
		s.changed(ctx, entity, "updated", out, changes)
		return out, nil
	}
	return nil, fmt.Errorf("update %s %s: too many concurrent writers: %w", entity, id, ErrVersionMismatch)
}

// Delete soft-deletes a live record: it disappears from lists and reads but can be restored within the
// retention period. Its dedupe and unique values are released for other records.
func (s *Store) Delete(ctx context.Context, entity, id string, o WriteOptions) (Record, error) {
	return s.setDeleted(ctx, entity, id, o, true)
}

// Restore brings back a soft-deleted record deleted less than the retention period ago. When another
// record took one of its dedupe or unique values meanwhile, the restore is refused with a
// *DuplicateError (Restore set): two live duplicates never exist.
func (s *Store) Restore(ctx context.Context, entity, id string, o WriteOptions) (Record, error) {
	return s.setDeleted(ctx, entity, id, o, false)
}

func (s *Store) setDeleted(ctx context.Context, entity, id string, o WriteOptions, del bool) (Record, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return nil, err
	}
	coll := s.coll(entity)
	d := o.decision(entity)
	defer s.be().Lock(coll, id)()
	cur, err := s.get(ctx, entity, id, true)
	if err != nil {
		return nil, err
	}
	if d != nil && !d.InScope(access.ActionDelete, cur) {
		return nil, fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
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
	keys := recordKeys(v, userFields(cur))
	if !del {
		if err := s.claimKeys(ctx, entity, v, keys, id, d); err != nil {
			var dup *DuplicateError
			if errors.As(err, &dup) {
				dup.Restore = true
			}
			return nil, err
		}
	}
	set := bson.D{{Key: schema.SysVersion, Value: ver + 1}, {Key: schema.SysUpdatedAt, Value: now}}
	if o.Actor.User != "" {
		set = append(set, bson.E{Key: schema.SysUpdatedBy, Value: o.Actor.User})
	}
	out := make(Record, len(cur)+2)
	for k, val := range cur {
		out[k] = val
	}
	var update bson.D
	op := OpRestore
	var change FieldChange
	if del {
		op = OpDelete
		set = append(set, bson.E{Key: schema.SysDeletedAt, Value: now})
		out[schema.SysDeletedAt] = now
		if o.Actor.User != "" {
			set = append(set, bson.E{Key: schema.SysDeletedBy, Value: o.Actor.User})
			out[schema.SysDeletedBy] = o.Actor.User
		}
		update = bson.D{{Key: "$set", Value: set}}
		change = FieldChange{Field: schema.SysDeletedAt, After: now}
	} else {
		update = bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: schema.SysDeletedAt, Value: ""}, {Key: schema.SysDeletedBy, Value: ""}}}}
		delete(out, schema.SysDeletedAt)
		delete(out, schema.SysDeletedBy)
		change = FieldChange{Field: schema.SysDeletedAt, Before: deletedAt}
	}
	res, err := coll.UpdateOne(ctx, s.be().Match(id, schema.SysVersion, ver), update)
	if err == nil && res.MatchedCount == 0 {
		err = ErrVersionMismatch
	}
	if err != nil {
		if !del {
			s.releaseKeys(ctx, keys, id)
		}
		if errors.Is(err, ErrVersionMismatch) {
			return nil, err
		}
		return nil, fmt.Errorf("update %s %s: %w", entity, id, err)
	}
	if del {
		s.releaseKeys(ctx, keys, id)
	}
	out[schema.SysVersion] = ver + 1
	out[schema.SysUpdatedAt] = now
	if o.Actor.User != "" {
		out[schema.SysUpdatedBy] = o.Actor.User
	}
	if err := s.writeHistoryChanges(ctx, entity, id, ver+1, op, o.Actor, []FieldChange{change}, now); err != nil {
		return nil, err
	}
	if del {
		s.changed(ctx, entity, "deleted", out, nil)
	}
	return out, nil
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
