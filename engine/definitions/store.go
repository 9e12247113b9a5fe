// Package definitions keeps BPMN process definitions in MongoDB: one editable draft per process key and
// immutable published versions, each with its content hash, author and time. Running instances name the
// version they started with, so publishing never changes what is already running.
package definitions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/engine/tasktypes"
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
	Triggers []Trigger `bson:"triggers,omitempty" json:"triggers,omitempty"`
	// Catches are the record events (RecordEvent names) that instances of any published version wait
	// for, so a record change is delivered as a message only when some process listens.
	Catches []string `bson:"catches,omitempty" json:"catches,omitempty"`
	// CatchFilters are the record update events some published version waits for only when one of
	// the named fields changed (rapport:whenChanged on the message). A name also in Catches of any
	// process is delivered on every change.
	CatchFilters []CatchFilter `bson:"catchFilters,omitempty" json:"catchFilters,omitempty"`
	// Owners operate the process's instances (see OperableBy): "user:<id>" or "team:<id>".
	Owners    []string  `bson:"owners,omitempty" json:"owners"`
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
	// RunAs is the identity the version's instances act under.
	RunAs RunAs `bson:"runAs" json:"runAs"`
	// Requirements are the permissions the version's tasks need, element by element.
	Requirements []Requirement `bson:"requirements" json:"requirements"`
}

// EntityTypes resolves a record trigger's entity to the expression type of its records.
type EntityTypes = bpmn.EntityTypes

// Options wire a Store to the rest of Rapport; every field may be left empty.
type Options struct {
	// Entities types conditions over `record` in record-triggered processes.
	Entities EntityTypes
	// Authority decides run-as identities at publish time; nil publishes every version with the
	// publisher's first role, unchecked (tools and tests without roles).
	Authority Authority
	// OnPublish runs after a version became the latest (it schedules timer start events); what it
	// returns are warnings for the publisher, the version stays published.
	OnPublish func(ctx context.Context, v Version, m *bpmn.Model) []string
	// CheckTask validates each service task's configuration against deployment policy (the outbound
	// HTTP policy refuses URLs it would never call); a refusal is a problem naming the element.
	CheckTask func(taskType string, headers []bpmn.Header, inputs []bpmn.Mapping) error
	// Tasks is the task type catalogue (nil: tasktypes.Builtin()); TaskEnv what its checks look up
	// at deploy (entities, rule sets, connectors), so a task naming one that does not exist is refused.
	Tasks   *tasktypes.Registry
	TaskEnv tasktypes.Env
	// TaskTypes are the service task types the worker runs besides bpmn.BuiltinTaskTypes.
	TaskTypes []string
}

// Store reads and writes process definitions.
type Store struct {
	defs     *mongo.Collection
	versions *mongo.Collection
	opts     Options
	now      func() time.Time
	models   *modelCache
	// runAsCache holds RunAsOf answers by key@version.
	runAsCache sync.Map
}

// New returns a store on db.
func New(db *mongo.Database, opts Options) *Store {
	return &Store{defs: db.Collection("process_definitions"), versions: db.Collection("process_versions"), opts: opts,
		now: time.Now, models: &modelCache{max: 256, m: map[string]*bpmn.Model{}}}
}

// EnsureIndexes creates the unique (key, version) index; safe on every start.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if err := storage.EnsureIndexes(ctx, s.versions, mongo.IndexModel{
		Keys: bson.D{{Key: "key", Value: 1}, {Key: "version", Value: -1}}, Options: options.Index().SetUnique(true).SetName("key_version"),
	}); err != nil {
		return fmt.Errorf("processes: %w", err)
	}
	return nil
}

// Checked is a valid document: the model of every process it deploys (document order) and what
// deserves the analyst's attention.
type Checked struct {
	Models   []*bpmn.Model
	Warnings []bpmn.Problem
}

// Model returns the model of the process key, or nil.
func (c *Checked) Model(key string) *bpmn.Model {
	for _, m := range c.Models {
		if m.ProcessID == key {
			return m
		}
	}
	return nil
}

// ErrEmpty refuses a deployment without a document.
var ErrEmpty = errors.New("the request holds no BPMN document: send the XML of a <bpmn:definitions> as the body")

// Check parses, validates and compiles a document — every executable process of it — returning the
// models or every problem at once.
func (s *Store) Check(xml []byte) (*Checked, error) {
	if len(bytes.TrimSpace(xml)) == 0 {
		return nil, ErrEmpty
	}
	defs, err := bpmn.Parse(bytes.NewReader(xml), MaxXMLSize)
	if err != nil {
		return nil, err
	}
	models, problems, warnings := bpmn.CompileAll(defs, s.compileOptions())
	if len(problems) > 0 {
		return nil, &InvalidError{Problems: problems}
	}
	return &Checked{Models: models, Warnings: warnings}, nil
}

