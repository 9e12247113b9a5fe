package ferret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/storage"
)

// insertDocs are documents Insert must store exactly as FerretDB does: records' values and the cases
// FerretDB's insert changes on the way (_id moved first, at the top and in nested documents; -0 stored
// as 0), with the values JSON treats specially (HTML characters, line separators, big and small numbers).
func insertDocs() []bson.D {
	at := time.Date(2026, 3, 1, 9, 30, 15, 123e6, time.UTC)
	return []bson.D{
		{{Key: "_id", Value: "lead-1"}, {Key: "name", Value: "Acme <Retail> & Co"}, {Key: "status", Value: "new"}, {Key: "version", Value: int64(1)},
			{Key: "createdAt", Value: bson.NewDateTimeFromTime(at)}, {Key: "updatedAt", Value: bson.NewDateTimeFromTime(at)},
			{Key: "budget", Value: bson.D{{Key: "amount", Value: 150000.0}, {Key: "currency", Value: "RUB"}}},
			{Key: "emails", Value: bson.A{"a@example.test", "b@example.test"}}, {Key: "score", Value: int32(42)}, {Key: "vip", Value: true}},
		{{Key: "first", Value: "id comes later"}, {Key: "_id", Value: "moved"}, {Key: "last", Value: nil}},
		{{Key: "_id", Value: int32(7)}, {Key: "nested", Value: bson.D{{Key: "a", Value: 1.0}, {Key: "_id", Value: "inner"}}},
			{Key: "list", Value: bson.A{bson.D{{Key: "x", Value: int32(1)}, {Key: "_id", Value: int64(2)}}, "y", nil, -0.0}}},
		{{Key: "_id", Value: int64(1) << 60}, {Key: "negzero", Value: math.Copysign(0, -1)}, {Key: "deep", Value: bson.D{{Key: "z", Value: math.Copysign(0, -1)}}},
			{Key: "small", Value: 1e-7}, {Key: "large", Value: 1e21}, {Key: "frac", Value: 0.1}, {Key: "max", Value: math.MaxFloat64},
			{Key: "i32", Value: int32(math.MinInt32)}, {Key: "i64", Value: int64(math.MaxInt64)}},
		{{Key: "_id", Value: bson.ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, {Key: "text", Value: "\"quoted\" \\ and \u2028 \u2029 ёж 🙂 \x01 \t"},
			{Key: "old", Value: bson.NewDateTimeFromTime(time.Date(1901, 1, 1, 0, 0, 0, 0, time.UTC))}, {Key: "oid", Value: bson.ObjectID{0xff}},
			{Key: "empty", Value: bson.D{}}, {Key: "none", Value: bson.A{}}, {Key: "html", Value: bson.D{{Key: "a&b<c>", Value: "<>"}}},
			{Key: "ключ", Value: "значение"}},
		longDoc()[:19], // 19 fields: keys checked with a map
	}
}

// TestInsertStoresWhatFerretDBStores inserts each document through FerretDB into one collection and
// through Insert into another, and expects the same stored bytes and the same document read back.
func TestInsertStoresWhatFerretDBStores(t *testing.T) {
	ctx := context.Background()
	s, c := startClient(t, t.TempDir())
	db := c.Database("ins")
	viaFerret, viaFiles := db.Collection("via_ferret"), db.Collection("via_files")
	if err := db.CreateCollection(ctx, viaFiles.Name()); err != nil {
		t.Fatal(err)
	}
	for _, d := range insertDocs() {
		if _, err := viaFerret.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Insert(ctx, "ins", []storage.InsertDoc{{Collection: viaFiles.Name(), Doc: raw}}); err != nil {
			t.Fatalf("Insert(%v): %v", d, err)
		}
	}
	want, got := storedRows(t, s, "ins", viaFerret.Name()), storedRows(t, s, "ins", viaFiles.Name())
	if len(want) != len(insertDocs()) || len(got) != len(want) {
		t.Fatalf("stored %d rows through FerretDB and %d through Insert, want %d each", len(want), len(got), len(insertDocs()))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("document %d stored differently:\nFerretDB %s\nInsert   %s", i, want[i], got[i])
		}
	}
	for _, d := range insertDocs() {
		id := d[0].Value
		if d[0].Key != "_id" {
			id = d[1].Value
		}
		a, errA := viaFerret.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		b, errB := viaFiles.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("_id %v read back: %v / %v\nFerretDB %s\nInsert   %s", id, errA, errB, a, b)
		}
	}
}

