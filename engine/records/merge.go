package records

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

// OpMerge is the history entry of a merge of duplicates: on the survivor it names the merged record
// (mergedFrom), on the duplicate the survivor (mergedInto).
const OpMerge Op = "merge"

// The fields a merge's history entries carry.
const (
	MergedIntoField = "mergedInto"
	MergedFromField = "mergedFrom"
)

// ErrMergeSelf refuses merging a record with itself.
var ErrMergeSelf = errors.New("a record cannot be merged with itself")

// MergeRequest names the record that stays (SurvivorID), the one merged into it and deleted
// (DuplicateID), and field values the survivor takes whatever the two records hold (Fields).
type MergeRequest struct {
	Entity      string
	SurvivorID  string
	DuplicateID string
	Fields      map[string]any
}

// MergeError is a merge refused because of one field of the request (duplicateId): Err is ErrMergeSelf,
// ErrNotFound (no such record the caller may delete) or an *OtherEntityError.
type MergeError struct {
	Field string
	Err   error
}

// Error names the field.
func (e *MergeError) Error() string { return e.Field + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *MergeError) Unwrap() error { return e.Err }

// OtherEntityError says the duplicate is a record of another entity than the survivor.
type OtherEntityError struct {
	Entity, Want string
}

// Error names both entities.
func (e *OtherEntityError) Error() string {
	return fmt.Sprintf("the record is a %s, not a %s: only records of one entity merge", e.Entity, e.Want)
}

// MergeResult is the survivor after a merge and how many references in each entity now point at it
// instead of the duplicate.
type MergeResult struct {
	Record    Record         `json:"record"`
	Repointed map[string]int `json:"repointed" doc:"Per entity, how many records' references were moved from the duplicate to the survivor."`
}

