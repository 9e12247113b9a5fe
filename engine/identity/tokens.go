package identity

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rapportcrm/rapport/engine/storage"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Token prefixes tell session tokens, API tokens and CSRF tokens apart at a glance (and in secret scanners).
const (
	SessionPrefix  = "rps_"
	APITokenPrefix = "rpt_"
)

// lastUseGranularity bounds how often a token's last use is written: at most once per interval, so a busy
// integration does not turn every read into a write.
const lastUseGranularity = time.Minute

// APIToken is a long-lived credential for scripts and integrations. Only the SHA-256 digest of the secret
// is stored; its permissions are its scopes intersected with its owner's current permissions.
type APIToken struct {
	ID         string     `bson:"_id" json:"id"`
	Digest     string     `bson:"digest" json:"-"`
	Hint       string     `bson:"hint" json:"hint" doc:"The first characters of the token, to recognise it."`
	UserID     string     `bson:"userId" json:"userId"`
	Name       string     `bson:"name" json:"name"`
	Scopes     []string   `bson:"scopes" json:"scopes"`
	CreatedBy  string     `bson:"createdBy" json:"createdBy"`
	CreatedAt  time.Time  `bson:"createdAt" json:"createdAt"`
	ExpiresAt  time.Time  `bson:"expiresAt" json:"expiresAt"`
	RevokedAt  *time.Time `bson:"revokedAt,omitempty" json:"revokedAt,omitempty"`
	LastUsedAt *time.Time `bson:"lastUsedAt,omitempty" json:"lastUsedAt,omitempty"`
	LastUsedIP string     `bson:"lastUsedIp,omitempty" json:"lastUsedIp,omitempty"`
}

// NewAPIToken is what creating a token takes.
type NewAPIToken struct {
	UserID    string
	Name      string
	Scopes    []string
	CreatedBy string
	TTL       time.Duration
}

func (s *Store) tokens() *mongo.Collection { return s.users.Database().Collection("api_tokens") }

// EnsureTokenIndexes creates the unique digest index API tokens are looked up by.
func (s *Store) EnsureTokenIndexes(ctx context.Context) error {
	if err := storage.EnsureIndexes(ctx, s.tokens(),
		mongo.IndexModel{Keys: bson.D{{Key: "digest", Value: 1}}, Options: options.Index().SetUnique(true).SetName("digest_unique")},
		mongo.IndexModel{Keys: bson.D{{Key: "userId", Value: 1}}, Options: options.Index().SetName("user")},
	); err != nil {
		return fmt.Errorf("identity: create token indexes: %w", err)
	}
	return nil
}

