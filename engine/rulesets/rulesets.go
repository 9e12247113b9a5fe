// Package rulesets stores rule sets and business calendars in MongoDB. A rule set has one draft that
// analysts edit freely and a series of published versions: publishing compiles the draft against the
// entity's current schema, runs its saved test cases and, only if all pass, inserts an immutable version
// with its author, time and content hash. Earlier versions stay readable so processes can pin one, and a
// rule set can be archived. Business calendars used by SLA policies and business-time helpers live here
// too, because rule sets are compiled with them.
//
// Like engine/records it relies only on single-document atomic writes and unique keys (no transactions),
// so several servers may share a database and FerretDB works as well as MongoDB.
package rulesets

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rules"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

// Collection names.
const (
	// Collection holds one document per rule set: its draft and bookkeeping.
	Collection = "rulesets"
	// VersionsCollection holds published versions; they are inserted once and never updated.
	VersionsCollection = "ruleset_versions"
	// CalendarsCollection holds the business calendars analysts maintain.
	CalendarsCollection = "calendars"
)

// Draft names the editable draft wherever a version is expected (diffs, evaluation).
const Draft = "draft"

// Errors the API maps to statuses.
var (
	// ErrNotFound: no such rule set, version or calendar.
	ErrNotFound = errors.New("not found")
	// ErrExists: a rule set or calendar with that key already exists.
	ErrExists = errors.New("already exists")
	// ErrConflict: the object was changed since the caller read it (stale revision), or another
	// publish of the same rule set won the race.
	ErrConflict = errors.New("changed by someone else since you read it; reload and retry")
	// ErrArchived: archived rule sets can be read but not changed, published or evaluated.
	ErrArchived = errors.New("the rule set is archived")
	// ErrNotPublished: the rule set has no published version yet.
	ErrNotPublished = errors.New("the rule set has no published version")
	// ErrUnchanged: publishing a draft identical to the latest version would create a duplicate.
	ErrUnchanged = errors.New("the draft is identical to the latest published version")
	// ErrInUse: a calendar named by a rule set cannot be deleted.
	ErrInUse = errors.New("in use")
)

// TestsFailedError refuses a publish because a saved test case fails (or there is none); Report says
// which and why so the editor can show it.
type TestsFailedError struct {
	Report *rules.TestReport
}

// Error summarises the failures.
func (e *TestsFailedError) Error() string {
	if e.Report == nil || len(e.Report.Results) == 0 {
		return "publishing needs at least one saved test case, and all must pass"
	}
	return fmt.Sprintf("%d of %d saved test cases fail", e.Report.Failed, e.Report.Passed+e.Report.Failed)
}

// Unwrap lets callers test for rules.ErrTestsFailed.
func (e *TestsFailedError) Unwrap() error { return rules.ErrTestsFailed }

// CalendarError lists everything wrong with a calendar definition.
type CalendarError struct {
	Err error
}

// Error explains the problem.
func (e *CalendarError) Error() string { return "invalid calendar: " + e.Err.Error() }

// Unwrap gives calendar.New's error.
func (e *CalendarError) Unwrap() error { return e.Err }

// Entities gives the current definition of an entity; *records.Store implements it. An unknown entity
// must yield an error wrapping records.ErrNotFound.
type Entities interface {
	Schema(ctx context.Context, name string) (records.SchemaInfo, error)
}

// Options configure a Store.
type Options struct {
	// Entities resolves the entity a rule set reads; required.
	Entities Entities
	// Now is the clock for publish and edit times; time.Now by default.
	Now func() time.Time
	// CacheTTL is how long a compiled published version is reused before it is compiled again against
	// the then-current schema and calendars; 5 seconds by default.
	CacheTTL time.Duration
}

// Store keeps rule sets, their versions and business calendars. It is safe for concurrent use.
type Store struct {
	db   *mongo.Database
	opts Options

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	compiled *rules.Compiled
	version  Version
	at       time.Time
}

// New returns a store over db.
func New(db *mongo.Database, opts Options) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 5 * time.Second
	}
	return &Store{db: db, opts: opts, cache: map[string]cached{}}
}

// Install creates the indexes listing and lookups use; it is idempotent.
func (s *Store) Install(ctx context.Context) error {
	if err := storage.EnsureIndexes(ctx, s.db.Collection(VersionsCollection), mongo.IndexModel{
		Keys: bson.D{{Key: "key", Value: 1}, {Key: "version", Value: -1}},
	}); err != nil {
		return fmt.Errorf("rule sets: %w", err)
	}
	return nil
}

