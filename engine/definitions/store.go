// Package definitions keeps BPMN process definitions in MongoDB: one editable draft per process key and
// immutable published versions, each with its content hash, author and time. Running instances name the
// version they started with, so publishing never changes what is already running.
package definitions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// MaxXMLSize caps a deployed BPMN document; real diagrams with DI are far smaller.
const MaxXMLSize = 4 << 20

// Errors callers map to statuses.
var (
	// ErrNotFound means no process or version has that key or number.
	ErrNotFound = errors.New("process not found")
	// ErrNoDraft means there is nothing to publish.
	ErrNoDraft = errors.New("the process has no draft to publish")
)

// InvalidError lists every problem of a definition, each with its BPMN element ID.
type InvalidError struct {
	Problems []bpmn.Problem
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("the process definition has %d problem(s); the first: %s: %s", len(e.Problems), e.Problems[0].ElementID, e.Problems[0].Reason)
}

// ParseError is a document that is not BPMN at all (malformed, too large, wrong root).
type ParseError = bpmn.ParseError

// Trigger is a start event of a published version that something other than a person fires: a record
// of Entity being created or updated (On) when Condition (an expression over `record`) holds, or a
// message named Message arriving with no instance waiting for it.
type Trigger struct {
	Key       string `bson:"key" json:"key"`
	Version   int    `bson:"version" json:"version"`
	Element   string `bson:"element" json:"element"`
	Entity    string `bson:"entity,omitempty" json:"entity,omitempty"`
	On        string `bson:"on,omitempty" json:"on,omitempty"`
	Condition string `bson:"condition,omitempty" json:"condition,omitempty"`
	Message   string `bson:"message,omitempty" json:"message,omitempty"`
}

// Definition is a process key with its draft and the number of its latest published version.
type Definition struct {
	Key           string `bson:"_id" json:"key"`
	Name          string `bson:"name" json:"name"`
	LatestVersion int    `bson:"latestVersion" json:"latestVersion"`
	// Triggers are the record triggers of the latest published version; only it starts on records.
	Triggers  []Trigger `bson:"triggers,omitempty" json:"triggers,omitempty"`
	DraftHash string    `bson:"draftHash" json:"draftHash"`
	DraftXML  string    `bson:"draftXml" json:"-"`
	UpdatedAt time.Time `bson:"updatedAt" json:"updatedAt"`
	UpdatedBy string    `bson:"updatedBy" json:"updatedBy"`
}

// Version is one published, immutable version of a process.
type Version struct {
	ID          string    `bson:"_id" json:"-"`
	Key         string    `bson:"key" json:"key"`
	Version     int       `bson:"version" json:"version"`
	Name        string    `bson:"name" json:"name"`
	Hash        string    `bson:"hash" json:"hash"`
	XML         string    `bson:"xml" json:"-"`
	PublishedAt time.Time `bson:"publishedAt" json:"publishedAt"`
	PublishedBy string    `bson:"publishedBy" json:"publishedBy"`
}

// EntityTypes resolves a record trigger's entity to the expression type of its records.
type EntityTypes = bpmn.EntityTypes

// Store reads and writes process definitions.
type Store struct {
	defs     *mongo.Collection
	versions *mongo.Collection
	entities EntityTypes
	now      func() time.Time
	// checkTask validates service task configurations against deployment policy (e.g. refused URLs).
	checkTask func(taskType string, headers []bpmn.Header, inputs []bpmn.Mapping) error
}

// CheckTasksWith makes deploying and publishing validate every service task with check (for example the
// outbound HTTP policy for http tasks); a refusal is a problem naming the element.
func (s *Store) CheckTasksWith(check func(taskType string, headers []bpmn.Header, inputs []bpmn.Mapping) error) {
	s.checkTask = check
}

// New returns a store on db; entities (may be nil) types conditions over `record` in record-triggered
// processes.
func New(db *mongo.Database, entities EntityTypes) *Store {
	return &Store{defs: db.Collection("process_definitions"), versions: db.Collection("process_versions"), entities: entities, now: time.Now}
}

