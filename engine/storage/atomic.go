package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Mutate makes read-modify-write of one document atomic on both backends: counters with a limit, guards
// such as "at least one administrator", anything a MongoDB $inc-with-a-condition would do but FerretDB
// cannot. Documents it writes have the shape {_id, rev, v}; keep them in their own collection.

// Op says what Mutate does with the value a change returns.
type Op int

const (
	// Skip writes nothing: the change decided the document stays as it is.
	Skip Op = iota
	// Write stores the returned value.
	Write
	// Delete removes the document.
	Delete
)

// maxAttempts bounds how often Mutate retries after losing a race on MongoDB.
const maxAttempts = 200

// ErrContended means Mutate lost the race for a document too many times in a row.
var ErrContended = errors.New("storage: document is too contended")

type envelope[T any] struct {
	ID    string `bson:"_id"`
	Rev   int64  `bson:"rev"`
	Value T      `bson:"v"`
}

// Mutate reads document id of coll, calls change with its value (the zero value and exists=false when
// there is none) and applies what change returns, so that no other Mutate of the same document, in this
// process or another server, interleaves: on MongoDB the write is conditioned on the revision read and
// retried when another writer got there first; on the embedded store the document is locked in this
// process (Backend.Lock) and read and written by bare _id. change may run more than once and must have no
// side effects besides its result; an error from it is returned as is and nothing is written. Mutate
// returns the value as stored afterwards.
func Mutate[T any](ctx context.Context, b *Backend, coll *mongo.Collection, id string, change func(cur T, exists bool) (T, Op, error)) (T, error) {
	unlock := b.Lock(coll, id)
	defer unlock()
	var zero T
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var cur envelope[T]
		exists := true
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil {
			if !errors.Is(err, mongo.ErrNoDocuments) {
				return zero, fmt.Errorf("storage: read %s/%s: %w", coll.Name(), id, err)
			}
			exists = false
		}
		next, op, err := change(cur.Value, exists)
		if err != nil {
			return zero, err
		}
		done, err := apply(ctx, b, coll, id, cur.Rev, exists, next, op)
		if err != nil {
			return zero, err
		}
		if done {
			switch op {
			case Skip:
				return cur.Value, nil
			case Delete:
				return zero, nil
			}
			return next, nil
		}
		// Another server wrote in between: read again.
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-time.After(time.Duration(rand.IntN(2000)) * time.Microsecond):
		}
	}
	return zero, fmt.Errorf("%w: %s/%s", ErrContended, coll.Name(), id)
}

// apply writes one change; done is false when another writer changed the document since it was read.
func apply(ctx context.Context, b *Backend, coll *mongo.Collection, id string, rev int64, exists bool, next any, op Op) (bool, error) {
	switch {
	case op == Skip || (op == Delete && !exists):
		return true, nil
	case !exists:
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "rev", Value: int64(1)}, {Key: "v", Value: next}}); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return false, nil
			}
			return false, fmt.Errorf("storage: insert %s/%s: %w", coll.Name(), id, err)
		}
		return true, nil
	case op == Delete:
		res, err := coll.DeleteOne(ctx, b.Match(id, "rev", rev))
		if err != nil {
			return false, fmt.Errorf("storage: delete %s/%s: %w", coll.Name(), id, err)
		}
		return res.DeletedCount == 1, nil
	default:
		res, err := coll.UpdateOne(ctx, b.Match(id, "rev", rev), bson.D{{Key: "$set", Value: bson.D{{Key: "rev", Value: rev + 1}, {Key: "v", Value: next}}}})
		if err != nil {
			return false, fmt.Errorf("storage: update %s/%s: %w", coll.Name(), id, err)
		}
		return res.MatchedCount == 1, nil
	}
}
