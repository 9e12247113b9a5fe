package records

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

// scanList reads one page through FerretDB, for the lists the embedded store's files cannot answer
// (filesList: a sort by a list field, a record changed between its reads, a FerretDB this process does
// not run). FerretDB v1 cannot use an index for a filter or a sort: it decodes every record of the
// collection, filters and sorts them all in Go, and counting is a second such pass. So the store makes
// that one pass as cheap as it can: it reads the matching records unsorted (FerretDB then keeps none of
// them in memory) and, while they stream by, counts them, looks at their sort keys in the raw BSON
// without decoding them, and keeps the first limit+1 after the cursor in sort order; only those are
// decoded. The cost is one scan whatever the page, the cursor or the count.
func (s *Store) scanList(ctx context.Context, entity string, q Query, after bson.A) (docs []bson.M, total int64, err error) {
	opts := options.Find().SetBatchSize(1000)
	if q.Projection != nil {
		opts.SetProjection(q.Projection)
	}
	cur, err := s.coll(entity).Find(ctx, q.Filter, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", entity, err)
	}
	defer cur.Close(ctx)
	keys := sortKeys(q.Sort)
	top := topRows{sort: q.Sort, k: q.Limit + 1}
	for cur.Next(ctx) {
		total++
		row := scanRow{keys: make([]any, len(keys))}
		for i, k := range keys {
			row.keys[i] = lookupRaw(cur.Current, k)
		}
		if after != nil && compareKeys(q.Sort, row.keys, after) <= 0 {
			continue
		}
		if top.admits(row) {
			row.raw = bytes.Clone(cur.Current)
			top.add(row)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", entity, err)
	}
	s.checkCapacity(ctx, entity)
	docs = make([]bson.M, 0, len(top.rows))
	for _, r := range top.rows {
		var doc bson.M
		if err := bson.Unmarshal(r.raw, &doc); err != nil {
			return nil, 0, fmt.Errorf("list %s: %w", entity, err)
		}
		docs = append(docs, doc)
	}
	return docs, total, nil
}

// filesList reads one page of the embedded store from its files when this process runs it
// (storage.Files): SQLite filters, sorts and counts the stored documents without FerretDB decoding each
// one, and gives the page's documents with their IDs. A list of some fields only reads them by _id
// afterwards; a record written between the two reads may then no longer be one the reader may see, so
// each is checked again (live or deleted as asked, in the reader's scope), as MongoDB, which returns a
// document as it matched, would never return it. It returns storage.ErrNotPushed
// when the files cannot answer the list exactly (a sort by a list field, a record changed meanwhile);
// the caller then scans.
func (s *Store) filesList(ctx context.Context, e schema.Entity, q Query, after bson.A, p ListParams) ([]bson.M, int64, error) {
	l := s.be().Files()
	if l == nil {
		return nil, 0, storage.ErrNotPushed
	}
	for _, k := range sortKeys(q.Sort) {
		if !scalarField(e, k) {
			return nil, 0, fmt.Errorf("%w: sort by %s, which may hold a list", storage.ErrNotPushed, k)
		}
	}
	lq := storage.ListQuery{Database: s.db.Name(), Collection: CollectionPrefix + e.Name, Filter: q.Filter, Sort: q.Sort,
		Limit: q.Limit + 1, Count: p.Count, Documents: q.Projection == nil}
	if after != nil {
		lq.After = afterCondition(q.Sort, after)
	}
	res, err := l.List(ctx, lq)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]bson.M, len(res.IDs))
	keep := func(raw bson.Raw) error {
		var doc bson.M
		if err := bson.Unmarshal(raw, &doc); err != nil {
			return err
		}
		if id, ok := doc["_id"].(string); ok {
			byID[id] = doc
		}
		return nil
	}
	var added []string // fields read only to check the record again
	if lq.Documents {
		for _, raw := range res.Docs {
			if err := keep(raw); err != nil {
				return nil, 0, fmt.Errorf("list %s: %w", e.Name, err)
			}
		}
	} else {
		// Only some fields: read them by ID (the files give whole documents), with those checked again.
		proj := slices.Clone(q.Projection)
		for _, k := range []string{schema.SysDeletedAt, access.OwnerField, access.TeamField, access.AssigneeField} {
			if !slices.ContainsFunc(proj, func(el bson.E) bool { return el.Key == k }) {
				proj = append(proj, bson.E{Key: k, Value: 1})
				added = append(added, k)
			}
		}
		if err := s.be().FindIDs(ctx, s.coll(e.Name), res.IDs, proj, keep); err != nil {
			return nil, 0, fmt.Errorf("list %s: %w", e.Name, err)
		}
	}
	s.checkCapacity(ctx, e.Name)
	docs := make([]bson.M, 0, len(res.IDs))
	for _, id := range res.IDs {
		doc, ok := byID[id]
		if !ok || (doc[schema.SysDeletedAt] != nil) != p.Deleted || p.Access != nil && !p.Access.InScope(access.ActionRead, doc) {
			// Changed between the two reads: leaving it out would shorten the page and could end the list
			// early, so this rare list is scanned instead.
			return nil, 0, fmt.Errorf("%w: %s %s changed while listed", storage.ErrNotPushed, e.Name, id)
		}
		for _, k := range added {
			delete(doc, k)
		}
		docs = append(docs, doc)
	}
	return docs, res.Total, nil
}