// Merge merges a duplicate into a survivor of the same entity: the survivor's empty fields take the
// duplicate's values (FillFields; req.Fields win), every reference to the duplicate in any entity's
// reference fields (derived from the schemas) is moved to the survivor, and the duplicate is deleted
// through the normal delete path — so what ends with a deleted record (its follow-up cadence) ends —
// with a merge entry in both records' histories (mergedInto on the duplicate, mergedFrom on the
// survivor). With an Access, both records must be in the writer's scope: write on the survivor, delete
// on the duplicate; fields the writer may not write are not filled. o.IfMatch pins the survivor's
// version. References in deleted records and inside nested objects are not moved.
func (s *Store) Merge(ctx context.Context, req MergeRequest, o WriteOptions) (MergeResult, error) {
	if req.SurvivorID == req.DuplicateID {
		return MergeResult{}, &MergeError{Field: "duplicateId", Err: ErrMergeSelf}
	}
	v, err := s.validator(ctx, req.Entity)
	if err != nil {
		return MergeResult{}, err
	}
	info, err := s.Schema(ctx, req.Entity)
	if err != nil {
		return MergeResult{}, err
	}
	d := o.decision(req.Entity)
	surv, err := s.get(ctx, req.Entity, req.SurvivorID, false)
	if err != nil {
		return MergeResult{}, err
	}
	if d != nil && !d.InScope(access.ActionWrite, surv) {
		return MergeResult{}, fmt.Errorf("%s %q: %w", req.Entity, req.SurvivorID, ErrNotFound)
	}
	if o.IfMatch > 0 && o.IfMatch != versionOf(surv) {
		return MergeResult{}, ErrVersionMismatch
	}
	dup, err := s.get(ctx, req.Entity, req.DuplicateID, false)
	if errors.Is(err, ErrNotFound) {
		return MergeResult{}, &MergeError{Field: "duplicateId", Err: s.elsewhere(ctx, req.Entity, req.DuplicateID, o)}
	}
	if err != nil {
		return MergeResult{}, err
	}
	if d != nil && !d.InScope(access.ActionDelete, dup) {
		return MergeResult{}, &MergeError{Field: "duplicateId", Err: fmt.Errorf("%s %q: %w", req.Entity, req.DuplicateID, ErrNotFound)}
	}

	stored := userFields(surv)
	newer, err := s.setLater(ctx, info.Entity, req.DuplicateID, dup, req.SurvivorID, surv)
	if err != nil {
		return MergeResult{}, err
	}
	fill, _ := splitTrusted(info.Entity, FillFields(info.Entity, stored, userFields(dup), req.Fields, newer, writableBy(d)), req.Fields)
	// Refuse what the patch would refuse before anything is written.
	if err := admit(d, fill, surv); err != nil {
		return MergeResult{}, err
	}
	if _, problems, err := v.Validate(ctx, fill, schema.Patch, append(s.validateOpts(o), schema.WithCurrent(stored))...); err != nil {
		return MergeResult{}, fmt.Errorf("validate the merge of %s %s: %w", req.Entity, req.SurvivorID, err)
	} else if len(problems) > 0 {
		for i, p := range problems {
			if _, explicit := req.Fields[topField(p.Pointer)]; explicit {
				problems[i].Pointer = "/fields" + p.Pointer
			}
		}
		return MergeResult{}, &ValidationError{Problems: problems}
	}

	// The duplicate goes first, releasing its dedupe values for the survivor to take.
	del := o
	del.IfMatch = 0
	if _, err := s.Delete(ctx, req.Entity, req.DuplicateID, del); err != nil {
		return MergeResult{}, fmt.Errorf("merge: delete the duplicate: %w", err)
	}
	if err := s.fillSurvivor(ctx, req, info.Entity, surv, userFields(dup), newer, d, o); err != nil {
		if _, rerr := s.Restore(ctx, req.Entity, req.DuplicateID, del); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore the duplicate: %w", rerr))
		}
		return MergeResult{}, fmt.Errorf("merge: fill the survivor: %w", err)
	}
	repointed, err := s.repoint(ctx, req.Entity, req.DuplicateID, req.SurvivorID, o.Actor)
	if err != nil {
		return MergeResult{Repointed: repointed}, err
	}
	if _, err := s.noteMerge(ctx, req.Entity, req.DuplicateID, MergedIntoField, req.SurvivorID, o.Actor); err != nil {
		return MergeResult{Repointed: repointed}, err
	}
	out, err := s.noteMerge(ctx, req.Entity, req.SurvivorID, MergedFromField, req.DuplicateID, o.Actor)
	if err != nil {
		return MergeResult{Repointed: repointed}, err
	}
	return MergeResult{Record: out, Repointed: repointed}, nil
}

// writableBy tells whether the writer may set a field to a value (anything, when unchecked).
func writableBy(d *access.Decision) func(field string, val any) bool {
	return func(field string, val any) bool { return d == nil || d.CheckWrite(map[string]any{field: val}) == nil }
}

// fillSurvivor patches the survivor with what it takes from the duplicate, computed on the version it
// patches: when a process changed the survivor meanwhile (a cadence writing its next follow-up), the
// fill is computed again on the newer version, unless the caller pinned one with If-Match. It is one
// write: the read-only counts and totals it sums go in the same patch, trusted, so a retry never adds a
// sum twice and no survivor is left with half a merge. The merging user cannot pick those values:
// Merge refused, before anything was written, explicit values of fields the user may not write. newer
// (setLater) is Merge's, for surv as read then; a newer version of the survivor is compared again.
func (s *Store) fillSurvivor(ctx context.Context, req MergeRequest, e schema.Entity, surv Record, dup map[string]any, newer map[string]bool, d *access.Decision, o WriteOptions) error {
	for attempt := 0; ; attempt++ {
		fill := FillFields(e, userFields(surv), dup, req.Fields, newer, writableBy(d))
		if len(fill) == 0 {
			return nil
		}
		upd := o
		upd.IfMatch = versionOf(surv)
		if _, trusted := splitTrusted(e, fill, req.Fields); len(trusted) > 0 {
			upd.Trusted = true
		}
		_, err := s.Patch(ctx, req.Entity, req.SurvivorID, fill, upd)
		if err == nil || !errors.Is(err, ErrVersionMismatch) || o.IfMatch > 0 || attempt == 4 {
			return err
		}
		if surv, err = s.get(ctx, req.Entity, req.SurvivorID, false); err != nil {
			return err
		}
		if newer, err = s.setLater(ctx, e, req.DuplicateID, dup, req.SurvivorID, surv); err != nil {
			return err
		}
	}
}

