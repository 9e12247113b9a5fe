// Variables: what an expression at a token sees (process variables under the local variables of the
// token and of the tokens hosting its scopes) and where a write lands.

package process

import (
	"maps"
	"strings"
)

// vars returns the variables expressions at token t see. At behaviour level 1 a token's local
// variables (Token.Vars) and those of the tokens hosting its scope, the scope's host and so on out to
// the process, lie over the process variables, the innermost winning; without locals on the way the
// process variables are returned as they are (no copy). t may be nil (the process scope).
func (r *runner) vars(t *Token) map[string]any {
	if t == nil || !r.at(levelIssue12) {
		return r.st.Variables
	}
	return r.overlay(r.locals(t.Vars, t.Scope))
}

// scopeVars is vars for something that belongs to a scope instance rather than a token (the
// subscriptions of event sub-process starts).
func (r *runner) scopeVars(scope int) map[string]any {
	if !r.at(levelIssue12) {
		return r.st.Variables
	}
	return r.overlay(r.locals(nil, scope))
}

// locals lists the local variable maps seen from a token with own locals first (innermost first).
func (r *runner) locals(first map[string]any, scope int) []map[string]any {
	var chain []map[string]any
	if len(first) > 0 {
		chain = append(chain, first)
	}
	for s := r.scope(scope); s != nil; {
		if s.Host == 0 {
			if s.Parent == 0 {
				break
			}
			s = r.scope(s.Parent) // an event sub-process sees the scope it runs in
			continue
		}
		host := r.token(s.Host)
		if host == nil {
			break
		}
		if len(host.Vars) > 0 {
			chain = append(chain, host.Vars)
		}
		s = r.scope(host.Scope)
	}
	return chain
}

// overlay lays local variable maps (innermost first) over the process variables.
func (r *runner) overlay(chain []map[string]any) map[string]any {
	if len(chain) == 0 {
		return r.st.Variables
	}
	n := len(r.st.Variables)
	for _, m := range chain {
		n += len(m)
	}
	out := make(map[string]any, n)
	maps.Copy(out, r.st.Variables)
	for i := len(chain) - 1; i >= 0; i-- {
		maps.Copy(out, chain[i])
	}
	return out
}

// setVar writes a variable from token t (nil: the process scope). At behaviour level 1 the write lands
// in the innermost local scope that has the variable, else in the process variables (as Zeebe
// propagates variables), and a dotted name ("lead.score") sets the field of an object variable,
// creating the objects on the way; the first release wrote a flat process variable of that name.
// Declared process variables are coerced to their types; call coerce after a batch of writes.
func (r *runner) setVar(t *Token, name string, v any) {
	if !r.at(levelIssue12) {
		r.st.Variables[name] = v
		return
	}
	root, _, _ := strings.Cut(name, ".")
	target := r.st.Variables
	if t != nil {
		for _, m := range r.locals(t.Vars, t.Scope) {
			if _, ok := m[root]; ok {
				target = m
				break
			}
		}
	}
	setPath(target, name, v)
}

// setLocal writes a local variable of token t (the input element of a loop, a sub-process input).
func (r *runner) setLocal(t *Token, name string, v any) {
	if t.Vars == nil {
		t.Vars = map[string]any{}
	}
	setPath(t.Vars, name, v)
}

// mergeAt writes every variable of vars (in key order) from token t and coerces the declared ones.
func (r *runner) mergeAt(t *Token, vars map[string]any) {
	for _, k := range sortedKeys(vars) {
		r.setVar(t, k, vars[k])
	}
	_ = r.x.coerce(r.st.Variables)
}

// setPath sets name in m; a dotted name walks into nested objects, copying each one it changes (the
// maps may be shared with other variables or a loop's items) and replacing non-objects by objects.
func setPath(m map[string]any, name string, v any) {
	head, rest, dotted := strings.Cut(name, ".")
	if !dotted {
		m[head] = v
		return
	}
	child := map[string]any{}
	if old, ok := m[head].(map[string]any); ok {
		child = maps.Clone(old)
	}
	setPath(child, rest, v)
	m[head] = child
}
