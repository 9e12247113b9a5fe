package analytics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestQuintileScores(t *testing.T) {
	cases := []struct {
		name    string
		revenue []float64
		want    []int
	}{
		// 1 + ⌊5 × smaller ÷ n⌋
		{"ten distinct", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []int{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}},
		{"ties share a score", []float64{100, 100, 50}, []int{2, 2, 1}},
		{"all equal", []float64{7, 7, 7, 7}, []int{1, 1, 1, 1}},
		{"one customer", []float64{42}, []int{1}},
		{"three", []float64{10, 20, 30}, []int{1, 2, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs := make([]Customer, len(tc.revenue))
			for i, r := range tc.revenue {
				cs[i] = Customer{ID: fmt.Sprint(i), Revenue: r, Orders: int64(r), LastOrder: fmt.Sprintf("2025-01-%02d", int(r)%28+1)}
			}
			score(cs)
			for i, c := range cs {
				if c.M != tc.want[i] || c.F != tc.want[i] {
					t.Errorf("customer %d (revenue %v): M %d F %d, want %d", i, tc.revenue[i], c.M, c.F, tc.want[i])
				}
			}
		})
	}
}

func TestCondHolds(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	raw, err := bson.Marshal(bson.D{{Key: "a", Value: t0}, {Key: "b", Value: t0.Add(time.Hour)}, {Key: "n", Value: int64(3)},
		{Key: "s", Value: "x"}, {Key: "null", Value: nil}, {Key: "m", Value: bson.D{{Key: "amount", Value: 2.5}}}})
	if err != nil {
		t.Fatal(err)
	}
	doc := bson.Raw(raw)
	cases := []struct {
		c    Cond
		want bool
	}{
		{Exists("a"), true}, {Exists("null"), false}, {Exists("missing"), false}, {Exists("m.amount"), true},
		{Eq("s", "x"), true}, {Eq("s", "y"), false}, {Eq("n", 3), true},
		{Gt("n", 2), true}, {Gt("n", 3), false}, {Gt("missing", 0), false}, {Gt("s", 2), false},
		{Lt("a", t0.Add(time.Minute)), true}, {Lt("a", t0), false},
		{LteField("a", "b"), true}, {LteField("b", "a"), false}, {LteField("a", "missing"), false}, {LteField("a", "a"), true},
		{GtField("b", "a"), true}, {GtField("a", "n"), false},
		{And(Exists("a"), Gt("n", 1)), true}, {And(Exists("a"), Gt("n", 5)), false},
		{Or(Exists("missing"), Eq("s", "x")), true}, {Not(Exists("missing")), true},
	}
	for _, tc := range cases {
		if got := tc.c.holds(doc); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	at := time.Date(2025, 3, 13, 17, 4, 5, 0, time.UTC) // a Thursday
	for unit, want := range map[string]time.Time{
		"day":   time.Date(2025, 3, 13, 0, 0, 0, 0, time.UTC),
		"week":  time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC),
		"month": time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got := truncate(at, unit); got != want {
			t.Errorf("%s: %v, want %v", unit, got, want)
		}
	}
	if got := truncate(time.Date(2025, 3, 16, 23, 0, 0, 0, time.UTC), "week"); got != time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC) {
		t.Errorf("a Sunday belongs to the week from Monday: %v", got)
	}
	if truncate("2025-03-13", "day") != nil {
		t.Error("a string is not a datetime")
	}
}