// Version describes one published version without its content.
type Version struct {
	Key         string    `bson:"key" json:"key"`
	Version     int       `bson:"version" json:"version"`
	Hash        string    `bson:"hash" json:"hash" doc:"Content hash (sha256 of the canonical JSON)."`
	PublishedAt time.Time `bson:"publishedAt" json:"publishedAt"`
	PublishedBy string    `bson:"publishedBy" json:"publishedBy"`
	Note        string    `bson:"note,omitempty" json:"note,omitempty"`
}

// VersionInfo is a published version with its content.
type VersionInfo struct {
	Version
	RuleSet rules.RuleSet `json:"ruleSet"`
}

// Info is a rule set as the editor sees it: the draft, the published versions and who did what when.
type Info struct {
	Key         string        `json:"key"`
	Kind        rules.Kind    `json:"kind"`
	Entity      string        `json:"entity"`
	Description string        `json:"description,omitempty"`
	Draft       rules.RuleSet `json:"draft"`
	DraftHash   string        `json:"draftHash"`
	// Revision increases with every saved draft; send it back as If-Match to detect concurrent edits.
	Revision int64 `json:"revision"`
	// LatestVersion is the newest published version, 0 when none.
	LatestVersion int `json:"latestVersion"`
	// Published is true when the draft is identical to the latest published version.
	Published  bool       `json:"published"`
	Versions   []Version  `json:"versions"`
	CreatedAt  time.Time  `json:"createdAt"`
	CreatedBy  string     `json:"createdBy"`
	UpdatedAt  time.Time  `json:"updatedAt"`
	UpdatedBy  string     `json:"updatedBy"`
	Archived   bool       `json:"archived"`
	ArchivedAt *time.Time `json:"archivedAt,omitempty"`
	ArchivedBy string     `json:"archivedBy,omitempty"`
}

type headDoc struct {
	Key         string     `bson:"_id"`
	Kind        string     `bson:"kind"`
	Entity      string     `bson:"entity"`
	Description string     `bson:"description,omitempty"`
	Definition  string     `bson:"definition"`
	Hash        string     `bson:"hash"`
	Calendar    string     `bson:"calendar,omitempty"`
	Revision    int64      `bson:"revision"`
	Latest      int        `bson:"latestVersion"`
	CreatedAt   time.Time  `bson:"createdAt"`
	CreatedBy   string     `bson:"createdBy"`
	UpdatedAt   time.Time  `bson:"updatedAt"`
	UpdatedBy   string     `bson:"updatedBy"`
	Archived    bool       `bson:"archived"`
	ArchivedAt  *time.Time `bson:"archivedAt,omitempty"`
	ArchivedBy  string     `bson:"archivedBy,omitempty"`
}

