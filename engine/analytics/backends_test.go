package analytics_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/analytics"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/engine/storage"
)

// engines returns two engines over db: one computing with aggregation pipelines, one with the streaming
// fold. Both run against the same data.
func engines(t testing.TB, db *mongo.Database, recs *records.Store, rs *rulesets.Store) (pipeline, streaming *analytics.Engine) {
	t.Helper()
	ctx := context.Background()
	var err error
	if pipeline, err = analytics.New(ctx, db, analytics.Options{Records: recs, Rulesets: rs, Backend: storage.NewBackend(false)}); err != nil {
		t.Fatal(err)
	}
	if streaming, err = analytics.New(ctx, db, analytics.Options{Records: recs, Rulesets: rs, Backend: storage.NewBackend(true)}); err != nil {
		t.Fatal(err)
	}
	return pipeline, streaming
}

func TestDetectBackend(t *testing.T) {
	e, err := analytics.New(context.Background(), env.DB, analytics.Options{})
	if err != nil || !e.Backend().Embedded() || !env.Stack.Analytics.Backend().Embedded() {
		t.Fatalf("the embedded store is detected as %v (%v); the stack's engine uses %v", e.Backend(), err, env.Stack.Analytics.Backend())
	}
}

// TestPipelineMatchesStreaming runs the groupings FerretDB can execute as pipelines ($match, $group with
// $sum) both ways on the embedded store and compares every row. FerretDB v1.24 computes only the first
// accumulator of a $group (the others read the group's exhausted iterator and give 0), so the pipeline
// side runs one measure at a time there. The accumulators FerretDB lacks ($max, $min, $cond, $subtract,
// $dateTrunc) are compared on MongoDB by TestBackendsAgreeOnMongoDB.
func TestPipelineMatchesStreaming(t *testing.T) {
	seedShop(t)
	for _, sc := range [][2]any{{"high", 5}, {"high", 2}, {"low", nil}} {
		rec := map[string]any{"channel": "web", "subject": "compare", "severity": sc[0], "team": "compare"}
		if sc[1] != nil {
			rec["satisfactionScore"] = sc[1]
		}
		id := create(t, "complaint", rec)
		t.Cleanup(func() { call(t, "DELETE", "/api/v1/records/complaint/"+id, nil, 200) }) // out of the service figures
	}
	pipe, stream := engines(t, env.DB, env.Stack.Records, env.Stack.Rulesets)
	live := bson.D{{Key: "deletedAt", Value: nil}}
	specs := map[string]analytics.Spec{
		"orders per company (F and M)": {Collection: "records_order",
			Match: bson.D{{Key: "deletedAt", Value: nil}, {Key: "date", Value: bson.D{{Key: "$gte", Value: "2025-01-01"}, {Key: "$lte", Value: "2025-12-31"}}},
				{Key: "status", Value: bson.D{{Key: "$ne", Value: "cancelled"}}}, {Key: "company", Value: bson.D{{Key: "$ne", Value: nil}}}},
			Keys:     []analytics.Key{{Field: "company"}},
			Measures: []analytics.Measure{{Kind: analytics.Count}, {Kind: analytics.Sum, Field: "amount.amount"}}},
		"orders per status and contact": {Collection: "records_order", Match: live,
			Keys:     []analytics.Key{{Field: "status"}, {Field: "contact"}},
			Measures: []analytics.Measure{{Kind: analytics.Count}, {Kind: analytics.Sum, Field: "amount.amount"}}},
		"all orders": {Collection: "records_order", Match: live,
			Measures: []analytics.Measure{{Kind: analytics.Sum, Field: "amount.amount"}, {Kind: analytics.Count}}},
		"contacts per loyalty stage": {Collection: "records_contact", Match: live,
			Keys: []analytics.Key{{Field: "loyaltyStage"}}, Measures: []analytics.Measure{{Kind: analytics.Count}}},
		"complaints per severity and team with CSAT": {Collection: "records_complaint", Match: bson.D{{Key: "deletedAt", Value: nil}, {Key: "team", Value: "compare"}},
			Keys:     []analytics.Key{{Field: "severity"}, {Field: "team"}},
			Measures: []analytics.Measure{{Kind: analytics.Count}, {Kind: analytics.Sum, Field: "satisfactionScore"}}},
		"nothing matches": {Collection: "records_order", Match: bson.D{{Key: "number", Value: "none"}},
			Keys: []analytics.Key{{Field: "company"}}, Measures: []analytics.Measure{{Kind: analytics.Count}}},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			var a []analytics.Row
			for i, m := range spec.Measures {
				one := spec
				one.Measures = []analytics.Measure{m}
				rows, err := pipe.Group(context.Background(), one)
				if err != nil {
					t.Fatalf("pipeline: %v", err)
				}
				if i == 0 {
					a = rows
				}
				if len(rows) != len(a) {
					t.Fatalf("measure %d: %d rows, measure 0: %d", i, len(rows), len(a))
				}
				for j := range rows {
					if i > 0 {
						a[j].Values = append(a[j].Values, rows[j].Values[0])
					}
				}
			}
			b, err := stream.Group(context.Background(), spec)
			if err != nil {
				t.Fatalf("streaming: %v", err)
			}
			if name != "nothing matches" && len(a) == 0 {
				t.Fatal("no rows: the comparison would prove nothing")
			}
			sameRows(t, a, b)
		})
	}
}

