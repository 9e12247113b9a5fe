package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/schema"
)

// KeysCollection holds one document per dedupe-key and unique-field value of every live record, whose
// _id is "entity/field/normalised value" and whose recordId names the record holding it. A create
// inserts its keys before the record: the unique _id makes two concurrent creates of the same contact
// impossible, and finding the holder of a value is one read by _id on either store — FerretDB's own
// unique indexes could not be queried fast anyway. A delete releases the record's keys, a change moves
// them, a restore claims them back (refused when another record took one meanwhile), and RebuildKeys
// (the `rapport records rebuild-keys` command) rebuilds them from the records.
const KeysCollection = "record_keys"

type keyDoc struct {
	ID       string    `bson:"_id"`
	RecordID string    `bson:"recordId"`
	At       time.Time `bson:"at"`
}

// keysState is the document (_id "@entity") recording for which key fields an entity's keys were
// built, so a schema change of the key fields rebuilds them once.
type keysState struct {
	ID     string    `bson:"_id"`
	Fields string    `bson:"fields"`
	At     time.Time `bson:"at"`
}

// recordKey is one key value of a record.
type recordKey struct {
	Field string
	ID    string
}

// keyID is the stored _id of a key value. Values come normalised from validation (emails in lower case,
// phones in E.164); strings are kept as they are, other values as JSON.
func keyID(entity, field string, val any) string {
	s, ok := val.(string)
	if !ok {
		b, _ := json.Marshal(val)
		s = string(b)
	}
	return entity + "/" + field + "/" + s
}

// keyFields lists the entity's fields that have keys: dedupe keys and unique fields, sorted.
func keyFields(e schema.Entity) []string {
	out := slices.Clone(e.DedupeKeys)
	for i := range e.Fields {
		if e.Fields[i].Unique && !slices.Contains(out, e.Fields[i].Name) {
			out = append(out, e.Fields[i].Name)
		}
	}
	slices.Sort(out)
	return out
}

// recordKeys lists the key values of a record (user fields, normalised).
func recordKeys(v *schema.Validator, rec map[string]any) []recordKey {
	e := v.Entity()
	var out []recordKey
	seen := map[string]bool{}
	add := func(field string, val any) {
		if val == nil || val == "" {
			return
		}
		id := keyID(e.Name, field, val)
		if !seen[id] {
			seen[id] = true
			out = append(out, recordKey{Field: field, ID: id})
		}
	}
	for _, k := range v.DedupeKeys(rec) {
		for _, val := range k.Values {
			add(k.Field, val)
		}
	}
	for i := range e.Fields {
		if f := &e.Fields[i]; f.Unique {
			add(f.Name, rec[f.Name])
		}
	}
	return out
}

// keysMinus returns the keys of a that b lacks.
func keysMinus(a, b []recordKey) []recordKey {
	var out []recordKey
	for _, k := range a {
		if !slices.ContainsFunc(b, func(o recordKey) bool { return o.ID == k.ID }) {
			out = append(out, k)
		}
	}
	return out
}

// claimKeys claims every key for record id. A key held by another live record that still has the value
// is a *DuplicateError naming that record when d (the writer's access, nil for none) may read it; a key
// whose holder was deleted, changed the value or was never stored is stale and taken over. On any
// error the keys claimed so far are released again.
func (s *Store) claimKeys(ctx context.Context, entity string, v *schema.Validator, keys []recordKey, id string, d *access.Decision) error {
	var claimed []recordKey
	for _, k := range keys {
		took, err := s.claimKey(ctx, entity, v, k, id, d)
		if err != nil {
			s.releaseKeys(ctx, claimed, id)
			return err
		}
		if took {
			claimed = append(claimed, k)
		}
	}
	return nil
}