type versionDoc struct {
	ID         string `bson:"_id"`
	Version    `bson:",inline"`
	Kind       string `bson:"kind"`
	Entity     string `bson:"entity"`
	Calendar   string `bson:"calendar,omitempty"`
	Definition string `bson:"definition"`
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

func (s *Store) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

func versionID(key string, n int) string { return key + "@" + strconv.Itoa(n) }

// Env builds the expression environment a rule set over entity compiles against: the entity's fields
// with their types and every stored business calendar. An unknown entity is a *rules.Error on "entity".
func (s *Store) Env(ctx context.Context, entity string) (*expression.Env, error) {
	if entity == "" {
		return nil, &rules.Error{Problems: []rules.Problem{{Path: "entity", Message: "is required: a rule set reads the records of an entity"}}}
	}
	info, err := s.opts.Entities.Schema(ctx, entity)
	if errors.Is(err, records.ErrNotFound) {
		return nil, &rules.Error{Problems: []rules.Problem{{Path: "entity", Message: fmt.Sprintf("unknown entity %q", entity)}}}
	}
	if err != nil {
		return nil, fmt.Errorf("load entity %q: %w", entity, err)
	}
	cals, err := s.compiledCalendars(ctx)
	if err != nil {
		return nil, err
	}
	return schema.EnvFor(info.Entity, expression.WithCalendars(cals)), nil
}

// Compile checks a rule set against its entity and the stored calendars. Problems come back as a
// *rules.Error with paths such as "rules[1].when" and positions inside the expression.
func (s *Store) Compile(ctx context.Context, rs *rules.RuleSet) (*rules.Compiled, error) {
	var problems []rules.Problem
	if !keyPattern.MatchString(rs.Key) {
		problems = append(problems, rules.Problem{Path: "key", Message: "must start with a lower-case letter and hold only a-z, 0-9, _ and - (at most 64)"})
	}
	env, err := s.Env(ctx, rs.Entity)
	var re *rules.Error
	if errors.As(err, &re) {
		return nil, &rules.Error{Problems: append(problems, re.Problems...)}
	}
	if err != nil {
		return nil, err
	}
	c, err := rules.Compile(rs, env)
	if errors.As(err, &re) {
		return nil, &rules.Error{Problems: append(problems, re.Problems...)}
	}
	if err != nil {
		return nil, fmt.Errorf("compile rule set %q: %w", rs.Key, err)
	}
	if len(problems) > 0 {
		return nil, &rules.Error{Problems: problems}
	}
	return c, nil
}

func slaCalendar(rs *rules.RuleSet) string {
	if rs.SLA != nil {
		return rs.SLA.Calendar
	}
	return ""
}

// Create saves a new rule set whose draft is rs; it must compile.
func (s *Store) Create(ctx context.Context, rs *rules.RuleSet, by string) (Info, error) {
	if _, err := s.Compile(ctx, rs); err != nil {
		return Info{}, err
	}
	def, hash, err := encode(rs)
	if err != nil {
		return Info{}, err
	}
	now := s.now()
	h := headDoc{
		Key: rs.Key, Kind: string(rs.Kind), Entity: rs.Entity, Description: rs.Description,
		Definition: def, Hash: hash, Calendar: slaCalendar(rs), Revision: 1,
		CreatedAt: now, CreatedBy: by, UpdatedAt: now, UpdatedBy: by,
	}
	if _, err := s.db.Collection(Collection).InsertOne(ctx, h); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return Info{}, fmt.Errorf("rule set %q: %w", rs.Key, ErrExists)
		}
		return Info{}, fmt.Errorf("insert rule set %q: %w", rs.Key, err)
	}
	return s.info(ctx, h)
}

// Update replaces the draft of rule set key. The key, kind and entity cannot change (processes refer to
// the key and expect its kind). A positive revision must match the stored one, or ErrConflict is
// returned and nothing is written.
func (s *Store) Update(ctx context.Context, key string, rs *rules.RuleSet, by string, revision int64) (Info, error) {
	h, err := s.head(ctx, key)
	if err != nil {
		return Info{}, err
	}
	if h.Archived {
		return Info{}, fmt.Errorf("rule set %q: %w", key, ErrArchived)
	}
	var problems []rules.Problem
	if rs.Key != key {
		problems = append(problems, rules.Problem{Path: "key", Message: fmt.Sprintf("must be %q: the key of a rule set cannot change", key)})
	}
	if string(rs.Kind) != h.Kind {
		problems = append(problems, rules.Problem{Path: "kind", Message: fmt.Sprintf("must be %q: create a new rule set for another kind", h.Kind)})
	}
	if rs.Entity != h.Entity {
		problems = append(problems, rules.Problem{Path: "entity", Message: fmt.Sprintf("must be %q: create a new rule set for another entity", h.Entity)})
	}
	if len(problems) > 0 {
		return Info{}, &rules.Error{Problems: problems}
	}
	if _, err := s.Compile(ctx, rs); err != nil {
		return Info{}, err
	}
	def, hash, err := encode(rs)
	if err != nil {
		return Info{}, err
	}
	filter := bson.D{{Key: "_id", Value: key}, {Key: "archived", Value: false}}
	if revision > 0 {
		filter = append(filter, bson.E{Key: "revision", Value: revision})
	}
	now := s.now()
	var out headDoc
	err = s.db.Collection(Collection).FindOneAndUpdate(ctx, filter, bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "definition", Value: def}, {Key: "hash", Value: hash}, {Key: "description", Value: rs.Description},
			{Key: "calendar", Value: slaCalendar(rs)}, {Key: "updatedAt", Value: now}, {Key: "updatedBy", Value: by},
		}},
		{Key: "$inc", Value: bson.D{{Key: "revision", Value: int64(1)}}},
	}, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Info{}, fmt.Errorf("rule set %q: %w", key, ErrConflict)
	}
	if err != nil {
		return Info{}, fmt.Errorf("update rule set %q: %w", key, err)
	}
	return s.info(ctx, out)
}

