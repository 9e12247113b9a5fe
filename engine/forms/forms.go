// Package forms keeps the public web forms analysts define on an entity — a web site's contact form
// that creates leads, a complaint form — and takes their submissions from anyone on the internet: only
// the allowed fields, from the allowed origins, within a per-address rate limit and a size limit, with
// a honeypot field that bots fill in. A submission becomes a record through the records store (the
// same validation, history and record triggers as the API), so the lead qualification and complaint
// processes start for it like for any other record. The answer never tells whether the record
// existed: a duplicate is accepted like a new one.
package forms

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/time/rate"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/schema"
)

// Limits every form lives within.
const (
	// MaxBytes is the largest submission any form accepts; a form may set less.
	MaxBytes = 64 << 10
	// DefaultMaxBytes applies when a form sets no size limit.
	DefaultMaxBytes = 16 << 10
	// DefaultRatePerMinute and DefaultBurst apply when a form sets no rate limit: submissions per
	// minute per client address, and how many may come at once.
	DefaultRatePerMinute = 5
	DefaultBurst         = 5
	maxBuckets           = 100_000
)

// Errors the API maps to statuses.
var (
	ErrNotFound = errors.New("no such form")
	ErrExists   = errors.New("a form with that key exists")
)

// Form is a public web form: which entity its submissions create, which fields a submission may carry
// and which it must, fixed values every submission gets (source "webForm"), the browser origins
// allowed to post it, the honeypot field, and its size and rate limits.
type Form struct {
	Key         string         `bson:"_id" json:"key" required:"false" pattern:"^[a-z][a-z0-9-]{0,63}$" doc:"Taken from the path when absent."`
	Entity      string         `bson:"entity" json:"entity" minLength:"1" maxLength:"64"`
	Description string         `bson:"description,omitempty" json:"description,omitempty" maxLength:"1000"`
	Fields      []string       `bson:"fields" json:"fields" maxItems:"100" doc:"The record fields a submission may set."`
	Required    []string       `bson:"required,omitempty" json:"required,omitempty" maxItems:"100" doc:"Fields every submission must fill."`
	Values      map[string]any `bson:"values,omitempty" json:"values,omitempty" doc:"Fields every submission's record gets, e.g. {\"source\": \"webForm\"}."`
	Origins     []string       `bson:"origins" json:"origins" required:"false" maxItems:"50" doc:"Browser origins allowed to post (https://www.example.com); empty accepts any."`
	Honeypot    string         `bson:"honeypot,omitempty" json:"honeypot,omitempty" maxLength:"64" doc:"A field hidden from people; a submission that fills it is dropped silently."`
	Redirect    string         `bson:"redirect,omitempty" json:"redirect,omitempty" maxLength:"2000" doc:"Where a plain HTML form post is sent after it was taken (303); JSON posts get 202."`
	MaxBytes    int            `bson:"maxBytes,omitempty" json:"maxBytes,omitempty" minimum:"0" maximum:"65536"`
	// RatePerMinute and Burst limit submissions per client address.
	RatePerMinute float64   `bson:"ratePerMinute,omitempty" json:"ratePerMinute,omitempty" minimum:"0" maximum:"600"`
	Burst         int       `bson:"burst,omitempty" json:"burst,omitempty" minimum:"0" maximum:"1000"`
	Disabled      bool      `bson:"disabled,omitempty" json:"disabled,omitempty"`
	UpdatedAt     time.Time `bson:"updatedAt,omitempty" json:"updatedAt,omitzero"`
	UpdatedBy     string    `bson:"updatedBy,omitempty" json:"updatedBy,omitempty"`
}

func (f *Form) maxBytes() int {
	if f.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return min(f.MaxBytes, MaxBytes)
}

// Problem is one thing wrong with a form definition or a submission, with the JSON pointer it is at.
type Problem struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// InvalidError lists every problem of a form definition or a submission.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Pointer + ": " + p.Message
	}
	return "invalid: " + strings.Join(msgs, "; ")
}

