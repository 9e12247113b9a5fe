package records_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/storage"
)

func benchLead(i int) map[string]any {
	return map[string]any{"source": "webForm", "name": fmt.Sprintf("Bench Lead %d", i), "companyName": "BenchCo",
		"email": fmt.Sprintf("lead%d@bench.test", i), "phone": "+79123456789", "status": "new",
		"budget": map[string]any{"amount": 150000.0, "currency": "RUB"}, "need": "CRM for 40 seats"}
}

// BenchmarkCreateLead compares Store.Create (validation, history) with a raw driver insert of the same
// document, without HTTP, so the store's own cost is visible apart from the API's: "store" inserts
// through FerretDB (as on MongoDB, or a FerretDB this process does not run), "files" into the embedded
// store's files, as `rapport dev` does.
func BenchmarkCreateLead(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		s    *records.Store
	}{{"store", store}, {"files", records.New(db, records.Options{Backend: storage.NewEmbedded(files)})}} {
		s := c.s
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := s.Create(ctx, "lead", benchLead(i), records.WriteOptions{Actor: records.ChangedBy{Via: "api"}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	coll := db.Collection("records_lead")
	b.Run("driver", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			doc := benchLead(i)
			now := time.Now().UTC()
			doc["_id"], doc["version"], doc["createdAt"], doc["updatedAt"] = uuid.NewString(), int64(1), now, now
			if _, err := coll.InsertOne(ctx, doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// importedRows counts the rows BenchmarkImportContacts generated in this process, so each row's phone is new.
var importedRows int

// BenchmarkImportContacts imports b.N new contacts (dedupe on email) through an import job, measuring
// the whole job per row: parsing, the create checks, keys, records, results and progress.
func BenchmarkImportContacts(b *testing.B) {
	ctx := context.Background()
	run := time.Now().UnixNano()
	var csv strings.Builder
	csv.WriteString("firstName,lastName,emails,phones\n")
	for i := range b.N {
		// The phone is a dedupe key too: number it on from the rows of the runs before, or a second run
		// (the benchmark runs with b.N = 1 first) finds row 0's phone taken and skips the row.
		importedRows++
		fmt.Fprintf(&csv, "Bench%d,Import,bench%d.%d@import.test,+7912%07d\n", i, run, i, importedRows)
	}
	b.ResetTimer()
	job, err := store.StartImport(ctx, "contact", []byte(csv.String()), nil, records.WriteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	store.Wait()
	b.StopTimer()
	j, err := store.Job(ctx, "contact", job.ID)
	if err != nil || j.Created != b.N {
		b.Fatalf("job %+v, %v", j, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkListLeads lists a filtered, sorted page of 50 with its count out of listSeed leads: "store" is
// Store.List (one scan on the embedded store, the page kept in Go), "driver" the same query sent as a
// find with sort and limit plus a count, as a client of the embedded store would.
func BenchmarkListLeads(b *testing.B) {
	ctx := context.Background()
	const listSeed = 10000
	coll := db.Collection("records_listbench")
	if n, _ := coll.CountDocuments(ctx, bson.D{}); n < listSeed {
		e, err := store.Schema(ctx, "lead")
		if err != nil {
			b.Fatal(err)
		}
		def := e.Entity
		def.Name = "listbench"
		if _, err := store.SaveSchema(ctx, def, "bench", 0, false); err != nil && !errors.Is(err, records.ErrSchemaExists) {
			b.Fatal(err)
		}
		statuses := []string{"new", "contacted", "qualified", "disqualified", "converted"}
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var batch []any
		for i := range listSeed {
			at := base.Add(time.Duration(i) * time.Minute)
			batch = append(batch, bson.M{"_id": uuid.NewString(), "source": "import", "name": fmt.Sprintf("List %d", i), "companyName": "ListCo",
				"email": fmt.Sprintf("list%d@bench.test", i), "status": statuses[i%len(statuses)], "version": int64(1),
				"createdAt": at, "updatedAt": at, "need": "CRM for 40 seats"})
			if len(batch) == 1000 {
				if _, err := coll.InsertMany(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	p := records.ListParams{Filter: `status == "qualified"`, Sort: "-createdAt", Limit: 50, Count: true}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			page, err := store.List(ctx, "listbench", p)
			if err != nil || len(page.Items) != 50 {
				b.Fatalf("%d items, %v", len(page.Items), err)
			}
		}
	})
	q, err := store.Compile(ctx, "listbench", p)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("driver", func(b *testing.B) {
		for b.Loop() {
			cur, err := coll.Find(ctx, q.Filter, options.Find().SetSort(q.Sort).SetLimit(int64(q.Limit)+1))
			if err != nil {
				b.Fatal(err)
			}
			var docs []bson.M
			if err := cur.All(ctx, &docs); err != nil || len(docs) != 51 {
				b.Fatalf("%d docs, %v", len(docs), err)
			}
			if _, err := coll.CountDocuments(ctx, q.Filter); err != nil {
				b.Fatal(err)
			}
		}
	})
}