// EnsureIndexes creates the unique (key, version) index; safe on every start.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	_, err := s.versions.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "key", Value: 1}, {Key: "version", Value: -1}}, Options: options.Index().SetUnique(true).SetName("key_version"),
	})
	if err != nil {
		return fmt.Errorf("processes: create index: %w", err)
	}
	return nil
}

// Check parses, validates and compiles a document, returning the model or every problem at once.
func (s *Store) Check(xml []byte) (*bpmn.Model, error) {
	defs, err := bpmn.Parse(bytes.NewReader(xml), MaxXMLSize)
	if err != nil {
		return nil, err
	}
	model, problems := bpmn.CompileWith(defs, bpmn.Options{CheckExpr: bpmn.DefaultExprChecker(s.entities), CheckTask: s.checkTask})
	if len(problems) > 0 {
		return nil, &InvalidError{Problems: problems}
	}
	return model, nil
}

// Deploy stores a valid document as the draft of the process it defines (its key is the BPMN process
// ID). An invalid document is refused whole and changes nothing.
func (s *Store) Deploy(ctx context.Context, xml []byte, by string) (Definition, error) {
	model, err := s.Check(xml)
	if err != nil {
		return Definition{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	var d Definition
	err = s.defs.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: model.ProcessID}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "name", Value: model.Name}, {Key: "draftHash", Value: model.Hash},
			{Key: "draftXml", Value: string(xml)}, {Key: "updatedAt", Value: now}, {Key: "updatedBy", Value: by}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "latestVersion", Value: 0}}},
	}, options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return Definition{}, fmt.Errorf("processes: save draft: %w", err)
	}
	return d, nil
}

// Publish makes the draft version N+1. Publishing a draft identical to the latest version returns that
// version instead of a copy, so a repeated publish is harmless.
func (s *Store) Publish(ctx context.Context, key, by string) (Version, error) {
	d, err := s.Get(ctx, key)
	if err != nil {
		return Version{}, err
	}
	if d.DraftXML == "" {
		return Version{}, ErrNoDraft
	}
	if d.LatestVersion > 0 {
		latest, err := s.Version(ctx, key, d.LatestVersion)
		if err != nil {
			return Version{}, err
		}
		if latest.Hash == d.DraftHash {
			return latest, nil
		}
	}
	// The draft was valid when deployed, but the schemas it is typed against may have changed since.
	model, err := s.Check([]byte(d.DraftXML))
	if err != nil {
		return Version{}, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		n := d.LatestVersion + 1
		v := Version{ID: key + "@" + strconv.Itoa(n), Key: key, Version: n, Name: d.Name, Hash: d.DraftHash, XML: d.DraftXML,
			PublishedAt: s.now().UTC().Truncate(time.Millisecond), PublishedBy: by}
		if _, err := s.versions.InsertOne(ctx, v); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				// Another publish took this number; read the new latest and try the next.
				if d, err = s.Get(ctx, key); err != nil {
					return Version{}, err
				}
				continue
			}
			return Version{}, fmt.Errorf("processes: insert version: %w", err)
		}
		if _, err := s.defs.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "latestVersion", Value: bson.D{{Key: "$lt", Value: n}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "latestVersion", Value: n}, {Key: "triggers", Value: triggersOf(model, key, n)}}}}); err != nil {
			return Version{}, fmt.Errorf("processes: advance latest version: %w", err)
		}
		return v, nil
	}
	return Version{}, errors.New("processes: publish kept colliding with concurrent publishes")
}

// triggersOf lists the record-trigger and message start events of a model's top-level scope.
func triggersOf(m *bpmn.Model, key string, version int) []Trigger {
	out := []Trigger{}
	for _, i := range m.Scopes[0].Starts {
		n := m.Nodes[i]
		switch {
		case n.Kind == bpmn.KindStartRecord && n.Trigger != nil:
			out = append(out, Trigger{Key: key, Version: version, Element: n.ID, Entity: n.Trigger.Entity, On: n.Trigger.On, Condition: n.Trigger.Condition})
		case n.Kind == bpmn.KindStartMessage && n.Message != nil:
			out = append(out, Trigger{Key: key, Version: version, Element: n.ID, Message: n.Message.Name})
		}
	}
	return out
}

