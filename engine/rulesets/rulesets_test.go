package rulesets_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rules"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage/ferret/ferrettest"
)

var db *mongo.Database

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var stop func()
	var err error
	if db, _, stop, err = ferrettest.Start("rulesets_test"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

// builtins serves the entities Rapport ships, the schemas a fresh installation has.
type builtins map[string]schema.Entity

func (b builtins) Schema(_ context.Context, name string) (records.SchemaInfo, error) {
	e, ok := b[name]
	if !ok {
		return records.SchemaInfo{}, fmt.Errorf("entity %q: %w", name, records.ErrNotFound)
	}
	return records.SchemaInfo{Entity: e, Builtin: true}, nil
}

func newStore(t testing.TB) *rulesets.Store {
	t.Helper()
	list, err := schema.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	b := builtins{}
	for _, e := range list {
		b[e.Name] = e
	}
	s := rulesets.New(db, rulesets.Options{Entities: b})
	if err := s.Install(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func scoring(key string, points float64, expectScore float64) *rules.RuleSet {
	return &rules.RuleSet{
		Key: key, Kind: rules.KindScoring, Entity: "lead",
		Rules: []rules.Rule{
			{Name: "big budget", When: "budget.amount > 1000000", Points: points},
			{Name: "partner", When: `source == "partner"`, Points: 20},
		},
		Tests: []rules.TestCase{{
			Name:   "big partner lead",
			Input:  map[string]any{"budget": map[string]any{"amount": 2000000, "currency": "EUR"}, "source": "partner"},
			Expect: map[string]any{"score": expectScore},
		}},
	}
}

func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

	info, err := s.Create(ctx, scoring("life", 30, 50), "ann")
	if err != nil {
		t.Fatal(err)
	}
	if info.Revision != 1 || info.LatestVersion != 0 || info.DraftHash == "" {
		t.Fatalf("created: %+v", info)
	}
	if _, err := s.Create(ctx, scoring("life", 30, 50), "ann"); !errors.Is(err, rulesets.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	v1, _, err := s.Publish(ctx, "life", "ann", "first", 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version.Version != 1 || v1.Hash != info.DraftHash || v1.PublishedBy != "ann" {
		t.Fatalf("v1: %+v", v1.Version)
	}
	// Warm the cache with version 1: a later publish must still be seen as the latest at once.
	if _, ver, err := s.Published(ctx, "life", 0); err != nil || ver.Version != 1 {
		t.Fatalf("latest after the first publish: %v %v", ver, err)
	}
	if _, _, err := s.Publish(ctx, "life", "ann", "", 0, now); !errors.Is(err, rulesets.ErrUnchanged) {
		t.Fatalf("republish: %v", err)
	}
	// A stale revision is refused and changes nothing.
	if _, err := s.Update(ctx, "life", scoring("life", 40, 60), "bob", 7); !errors.Is(err, rulesets.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	upd, err := s.Update(ctx, "life", scoring("life", 40, 60), "bob", info.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Revision != 2 || upd.Published || upd.LatestVersion != 1 {
		t.Fatalf("updated: %+v", upd)
	}
	v2, _, err := s.Publish(ctx, "life", "bob", "", upd.Revision, now)
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 is unchanged by later edits and publishes.
	old, err := s.GetVersion(ctx, "life", 1)
	if err != nil {
		t.Fatal(err)
	}
	if old.RuleSet.Rules[0].Points != 30 || old.Hash != v1.Hash {
		t.Fatalf("version 1 changed: %+v", old)
	}
	changes, err := s.Diff(ctx, "life", "1", "2")
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 {
		t.Fatal("no differences between versions 1 and 2")
	}
	c, ver, err := s.Published(ctx, "life", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ver.Version != v2.Version.Version {
		t.Fatalf("latest is %d, want %d", ver.Version, v2.Version.Version)
	}
	o, err := c.Evaluate(map[string]any{"budget": map[string]any{"amount": 5000000.0, "currency": "EUR"}, "source": "web"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Score != 40 {
		t.Fatalf("score %v, want 40", o.Score)
	}
	got, err := s.Get(ctx, "life")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Versions) != 2 || got.Versions[0].Version != 2 || !got.Published {
		t.Fatalf("versions: %+v", got.Versions)
	}
	if _, err := s.Archive(ctx, "life", "ann"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"update":  func() error { _, err := s.Update(ctx, "life", scoring("life", 1, 21), "ann", 0); return err }(),
		"publish": func() error { _, _, err := s.Publish(ctx, "life", "ann", "", 0, now); return err }(),
		"archive": func() error { _, err := s.Archive(ctx, "life", "ann"); return err }(),
		"evaluate": func() error {
			_, _, err := s.Published(ctx, "life", 1)
			return err
		}(),
	} {
		if !errors.Is(err, rulesets.ErrArchived) {
			t.Errorf("%s of an archived rule set: %v", name, err)
		}
	}
}

func TestStoreRefusals(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if _, err := s.Create(ctx, scoring("refuse", 30, 50), "ann"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		do       func() error
		wantPath string
		wantErr  error
	}{
		{"unknown field", func() error {
			rs := scoring("refuse-x", 30, 50)
			rs.Rules[1].When = "sauce == 1"
			_, err := s.Create(ctx, rs, "ann")
			return err
		}, "rules[1].when", nil},
		{"unknown entity", func() error {
			rs := scoring("refuse-y", 30, 50)
			rs.Entity = "spaceship"
			_, err := s.Create(ctx, rs, "ann")
			return err
		}, "entity", nil},
		{"bad key", func() error {
			_, err := s.Create(ctx, scoring("Bad Key", 30, 50), "ann")
			return err
		}, "key", nil},
		{"kind change", func() error {
			rs := scoring("refuse", 30, 50)
			rs.Kind = rules.KindValidation
			_, err := s.Update(ctx, "refuse", rs, "ann", 0)
			return err
		}, "kind", nil},
		{"failing test", func() error {
			if _, err := s.Update(ctx, "refuse", scoring("refuse", 30, 99), "ann", 0); err != nil {
				return err
			}
			_, _, err := s.Publish(ctx, "refuse", "ann", "", 0, now)
			return err
		}, "", rules.ErrTestsFailed},
		{"no such version", func() error { _, err := s.GetVersion(ctx, "refuse", 3); return err }, "", rulesets.ErrNotFound},
		{"nothing published", func() error { _, _, err := s.Published(ctx, "refuse", 0); return err }, "", rulesets.ErrNotPublished},
		{"no such rule set", func() error { _, err := s.Get(ctx, "missing"); return err }, "", rulesets.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				return
			}
			var re *rules.Error
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *rules.Error", err)
			}
			for _, p := range re.Problems {
				if p.Path == tt.wantPath {
					return
				}
			}
			t.Fatalf("no problem at %q in %v", tt.wantPath, re.Problems)
		})
	}
}

func TestStoreCalendars(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	spec := calendar.Spec{Name: "support", TimeZone: "Europe/Berlin",
		Hours:    map[string][]calendar.Interval{"mon": {{Start: "09:00", End: "17:00"}}, "tue": {{Start: "09:00", End: "17:00"}}},
		Holidays: []string{"2026-12-25"}}
	ci, err := s.CreateCalendar(ctx, spec, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if ci.Revision != 1 || len(ci.Hours["mon"]) != 1 {
		t.Fatalf("created: %+v", ci)
	}
	bad := spec
	bad.Name = "broken"
	bad.TimeZone = "Mars/Olympus"
	var ce *rulesets.CalendarError
	if _, err := s.CreateCalendar(ctx, bad, "ann"); !errors.As(err, &ce) {
		t.Fatalf("invalid calendar: %v", err)
	}
	sla := &rules.RuleSet{Key: "complaint-sla", Kind: rules.KindSLA, Entity: "complaint",
		SLA: &rules.SLAPolicy{Calendar: "support", Targets: []rules.SLATarget{
			{Name: "critical", When: `severity == "critical"`, Response: "4h"}}}}
	if _, err := s.Create(ctx, sla, "ann"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCalendar(ctx, "support"); !errors.Is(err, rulesets.ErrInUse) {
		t.Fatalf("delete a used calendar: %v", err)
	}
	// Monday 16:00 Berlin + 4 business hours = Tuesday 12:00 Berlin.
	c, _, err := s.CompileDraft(ctx, "complaint-sla")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	o, err := c.Evaluate(map[string]any{"severity": "critical"}, time.Date(2026, 3, 2, 16, 0, 0, 0, berlin))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 3, 12, 0, 0, 0, berlin); !o.SLA.ResponseDue.Equal(want) {
		t.Fatalf("response due %v, want %v", o.SLA.ResponseDue, want)
	}
	spec.Hours["mon"] = []calendar.Interval{{Start: "08:00", End: "18:00"}}
	if _, err := s.UpdateCalendar(ctx, "support", spec, "bob", 5); !errors.Is(err, rulesets.ErrConflict) {
		t.Fatalf("stale calendar update: %v", err)
	}
	up, err := s.UpdateCalendar(ctx, "support", spec, "bob", ci.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if up.Revision != 2 || up.Hours["mon"][0].Start != "08:00" {
		t.Fatalf("updated: %+v", up)
	}
	if err := s.DeleteCalendar(ctx, "nowhere"); !errors.Is(err, rulesets.ErrNotFound) {
		t.Fatalf("delete a missing calendar: %v", err)
	}
}

func TestCompareWithPublished(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	if _, err := s.Create(ctx, scoring("whatif", 30, 50), "ann"); err != nil {
		t.Fatal(err)
	}
	recs := []map[string]any{
		{"id": "a", "budget": map[string]any{"amount": 5000000.0, "currency": "EUR"}, "source": "partner"},
		{"id": "b", "budget": map[string]any{"amount": 10.0, "currency": "EUR"}, "source": "call"},
	}
	draft, _, err := s.CompileDraft(ctx, "whatif")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		published func() *rules.Compiled
		version   int
		changed   int
	}{
		{"nothing published", func() *rules.Compiled { return nil }, 0, 0},
		{"against a different version", func() *rules.Compiled {
			other := scoring("whatif", 10, 30)
			c, err := s.Compile(ctx, other)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := rulesets.CompareWithPublished(draft, tt.published(), tt.version, recs, now)
			if w.Total != 2 || w.Changed != tt.changed || w.PublishedVersion != tt.version {
				t.Fatalf("report %+v", w)
			}
			if len(w.RecordIDs) != 2 || w.RecordIDs[0] != "a" || w.RecordIDs[1] != "b" {
				t.Fatalf("record ids %v", w.RecordIDs)
			}
			if got := w.Records[0].Draft["score"]; got != 50.0 {
				t.Fatalf("draft score of a = %v", got)
			}
			if len(w.Summary) == 0 {
				t.Fatal("no summary")
			}
		})
	}
}

// BenchmarkPublishedEvaluate measures what the evaluate endpoint does per call: find the latest
// published version (two reads), reuse its compilation and score one lead.
func BenchmarkPublishedEvaluate(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	key := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1_000_000)
	if _, err := s.Create(ctx, scoring(key, 30, 50), "ann"); err != nil {
		b.Fatal(err)
	}
	if _, _, err := s.Publish(ctx, key, "ann", "", 0, now); err != nil {
		b.Fatal(err)
	}
	rec := map[string]any{"budget": map[string]any{"amount": 5000000.0, "currency": "EUR"}, "source": "partner"}
	b.ReportAllocs()
	for b.Loop() {
		c, _, err := s.Published(ctx, key, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Evaluate(rec, now); err != nil {
			b.Fatal(err)
		}
	}
}
