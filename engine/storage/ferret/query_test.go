package ferret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/storage"
)

// listDocs are documents of every kind a field can hold, so that each filter meets numbers of all
// widths, strings, dates, booleans, nulls, missing fields and arrays: n, tags and s take arrays, the
// sort keys m, d, b never do (List' contract).
func listDocs() []any {
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	nums := []any{int32(5), int64(5), 5.0, 7.5, int64(-2), nil, "5", bson.A{int32(1), int32(7)}, true, bson.NewDateTimeFromTime(base), bson.A{}, bson.A{nil, "x"}}
	strs := []any{"a", "b", "B", "", "ab", "яблоко", "Ёж", nil, bson.A{"a", "z"}, int32(3), "a\u0301"}
	mixed := []any{int32(2), "two", 2.5, nil, true, false, bson.NewDateTimeFromTime(base), int64(-1), "Two", 0.0}
	var docs []any
	for i := range 40 {
		d := bson.D{{Key: "_id", Value: fmt.Sprintf("d%02d", i)}}
		if v := nums[i%len(nums)]; i%13 != 12 {
			d = append(d, bson.E{Key: "n", Value: v})
		}
		if i%9 != 8 {
			d = append(d, bson.E{Key: "s", Value: strs[i%len(strs)]})
		}
		if i%5 != 4 {
			d = append(d, bson.E{Key: "m", Value: mixed[i%len(mixed)]})
		}
		switch i % 4 {
		case 0:
			d = append(d, bson.E{Key: "d", Value: bson.NewDateTimeFromTime(base.Add(time.Duration(i%7) * time.Hour))})
		case 1:
			d = append(d, bson.E{Key: "d", Value: int64(i)})
		case 2:
			d = append(d, bson.E{Key: "d", Value: nil})
		}
		if i%3 != 2 {
			d = append(d, bson.E{Key: "b", Value: i%2 == 0})
		}
		switch i % 5 {
		case 0:
			d = append(d, bson.E{Key: "tags", Value: bson.A{"x", "y"}})
		case 1:
			d = append(d, bson.E{Key: "tags", Value: "x"})
		case 2:
			d = append(d, bson.E{Key: "tags", Value: bson.A{}})
		case 3:
			d = append(d, bson.E{Key: "tags", Value: bson.A{"y", int32(4)}})
		}
		d = append(d, bson.E{Key: "o", Value: bson.D{{Key: "k", Value: i % 3}, {Key: "list", Value: bson.A{bson.D{{Key: "x", Value: 1.5}}, "y"}}}})
		if i%6 == 0 { // the other types a document may hold, for the decoding of whole documents
			d = append(d, bson.E{Key: "oid", Value: bson.ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, byte(i)}},
				bson.E{Key: "bin", Value: bson.Binary{Subtype: 4, Data: []byte{0, 1, byte(i)}}},
				bson.E{Key: "re", Value: bson.Regex{Pattern: "^a.b$", Options: "i"}},
				bson.E{Key: "ts", Value: bson.Timestamp{T: 1700000000, I: uint32(i)}},
				bson.E{Key: "big", Value: int64(1) << 60}, bson.E{Key: "frac", Value: 0.1},
				bson.E{Key: "text", Value: "\"quoted\" \\ and \u2028 ёж 🙂"}, bson.E{Key: "empty", Value: bson.D{}})
		}
		docs = append(docs, d)
	}
	return docs
}

