package records

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/query"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

// MaxLimit caps one page of a list.
const MaxLimit = 500

// ListParams select and order records. Filter, Sort and Fields are in the query language
// (engine/query/README.md); Cursor is the opaque Next of the previous page.
type ListParams struct {
	Filter string
	Sort   string
	Fields string
	Cursor string
	Limit  int
	// Count asks for the total number of matching records.
	Count bool
	// Deleted lists soft-deleted records instead of live ones.
	Deleted bool
	// Access is the reader's decision: its scope narrows the list (the export scope for exports), its
	// hidden fields are stripped from every record and may not be named by the filter, sort or fields
	// (they are unknown to the reader, nested paths too). nil reads everything (processes, tools).
	Access *access.Decision
}

// RecordPage is one page of a list.
type RecordPage struct {
	Items []Record `json:"items"`
	// Next is the cursor of the following page; empty on the last page.
	Next string `json:"next,omitempty"`
	// Total is the number of matching records, when asked for.
	Total *int64 `json:"total,omitempty"`
}

// ParamError is a malformed list parameter (filter, sort, fields or cursor), naming the parameter and,
// for the query language, the position.
type ParamError struct {
	Param string
	Err   error
}

// Error names the parameter and the problem.
func (e *ParamError) Error() string { return fmt.Sprintf("%s: %v", e.Param, e.Err) }

// Unwrap gives the underlying *query.Error, when there is one.
func (e *ParamError) Unwrap() error { return e.Err }

func quote(s string) (string, error) { return strconv.Quote(s), nil }

// Query is a list translated for MongoDB, exposed so benchmarks and tools can run exactly the query List
// runs.
type Query struct {
	Filter     bson.D
	Sort       bson.D
	Projection bson.D
	Limit      int
}

// Compile translates list parameters into the MongoDB query List runs (without the cursor).
func (s *Store) Compile(ctx context.Context, entity string, p ListParams) (Query, error) {
	info, err := s.Schema(ctx, entity)
	if err != nil {
		return Query{}, err
	}
	return s.compile(info.Entity, p, access.ActionRead)
}

