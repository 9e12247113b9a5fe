package access

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Record fields the object-level scope looks at. The built-in schemas name them so; records keep the
// owner's user ID, the team's ID and, for tasks, the assignee's user ID at the top level.
const (
	OwnerField    = "owner"
	TeamField     = "team"
	AssigneeField = "assignee"
)

// Subject is who asks: a user with roles and teams, and, when the request carries an API token, the
// token's scopes (nil when the request is not narrowed by a token).
type Subject struct {
	UserID string
	Roles  []string
	Teams  []string
	// Scopes narrows the roles' permissions to those the token names; nil means no narrowing.
	Scopes []string
}

// Decision is everything the records code needs to enforce object- and field-level access for one
// subject on one entity: which actions it may take, on which records, and which fields it may not see
// or change. Take one per request with Policy.Decide.
type Decision struct {
	Entity  string
	Subject Subject
	// scopes holds the widest scope per action over the roles that grant it.
	scopes   map[string]Scope
	hidden   map[string]bool
	readOnly map[string]bool
}

// Decide computes the subject's decision on an entity's records. A permission counts only when a role
// grants it and, for a token, the token's scopes cover it too. A field is hidden only when every role
// that grants reading hides it (roles add access, never take it away); likewise read-only for writing.
func (p *Policy) Decide(s Subject, entity string) Decision {
	all := p.snapshot()
	d := Decision{Entity: entity, Subject: s, scopes: map[string]Scope{}}
	var readers, writers []FieldRules
	for _, name := range s.Roles {
		r, ok := all[name]
		if !ok {
			continue
		}
		scope := r.ScopeFor(entity)
		for _, action := range RecordActions() {
			perm := RecordPermission(entity, action)
			if !Granted(r.Permissions, perm) || (s.Scopes != nil && !Granted(s.Scopes, perm)) {
				continue
			}
			if scope.rank() > d.scopes[action].rank() {
				d.scopes[action] = scope
			}
			switch action {
			case ActionRead:
				readers = append(readers, r.fieldsFor(entity))
			case ActionWrite:
				writers = append(writers, r.fieldsFor(entity))
			}
		}
	}
	d.hidden = common(readers, func(f FieldRules) []string { return f.Hidden })
	d.readOnly = common(writers, func(f FieldRules) []string { return append(slices.Clone(f.ReadOnly), f.Hidden...) })
	return d
}

// common returns the fields every rule set lists.
func common(rules []FieldRules, fields func(FieldRules) []string) map[string]bool {
	out := map[string]bool{}
	if len(rules) == 0 {
		return out
	}
	for _, f := range fields(rules[0]) {
		out[f] = true
	}
	for _, r := range rules[1:] {
		list := fields(r)
		for f := range out {
			if !slices.Contains(list, f) {
				delete(out, f)
			}
		}
	}
	return out
}

// Can reports whether the subject may take the action on at least some records of the entity.
func (d Decision) Can(action string) bool { return d.scopes[action] != ScopeNone }

// Scope is the subject's widest scope for the action; ScopeNone when it may not take it at all.
func (d Decision) Scope(action string) Scope { return d.scopes[action] }

// Filter returns the MongoDB filter fragment that restricts a query to the records the subject may take
// the action on; AND it with the caller's own filter. It is nil when every record is in scope, and a
// filter that matches nothing when the subject has no scope (callers should have refused with 403
// before, but the filter stays safe on its own).
func (d Decision) Filter(action string) bson.D {
	switch d.scopes[action] {
	case ScopeAll:
		return nil
	case ScopeTeam:
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: TeamField, Value: bson.D{{Key: "$in", Value: teamsOrNone(d.Subject.Teams)}}}},
			bson.D{{Key: OwnerField, Value: d.Subject.UserID}},
			bson.D{{Key: AssigneeField, Value: d.Subject.UserID}},
		}}}
	case ScopeOwn:
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: OwnerField, Value: d.Subject.UserID}},
			bson.D{{Key: AssigneeField, Value: d.Subject.UserID}},
		}}}
	}
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}
}