// TestListAgreesWithFerretDB runs each filter and sort both through FerretDB (which decodes and
// compares every document in Go, with MongoDB's rules) and through List (SQLite over the stored JSON),
// and expects the same documents in the same order, and the same count.
func TestListAgreesWithFerretDB(t *testing.T) {
	ctx := context.Background()
	s, c := startClient(t, t.TempDir())
	coll := c.Database("lists").Collection("mixed")
	if _, err := coll.InsertMany(ctx, listDocs()); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	filters := []struct {
		name   string
		filter bson.D
	}{
		{"everything", bson.D{}},
		{"number equal, any width", bson.D{{Key: "n", Value: int64(5)}}},
		{"number equal as double", bson.D{{Key: "n", Value: 5.0}}},
		{"number in an array", bson.D{{Key: "n", Value: int32(7)}}},
		{"greater than, numbers only", bson.D{{Key: "n", Value: bson.D{{Key: "$gt", Value: int64(3)}}}}},
		{"range", bson.D{{Key: "n", Value: bson.D{{Key: "$gte", Value: int64(-2)}, {Key: "$lt", Value: 6.0}}}}},
		{"not equal keeps missing and other types", bson.D{{Key: "n", Value: bson.D{{Key: "$ne", Value: int64(5)}}}}},
		{"null is missing, null or an array with null", bson.D{{Key: "n", Value: nil}}},
		{"not null", bson.D{{Key: "n", Value: bson.D{{Key: "$ne", Value: nil}}}}},
		{"in with null and a string", bson.D{{Key: "n", Value: bson.D{{Key: "$in", Value: bson.A{int32(1), "5", nil}}}}}},
		{"not in", bson.D{{Key: "n", Value: bson.D{{Key: "$nin", Value: bson.A{int64(1), 7.5}}}}}},
		{"empty in", bson.D{{Key: "n", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}},
		{"bool is not a number", bson.D{{Key: "n", Value: true}}},
		{"date is not a number", bson.D{{Key: "d", Value: bson.D{{Key: "$gt", Value: int64(0)}}}}},
		{"dates after", bson.D{{Key: "d", Value: bson.D{{Key: "$gt", Value: base.Add(2 * time.Hour)}}}}},
		{"dates up to", bson.D{{Key: "d", Value: bson.D{{Key: "$lte", Value: bson.NewDateTimeFromTime(base.Add(3 * time.Hour))}}}}},
		{"string equal", bson.D{{Key: "s", Value: "a"}}},
		{"strings after, byte order", bson.D{{Key: "s", Value: bson.D{{Key: "$gt", Value: "a"}}}}},
		{"strings before a Cyrillic one", bson.D{{Key: "s", Value: bson.D{{Key: "$lt", Value: "я"}}}}},
		{"empty string", bson.D{{Key: "s", Value: ""}}},
		{"number is not a string", bson.D{{Key: "s", Value: "3"}}},
		{"boolean", bson.D{{Key: "b", Value: true}}},
		{"not false", bson.D{{Key: "b", Value: bson.D{{Key: "$ne", Value: false}}}}},
		{"element of an array or the scalar", bson.D{{Key: "tags", Value: "x"}}},
		{"no element x", bson.D{{Key: "tags", Value: bson.D{{Key: "$nin", Value: bson.A{"x"}}}}}},
		{"number element", bson.D{{Key: "tags", Value: bson.D{{Key: "$gte", Value: int32(4)}}}}},
		{"or", bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "n", Value: int32(5)}}, bson.D{{Key: "s", Value: "b"}}}}}},
		{"nor", bson.D{{Key: "$nor", Value: bson.A{bson.D{{Key: "b", Value: true}}, bson.D{{Key: "n", Value: nil}}}}}},
		{"and of or", bson.D{{Key: "$and", Value: bson.A{
			bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "m", Value: nil}}, bson.D{{Key: "m", Value: bson.D{{Key: "$gt", Value: int32(0)}}}}}}},
			bson.D{{Key: "d", Value: nil}},
		}}}},
		{"contains, any case", bson.D{{Key: "s", Value: bson.D{{Key: "$regex", Value: "b"}, {Key: "$options", Value: "i"}}}}},
		{"starts with, Cyrillic any case", bson.D{{Key: "s", Value: bson.D{{Key: "$regex", Value: "^ё"}, {Key: "$options", Value: "i"}}}}},
		{"ends with, case kept", bson.D{{Key: "s", Value: bson.D{{Key: "$regex", Value: "b$"}}}}},
		{"not matching", bson.D{{Key: "$nor", Value: bson.A{bson.D{{Key: "tags", Value: bson.D{{Key: "$regex", Value: "^x"}}}}}}}},
		{"ids", bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"d03", "d17", "nope"}}}}}},
		{"two fields", bson.D{{Key: "b", Value: false}, {Key: "m", Value: bson.D{{Key: "$ne", Value: "two"}}}}},
	}
	sorts := []bson.D{
		{{Key: "_id", Value: 1}},
		{{Key: "m", Value: 1}, {Key: "_id", Value: 1}},
		{{Key: "m", Value: -1}, {Key: "_id", Value: -1}},
		{{Key: "d", Value: -1}, {Key: "_id", Value: 1}},
		{{Key: "b", Value: 1}, {Key: "m", Value: -1}, {Key: "_id", Value: 1}},
		{{Key: "s2", Value: 1}, {Key: "_id", Value: -1}},
	}
	for _, indexed := range []bool{false, true} {
		if indexed { // the same answers when the pages walk IndexSort's indexes
			for _, k := range []string{"_id", "m", "d", "b", "s2"} {
				if err := s.IndexSort(ctx, "lists", "mixed", k); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, f := range filters {
			for _, sort := range sorts {
				for _, limit := range []int{7, 100} {
					t.Run(fmt.Sprintf("indexed=%v/%s/%v/%d", indexed, f.name, sort, limit), func(t *testing.T) {
						cur, err := coll.Find(ctx, f.filter, options.Find().SetSort(sort).SetLimit(int64(limit)))
						if err != nil {
							t.Fatal(err)
						}
						var want []string
						var wantDocs []bson.Raw
						for cur.Next(ctx) {
							want = append(want, cur.Current.Lookup("_id").StringValue())
							wantDocs = append(wantDocs, slices.Clone(cur.Current))
						}
						n, err := coll.CountDocuments(ctx, f.filter)
						if err != nil {
							t.Fatal(err)
						}
						res, err := s.List(ctx, storage.ListQuery{Database: "lists", Collection: "mixed", Filter: f.filter, Sort: sort, Limit: limit, Count: true, Documents: true})
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(res.IDs, want) || res.Total != n {
							t.Errorf("List gave %d: %v\nFerretDB gave  %d: %v", res.Total, res.IDs, n, want)
						}
						if len(res.Docs) != len(wantDocs) {
							t.Fatalf("%d documents, want %d", len(res.Docs), len(wantDocs))
						}
						for i := range wantDocs {
							if !bytes.Equal(res.Docs[i], wantDocs[i]) {
								t.Errorf("document %s decoded as %s, FerretDB gives %s", want[i], res.Docs[i], wantDocs[i])
							}
						}
					})
				}
			}
		}
	}
}

// TestIndexSortServesTheOrder: once IndexSort has indexed an order, SQLite's plan for a page in that
// order, either way round, walks the index instead of sorting the matching documents; a page in another
// order still sorts.
func TestIndexSortServesTheOrder(t *testing.T) {
	ctx := context.Background()
	s, c := startClient(t, t.TempDir())
	if _, err := c.Database("lists").Collection("mixed").InsertMany(ctx, listDocs()); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexSort(ctx, "lists", "mixed", "d"); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexSort(ctx, "lists", "not_yet", "d"); err != nil {
		t.Fatalf("indexing a collection that does not exist: %v", err)
	}
	db, err := s.reader("lists")
	if err != nil {
		t.Fatal(err)
	}
	table, err := tableOf(ctx, db, "mixed")
	if err != nil {
		t.Fatal(err)
	}
	live := bson.D{{Key: "deletedAt", Value: nil}, {Key: "b", Value: true}}
	for _, tt := range []struct {
		sort   bson.D
		walked bool
	}{
		{bson.D{{Key: "d", Value: -1}, {Key: "_id", Value: -1}}, true},
		{bson.D{{Key: "d", Value: 1}, {Key: "_id", Value: 1}}, true},
		{bson.D{{Key: "d", Value: 1}, {Key: "_id", Value: -1}}, false},
		{bson.D{{Key: "m", Value: -1}, {Key: "_id", Value: -1}}, false},
	} {
		q, err := listSQL(table, storage.ListQuery{Filter: live, Sort: tt.sort, Limit: 51})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.page, q.pageArgs...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		walked := strings.Contains(p, table+sortIndexInfix+"d") && !strings.Contains(p, "TEMP B-TREE")
		if walked != tt.walked {
			t.Errorf("sort %v: plan %q, walks the index = %v, want %v", tt.sort, p, walked, tt.walked)
		}
	}
}

// TestListLeavesTheRestToFerretDB: what SQLite cannot answer exactly is refused with
// storage.ErrNotPushed, never answered differently; a collection that does not exist lists nothing.
func TestListLeavesTheRestToFerretDB(t *testing.T) {
	ctx := context.Background()
	s, c := startClient(t, t.TempDir())
	if _, err := c.Database("lists").Collection("objects").InsertOne(ctx, bson.D{{Key: "_id", Value: bson.NewObjectID()}}); err != nil {
		t.Fatal(err)
	}
	byID := bson.D{{Key: "_id", Value: 1}}
	refused := []struct {
		name         string
		coll         string
		filter, sort bson.D
	}{
		{"regex with other options", "mixed", bson.D{{Key: "s", Value: bson.D{{Key: "$regex", Value: "a"}, {Key: "$options", Value: "ix"}}}}, byID},
		{"invalid regex", "mixed", bson.D{{Key: "s", Value: bson.D{{Key: "$regex", Value: "a("}}}}, byID},
		{"nested path", "mixed", bson.D{{Key: "o.k", Value: 1}}, byID},
		{"document value", "mixed", bson.D{{Key: "o", Value: bson.D{{Key: "k", Value: 1}}}}, byID},
		{"exists", "mixed", bson.D{{Key: "s", Value: bson.D{{Key: "$exists", Value: true}}}}, byID},
		{"greater than null", "mixed", bson.D{{Key: "s", Value: bson.D{{Key: "$gt", Value: nil}}}}, byID},
		{"quote in a name", "mixed", bson.D{{Key: "s'", Value: 1}}, byID},
		{"object value", "mixed", bson.D{{Key: "s", Value: bson.NewObjectID()}}, byID},
		{"no sort", "mixed", bson.D{}, nil},
		{"nested sort", "mixed", bson.D{}, bson.D{{Key: "o.k", Value: 1}}},
		{"object IDs", "objects", bson.D{}, byID},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			if _, err := s.List(ctx, storage.ListQuery{Database: "lists", Collection: r.coll, Filter: r.filter, Sort: r.sort, Limit: 10, Count: true}); !errors.Is(err, storage.ErrNotPushed) {
				t.Fatalf("err = %v, want ErrNotPushed", err)
			}
		})
	}
	res, err := s.List(ctx, storage.ListQuery{Database: "lists", Collection: "missing", Sort: byID, Limit: 10, Count: true})
	if err != nil || len(res.IDs) != 0 || res.Total != 0 {
		t.Fatalf("a missing collection listed %+v, %v", res, err)
	}
}

