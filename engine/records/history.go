package records

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

// Op names the kind of change a history entry records.
type Op string

// The operations history records.
const (
	OpCreate  Op = "create"
	OpUpdate  Op = "update"
	OpDelete  Op = "delete"
	OpRestore Op = "restore"
)

// FieldChange is one field's value before and after a change; a missing Before or After means the field was
// absent.
type FieldChange struct {
	Field  string `bson:"field" json:"field"`
	Before any    `bson:"before,omitempty" json:"before,omitempty"`
	After  any    `bson:"after,omitempty" json:"after,omitempty"`
}

// RecordHistoryEntry is one change of a record: who, when, through what, and the diff.
type RecordHistoryEntry struct {
	ID       string        `bson:"_id" json:"id"`
	Entity   string        `bson:"entity" json:"entity"`
	RecordID string        `bson:"recordId" json:"recordId"`
	Version  int64         `bson:"seq" json:"version"`
	Op       Op            `bson:"op" json:"op"`
	At       time.Time     `bson:"at" json:"at"`
	Actor    ChangedBy     `bson:"actor" json:"actor"`
	Changes  []FieldChange `bson:"changes" json:"changes"`
}

func sortChanges(cs []FieldChange) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Field < cs[j].Field })
}

// writeHistoryChanges stores one entry keyed by record and version, so a retried write cannot record a
// change twice.
func (s *Store) writeHistoryChanges(ctx context.Context, entity, id string, version int64, op Op, a ChangedBy, changes []FieldChange, at time.Time) error {
	if a.Via == "" {
		a.Via = "api"
	}
	if changes == nil {
		changes = []FieldChange{}
	}
	h := RecordHistoryEntry{ID: historyID(entity, id, version), Entity: entity, RecordID: id, Version: version,
		Op: op, At: at, Actor: a, Changes: changes}
	if _, err := s.db.Collection(HistoryCollection).InsertOne(ctx, h); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("write history of %s %s: %w", entity, id, err)
	}
	return nil
}

func historyID(entity, id string, version int64) string {
	return fmt.Sprintf("%s/%s@%d", entity, id, version)
}

// RecordHistoryPage is a page of a record's history, newest first.
type RecordHistoryPage struct {
	Items []RecordHistoryEntry `json:"items"`
	// Next is the version to pass as Before for the next page; 0 when there is none.
	Next int64 `json:"next,omitempty"`
}