func sameRows(t *testing.T, a, b []analytics.Row) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("pipeline %d rows, streaming %d rows:\n%v\n%v", len(a), len(b), a, b)
	}
	for i := range a {
		if !reflect.DeepEqual(a[i].Keys, b[i].Keys) || len(a[i].Values) != len(b[i].Values) {
			t.Fatalf("row %d: pipeline %v, streaming %v", i, a[i], b[i])
		}
		for j := range a[i].Values {
			x, y := a[i].Values[j], b[i].Values[j]
			if fx, ok := x.(float64); ok {
				if fy, ok := y.(float64); !ok || math.Abs(fx-fy) > 1e-6 {
					t.Errorf("row %d measure %d: pipeline %v, streaming %v", i, j, x, y)
				}
				continue
			}
			if !reflect.DeepEqual(x, y) {
				t.Errorf("row %d measure %d: pipeline %v (%T), streaming %v (%T)", i, j, x, x, y, y)
			}
		}
	}
}

// TestBackendsAgreeOnMongoDB computes every report with both paths on a real MongoDB and compares them.
// It needs RAPPORT_TEST_MONGODB_URI (a MongoDB 5.0 or newer, for $dateTrunc); there is none on the
// embedded stack.
func TestBackendsAgreeOnMongoDB(t *testing.T) {
	uri := os.Getenv("RAPPORT_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("RAPPORT_TEST_MONGODB_URI is not set: this test compares the aggregation pipelines with the streaming fold " +
			"on a real MongoDB 5.0 or newer, which the embedded stack does not have; engine/analytics/README.md says how to run it")
	}
	ctx := context.Background()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	db := c.Database(fmt.Sprintf("rapport_analytics_test_%d", time.Now().UnixNano()))
	defer db.Drop(ctx)
	recs := records.New(db, records.Options{})
	if err := recs.Install(ctx); err != nil {
		t.Fatal(err)
	}
	rs := rulesets.New(db, rulesets.Options{Entities: recs})
	if err := rs.Install(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := storage.Detect(ctx, db); err != nil {
		t.Fatalf("RAPPORT_TEST_MONGODB_URI: cannot reach the server: %v", err)
	} else if b.Embedded() {
		t.Fatalf("RAPPORT_TEST_MONGODB_URI names a FerretDB (%v): the comparison needs MongoDB itself", b)
	}
	w := records.WriteOptions{Actor: records.ChangedBy{Via: "api"}}
	co := map[string]string{}
	for l, orders := range orderBook {
		res, err := recs.Create(ctx, "company", map[string]any{"name": "Company " + l}, w)
		if err != nil {
			t.Fatal(err)
		}
		co[l] = res.Record["id"].(string)
		for i, o := range orders {
			if _, err := recs.Create(ctx, "order", map[string]any{"number": fmt.Sprintf("%s-%d", l, i), "date": o[0], "company": co[l],
				"amount": map[string]any{"amount": o[1], "currency": "EUR"}}, w); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now().UTC()
	for i, sev := range []string{"high", "high", "low", "critical"} {
		due := now.Add(time.Duration(i-1) * time.Hour).Format(time.RFC3339)
		rec := map[string]any{"channel": "email", "subject": "s", "severity": sev, "team": fmt.Sprint("t", i%2), "responseDueAt": due, "resolutionDueAt": due}
		if i%2 == 0 {
			rec["acknowledgedAt"] = now.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
			rec["satisfactionScore"] = i + 1
		}
		if _, err := recs.Create(ctx, "complaint", rec, w); err != nil {
			t.Fatal(err)
		}
	}
	pipe, stream := engines(t, db, recs, rs)
	p, _ := analytics.ParsePeriod("2025-01-01", "2025-12-31", now)
	cp := analytics.CustomerParams{Customer: "company", Period: p}
	a, err := pipe.Customers(ctx, nil, cp, analytics.CLVParams{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := stream.Customers(ctx, nil, cp, analytics.CLVParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 10 || !reflect.DeepEqual(a, b) {
		t.Errorf("customers differ:\npipeline  %+v\nstreaming %+v", a, b)
	}
	recent, _ := analytics.ParsePeriod("", "", now)
	sa, err := pipe.Service(ctx, nil, analytics.ServiceParams{Period: recent})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := stream.Service(ctx, nil, analytics.ServiceParams{Period: recent})
	if err != nil {
		t.Fatal(err)
	}
	sa.AsOf, sb.AsOf = time.Time{}, time.Time{}
	if sa.Total.Complaints != 4 || !reflect.DeepEqual(sa, sb) {
		t.Errorf("service differs:\npipeline  %+v\nstreaming %+v", sa, sb)
	}
	la, err := pipe.Loyalty(ctx, nil, "company", recent, analytics.Ownership{})
	if err != nil {
		t.Fatal(err)
	}
	lb, err := stream.Loyalty(ctx, nil, "company", recent, analytics.Ownership{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(la, lb) {
		t.Errorf("loyalty differs:\npipeline  %+v\nstreaming %+v", la, lb)
	}
}