func (s *Store) compile(e schema.Entity, p ListParams, action string) (Query, error) {
	fields := query.FieldsOf(e)
	sortable := schema.SortableFields(e, extraSorts(e.Name)...)
	if d := p.Access; d != nil {
		unreadable := func(path string) bool { return hiddenTo(d, path) }
		fields = fields.Without(unreadable)
		sortable = slices.DeleteFunc(sortable, unreadable)
	}
	filter, err := query.ParseFilter(p.Filter, fields, query.Rename(rename), query.PhoneRegion(s.opts.PhoneRegion))
	if err != nil {
		return Query{}, &ParamError{Param: "filter", Err: err}
	}
	if p.Access != nil {
		if scope := p.Access.Filter(action); len(scope) > 0 {
			filter = bson.D{{Key: "$and", Value: bson.A{filter, scope}}}
		}
	}
	if p.Deleted {
		filter = append(filter, bson.E{Key: schema.SysDeletedAt, Value: bson.D{{Key: "$ne", Value: nil}}})
	} else {
		filter = liveFilter(filter)
	}
	spec := p.Sort
	if spec == "" {
		spec = "-" + schema.SysUpdatedAt
	}
	sortDoc, err := query.ParseSort(spec, sortable, rename)
	if err != nil {
		return Query{}, &ParamError{Param: "sort", Err: err}
	}
	if !slices.ContainsFunc(sortDoc, func(el bson.E) bool { return el.Key == "_id" }) {
		// The record ID breaks ties in the direction of the last key, so an index on the sort keys
		// followed by _id serves the sort either way round.
		sortDoc = append(sortDoc, bson.E{Key: "_id", Value: sortDoc[len(sortDoc)-1].Value})
	}
	proj, err := query.ParseProjection(p.Fields, fields, rename)
	if err != nil {
		return Query{}, &ParamError{Param: "fields", Err: err}
	}
	if proj != nil {
		have := map[string]bool{}
		for _, el := range proj {
			have[el.Key] = true
		}
		for _, k := range append([]string{schema.SysVersion}, sortKeys(sortDoc)...) {
			if !have[k] && k != "_id" {
				proj = append(proj, bson.E{Key: k, Value: 1})
			}
		}
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	return Query{Filter: filter, Sort: sortDoc, Projection: proj, Limit: limit}, nil
}

// extraSorts are the orders an entity is listed in beyond the default ones: a timeline's interactions
// newest first by when they happened.
func extraSorts(entity string) []schema.IndexKey {
	if entity == TimelineEntity {
		return []schema.IndexKey{{Field: "occurredAt", Order: -1}}
	}
	return nil
}

// hiddenTo reports whether a path is one the reader may not name: hidden itself, below a hidden field,
// or above one (comparing or projecting a parent would reach the hidden part).
func hiddenTo(d *access.Decision, path string) bool {
	if d.Hidden(path) {
		return true
	}
	for _, h := range d.HiddenFields() {
		if strings.HasPrefix(h, path+".") {
			return true
		}
	}
	return false
}

func sortKeys(d bson.D) []string {
	out := make([]string, len(d))
	for i, e := range d {
		out[i] = e.Key
	}
	return out
}

// List returns one page of an entity's records.
func (s *Store) List(ctx context.Context, entity string, p ListParams) (RecordPage, error) {
	info, err := s.Schema(ctx, entity)
	if err != nil {
		return RecordPage{}, err
	}
	q, err := s.compile(info.Entity, p, access.ActionRead)
	if err != nil {
		return RecordPage{}, err
	}
	sl, err := s.cursors(ctx)
	if err != nil {
		return RecordPage{}, err
	}
	ad := entity + "\x00" + strings.Join(sortSpec(q.Sort), ",")
	var after bson.A
	if p.Cursor != "" {
		if after, err = openCursor(sl, ad, p.Cursor, len(q.Sort)); err != nil {
			return RecordPage{}, &ParamError{Param: "cursor", Err: err}
		}
	}
	var docs []bson.M
	var total int64
	if s.be().Embedded() {
		docs, total, err = s.filesList(ctx, info.Entity, q, after, p)
		if errors.Is(err, storage.ErrNotPushed) {
			docs, total, err = s.scanList(ctx, entity, q, after)
		}
	} else {
		docs, total, err = s.indexedList(ctx, entity, q, after, p.Count)
	}
	if err != nil {
		return RecordPage{}, err
	}
	page := RecordPage{Items: make([]Record, 0, len(docs))}
	if len(docs) > q.Limit {
		docs = docs[:q.Limit]
		next, err := encodeCursor(sl, ad, docs[len(docs)-1], q.Sort)
		if err != nil {
			return RecordPage{}, err
		}
		page.Next = next
	}
	for _, d := range docs {
		r := toRecord(d)
		if p.Access != nil {
			r = p.Access.Strip(r)
		}
		page.Items = append(page.Items, r)
	}
	if p.Count {
		page.Total = &total
	}
	return page, nil
}

// indexedList reads one page the MongoDB way: the filter and the sort are served by the derived
// indexes, so the server stops after limit+1 records, and a count is a second, index-only query.
func (s *Store) indexedList(ctx context.Context, entity string, q Query, after bson.A, count bool) ([]bson.M, int64, error) {
	find := q.Filter
	if after != nil {
		find = bson.D{{Key: "$and", Value: bson.A{q.Filter, afterCondition(q.Sort, after)}}}
	}
	opts := options.Find().SetSort(q.Sort).SetLimit(int64(q.Limit) + 1)
	if q.Projection != nil {
		opts.SetProjection(q.Projection)
	}
	cur, err := s.coll(entity).Find(ctx, find, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", entity, err)
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		return nil, 0, fmt.Errorf("list %s: %w", entity, err)
	}
	var n int64
	if count {
		if n, err = s.coll(entity).CountDocuments(ctx, q.Filter); err != nil {
			return nil, 0, fmt.Errorf("count %s: %w", entity, err)
		}
	}
	return docs, n, nil
}

// lookup reads a dotted path from a decoded document.
func lookup(doc bson.M, path string) any {
	var cur any = doc
	for _, part := range strings.Split(path, ".") {
		switch m := cur.(type) {
		case bson.M:
			cur = m[part]
		case bson.D:
			var next any
			for _, e := range m {
				if e.Key == part {
					next = e.Value
				}
			}
			cur = next
		case map[string]any:
			cur = m[part]
		default:
			return nil
		}
	}
	return cur
}

// encodeCursor seals the sort keys' values of the last record of a page, typed (BSON), for the entity
// and sort named by ad.
func encodeCursor(sl *sealer, ad string, last bson.M, sortDoc bson.D) (string, error) {
	vals := bson.A{}
	for _, k := range sortKeys(sortDoc) {
		vals = append(vals, lookup(last, k))
	}
	raw, err := bson.Marshal(bson.D{{Key: "v", Value: vals}})
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return sl.seal(ad, raw), nil
}

func sortSpec(d bson.D) []string {
	out := make([]string, len(d))
	for i, e := range d {
		out[i] = fmt.Sprintf("%s:%v", e.Key, e.Value)
	}
	return out
}

var errBadCursor = errors.New("the cursor is malformed, expired or belongs to another list; start from the first page")

// openCursor opens a cursor sealed for ad and returns the sort values it holds: exactly one per sort
// key, each a scalar, so a cursor can only ever position a list.
func openCursor(sl *sealer, ad, c string, keys int) (bson.A, error) {
	raw, ok := sl.open(ad, c)
	if !ok {
		return nil, errBadCursor
	}
	var d struct {
		V bson.A `bson:"v"`
	}
	if err := bson.Unmarshal(raw, &d); err != nil || len(d.V) != keys {
		return nil, errBadCursor
	}
	for _, v := range d.V {
		switch v.(type) {
		case nil, string, int32, int64, float64, bool, bson.DateTime:
		default:
			return nil, errBadCursor
		}
	}
	return d.V, nil
}

// decodeCursor opens a cursor and builds the filter of the records after it (see afterCondition).
func decodeCursor(sl *sealer, ad, c string, sortDoc bson.D) (bson.D, error) {
	vals, err := openCursor(sl, ad, c, len(sortDoc))
	if err != nil {
		return nil, err
	}
	return afterCondition(sortDoc, vals), nil
}

// afterCondition is the filter of the records after the one with sort values vals: for keys k1..kn,
// records with k1 beyond v1, or k1 equal and k2 beyond v2, and so on. Missing values sort first
// ascending (as in MongoDB), so they are handled explicitly.
func afterCondition(sortDoc bson.D, vals bson.A) bson.D {
	var or bson.A
	for i, el := range sortDoc {
		cond := bson.D{}
		for j := 0; j < i; j++ {
			cond = append(cond, bson.E{Key: sortDoc[j].Key, Value: vals[j]})
		}
		v := vals[i]
		desc := fmt.Sprint(el.Value) == "-1"
		switch {
		case !desc && v != nil:
			cond = append(cond, bson.E{Key: el.Key, Value: bson.D{{Key: "$gt", Value: v}}})
		case !desc && v == nil:
			cond = append(cond, bson.E{Key: el.Key, Value: bson.D{{Key: "$ne", Value: nil}}})
		case desc && v != nil:
			cond = append(cond, bson.E{Key: "$or", Value: bson.A{
				bson.D{{Key: el.Key, Value: bson.D{{Key: "$lt", Value: v}}}},
				bson.D{{Key: el.Key, Value: nil}},
			}})
		default: // descending past a missing value: nothing sorts after it on this key
			continue
		}
		or = append(or, cond)
	}
	if len(or) == 0 {
		return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}
	}
	return bson.D{{Key: "$or", Value: or}}
}
