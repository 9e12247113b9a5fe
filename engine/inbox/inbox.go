// Package inbox is the materialised task inbox: the open user tasks of every process instance, written
// by the instances themselves (through an activity, whenever a task is created, claimed, reassigned,
// completed or cancelled) and read without asking any instance.
//
// The embedded store answers fast only a filter that is exactly {_id: value}, so the inbox is kept in
// bucket documents keyed by whom a task is for: "user:<id or e-mail>" holds the tasks assigned or
// offered to that person, "group:<name>" those offered to a candidate group (a team or a role), and
// "crowd:" the few tasks offered to more candidate users than MaxCandidateUsers, which everybody's read
// filters. A person's inbox page is a handful of reads by _id (their ids, their groups, the crowd),
// whatever the number of open tasks in all. A second collection keeps, per instance, the sequence
// number of the last snapshot applied and the buckets it touched, so a snapshot replaces exactly what
// the instance had and an older snapshot (a retried write that lost a race) changes nothing.
//
// A bucket grows with its open tasks (a team's queue may hold thousands) and a write rewrites the
// document it changes, so a bucket is split once it holds more than MaxBucketItems items: its items move
// to two child documents chosen by one bit of a hash of the instance ID, the parent keeps only the mark
// that it was split, and so on down (a hash trie, each node a document read and written by _id). A write
// walks down to the leaf its instance hashes to and rewrites only that leaf, so it costs about the same
// in a bucket of ten tasks and of ten thousand; a read reads every node of its buckets, about
// 4n/MaxBucketItems reads by _id for n tasks.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/storage"
)

// Collections of the inbox.
const (
	BucketsCollection   = "inbox_buckets"
	InstancesCollection = "inbox_instances"
)

// Bucket key prefixes.
const (
	UserPrefix  = "user:"
	GroupPrefix = "group:"
	// CrowdKey is the bucket of tasks offered to more than MaxCandidateUsers candidate users.
	CrowdKey = "crowd:"
)

// MaxBucketItems is how many items a bucket document holds before it is split in two: a write rewrites
// at most about this many items.
const MaxBucketItems = 256

// MaxCandidateUsers is how many candidate users get the task in their own bucket; a task offered to
// more goes to the crowd bucket instead, which every inbox read filters (offer it to a group instead).
const MaxCandidateUsers = 50

// tombstoneTTL is how long a bucket remembers the last snapshot of an instance that left it, so that a
// late, older write of that instance cannot bring its tasks back. Inbox writes give up after minutes.
const tombstoneTTL = time.Hour

// Snapshot is every open user task of one instance (see process.InboxSnapshot, which the interpreter
// sends; the worker converts it). Seq orders the snapshots of one instance; 0 is a rebuild of an
// instance that does not number its snapshots, which always applies.
type Snapshot struct {
	Instance    string
	ProcessKey  string
	Version     int
	BusinessKey string
	Entity      string
	RecordID    string
	Seq         int64
	Suspended   bool
	Ended       bool
	Tasks       []Task
}

// Task is one open user task as the instance reports it.
type Task struct {
	ID              string
	Element         string
	Name            string
	Assignee        string
	CandidateGroups []string
	CandidateUsers  []string
	DueDate         time.Time
	Priority        int
	FormKey         string
	Created         time.Time
}

// Item is one task in the inbox: the task, its instance and process, and the record it is about with
// that record's display name.
type Item struct {
	ID              string    `bson:"id" json:"id" doc:"Task ID: <instance>~<task>; use it with /api/v1/tasks/{id}/..."`
	Instance        string    `bson:"instance" json:"instanceId"`
	Task            string    `bson:"task" json:"taskId"`
	ProcessKey      string    `bson:"processKey" json:"processKey"`
	Version         int       `bson:"version" json:"version"`
	Element         string    `bson:"element" json:"element"`
	Name            string    `bson:"name,omitempty" json:"name,omitempty"`
	Assignee        string    `bson:"assignee,omitempty" json:"assignee,omitempty"`
	CandidateGroups []string  `bson:"groups,omitempty" json:"candidateGroups,omitempty"`
	CandidateUsers  []string  `bson:"users,omitempty" json:"candidateUsers,omitempty"`
	DueDate         time.Time `bson:"due,omitempty" json:"dueDate,omitzero"`
	Priority        int       `bson:"priority" json:"priority"`
	FormKey         string    `bson:"formKey,omitempty" json:"formKey,omitempty"`
	Created         time.Time `bson:"created" json:"created"`
	BusinessKey     string    `bson:"businessKey,omitempty" json:"businessKey,omitempty"`
	Entity          string    `bson:"entity,omitempty" json:"entity,omitempty"`
	RecordID        string    `bson:"recordId,omitempty" json:"recordId,omitempty"`
	// RecordName is the display name of the record when the task was last written.
	RecordName string `bson:"recordName,omitempty" json:"recordName,omitempty" doc:"Display name of the record the instance is about (as of the task's last change)."`
	// NameField is the record field RecordName comes from; a reader the field is hidden from gets no name.
	NameField string `bson:"nameField,omitempty" json:"-"`
	Suspended bool   `bson:"suspended,omitempty" json:"suspended,omitempty" doc:"The instance is suspended: the task cannot be completed until it is resumed."`
	Seq       int64  `bson:"seq" json:"-"`
}

