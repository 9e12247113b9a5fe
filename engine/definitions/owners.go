package definitions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/access"
)

// Owner prefixes: a definition is owned by users ("user:<id>") and teams ("team:<id>").
const (
	OwnerUser = "user:"
	OwnerTeam = "team:"
)

// MaxOwners bounds a definition's owner list.
const MaxOwners = 50

// ErrInvalidOwner wraps an owner that is neither "user:<id>" nor "team:<id>".
var ErrInvalidOwner = errors.New("invalid owner")

// OperableBy reports whether a subject may operate the definition's running instances (complete
// anyone's task, and the operations of issue 15): administrators (who hold "*") always; otherwise
// whoever holds instances.operate and owns the definition, as a user or through one of its teams.
// holds answers whether the subject holds a permission (roles narrowed by token scopes).
func (d Definition) OperableBy(s access.Subject, holds func(perm string) bool) bool {
	if holds("*") {
		return true
	}
	if !holds(access.InstancesOperate) {
		return false
	}
	return d.OwnedBy(s)
}

// OwnedBy reports whether the subject owns the definition as a user or through one of its teams. A
// definition deployed before owners existed is owned by its last deployer.
func (d Definition) OwnedBy(s access.Subject) bool {
	if len(d.Owners) == 0 {
		return s.UserID != "" && s.UserID == d.UpdatedBy
	}
	if s.UserID != "" && slices.Contains(d.Owners, OwnerUser+s.UserID) {
		return true
	}
	return slices.ContainsFunc(s.Teams, func(t string) bool { return t != "" && slices.Contains(d.Owners, OwnerTeam+t) })
}

// CheckOwners refuses owner lists that are empty, too long or hold anything but user: and team: names.
func CheckOwners(owners []string) error {
	if len(owners) == 0 {
		return fmt.Errorf("%w: a process needs at least one owner", ErrInvalidOwner)
	}
	if len(owners) > MaxOwners {
		return fmt.Errorf("%w: at most %d owners", ErrInvalidOwner, MaxOwners)
	}
	for _, o := range owners {
		id, ok := strings.CutPrefix(o, OwnerUser)
		if !ok {
			id, ok = strings.CutPrefix(o, OwnerTeam)
		}
		if !ok || strings.TrimSpace(id) == "" || len(o) > 300 {
			return fmt.Errorf("%w %q: want user:<id> or team:<id>", ErrInvalidOwner, o)
		}
	}
	return nil
}

// SetOwners replaces a definition's owners and returns the definition as it was before, for the audit
// log.
func (s *Store) SetOwners(ctx context.Context, key string, owners []string) (before Definition, err error) {
	if err := CheckOwners(owners); err != nil {
		return Definition{}, err
	}
	owners = slices.Compact(slices.Sorted(slices.Values(owners)))
	err = s.defs.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "$set", Value: bson.D{{Key: "owners", Value: owners}}}}).Decode(&before)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Definition{}, ErrNotFound
	}
	if err != nil {
		return Definition{}, fmt.Errorf("processes: set owners of %q: %w", key, err)
	}
	return before, nil
}