// Get returns a rule set with its draft and the list of published versions.
func (s *Store) Get(ctx context.Context, key string) (Info, error) {
	h, err := s.head(ctx, key)
	if err != nil {
		return Info{}, err
	}
	return s.info(ctx, h)
}

// List returns every rule set (archived ones only when asked), sorted by key, optionally only those
// of one entity. Versions are not listed; LatestVersion tells whether any exists.
func (s *Store) List(ctx context.Context, entity string, archived bool) ([]Info, error) {
	filter := bson.D{}
	if entity != "" {
		filter = append(filter, bson.E{Key: "entity", Value: entity})
	}
	if !archived {
		filter = append(filter, bson.E{Key: "archived", Value: false})
	}
	cur, err := s.db.Collection(Collection).Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list rule sets: %w", err)
	}
	var heads []headDoc
	if err := cur.All(ctx, &heads); err != nil {
		return nil, fmt.Errorf("list rule sets: %w", err)
	}
	out := make([]Info, 0, len(heads))
	for _, h := range heads {
		info, err := infoOf(h)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// GetVersion returns published version n of rule set key; n == 0 means the latest.
func (s *Store) GetVersion(ctx context.Context, key string, n int) (VersionInfo, error) {
	d, err := s.versionDoc(ctx, key, n)
	if err != nil {
		return VersionInfo{}, err
	}
	rs, err := decode(d.Definition)
	if err != nil {
		return VersionInfo{}, err
	}
	return VersionInfo{Version: d.Version, RuleSet: *rs}, nil
}

// Resolve returns the content of a version named as the API names them: "draft", "latest" or a
// version number.
func (s *Store) Resolve(ctx context.Context, key, version string) (*rules.RuleSet, error) {
	switch version {
	case Draft, "":
		h, err := s.head(ctx, key)
		if err != nil {
			return nil, err
		}
		return decode(h.Definition)
	case "latest":
		v, err := s.GetVersion(ctx, key, 0)
		if err != nil {
			return nil, err
		}
		return &v.RuleSet, nil
	}
	n, err := strconv.Atoi(version)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("version %q of rule set %q (want a number, \"latest\" or \"draft\"): %w", version, key, ErrNotFound)
	}
	v, err := s.GetVersion(ctx, key, n)
	if err != nil {
		return nil, err
	}
	return &v.RuleSet, nil
}

// Diff lists the changes from version a to version b (each "draft", "latest" or a number).
func (s *Store) Diff(ctx context.Context, key, a, b string) ([]rules.Change, error) {
	from, err := s.Resolve(ctx, key, a)
	if err != nil {
		return nil, err
	}
	to, err := s.Resolve(ctx, key, b)
	if err != nil {
		return nil, err
	}
	ch, err := rules.Diff(from, to)
	if err != nil {
		return nil, fmt.Errorf("diff rule set %q %s..%s: %w", key, a, b, err)
	}
	return ch, nil
}