// compileOptions are the checks of a deployment: typed expressions, deployment policy and the task
// type catalogue with what it looks up.
func (s *Store) compileOptions() bpmn.Options {
	return bpmn.Options{CheckExpr: bpmn.DefaultExprChecker(s.opts.Entities), CheckTask: s.opts.CheckTask,
		Tasks: s.opts.Tasks, TaskEnv: s.opts.TaskEnv, CheckTaskTypes: true, TaskTypes: s.opts.TaskTypes}
}

// Deployed is what one upload stored: the draft of every process of the document, and the warnings.
type Deployed struct {
	Definitions []Definition
	Warnings    []bpmn.Problem
}

// Deploy stores a valid document as the draft of every process it deploys (each key is a BPMN process
// ID; a call activity and its callee often share a file). An invalid document is refused whole and
// changes nothing. The first deployer of a key owns it.
func (s *Store) Deploy(ctx context.Context, xml []byte, by string) (Deployed, error) {
	checked, err := s.Check(xml)
	if err != nil {
		return Deployed{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	out := Deployed{Warnings: checked.Warnings}
	for _, model := range checked.Models {
		var d Definition
		err = s.defs.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: model.ProcessID}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "name", Value: model.Name}, {Key: "draftHash", Value: model.Hash},
				{Key: "draftXml", Value: string(xml)}, {Key: "updatedAt", Value: now}, {Key: "updatedBy", Value: by}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "latestVersion", Value: 0}, {Key: "owners", Value: []string{OwnerUser + by}}}},
		}, options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
		if err != nil {
			return out, fmt.Errorf("processes: save draft of %s: %w", model.ProcessID, err)
		}
		out.Definitions = append(out.Definitions, d)
	}
	return out, nil
}

// PublishRequest says who publishes and which role the version's instances act with.
type PublishRequest struct {
	By Publisher
	// RunAsRole is the role of the version's service principal; "" picks the first of the publisher's
	// roles that grants every requirement within the publisher's reach.
	RunAsRole string
}

// Published is a published version and anything that needs attention after publishing.
type Published struct {
	Version
	Warnings []string `json:"warnings,omitempty" doc:"For example a timer start event whose schedule could not be created."`
}

// Publish makes the draft version N+1, running as a service principal the publisher vouches for (see
// RunAs): the publisher must hold every permission the process needs, and the chosen role must grant
// them on no more records than the publisher reaches. Publishing a draft identical to the latest
// version (with the same role, when one is asked for) returns that version instead of a copy, so a
// repeated publish is harmless. After the version is the latest, the trigger index follows it and
// Options.OnPublish schedules its timer starts.
func (s *Store) Publish(ctx context.Context, key string, req PublishRequest) (Published, error) {
	d, err := s.Get(ctx, key)
	if err != nil {
		return Published{}, err
	}
	if d.DraftXML == "" {
		return Published{}, ErrNoDraft
	}
	if d.LatestVersion > 0 {
		latest, err := s.Version(ctx, key, d.LatestVersion)
		if err != nil {
			return Published{}, err
		}
		if latest.Hash == d.DraftHash && (req.RunAsRole == "" || req.RunAsRole == latest.RunAs.Role) {
			return Published{Version: latest}, nil
		}
	}
	// The draft was valid when deployed, but the schemas it is typed against may have changed since.
	checked, err := s.Check([]byte(d.DraftXML))
	if err != nil {
		return Published{}, err
	}
	model := checked.Model(key)
	if model == nil {
		return Published{}, fmt.Errorf("%w: the draft of %q no longer defines that process", ErrNotFound, key)
	}
	reqs := Requirements(model)
	for attempt := 0; attempt < 5; attempt++ {
		n := d.LatestVersion + 1
		run, err := s.runAs(req, key, n, reqs)
		if err != nil {
			return Published{}, err
		}
		v := Version{ID: key + "@" + strconv.Itoa(n), Key: key, Version: n, Name: d.Name, Hash: d.DraftHash, XML: d.DraftXML,
			PublishedAt: s.now().UTC().Truncate(time.Millisecond), PublishedBy: req.By.UserID, RunAs: run, Requirements: reqs}
		if _, err := s.versions.InsertOne(ctx, v); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				// Another publish took this number; read the new latest and try the next.
				if d, err = s.Get(ctx, key); err != nil {
					return Published{}, err
				}
				continue
			}
			return Published{}, fmt.Errorf("processes: insert version: %w", err)
		}
		update := bson.D{{Key: "$set", Value: bson.D{{Key: "latestVersion", Value: n}, {Key: "triggers", Value: triggersOf(model, key, n)}}}}
		names, filters := catchesOf(model)
		add := bson.D{}
		if len(names) > 0 {
			add = append(add, bson.E{Key: "catches", Value: bson.D{{Key: "$each", Value: names}}})
		}
		if len(filters) > 0 {
			add = append(add, bson.E{Key: "catchFilters", Value: bson.D{{Key: "$each", Value: filters}}})
		}
		if len(add) > 0 {
			update = append(update, bson.E{Key: "$addToSet", Value: add})
		}
		if _, err := s.defs.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "latestVersion", Value: bson.D{{Key: "$lt", Value: n}}}}, update); err != nil {
			return Published{}, fmt.Errorf("processes: advance latest version: %w", err)
		}
		out := Published{Version: v}
		for _, w := range model.Warnings {
			out.Warnings = append(out.Warnings, w.String())
		}
		if s.opts.OnPublish != nil {
			out.Warnings = append(out.Warnings, s.opts.OnPublish(ctx, v, model)...)
		}
		return out, nil
	}
	return Published{}, errors.New("processes: publish kept colliding with concurrent publishes")
}

