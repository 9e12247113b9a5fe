// Package storage holds what every MongoDB store in Rapport shares, so they work the same on MongoDB and
// on the embedded FerretDB: the one way to create indexes, the backend a store talks to and the
// conditional writes that differ between them, the conversion of decoded BSON to plain values, and the
// TTL cache.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnsureIndexes creates those of the indexes coll lacks, by name (an index without a name gets MongoDB's
// default, "field_1_other_-1"); it is safe on every start. Existing indexes are skipped rather than
// created again and the rest are created one at a time, because FerretDB v1.24 panics (and drops the
// connection) when createIndexes names several indexes that already exist. Servers starting together
// may still race, so a failed attempt is retried a few times.
//
// On the embedded store only the indexes that keep data right are created: unique ones (they refuse a
// duplicate) and TTL ones. FerretDB v1.24 serves no query from a secondary index — it pushes down only
// {_id: value} and filters and sorts everything else in Go — so a plain index there is pure cost: SQLite
// evaluates its JSON expression, parsing the whole document, on every insert and update. Plain indexes
// among models that an older version created there are dropped.
func EnsureIndexes(ctx context.Context, coll *mongo.Collection, models ...mongo.IndexModel) error {
	be, err := Detect(ctx, coll.Database())
	if err != nil {
		return fmt.Errorf("create indexes on %s: %w", coll.Name(), err)
	}
	var drop []string
	if be.Embedded() {
		keep := models[:0:0]
		for _, m := range models {
			if guards(m) {
				keep = append(keep, m)
			} else {
				drop = append(drop, IndexName(m))
			}
		}
		models = keep
	}
	for attempt := 0; attempt < 5; attempt++ {
		if err = createMissing(ctx, coll, models, drop); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create indexes on %s: %w", coll.Name(), ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return err
}

// guards reports whether an index keeps data right (unique, or expiring documents) rather than only
// speeding queries up.
func guards(m mongo.IndexModel) bool {
	if m.Options == nil {
		return false
	}
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		_ = set(&o)
	}
	return o.Unique != nil && *o.Unique || o.ExpireAfterSeconds != nil
}

// createMissing creates the models coll lacks and drops the indexes named in drop that it has.
func createMissing(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel, drop []string) error {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil && !isNamespaceNotFound(err) {
		return fmt.Errorf("list indexes of %s: %w", coll.Name(), err)
	}
	have := map[string]bool{}
	for _, sp := range specs {
		have[sp.Name] = true
	}
	var errs []error
	for _, name := range drop {
		if have[name] {
			if err := coll.Indexes().DropOne(ctx, name); err != nil {
				errs = append(errs, fmt.Errorf("drop index %s of %s: %w", name, coll.Name(), err))
			}
		}
	}
	for _, m := range models {
		name := IndexName(m)
		if have[name] {
			continue
		}
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			errs = append(errs, fmt.Errorf("create index %s on %s: %w", name, coll.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// isNamespaceNotFound reports the error listing the indexes of a collection not created yet.
func isNamespaceNotFound(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 26 || ce.Name == "NamespaceNotFound")
}

// IndexName is the name an index model is created under: its own, or MongoDB's default built from the
// keys.
func IndexName(m mongo.IndexModel) string {
	if m.Options != nil {
		var o options.IndexOptions
		for _, set := range m.Options.List() {
			_ = set(&o)
		}
		if o.Name != nil {
			return *o.Name
		}
	}
	keys, ok := m.Keys.(bson.D)
	if !ok {
		return ""
	}
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k.Key, fmt.Sprint(k.Value))
	}
	return strings.Join(parts, "_")
}