// claimKey claims one key; took is false when id held it already.
func (s *Store) claimKey(ctx context.Context, entity string, v *schema.Validator, k recordKey, id string, d *access.Decision) (took bool, err error) {
	coll := s.db.Collection(KeysCollection)
	c := keyDoc{ID: k.ID, RecordID: id, At: s.opts.Now().UTC()}
	for attempt := 0; attempt < 4; attempt++ {
		_, err := coll.InsertOne(ctx, c)
		if err == nil {
			return true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return false, fmt.Errorf("claim the %s key: %w", k.Field, err)
		}
		var prev keyDoc
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: k.ID}}).Decode(&prev); err != nil {
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue // released meanwhile: insert again
			}
			return false, fmt.Errorf("read the %s key: %w", k.Field, err)
		}
		if prev.RecordID == id {
			return false, nil
		}
		if dup, err := s.heldBy(ctx, entity, v, k, prev, d); err != nil || dup != nil {
			if err != nil {
				return false, err
			}
			return false, dup
		}
		ok, err := s.be().UpdateIf(ctx, coll, k.ID, "recordId", prev.RecordID,
			bson.D{{Key: "$set", Value: bson.D{{Key: "recordId", Value: id}, {Key: "at", Value: c.At}}}})
		if err != nil {
			return false, fmt.Errorf("take over the %s key: %w", k.Field, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, fmt.Errorf("the %s key: too many concurrent writers: %w", k.Field, ErrVersionMismatch)
}

// heldBy checks whether the holder of a stored key really holds it: a live record with the value (a
// duplicate), or a create still in flight (a duplicate until the claim is stale). It returns nil when
// the key is stale and may be taken over.
func (s *Store) heldBy(ctx context.Context, entity string, v *schema.Validator, k recordKey, prev keyDoc, d *access.Decision) (*DuplicateError, error) {
	holder, err := s.get(ctx, entity, prev.RecordID, true)
	switch {
	case errors.Is(err, ErrNotFound):
		if s.opts.Now().Sub(prev.At) >= staleClaim {
			return nil, nil
		}
		dup := &DuplicateError{Field: k.Field}
		if d == nil {
			dup.ExistingID = prev.RecordID
		}
		return dup, nil
	case err != nil:
		return nil, err
	case !isLive(holder) || !slices.ContainsFunc(recordKeys(v, userFields(holder)), func(h recordKey) bool { return h.ID == k.ID }):
		return nil, nil
	}
	dup := &DuplicateError{Field: k.Field}
	if d == nil || d.InScope(access.ActionRead, holder) {
		dup.ExistingID = prev.RecordID
	}
	return dup, nil
}

// releaseKeys gives up keys held by id; a key another record took over meanwhile is left alone. A
// failure only leaves a stale key, which the next claim takes over, so it is logged, not returned.
func (s *Store) releaseKeys(ctx context.Context, keys []recordKey, id string) {
	coll := s.db.Collection(KeysCollection)
	for _, k := range keys {
		if _, err := s.be().DeleteIf(context.WithoutCancel(ctx), coll, k.ID, "recordId", id); err != nil {
			s.opts.Logger.Warn("release a record key", "key", k.ID, "record", id, "error", err)
		}
	}
}

// ErrNotKey: FindByKey was asked about a field that is neither a dedupe key nor unique.
var ErrNotKey = errors.New("not a dedupe key or unique field")

// FindByKey returns the live record holding a dedupe-key or unique-field value — one read of the key
// and one of the record, on either store. ErrNotFound when none holds it; ErrNotKey when field is not a
// key field of the entity (list with a filter instead).
func (s *Store) FindByKey(ctx context.Context, entity, field string, value any) (Record, error) {
	v, err := s.validator(ctx, entity)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(keyFields(v.Entity()), field) {
		return nil, fmt.Errorf("%s of %s: %w", field, entity, ErrNotKey)
	}
	e := v.Entity()
	if f := e.Field(field); f != nil && f.Type == schema.TypeList {
		if _, isList := value.([]any); !isList {
			value = []any{value}
		}
	}
	norm, _ := v.Check(map[string]any{field: value}, schema.Patch, schema.Trusted())
	if nv, ok := norm[field]; ok && nv != nil {
		value = nv
	}
	if list, ok := value.([]any); ok && len(list) == 1 {
		value = list[0]
	}
	k := recordKey{Field: field, ID: keyID(entity, field, value)}
	var kd keyDoc
	err = s.db.Collection(KeysCollection).FindOne(ctx, bson.D{{Key: "_id", Value: k.ID}}).Decode(&kd)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%s with %s %v: %w", entity, field, value, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read the %s key: %w", field, err)
	}
	rec, err := s.get(ctx, entity, kd.RecordID, false)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(recordKeys(v, userFields(rec)), func(h recordKey) bool { return h.ID == k.ID }) {
		return nil, fmt.Errorf("%s with %s %v: %w", entity, field, value, ErrNotFound)
	}
	return rec, nil
}

