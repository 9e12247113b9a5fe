// Package audit keeps Rapport's append-only audit log in MongoDB: who did what to which object, when,
// from where, and what it looked like before and after. The package offers no way to change or delete an
// entry, and it strips anything that looks like a secret before it is stored, so the log can be shown
// to auditors as it is.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/storage"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Collection holds the audit entries.
const Collection = "audit_log"

// Actions recorded by the identity and access code. Other packages name their own in the same
// "<area>.<verb>" form, e.g. "schema.publish" or "instance.cancel".
const (
	LoginSucceeded   = "auth.login"
	LoginFailed      = "auth.login.failed"
	LoginLocked      = "auth.lockout"
	Logout           = "auth.logout"
	PasswordChanged  = "auth.password.change"
	CSRFRefused      = "auth.csrf.refused"
	UserCreated      = "user.create"
	UserUpdated      = "user.update"
	UserPasswordSet  = "user.password.reset"
	TeamCreated      = "team.create"
	TeamUpdated      = "team.update"
	TeamDeleted      = "team.delete"
	RoleCreated      = "role.create"
	RoleUpdated      = "role.update"
	RoleDeleted      = "role.delete"
	TokenCreated     = "token.create"
	TokenRevoked     = "token.revoke"
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeDenied    = "denied"
	maxDetailsLength = 64 << 10
)

// Actor is who acted: a user (through a session or an API token), a process, or the system.
type Actor struct {
	ID    string `bson:"id,omitempty" json:"id,omitempty"`
	Email string `bson:"email,omitempty" json:"email,omitempty"`
	// Via is "session", "token:<id>", "process:<id>" or "system".
	Via string `bson:"via,omitempty" json:"via,omitempty"`
}

// Target is the object acted on.
type Target struct {
	Type string `bson:"type" json:"type" doc:"Kind of object: user, team, role, token, schema, ruleset, process, instance, record:<entity>."`
	ID   string `bson:"id,omitempty" json:"id,omitempty"`
	Name string `bson:"name,omitempty" json:"name,omitempty"`
}

// Source is where the request came from.
type Source struct {
	IP        string `bson:"ip,omitempty" json:"ip,omitempty"`
	RequestID string `bson:"requestId,omitempty" json:"requestId,omitempty"`
}

// Event is one audit entry.
type Event struct {
	ID      string    `bson:"_id" json:"id" doc:"Time-ordered ID; also the paging cursor."`
	Time    time.Time `bson:"time" json:"time"`
	Action  string    `bson:"action" json:"action"`
	Outcome string    `bson:"outcome" json:"outcome" enum:"success,failure,denied"`
	Actor   Actor     `bson:"actor" json:"actor"`
	Target  Target    `bson:"target" json:"target"`
	Source  Source    `bson:"source" json:"source"`
	// Reason is the free text the actor gave (operations on running processes require one).
	Reason string `bson:"reason,omitempty" json:"reason,omitempty"`
	// Before and After hold the object around a change, with secrets removed.
	Before any `bson:"before,omitempty" json:"before,omitempty"`
	After  any `bson:"after,omitempty" json:"after,omitempty"`
	// Details holds anything else worth keeping, with secrets removed.
	Details map[string]any `bson:"details,omitempty" json:"details,omitempty"`
}

// Recorder appends audit entries. Schemas, rules, processes and records call it for every change.
// Record fills in ID and Time when they are empty.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Log is the MongoDB-backed audit log. It implements Recorder.
type Log struct {
	coll *mongo.Collection
	now  func() time.Time
}

// New returns the log on db; now may be nil (wall clock).
func New(db *mongo.Database, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{coll: db.Collection(Collection), now: now}
}