// runAs decides the identity of version n, checked by the Authority when there is one.
func (s *Store) runAs(req PublishRequest, key string, n int, reqs []Requirement) (RunAs, error) {
	if s.opts.Authority != nil {
		return grant(s.opts.Authority, req.By, req.RunAsRole, key, n, reqs)
	}
	role := req.RunAsRole
	if role == "" && len(req.By.Roles) > 0 {
		role = req.By.Roles[0]
	}
	return RunAs{Principal: PrincipalID(key, n), Role: role, Permissions: Permissions(reqs), Teams: req.By.Teams, Publisher: req.By.UserID}, nil
}

// Preview is what publishing a document would mean for a publisher: the permissions its tasks need
// (of every process it deploys), and either the identity it would run as or why the publisher may not
// publish it.
type Preview struct {
	// Model is the document's first process; Models all it deploys.
	Model        *bpmn.Model
	Models       []*bpmn.Model
	Warnings     []bpmn.Problem
	Requirements []Requirement
	RunAs        *RunAs
	Refusal      error
}

// Preview checks a document like Check and tells the publisher what publishing it would take.
func (s *Store) Preview(xml []byte, p Publisher, role string) (Preview, error) {
	checked, err := s.Check(xml)
	if err != nil {
		return Preview{}, err
	}
	model := checked.Models[0]
	out := Preview{Model: model, Models: checked.Models, Warnings: checked.Warnings, Requirements: Requirements(checked.Models...)}
	run, err := s.runAs(PublishRequest{By: p, RunAsRole: role}, model.ProcessID, 0, out.Requirements)
	if err != nil {
		out.Refusal = err
	} else {
		run.Principal = PrincipalPrefix + model.ProcessID + "@next"
		out.RunAs = &run
	}
	return out, nil
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

// CatchFilter is a record update event caught only when one of Fields changed: an update of other
// fields does not wake the waiting instances.
type CatchFilter struct {
	Message string   `bson:"message" json:"message"`
	Fields  []string `bson:"fields" json:"fields"`
}

// catchesOf lists the record events a model's catch events, receive tasks, boundary events and event
// sub-process starts wait for (top-level message starts are starts, not catches): the names caught on
// every change, and the update events caught only when named fields change (fields sorted, so the same
// filter is stored once).
func catchesOf(m *bpmn.Model) ([]string, []CatchFilter) {
	var names []string
	var filters []CatchFilter
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if n.Message == nil || n.Kind == bpmn.KindMessageThrow || (n.Kind == bpmn.KindStartMessage && n.Scope == 0) {
			continue
		}
		name := n.Message.Name
		if !strings.HasPrefix(name, bpmn.RecordEventPrefix) {
			continue
		}
		if len(n.Message.WhenChanged) == 0 {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
			continue
		}
		f := CatchFilter{Message: name, Fields: slices.Sorted(slices.Values(n.Message.WhenChanged))}
		f.Fields = slices.Compact(f.Fields)
		if !slices.ContainsFunc(filters, func(g CatchFilter) bool { return g.Message == f.Message && slices.Equal(g.Fields, f.Fields) }) {
			filters = append(filters, f)
		}
	}
	return names, filters
}