// ensureKeys rebuilds an entity's keys when its key fields differ from those they were built for (the
// first start after an upgrade, or a schema change of dedupe keys or unique fields).
func (s *Store) ensureKeys(ctx context.Context, e schema.Entity) error {
	fields := strings.Join(keyFields(e), ",")
	coll := s.db.Collection(KeysCollection)
	var st keysState
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "@" + e.Name}}).Decode(&st)
	if err == nil && st.Fields == fields {
		return nil
	}
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("read the key state of %s: %w", e.Name, err)
	}
	rep, err := s.rebuildKeys(ctx, e)
	if err != nil {
		return err
	}
	if rep.Keys > 0 || rep.Removed > 0 || len(rep.Conflicts) > 0 {
		s.opts.Logger.Info("rebuilt record keys", "entity", e.Name, "fields", fields, "records", rep.Records, "keys", rep.Keys,
			"removed", rep.Removed, "conflicts", len(rep.Conflicts))
	}
	_, err = coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "@" + e.Name}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "fields", Value: fields}, {Key: "at", Value: s.opts.Now().UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save the key state of %s: %w", e.Name, err)
	}
	return nil
}

// KeysReport is what RebuildKeys found and did for one entity.
type KeysReport struct {
	Entity string `json:"entity"`
	// Records is the number of live records read; Keys the number of keys they hold.
	Records int `json:"records"`
	Keys    int `json:"keys"`
	// Written counts keys created or moved to their holder; Removed the stale ones deleted.
	Written int `json:"written"`
	Removed int `json:"removed"`
	// Conflicts are live records sharing a value (made before the keys existed, or written around
	// them): the oldest record keeps the key, the others are listed so someone merges them.
	Conflicts []KeyConflict `json:"conflicts,omitempty"`
}

// KeyConflict is a value held by more than one live record.
type KeyConflict struct {
	Field  string   `json:"field"`
	Key    string   `json:"key"`
	Holder string   `json:"holder"`
	Others []string `json:"others"`
}

// RebuildKeys rebuilds an entity's keys from its live records: every record's key values point to it
// (the oldest record wins a value several share, reported as a conflict), and keys no live record
// holds are removed. It reads the whole collection, so it is a maintenance task (`rapport records
// rebuild-keys`), run automatically only when an entity's key fields change.
func (s *Store) RebuildKeys(ctx context.Context, entity string) (KeysReport, error) {
	info, err := s.Schema(ctx, entity)
	if err != nil {
		return KeysReport{}, err
	}
	return s.rebuildKeys(ctx, info.Entity)
}