// MessageStarts returns the message start events of the latest published versions for a message name.
func (s *Store) MessageStarts(ctx context.Context, name string) ([]Trigger, error) {
	return s.findTriggers(ctx, bson.D{{Key: "triggers.message", Value: name}}, func(t Trigger) bool { return t.Message == name })
}

func (s *Store) findTriggers(ctx context.Context, filter bson.D, keep func(Trigger) bool) ([]Trigger, error) {
	cur, err := s.defs.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "triggers", Value: 1}}).SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("processes: find triggers: %w", err)
	}
	var defs []Definition
	if err := cur.All(ctx, &defs); err != nil {
		return nil, fmt.Errorf("processes: find triggers: %w", err)
	}
	var out []Trigger
	for _, d := range defs {
		for _, t := range d.Triggers {
			if keep(t) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// TriggersFor returns the record triggers of the latest published versions that fire when a record of
// entity is created or updated (on).
func (s *Store) TriggersFor(ctx context.Context, entity, on string) ([]Trigger, error) {
	return s.findTriggers(ctx, bson.D{{Key: "triggers.entity", Value: entity}}, func(t Trigger) bool { return t.Entity == entity && t.On == on })
}

// Get returns a process definition with its draft.
func (s *Store) Get(ctx context.Context, key string) (Definition, error) {
	var d Definition
	if err := s.defs.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Definition{}, ErrNotFound
		}
		return Definition{}, fmt.Errorf("processes: get %q: %w", key, err)
	}
	return d, nil
}

// List returns every process definition sorted by key.
func (s *Store) List(ctx context.Context) ([]Definition, error) {
	cur, err := s.defs.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetProjection(bson.D{{Key: "draftXml", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("processes: list: %w", err)
	}
	out := []Definition{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("processes: list: %w", err)
	}
	return out, nil
}

// Versions lists a process's published versions, newest first, without their XML.
func (s *Store) Versions(ctx context.Context, key string) ([]Version, error) {
	cur, err := s.versions.Find(ctx, bson.D{{Key: "key", Value: key}},
		options.Find().SetSort(bson.D{{Key: "version", Value: -1}}).SetProjection(bson.D{{Key: "xml", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("processes: versions of %q: %w", key, err)
	}
	out := []Version{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("processes: versions of %q: %w", key, err)
	}
	return out, nil
}

// Version returns one published version with its XML; version 0 means the latest.
func (s *Store) Version(ctx context.Context, key string, version int) (Version, error) {
	if version == 0 {
		d, err := s.Get(ctx, key)
		if err != nil {
			return Version{}, err
		}
		if d.LatestVersion == 0 {
			return Version{}, fmt.Errorf("%w: %q has no published version", ErrNotFound, key)
		}
		version = d.LatestVersion
	}
	var v Version
	if err := s.versions.FindOne(ctx, bson.D{{Key: "_id", Value: key + "@" + strconv.Itoa(version)}}).Decode(&v); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Version{}, fmt.Errorf("%w: %q has no version %d", ErrNotFound, key, version)
		}
		return Version{}, fmt.Errorf("processes: get %q v%d: %w", key, version, err)
	}
	return v, nil
}

// Load compiles a published version (0 = latest); it is the interpreter's definition store.
func (s *Store) Load(ctx context.Context, key string, version int) (*bpmn.Model, int, error) {
	v, err := s.Version(ctx, key, version)
	if err != nil {
		return nil, 0, err
	}
	defs, err := bpmn.Parse(bytes.NewReader([]byte(v.XML)), MaxXMLSize)
	if err != nil {
		return nil, 0, fmt.Errorf("processes: parse %q v%d: %w", key, v.Version, err)
	}
	// Published versions were checked when published; compile without re-typing expressions so a later
	// schema change never makes a running version unloadable.
	model, problems := bpmn.CompileWith(defs, bpmn.Options{SkipExpressions: true})
	if len(problems) > 0 {
		return nil, 0, fmt.Errorf("processes: compile %q v%d: %w", key, v.Version, &InvalidError{Problems: problems})
	}
	return model, v.Version, nil
}
