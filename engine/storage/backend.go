package storage

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/keylock"
)

// Backend is the server a store talks to and the one place that knows how the two differ. MongoDB
// applies a conditional update ({_id, version}) atomically and serves any filter from an index; the
// embedded FerretDB v1 pushes down only a filter that is exactly {_id: value} — anything else decodes
// every document of the collection in Go — and applies an update as read-modify-write. So on the
// embedded store a conditional write reads by _id, compares in Go under a per-document lock of this
// process (the embedded store has only one server), and writes by _id: every by-ID operation stays
// O(1) on both.
type Backend struct {
	embedded bool
	locks    keylock.Locks
	files    Files
}

// Files reads and writes the embedded store's SQLite files directly (ferret.Server): it answers a
// filtered, sorted page without FerretDB decoding every document, and inserts without the round trip
// through FerretDB, several documents atomically. A query or insert it cannot do exactly as FerretDB
// would returns an error wrapping ErrNotPushed, and the caller goes through FerretDB instead.
type Files interface {
	// List returns the IDs of the first Limit documents matching the query, in sort order, with the
	// documents themselves when the query asks for them, and how many match when it asks for the count.
	List(ctx context.Context, q ListQuery) (ListResult, error)
	// IndexSort keeps an index that serves List's pages sorted by key then _id, either way round.
	IndexSort(ctx context.Context, database, collection, key string) error
	// Insert stores the documents, each in its collection of database, all or none.
	Insert(ctx context.Context, database string, docs []InsertDoc) error
}

// InsertDoc is one document of an insert and its collection.
type InsertDoc struct {
	Collection string
	Doc        bson.Raw
}

// ListQuery is one page of a collection: the documents matching Filter and After, in Sort order, at most
// Limit; Count asks for the number matching Filter alone (After positions the page, it does not narrow
// the list); Documents asks for the whole documents, not only their IDs.
type ListQuery struct {
	Database, Collection string
	Filter, After, Sort  bson.D
	Limit                int
	Count, Documents     bool
}

// ListResult is one page of Files: the IDs in sort order, the documents in the same order when asked
// for, and the count when asked for.
type ListResult struct {
	IDs   []string
	Docs  []bson.Raw
	Total int64
}

// ErrNotPushed says Files cannot answer a query or do an insert exactly; it is not a failure of the store.
var ErrNotPushed = errors.New("the embedded store's files cannot do this exactly as FerretDB would")

// ErrDuplicateKey says an insert of Files found a document's _id, or another unique key, taken: nothing
// was stored.
var ErrDuplicateKey = errors.New("duplicate key")

// Detect asks the server what it is (FerretDB answers buildInfo with its own version).
func Detect(ctx context.Context, db *mongo.Database) (*Backend, error) {
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return nil, fmt.Errorf("ask the database what it is: %w", err)
	}
	_, ferret := info["ferretdbVersion"]
	return NewBackend(ferret), nil
}

// NewBackend returns the backend of an embedded store (FerretDB) or of MongoDB, for callers and tests
// that know which one they have.
func NewBackend(embedded bool) *Backend {
	return &Backend{embedded: embedded}
}

// NewEmbedded returns the backend of the FerretDB embedded in this process, whose files f reads and
// writes.
func NewEmbedded(f Files) *Backend {
	return &Backend{embedded: true, files: f}
}

// Files is what reads and writes the embedded store's files; nil on MongoDB and on a FerretDB this
// process does not run.
func (b *Backend) Files() Files { return b.files }

// Embedded reports whether the store is the embedded FerretDB, where only by-ID access is fast.
func (b *Backend) Embedded() bool { return b.embedded }

// String names the backend, for logs.
func (b *Backend) String() string {
	if b.embedded {
		return "embedded FerretDB"
	}
	return "MongoDB"
}

// Lock serialises this process's conditional writers of one document on the embedded store and
// returns the release; on MongoDB, where the filter makes the write atomic, it does nothing. Hold it
// from reading the document to writing it, and use Match for the write's filter.
func (b *Backend) Lock(coll *mongo.Collection, id any) (unlock func()) {
	if !b.embedded {
		return func() {}
	}
	return b.locks.Lock(coll.Name() + "\x00" + fmt.Sprint(id))
}

// Match is the filter of a write to the document _id=id that must happen only while its field equals
// want: both conditions on MongoDB, where the update applies them atomically; only _id on the embedded
// store, where the caller holds Lock and has compared the field itself.
func (b *Backend) Match(id any, field string, want any) bson.D {
	if b.embedded {
		return bson.D{{Key: "_id", Value: id}}
	}
	return bson.D{{Key: "_id", Value: id}, {Key: field, Value: want}}
}

// UpdateIf applies update to the document _id=id if its field equals want, atomically, and reports
// whether it did (false also when there is no such document).
func (b *Backend) UpdateIf(ctx context.Context, coll *mongo.Collection, id any, field string, want, update any) (bool, error) {
	if b.embedded {
		defer b.Lock(coll, id)()
		if ok, err := b.fieldIs(ctx, coll, id, field, want); err != nil || !ok {
			return false, err
		}
	}
	res, err := coll.UpdateOne(ctx, b.Match(id, field, want), update)
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// DeleteIf deletes the document _id=id if its field equals want, atomically, and reports whether it did.
func (b *Backend) DeleteIf(ctx context.Context, coll *mongo.Collection, id any, field string, want any) (bool, error) {
	if b.embedded {
		defer b.Lock(coll, id)()
		if ok, err := b.fieldIs(ctx, coll, id, field, want); err != nil || !ok {
			return false, err
		}
	}
	res, err := coll.DeleteOne(ctx, b.Match(id, field, want))
	if err != nil {
		return false, err
	}
	return res.DeletedCount == 1, nil
}

// fieldIs reads one field of a document by _id and compares it with want.
func (b *Backend) fieldIs(ctx context.Context, coll *mongo.Collection, id any, field string, want any) (bool, error) {
	var doc bson.M
	err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: field, Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return SameValue(doc[field], want), nil
}

// SameValue compares two decoded or plain values, numbers by value whatever their Go type (BSON gives
// int32 where Go code wrote int64).
func SameValue(a, b any) bool {
	a, b = Plain(a), Plain(b)
	if fa, ok := Number(a); ok {
		fb, ok := Number(b)
		return ok && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// Number reads a number as BSON or JSON decoding leaves it (int, int32, int64 or float64).
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// FindIDs calls fn with each document whose _id is among ids (missing ones are skipped, the order is
// not kept): one $in query on MongoDB, one point read per ID on the embedded store, where $in scans the
// collection. projection may be nil for whole documents.
func (b *Backend) FindIDs(ctx context.Context, coll *mongo.Collection, ids []string, projection bson.D, fn func(bson.Raw) error) error {
	if len(ids) == 0 {
		return nil
	}
	if b.embedded {
		o := options.FindOne()
		if projection != nil {
			o.SetProjection(projection)
		}
		for _, id := range ids {
			raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, o).Raw()
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue
			}
			if err != nil {
				return fmt.Errorf("read %s %s: %w", coll.Name(), id, err)
			}
			if err := fn(raw); err != nil {
				return err
			}
		}
		return nil
	}
	o := options.Find()
	if projection != nil {
		o.SetProjection(projection)
	}
	cur, err := coll.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, o)
	if err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), err)
	}
	return nil
}