// History pages through a record's changes newest first: before, when positive, returns only versions
// older than it. The record may be deleted. Entries are read by _id (entity/id@version), one point read
// each, so a page costs the same however much history the store holds. The entry of a create is written
// after the create has answered (historyWriter); until then — and for a record whose entry was lost with
// its server — it is rebuilt from the record and the later entries' before-values.
func (s *Store) History(ctx context.Context, entity, id string, before int64, limit int) (RecordHistoryPage, error) {
	rec, err := s.get(ctx, entity, id, true)
	if err != nil {
		return RecordHistoryPage{}, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	top := versionOf(rec)
	if before > 0 && before-1 < top {
		top = before - 1
	}
	page := RecordHistoryPage{Items: []RecordHistoryEntry{}}
	if top < 1 {
		return page, nil
	}
	lo := max(1, top-int64(limit))
	entries, err := s.historyEntries(ctx, entity, id, lo, top)
	if err != nil {
		return RecordHistoryPage{}, err
	}
	for ver := top; ver >= lo; ver-- {
		e, ok := entries[ver]
		if !ok && ver == 1 {
			if e, err = s.createEntry(ctx, entity, rec, entries); err != nil {
				return RecordHistoryPage{}, err
			}
			ok = true
		}
		if ok {
			page.Items = append(page.Items, e)
		}
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.Next = page.Items[limit-1].Version
	}
	return page, nil
}

// historyEntries reads the stored entries of versions lo..hi of a record by _id.
func (s *Store) historyEntries(ctx context.Context, entity, id string, lo, hi int64) (map[int64]RecordHistoryEntry, error) {
	out := map[int64]RecordHistoryEntry{}
	const chunk = 200
	for from := lo; from <= hi; from += chunk {
		var ids []string
		for v := from; v <= min(hi, from+chunk-1); v++ {
			ids = append(ids, historyID(entity, id, v))
		}
		err := s.be().FindIDs(ctx, s.db.Collection(HistoryCollection), ids, nil, func(raw bson.Raw) error {
			var e RecordHistoryEntry
			if err := bson.Unmarshal(raw, &e); err != nil {
				return err
			}
			for j := range e.Changes {
				c := &e.Changes[j]
				c.Before, c.After = storage.Plain(c.Before), storage.Plain(c.After)
			}
			out[e.Version] = e
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read history of %s %s: %w", entity, id, err)
		}
	}
	return out, nil
}

// createEntry rebuilds the entry of a record's creation: the record as it is now with every later
// change undone (newest first, each field set back to its before-value), by whom and through what it
// was created.
func (s *Store) createEntry(ctx context.Context, entity string, rec Record, have map[int64]RecordHistoryEntry) (RecordHistoryEntry, error) {
	id := fmt.Sprint(rec[schema.SysID])
	latest := versionOf(rec)
	later := have
	if latest >= 2 {
		var err error
		if later, err = s.historyEntries(ctx, entity, id, 2, latest); err != nil {
			return RecordHistoryEntry{}, err
		}
	}
	state := userFields(rec)
	for v := latest; v >= 2; v-- {
		for _, c := range later[v].Changes {
			if schema.IsSystemField(c.Field) {
				continue
			}
			if c.Before == nil {
				delete(state, c.Field)
			} else {
				state[c.Field] = c.Before
			}
		}
	}
	var created struct {
		By ChangedBy `bson:"_created"`
	}
	err := s.coll(entity).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: createdField, Value: 1}})).Decode(&created)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return RecordHistoryEntry{}, fmt.Errorf("read how %s %s was created: %w", entity, id, err)
	}
	actor := created.By
	actor.User, _ = rec[schema.SysCreatedBy].(string)
	if actor.Via == "" {
		actor.Via = "api"
	}
	at, _ := rec[schema.SysCreatedAt].(time.Time)
	changes := diff(nil, state)
	if changes == nil {
		changes = []FieldChange{}
	}
	return RecordHistoryEntry{ID: historyID(entity, id, 1), Entity: entity, RecordID: id, Version: 1, Op: OpCreate,
		At: at, Actor: actor, Changes: changes}, nil
}

// TimelineEntity is the entity whose records make up timelines.
const TimelineEntity = "interaction"

// Timeline lists the interactions linked to a record (a contact, company, lead, deal or complaint),
// newest first, as one page of the interaction list: it is the same query a client could send, so
// cursors, projections and counts work the same way.
func (s *Store) Timeline(ctx context.Context, entity, id string, p ListParams) (RecordPage, error) {
	if _, err := s.Get(ctx, entity, id); err != nil {
		return RecordPage{}, err
	}
	inter, err := s.Schema(ctx, TimelineEntity)
	if err != nil {
		return RecordPage{}, err
	}
	f := inter.Entity.Field(entity)
	if f == nil || f.Type != schema.TypeReference || f.Ref != entity {
		return RecordPage{}, fmt.Errorf("interactions do not link to %s records: %w", entity, ErrNotFound)
	}
	q, _ := quote(id)
	p.Filter = fmt.Sprintf("%s == %s", entity, q)
	if p.Sort == "" {
		p.Sort = "-occurredAt"
	}
	return s.List(ctx, TimelineEntity, p)
}