// teamsOrNone keeps an $in list non-nil: a user in no team matches no team.
func teamsOrNone(teams []string) bson.A {
	out := bson.A{}
	for _, t := range teams {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// InScope reports whether one record (as stored, with owner, team and assignee at the top level) is one
// the subject may take the action on. Use it after loading a record by ID and answer 404 when it is not,
// so the record's existence is not revealed.
func (d Decision) InScope(action string, rec map[string]any) bool {
	uid := d.Subject.UserID
	mine := uid != "" && (fieldEquals(rec, OwnerField, uid) || fieldEquals(rec, AssigneeField, uid))
	switch d.scopes[action] {
	case ScopeAll:
		return true
	case ScopeTeam:
		if mine {
			return true
		}
		team, _ := rec[TeamField].(string)
		return team != "" && slices.Contains(d.Subject.Teams, team)
	case ScopeOwn:
		return mine
	}
	return false
}

func fieldEquals(rec map[string]any, field, want string) bool {
	v, ok := rec[field].(string)
	return ok && v == want
}

// HiddenFields lists the fields the subject may not see, sorted.
func (d Decision) HiddenFields() []string { return sortedKeys(d.hidden) }

// ReadOnlyFields lists the fields the subject may not write (hidden ones included), sorted.
func (d Decision) ReadOnlyFields() []string { return sortedKeys(d.readOnly) }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Hidden reports whether a field (a top-level name or a dotted path) is hidden: a path is hidden when it
// or any of its parents is.
func (d Decision) Hidden(path string) bool { return coveredBy(d.hidden, path) }

func coveredBy(set map[string]bool, path string) bool {
	for {
		if set[path] {
			return true
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

// Strip removes hidden fields from a record (in place, top level and dotted paths into nested objects)
// and returns it. Apply it to every record leaving the API: get, list, export, and both sides of history
// diffs.
func (d Decision) Strip(rec map[string]any) map[string]any {
	return StripPaths(rec, d.hidden)
}

// StripPaths removes the given fields (top-level names or dotted paths) from a record in place and
// returns it; Decision.Strip is it with the caller's hidden fields of one entity.
func StripPaths(rec map[string]any, paths map[string]bool) map[string]any {
	for f := range paths {
		deletePath(rec, f)
	}
	return rec
}

// deletePath removes a dotted path from a record at every depth: through nested objects and through
// every item of a list of objects.
func deletePath(m map[string]any, path string) {
	head, rest, nested := strings.Cut(path, ".")
	if !nested {
		delete(m, head)
		return
	}
	switch child := m[head].(type) {
	case map[string]any:
		deletePath(child, rest)
	case []any:
		for _, item := range child {
			if im, ok := item.(map[string]any); ok {
				deletePath(im, rest)
			}
		}
	}
}

// hasDescendant reports whether the set holds a path below path ("secret.internal" below "secret").
func hasDescendant(set map[string]bool, path string) bool {
	for p := range set {
		if strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

// FieldError names the fields a write may not touch; the API answers 403 with their names.
type FieldError struct {
	Entity string
	Fields []string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("you may not write the field(s) %s of %s", strings.Join(e.Fields, ", "), e.Entity)
}

// CheckWrite checks the values a create or patch sets, keyed by top-level field (nested objects are
// checked field by field as dotted paths). It returns a *FieldError listing every hidden or read-only
// field written, and the owner field when it names someone other than the subject and the subject may
// not assign records. System fields are the records code's business: it drops or refuses them before
// calling this.
func (d Decision) CheckWrite(changes map[string]any) error {
	var bad []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := prefix + k
			child, isObject := v.(map[string]any)
			// Replacing a whole value (null, a list, a scalar) also replaces what lies below it, so a
			// read-only or hidden part below makes the parent read-only too; an object is checked part by
			// part, as a merge patch applies it.
			if coveredBy(d.readOnly, path) || (!isObject && hasDescendant(d.readOnly, path)) {
				bad = append(bad, path)
				continue
			}
			if path == OwnerField && !d.Can(ActionAssign) {
				if owner, _ := v.(string); owner != d.Subject.UserID {
					bad = append(bad, path)
				}
				continue
			}
			if isObject {
				walk(path+".", child)
			}
		}
	}
	walk("", changes)
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return &FieldError{Entity: d.Entity, Fields: bad}
}
