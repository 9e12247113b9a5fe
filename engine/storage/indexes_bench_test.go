package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// BenchmarkInsertPlainIndex is why EnsureIndexes creates no plain index on the embedded store: an insert
// of a history-like entry into a collection with the three plain indexes the audit log asks for
// (indexed) against the same insert into a collection with its _id index only (baseline), alternating.
// FerretDB v1.24 serves no query from either, so the difference is all the index costs.
func BenchmarkInsertPlainIndex(b *testing.B) {
	ctx := context.Background()
	indexed, bare := db.Collection("bench_indexed"), db.Collection("bench_bare")
	for _, f := range []string{"entity", "recordId", "actor.id"} {
		if _, err := indexed.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: f, Value: 1}, {Key: "at", Value: -1}},
			Options: options.Index().SetName(f)}); err != nil {
			b.Fatal(err)
		}
	}
	doc := func(i int) bson.D {
		return bson.D{{Key: "_id", Value: fmt.Sprintf("lead/%d@1", i)}, {Key: "entity", Value: "lead"}, {Key: "recordId", Value: fmt.Sprint(i)},
			{Key: "at", Value: time.Now()}, {Key: "actor", Value: bson.D{{Key: "id", Value: "u1"}, {Key: "via", Value: "api"}}},
			{Key: "changes", Value: bson.A{bson.D{{Key: "field", Value: "status"}, {Key: "after", Value: "new"}}}}}
	}
	var took [2]time.Duration
	for i := 0; b.Loop(); i++ {
		for k, coll := range []*mongo.Collection{indexed, bare} {
			start := time.Now()
			if _, err := coll.InsertOne(ctx, doc(i)); err != nil {
				b.Fatal(err)
			}
			took[k] += time.Since(start)
		}
	}
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(b.N), "indexed-ns/op")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "indexed/bare")
}
