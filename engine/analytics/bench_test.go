package analytics_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/analytics"
	"github.com/rapportcrm/rapport/engine/records"
)

// The benchmark's order book: 100,000 orders of 10,000 companies in 2025, in a database of its own on
// the embedded store.
const (
	benchCustomers = 10_000
	benchOrders    = 100_000
)

var (
	benchOnce sync.Once
	benchDB   *mongo.Database
	benchErr  error
)

// benchBook seeds the orders and companies once, as the records store stores them (same fields, same
// system fields), with the driver: the benchmark measures the analysis, not 110,000 API calls.
func benchBook(b *testing.B) *mongo.Database {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		db := env.DB.Client().Database("rapport_bench_analytics")
		if err := db.Drop(ctx); err != nil {
			benchErr = err
			return
		}
		now := time.Now().UTC()
		ids := make([]string, benchCustomers)
		docs := make([]any, 0, 1000)
		flush := func(coll string) {
			if len(docs) > 0 && benchErr == nil {
				_, benchErr = db.Collection(coll).InsertMany(ctx, docs)
			}
			docs = docs[:0]
		}
		for i := range ids {
			ids[i] = uuid.NewString()
			docs = append(docs, bson.D{{Key: "_id", Value: ids[i]}, {Key: "name", Value: fmt.Sprintf("Company %05d", i)},
				{Key: "loyaltyStage", Value: "customer"}, {Key: "version", Value: int64(1)}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}})
			if len(docs) == cap(docs) {
				flush("records_company")
			}
		}
		flush("records_company")
		rnd := rand.New(rand.NewPCG(1, 2))
		for i := range benchOrders {
			// Every customer has an order; the rest fall unevenly (squared uniform: a few customers buy
			// much more often), with dates and amounts spread so every score occurs.
			c := i
			if i >= benchCustomers {
				u := rnd.Float64()
				c = int(u * u * benchCustomers)
			}
			date := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, (i*31)%365).Format(time.DateOnly)
			docs = append(docs, bson.D{{Key: "_id", Value: uuid.NewString()}, {Key: "number", Value: fmt.Sprintf("B-%06d", i)},
				{Key: "date", Value: date}, {Key: "company", Value: ids[c]}, {Key: "status", Value: "completed"},
				{Key: "amount", Value: bson.D{{Key: "amount", Value: float64(100 + (i*37)%5000)}, {Key: "currency", Value: "EUR"}}},
				{Key: "version", Value: int64(1)}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}})
			if len(docs) == cap(docs) {
				flush("records_order")
			}
		}
		flush("records_order")
		benchDB = db
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDB
}

// peakHeap samples the live heap every millisecond while fn runs and returns its peak in bytes. The
// embedded FerretDB runs in this process, so its memory is in the figure too.
func peakHeap(fn func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
	}
	runtime.GC()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read()
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	read()
	return peak.Load()
}

// BenchmarkRFM computes RFM over 100,000 orders of 10,000 customers on the embedded store. "driver" is
// the floor: reading the same orders with the same filter and projection through the driver and
// doing nothing with them. "scores" is the RFM computation (streaming fold and quintile scores);
// "report" adds the customers' names and segments and a page, as GET /api/v1/analytics/rfm does.
// peak-heap-MB is the process's live heap at its highest during one run (embedded FerretDB included).
func BenchmarkRFM(b *testing.B) {
	db := benchBook(b)
	ctx := context.Background()
	e, err := analytics.New(ctx, db, analytics.Options{Records: env.Stack.Records})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := analytics.ParsePeriod("2025-01-01", "2025-12-31", time.Now())
	params := analytics.CustomerParams{Customer: "company", Period: p}
	run := func(b *testing.B, fn func() error) {
		var peak uint64
		for b.Loop() {
			var err error
			if h := peakHeap(func() { err = fn() }); h > peak {
				peak = h
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	}
	b.Run("driver", func(b *testing.B) {
		run(b, func() error {
			filter := bson.D{{Key: "deletedAt", Value: nil}, {Key: "date", Value: bson.D{{Key: "$gte", Value: p.FirstDay()}, {Key: "$lte", Value: p.LastDay()}}},
				{Key: "status", Value: bson.D{{Key: "$ne", Value: "cancelled"}}}, {Key: "company", Value: bson.D{{Key: "$ne", Value: nil}}}}
			cur, err := db.Collection(records.CollectionPrefix+"order").Find(ctx, filter, options.Find().SetBatchSize(1000).
				SetProjection(bson.D{{Key: "company", Value: 1}, {Key: "amount.amount", Value: 1}, {Key: "date", Value: 1}}))
			if err != nil {
				return err
			}
			n := 0
			for cur.Next(ctx) {
				n++
			}
			if n != benchOrders {
				return fmt.Errorf("read %d orders", n)
			}
			return cur.Close(ctx)
		})
	})
	b.Run("scores", func(b *testing.B) {
		run(b, func() error {
			cs, err := e.Customers(ctx, nil, params, analytics.CLVParams{})
			if err == nil && len(cs) != benchCustomers {
				err = fmt.Errorf("%d customers", len(cs))
			}
			return err
		})
	})
	b.Run("report", func(b *testing.B) {
		run(b, func() error {
			rep, err := e.RFM(ctx, nil, params, 0, 100)
			if err == nil && (rep.Customers != benchCustomers || rep.Orders != benchOrders || rep.Items[0].Name == "") {
				err = fmt.Errorf("report %d customers %d orders", rep.Customers, rep.Orders)
			}
			return err
		})
	})
}