// CompileDraft compiles the current draft of key.
func (s *Store) CompileDraft(ctx context.Context, key string) (*rules.Compiled, Info, error) {
	h, err := s.head(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	info, err := s.info(ctx, h)
	if err != nil {
		return nil, Info{}, err
	}
	c, err := s.Compile(ctx, &info.Draft)
	if err != nil {
		return nil, info, err
	}
	return c, info, nil
}

// Publish compiles the draft of key, runs its saved test cases at time now and, when all pass, saves it
// as the next immutable version by the user by. A positive revision must match the draft's, so what is
// published is what the publisher saw. Refusals: *rules.Error (does not compile), *TestsFailedError,
// ErrUnchanged, ErrArchived, ErrConflict.
func (s *Store) Publish(ctx context.Context, key, by, note string, revision int64, now time.Time) (VersionInfo, *rules.TestReport, error) {
	h, err := s.head(ctx, key)
	if err != nil {
		return VersionInfo{}, nil, err
	}
	if h.Archived {
		return VersionInfo{}, nil, fmt.Errorf("rule set %q: %w", key, ErrArchived)
	}
	if revision > 0 && revision != h.Revision {
		return VersionInfo{}, nil, fmt.Errorf("rule set %q: revision %d is not the current %d: %w", key, revision, h.Revision, ErrConflict)
	}
	rs, err := decode(h.Definition)
	if err != nil {
		return VersionInfo{}, nil, err
	}
	c, err := s.Compile(ctx, rs)
	if err != nil {
		return VersionInfo{}, nil, err
	}
	report, err := rules.CheckPublishable(c, now)
	if err != nil {
		return VersionInfo{}, report, &TestsFailedError{Report: report}
	}
	latest, err := s.versionDoc(ctx, key, 0)
	next := 1
	switch {
	case err == nil:
		if latest.Hash == h.Hash {
			return VersionInfo{}, report, fmt.Errorf("rule set %q version %d: %w", key, latest.Version.Version, ErrUnchanged)
		}
		next = latest.Version.Version + 1
	case !errors.Is(err, ErrNotPublished):
		return VersionInfo{}, report, err
	}
	d := versionDoc{
		ID: versionID(key, next),
		Version: Version{Key: key, Version: next, Hash: h.Hash, PublishedAt: s.now(), PublishedBy: by,
			Note: strings.TrimSpace(note)},
		Kind: h.Kind, Entity: h.Entity, Calendar: h.Calendar, Definition: h.Definition,
	}
	if _, err := s.db.Collection(VersionsCollection).InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return VersionInfo{}, report, fmt.Errorf("publish rule set %q version %d: %w", key, next, ErrConflict)
		}
		return VersionInfo{}, report, fmt.Errorf("publish rule set %q version %d: %w", key, next, err)
	}
	// The head's latestVersion is a convenience for listing; versions are the truth.
	if _, err := s.db.Collection(Collection).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: key}, {Key: "latestVersion", Value: bson.D{{Key: "$lt", Value: next}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "latestVersion", Value: next}}}}); err != nil {
		return VersionInfo{}, report, fmt.Errorf("record latest version of rule set %q: %w", key, err)
	}
	return VersionInfo{Version: d.Version, RuleSet: *rs}, report, nil
}

// Archive retires a rule set: it stays readable with all its versions, but can no longer be edited,
// published or evaluated.
func (s *Store) Archive(ctx context.Context, key, by string) (Info, error) {
	now := s.now()
	var out headDoc
	err := s.db.Collection(Collection).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: key}, {Key: "archived", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "archived", Value: true}, {Key: "archivedAt", Value: now}, {Key: "archivedBy", Value: by}}},
			{Key: "$inc", Value: bson.D{{Key: "revision", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if _, herr := s.head(ctx, key); herr != nil {
			return Info{}, herr
		}
		return Info{}, fmt.Errorf("rule set %q: %w", key, ErrArchived)
	}
	if err != nil {
		return Info{}, fmt.Errorf("archive rule set %q: %w", key, err)
	}
	s.forget(key)
	return s.info(ctx, out)
}

// Published returns the compiled published version n of key (0: the latest). Which version is the
// latest is read from the rule set's document on every call (one read), so a publish or archive through
// any server is seen at once; the compilation of a version, which never changes, is reused for
// Options.CacheTTL (after which it is compiled again against the then-current schema and calendars).
// Archived rule sets give ErrArchived.
func (s *Store) Published(ctx context.Context, key string, n int) (*rules.Compiled, Version, error) {
	h, err := s.head(ctx, key)
	if err != nil {
		return nil, Version{}, err
	}
	if h.Archived {
		return nil, Version{}, fmt.Errorf("rule set %q: %w", key, ErrArchived)
	}
	if n == 0 {
		if h.Latest == 0 {
			return nil, Version{}, fmt.Errorf("rule set %q: %w", key, ErrNotPublished)
		}
		n = h.Latest
	}
	ck := versionID(key, n)
	s.mu.Lock()
	e, ok := s.cache[ck]
	s.mu.Unlock()
	if ok && s.opts.Now().Sub(e.at) < s.opts.CacheTTL {
		return e.compiled, e.version, nil
	}
	d, err := s.versionDoc(ctx, key, n)
	if err != nil {
		return nil, Version{}, err
	}
	rs, err := decode(d.Definition)
	if err != nil {
		return nil, Version{}, err
	}
	c, err := s.Compile(ctx, rs)
	if err != nil {
		// A published version stops compiling when its schema or calendar changed incompatibly.
		return nil, Version{}, fmt.Errorf("rule set %q version %d no longer compiles: %w", key, d.Version.Version, err)
	}
	at := s.opts.Now()
	s.mu.Lock()
	for k, e := range s.cache {
		if at.Sub(e.at) >= s.opts.CacheTTL {
			delete(s.cache, k) // expired entries go when something new is compiled, so the cache stays small
		}
	}
	s.cache[ck] = cached{compiled: c, version: d.Version, at: at}
	s.mu.Unlock()
	return c, d.Version, nil
}

func (s *Store) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.cache {
		if strings.HasPrefix(k, key+"@") {
			delete(s.cache, k)
		}
	}
}