// storedRows reads a collection's stored documents in insertion order.
func storedRows(t *testing.T, s *Server, database, collection string) []string {
	t.Helper()
	db, err := s.writer(filepath.Join(s.dir, database+".sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	table, err := tableOf(context.Background(), db, collection)
	if err != nil || table == "" {
		t.Fatalf("table of %s: %q, %v", collection, table, err)
	}
	rows, err := db.Query(fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q ORDER BY rowid`, table))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestInsertLeavesTheRestToFerretDB: what Insert cannot store exactly as FerretDB would, and a
// collection or database FerretDB has not created, give ErrNotPushed; a taken _id gives
// ErrDuplicateKey; in every case nothing of the insert is stored, the documents before the bad one
// included, and no database file is created.
func TestInsertLeavesTheRestToFerretDB(t *testing.T) {
	ctx := context.Background()
	s, c := startClient(t, t.TempDir())
	db := c.Database("ins")
	coll := db.Collection("things")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "taken"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCollection(ctx, "tiny", options.CreateCollection().SetCapped(true).SetSizeInBytes(4096)); err != nil {
		t.Fatal(err)
	}
	good := bson.D{{Key: "_id", Value: "good"}, {Key: "n", Value: int32(1)}}
	for _, tc := range []struct {
		name           string
		database, coll string
		bad            bson.D
		want           error
	}{
		{"a key starting with $", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "$set", Value: 1}}, storage.ErrNotPushed},
		{"a dotted key", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a.b", Value: 1}}, storage.ErrNotPushed},
		{"a top-level key JSON escapes", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: `a"b`, Value: 1}}, storage.ErrNotPushed},
		{"a duplicate key", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: 1}, {Key: "a", Value: 2}}, storage.ErrNotPushed},
		{"a duplicate key in a long document", "ins", "things", longDoc(), storage.ErrNotPushed},
		{"a nested array", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: bson.A{bson.A{1}}}}, storage.ErrNotPushed},
		{"infinity", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: math.Inf(1)}}, storage.ErrNotPushed},
		{"NaN in an array", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: bson.A{math.NaN()}}}, storage.ErrNotPushed},
		{"binary data", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: bson.Binary{Data: []byte{1}}}}, storage.ErrNotPushed},
		{"a regular expression", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: bson.Regex{Pattern: "x"}}}, storage.ErrNotPushed},
		{"a decimal", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: bson.NewDecimal128(1, 1)}}, storage.ErrNotPushed},
		{"a string that is not UTF-8", "ins", "things", bson.D{{Key: "_id", Value: "b"}, {Key: "a", Value: "\xff"}}, storage.ErrNotPushed},
		{"no _id", "ins", "things", bson.D{{Key: "a", Value: 1}}, storage.ErrNotPushed},
		{"a document _id", "ins", "things", bson.D{{Key: "_id", Value: bson.D{{Key: "a", Value: 1}}}}, storage.ErrNotPushed},
		{"a collection not created yet", "ins", "missing", bson.D{{Key: "_id", Value: "b"}}, storage.ErrNotPushed},
		{"a capped collection", "ins", "tiny", bson.D{{Key: "_id", Value: "b"}}, storage.ErrNotPushed},
		{"a database not created yet", "nowhere", "things", bson.D{{Key: "_id", Value: "b"}}, storage.ErrNotPushed},
		{"a taken _id", "ins", "things", bson.D{{Key: "_id", Value: "taken"}}, storage.ErrDuplicateKey},
		{"the first document's _id again", "ins", "things", bson.D{{Key: "_id", Value: "good"}}, storage.ErrDuplicateKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := bson.Marshal(good)
			b, _ := bson.Marshal(tc.bad)
			err := s.Insert(ctx, tc.database, []storage.InsertDoc{{Collection: "things", Doc: g}, {Collection: tc.coll, Doc: b}})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Insert = %v, want %v", err, tc.want)
			}
			if n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: "good"}}); err != nil || n != 0 {
				t.Errorf("the first document was stored (%d, %v): an insert must be all or nothing", n, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(s.dir, "nowhere.sqlite")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Insert created a database file: %v", err)
	}
	// The same documents through FerretDB: it stores the good one, so Insert's refusal lost nothing.
	g, _ := bson.Marshal(good)
	if err := s.Insert(ctx, "ins", []storage.InsertDoc{{Collection: "things", Doc: g}}); err != nil {
		t.Fatalf("Insert of the good document alone: %v", err)
	}
	var back bson.M
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "good"}}).Decode(&back); err != nil || back["n"] != int32(1) {
		t.Fatalf("the good document read back through FerretDB: %v, %v", back, err)
	}
	// A collection dropped after Insert prepared its statement is left to FerretDB, which creates it
	// again; Insert then writes into the new one.
	if err := coll.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, "ins", []storage.InsertDoc{{Collection: "things", Doc: g}}); !errors.Is(err, storage.ErrNotPushed) {
		t.Fatalf("Insert into a dropped collection = %v, want ErrNotPushed", err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "again"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, "ins", []storage.InsertDoc{{Collection: "things", Doc: g}}); err != nil {
		t.Fatalf("Insert into the collection created again: %v", err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 2 {
		t.Fatalf("the collection created again holds %d documents (%v), want 2", n, err)
	}
}

// longDoc has 20 fields, the last a second "f3".
func longDoc() bson.D {
	d := bson.D{{Key: "_id", Value: "long"}}
	for i := range 18 {
		d = append(d, bson.E{Key: fmt.Sprintf("f%d", i), Value: int32(i)})
	}
	return append(d, bson.E{Key: "f3", Value: "again"})
}

// BenchmarkInsert compares an insert of a lead through FerretDB (the driver, "driver") with Insert.
func BenchmarkInsert(b *testing.B) {
	ctx := context.Background()
	s, c := startClient(b, b.TempDir())
	coll := c.Database("bench").Collection("records_lead")
	lead := func(id string) bson.D {
		now := bson.NewDateTimeFromTime(time.Now())
		return bson.D{{Key: "_id", Value: id}, {Key: "source", Value: "webForm"}, {Key: "name", Value: "Bench Lead"}, {Key: "companyName", Value: "BenchCo"},
			{Key: "email", Value: "lead@bench.test"}, {Key: "phone", Value: "+79123456789"}, {Key: "status", Value: "new"},
			{Key: "budget", Value: bson.D{{Key: "amount", Value: 150000.0}, {Key: "currency", Value: "RUB"}}}, {Key: "need", Value: "CRM for 40 seats"},
			{Key: "version", Value: int64(1)}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}, {Key: "createdBy", Value: "bench"}, {Key: "owner", Value: "bench"}}
	}
	if _, err := coll.InsertOne(ctx, lead("seed")); err != nil {
		b.Fatal(err)
	}
	for _, key := range []string{"updatedAt", "createdAt"} {
		if err := s.IndexSort(ctx, "bench", coll.Name(), key); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.IndexIDs(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("driver", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := coll.InsertOne(ctx, lead(fmt.Sprintf("d%d", i))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("files", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			raw, err := bson.Marshal(lead(fmt.Sprintf("f%d", i)))
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Insert(ctx, "bench", []storage.InsertDoc{{Collection: coll.Name(), Doc: raw}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