// OriginError refuses a submission from a page the form does not allow.
type OriginError struct{ Origin string }

func (e *OriginError) Error() string {
	if e.Origin == "" {
		return "the form accepts submissions only from its allowed origins, and the request names none"
	}
	return fmt.Sprintf("the form does not accept submissions from %s", e.Origin)
}

// RateLimitError refuses a submission over the per-address limit; RetryAfter says when one may come.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return "too many submissions from this address; try again later"
}

// TooLargeError refuses a submission over the form's size limit.
type TooLargeError struct{ Limit int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the submission exceeds the form's limit of %d bytes", e.Limit)
}

// Entities gives the current definition of an entity; records.Store implements it.
type Entities interface {
	Schema(ctx context.Context, name string) (records.SchemaInfo, error)
}

// Creator stores a submission as a record; records.Store implements it.
type Creator interface {
	Create(ctx context.Context, entity string, rec map[string]any, o records.WriteOptions) (records.CreateResult, error)
}

// Store keeps form definitions and takes submissions.
type Store struct {
	coll    *mongo.Collection
	schemas Entities
	records Creator
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New returns a store on db's "forms" collection.
func New(db *mongo.Database, schemas Entities, recs Creator) *Store {
	return &Store{coll: db.Collection("forms"), schemas: schemas, records: recs, now: time.Now, buckets: map[string]*rate.Limiter{}}
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// Check reports every problem of a form against its entity's current schema.
func (s *Store) Check(ctx context.Context, f *Form) error {
	var ps []Problem
	add := func(ptr, msg string) { ps = append(ps, Problem{ptr, msg}) }
	if !keyPattern.MatchString(f.Key) {
		add("/key", "must start with a lower-case letter and hold only a-z, 0-9 and - (at most 64)")
	}
	info, err := s.schemas.Schema(ctx, f.Entity)
	if errors.Is(err, records.ErrNotFound) {
		add("/entity", fmt.Sprintf("unknown entity %q", f.Entity))
		return &InvalidError{Problems: ps}
	}
	if err != nil {
		return fmt.Errorf("forms: entity %s: %w", f.Entity, err)
	}
	writable := func(name string) string {
		fd := info.Entity.Field(name)
		switch {
		case fd == nil:
			return fmt.Sprintf("%s has no field %q", f.Entity, name)
		case fd.ReadOnly:
			return fmt.Sprintf("%q is read-only", name)
		case name == "owner" || name == "team":
			return fmt.Sprintf("%q decides who sees the record; set it in values, not from the submission", name)
		}
		return ""
	}
	if len(f.Fields) == 0 {
		add("/fields", "a form needs at least one field")
	}
	for i, name := range f.Fields {
		if msg := writable(name); msg != "" {
			add(fmt.Sprintf("/fields/%d", i), msg)
		}
	}
	for i, name := range f.Required {
		if !slices.Contains(f.Fields, name) {
			add(fmt.Sprintf("/required/%d", i), fmt.Sprintf("%q is not one of the form's fields", name))
		}
	}
	for _, name := range sortedKeys(f.Values) {
		if info.Entity.Field(name) == nil {
			add("/values/"+name, fmt.Sprintf("%s has no field %q", f.Entity, name))
		}
	}
	if f.Honeypot != "" && (slices.Contains(f.Fields, f.Honeypot) || info.Entity.Field(f.Honeypot) != nil) {
		add("/honeypot", "the honeypot must be a field the record does not have, so people never fill it")
	}
	for i, o := range f.Origins {
		if normalOrigin(o) == "" {
			add(fmt.Sprintf("/origins/%d", i), fmt.Sprintf("%q is not an origin such as https://www.example.com", o))
		}
	}
	if f.Redirect != "" {
		if u, err := url.Parse(f.Redirect); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("/redirect", "must be an absolute http(s) URL")
		}
	}
	if f.MaxBytes < 0 || f.MaxBytes > MaxBytes {
		add("/maxBytes", fmt.Sprintf("must be between 0 (the default, %d) and %d", DefaultMaxBytes, MaxBytes))
	}
	if len(ps) > 0 {
		return &InvalidError{Problems: ps}
	}
	return nil
}

// normalOrigin returns scheme://host[:port] in lower case, or "" when s is not an origin.
func normalOrigin(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// Save creates (create true) or replaces a form after checking it.
func (s *Store) Save(ctx context.Context, f Form, by string, create bool) (Form, error) {
	if err := s.Check(ctx, &f); err != nil {
		return Form{}, err
	}
	for i, o := range f.Origins {
		f.Origins[i] = normalOrigin(o)
	}
	if f.Origins == nil {
		f.Origins = []string{}
	}
	f.UpdatedAt, f.UpdatedBy = s.now().UTC().Truncate(time.Millisecond), by
	if create {
		if _, err := s.coll.InsertOne(ctx, f); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return Form{}, fmt.Errorf("%w: %q", ErrExists, f.Key)
			}
			return Form{}, fmt.Errorf("forms: save %s: %w", f.Key, err)
		}
		return f, nil
	}
	res, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: f.Key}}, f)
	if err != nil {
		return Form{}, fmt.Errorf("forms: save %s: %w", f.Key, err)
	}
	if res.MatchedCount == 0 {
		return Form{}, fmt.Errorf("%w: %q", ErrNotFound, f.Key)
	}
	return f, nil
}