// setLater names the fields with merge "latest" (schema.MergeLatest) whose value in the duplicate was set
// after the survivor's: for each such field both records hold, different values, the newest entry of
// each record's history that changed it (its creation when none did later) says when. Each record's
// history is read newest first, a page at a time, until the field turns up.
func (s *Store) setLater(ctx context.Context, e schema.Entity, dupID string, dup map[string]any, survID string, surv map[string]any) (map[string]bool, error) {
	var out map[string]bool
	for _, f := range e.Fields {
		if f.Merge != schema.MergeLatest {
			continue
		}
		dv, sv := dup[f.Name], surv[f.Name]
		if isEmpty(dv) || isEmpty(sv) || reflect.DeepEqual(dv, sv) {
			continue
		}
		dupAt, err := s.lastSet(ctx, e.Name, dupID, f.Name)
		if err != nil {
			return nil, err
		}
		survAt, err := s.lastSet(ctx, e.Name, survID, f.Name)
		if err != nil {
			return nil, err
		}
		if dupAt.After(survAt) {
			if out == nil {
				out = map[string]bool{}
			}
			out[f.Name] = true
		}
	}
	return out, nil
}

// lastSet is when a record's field last changed, by its history; the zero time when no entry shows it.
func (s *Store) lastSet(ctx context.Context, entity, id, field string) (time.Time, error) {
	var before int64
	for {
		page, err := s.History(ctx, entity, id, before, 200)
		if err != nil {
			return time.Time{}, fmt.Errorf("when %s of %s %s was set: %w", field, entity, id, err)
		}
		for _, entry := range page.Items {
			for _, c := range entry.Changes {
				if c.Field == field {
					return entry.At, nil
				}
			}
		}
		if page.Next == 0 {
			return time.Time{}, nil
		}
		before = page.Next
	}
}

// topField is the top-level field a JSON pointer names ("/emails/0" → "emails").
func topField(pointer string) string {
	f, _, _ := strings.Cut(strings.TrimPrefix(pointer, "/"), "/")
	return f
}

// elsewhere tells why no live record of entity has the ID: an *OtherEntityError when a live record of
// another entity the writer may read has it, ErrNotFound otherwise. Each entity costs one read by _id.
func (s *Store) elsewhere(ctx context.Context, entity, id string, o WriteOptions) error {
	notFound := fmt.Errorf("%s %q: %w", entity, id, ErrNotFound)
	infos, err := s.ListSchemas(ctx)
	if err != nil {
		return notFound
	}
	for _, info := range infos {
		other := info.Entity.Name
		if other == entity {
			continue
		}
		rec, err := s.get(ctx, other, id, false)
		if err != nil {
			continue
		}
		if d := o.decision(other); d == nil || d.InScope(access.ActionRead, rec) {
			return &OtherEntityError{Entity: other, Want: entity}
		}
	}
	return notFound
}

