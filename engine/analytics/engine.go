package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/engine/storage"
)

// Options configure an Engine.
type Options struct {
	// Records is the record store: customers' schemas, and the write path segments are stored through.
	Records *records.Store
	// Rulesets holds the segment decision tables.
	Rulesets *rulesets.Store
	// Backend is the server behind the database; detected once when nil (tests force one path with it).
	// MongoDB runs aggregation pipelines with every accumulator; the embedded FerretDB v1 has only $sum
	// and $count, computes only the first accumulator of a $group, holds a $group's documents in memory
	// and scans every collection in Go, so there the streaming Go fold is both possible and cheaper.
	Backend *storage.Backend
	// Now is the clock for default periods; time.Now by default.
	Now func() time.Time
	// Logger receives warnings of background runs.
	Logger *slog.Logger
}

// Engine computes Rapport's analytics over the records in MongoDB. It is safe for concurrent use.
type Engine struct {
	db   *mongo.Database
	opts Options
}

// flushHistory waits for the history entries of records just created, which the records store writes
// after the create answered, before the history collection is read.
func (e *Engine) flushHistory(ctx context.Context) error {
	if e.opts.Records == nil {
		return nil
	}
	return e.opts.Records.FlushHistory(ctx)
}

// New returns an engine over db, detecting the backend once unless Options.Backend names it.
func New(ctx context.Context, db *mongo.Database, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Backend == nil {
		b, err := storage.Detect(ctx, db)
		if err != nil {
			return nil, err
		}
		opts.Backend = b
	}
	return &Engine{db: db, opts: opts}, nil
}

// Backend is the backend the engine computes for.
func (e *Engine) Backend() *storage.Backend { return e.opts.Backend }

// Group computes a grouping: with an aggregation pipeline on MongoDB, with the streaming Go fold on
// FerretDB. This is the one place the choice is made.
func (e *Engine) Group(ctx context.Context, s Spec) ([]Row, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	if !e.opts.Backend.Embedded() {
		return runPipeline(ctx, e.db, s)
	}
	return runStreaming(ctx, e.db, s)
}

// Install ships the default segment rule sets (published, unless an analyst already made them) and the
// index the history-based reports read with on MongoDB. Several servers may call it at once.
func (e *Engine) Install(ctx context.Context) error {
	if err := storage.EnsureIndexes(ctx, e.db.Collection(records.HistoryCollection), mongo.IndexModel{
		Keys:    bson.D{{Key: "entity", Value: 1}, {Key: "changes.field", Value: 1}, {Key: "at", Value: 1}},
		Options: options.Index().SetName("entity_changes.field_at"),
	}); err != nil {
		return err
	}
	if err := storage.EnsureIndexes(ctx, e.db.Collection(ElementStatsCollection), mongo.IndexModel{
		Keys: bson.D{{Key: "process", Value: 1}, {Key: "version", Value: 1}},
	}); err != nil {
		return err
	}
	return e.installRules(ctx)
}

// Viewer says which records the caller may read. A nil Viewer reads everything (scheduled runs).
type Viewer interface {
	// CanRead reports whether the caller may read some records of the entity.
	CanRead(entity string) bool
	// Scope is the filter restricting the entity's records to those the caller may read; nil for all.
	Scope(entity string) bson.D
	// Hidden reports whether a field of the entity is hidden from the caller.
	Hidden(entity, field string) bool
}

// ForbiddenError refuses a report that would read records or fields the caller may not see.
type ForbiddenError struct {
	Entity string
	// Field is the hidden field the report needs; empty when the entity cannot be read at all.
	Field string
}

// Error names what the caller lacks.
func (e *ForbiddenError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("you may not read %s records", e.Entity)
	}
	return fmt.Sprintf("the report needs the field %s of %s records, which is hidden from you", e.Field, e.Entity)
}

// InputError is a bad parameter of a report, named as the API names it.
type InputError struct {
	Param   string
	Message string
}

// Error names the parameter and the reason.
func (e *InputError) Error() string { return e.Param + ": " + e.Message }

// access checks that v may read entity and the fields, and returns the scope filter.
func access(v Viewer, entity string, fields ...string) (bson.D, error) {
	if v == nil {
		return nil, nil
	}
	if !v.CanRead(entity) {
		return nil, &ForbiddenError{Entity: entity}
	}
	for _, f := range fields {
		if v.Hidden(entity, f) {
			return nil, &ForbiddenError{Entity: entity, Field: f}
		}
	}
	return v.Scope(entity), nil
}

// live is the filter of an entity's live records within scope, with extra conditions.
func live(scope bson.D, conds ...bson.E) bson.D {
	f := bson.D{{Key: "deletedAt", Value: nil}}
	f = append(f, conds...)
	if len(scope) > 0 {
		f = append(f, bson.E{Key: "$and", Value: bson.A{scope}})
	}
	return f
}

// Period is a span of whole days: From is the first day's midnight (UTC), To the midnight after the last
// day, so a date D is in the period when From <= D < To.
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

const day = 24 * time.Hour

// ParsePeriod reads from and to as dates (YYYY-MM-DD), both days included. Without to the period ends
// today; without from it is the 365 days ending with to.
func ParsePeriod(from, to string, now time.Time) (Period, error) {
	var p Period
	if to == "" {
		n := now.UTC()
		p.To = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC).Add(day)
	} else {
		t, err := time.Parse(time.DateOnly, to)
		if err != nil {
			return p, &InputError{Param: "to", Message: "must be a date like 2025-12-31"}
		}
		p.To = t.Add(day)
	}
	if from == "" {
		p.From = p.To.AddDate(0, 0, -365)
	} else {
		f, err := time.Parse(time.DateOnly, from)
		if err != nil {
			return p, &InputError{Param: "from", Message: "must be a date like 2025-01-01"}
		}
		p.From = f
	}
	if !p.From.Before(p.To) {
		return p, &InputError{Param: "from", Message: "must not be after to"}
	}
	if p.To.Sub(p.From) > 20*366*day {
		return p, &InputError{Param: "from", Message: "the period may span at most 20 years"}
	}
	return p, nil
}

// Days is the number of days in the period.
func (p Period) Days() int { return int(p.To.Sub(p.From) / day) }

// Years is the period's length in years of 365 days.
func (p Period) Years() float64 { return float64(p.Days()) / 365 }

// FirstDay and LastDay are the period's first and last dates as YYYY-MM-DD.
func (p Period) FirstDay() string { return p.From.Format(time.DateOnly) }

// LastDay is the period's last date.
func (p Period) LastDay() string { return p.To.Add(-day).Format(time.DateOnly) }

// MarshalJSON writes the period as its first and last days.
func (p Period) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"from":%q,"to":%q,"days":%d}`, p.FirstDay(), p.LastDay(), p.Days()), nil
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (p *Period) UnmarshalJSON(b []byte) error {
	var d struct{ From, To string }
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("period: %w", err)
	}
	q, err := ParsePeriod(d.From, d.To, time.Now())
	if err != nil {
		return fmt.Errorf("period: %w", err)
	}
	*p = q
	return nil
}

// within is the filter of a datetime field inside the period.
func (p Period) within(field string) bson.E {
	return bson.E{Key: field, Value: bson.D{{Key: "$gte", Value: p.From}, {Key: "$lt", Value: p.To}}}
}

// round2 rounds money and rates for display (two decimals).
func round2(x float64) float64 { return math.Round(x*100) / 100 }

// ratio is a/b, 0 when b is 0, rounded to four decimals.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*10000) / 10000
}
