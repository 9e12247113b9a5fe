package records_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/engine/records"
)

func benchLead(i int) map[string]any {
	return map[string]any{"source": "webForm", "name": fmt.Sprintf("Bench Lead %d", i), "companyName": "BenchCo",
		"email": fmt.Sprintf("lead%d@bench.test", i), "phone": "+79123456789", "status": "new",
		"budget": map[string]any{"amount": 150000.0, "currency": "RUB"}, "need": "CRM for 40 seats"}
}

// BenchmarkCreateLead compares Store.Create (validation, history) with a raw driver insert of the same
// document, without HTTP, so the store's own cost is visible apart from the API's.
func BenchmarkCreateLead(b *testing.B) {
	ctx := context.Background()
	b.Run("store", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := store.Create(ctx, "lead", benchLead(i), records.WriteOptions{Actor: records.ChangedBy{Via: "api"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
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

// BenchmarkImportContacts imports b.N new contacts (dedupe on email) through an import job, measuring
// the whole job per row: parsing, the create checks, keys, records, results and progress.
func BenchmarkImportContacts(b *testing.B) {
	ctx := context.Background()
	run := time.Now().UnixNano()
	var csv strings.Builder
	csv.WriteString("firstName,lastName,emails,phones\n")
	for i := range b.N {
		fmt.Fprintf(&csv, "Bench%d,Import,bench%d.%d@import.test,+7912%07d\n", i, run, i, i)
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