// bucket is the value of a bucket document: a node of its bucket's hash trie.
type bucket struct {
	Items []Item `bson:"items"`
	// Seen is the last snapshot applied per instance with items here, and for a while per instance
	// that left.
	Seen []seen `bson:"seen"`
	// Ver counts the writes of this document; the children of a split remember the Ver they were split
	// from (From), so a split retried from an older read cannot overwrite a newer one's.
	Ver  int64 `bson:"ver,omitempty"`
	From int64 `bson:"from,omitempty"`
	// Split marks a node whose items moved to its two children (nodeID of its path and one more bit).
	Split bool `bson:"split,omitempty"`
}

// full reports a node to split: too many items, or too many instances remembered (an instance that
// left is remembered for tombstoneTTL, so a busy queue gathers thousands).
func (b bucket) full() bool { return len(b.Items) > MaxBucketItems || len(b.Seen) > MaxBucketItems }

// errMoved is a write that found its node split under it: it goes down to the child.
var errMoved = errors.New("inbox: bucket node was split")

// nodeID is the _id of the node at path (a string of '0' and '1', one per level; "" is the bucket
// itself, so a bucket never split is one document with the bucket's key as _id).
func nodeID(key, path string) string {
	if path == "" {
		return key
	}
	return key + "|~" + path
}

// hashOf is the hash whose bits choose an instance's child at each level.
func hashOf(instance string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(instance))
	return h.Sum64()
}

// bitAt is the child ("0" or "1") an instance's hash goes to below depth.
func bitAt(h uint64, depth int) string {
	if h>>(depth%64)&1 == 1 {
		return "1"
	}
	return "0"
}

type seen struct {
	Instance string    `bson:"i"`
	Seq      int64     `bson:"s"`
	Left     time.Time `bson:"left,omitempty"`
}

// instanceDoc is the value of an instance document: its last snapshot and the buckets it wrote.
type instanceDoc struct {
	Seq  int64    `bson:"seq"`
	Keys []string `bson:"keys"`
}

// NameFunc gives a record's display name and the field it comes from; an error leaves the name empty.
type NameFunc func(ctx context.Context, entity, id string) (name, field string, err error)

// Store reads and writes the inbox.
type Store struct {
	backend   *storage.Backend
	buckets   *mongo.Collection
	instances *mongo.Collection
	names     NameFunc
	forms     FormSource
	now       func() time.Time
}

// Options configure a Store.
type Options struct {
	// Backend is the store's backend (storage.Detect); it decides how writes are made atomic.
	Backend *storage.Backend
	// Names resolves the display name of the record an instance is about; nil leaves it empty.
	Names NameFunc
	// Forms gives the form of a task (from its process version); nil leaves items without forms.
	Forms FormSource
}

// New returns the inbox kept in db.
func New(db *mongo.Database, o Options) *Store {
	if o.Backend == nil {
		o.Backend = storage.NewBackend(false)
	}
	return &Store{backend: o.Backend, buckets: db.Collection(BucketsCollection), instances: db.Collection(InstancesCollection),
		names: o.Names, forms: o.Forms, now: time.Now}
}

// keysOf lists the buckets a task belongs in.
func keysOf(t Task) []string {
	var keys []string
	add := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if t.Assignee != "" {
		add(UserPrefix + t.Assignee)
	}
	for _, g := range t.CandidateGroups {
		if g != "" {
			add(GroupPrefix + g)
		}
	}
	if len(t.CandidateUsers) > MaxCandidateUsers {
		add(CrowdKey)
	} else {
		for _, u := range t.CandidateUsers {
			if u != "" {
				add(UserPrefix + u)
			}
		}
	}
	return keys
}

