// Package storage holds what every MongoDB store in Rapport shares, so they work the same on MongoDB and
// on the embedded FerretDB.
package storage

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// EnsureIndexes creates each index on coll, one at a time; creating an index that exists is a no-op, so
// it is safe on every start. One at a time because FerretDB v1.24 panics (and drops the connection) when
// createIndexes names several indexes that already exist; seen on a restart of the embedded store.
func EnsureIndexes(ctx context.Context, coll *mongo.Collection, models ...mongo.IndexModel) error {
	for _, m := range models {
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("create index on %s: %w", coll.Name(), err)
		}
	}
	return nil
}
