package identity

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// principal is a resolved credential as cached: the user (without its password hash), the credential
// and when the credential itself expires.
type principal struct {
	user  User
	cred  Credential
	until time.Time
}

// Resolve turns a bearer token (session or API token) into its user and credential, refusing unknown,
// expired or revoked tokens and disabled users. Every request calls it, so a resolved credential is
// reused for Options.PrincipalTTL: logout, password changes, user changes (roles, teams, disabling) and
// token revocations made through this Store drop it at once; made through another server they apply
// within the TTL. An API token's last use is recorded when it is read from the database.
func (s *Store) Resolve(ctx context.Context, token, from string) (*User, *Credential, error) {
	key := digest(token)
	if s.principals != nil {
		if p, ok := s.principals.Get(key); ok && s.now().Before(p.until) {
			u, c := p.user, p.cred
			return &u, &c, nil
		}
	}
	gen := s.fillGen.Load()
	u, cred, until, err := s.resolve(ctx, token, from)
	if err != nil {
		return nil, nil, err
	}
	if s.principals != nil {
		cached := principal{user: *u, cred: *cred, until: until}
		cached.user.PasswordHash = ""
		// A revocation that ran while the database was read must win: fill only when none did.
		s.fillMu.Lock()
		if s.fillGen.Load() == gen {
			s.principals.Set(key, cached)
		}
		s.fillMu.Unlock()
	}
	return u, cred, nil
}

// forgetAll drops every cached credential, after a change whose credentials are not known by key (a
// user's sessions and tokens): rare changes, after which each caller is resolved from the database once.
func (s *Store) forgetAll() {
	if s.principals == nil {
		return
	}
	s.fillMu.Lock()
	defer s.fillMu.Unlock()
	s.fillGen.Add(1)
	s.principals.Purge()
}

// forgetCredential drops the cached credential whose token digest is key.
func (s *Store) forgetCredential(key string) {
	if s.principals == nil {
		return
	}
	s.fillMu.Lock()
	defer s.fillMu.Unlock()
	s.fillGen.Add(1)
	s.principals.Delete(key)
}

// RevokeUserTokens revokes every API token of a user: a new password or disabling the account must not
// leave credentials the old owner of the password (or the former employee) could still use, and
// re-enabling the account does not bring them back.
func (s *Store) RevokeUserTokens(ctx context.Context, userID string) error {
	defer s.forgetAll()
	if _, err := s.tokens().UpdateMany(ctx, bson.D{{Key: "userId", Value: userID}, {Key: "revokedAt", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: s.now().UTC().Truncate(time.Millisecond)}}}}); err != nil {
		return fmt.Errorf("identity: revoke tokens: %w", err)
	}
	return nil
}
