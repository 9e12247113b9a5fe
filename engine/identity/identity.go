// Package identity stores Rapport's users and their login sessions in MongoDB. Passwords are kept only as
// argon2id hashes and session tokens only as SHA-256 digests, so a copy of the database holds nothing a
// thief could log in with.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/google/uuid"

	"github.com/rapportcrm/rapport/engine/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Errors callers map to HTTP statuses; they never say whether an email exists.
var (
	// ErrInvalidCredentials covers an unknown email, a wrong password and a disabled account alike.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrUnauthenticated means a token is unknown, expired, revoked, or belongs to a disabled user.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrEmailTaken means another user already has the email.
	ErrEmailTaken = errors.New("email is already in use")
	// ErrNotFound means the user, team or token named does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid wraps input the store refuses (a short password, a malformed email or team ID).
	ErrInvalid = errors.New("invalid")
)

// RoleAdmin is the built-in role that may do everything; the bootstrap user gets it.
const RoleAdmin = "admin"

// User is a person or integration that can log in.
type User struct {
	ID           string    `bson:"_id" json:"id"`
	Email        string    `bson:"email" json:"email"`
	Name         string    `bson:"name" json:"name"`
	Roles        []string  `bson:"roles" json:"roles"`
	Teams        []string  `bson:"teams,omitempty" json:"teams"`
	Disabled     bool      `bson:"disabled" json:"disabled"`
	PasswordHash string    `bson:"passwordHash" json:"-"`
	CreatedAt    time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt    time.Time `bson:"updatedAt" json:"updatedAt"`
}

// Session is one login: the token's digest, whose it is and until when it is valid.
type Session struct {
	ID        string    `bson:"_id"` // hex SHA-256 of the token
	UserID    string    `bson:"userId"`
	CreatedAt time.Time `bson:"createdAt"`
	ExpiresAt time.Time `bson:"expiresAt"`
	Revoked   bool      `bson:"revoked"`
	// CSRFDigest is the SHA-256 of the session's CSRF token; a cookie-authenticated change must send the
	// token in a header.
	CSRFDigest string `bson:"csrf,omitempty"`
	// CSRF is the CSRF token itself, set only on the session CreateSession returns.
	CSRF string `bson:"-"`
}

// NewUser is what creating a user takes.
type NewUser struct {
	Email    string
	Name     string
	Password string
	Roles    []string
	Teams    []string
}

// Store reads and writes users and sessions.
type Store struct {
	users    *mongo.Collection
	sessions *mongo.Collection
	prefs    *mongo.Collection
	now      func() time.Time
	params   *argon2id.Params
	// dummyHash is compared against when an email is unknown, so the response time does not reveal
	// whether the account exists.
	dummyHash string
	// backend makes the login counters and the last-administrator guard race-free on both stores.
	backend *storage.Backend
	// principals caches resolved credentials; see Options.PrincipalTTL.
	principals *storage.TTLCache[string, principal]
	// fillMu and fillGen keep a revocation from being undone by a Resolve that read the database
	// before it: a fill happens only when no revocation ran meanwhile.
	fillMu  sync.Mutex
	fillGen atomic.Uint64
	// sweeps counts login attempts, to clear expired failure counters now and then.
	sweeps atomic.Int64
}

// Options tune a Store; the zero value is usable.
type Options struct {
	// Now is the clock; nil is the wall clock.
	Now func() time.Time
	// Backend says whether db is MongoDB or the embedded FerretDB, which decides how single-document
	// updates are made atomic (see storage.Mutate); nil asks the server (storage.Detect) on first use.
	Backend *storage.Backend
	// PrincipalTTL is how long a resolved session or API token (with its user) is reused without reading
	// the database; DefaultPrincipalTTL when zero, no caching when negative. Logout, password changes,
	// user changes and revocations made through this Store apply at once; made through another server
	// they apply within this time.
	PrincipalTTL time.Duration
}

// DefaultPrincipalTTL bounds how long another server may keep accepting a credential revoked elsewhere.
const DefaultPrincipalTTL = 5 * time.Second

// NewStore prepares a store on db.
func NewStore(db *mongo.Database, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PrincipalTTL == 0 {
		opts.PrincipalTTL = DefaultPrincipalTTL
	}
	params := &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}
	dummy, err := argon2id.CreateHash("rapport-dummy-password", params)
	if err != nil {
		return nil, fmt.Errorf("identity: prepare dummy hash: %w", err)
	}
	s := &Store{users: db.Collection("users"), sessions: db.Collection("sessions"), prefs: db.Collection(PreferencesCollection), now: opts.Now, params: params, dummyHash: dummy,
		backend: opts.Backend}
	if s.backend == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if s.backend, err = storage.Detect(ctx, db); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
	}
	if opts.PrincipalTTL > 0 {
		s.principals = storage.NewTTLCache[string, principal](opts.PrincipalTTL, 50_000)
		s.principals.SetClock(opts.Now)
	}
	return s, nil
}

// EnsureIndexes creates the indexes the store relies on (a unique email); it is safe to call on every start.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	if err := storage.EnsureIndexes(ctx, s.users, mongo.IndexModel{
		Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique"),
	}); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if err := storage.EnsureIndexes(ctx, s.sessions, mongo.IndexModel{
		Keys: bson.D{{Key: "userId", Value: 1}}, Options: options.Index().SetName("user"),
	}); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	return s.EnsureTokenIndexes(ctx)
}