// BenchmarkList lists a page of 50 of 10,000 contact-like documents, newest first and filtered by a
// stage, the way a list page asks: through FerretDB, which decodes every document in Go ("baseline", how
// the embedded store listed before List), and with List from the files ("files", with the page's documents
// decoded from the stored form), and again once IndexSort has indexed the
// order ("files-indexed").
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	s, c := startClient(b, b.TempDir())
	coll := c.Database("bench").Collection("records_contact")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stages := []string{"prospect", "customer", "client", "supporter"}
	var docs []any
	for i := range 10000 {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("c%05d", i)}, {Key: "firstName", Value: fmt.Sprintf("Name %d", i)},
			{Key: "lastName", Value: "Contact"}, {Key: "emails", Value: bson.A{fmt.Sprintf("c%d@example.test", i)}},
			{Key: "phones", Value: bson.A{fmt.Sprintf("+7916%07d", i)}}, {Key: "loyaltyStage", Value: stages[i%4]},
			{Key: "owner", Value: fmt.Sprintf("u%d", i%7)}, {Key: "version", Value: int64(1)},
			{Key: "createdAt", Value: bson.NewDateTimeFromTime(base.Add(time.Duration(i) * time.Minute))},
			{Key: "updatedAt", Value: bson.NewDateTimeFromTime(base.Add(time.Duration(i*7919%10000) * time.Minute))}})
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		b.Fatal(err)
	}
	if err := s.IndexIDs(ctx); err != nil {
		b.Fatal(err)
	}
	filter := bson.D{{Key: "loyaltyStage", Value: "customer"}, {Key: "deletedAt", Value: nil}}
	sort := bson.D{{Key: "updatedAt", Value: -1}, {Key: "_id", Value: -1}}
	list := func(b *testing.B) {
		for b.Loop() {
			res, err := s.List(ctx, storage.ListQuery{Database: "bench", Collection: "records_contact", Filter: filter, Sort: sort, Limit: 51, Documents: true})
			if err != nil || len(res.Docs) != 51 {
				b.Fatalf("%d documents, %v", len(res.Docs), err)
			}
		}
	}
	b.Run("baseline", func(b *testing.B) {
		for b.Loop() {
			cur, err := coll.Find(ctx, filter, options.Find().SetSort(sort).SetLimit(51).SetProjection(bson.D{{Key: "_id", Value: 1}}))
			if err != nil {
				b.Fatal(err)
			}
			var ids []bson.M
			if err := cur.All(ctx, &ids); err != nil || len(ids) != 51 {
				b.Fatalf("%d documents, %v", len(ids), err)
			}
		}
	})
	b.Run("files", list)
	if err := s.IndexSort(ctx, "bench", "records_contact", "updatedAt"); err != nil {
		b.Fatal(err)
	}
	b.Run("files-indexed", list)
}