// Get returns one form.
func (s *Store) Get(ctx context.Context, key string) (Form, error) {
	var f Form
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&f); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Form{}, fmt.Errorf("%w: %q", ErrNotFound, key)
		}
		return Form{}, fmt.Errorf("forms: get %s: %w", key, err)
	}
	return f, nil
}

// List returns every form by key.
func (s *Store) List(ctx context.Context) ([]Form, error) {
	cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("forms: list: %w", err)
	}
	out := []Form{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("forms: list: %w", err)
	}
	return out, nil
}

// Delete removes a form; its records stay.
func (s *Store) Delete(ctx context.Context, key string) error {
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}})
	if err != nil {
		return fmt.Errorf("forms: delete %s: %w", key, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return nil
}

// Install stores a shipped form unless one with its key exists.
func (s *Store) Install(ctx context.Context, f Form) error {
	if _, err := s.Save(ctx, f, "system", true); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("install form %s: %w", f.Key, err)
	}
	return nil
}

// Submission is one post of a form as the transport received it.
type Submission struct {
	// Origin is the Origin header, or the origin of the Referer when there is none.
	Origin string
	// Client is the address the rate limit counts by.
	Client string
	// Size is the body's length in bytes.
	Size int
	// Fields are the submitted values: JSON values, or the strings of a urlencoded body (Strings true),
	// which are converted to the fields' types.
	Fields  map[string]any
	Strings bool
}

// Accepted is what a taken submission tells the submitter: nothing about the record.
type Accepted struct {
	// Redirect is where a plain HTML form post goes next, if the form names a page.
	Redirect string
}