// FillFields is the patch a merge applies to the survivor: explicit values first; then, for every other
// writable top-level field (not computed, not read-only in the schema, and allowed by writable), the
// duplicate's value where the survivor's is empty. A dedupe key that is a list takes the duplicate's
// values after the survivor's, as far as the list's maxLength allows (secondary emails, phones); a field
// with merge "sum" (schema.MergeSum) takes the sum of both values — also a read-only one, a count or
// total Rapport keeps, which writable does not judge (money only in one currency); a field with merge
// "latest" (schema.MergeLatest) takes the duplicate's value when newer names it (the duplicate's was set
// later, see setLater); any other field the survivor has keeps the survivor's value.
func FillFields(e schema.Entity, survivor, duplicate, explicit map[string]any, newer map[string]bool, writable func(field string, val any) bool) map[string]any {
	out := make(map[string]any, len(explicit))
	for k, val := range explicit {
		out[k] = val
	}
	for _, f := range e.Fields {
		sum := f.Merge == schema.MergeSum
		if _, ok := out[f.Name]; ok || f.Computed != "" || (f.ReadOnly && !sum) || schema.IsSystemField(f.Name) {
			continue
		}
		dv := duplicate[f.Name]
		if isEmpty(dv) {
			continue
		}
		sv := survivor[f.Name]
		var val any
		switch {
		case isEmpty(sv):
			val = dv
		case sum:
			total, ok := addUp(f.Type, sv, dv)
			if !ok {
				continue
			}
			val = total
		case f.Merge == schema.MergeLatest:
			if !newer[f.Name] || reflect.DeepEqual(sv, dv) {
				continue
			}
			val = dv
		case f.Type == schema.TypeList && slices.Contains(e.DedupeKeys, f.Name):
			union, grew := appendMissing(sv, dv, f.MaxLength)
			if !grew {
				continue
			}
			val = union
		default:
			continue
		}
		if f.ReadOnly || writable == nil || writable(f.Name, val) {
			out[f.Name] = val
		}
	}
	return out
}

// addUp adds two values of a numeric field type: integers stay integers, money needs one currency. ok is
// false when they cannot be added (another type, two currencies).
func addUp(t schema.Type, a, b any) (any, bool) {
	switch t {
	case schema.TypeInteger, schema.TypeDecimal:
		x, okA := storage.Number(a)
		y, okB := storage.Number(b)
		if t == schema.TypeInteger {
			return int64(x) + int64(y), okA && okB
		}
		return x + y, okA && okB
	case schema.TypeMoney:
		ma, okA := a.(map[string]any)
		mb, okB := b.(map[string]any)
		if !okA || !okB {
			return nil, false
		}
		ca, _ := ma["currency"].(string)
		cb, _ := mb["currency"].(string)
		x, okX := storage.Number(ma["amount"])
		y, okY := storage.Number(mb["amount"])
		if !okX || !okY || !strings.EqualFold(ca, cb) {
			return nil, false
		}
		return map[string]any{"amount": x + y, "currency": ca}, true
	}
	return nil, false
}

// splitTrusted separates from a merge's fill the read-only fields it sums, which Rapport writes itself
// (trusted), from the rest, which the merging user writes and which is checked as theirs. An explicit
// value is always the user's, so a read-only field named in the request's fields is refused.
func splitTrusted(e schema.Entity, fill, explicit map[string]any) (user, trusted map[string]any) {
	user, trusted = map[string]any{}, map[string]any{}
	for k, v := range fill {
		_, chosen := explicit[k]
		if f := e.Field(k); !chosen && f != nil && f.ReadOnly && f.Merge == schema.MergeSum {
			trusted[k] = v
		} else {
			user[k] = v
		}
	}
	return user, trusted
}

// appendMissing returns list a followed by the items of b it lacks, at most max items long, and whether
// anything was added.
func appendMissing(a, b any, max *int) ([]any, bool) {
	as, _ := a.([]any)
	bs, _ := b.([]any)
	out := slices.Clone(as)
	grew := false
	for _, item := range bs {
		if max != nil && len(out) >= *max {
			break
		}
		if !slices.ContainsFunc(out, func(x any) bool { return storage.SameValue(x, item) }) {
			out = append(out, item)
			grew = true
		}
	}
	return out, grew
}

// isEmpty tells a value a merge may fill: absent, null, "", an empty list or object.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// refField is a field of entity Entity that references records of the merged entity.
type refField struct {
	Entity, Field string
	List          bool
}