// startClient starts a server in dir and connects a client to it; both stop when the test ends.
func startClient(tb testing.TB, dir string) (*Server, *mongo.Client) {
	tb.Helper()
	s, err := Start(context.Background(), Config{Dir: dir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	c, err := mongo.Connect(options.Client().ApplyURI(s.URI()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Disconnect(context.Background()) })
	return s, c
}

// BenchmarkIndexSortWrites measures what IndexSort's indexes cost a write: an update by _id of one of
// 10,000 contact-like documents without them ("baseline") and with the two a record entity gets
// (updatedAt, createdAt).
func BenchmarkIndexSortWrites(b *testing.B) {
	ctx := context.Background()
	s, c := startClient(b, b.TempDir())
	coll := c.Database("bench").Collection("records_contact")
	var docs []any
	for i := range 10000 {
		docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("c%05d", i)}, {Key: "firstName", Value: fmt.Sprintf("Name %d", i)},
			{Key: "emails", Value: bson.A{fmt.Sprintf("c%d@example.test", i)}}, {Key: "version", Value: int64(1)},
			{Key: "createdAt", Value: bson.NewDateTimeFromTime(time.Unix(int64(i), 0))}, {Key: "updatedAt", Value: bson.NewDateTimeFromTime(time.Unix(int64(i), 0))}})
	}
	if _, err := coll.InsertMany(ctx, docs); err != nil {
		b.Fatal(err)
	}
	if err := s.IndexIDs(ctx); err != nil {
		b.Fatal(err)
	}
	i := 0
	update := func(b *testing.B) {
		for b.Loop() {
			i++
			_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("c%05d", i%10000)}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "updatedAt", Value: bson.NewDateTimeFromTime(time.Unix(int64(20000+i), 0))}}}})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("baseline", update)
	for _, k := range []string{"updatedAt", "createdAt"} {
		if err := s.IndexSort(ctx, "bench", "records_contact", k); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("indexed", update)
}
