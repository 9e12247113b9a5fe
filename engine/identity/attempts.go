package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/storage"
)

// Login limits. Failures are counted in the database, so the limits hold across parallel requests and
// across servers, within LoginWindow:
//
//   - PairMaxFailures for one account from one client address: the lockout a guesser meets. The account's
//     owner, coming from another address, can still log in.
//   - AddressMaxFailures from one address across accounts (password spraying).
//   - AccountMaxFailures for one account across addresses (a guesser spread over many addresses).
//
// An attempt counts before the password is checked, so parallel guesses cannot all slip through the
// check; a correct password gives its count back. Behind a reverse proxy every client has the proxy's
// address unless the proxy is trusted (api.Deps.TrustedProxies); otherwise one guesser locks the address
// limit for everybody.
const (
	LoginWindow        = 15 * time.Minute
	PairMaxFailures    = 5
	AddressMaxFailures = 30
	AccountMaxFailures = 100
)

// loginFailuresCollection holds one document per counted key (pair, address, account).
const loginFailuresCollection = "login_failures"

// LockedError refuses a login attempt because a limit is reached; RetryAfter says when one failure ages out.
type LockedError struct {
	RetryAfter time.Duration
	// Limit names what is locked: "account and address", "address" or "account".
	Limit string
}

// Error implements error.
func (e *LockedError) Error() string {
	return fmt.Sprintf("too many failed logins for this %s; try again in %s", e.Limit, e.RetryAfter.Round(time.Second))
}

// failure is one counted attempt; ID lets a successful attempt take exactly its own count back.
type failure struct {
	ID string    `bson:"id"`
	At time.Time `bson:"at"`
}

// failures is the counter document of one key.
type failures struct {
	List  []failure `bson:"list"`
	Until time.Time `bson:"until"`
}

// LoginAttempt is one counted attempt; call Failed or Succeeded once the password has been checked.
type LoginAttempt struct {
	s    *Store
	id   string
	keys []string
	// locks lists the limits this attempt reaches if it fails.
	locks []string
}

type limitKey struct {
	key, name string
	max       int
}

// BeginLogin counts an attempt to log in as email from address ip before the password is checked. It
// returns a *LockedError when a limit is already reached; nothing is counted then.
func (s *Store) BeginLogin(ctx context.Context, email, ip string) (*LoginAttempt, error) {
	email = NormalizeEmail(email)
	id, err := randomToken("")
	if err != nil {
		return nil, err
	}
	a := &LoginAttempt{s: s, id: id}
	limits := []limitKey{
		{"pair:" + email + "|" + ip, "account and address", PairMaxFailures},
		{"address:" + ip, "address", AddressMaxFailures},
		{"account:" + email, "account", AccountMaxFailures},
	}
	if s.sweeps.Add(1)%1000 == 0 {
		s.sweepLoginFailures(ctx)
	}
	for _, l := range limits {
		reached, err := s.countFailure(ctx, l, id)
		if err != nil {
			a.release(ctx)
			return nil, err
		}
		a.keys = append(a.keys, l.key)
		if reached {
			a.locks = append(a.locks, l.name)
		}
	}
	return a, nil
}

// countFailure adds the attempt to key's counter unless the limit is reached; reached reports whether
// this attempt fills it.
func (s *Store) countFailure(ctx context.Context, l limitKey, id string) (reached bool, err error) {
	_, err = storage.Mutate(ctx, s.backend, s.loginFailures(), l.key, func(f failures, _ bool) (failures, storage.Op, error) {
		now := s.now()
		f.List = slices.DeleteFunc(f.List, func(x failure) bool { return now.Sub(x.At) >= LoginWindow })
		if len(f.List) >= l.max {
			wait := f.List[len(f.List)-l.max].At.Add(LoginWindow).Sub(now)
			return f, storage.Skip, &LockedError{RetryAfter: wait, Limit: l.name}
		}
		f.List = append(f.List, failure{ID: id, At: now.UTC()})
		f.Until = now.Add(LoginWindow).UTC()
		reached = len(f.List) == l.max
		return f, storage.Write, nil
	})
	return reached, err
}

// Failed keeps the attempt counted (the password was wrong) and reports the limits it filled, so the
// lockout is audited once, when it happens.
func (a *LoginAttempt) Failed() (locked []string) { return a.locks }

// Succeeded gives the attempt's counts back and clears the account's failures from this address and
// from everywhere: whoever knows the password is not a guesser. The address's count of failures on
// other accounts stays.
func (a *LoginAttempt) Succeeded(ctx context.Context) error {
	a.release(ctx)
	for _, key := range a.keys {
		if strings.HasPrefix(key, "address:") {
			continue
		}
		if _, err := storage.Mutate(ctx, a.s.backend, a.s.loginFailures(), key, func(f failures, exists bool) (failures, storage.Op, error) {
			if !exists {
				return f, storage.Skip, nil
			}
			return f, storage.Delete, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// Abandon gives the attempt's counts back when the password could not be checked at all (an internal
// error): it was no guess.
func (a *LoginAttempt) Abandon(ctx context.Context) { a.release(ctx) }

func (a *LoginAttempt) release(ctx context.Context) {
	for _, key := range a.keys {
		_, _ = storage.Mutate(ctx, a.s.backend, a.s.loginFailures(), key, func(f failures, exists bool) (failures, storage.Op, error) {
			n := len(f.List)
			f.List = slices.DeleteFunc(f.List, func(x failure) bool { return x.ID == a.id })
			switch {
			case !exists || n == len(f.List):
				return f, storage.Skip, nil
			case len(f.List) == 0:
				return f, storage.Delete, nil
			}
			return f, storage.Write, nil
		})
	}
}

func (s *Store) loginFailures() *mongo.Collection {
	return s.users.Database().Collection(loginFailuresCollection)
}

// sweepLoginFailures drops counters whose failures have all aged out, so the collection stays as small as
// the set of recent guessers.
func (s *Store) sweepLoginFailures(ctx context.Context) {
	_, _ = s.loginFailures().DeleteMany(ctx, bson.D{{Key: "v.until", Value: bson.D{{Key: "$lt", Value: s.now().UTC()}}}})
}

// IsLocked reports whether err refuses a login because of a limit.
func IsLocked(err error) (*LockedError, bool) {
	var le *LockedError
	ok := errors.As(err, &le)
	return le, ok
}