// Index is what record changes and messages are matched against: the start triggers of every latest
// version and the record events any published version catches.
type Index struct {
	Triggers []Trigger
	// Catches are the record events some instance may wait for.
	Catches []string
	// WhenChanged maps a record update event of Catches that every catch filters
	// (rapport:whenChanged) to the union of their fields: an update changing none of them wakes no
	// instance. An event absent here is delivered on every change.
	WhenChanged map[string][]string
}

// Delivers reports whether a record event reaches waiting instances: some process catches it and, for
// an update whose changed fields are known, one of them is a field its catches wait for. changed nil
// means unknown (every field may have changed).
func (idx Index) Delivers(name string, changed []string) bool {
	if !slices.Contains(idx.Catches, name) {
		return false
	}
	fields, filtered := idx.WhenChanged[name]
	if !filtered || changed == nil {
		return true
	}
	return slices.ContainsFunc(changed, func(f string) bool { return slices.Contains(fields, f) })
}

// Index reads the whole trigger index in one query; callers cache it briefly.
func (s *Store) Index(ctx context.Context) (Index, error) {
	cur, err := s.defs.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "triggers", Value: 1}, {Key: "catches", Value: 1}, {Key: "catchFilters", Value: 1}}).SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return Index{}, fmt.Errorf("processes: read trigger index: %w", err)
	}
	var defs []Definition
	if err := cur.All(ctx, &defs); err != nil {
		return Index{}, fmt.Errorf("processes: read trigger index: %w", err)
	}
	return indexOf(defs), nil
}

// indexOf merges the definitions' triggers and catches into one index. An update event some version
// catches without a filter (or that a definition stored before filters existed lists in Catches) is
// delivered on every change; otherwise it is filtered on the union of every version's fields.
func indexOf(defs []Definition) Index {
	var out Index
	everyChange := map[string]bool{}
	for _, d := range defs {
		out.Triggers = append(out.Triggers, d.Triggers...)
		for _, c := range d.Catches {
			everyChange[c] = true
			if !slices.Contains(out.Catches, c) {
				out.Catches = append(out.Catches, c)
			}
		}
	}
	for _, d := range defs {
		for _, f := range d.CatchFilters {
			if !slices.Contains(out.Catches, f.Message) {
				out.Catches = append(out.Catches, f.Message)
			}
			if everyChange[f.Message] {
				continue
			}
			if out.WhenChanged == nil {
				out.WhenChanged = map[string][]string{}
			}
			for _, field := range f.Fields {
				if !slices.Contains(out.WhenChanged[f.Message], field) {
					out.WhenChanged[f.Message] = append(out.WhenChanged[f.Message], field)
				}
			}
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

// Load compiles a published version (0 = latest); it is the interpreter's definition store and the
// starter's. Versions are immutable, so compiled models are cached by key and version.
func (s *Store) Load(ctx context.Context, key string, version int) (*bpmn.Model, int, error) {
	if version > 0 {
		if m := s.models.get(key, version); m != nil {
			return m, version, nil
		}
	}
	v, err := s.Version(ctx, key, version)
	if err != nil {
		return nil, 0, err
	}
	if m := s.models.get(key, v.Version); m != nil {
		return m, v.Version, nil
	}
	defs, err := bpmn.Parse(bytes.NewReader([]byte(v.XML)), MaxXMLSize)
	if err != nil {
		return nil, 0, fmt.Errorf("processes: parse %q v%d: %w", key, v.Version, err)
	}
	// Published versions were checked when published; compile without re-typing expressions so a later
	// schema change never makes a running version unloadable. A document may hold several processes.
	model, problems := bpmn.CompileWith(defs, bpmn.Options{ProcessID: key, SkipExpressions: true, Tasks: s.opts.Tasks, TaskTypes: s.opts.TaskTypes})
	if len(problems) > 0 {
		return nil, 0, fmt.Errorf("processes: compile %q v%d: %w", key, v.Version, &InvalidError{Problems: problems})
	}
	s.models.put(key, v.Version, model)
	return model, v.Version, nil
}

// modelCache keeps compiled published versions; callers must not change the models it returns.
type modelCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*bpmn.Model
	// order is insertion order, for evicting the oldest entry.
	order []string
}

func (c *modelCache) get(key string, version int) *bpmn.Model {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key+"@"+strconv.Itoa(version)]
}

func (c *modelCache) put(key string, version int, m *bpmn.Model) {
	id := key + "@" + strconv.Itoa(version)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[id] = m
	c.order = append(c.order, id)
}
