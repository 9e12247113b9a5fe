// Package externaltasks holds the external tasks waiting for a worker that has no Temporal SDK: a
// service task whose type Rapport does not run is a Temporal activity on the external task queue; the
// bridge activity (workflows/process) parks each one here with its task token, and workers fetch and
// lock them over REST (Camunda 7's fetch-and-lock protocol), then complete them, fail them or throw a
// BPMN error, which completes the Temporal activity.
//
// The collection holds only open tasks (a finished one is deleted), so fetching scans a working set,
// not history. Every change of one task is a storage.Mutate of its document, so two workers never lock
// the same task, on MongoDB and on the embedded store alike.
package externaltasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/storage"
)

// Collection is where open external tasks are kept.
const Collection = "external_tasks"

// Errors of the operations on one task.
var (
	// ErrNotFound: no open task has the ID (never existed, finished, or its process stopped waiting).
	ErrNotFound = errors.New("no open external task has this id")
	// ErrNotLocked: the worker does not hold the task's lock (another worker does, or the lock expired).
	ErrNotLocked = errors.New("the external task is not locked by this worker")
)

// Task is one open external task.
type Task struct {
	ID             string            `bson:"id" json:"id"`
	Type           string            `bson:"type" json:"type"`
	Element        string            `bson:"element" json:"element"`
	ProcessKey     string            `bson:"processKey" json:"processKey"`
	ProcessVersion int               `bson:"processVersion,omitempty" json:"processVersion,omitempty"`
	BusinessKey    string            `bson:"businessKey,omitempty" json:"businessKey,omitempty"`
	InstanceID     string            `bson:"instanceId" json:"instanceId"`
	Headers        map[string]string `bson:"headers,omitempty" json:"headers,omitempty"`
	// Variables are kept as JSON so nested values come back as plain maps and lists.
	Variables string `bson:"variables,omitempty" json:"-"`
	// Token is the Temporal activity's task token that completes it.
	Token []byte `bson:"token" json:"-"`
	// Attempt is the Temporal attempt that parked the task (1 for the first).
	Attempt int `bson:"attempt" json:"attempt"`
	// Retries is what the last failure reported still left (nil before any failure).
	Retries      *int      `bson:"retries,omitempty" json:"retries,omitempty"`
	ErrorMessage string    `bson:"errorMessage,omitempty" json:"errorMessage,omitempty"`
	WorkerID     string    `bson:"workerId,omitempty" json:"workerId,omitempty"`
	LockedUntil  time.Time `bson:"lockedUntil" json:"lockExpirationTime,omitzero"`
	// AvailableAt is when a failed task may be fetched again.
	AvailableAt time.Time `bson:"availableAt" json:"-"`
	CreatedAt   time.Time `bson:"createdAt" json:"createdAt"`
}

// Vars decodes the task's variables.
func (t Task) Vars() (map[string]any, error) {
	if t.Variables == "" {
		return map[string]any{}, nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(t.Variables), &out); err != nil {
		return nil, fmt.Errorf("external task %s: decode variables: %w", t.ID, err)
	}
	return out, nil
}

// SetVars encodes variables into the task.
func (t *Task) SetVars(vars map[string]any) error {
	if len(vars) == 0 {
		t.Variables = ""
		return nil
	}
	raw, err := json.Marshal(vars)
	if err != nil {
		return fmt.Errorf("external task %s: encode variables: %w", t.ID, err)
	}
	t.Variables = string(raw)
	return nil
}

// available reports whether a worker may lock the task at now.
func (t Task) available(now time.Time) bool {
	return !now.Before(t.LockedUntil) && !now.Before(t.AvailableAt)
}

// Topic is one task type a worker fetches, with how long it locks what it gets.
type Topic struct {
	Type         string
	LockDuration time.Duration
}

// Store keeps open external tasks in MongoDB.
type Store struct {
	coll    *mongo.Collection
	backend *storage.Backend
}

// New returns a store on db's external task collection.
func New(db *mongo.Database, backend *storage.Backend) *Store {
	return &Store{coll: db.Collection(Collection), backend: backend}
}

// EnsureIndexes creates the index fetching by type uses (MongoDB; the embedded store scans).
func (s *Store) EnsureIndexes(ctx context.Context) error {
	return storage.EnsureIndexes(ctx, s.coll, mongo.IndexModel{Keys: bson.D{{Key: "v.type", Value: 1}, {Key: "v.createdAt", Value: 1}}})
}

