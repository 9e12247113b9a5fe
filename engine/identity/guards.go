package identity

import (
	"context"
	"errors"
	"slices"

	"github.com/rapportcrm/rapport/engine/storage"
)

// ErrLastAdmin means a change would leave no enabled administrator, so nobody could manage users.
var ErrLastAdmin = errors.New("this change would leave no enabled administrator")

// guardsCollection holds the single documents that serialise decisions spanning several users.
const guardsCollection = "user_guards"

// adminsGuard is the _id of the document listing enabled administrators.
const adminsGuard = "admins"

// adminSet is the guard document: the enabled administrators known to the guard. It never lists fewer
// real administrators than exist in a way that could let the last one go: a user is added after it
// became an administrator and removed before it stops being one, and a removal checks that some other
// listed user is still an enabled administrator.
type adminSet struct {
	IDs []string `bson:"ids"`
}

func activeAdmin(u *User) bool { return u != nil && !u.Disabled && slices.Contains(u.Roles, RoleAdmin) }

// admitAdmin lists a user that has just become an enabled administrator.
func (s *Store) admitAdmin(ctx context.Context, id string) error {
	_, err := storage.Mutate(ctx, s.backend, s.users.Database().Collection(guardsCollection), adminsGuard,
		func(set adminSet, exists bool) (adminSet, storage.Op, error) {
			set, err := s.seeded(ctx, set, exists)
			if err != nil {
				return set, storage.Skip, err
			}
			if slices.Contains(set.IDs, id) {
				return set, storage.Write, nil
			}
			set.IDs = append(set.IDs, id)
			return set, storage.Write, nil
		})
	return err
}

// dismissAdmin removes a user from the administrators before it stops being one, refusing with
// ErrLastAdmin when no other listed user is an enabled administrator. Concurrent dismissals are
// serialised on the one guard document, so two administrators demoting each other cannot both pass.
func (s *Store) dismissAdmin(ctx context.Context, id string) error {
	_, err := storage.Mutate(ctx, s.backend, s.users.Database().Collection(guardsCollection), adminsGuard,
		func(set adminSet, exists bool) (adminSet, storage.Op, error) {
			set, err := s.seeded(ctx, set, exists)
			if err != nil {
				return set, storage.Skip, err
			}
			var others []string
			for _, other := range set.IDs {
				if other == id {
					continue
				}
				// Users demoted behind the guard's back (directly in the database) do not count.
				u, err := s.UserByID(ctx, other)
				if err != nil && !errors.Is(err, ErrUnauthenticated) {
					return set, storage.Skip, err
				}
				if activeAdmin(u) {
					others = append(others, other)
				}
			}
			if len(others) == 0 {
				return set, storage.Skip, ErrLastAdmin
			}
			return adminSet{IDs: others}, storage.Write, nil
		})
	return err
}

// seeded returns the guard document, read from the users themselves when there is none yet.
func (s *Store) seeded(ctx context.Context, set adminSet, exists bool) (adminSet, error) {
	if exists {
		return set, nil
	}
	return s.scanAdmins(ctx)
}

// scanAdmins lists the enabled administrators from the users themselves; it seeds the guard document
// the first time it is needed (an installation from before the guard existed).
func (s *Store) scanAdmins(ctx context.Context) (adminSet, error) {
	set := adminSet{IDs: []string{}}
	after := ""
	for {
		page, err := s.ListUsers(ctx, UserQuery{Role: RoleAdmin, After: after, Limit: 500})
		if err != nil {
			return set, err
		}
		for i := range page {
			if activeAdmin(&page[i]) {
				set.IDs = append(set.IDs, page[i].ID)
			}
		}
		if len(page) < 500 {
			return set, nil
		}
		after = page[len(page)-1].Email
	}
}