// NormalizeEmail is the one form in which emails are stored and looked up.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser stores a new user with a hashed password.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (*User, error) {
	email := NormalizeEmail(nu.Email)
	if email == "" || !strings.Contains(email, "@") {
		return nil, fmt.Errorf("identity: email %q: %w", nu.Email, ErrInvalid)
	}
	if err := checkPassword(nu.Password); err != nil {
		return nil, err
	}
	hash, err := argon2id.CreateHash(nu.Password, s.params)
	if err != nil {
		return nil, fmt.Errorf("identity: hash password: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	roles := nu.Roles
	if roles == nil {
		roles = []string{}
	}
	u := &User{ID: uuid.NewString(), Email: email, Name: nu.Name, Roles: roles, Teams: nu.Teams, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if _, err := s.users.InsertOne(ctx, u); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, ErrEmailTaken
		}
		return nil, fmt.Errorf("identity: insert user: %w", err)
	}
	if activeAdmin(u) {
		if err := s.admitAdmin(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// UserByID loads a user; ErrUnauthenticated if there is none.
func (s *Store) UserByID(ctx context.Context, id string) (*User, error) {
	var u User
	if err := s.users.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&u); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, ErrUnauthenticated
		}
		return nil, fmt.Errorf("identity: load user: %w", err)
	}
	return &u, nil
}

// UserByEmail loads the user with an email address (compared normalised); ErrNotFound if there is none.
// Notifications sent to an address reach the user who has it.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	if err := s.users.FindOne(ctx, bson.D{{Key: "email", Value: NormalizeEmail(email)}}).Decode(&u); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("identity: load user: %w", err)
	}
	return &u, nil
}

// CountUsers tells whether the installation has been bootstrapped.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	n, err := s.users.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("identity: count users: %w", err)
	}
	return n, nil
}

// Authenticate checks an email and password and returns the user.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	var u User
	err := s.users.FindOne(ctx, bson.D{{Key: "email", Value: NormalizeEmail(email)}}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		_, _ = argon2id.ComparePasswordAndHash(password, s.dummyHash)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("identity: load user: %w", err)
	}
	ok, err := argon2id.ComparePasswordAndHash(password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("identity: compare password: %w", err)
	}
	if !ok || u.Disabled {
		return nil, ErrInvalidCredentials
	}
	return &u, nil
}

// CreateSession issues a new bearer token for userID valid for ttl. The token is returned once and only
// its digest is stored.
func (s *Store) CreateSession(ctx context.Context, userID string, ttl time.Duration) (string, *Session, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("identity: generate token: %w", err)
	}
	token := "rps_" + base64.RawURLEncoding.EncodeToString(raw)
	csrf, err := randomToken("rpc_")
	if err != nil {
		return "", nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	sess := &Session{ID: digest(token), UserID: userID, CreatedAt: now, ExpiresAt: now.Add(ttl), CSRFDigest: digest(csrf), CSRF: csrf}
	if _, err := s.sessions.InsertOne(ctx, sess); err != nil {
		return "", nil, fmt.Errorf("identity: insert session: %w", err)
	}
	return token, sess, nil
}

// SessionUser resolves a bearer token to its session and user, refusing expired or revoked sessions and
// disabled users at once.
func (s *Store) SessionUser(ctx context.Context, token string) (*User, *Session, error) {
	if !strings.HasPrefix(token, "rps_") || len(token) > 128 {
		return nil, nil, ErrUnauthenticated
	}
	id := digest(token)
	var sess Session
	if err := s.sessions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&sess); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, nil, ErrUnauthenticated
		}
		return nil, nil, fmt.Errorf("identity: load session: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(sess.ID), []byte(id)) != 1 || sess.Revoked || !s.now().Before(sess.ExpiresAt) {
		return nil, nil, ErrUnauthenticated
	}
	u, err := s.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, ErrUnauthenticated
	}
	return u, &sess, nil
}

// RevokeSession ends the session the token belongs to.
func (s *Store) RevokeSession(ctx context.Context, token string) error {
	id := digest(token)
	defer s.forgetCredential(id)
	if _, err := s.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}}); err != nil {
		return fmt.Errorf("identity: revoke session: %w", err)
	}
	return nil
}

// Bootstrap creates the first administrator when there is no user at all. If password is empty a random one
// is generated and returned, so the caller can print it once. It returns created=false when users exist.
func (s *Store) Bootstrap(ctx context.Context, email, password string) (created bool, generated string, err error) {
	n, err := s.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		raw := make([]byte, 15)
		if _, err := rand.Read(raw); err != nil {
			return false, "", fmt.Errorf("identity: generate password: %w", err)
		}
		password = base64.RawURLEncoding.EncodeToString(raw)
		generated = password
	}
	if _, err := s.CreateUser(ctx, NewUser{Email: email, Name: "Administrator", Password: password, Roles: []string{RoleAdmin}}); err != nil {
		if errors.Is(err, ErrEmailTaken) {
			// Another server bootstrapped at the same moment.
			return false, "", nil
		}
		return false, "", err
	}
	return true, generated, nil
}

func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
