package access

import (
	"fmt"
	"slices"
	"strings"
)

// Exceeds lists what holding role would give beyond what the caller holds itself, empty when nothing:
// a permission the caller lacks, a wider record scope than the caller's on some entity, or a field the
// caller may not see (or change) made visible (or writable). Creating or changing a role, and assigning
// roles to users, are refused when it is not empty, so no one hands out more than they have — a holder
// of roles.manage cannot make a role with "*" and take it.
func (p *Policy) Exceeds(caller Subject, role Role) []string {
	var out []string
	grants := p.grantsOf(caller)
	for _, g := range role.Permissions {
		if !slices.ContainsFunc(grants, func(c string) bool { return Match(c, g) }) {
			out = append(out, fmt.Sprintf("permission %s", g))
		}
	}
	// Record access depends on the entity; compare on every entity either side names, and on * (every
	// entity neither names).
	for _, entity := range p.entitiesNamed(caller, role) {
		mine := p.Decide(caller, entity)
		for _, action := range RecordActions() {
			if !Granted(role.Permissions, RecordPermission(entity, action)) {
				continue
			}
			if !mine.Can(action) {
				continue // already listed as a missing permission
			}
			if want := role.ScopeFor(entity); want.rank() > mine.Scope(action).rank() {
				out = append(out, fmt.Sprintf("scope %s on records.%s.%s (yours is %s)", want, entity, action, orNone(mine.Scope(action))))
			}
			rules := role.fieldsFor(entity)
			switch action {
			case ActionRead:
				for _, f := range mine.HiddenFields() {
					if !coveredBy(setOf(rules.Hidden), f) {
						out = append(out, fmt.Sprintf("field %s of %s, hidden from you", f, entity))
					}
				}
			case ActionWrite:
				for _, f := range mine.ReadOnlyFields() {
					if !coveredBy(setOf(append(slices.Clone(rules.ReadOnly), rules.Hidden...)), f) {
						out = append(out, fmt.Sprintf("writing field %s of %s, read-only for you", f, entity))
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// grantsOf is what a subject holds: its roles' grants, narrowed to a token's scopes.
func (p *Policy) grantsOf(s Subject) []string {
	grants := p.Permissions(s.Roles)
	if s.Scopes == nil {
		return grants
	}
	return slices.DeleteFunc(slices.Clone(s.Scopes), func(scope string) bool {
		return !slices.ContainsFunc(grants, func(g string) bool { return Match(g, scope) })
	})
}

// entitiesNamed lists * and every entity that the role or the caller's roles name in a record grant, a
// scope or field rules.
func (p *Policy) entitiesNamed(caller Subject, role Role) []string {
	seen := map[string]bool{AllEntities: true}
	add := func(r Role) {
		for _, g := range r.Permissions {
			if parts := strings.Split(g, "."); len(parts) == 3 && parts[0] == "records" {
				seen[parts[1]] = true
			}
		}
		for e := range r.Scopes {
			seen[e] = true
		}
		for e := range r.Fields {
			seen[e] = true
		}
	}
	add(role)
	all := p.snapshot()
	for _, name := range caller.Roles {
		add(all[name])
	}
	out := make([]string, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func orNone(s Scope) Scope {
	if s == ScopeNone {
		return "none"
	}
	return s
}
