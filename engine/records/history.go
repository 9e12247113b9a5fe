package records

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/schema"
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

func (s *Store) writeHistory(ctx context.Context, entity, id string, version int64, op Op, a ChangedBy, before, after map[string]any, at time.Time) error {
	return s.writeHistoryChanges(ctx, entity, id, version, op, a, diff(userFields(before), userFields(after)), at)
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
// older than it. The record may be deleted.
func (s *Store) History(ctx context.Context, entity, id string, before int64, limit int) (RecordHistoryPage, error) {
	if _, err := s.get(ctx, entity, id, true); err != nil {
		return RecordHistoryPage{}, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	filter := bson.D{{Key: "entity", Value: entity}, {Key: "recordId", Value: id}}
	if before > 0 {
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$lt", Value: before}}})
	}
	cur, err := s.db.Collection(HistoryCollection).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(int64(limit)+1))
	if err != nil {
		return RecordHistoryPage{}, fmt.Errorf("read history of %s %s: %w", entity, id, err)
	}
	var items []RecordHistoryEntry
	if err := cur.All(ctx, &items); err != nil {
		return RecordHistoryPage{}, fmt.Errorf("read history of %s %s: %w", entity, id, err)
	}
	page := RecordHistoryPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.Next = items[limit-1].Version
	}
	for i := range page.Items {
		for j := range page.Items[i].Changes {
			c := &page.Items[i].Changes[j]
			c.Before, c.After = plainBSON(c.Before), plainBSON(c.After)
		}
	}
	if page.Items == nil {
		page.Items = []RecordHistoryEntry{}
	}
	return page, nil
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