func (s *Store) rebuildKeys(ctx context.Context, e schema.Entity) (KeysReport, error) {
	rep := KeysReport{Entity: e.Name}
	v, err := s.reg.Validator(e)
	if err != nil {
		return rep, fmt.Errorf("compile schema %s: %w", e.Name, err)
	}
	fields := keyFields(e)
	want := map[string]string{}            // key → holder
	born := map[string]time.Time{}         // holder → createdAt
	conflicts := map[string]*KeyConflict{} // key → conflict
	if len(fields) > 0 {
		proj := bson.D{{Key: schema.SysCreatedAt, Value: 1}}
		for _, f := range fields {
			proj = append(proj, bson.E{Key: f, Value: 1})
		}
		cur, err := s.coll(e.Name).Find(ctx, liveFilter(nil), options.Find().SetProjection(proj).SetBatchSize(1000))
		if err != nil {
			return rep, fmt.Errorf("read %s records: %w", e.Name, err)
		}
		for cur.Next(ctx) {
			var doc bson.M
			if err := cur.Decode(&doc); err != nil {
				cur.Close(ctx)
				return rep, fmt.Errorf("decode %s record: %w", e.Name, err)
			}
			r := toRecord(doc)
			id := fmt.Sprint(r[schema.SysID])
			at, _ := r[schema.SysCreatedAt].(time.Time)
			born[id] = at
			rep.Records++
			for _, k := range recordKeys(v, userFields(r)) {
				prev, taken := want[k.ID]
				if !taken {
					want[k.ID] = id
					continue
				}
				c := conflicts[k.ID]
				if c == nil {
					c = &KeyConflict{Field: k.Field, Key: k.ID}
					conflicts[k.ID] = c
				}
				if at.Before(born[prev]) || at.Equal(born[prev]) && id < prev {
					want[k.ID] = id
					c.Others = append(c.Others, prev)
				} else {
					c.Others = append(c.Others, id)
				}
			}
		}
		err = cur.Err()
		cur.Close(ctx)
		if err != nil {
			return rep, fmt.Errorf("read %s records: %w", e.Name, err)
		}
	}
	rep.Keys = len(want)
	coll := s.db.Collection(KeysCollection)
	// Keys already stored: leave those pointing at their holder, remove those no record holds.
	have := map[string]string{}
	cur, err := coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(e.Name+"/")}}}})
	if err != nil {
		return rep, fmt.Errorf("read the keys of %s: %w", e.Name, err)
	}
	var stored []keyDoc
	err = cur.All(ctx, &stored)
	if err != nil {
		return rep, fmt.Errorf("read the keys of %s: %w", e.Name, err)
	}
	for _, k := range stored {
		have[k.ID] = k.RecordID
		if _, ok := want[k.ID]; !ok {
			if ok, err := s.be().DeleteIf(ctx, coll, k.ID, "recordId", k.RecordID); err != nil {
				return rep, fmt.Errorf("remove a stale key of %s: %w", e.Name, err)
			} else if ok {
				rep.Removed++
			}
		}
	}
	now := s.opts.Now().UTC()
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := coll.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
		batch = batch[:0]
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("write the keys of %s: %w", e.Name, err)
		}
		return nil
	}
	for id, holder := range want {
		prev, ok := have[id]
		switch {
		case !ok:
			batch = append(batch, keyDoc{ID: id, RecordID: holder, At: now})
			rep.Written++
			if len(batch) == 500 {
				if err := flush(); err != nil {
					return rep, err
				}
			}
		case prev != holder:
			if _, err := s.be().UpdateIf(ctx, coll, id, "recordId", prev,
				bson.D{{Key: "$set", Value: bson.D{{Key: "recordId", Value: holder}, {Key: "at", Value: now}}}}); err != nil {
				return rep, fmt.Errorf("move a key of %s: %w", e.Name, err)
			}
			rep.Written++
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	for _, c := range conflicts {
		c.Holder = want[c.Key]
		slices.Sort(c.Others)
		rep.Conflicts = append(rep.Conflicts, *c)
	}
	slices.SortFunc(rep.Conflicts, func(a, b KeyConflict) int { return strings.Compare(a.Key, b.Key) })
	for _, c := range rep.Conflicts {
		s.opts.Logger.Warn("live records share a unique value; the oldest keeps it", "entity", e.Name, "key", c.Key, "holder", c.Holder, "others", c.Others)
	}
	return rep, nil
}