// CreateAPIToken issues a token; the secret is returned once.
func (s *Store) CreateAPIToken(ctx context.Context, nt NewAPIToken) (string, *APIToken, error) {
	name := strings.TrimSpace(nt.Name)
	if name == "" || len(name) > 100 {
		return "", nil, fmt.Errorf("identity: token name must have 1-100 characters: %w", ErrInvalid)
	}
	if nt.TTL <= 0 {
		return "", nil, fmt.Errorf("identity: token expiry must be in the future: %w", ErrInvalid)
	}
	// The token names its own ID, so resolving it is one read by _id (O(1) on both stores) and the digest
	// is compared afterwards.
	id := uuid.NewString()
	secret, err := randomToken(APITokenPrefix + id + "_")
	if err != nil {
		return "", nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	t := &APIToken{
		ID: id, Digest: digest(secret), Hint: secret[:len(APITokenPrefix)+4], UserID: nt.UserID, Name: name,
		Scopes: nonNil(nt.Scopes), CreatedBy: nt.CreatedBy, CreatedAt: now, ExpiresAt: now.Add(nt.TTL),
	}
	if _, err := s.tokens().InsertOne(ctx, t); err != nil {
		return "", nil, fmt.Errorf("identity: insert token: %w", err)
	}
	return secret, t, nil
}

// APITokens lists a user's tokens, newest first, revoked ones included.
func (s *Store) APITokens(ctx context.Context, userID string) ([]APIToken, error) {
	cur, err := s.tokens().Find(ctx, bson.D{{Key: "userId", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("identity: list tokens: %w", err)
	}
	out := []APIToken{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("identity: decode tokens: %w", err)
	}
	return out, nil
}

// APIToken loads one token by ID.
func (s *Store) APIToken(ctx context.Context, id string) (*APIToken, error) {
	var t APIToken
	if err := s.tokens().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&t); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("identity: load token: %w", err)
	}
	return &t, nil
}

// RevokeAPIToken revokes a token at once; revoking twice is harmless.
func (s *Store) RevokeAPIToken(ctx context.Context, id string) error {
	defer s.forgetAll()
	res, err := s.tokens().UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revokedAt", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: s.now().UTC().Truncate(time.Millisecond)}}}})
	if err != nil {
		return fmt.Errorf("identity: revoke token: %w", err)
	}
	if res.MatchedCount == 0 {
		if _, err := s.APIToken(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Credential is what a request authenticated with: a session or an API token.
type Credential struct {
	// Kind is "session" or "token".
	Kind string
	// ID is the session's digest or the API token's ID.
	ID string
	// Scopes narrows an API token to named permissions; nil for sessions.
	Scopes []string
	// Session is set for sessions, for the CSRF check.
	Session *Session
}

// Credential kinds.
const (
	KindSession = "session"
	KindToken   = "token"
)

// resolve reads a bearer token (session or API token) and its user from the database, refusing unknown,
// expired or revoked tokens and disabled users. For API tokens it records the last use and the address it
// came from. until is when the credential itself expires.
func (s *Store) resolve(ctx context.Context, token, from string) (_ *User, _ *Credential, until time.Time, _ error) {
	if strings.HasPrefix(token, SessionPrefix) {
		u, sess, err := s.SessionUser(ctx, token)
		if err != nil {
			return nil, nil, time.Time{}, err
		}
		return u, &Credential{Kind: KindSession, ID: sess.ID, Session: sess}, sess.ExpiresAt, nil
	}
	if !strings.HasPrefix(token, APITokenPrefix) || len(token) > 128 {
		return nil, nil, time.Time{}, ErrUnauthenticated
	}
	var t APIToken
	// Tokens name their ID (rpt_<id>_<secret>): one read by _id. Older tokens are found by digest.
	filter := bson.D{{Key: "digest", Value: digest(token)}}
	if rest := token[len(APITokenPrefix):]; len(rest) > 37 && rest[36] == '_' {
		if _, err := uuid.Parse(rest[:36]); err == nil {
			filter = bson.D{{Key: "_id", Value: rest[:36]}}
		}
	}
	if err := s.tokens().FindOne(ctx, filter).Decode(&t); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, nil, time.Time{}, ErrUnauthenticated
		}
		return nil, nil, time.Time{}, fmt.Errorf("identity: load token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(t.Digest), []byte(digest(token))) != 1 {
		return nil, nil, time.Time{}, ErrUnauthenticated
	}
	now := s.now()
	if t.RevokedAt != nil || !now.Before(t.ExpiresAt) {
		return nil, nil, time.Time{}, ErrUnauthenticated
	}
	u, err := s.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	if u.Disabled {
		return nil, nil, time.Time{}, ErrUnauthenticated
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= lastUseGranularity || t.LastUsedIP != from {
		if _, err := s.tokens().UpdateOne(ctx, bson.D{{Key: "_id", Value: t.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "lastUsedAt", Value: now.UTC().Truncate(time.Millisecond)}, {Key: "lastUsedIp", Value: from},
		}}}); err != nil {
			return nil, nil, time.Time{}, fmt.Errorf("identity: record token use: %w", err)
		}
	}
	return u, &Credential{Kind: KindToken, ID: t.ID, Scopes: nonNil(t.Scopes)}, t.ExpiresAt, nil
}