func TestPipelineShape(t *testing.T) {
	c := Exists("acknowledgedAt")
	p := Spec{Collection: "c", Match: bson.D{{Key: "x", Value: 1}}, Keys: []Key{{Field: "team"}, {Field: "createdAt", Trunc: "week"}},
		Measures: []Measure{{Kind: Count}, {Kind: CountIf, If: &c}, {Kind: SumDiff, Field: "b", Start: "a"}}}.Pipeline()
	raw, err := bson.MarshalExtJSON(bson.D{{Key: "p", Value: p}}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	got := string(raw)
	for _, want := range []string{`{"$match":{"x":1}}`, `"_id":{"k0":"$team","k1":{"$dateTrunc":{"date":"$createdAt","unit":"week","timezone":"UTC","startOfWeek":"monday"}}}`,
		`"m0":{"$sum":1}`, `"m1":{"$sum":{"$cond":[{"$gt":["$acknowledgedAt",null]},1,0]}}`,
		`"m2":{"$sum":{"$cond":[{"$and":[{"$gt":["$b",null]},{"$gt":["$a",null]}]},{"$subtract":["$b","$a"]},0]}}`} {
		if !strings.Contains(got, want) {
			t.Errorf("pipeline lacks %s:\n%s", want, got)
		}
	}
	if err := (Spec{Collection: "c", Measures: []Measure{{Kind: CountIf}}}).validate(); err == nil {
		t.Error("a countIf without a condition is accepted")
	}
	if err := (Spec{Collection: "c", Keys: []Key{{Field: "a", Trunc: "year"}}}).validate(); err == nil {
		t.Error("an unknown truncation is accepted")
	}
}

func TestHistogram(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{{0, 0}, {500 * time.Microsecond, 0}, {time.Millisecond, 0}, {2 * time.Millisecond, 4}, {100 * time.Millisecond, 27}} {
		if got := bucketOf(tc.d); got != tc.want {
			t.Errorf("bucket of %v = %d, want %d", tc.d, got, tc.want)
		}
	}
	for _, d := range []time.Duration{3 * time.Millisecond, 250 * time.Millisecond, 7 * time.Second, 90 * time.Minute} {
		ms := float64(d) / float64(time.Millisecond)
		up := bucketUpper(bucketOf(d))
		if up < ms || up > ms*1.19 {
			t.Errorf("%v lands in a bucket up to %v ms", d, up)
		}
	}
	hist := map[int]int64{bucketOf(10 * time.Millisecond): 8, bucketOf(time.Second): 2}
	if got := percentile(hist, 10, 0.9); got != bucketUpper(bucketOf(time.Second)) {
		t.Errorf("p90 of 8 × 10 ms and 2 × 1 s = %v", got)
	}
	if got := percentile(hist, 10, 0.8); got != bucketUpper(bucketOf(10*time.Millisecond)) {
		t.Errorf("p80 = %v", got)
	}
}

func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 5, 17, 15, 0, 0, 0, time.UTC)
	cases := []struct {
		from, to    string
		first, last string
		days        int
		param       string
	}{
		{"2025-01-01", "2025-12-31", "2025-01-01", "2025-12-31", 365, ""},
		{"", "", "2025-05-18", "2026-05-17", 365, ""},
		{"2026-05-17", "2026-05-17", "2026-05-17", "2026-05-17", 1, ""},
		{"2025-02-30", "", "", "", 0, "from"},
		{"", "17.05.2026", "", "", 0, "to"},
		{"2026-01-02", "2026-01-01", "", "", 0, "from"},
		{"1990-01-01", "2026-01-01", "", "", 0, "from"},
	}
	for _, tc := range cases {
		p, err := ParsePeriod(tc.from, tc.to, now)
		var ie *InputError
		if tc.param != "" {
			if !errors.As(err, &ie) || ie.Param != tc.param {
				t.Errorf("%q..%q: %v, want an error on %s", tc.from, tc.to, err, tc.param)
			}
			continue
		}
		if err != nil || p.FirstDay() != tc.first || p.LastDay() != tc.last || p.Days() != tc.days {
			t.Errorf("%q..%q: %s..%s (%d days) %v", tc.from, tc.to, p.FirstDay(), p.LastDay(), p.Days(), err)
		}
	}
}

func TestKeepLatest(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var list []Move
	for _, h := range []int{5, 1, 9, 3, 7, 2} {
		list = keepLatest(list, Move{Record: fmt.Sprint(h), At: t0.Add(time.Duration(h) * time.Hour)}, 3)
	}
	var got []string
	for _, m := range list {
		got = append(got, m.Record)
	}
	if !slices.Equal(got, []string{"9", "7", "5"}) {
		t.Errorf("latest three, newest first: %v", got)
	}
}
