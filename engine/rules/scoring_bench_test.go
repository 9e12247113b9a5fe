package rules

import (
	"testing"
	"time"
)

// scoring20 is a realistic 20-condition lead scoring rule set.
func scoring20() *RuleSet {
	return &RuleSet{Key: "lead-score-20", Kind: KindScoring, Entity: "lead", Rules: []Rule{
		{Name: "big budget", When: "budget > 1000000", Points: 30},
		{Name: "mid budget", When: "budget > 100000 && budget <= 1000000", Points: 15},
		{Name: "small budget", When: "budget < 10000", Points: -10},
		{Name: "partner referral", When: `source == "partner"`, Points: 20},
		{Name: "event", When: `source == "event"`, Points: 10},
		{Name: "cold", When: `source == "cold-call"`, Points: -5},
		{Name: "enterprise", When: "employees >= 1000", Points: 25},
		{Name: "mid-market", When: "employees >= 100 && employees < 1000", Points: 10},
		{Name: "tiny", When: "employees < 10", Points: -10},
		{Name: "home market", When: `country == "DE"`, Points: 5},
		{Name: "dach", When: `country in ["AT", "CH"]`, Points: 3},
		{Name: "north", When: `region == "north"`, Points: 2},
		{Name: "high prior score", When: "score >= 50", Points: 10},
		{Name: "low prior score", When: "score < 10", Points: -5},
		{Name: "has email", When: `email != ""`, Points: 5},
		{Name: "has name", When: `name != ""`, Points: 1},
		{Name: "gold tier", When: `tier == "gold"`, Points: 15},
		{Name: "critical", When: `severity == "critical"`, Points: 5},
		{Name: "fresh", When: "createdAt > openedAt", Points: 3},
		{Name: "big and referred", When: `budget > 500000 && source == "partner" && country == "DE"`, Points: 10},
	}}
}

func benchLead() map[string]any {
	return map[string]any{
		"name": "Ann Lee", "email": "ann@example.com", "budget": 2_500_000.0, "source": "partner",
		"score": 55, "employees": 1200, "country": "DE", "region": "north", "severity": "low", "tier": "gold",
		"tags": []any{"vip"}, "createdAt": time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC),
		"openedAt": time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "ownerId": "", "fullName": "", "discount": 0.0,
	}
}

// handScore20 is scoring20 written by hand over the same record map, the
// baseline the engine is compared with.
func handScore20(r map[string]any, fired []int) (float64, []int) {
	budget := r["budget"].(float64)
	source := r["source"].(string)
	employees := r["employees"].(int)
	country := r["country"].(string)
	score := r["score"].(int)
	createdAt := r["createdAt"].(time.Time)
	openedAt := r["openedAt"].(time.Time)
	conds := [20]bool{
		budget > 1000000,
		budget > 100000 && budget <= 1000000,
		budget < 10000,
		source == "partner",
		source == "event",
		source == "cold-call",
		employees >= 1000,
		employees >= 100 && employees < 1000,
		employees < 10,
		country == "DE",
		country == "AT" || country == "CH",
		r["region"].(string) == "north",
		score >= 50,
		score < 10,
		r["email"].(string) != "",
		r["name"].(string) != "",
		r["tier"].(string) == "gold",
		r["severity"].(string) == "critical",
		createdAt.After(openedAt),
		budget > 500000 && source == "partner" && country == "DE",
	}
	points := [20]float64{30, 15, -10, 20, 10, -5, 25, 10, -10, 5, 3, 2, 10, -5, 5, 1, 15, 5, 3, 10}
	total := 0.0
	fired = fired[:0]
	for i, ok := range conds {
		if ok {
			total += points[i]
			fired = append(fired, i)
		}
	}
	return total, fired
}

func TestScoring20MatchesHandWritten(t *testing.T) {
	c := mustCompile(t, scoring20())
	if c.batch == nil || !c.batch.Native() {
		t.Fatal("the 20 simple conditions should run as one native batch")
	}
	s := c.NewSession()
	for _, mut := range []func(map[string]any){
		func(map[string]any) {},
		func(r map[string]any) { r["budget"] = 500.0; r["source"] = "cold-call"; r["employees"] = 5 },
		func(r map[string]any) { r["country"] = "CH"; r["score"] = 3; r["email"] = ""; r["budget"] = 200000.0 },
	} {
		rec := benchLead()
		if err := c.Env().Coerce(rec); err != nil {
			t.Fatal(err)
		}
		mut(rec)
		got, gotFired, err := s.Score(rec, now)
		if err != nil {
			t.Fatal(err)
		}
		gotCopy := append([]int(nil), gotFired...)
		want, wantFired := handScore20(rec, nil)
		if got != want || len(gotCopy) != len(wantFired) {
			t.Fatalf("engine %v %v, hand-written %v %v", got, gotCopy, want, wantFired)
		}
		for i := range wantFired {
			if gotCopy[i] != wantFired[i] {
				t.Fatalf("fired %v, want %v", gotCopy, wantFired)
			}
		}
	}
	rec := benchLead()
	if allocs := testing.AllocsPerRun(100, func() { _, _, _ = s.Score(rec, now) }); allocs != 0 {
		t.Fatalf("%v allocations per scoring, want 0", allocs)
	}
}

func BenchmarkScoring20(b *testing.B) {
	c := mustCompile(b, scoring20())
	s := c.NewSession()
	rec := benchLead()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.Score(rec, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScoring20HandWritten(b *testing.B) {
	rec := benchLead()
	fired := make([]int, 0, 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, fired = handScore20(rec, fired)
	}
}

// BenchmarkScoring20Ratio alternates engine and hand-written scoring in
// small blocks so that load from other processes hits both alike, and
// reports the engine/hand-written time ratio.
func BenchmarkScoring20Ratio(b *testing.B) {
	c := mustCompile(b, scoring20())
	s := c.NewSession()
	rec := benchLead()
	fired := make([]int, 0, 20)
	const block = 256
	var engine, hand time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		t0 := time.Now()
		for i := 0; i < block; i++ {
			if _, _, err := s.Score(rec, now); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for i := 0; i < block; i++ {
			_, fired = handScore20(rec, fired)
		}
		t2 := time.Now()
		engine += t1.Sub(t0)
		hand += t2.Sub(t1)
	}
	if hand > 0 {
		b.ReportMetric(float64(engine)/float64(hand), "ratio")
	}
}