// Submit takes a submission: the form must exist and be enabled, the origin be allowed, the client
// within its rate limit and the body within the size limit. A filled honeypot is accepted and dropped.
// Fields outside the form and missing required ones are an *InvalidError; so are values the schema
// refuses. A duplicate of an existing record is accepted like a new one.
func (s *Store) Submit(ctx context.Context, key string, sub Submission) (Accepted, error) {
	f, err := s.Get(ctx, key)
	if err != nil {
		return Accepted{}, err
	}
	if f.Disabled {
		return Accepted{}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	if sub.Size > f.maxBytes() {
		return Accepted{}, &TooLargeError{Limit: f.maxBytes()}
	}
	if len(f.Origins) > 0 {
		o := normalOrigin(sub.Origin)
		if o == "" || !slices.Contains(f.Origins, o) {
			return Accepted{}, &OriginError{Origin: sub.Origin}
		}
	}
	if wait := s.take(f, sub.Client); wait > 0 {
		return Accepted{}, &RateLimitError{RetryAfter: wait}
	}
	done := Accepted{Redirect: f.Redirect}
	if f.Honeypot != "" {
		if v, ok := sub.Fields[f.Honeypot]; ok && v != nil && v != "" {
			return done, nil
		}
	}
	info, err := s.schemas.Schema(ctx, f.Entity)
	if err != nil {
		return Accepted{}, fmt.Errorf("forms: entity %s: %w", f.Entity, err)
	}
	rec := map[string]any{}
	var ps []Problem
	for _, name := range sortedKeys(sub.Fields) {
		if name == f.Honeypot {
			continue
		}
		if !slices.Contains(f.Fields, name) {
			ps = append(ps, Problem{"/" + name, "the form has no such field"})
			continue
		}
		v := sub.Fields[name]
		if sub.Strings {
			var perr error
			if v, perr = fromString(info.Entity.Field(name), v); perr != nil {
				ps = append(ps, Problem{"/" + name, perr.Error()})
				continue
			}
		}
		if v != nil && v != "" {
			rec[name] = v
		}
	}
	for _, name := range f.Required {
		if _, ok := rec[name]; !ok {
			ps = append(ps, Problem{"/" + name, "is required"})
		}
	}
	if len(ps) > 0 {
		return Accepted{}, &InvalidError{Problems: ps}
	}
	for k, v := range f.Values {
		rec[k] = v
	}
	_, err = s.records.Create(ctx, f.Entity, rec, records.WriteOptions{Actor: records.ChangedBy{Via: "form:" + f.Key}})
	var de *records.DuplicateError
	var ve *records.ValidationError
	switch {
	case errors.As(err, &de):
		return done, nil // never reveal that the record exists
	case errors.As(err, &ve):
		out := &InvalidError{}
		for _, p := range ve.Problems {
			out.Problems = append(out.Problems, Problem{Pointer: p.Pointer, Message: p.Message})
		}
		return Accepted{}, out
	case err != nil:
		return Accepted{}, fmt.Errorf("forms: store the submission of %s: %w", f.Key, err)
	}
	return done, nil
}

// fromString converts a urlencoded value to the field's type.
func fromString(fd *schema.Field, v any) (any, error) {
	s, ok := v.(string)
	if !ok || fd == nil {
		return v, nil
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	switch fd.Type {
	case schema.TypeInteger:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errors.New("must be a whole number")
		}
		return n, nil
	case schema.TypeDecimal:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("must be a number")
		}
		return n, nil
	case schema.TypeBoolean:
		switch strings.ToLower(s) {
		case "on", "true", "yes", "1":
			return true, nil
		case "off", "false", "no", "0":
			return false, nil
		}
		return nil, errors.New("must be true or false")
	case schema.TypeList:
		return []any{s}, nil
	}
	return s, nil
}

// take spends one submission of the client's bucket for the form; it returns 0 when allowed, or how
// long until one would be.
func (s *Store) take(f Form, client string) time.Duration {
	perMinute, burst := f.RatePerMinute, f.Burst
	if perMinute <= 0 {
		perMinute = DefaultRatePerMinute
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	key := f.Key + "|" + client
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok || b.Limit() != rate.Limit(perMinute/60) || b.Burst() != burst {
		if len(s.buckets) >= maxBuckets {
			for k, old := range s.buckets {
				if old.TokensAt(now) >= float64(old.Burst()) {
					delete(s.buckets, k)
				}
			}
		}
		b = rate.NewLimiter(rate.Limit(perMinute/60), burst)
		s.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
