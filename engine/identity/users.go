package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/alexedwards/argon2id"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MinPasswordLength is the shortest password accepted; length beats composition rules (NIST SP 800-63B).
const MinPasswordLength = 8

func checkPassword(pw string) error {
	if len(pw) < MinPasswordLength {
		return fmt.Errorf("identity: password must have at least %d characters: %w", MinPasswordLength, ErrInvalid)
	}
	if len(pw) > 1024 {
		return fmt.Errorf("identity: password must have at most 1024 characters: %w", ErrInvalid)
	}
	return nil
}

// randomToken returns prefix followed by 32 random bytes, URL-safe.
func randomToken(prefix string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("identity: generate token: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(raw), nil
}

// GeneratePassword returns a random password for an invited user or a reset, to be shown once.
func GeneratePassword() (string, error) {
	raw := make([]byte, 15)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("identity: generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// UserQuery selects users for the admin list; results are ordered by email.
type UserQuery struct {
	// Role and Team keep users holding that role or in that team.
	Role, Team string
	// After is the email of the last user of the previous page.
	After string
	// Limit caps the page.
	Limit int
}

// ListUsers returns one page of users ordered by email.
func (s *Store) ListUsers(ctx context.Context, q UserQuery) ([]User, error) {
	filter := bson.D{}
	if q.Role != "" {
		filter = append(filter, bson.E{Key: "roles", Value: q.Role})
	}
	if q.Team != "" {
		filter = append(filter, bson.E{Key: "teams", Value: q.Team})
	}
	if q.After != "" {
		filter = append(filter, bson.E{Key: "email", Value: bson.D{{Key: "$gt", Value: q.After}}})
	}
	cur, err := s.users.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "email", Value: 1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("identity: list users: %w", err)
	}
	out := []User{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("identity: decode users: %w", err)
	}
	return out, nil
}

// User loads a user by ID; ErrNotFound if there is none.
func (s *Store) User(ctx context.Context, id string) (*User, error) {
	u, err := s.UserByID(ctx, id)
	if errors.Is(err, ErrUnauthenticated) {
		return nil, ErrNotFound
	}
	return u, err
}

// UserChange is a partial update of a user; nil fields stay as they are.
type UserChange struct {
	Name     *string
	Roles    *[]string
	Teams    *[]string
	Disabled *bool
}

// UpdateUser applies a change and returns the user before and after it. Disabling a user also revokes
// its sessions and API tokens. A change that would leave no enabled administrator fails with
// ErrLastAdmin, also when two administrators demote each other at the same moment.
func (s *Store) UpdateUser(ctx context.Context, id string, ch UserChange) (before, after *User, err error) {
	cur, err := s.User(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	next := *cur
	if ch.Roles != nil {
		next.Roles = *ch.Roles
	}
	if ch.Disabled != nil {
		next.Disabled = *ch.Disabled
	}
	demoted := activeAdmin(cur) && !activeAdmin(&next)
	if demoted {
		if err := s.dismissAdmin(ctx, id); err != nil {
			return nil, nil, err
		}
	}
	defer s.forgetAll()
	set := bson.D{{Key: "updatedAt", Value: s.now().UTC().Truncate(time.Millisecond)}}
	if ch.Name != nil {
		set = append(set, bson.E{Key: "name", Value: *ch.Name})
	}
	if ch.Roles != nil {
		set = append(set, bson.E{Key: "roles", Value: nonNil(*ch.Roles)})
	}
	if ch.Teams != nil {
		set = append(set, bson.E{Key: "teams", Value: nonNil(*ch.Teams)})
	}
	if ch.Disabled != nil {
		set = append(set, bson.E{Key: "disabled", Value: *ch.Disabled})
	}
	var b User
	if err := s.users.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}}).Decode(&b); err != nil {
		if demoted {
			// The user was not changed: it stays an administrator the guard counts.
			_ = s.admitAdmin(ctx, id)
		}
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, nil, ErrNotFound
		}
		return nil, nil, fmt.Errorf("identity: update user: %w", err)
	}
	a, err := s.User(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if activeAdmin(a) {
		if err := s.admitAdmin(ctx, id); err != nil {
			return nil, nil, err
		}
	}
	if a.Disabled && !b.Disabled {
		if err := s.RevokeUserSessions(ctx, id, ""); err != nil {
			return nil, nil, err
		}
		if err := s.RevokeUserTokens(ctx, id); err != nil {
			return nil, nil, err
		}
	}
	return &b, a, nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// SetPassword replaces a user's password and revokes every session of the user except the one whose
// token is keep (empty revokes all) and every API token of the user: whoever knew the old password is
// logged out and keeps no credential minted with it.
func (s *Store) SetPassword(ctx context.Context, id, password, keep string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	hash, err := argon2id.CreateHash(password, s.params)
	if err != nil {
		return fmt.Errorf("identity: hash password: %w", err)
	}
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "passwordHash", Value: hash}, {Key: "updatedAt", Value: s.now().UTC().Truncate(time.Millisecond)},
	}}})
	if err != nil {
		return fmt.Errorf("identity: set password: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	if err := s.RevokeUserSessions(ctx, id, keep); err != nil {
		return err
	}
	return s.RevokeUserTokens(ctx, id)
}