func (s *Store) head(ctx context.Context, key string) (headDoc, error) {
	var h headDoc
	err := s.db.Collection(Collection).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&h)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return h, fmt.Errorf("rule set %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return h, fmt.Errorf("read rule set %q: %w", key, err)
	}
	return h, nil
}

// versionDoc reads version n, or the latest when n == 0 (ErrNotPublished when there is none).
func (s *Store) versionDoc(ctx context.Context, key string, n int) (versionDoc, error) {
	var d versionDoc
	var err error
	if n > 0 {
		err = s.db.Collection(VersionsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: versionID(key, n)}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			if _, herr := s.head(ctx, key); herr != nil {
				return d, herr
			}
			return d, fmt.Errorf("rule set %q version %d: %w", key, n, ErrNotFound)
		}
	} else {
		err = s.db.Collection(VersionsCollection).FindOne(ctx, bson.D{{Key: "key", Value: key}},
			options.FindOne().SetSort(bson.D{{Key: "version", Value: -1}})).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			if _, herr := s.head(ctx, key); herr != nil {
				return d, herr
			}
			return d, fmt.Errorf("rule set %q: %w", key, ErrNotPublished)
		}
	}
	if err != nil {
		return d, fmt.Errorf("read rule set %q version: %w", key, err)
	}
	return d, nil
}

func (s *Store) versions(ctx context.Context, key string) ([]Version, error) {
	cur, err := s.db.Collection(VersionsCollection).Find(ctx, bson.D{{Key: "key", Value: key}},
		options.Find().SetSort(bson.D{{Key: "version", Value: -1}}).SetProjection(bson.D{{Key: "definition", Value: 0}}))
	if err != nil {
		return nil, fmt.Errorf("list versions of rule set %q: %w", key, err)
	}
	var docs []versionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list versions of rule set %q: %w", key, err)
	}
	out := make([]Version, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.Version)
	}
	return out, nil
}

func (s *Store) info(ctx context.Context, h headDoc) (Info, error) {
	info, err := infoOf(h)
	if err != nil {
		return Info{}, err
	}
	if info.Versions, err = s.versions(ctx, h.Key); err != nil {
		return Info{}, err
	}
	if len(info.Versions) > 0 {
		info.LatestVersion = info.Versions[0].Version
		info.Published = info.Versions[0].Hash == h.Hash
	}
	return info, nil
}

func infoOf(h headDoc) (Info, error) {
	rs, err := decode(h.Definition)
	if err != nil {
		return Info{}, fmt.Errorf("rule set %q: %w", h.Key, err)
	}
	return Info{
		Key: h.Key, Kind: rules.Kind(h.Kind), Entity: h.Entity, Description: h.Description,
		Draft: *rs, DraftHash: h.Hash, Revision: h.Revision, LatestVersion: h.Latest, Versions: []Version{},
		CreatedAt: h.CreatedAt, CreatedBy: h.CreatedBy, UpdatedAt: h.UpdatedAt, UpdatedBy: h.UpdatedBy,
		Archived: h.Archived, ArchivedAt: h.ArchivedAt, ArchivedBy: h.ArchivedBy,
	}, nil
}

// encode stores a rule set as its canonical JSON, which round-trips exactly (BSON would not keep the
// JSON field names and number types of free-form values such as outcomes and test inputs).
func encode(rs *rules.RuleSet) (def, hash string, err error) {
	b, err := rules.CanonicalJSON(rs)
	if err != nil {
		return "", "", fmt.Errorf("encode rule set %q: %w", rs.Key, err)
	}
	hash, err = rules.ContentHash(rs)
	if err != nil {
		return "", "", fmt.Errorf("hash rule set %q: %w", rs.Key, err)
	}
	return string(b), hash, nil
}

func decode(def string) (*rules.RuleSet, error) {
	rs, err := rules.ParseRuleSet([]byte(def))
	if err != nil {
		return nil, fmt.Errorf("decode stored rule set: %w", err)
	}
	return rs, nil
}

// sortedNames returns the keys of m in order, so output never depends on map iteration.
func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