// scalarField reports whether a sort key holds one value per record (never a list), so that the
// embedded store's files sort it as MongoDB does.
func scalarField(e schema.Entity, key string) bool {
	switch key {
	case "_id", schema.SysCreatedAt, schema.SysUpdatedAt, schema.SysDeletedAt:
		return true
	}
	f := e.Field(key)
	if f == nil {
		return false
	}
	switch f.Type {
	case schema.TypeList, schema.TypeObject, schema.TypeMoney:
		return false
	}
	return true
}

// lookupRaw reads a dotted path of a raw document as a Go value (nil when absent), without decoding the
// rest of it.
func lookupRaw(doc bson.Raw, path string) any {
	rv, err := doc.LookupErr(strings.Split(path, ".")...)
	if err != nil {
		return nil
	}
	var v any
	if err := rv.Unmarshal(&v); err != nil {
		return nil
	}
	return v
}

// EmbeddedCapacity is how many records an entity may hold on the embedded store while a page of its
// list with its count still comes back within about 300 ms: a count there reads every record of the
// entity in SQLite (filesList), about 6.4 µs a record, as does a list in other than its default orders;
// BenchmarkRecordsScale measured 300 ms at about 45,000 records on the 2-core test machine with nothing
// else running (README, "Capacity"), and this leaves some headroom. Beyond it, use MongoDB, whose
// derived indexes serve every list.
const EmbeddedCapacity = 40000

// checkCapacity logs, once per entity and process, that an entity has grown past Options.Capacity on
// the embedded store. It asks the store for the collection's size at most once a minute per entity.
func (s *Store) checkCapacity(ctx context.Context, entity string) {
	s.mu.Lock()
	warned := s.warned[entity]
	s.mu.Unlock()
	if warned {
		return
	}
	if _, recent := s.sized.Get(entity); recent {
		return
	}
	s.sized.Set(entity, true)
	var stats struct {
		Count int64 `bson:"count"`
	}
	if err := s.db.RunCommand(ctx, bson.D{{Key: "collStats", Value: CollectionPrefix + entity}}).Decode(&stats); err != nil {
		s.opts.Logger.Debug("read the size of an entity", "entity", entity, "error", err)
		return
	}
	if stats.Count <= s.opts.Capacity {
		return
	}
	s.mu.Lock()
	s.warned[entity] = true
	s.mu.Unlock()
	s.opts.Logger.Warn("an entity has grown past what the embedded store lists interactively; a count, a search or a list in other than its default orders reads all its records, so those slow down as it grows: move to MongoDB (README, Capacity)",
		"entity", entity, "records", stats.Count, "capacity", s.opts.Capacity)
}

// scanRow is a matching record during a scan: its sort key values and, once kept, its raw document.
type scanRow struct {
	keys []any
	raw  bson.Raw
}

// topRows keeps the first k rows in sort order.
type topRows struct {
	sort bson.D
	k    int
	rows []scanRow
}

// admits reports whether a row would be kept: there is room, or it sorts before the last one kept.
func (t *topRows) admits(r scanRow) bool {
	return len(t.rows) < t.k || compareKeys(t.sort, r.keys, t.rows[t.k-1].keys) < 0
}

func (t *topRows) add(r scanRow) {
	if !t.admits(r) {
		return
	}
	i := sort.Search(len(t.rows), func(i int) bool { return compareKeys(t.sort, r.keys, t.rows[i].keys) < 0 })
	if len(t.rows) < t.k {
		t.rows = append(t.rows, scanRow{})
	}
	copy(t.rows[i+1:], t.rows[i:])
	t.rows[i] = r
}

// compareKeys orders two records by the sort's keys and directions: negative when a comes first.
func compareKeys(sortDoc bson.D, a, b []any) int {
	for i, el := range sortDoc {
		desc := fmt.Sprint(el.Value) == "-1"
		c := compareValues(sortValue(a[i], desc), sortValue(b[i], desc))
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// sortValue is the value an array sorts by, as in MongoDB: its smallest element ascending, its largest
// descending (an empty array sorts as missing).
func sortValue(v any, desc bool) any {
	arr, ok := v.(bson.A)
	if !ok {
		return v
	}
	var best any
	for i, e := range arr {
		if i == 0 {
			best = e
			continue
		}
		c := compareValues(e, best)
		if desc && c > 0 || !desc && c < 0 {
			best = e
		}
	}
	return best
}

// typeRank is MongoDB's order of BSON types for the types records hold: missing and null first, then
// numbers, strings, objects, arrays, booleans, dates.
func typeRank(v any) int {
	switch v.(type) {
	case nil:
		return 1
	case int32, int64, float64, int:
		return 2
	case string:
		return 3
	case bson.M, bson.D, map[string]any:
		return 4
	case bson.A, []any:
		return 5
	case bson.Binary:
		return 6
	case bson.ObjectID:
		return 7
	case bool:
		return 8
	case bson.DateTime, time.Time:
		return 9
	}
	return 10
}

// compareValues compares two decoded values in MongoDB's order (simple binary collation for strings).
func compareValues(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case nil:
		return 0
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case bson.DateTime, time.Time:
		return cmpOrdered(millis(a), millis(b))
	case bson.ObjectID:
		y := b.(bson.ObjectID)
		return bytes.Compare(x[:], y[:])
	}
	if fa, ok := float(a); ok {
		fb, _ := float(b)
		return cmpOrdered(fa, fb)
	}
	// Objects, arrays and anything else: by their JSON form, a stable if arbitrary order.
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func millis(v any) int64 {
	switch x := v.(type) {
	case bson.DateTime:
		return int64(x)
	case time.Time:
		return x.UnixMilli()
	}
	return 0
}

func float(v any) (float64, bool) {
	switch x := v.(type) {
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