// Put parks a task, replacing an earlier attempt of the same task (a retried activity has a new
// token).
func (s *Store) Put(ctx context.Context, t Task) error {
	_, err := storage.Mutate(ctx, s.backend, s.coll, t.ID, func(Task, bool) (Task, storage.Op, error) { return t, storage.Write, nil })
	if err != nil {
		return fmt.Errorf("park external task %s: %w", t.ID, err)
	}
	return nil
}

// Get returns an open task.
func (s *Store) Get(ctx context.Context, id string) (Task, error) {
	var doc struct {
		V Task `bson:"v"`
	}
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Task{}, ErrNotFound
		}
		return Task{}, fmt.Errorf("read external task %s: %w", id, err)
	}
	return doc.V, nil
}

// Delete removes a task (finished, or no longer awaited).
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("delete external task %s: %w", id, err)
	}
	return nil
}

// Candidates lists the open tasks of the topics' types a worker could lock at now, oldest first, at
// most limit of them. The caller locks them one by one (Lock), as another worker may be faster.
func (s *Store) Candidates(ctx context.Context, types []string, now time.Time, limit int) ([]Task, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "v.type", Value: bson.D{{Key: "$in", Value: types}}}},
		options.Find().SetSort(bson.D{{Key: "v.createdAt", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list external tasks: %w", err)
	}
	defer cur.Close(ctx)
	var out []Task
	for cur.Next(ctx) && len(out) < limit {
		var doc struct {
			V Task `bson:"v"`
		}
		if err := cur.Decode(&doc); err != nil {
			return nil, fmt.Errorf("decode external task: %w", err)
		}
		if doc.V.available(now) && slices.Contains(types, doc.V.Type) {
			out = append(out, doc.V)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("list external tasks: %w", err)
	}
	return out, nil
}

// Lock gives a task to a worker until now+d if nobody holds it; ok is false when another worker got
// it first or it is gone.
func (s *Store) Lock(ctx context.Context, id, worker string, d time.Duration, now time.Time) (Task, bool, error) {
	got := false
	t, err := storage.Mutate(ctx, s.backend, s.coll, id, func(cur Task, exists bool) (Task, storage.Op, error) {
		got = false
		if !exists || !cur.available(now) {
			return cur, storage.Skip, nil
		}
		cur.WorkerID, cur.LockedUntil, got = worker, now.Add(d), true
		return cur, storage.Write, nil
	})
	if err != nil {
		return Task{}, false, fmt.Errorf("lock external task %s: %w", id, err)
	}
	return t, got, nil
}

// Held returns a task the worker holds the lock of at now: ErrNotFound, or ErrNotLocked when it does
// not hold it (another worker does, or the lock expired).
func (s *Store) Held(ctx context.Context, id, worker string, now time.Time) (Task, error) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return Task{}, err
	}
	if t.WorkerID != worker || !now.Before(t.LockedUntil) {
		return Task{}, ErrNotLocked
	}
	return t, nil
}

// change applies f to a task the worker holds at now.
func (s *Store) change(ctx context.Context, id, worker string, now time.Time, f func(*Task)) error {
	_, err := storage.Mutate(ctx, s.backend, s.coll, id, func(cur Task, exists bool) (Task, storage.Op, error) {
		if !exists {
			return cur, storage.Skip, ErrNotFound
		}
		if cur.WorkerID != worker || !now.Before(cur.LockedUntil) {
			return cur, storage.Skip, ErrNotLocked
		}
		f(&cur)
		return cur, storage.Write, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotLocked) {
		return fmt.Errorf("change external task %s: %w", id, err)
	}
	return err
}

// Extend moves the lock a worker holds to now+d.
func (s *Store) Extend(ctx context.Context, id, worker string, d time.Duration, now time.Time) error {
	return s.change(ctx, id, worker, now, func(t *Task) { t.LockedUntil = now.Add(d) })
}

// Retry releases a task the worker failed with retries left: it may be fetched again after backoff.
func (s *Store) Retry(ctx context.Context, id, worker string, retries int, message string, backoff time.Duration, now time.Time) error {
	return s.change(ctx, id, worker, now, func(t *Task) {
		t.Retries, t.ErrorMessage = &retries, message
		t.WorkerID, t.LockedUntil, t.AvailableAt = "", time.Time{}, now.Add(backoff)
	})
}