// Apply writes one instance's snapshot: in every bucket it touches, its items are replaced by the
// snapshot's, unless that bucket (or the instance's record) has seen a newer snapshot. The buckets are
// written before the instance's record, so a write interrupted half way is completed by its retry.
func (s *Store) Apply(ctx context.Context, snap Snapshot) error {
	var cur struct {
		V instanceDoc `bson:"v"`
	}
	err := s.instances.FindOne(ctx, bson.D{{Key: "_id", Value: snap.Instance}}).Decode(&cur)
	exists := err == nil
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("inbox: read instance %s: %w", snap.Instance, err)
	}
	if exists && snap.Seq != 0 && cur.V.Seq >= snap.Seq {
		return nil // a newer snapshot was applied already
	}
	name, field := "", ""
	if snap.Entity != "" && snap.RecordID != "" && s.names != nil && len(snap.Tasks) > 0 {
		name, field, _ = s.names(ctx, snap.Entity, snap.RecordID)
	}
	perKey := map[string][]Item{}
	var keys []string
	if !snap.Ended {
		for _, t := range snap.Tasks {
			it := itemOf(snap, t, name)
			it.NameField = field
			for _, k := range keysOf(t) {
				if _, ok := perKey[k]; !ok {
					keys = append(keys, k)
				}
				perKey[k] = append(perKey[k], it)
			}
		}
	}
	touched := slices.Clone(keys)
	for _, k := range cur.V.Keys {
		if !slices.Contains(touched, k) {
			touched = append(touched, k)
		}
	}
	slices.Sort(touched)
	now := s.now().UTC()
	stale := false
	h := hashOf(snap.Instance)
	for _, k := range touched {
		newer, err := s.write(ctx, k, h, snap, perKey[k], now)
		if err != nil {
			return fmt.Errorf("inbox: write bucket %s: %w", k, err)
		}
		stale = stale || newer
	}
	switch {
	case stale:
		// A bucket saw a newer snapshot of the instance (this one is a late retry): it is outdated.
		return nil
	case snap.Ended || len(keys) == 0:
		_, err = storage.Mutate(ctx, s.backend, s.instances, snap.Instance, func(d instanceDoc, exists bool) (instanceDoc, storage.Op, error) {
			if exists && snap.Seq != 0 && d.Seq > snap.Seq {
				return d, storage.Skip, nil
			}
			return d, storage.Delete, nil
		})
	default:
		_, err = storage.Mutate(ctx, s.backend, s.instances, snap.Instance, func(d instanceDoc, exists bool) (instanceDoc, storage.Op, error) {
			if exists && snap.Seq != 0 && d.Seq >= snap.Seq {
				return d, storage.Skip, nil
			}
			return instanceDoc{Seq: snap.Seq, Keys: keys}, storage.Write, nil
		})
	}
	if err != nil {
		return fmt.Errorf("inbox: write instance %s: %w", snap.Instance, err)
	}
	return nil
}

// write replaces the instance's items in bucket key: it walks down the bucket's trie to the leaf the
// instance hashes to (a node split under it sends it on down), rewrites that leaf only, and splits the
// leaf when it grew past MaxBucketItems items or instances. newer reports a bucket that saw a newer
// snapshot.
func (s *Store) write(ctx context.Context, key string, h uint64, snap Snapshot, items []Item, now time.Time) (newer bool, err error) {
	for path := ""; ; path += bitAt(h, len(path)) {
		var grown bool
		_, err := storage.Mutate(ctx, s.backend, s.buckets, nodeID(key, path), func(b bucket, _ bool) (bucket, storage.Op, error) {
			if b.Split {
				return b, storage.Skip, errMoved
			}
			nb, op, n := b.replace(snap.Instance, snap.Seq, items, now)
			newer, grown = n, nb.full()
			if op == storage.Write {
				nb.Ver++
			}
			return nb, op, nil
		})
		switch {
		case errors.Is(err, errMoved) && len(path) < 64:
			continue
		case err != nil:
			return false, err
		case grown:
			if err := s.split(ctx, key, path); err != nil {
				return false, err
			}
		}
		return newer, nil
	}
}

// split moves the items of an overfull leaf to its two children and marks it split. The children are
// written first, each unless it holds a split of this version of the leaf or a later one already (a
// split retried from an older read); the mark is written by the same atomic change that read the leaf,
// so a write racing the split either lands before it (and is in the children) or finds the mark and
// goes down. A child still overfull (many instances hashing alike) is split in turn.
func (s *Store) split(ctx context.Context, key, path string) error {
	var full []string
	_, err := storage.Mutate(ctx, s.backend, s.buckets, nodeID(key, path), func(b bucket, exists bool) (bucket, storage.Op, error) {
		full = nil
		if !exists || b.Split || !b.full() || len(path) >= 64 {
			return b, storage.Skip, nil
		}
		kids := [2]bucket{{From: b.Ver}, {From: b.Ver}}
		side := func(instance string) int {
			if bitAt(hashOf(instance), len(path)) == "1" {
				return 1
			}
			return 0
		}
		for _, it := range b.Items {
			k := &kids[side(it.Instance)]
			k.Items = append(k.Items, it)
		}
		for _, sn := range b.Seen {
			k := &kids[side(sn.Instance)]
			k.Seen = append(k.Seen, sn)
		}
		for i, bit := range []string{"0", "1"} {
			kid := kids[i]
			if _, err := storage.Mutate(ctx, s.backend, s.buckets, nodeID(key, path+bit), func(c bucket, exists bool) (bucket, storage.Op, error) {
				if exists && (c.Split || c.From >= kid.From) {
					return c, storage.Skip, nil
				}
				return kid, storage.Write, nil
			}); err != nil {
				return b, storage.Skip, err
			}
			if kid.full() {
				full = append(full, path+bit)
			}
		}
		return bucket{Split: true, Ver: b.Ver + 1}, storage.Write, nil
	})
	if err != nil {
		return fmt.Errorf("split %s: %w", nodeID(key, path), err)
	}
	for _, p := range full {
		if err := s.split(ctx, key, p); err != nil {
			return err
		}
	}
	return nil
}

