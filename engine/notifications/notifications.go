// Package notifications keeps the in-app notifications processes send to people ("call this lead back",
// "complaint escalated"), so each user sees theirs in the UI until they mark them read.
package notifications

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrNotFound means the user has no notification with that ID.
var ErrNotFound = errors.New("notification not found")

// Notification is one message for one user.
type Notification struct {
	ID        string         `bson:"_id" json:"id"`
	To        string         `bson:"to" json:"to"`
	Template  string         `bson:"template" json:"template" doc:"What kind of notification, e.g. lead-call-reminder."`
	Data      map[string]any `bson:"data,omitempty" json:"data,omitempty"`
	Source    string         `bson:"source,omitempty" json:"source,omitempty" doc:"The process instance that sent it."`
	CreatedAt time.Time      `bson:"createdAt" json:"createdAt"`
	ReadAt    *time.Time     `bson:"readAt,omitempty" json:"readAt,omitempty"`
}

// Store reads and writes notifications.
type Store struct {
	coll *mongo.Collection
	now  func() time.Time
}

// New uses the "notifications" collection of db.
func New(db *mongo.Database) *Store {
	return &Store{coll: db.Collection("notifications"), now: time.Now}
}

// EnsureIndexes creates the per-user index lists use.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	_, err := s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "to", Value: 1}, {Key: "createdAt", Value: -1}}})
	if err != nil {
		return fmt.Errorf("notifications: index: %w", err)
	}
	return nil
}

// Send stores a notification. key, when not empty, makes a repeated send (a retried activity) store it
// once: the ID is derived from it.
func (s *Store) Send(ctx context.Context, key, to, template, source string, data map[string]any) error {
	id := uuid.NewString()
	if key != "" {
		id = uuid.NewSHA1(uuid.NameSpaceURL, []byte("rapport:notification:"+key)).String()
	}
	n := Notification{ID: id, To: to, Template: template, Data: data, Source: source, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	if _, err := s.coll.InsertOne(ctx, n); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("notifications: send: %w", err)
	}
	return nil
}

// List returns a user's notifications, newest first; unreadOnly hides read ones.
func (s *Store) List(ctx context.Context, to string, unreadOnly bool, limit int) ([]Notification, error) {
	filter := bson.D{{Key: "to", Value: to}}
	if unreadOnly {
		filter = append(filter, bson.E{Key: "readAt", Value: bson.D{{Key: "$exists", Value: false}}})
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("notifications: list: %w", err)
	}
	out := []Notification{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("notifications: list: %w", err)
	}
	return out, nil
}

// MarkRead marks one of the user's notifications read.
func (s *Store) MarkRead(ctx context.Context, to, id string) error {
	now := s.now().UTC().Truncate(time.Millisecond)
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "to", Value: to}}, bson.D{{Key: "$set", Value: bson.D{{Key: "readAt", Value: now}}}})
	if err != nil {
		return fmt.Errorf("notifications: mark read: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}