// ChangePassword checks the current password before setting a new one, keeping the session keep.
func (s *Store) ChangePassword(ctx context.Context, id, current, password, keep string) error {
	u, err := s.User(ctx, id)
	if err != nil {
		return err
	}
	ok, err := argon2id.ComparePasswordAndHash(current, u.PasswordHash)
	if err != nil {
		return fmt.Errorf("identity: compare password: %w", err)
	}
	if !ok {
		return ErrInvalidCredentials
	}
	return s.SetPassword(ctx, id, password, keep)
}

// RevokeUserSessions revokes every session of the user except the one whose token is keep.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, keep string) error {
	defer s.forgetAll()
	filter := bson.D{{Key: "userId", Value: userID}, {Key: "revoked", Value: false}}
	if keep != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$ne", Value: digest(keep)}}})
	}
	if _, err := s.sessions.UpdateMany(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}}); err != nil {
		return fmt.Errorf("identity: revoke sessions: %w", err)
	}
	return nil
}

// VerifyCSRF reports whether value is the CSRF token issued with the session.
func VerifyCSRF(sess *Session, value string) bool {
	if sess == nil || sess.CSRFDigest == "" || value == "" || len(value) > 128 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sess.CSRFDigest), []byte(digest(value))) == 1
}

var teamID = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)

// Team is a group of users; records carry a team ID, and a role scoped to the team reaches the records
// of the user's teams.
type Team struct {
	ID          string    `bson:"_id" json:"id" doc:"Short lower-case identifier, stored in records' team field."`
	Name        string    `bson:"name" json:"name"`
	Description string    `bson:"description,omitempty" json:"description,omitempty"`
	CreatedAt   time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt   time.Time `bson:"updatedAt" json:"updatedAt"`
}

// ErrTeamInUse means a team still has members and cannot be deleted.
var ErrTeamInUse = errors.New("the team still has members")

// ErrTeamExists means a team with the ID exists.
var ErrTeamExists = errors.New("a team with this ID already exists")

func (s *Store) teams() *mongo.Collection { return s.users.Database().Collection("teams") }

// CreateTeam stores a new team.
func (s *Store) CreateTeam(ctx context.Context, t Team) (*Team, error) {
	if !teamID.MatchString(t.ID) {
		return nil, fmt.Errorf("identity: team ID %q must be 2-40 lower-case letters, digits or dashes: %w", t.ID, ErrInvalid)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	t.CreatedAt, t.UpdatedAt = now, now
	if _, err := s.teams().InsertOne(ctx, t); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, ErrTeamExists
		}
		return nil, fmt.Errorf("identity: insert team: %w", err)
	}
	return &t, nil
}

// Teams lists every team by ID.
func (s *Store) Teams(ctx context.Context) ([]Team, error) {
	cur, err := s.teams().Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(10000))
	if err != nil {
		return nil, fmt.Errorf("identity: list teams: %w", err)
	}
	out := []Team{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("identity: decode teams: %w", err)
	}
	return out, nil
}

// Team loads one team.
func (s *Store) Team(ctx context.Context, id string) (*Team, error) {
	var t Team
	if err := s.teams().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&t); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("identity: load team: %w", err)
	}
	return &t, nil
}

// UpdateTeam changes a team's name and description and returns it before and after.
func (s *Store) UpdateTeam(ctx context.Context, id, name, description string) (before, after *Team, err error) {
	var b Team
	if err := s.teams().FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "name", Value: name}, {Key: "description", Value: description},
		{Key: "updatedAt", Value: s.now().UTC().Truncate(time.Millisecond)},
	}}}).Decode(&b); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, nil, ErrNotFound
		}
		return nil, nil, fmt.Errorf("identity: update team: %w", err)
	}
	a, err := s.Team(ctx, id)
	return &b, a, err
}

// DeleteTeam removes a team without members and returns it.
func (s *Store) DeleteTeam(ctx context.Context, id string) (*Team, error) {
	n, err := s.users.CountDocuments(ctx, bson.D{{Key: "teams", Value: id}})
	if err != nil {
		return nil, fmt.Errorf("identity: count team members: %w", err)
	}
	if n > 0 {
		return nil, ErrTeamInUse
	}
	var t Team
	if err := s.teams().FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&t); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("identity: delete team: %w", err)
	}
	return &t, nil
}

// CheckTeams reports ErrNotFound naming the first team ID that does not exist.
func (s *Store) CheckTeams(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if _, err := s.Team(ctx, id); err != nil {
			return fmt.Errorf("team %q: %w", id, err)
		}
	}
	return nil
}