// refFields lists, from the current schemas, every top-level field of any entity that references
// records of target: a reference, or a list of references.
func (s *Store) refFields(ctx context.Context, target string) ([]refField, error) {
	infos, err := s.ListSchemas(ctx)
	if err != nil {
		return nil, fmt.Errorf("merge: read the schemas: %w", err)
	}
	var out []refField
	for _, info := range infos {
		for _, f := range info.Entity.Fields {
			switch {
			case f.Type == schema.TypeReference && f.Ref == target:
				out = append(out, refField{Entity: info.Entity.Name, Field: f.Name})
			case f.Type == schema.TypeList && f.Item != nil && f.Item.Type == schema.TypeReference && f.Item.Ref == target:
				out = append(out, refField{Entity: info.Entity.Name, Field: f.Name, List: true})
			}
		}
	}
	return out, nil
}

// repoint moves every live record's reference to from onto to, as a trusted write on behalf of the
// merging actor (each record's history says who), and counts the records changed per entity. Finding
// them is one query per reference field.
func (s *Store) repoint(ctx context.Context, target, from, to string, actor ChangedBy) (map[string]int, error) {
	fields, err := s.refFields(ctx, target)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	o := WriteOptions{Actor: actor, Trusted: true}
	for _, rf := range fields {
		cur, err := s.coll(rf.Entity).Find(ctx, liveFilter(bson.D{{Key: rf.Field, Value: from}}))
		if err != nil {
			return counts, fmt.Errorf("merge: find %s referencing %s %s: %w", rf.Entity, target, from, err)
		}
		var docs []bson.M
		if err := cur.All(ctx, &docs); err != nil {
			return counts, fmt.Errorf("merge: read %s referencing %s %s: %w", rf.Entity, target, from, err)
		}
		for _, doc := range docs {
			rec := toRecord(doc)
			id, _ := rec[schema.SysID].(string)
			var val any = to
			if rf.List {
				items, _ := rec[rf.Field].([]any)
				var moved []any
				for _, it := range items {
					if it == from {
						it = to
					}
					if !slices.Contains(moved, it) {
						moved = append(moved, it)
					}
				}
				val = moved
			}
			if _, err := s.Patch(ctx, rf.Entity, id, map[string]any{rf.Field: val}, o); err != nil {
				return counts, fmt.Errorf("merge: move %s %s.%s to %s: %w", rf.Entity, id, rf.Field, to, err)
			}
			counts[rf.Entity]++
		}
	}
	return counts, nil
}

// noteMerge writes a merge entry in a record's history (live or deleted) naming the other record under
// field, with the version step every history entry takes.
func (s *Store) noteMerge(ctx context.Context, entity, id, field, other string, a ChangedBy) (Record, error) {
	coll := s.coll(entity)
	defer s.be().Lock(coll, id)()
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := s.get(ctx, entity, id, true)
		if err != nil {
			return nil, err
		}
		ver := versionOf(cur)
		at := s.opts.Now().UTC().Truncate(time.Millisecond)
		set := bson.D{{Key: schema.SysVersion, Value: ver + 1}, {Key: schema.SysUpdatedAt, Value: at}}
		if a.User != "" {
			set = append(set, bson.E{Key: schema.SysUpdatedBy, Value: a.User})
			cur[schema.SysUpdatedBy] = a.User
		}
		res, err := coll.UpdateOne(ctx, s.be().Match(id, schema.SysVersion, ver), bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return nil, fmt.Errorf("merge: note on %s %s: %w", entity, id, err)
		}
		if res.MatchedCount == 0 {
			continue
		}
		cur[schema.SysVersion], cur[schema.SysUpdatedAt] = ver+1, at
		if err := s.writeHistoryChanges(ctx, entity, id, ver+1, OpMerge, a, []FieldChange{{Field: field, After: other}}, at); err != nil {
			return nil, err
		}
		return cur, nil
	}
	return nil, fmt.Errorf("merge: note on %s %s: too many concurrent writers: %w", entity, id, ErrVersionMismatch)
}