// replace puts items in place of the bucket's items of instance, unless the bucket saw a newer snapshot
// of it (newer); tombstones older than tombstoneTTL are dropped on the way.
func (b bucket) replace(instance string, seq int64, items []Item, now time.Time) (_ bucket, _ storage.Op, newer bool) {
	i := slices.IndexFunc(b.Seen, func(s seen) bool { return s.Instance == instance })
	if i >= 0 && seq != 0 && b.Seen[i].Seq > seq {
		return b, storage.Skip, true
	}
	if i >= 0 && seq != 0 && b.Seen[i].Seq == seq {
		return b, storage.Skip, false // applied already (a retry)
	}
	had := slices.ContainsFunc(b.Items, func(it Item) bool { return it.Instance == instance })
	if !had && len(items) == 0 && i < 0 {
		return b, storage.Skip, false // nothing of it here, nothing to remember
	}
	b.Items = slices.DeleteFunc(b.Items, func(it Item) bool { return it.Instance == instance })
	b.Items = append(b.Items, items...)
	mark := seen{Instance: instance, Seq: seq}
	if len(items) == 0 {
		mark.Left = now
	}
	if i >= 0 {
		b.Seen[i] = mark
	} else {
		b.Seen = append(b.Seen, mark)
	}
	b.Seen = slices.DeleteFunc(b.Seen, func(s seen) bool { return !s.Left.IsZero() && now.Sub(s.Left) > tombstoneTTL })
	// An emptied node stays (a small document per person and group, or per part of a large bucket):
	// removing it would restart its Ver, which orders its splits.
	return b, storage.Write, false
}

func itemOf(snap Snapshot, t Task, name string) Item {
	it := Item{ID: snap.Instance + "~" + t.ID, Instance: snap.Instance, Task: t.ID, ProcessKey: snap.ProcessKey, Version: snap.Version,
		Element: t.Element, Name: t.Name, Assignee: t.Assignee, CandidateGroups: t.CandidateGroups, DueDate: t.DueDate.UTC(),
		Priority: t.Priority, FormKey: t.FormKey, Created: t.Created.UTC(), BusinessKey: snap.BusinessKey, Entity: snap.Entity,
		RecordID: snap.RecordID, RecordName: name, Suspended: snap.Suspended, Seq: snap.Seq}
	it.CandidateUsers = t.CandidateUsers // readers check the crowd's against themselves
	return it
}

// Instances lists the instances the inbox holds tasks of (for a rebuild, which removes those no longer
// running). It scans the instances collection, one small document per instance with open tasks.
func (s *Store) Instances(ctx context.Context) ([]string, error) {
	cur, err := s.instances.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("inbox: list instances: %w", err)
	}
	defer cur.Close(ctx)
	var out []string
	for cur.Next(ctx) {
		if id, ok := cur.Current.Lookup("_id").StringValueOK(); ok {
			out = append(out, id)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("inbox: list instances: %w", err)
	}
	return out, nil
}

// Seq is the last snapshot applied for an instance (0 when it has none in the inbox).
func (s *Store) Seq(ctx context.Context, instance string) (int64, error) {
	var cur struct {
		V instanceDoc `bson:"v"`
	}
	err := s.instances.FindOne(ctx, bson.D{{Key: "_id", Value: instance}}).Decode(&cur)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("inbox: read instance %s: %w", instance, err)
	}
	return cur.V.Seq, nil
}

// Remove drops an instance's tasks from the inbox (an instance terminated, which writes nothing itself).
func (s *Store) Remove(ctx context.Context, instance string) error {
	seq, err := s.Seq(ctx, instance)
	if err != nil {
		return err
	}
	return s.Apply(ctx, Snapshot{Instance: instance, Seq: seq + 1, Ended: true})
}