// historyWriter writes the history entries of creates off the request path: a create stores one
// document and answers, and its entry follows within historyLinger, in batches — one insert for every
// create of that window, and for every row of an import batch. Each write costs the embedded store about
// as much as the record's own insert, so one insert per create would double the store's work for
// creates; a batch makes it a fraction. Until an entry is written — or if the server died before — History
// derives the same entry from the record (createEntry), so nothing a reader sees depends on it; readers
// of the raw collection (analytics) call FlushHistory first, which writes the current batch at once.
// Shutdown drains it.
type historyWriter struct {
	s     *Store
	queue chan queuedEntry
	done  chan struct{}
	// hurry cuts the current batch's wait short (FlushHistory).
	hurry chan struct{}
	// linger is how long the first entry of a batch waits for more.
	linger time.Duration

	mu      sync.Mutex // orders seq with the queue
	seq     uint64
	stopped bool

	written atomic.Uint64
}

// historyLinger is how long a batch of create entries collects more before it is written; historyBatch
// the most entries one insert carries.
const (
	historyLinger = 50 * time.Millisecond
	historyBatch  = 500
)

type queuedEntry struct {
	entry RecordHistoryEntry
	seq   uint64
}

func newHistoryWriter(s *Store) *historyWriter {
	w := &historyWriter{s: s, queue: make(chan queuedEntry, 8192), done: make(chan struct{}), hurry: make(chan struct{}, 1),
		linger: historyLinger}
	go w.run()
	return w
}

// createEntryOf is the history entry of a record just created.
func createEntryOf(entity string, rec Record, a ChangedBy) RecordHistoryEntry {
	if a.Via == "" {
		a.Via = "api"
	}
	changes := diff(nil, userFields(rec))
	if changes == nil {
		changes = []FieldChange{}
	}
	at, _ := rec[schema.SysCreatedAt].(time.Time)
	id := fmt.Sprint(rec[schema.SysID])
	return RecordHistoryEntry{ID: historyID(entity, id, 1), Entity: entity, RecordID: id, Version: 1, Op: OpCreate, At: at, Actor: a, Changes: changes}
}

// add queues an entry; after Shutdown it is written at once.
func (w *historyWriter) add(ctx context.Context, e RecordHistoryEntry) {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		w.write(context.WithoutCancel(ctx), []any{e})
		return
	}
	w.seq++
	w.queue <- queuedEntry{entry: e, seq: w.seq}
	w.mu.Unlock()
}

func (w *historyWriter) run() {
	defer close(w.done)
	linger := time.NewTimer(w.linger)
	linger.Stop()
	for first := range w.queue {
		batch, last := []any{first.entry}, first.seq
		linger.Reset(w.linger)
		// wait ends the batch when the linger is over; nil (after a hurry) takes only what is queued.
		wait := linger.C
		for len(batch) < historyBatch {
			var q queuedEntry
			var ok bool
			if wait == nil {
				select {
				case q, ok = <-w.queue:
				default:
				}
			} else {
				select {
				case q, ok = <-w.queue:
				case <-w.hurry:
					wait = nil
					continue
				case <-wait:
				}
			}
			if !ok {
				break
			}
			batch, last = append(batch, q.entry), q.seq
		}
		linger.Stop()
		w.write(context.Background(), batch)
		w.written.Store(last)
	}
}

// write stores entries, retrying a failure a few times; an entry still not stored is logged (History
// derives it from the record).
func (w *historyWriter) write(ctx context.Context, entries []any) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err = insertAll(ctx, w.s.db.Collection(HistoryCollection), entries); err == nil {
			return
		}
		time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
	}
	w.s.opts.Logger.Error("write the history of created records", "entries", len(entries), "error", err)
}

// flush waits until every entry queued before the call is written, or ctx ends.
func (w *historyWriter) flush(ctx context.Context) error {
	w.mu.Lock()
	target := w.seq
	w.mu.Unlock()
	for w.written.Load() < target {
		select {
		case w.hurry <- struct{}{}:
		default: // a hurry is pending already
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the history of created records: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// stop writes what is queued and makes later entries synchronous.
func (w *historyWriter) stop(ctx context.Context) error {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("write the history of created records: %w", ctx.Err())
	}
}

// FlushHistory waits until the history entries of the records created so far through this store are
// written, for readers of the history collection itself (History needs no flush).
func (s *Store) FlushHistory(ctx context.Context) error { return s.history.flush(ctx) }
