package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/otel/propagation"

	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/workflows/messages"
	"github.com/rapportcrm/rapport/workflows/process"
)

// OutboxCollection holds the work of record changes not yet delivered to Temporal: one document per
// change, deleted once delivered. It stays as small as the backlog.
const OutboxCollection = "process_outbox"

// Delivery timing: how long one start or message may take, how long a claimed entry is held before
// another loop may take it over, and the retry backoff.
const (
	itemTimeout  = 10 * time.Second
	leaseFor     = time.Minute
	firstBackoff = time.Second
	maxBackoff   = time.Minute
)

// entry is one outbox document. Work is stored as JSON, the form Temporal receives it in, so record
// values survive unchanged whatever BSON would make of them.
type entry struct {
	ID        string    `bson:"_id"`
	Entity    string    `bson:"entity"`
	On        string    `bson:"on"`
	RecordID  string    `bson:"recordId"`
	Work      string    `bson:"work"`
	Done      []int     `bson:"done,omitempty"`
	Attempts  int       `bson:"attempts"`
	NextAt    time.Time `bson:"nextAt,omitempty"`
	CreatedAt time.Time `bson:"createdAt"`
	LastError string    `bson:"lastError,omitempty"`
	// FailedAt marks work that can never be delivered (the process or its start event is gone); it is
	// kept for operators and no longer retried.
	FailedAt time.Time `bson:"failedAt,omitempty"`
	// Trace is the trace context of the write (W3C headers), so the starts join the request's trace.
	Trace map[string]string `bson:"trace,omitempty"`
}

// Dispatcher is the records store's change hook (records.Options.OnChange): it matches a change,
// writes its work to the outbox before the write returns, and delivers it from a background loop
// (Run) with retries, so a record written while Temporal is unreachable still starts its processes
// once Temporal is back.
type Dispatcher struct {
	matcher   *Matcher
	starter   *process.Starter
	publisher *messages.Publisher
	coll      *mongo.Collection
	log       *slog.Logger
	now       func() time.Time
	kick      chan entry
	// Poll is how often the loop looks for entries due for a retry; default one second.
	Poll time.Duration
	// Propagator, when set, stores the writer's trace context with each entry and continues it when the
	// entry is delivered.
	Propagator propagation.TextMapPropagator

	mu      sync.Mutex
	running bool
}

// NewDispatcher returns a Dispatcher writing its outbox in db.
func NewDispatcher(db *mongo.Database, m *Matcher, starter *process.Starter, publisher *messages.Publisher, log *slog.Logger) *Dispatcher {
	return &Dispatcher{matcher: m, starter: starter, publisher: publisher, coll: db.Collection(OutboxCollection),
		log: discardLogger(log), now: time.Now, kick: make(chan entry, 1024), Poll: time.Second}
}

// EnsureIndexes creates the index of the retry scan (MongoDB uses it; FerretDB scans the small outbox).
func (d *Dispatcher) EnsureIndexes(ctx context.Context) error {
	return storage.EnsureIndexes(ctx, d.coll, mongo.IndexModel{Keys: bson.D{{Key: "nextAt", Value: 1}}, Options: options.Index().SetName("due")})
}

// RecordChanged writes the work a stored change causes to the outbox and asks the loop to deliver it.
// A change that causes nothing writes nothing. Writing the same change twice (the same entity, record
// and version) keeps the first entry. Once the entry is stored it reports the IDs of the instances
// the entry starts to the writer's collector (records.EffectsOf): they are known before Temporal is
// asked, since a record start's ID is derived from the change (process.InstanceID), so the writer can
// name them while the loop is still delivering (a start refused for good, which the outbox logs,
// leaves a named ID that never exists). changed, for an update, names the fields it changed (see
// Matcher.Match).
func (d *Dispatcher) RecordChanged(ctx context.Context, entity, on string, rec map[string]any, changed []string) error {
	w, matchErr := d.matcher.Match(ctx, entity, on, rec, changed)
	if len(w.Starts)+len(w.Messages) == 0 {
		return matchErr
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return errors.Join(matchErr, fmt.Errorf("encode the work of %s %v: %w", entity, rec["id"], err))
	}
	recordID, _ := rec["id"].(string)
	now := d.now().UTC().Truncate(time.Millisecond)
	e := entry{ID: fmt.Sprintf("%s/%s@%v", entity, recordID, rec["version"]), Entity: entity, On: on, RecordID: recordID,
		Work: string(raw), NextAt: now, CreatedAt: now}
	if d.Propagator != nil {
		if c := (propagation.MapCarrier{}); d.inject(ctx, c) {
			e.Trace = c
		}
	}
	// The record is already stored: try hard (and past a cancelled request) to store its work too.
	wctx := context.WithoutCancel(ctx)
	for attempt := 0; ; attempt++ {
		_, err = d.coll.InsertOne(wctx, e)
		if err == nil || mongo.IsDuplicateKeyError(err) || attempt == 2 {
			break
		}
		time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond)
	}
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return errors.Join(matchErr, fmt.Errorf("write the outbox entry of %s: %w", e.ID, err))
	}
	records.EffectsOf(ctx).AddStarted(w.InstanceIDs()...)
	select {
	case d.kick <- e:
	default: // the loop is busy; the retry scan finds the entry
	}
	return matchErr
}

// Run delivers outbox entries until ctx ends: those just written at once, the rest when due.
func (d *Dispatcher) Run(ctx context.Context) {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return
	}
	d.running = true
	d.mu.Unlock()
	tick := time.NewTicker(d.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-d.kick:
			d.deliver(ctx, e) // as written; the claim fails if another loop got it first
		case <-tick.C:
			d.deliverDue(ctx)
		}
	}
}

