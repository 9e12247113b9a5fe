package access

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/identity"
)

// RolesCollection holds the analyst-defined roles.
const RolesCollection = "roles"

// Errors the roles API maps to statuses.
var (
	// ErrBuiltIn means a built-in role was to be created, changed or deleted.
	ErrBuiltIn = errors.New("built-in roles cannot be changed")
	// ErrRoleNotFound means no custom role has the name.
	ErrRoleNotFound = errors.New("no such role")
	// ErrRoleExists means a role with the name already exists.
	ErrRoleExists = errors.New("a role with this name already exists")
)

// Policy answers permission questions from the built-in roles and the custom roles stored in MongoDB. It
// keeps the custom roles in memory; changes made through this Policy apply at once, changes made by
// another server are picked up within MaxAge.
type Policy struct {
	coll   *mongo.Collection
	now    func() time.Time
	maxAge time.Duration

	mu       sync.RWMutex
	roles    map[string]Role
	loadedAt time.Time
}

// Options tune a Policy; the zero value is usable.
type Options struct {
	// MaxAge is how long custom roles are trusted before they are re-read; 10 seconds by default.
	MaxAge time.Duration
	// Now is the clock (tests pin it).
	Now func() time.Time
}

// NewPolicy loads the custom roles from db. A nil db gives a policy of the built-in roles only.
func NewPolicy(ctx context.Context, db *mongo.Database, opts Options) (*Policy, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 10 * time.Second
	}
	p := &Policy{now: opts.Now, maxAge: opts.MaxAge}
	if db != nil {
		p.coll = db.Collection(RolesCollection)
	}
	if err := p.Refresh(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Refresh re-reads the custom roles.
func (p *Policy) Refresh(ctx context.Context) error {
	roles := map[string]Role{}
	if p.coll != nil {
		cur, err := p.coll.Find(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("access: load roles: %w", err)
		}
		var stored []Role
		if err := cur.All(ctx, &stored); err != nil {
			return fmt.Errorf("access: decode roles: %w", err)
		}
		for _, r := range stored {
			if !IsBuiltIn(r.Name) {
				roles[r.Name] = r
			}
		}
	}
	for _, r := range BuiltInRoles() {
		roles[r.Name] = r
	}
	p.mu.Lock()
	p.roles, p.loadedAt = roles, p.now()
	p.mu.Unlock()
	return nil
}

// snapshot returns the current roles, re-reading them first when they are older than MaxAge. A failed
// re-read keeps the previous roles: a database hiccup must not lock everyone out.
func (p *Policy) snapshot() map[string]Role {
	p.mu.RLock()
	roles, stale := p.roles, p.coll != nil && p.now().Sub(p.loadedAt) >= p.maxAge
	p.mu.RUnlock()
	if !stale {
		return roles
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.Refresh(ctx); err != nil {
		p.mu.Lock()
		p.loadedAt = p.now() // retry after another MaxAge rather than on every request
		p.mu.Unlock()
		return roles
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.roles
}

// Roles lists every role, built-in first, then custom ones by name.
func (p *Policy) Roles() []Role {
	roles := p.snapshot()
	out := slices.Collect(maps.Values(roles))
	sort.Slice(out, func(i, j int) bool {
		if out[i].BuiltIn != out[j].BuiltIn {
			return out[i].BuiltIn
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Role returns one role by name.
func (p *Policy) Role(name string) (Role, bool) {
	r, ok := p.snapshot()[name]
	return r, ok
}

// Permissions returns the union of the grants of the named roles; unknown role names grant nothing.
func (p *Policy) Permissions(roles []string) []string {
	all := p.snapshot()
	var out []string
	for _, name := range roles {
		for _, g := range all[name].Permissions {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// AllowsRoles reports whether holders of the roles hold perm.
func (p *Policy) AllowsRoles(roles []string, perm string) bool {
	return Granted(p.Permissions(roles), perm)
}

// Allows reports whether the user holds perm through its roles. It is the function-level check of every
// API operation.
func (p *Policy) Allows(u *identity.User, perm string) bool {
	return u != nil && !u.Disabled && p.AllowsRoles(u.Roles, perm)
}

// CheckRoles reports an error naming the first unknown role in names.
func (p *Policy) CheckRoles(names []string) error {
	all := p.snapshot()
	for _, n := range names {
		if _, ok := all[n]; !ok {
			return fmt.Errorf("%w: %q", ErrRoleNotFound, n)
		}
	}
	return nil
}

// CreateRole stores a new custom role.
func (p *Policy) CreateRole(ctx context.Context, r Role) (Role, error) {
	if IsBuiltIn(r.Name) {
		return Role{}, ErrBuiltIn
	}
	if err := r.Validate(); err != nil {
		return Role{}, err
	}
	if p.coll == nil {
		return Role{}, errors.New("access: no role store")
	}
	r.BuiltIn, r.UpdatedAt = false, p.now().UTC().Truncate(time.Millisecond)
	if _, err := p.coll.InsertOne(ctx, r); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return Role{}, ErrRoleExists
		}
		return Role{}, fmt.Errorf("access: insert role: %w", err)
	}
	return r, p.Refresh(ctx)
}

// UpdateRole replaces a custom role and returns the previous version, for the audit log.
func (p *Policy) UpdateRole(ctx context.Context, r Role) (before Role, err error) {
	if IsBuiltIn(r.Name) {
		return Role{}, ErrBuiltIn
	}
	if err := r.Validate(); err != nil {
		return Role{}, err
	}
	if p.coll == nil {
		return Role{}, ErrRoleNotFound
	}
	r.BuiltIn, r.UpdatedAt = false, p.now().UTC().Truncate(time.Millisecond)
	if err := p.coll.FindOneAndReplace(ctx, bson.D{{Key: "_id", Value: r.Name}}, r).Decode(&before); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Role{}, ErrRoleNotFound
		}
		return Role{}, fmt.Errorf("access: replace role: %w", err)
	}
	return before, p.Refresh(ctx)
}

// DeleteRole removes a custom role and returns it. Users that held it simply lose its permissions.
func (p *Policy) DeleteRole(ctx context.Context, name string) (Role, error) {
	if IsBuiltIn(name) {
		return Role{}, ErrBuiltIn
	}
	if p.coll == nil {
		return Role{}, ErrRoleNotFound
	}
	var before Role
	if err := p.coll.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&before); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Role{}, ErrRoleNotFound
		}
		return Role{}, fmt.Errorf("access: delete role: %w", err)
	}
	return before, p.Refresh(ctx)
}