// EnsureIndexes creates the indexes the filters use; it is safe to call on every start.
func (l *Log) EnsureIndexes(ctx context.Context) error {
	if err := storage.EnsureIndexes(ctx, l.coll,
		mongo.IndexModel{Keys: bson.D{{Key: "actor.id", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("actor")},
		mongo.IndexModel{Keys: bson.D{{Key: "target.id", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("target")},
		mongo.IndexModel{Keys: bson.D{{Key: "action", Value: 1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("action")},
	); err != nil {
		return fmt.Errorf("audit: create indexes: %w", err)
	}
	return nil
}

// Record appends e after removing secrets from Before, After and Details.
func (l *Log) Record(ctx context.Context, e Event) error {
	if e.Action == "" {
		return errors.New("audit: event without action")
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	if e.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("audit: new ID: %w", err)
		}
		e.ID = id.String()
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeSuccess
	}
	var err error
	if e.Before, err = clean(e.Before); err != nil {
		return fmt.Errorf("audit: %s before: %w", e.Action, err)
	}
	if e.After, err = clean(e.After); err != nil {
		return fmt.Errorf("audit: %s after: %w", e.Action, err)
	}
	if e.Details != nil {
		d, err := clean(e.Details)
		if err != nil {
			return fmt.Errorf("audit: %s details: %w", e.Action, err)
		}
		e.Details, _ = d.(map[string]any)
	}
	if _, err := l.coll.InsertOne(ctx, e); err != nil {
		return fmt.Errorf("audit: append %s: %w", e.Action, err)
	}
	return nil
}

// secretKey matches field names whose values must never be stored: passwords, hashes, secrets, tokens
// (but not token IDs or hints), keys and credentials.
var secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|hash|credential|apikey|api_key|private|^token$|csrf|digest|^authorization$|cookie)`)

// clean turns v into plain JSON values and drops every secret-looking key at any depth.
func clean(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if len(raw) > maxDetailsLength {
		return map[string]any{"truncated": true, "size": len(raw)}, nil
	}
	var plain any
	if err := json.Unmarshal(raw, &plain); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return Redact(plain), nil
}

// Redact removes secret-looking keys (password, secret, token, hash, ...) from maps at any depth and
// returns v. Use it on anything logged, too.
func Redact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if secretKey.MatchString(k) {
				delete(x, k)
				continue
			}
			x[k] = Redact(child)
		}
	case []any:
		for i := range x {
			x[i] = Redact(x[i])
		}
	case string:
		if looksLikeToken(x) {
			return "[redacted]"
		}
	}
	return v
}

// looksLikeToken catches Rapport's own secrets by their prefixes wherever they appear.
func looksLikeToken(s string) bool {
	for _, p := range []string{"rps_", "rpt_", "rpc_", "$argon2"} {
		if strings.HasPrefix(s, p) && len(s) > len(p)+8 {
			return true
		}
	}
	return false
}

// Query filters the log. Zero fields do not filter.
type Query struct {
	ActorID  string
	Action   string // exact, or a prefix ending in "." (e.g. "auth.")
	TargetID string
	Target   string // target type
	Since    time.Time
	Until    time.Time
	// Before is the cursor: the ID of the last entry of the previous page.
	Before string
	Limit  int
}

// List returns entries newest first and the cursor for the next page ("" on the last page).
func (l *Log) List(ctx context.Context, q Query) ([]Event, string, error) {
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	filter := bson.D{}
	if q.ActorID != "" {
		filter = append(filter, bson.E{Key: "actor.id", Value: q.ActorID})
	}
	if q.Action != "" {
		if strings.HasSuffix(q.Action, ".") {
			filter = append(filter, bson.E{Key: "action", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(q.Action)}}})
		} else {
			filter = append(filter, bson.E{Key: "action", Value: q.Action})
		}
	}
	if q.TargetID != "" {
		filter = append(filter, bson.E{Key: "target.id", Value: q.TargetID})
	}
	if q.Target != "" {
		filter = append(filter, bson.E{Key: "target.type", Value: q.Target})
	}
	ids := bson.D{}
	if q.Before != "" {
		ids = append(ids, bson.E{Key: "$lt", Value: q.Before})
	}
	if len(ids) > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: ids})
	}
	times := bson.D{}
	if !q.Since.IsZero() {
		times = append(times, bson.E{Key: "$gte", Value: q.Since.UTC()})
	}
	if !q.Until.IsZero() {
		times = append(times, bson.E{Key: "$lt", Value: q.Until.UTC()})
	}
	if len(times) > 0 {
		filter = append(filter, bson.E{Key: "time", Value: times})
	}
	cur, err := l.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(q.Limit+1)))
	if err != nil {
		return nil, "", fmt.Errorf("audit: list: %w", err)
	}
	out := []Event{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, "", fmt.Errorf("audit: decode: %w", err)
	}
	next := ""
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].ID
	}
	for i := range out {
		out[i].Before, out[i].After = storage.Plain(out[i].Before), storage.Plain(out[i].After)
		if d, ok := storage.Plain(out[i].Details).(map[string]any); ok {
			out[i].Details = d
		}
	}
	return out, next, nil
}

// Discard is a Recorder that keeps nothing, for tests and tools without a database.
type Discard struct{}

// Record implements Recorder.
func (Discard) Record(context.Context, Event) error { return nil }
