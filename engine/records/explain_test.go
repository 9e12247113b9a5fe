package records

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/schema"
)

// TestListViewsUseIndexesOnMongoDB asks a real MongoDB (RAPPORT_TEST_MONGODB_URI, e.g. the one of
// docker-compose.yml) to explain every list view of every built-in entity, and the "my records" list of
// an agent: each must be answered from an index (IXSCAN), never by reading the collection (COLLSCAN) nor
// by sorting in memory (SORT). It is skipped where no MongoDB runs.
func TestListViewsUseIndexesOnMongoDB(t *testing.T) {
	uri := os.Getenv("RAPPORT_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("set RAPPORT_TEST_MONGODB_URI to a MongoDB to check the list queries' plans")
	}
	ctx := context.Background()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	db := c.Database(fmt.Sprintf("rapport_explain_%d", time.Now().UnixNano()))
	defer db.Drop(ctx)
	s := New(db, Options{})
	if err := s.Install(ctx); err != nil {
		t.Fatal(err)
	}
	if s.be().Embedded() {
		t.Skip("RAPPORT_TEST_MONGODB_URI names an embedded store, which serves no list from an index")
	}
	all, err := s.ListSchemas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := access.NewPolicy(ctx, nil, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range all {
		e := info.Entity
		// A few records, so the planner has something to weigh.
		for i := range 20 {
			doc := bson.M{"_id": fmt.Sprintf("%s-%d", e.Name, i), "version": int64(1), "createdAt": time.Now(), "updatedAt": time.Now()}
			if _, err := s.coll(e.Name).InsertOne(ctx, doc); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range schema.ListViews(e, extraSorts(e.Name)...) {
			p := viewParams(e, v)
			t.Run(fmt.Sprintf("%s/%s/%s", e.Name, strings.Join(v.Equal, "+"), p.Sort), func(t *testing.T) {
				explainUsesIndex(t, s, e, p)
			})
		}
		if e.Field(access.OwnerField) != nil {
			d := policy.Decide(access.Subject{UserID: "u-agent", Roles: []string{access.RoleAgent}}, e.Name)
			t.Run(e.Name+"/my records", func(t *testing.T) {
				explainUsesIndex(t, s, e, ListParams{Access: &d})
			})
		}
	}
}

// explainUsesIndex explains the list query Store.List would send for p and checks its winning plan.
func explainUsesIndex(t *testing.T, s *Store, e schema.Entity, p ListParams) {
	t.Helper()
	q, err := s.compile(e, p, access.ActionRead)
	if err != nil {
		t.Fatal(err)
	}
	cmd := bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: CollectionPrefix + e.Name}, {Key: "filter", Value: q.Filter},
		{Key: "sort", Value: q.Sort}, {Key: "limit", Value: q.Limit + 1}}}, {Key: "verbosity", Value: "queryPlanner"}}
	var out bson.M
	if err := s.db.RunCommand(context.Background(), cmd).Decode(&out); err != nil {
		t.Fatal(err)
	}
	planner, _ := out["queryPlanner"].(bson.M)
	stages := map[string]bool{}
	planStages(planner["winningPlan"], stages)
	if !stages["IXSCAN"] || stages["COLLSCAN"] || stages["SORT"] {
		t.Errorf("filter %v sort %v: plan stages %v", q.Filter, q.Sort, stages)
	}
}

// planStages collects the stage names of an explained plan, at any depth (classic and SBE plans).
func planStages(v any, out map[string]bool) {
	switch x := v.(type) {
	case bson.M:
		if st, ok := x["stage"].(string); ok {
			out[st] = true
		}
		for _, e := range x {
			planStages(e, out)
		}
	case bson.D:
		m := bson.M{}
		for _, e := range x {
			m[e.Key] = e.Value
		}
		planStages(m, out)
	case bson.A:
		for _, e := range x {
			planStages(e, out)
		}
	}
}

// viewParams are the list parameters of a view, with a sample value for each equality.
func viewParams(e schema.Entity, v schema.ListView) ListParams {
	var conds []string
	for _, f := range v.Equal {
		conds = append(conds, sampleCondition(e.Field(f)))
	}
	sort := v.Sort.Field
	if v.Sort.Order < 0 {
		sort = "-" + sort
	}
	return ListParams{Filter: strings.Join(conds, " and "), Sort: sort}
}

// sampleCondition is an equality on a field in the query language with a value of its type.
func sampleCondition(f *schema.Field) string {
	item := f
	list := f.Type == schema.TypeList && f.Item != nil
	if list {
		item = f.Item
	}
	var val string
	switch item.Type {
	case schema.TypeEnum:
		val = `"` + item.Options[0].Value + `"`
	case schema.TypeInteger, schema.TypeDecimal:
		val = "1"
	case schema.TypeBoolean:
		val = "true"
	case schema.TypeDate:
		val = `"2026-01-02"`
	case schema.TypeDateTime:
		val = `"2026-01-02T03:04:05Z"`
	case schema.TypeEmail:
		val = `"a@example.test"`
	case schema.TypePhone:
		val = `"+79123456789"`
	default:
		val = `"x"`
	}
	if list {
		return val + " in " + f.Name
	}
	return f.Name + " == " + val
}

// TestListViewsAreListQueries checks, on any store, that every derived list view of every built-in
// entity is a list a client can send: its filter parses and its sort is allowed.
func TestListViewsAreListQueries(t *testing.T) {
	all, err := schema.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, Options{})
	for _, e := range all {
		for _, v := range schema.ListViews(e, extraSorts(e.Name)...) {
			q, err := s.compile(e, viewParams(e, v), access.ActionRead)
			if err != nil {
				t.Errorf("%s view %+v: %v", e.Name, v, err)
				continue
			}
			want := append(v.Index()[len(v.Equal):], schema.IndexKey{})[:2]
			if len(q.Sort) != 2 || q.Sort[0].Key != storedPath(want[0].Field) || q.Sort[1].Key != "_id" || fmt.Sprint(q.Sort[1].Value) != fmt.Sprint(want[1].Order) {
				t.Errorf("%s view %+v: sort %v does not follow its index %v", e.Name, v, q.Sort, v.Index())
			}
		}
	}
}
