package storage_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/engine/storage/ferret/ferrettest"
)

var db *mongo.Database

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var stop func()
	var err error
	if db, _, stop, err = ferrettest.Start("storage"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

func TestDetectEmbedded(t *testing.T) {
	b, err := storage.Detect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Embedded() {
		t.Fatalf("FerretDB detected as %s", b)
	}
}

// Both kinds of backend run here: FerretDB accepts the MongoDB form of the filter too (only slower), so
// the MongoDB path is checked for its result on the same server.
func backends() map[string]*storage.Backend {
	return map[string]*storage.Backend{"embedded": storage.NewBackend(true), "mongodb": storage.NewBackend(false)}
}

func TestUpdateIfAndDeleteIf(t *testing.T) {
	ctx := context.Background()
	for name, b := range backends() {
		t.Run(name, func(t *testing.T) {
			coll := db.Collection("cond_" + name)
			if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "k"}, {Key: "holder", Value: "a"}, {Key: "n", Value: int64(1)}}); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				op    string
				want  any
				to    string
				did   bool
				after string
			}{
				{"update", "b", "c", false, "a"},
				{"update", "a", "b", true, "b"},
				{"delete", "a", "", false, "b"},
				{"delete", "b", "", true, ""},
				{"update", "b", "x", false, ""},
			}
			for i, s := range steps {
				var did bool
				var err error
				if s.op == "update" {
					did, err = b.UpdateIf(ctx, coll, "k", "holder", s.want, bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: s.to}}}})
				} else {
					did, err = b.DeleteIf(ctx, coll, "k", "holder", s.want)
				}
				if err != nil {
					t.Fatal(err)
				}
				var doc struct{ Holder string }
				_ = coll.FindOne(ctx, bson.D{{Key: "_id", Value: "k"}}).Decode(&doc)
				if did != s.did || doc.Holder != s.after {
					t.Fatalf("step %d %s if %v: did %v holder %q, want %v %q", i, s.op, s.want, did, doc.Holder, s.did, s.after)
				}
			}
		})
	}
}

// TestUpdateIfConcurrent races writers that all read version 1: exactly one may win each version. It
// races only the backend that matches the server: the MongoDB form relies on the server applying
// {_id, version} atomically, which MongoDB does and FerretDB v1 (read-modify-write) does not, so on
// the embedded store that form may let two writers win and says nothing about Rapport's code.
func TestUpdateIfConcurrent(t *testing.T) {
	ctx := context.Background()
	server, err := storage.Detect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range backends() {
		t.Run(name, func(t *testing.T) {
			if b.Embedded() != server.Embedded() {
				t.Skipf("the %s backend is raced only on its own server; this one is %s", name, server)
			}
			coll := db.Collection("race_" + name)
			if err := coll.Drop(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "r"}, {Key: "version", Value: int64(1)}}); err != nil {
				t.Fatal(err)
			}
			var wins atomic.Int64
			var wg sync.WaitGroup
			for range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := b.UpdateIf(ctx, coll, "r", "version", int64(1), bson.D{{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}})
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			var doc struct{ Version int64 }
			if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "r"}}).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if wins.Load() != 1 || doc.Version != 2 {
				t.Fatalf("%d writers won, version %d; want 1 and 2", wins.Load(), doc.Version)
			}
		})
	}
}

func TestFindIDs(t *testing.T) {
	ctx := context.Background()
	for name, b := range backends() {
		t.Run(name, func(t *testing.T) {
			coll := db.Collection("ids_" + name)
			for _, id := range []string{"a", "b", "c"} {
				if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: id + id}, {Key: "other", Value: 1}}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			err := b.FindIDs(ctx, coll, []string{"c", "missing", "a"}, bson.D{{Key: "v", Value: 1}}, func(raw bson.Raw) error {
				if _, err := raw.LookupErr("other"); err == nil {
					t.Errorf("projection ignored: %s", raw)
				}
				got = append(got, raw.Lookup("v").StringValue())
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, []string{"aa", "cc"}) {
				t.Fatalf("got %v", got)
			}
		})
	}
}

// TestEnsureIndexesTwice runs EnsureIndexes twice on the embedded store: the unique index is created
// once, the plain ones are not created there (FerretDB serves no query from them), and a plain one an
// older version had created is dropped.
func TestEnsureIndexesTwice(t *testing.T) {
	ctx := context.Background()
	coll := db.Collection("indexed")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "a", Value: 1}}, Options: options.Index().SetName("a")}); err != nil {
		t.Fatal(err)
	}
	models := []mongo.IndexModel{
		{Keys: bson.D{{Key: "a", Value: 1}}, Options: options.Index().SetName("a")},
		{Keys: bson.D{{Key: "b", Value: 1}, {Key: "c", Value: -1}}},
		{Keys: bson.D{{Key: "u", Value: 1}}, Options: options.Index().SetName("u").SetUnique(true)},
	}
	for range 2 {
		if err := storage.EnsureIndexes(ctx, coll, models...); err != nil {
			t.Fatal(err)
		}
	}
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"_id_", "u"}) {
		t.Fatalf("indexes %v, want _id_ and the unique u only", names)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "u", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "u", Value: 1}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second u=1: %v, want a duplicate key error", err)
	}
}

func TestPlain(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := bson.D{{Key: "d", Value: bson.NewDateTimeFromTime(at)}, {Key: "n", Value: int32(3)},
		{Key: "a", Value: bson.A{bson.M{"x": int32(1)}}}}
	got := storage.Plain(in).(map[string]any)
	if got["d"] != at || got["n"] != int64(3) || got["a"].([]any)[0].(map[string]any)["x"] != int64(1) {
		t.Fatalf("plain %#v", got)
	}
	if !storage.SameValue(int32(2), int64(2)) || storage.SameValue("2", int64(2)) {
		t.Fatal("SameValue compares numbers by value only")
	}
}