// Pending counts the outbox entries still to be delivered (failed ones excluded).
func (d *Dispatcher) Pending(ctx context.Context) (int64, error) {
	n, err := d.coll.CountDocuments(ctx, bson.D{{Key: "failedAt", Value: bson.D{{Key: "$exists", Value: false}}}})
	if err != nil {
		return 0, fmt.Errorf("count outbox entries: %w", err)
	}
	return n, nil
}

func (d *Dispatcher) deliverDue(ctx context.Context) {
	cur, err := d.coll.Find(ctx, bson.D{{Key: "nextAt", Value: bson.D{{Key: "$lte", Value: d.now().UTC()}}}},
		options.Find().SetSort(bson.D{{Key: "nextAt", Value: 1}}).SetLimit(100))
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("scan the outbox", "error", err)
		}
		return
	}
	var due []entry
	if err := cur.All(ctx, &due); err != nil {
		if ctx.Err() == nil {
			d.log.Warn("scan the outbox", "error", err)
		}
		return
	}
	for _, e := range due {
		if ctx.Err() != nil {
			return
		}
		d.deliver(ctx, e)
	}
}

// deliver claims an entry (moving its next attempt past the lease), delivers what is not done yet and
// deletes it, or records the failure and when to try again.
func (d *Dispatcher) deliver(ctx context.Context, e entry) {
	now := d.now().UTC().Truncate(time.Millisecond)
	if !e.FailedAt.IsZero() || e.NextAt.IsZero() || e.NextAt.After(now) {
		return
	}
	res, err := d.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}, {Key: "nextAt", Value: e.NextAt}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "nextAt", Value: now.Add(leaseFor)}}}})
	if err != nil || res.MatchedCount == 0 {
		return // deleted, or claimed by another loop
	}
	var w Work
	if err := json.Unmarshal([]byte(e.Work), &w); err != nil {
		d.fail(ctx, e, e.Done, fmt.Errorf("decode the outbox entry: %w", err), true)
		return
	}
	if d.Propagator != nil && len(e.Trace) > 0 {
		ctx = d.Propagator.Extract(ctx, propagation.MapCarrier(e.Trace))
	}
	done := slices.Clone(e.Done)
	var transient, permanent []error
	for i := range len(w.Starts) + len(w.Messages) {
		if slices.Contains(done, i) {
			continue
		}
		err := d.deliverItem(ctx, w, i)
		switch {
		case err == nil:
			done = append(done, i)
		case isPermanent(err):
			permanent = append(permanent, err)
			done = append(done, i)
		default:
			transient = append(transient, err)
		}
	}
	switch {
	case len(transient) > 0:
		d.fail(ctx, e, done, errors.Join(append(transient, permanent...)...), false)
	case len(permanent) > 0:
		d.fail(ctx, e, done, errors.Join(permanent...), true)
	default:
		if _, err := d.coll.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: e.ID}}); err != nil {
			d.log.Warn("delete a delivered outbox entry", "id", e.ID, "error", err)
		}
	}
}

// inject writes ctx's trace context into c and tells whether there was one.
func (d *Dispatcher) inject(ctx context.Context, c propagation.MapCarrier) bool {
	d.Propagator.Inject(ctx, c)
	return len(c) > 0
}

func (d *Dispatcher) deliverItem(ctx context.Context, w Work, i int) error {
	ctx, cancel := context.WithTimeout(ctx, itemTimeout)
	defer cancel()
	if i < len(w.Starts) {
		st, err := d.starter.Start(ctx, w.Starts[i])
		if err == nil {
			d.log.Info("record started a process", "process", w.Starts[i].Ref.Key, "version", st.Version,
				"entity", w.Starts[i].Entity, "record", w.Starts[i].RecordID, "instance", st.ID, "existing", st.Existing)
		}
		return err
	}
	_, err := d.publisher.Deliver(ctx, w.Messages[i-len(w.Starts)])
	return err
}

// isPermanent tells errors no retry can fix: the process version or its start event is gone, or the
// record does not fit the start variables.
func isPermanent(err error) bool {
	var ve *process.VariablesError
	return errors.Is(err, definitions.ErrNotFound) || errors.Is(err, process.ErrNoSuchStart) || errors.As(err, &ve)
}

// fail records a failed attempt: with backoff for another try, or for good.
func (d *Dispatcher) fail(ctx context.Context, e entry, done []int, cause error, permanent bool) {
	ctx = context.WithoutCancel(ctx)
	attempts := e.Attempts + 1
	set := bson.D{{Key: "attempts", Value: attempts}, {Key: "lastError", Value: cause.Error()}, {Key: "done", Value: done}}
	update := bson.D{}
	if permanent {
		set = append(set, bson.E{Key: "failedAt", Value: d.now().UTC()})
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "nextAt", Value: ""}}})
		d.log.Error("record change cannot start its processes", "id", e.ID, "error", cause)
	} else {
		set = append(set, bson.E{Key: "nextAt", Value: d.now().UTC().Add(backoff(attempts))})
		d.log.Warn("record change not delivered yet; will retry", "id", e.ID, "attempts", attempts, "error", cause)
	}
	update = append(bson.D{{Key: "$set", Value: set}}, update...)
	if _, err := d.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.ID}}, update); err != nil {
		d.log.Warn("record an outbox failure", "id", e.ID, "error", err)
	}
}

// backoff is the wait before attempt n+1: one second doubling up to a minute.
func backoff(attempts int) time.Duration {
	b := firstBackoff
	for i := 1; i < attempts && b < maxBackoff; i++ {
		b *= 2
	}
	return min(b, maxBackoff)
}
