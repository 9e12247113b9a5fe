// Migration: moving a running instance to another published version of its process. PlanMigration
// decides, from the instance's state and both models, whether it can move, with which element mapping,
// and what blocks it; the API shows it as a preview, the migrate update's validator refuses with it,
// and the update applies exactly what it planned. Instances never move silently.

package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// MigrateRequest is the argument of UpdateMigrate: the compiled target version and an explicit element
// mapping (old element ID → new one); elements it does not name keep their IDs.
type MigrateRequest struct {
	Model   *bpmn.Model       `json:"model"`
	Version int               `json:"version"`
	Mapping map[string]string `json:"mapping,omitempty"`
	Operator
}

// MigrationPlan is whether an instance can move to a version: the mapping of each element it is active
// at, and what blocks the move.
type MigrationPlan struct {
	From       int                `json:"from"`
	To         int                `json:"to"`
	CanMigrate bool               `json:"canMigrate"`
	Mapping    []ElementMapping   `json:"mapping"`
	Blockers   []MigrationBlocker `json:"blockers,omitempty"`
}

// ElementMapping is where an active element goes.
type ElementMapping struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// MigrationBlocker is one reason an instance cannot move.
type MigrationBlocker struct {
	Element string `json:"element,omitempty"`
	Reason  string `json:"reason"`
}

// migration is a plan with the index maps that apply it.
type migration struct {
	plan   MigrationPlan
	nodes  map[int]int // old node index → new
	scopes map[int]int // old model scope index → new
}

// PlanMigration decides whether an instance in state st, running version fromVersion (model from), can
// move to version toVersion (model to) with the given mapping.
func PlanMigration(st *State, from, to *bpmn.Model, fromVersion, toVersion int, mapping map[string]string) MigrationPlan {
	return planMigration(st, from, to, fromVersion, toVersion, mapping).plan
}

func planMigration(st *State, from, to *bpmn.Model, fromVersion, toVersion int, mapping map[string]string) migration {
	m := migration{plan: MigrationPlan{From: fromVersion, To: toVersion, Mapping: []ElementMapping{}},
		nodes: map[int]int{}, scopes: map[int]int{0: 0}}
	block := func(element, format string, args ...any) {
		b := MigrationBlocker{Element: element, Reason: fmt.Sprintf(format, args...)}
		if !slices.Contains(m.plan.Blockers, b) {
			m.plan.Blockers = append(m.plan.Blockers, b)
		}
	}
	if from.ProcessID != to.ProcessID {
		block("", "version %d is of process %s, not %s", toVersion, to.ProcessID, from.ProcessID)
	}
	for _, old := range sortedKeys(mapping) {
		if nodeByID(from, old) == nil {
			block(old, "the mapping names %s, which is not an element of version %d", old, fromVersion)
		}
		if nodeByID(to, mapping[old]) == nil {
			block(old, "the mapping sends %s to %s, which is not an element of version %d", old, mapping[old], toVersion)
		}
	}
	// target finds the node an old node maps to, blocking when there is none or it changed kind.
	target := func(i int) (*bpmn.Node, bool) {
		if j, ok := m.nodes[i]; ok {
			return &to.Nodes[j], true
		}
		on := &from.Nodes[i]
		id := on.ID
		if mapped, ok := mapping[id]; ok {
			id = mapped
		}
		nn := nodeByID(to, id)
		switch {
		case nn == nil:
			block(on.ID, "%s is active but version %d has no element %s: map it to one", on.ID, toVersion, id)
			return nil, false
		case nn.Kind != on.Kind:
			block(on.ID, "%s is a %s in version %d, not a %s", id, nn.Kind, toVersion, on.Kind)
			return nil, false
		}
		m.nodes[i] = nn.Index
		return nn, true
	}
	mapped := func(on, nn *bpmn.Node) {
		em := ElementMapping{From: on.ID, To: nn.ID}
		if !slices.Contains(m.plan.Mapping, em) {
			m.plan.Mapping = append(m.plan.Mapping, em)
		}
	}
	// Scopes first: a sub-process instance keeps running as the mapped sub-process.
	for _, s := range st.Scopes {
		if s.Scope == 0 {
			continue
		}
		on := &from.Nodes[from.Scopes[s.Scope].Node]
		if nn, ok := target(on.Index); ok {
			m.scopes[s.Scope] = nn.SubScope
			mapped(on, nn)
		}
	}
	scopeOf := func(id int) (int, bool) {
		for _, s := range st.Scopes {
			if s.ID == id {
				ns, ok := m.scopes[s.Scope]
				return ns, ok
			}
		}
		return 0, false
	}
	for _, t := range st.Tokens {
		on := &from.Nodes[t.Node]
		nn, ok := target(t.Node)
		if !ok {
			continue
		}
		mapped(on, nn)
		if ns, ok := scopeOf(t.Scope); ok && ns != nn.Scope {
			block(on.ID, "%s lies in another sub-process in version %d", nn.ID, toVersion)
		}
		if (t.Loop != nil || t.Parent != 0) && !sameJSON(on.Loop, nn.Loop) {
			block(on.ID, "the multi-instance loop of %s changed in version %d while it runs", on.ID, toVersion)
		}
		if t.Status == tokJoined && !sameFlows(from, to, on.Incoming, nn.Incoming) {
			block(on.ID, "a join is in flight at %s and its incoming flows changed in version %d", on.ID, toVersion)
		}
		if t.Status == tokWaiting || t.Status == tokIncident {
			compareBoundaries(from, to, on, nn, mapping, toVersion, block)
		}
	}
	for _, s := range st.Subs {
		on := &from.Nodes[s.Node]
		nn, ok := target(s.Node)
		if !ok {
			continue
		}
		if !sameEvent(on, nn) {
			block(on.ID, "the %s of %s changed in version %d", eventWhat(s.Kind), on.ID, toVersion)
		}
	}
	// Event sub-processes of running scopes listen through subscriptions armed when the scope started:
	// one added or removed would silently not listen (or listen to nothing).
	for _, s := range st.Scopes {
		ns, ok := m.scopes[s.Scope]
		if !ok {
			continue
		}
		have := eventStarts(from, s.Scope, mapping)
		want := eventStarts(to, ns, nil)
		for _, id := range want {
			if !slices.Contains(have, id) {
				block(id, "version %d adds the event sub-process start %s to a running scope", toVersion, id)
			}
		}
		for _, id := range have {
			if !slices.Contains(want, id) {
				block(id, "version %d has no event sub-process start %s that the running scope listens with", toVersion, id)
			}
		}
	}
	m.plan.CanMigrate = len(m.plan.Blockers) == 0
	return m
}

// eventStarts lists the start events of a scope's event sub-processes by (mapped) ID.
func eventStarts(md *bpmn.Model, scope int, mapping map[string]string) []string {
	var out []string
	for _, esp := range md.Scopes[scope].EventSubProcesses {
		for _, st := range md.Scopes[md.Nodes[esp].SubScope].Starts {
			id := md.Nodes[st].ID
			if mp, ok := mapping[id]; ok {
				id = mp
			}
			out = append(out, id)
		}
	}
	return out
}

// compareBoundaries blocks when an active activity's boundary events differ between the versions.
func compareBoundaries(from, to *bpmn.Model, on, nn *bpmn.Node, mapping map[string]string, toVersion int, block func(string, string, ...any)) {
	seen := map[int]bool{}
	for _, b := range on.Boundaries {
		ob := &from.Nodes[b]
		id := ob.ID
		if mp, ok := mapping[id]; ok {
			id = mp
		}
		j := slices.IndexFunc(nn.Boundaries, func(x int) bool { return to.Nodes[x].ID == id })
		if j < 0 {
			block(on.ID, "version %d removes the boundary event %s of the active element %s", toVersion, ob.ID, on.ID)
			continue
		}
		seen[nn.Boundaries[j]] = true
		if !sameEvent(ob, &to.Nodes[nn.Boundaries[j]]) {
			block(on.ID, "the boundary event %s of the active element %s changed in version %d", ob.ID, on.ID, toVersion)
		}
	}
	for _, b := range nn.Boundaries {
		if !seen[b] {
			block(on.ID, "version %d adds the boundary event %s to the active element %s", toVersion, to.Nodes[b].ID, on.ID)
		}
	}
}

func eventWhat(kind string) string {
	switch kind {
	case subTimer:
		return "timer"
	case subMessage:
		return "message subscription"
	}
	return kind + " element"
}

// sameEvent reports whether two event nodes wait for the same thing.
func sameEvent(a, b *bpmn.Node) bool {
	return a.Kind == b.Kind && a.Interrupting == b.Interrupting && sameJSON(a.Timer, b.Timer) &&
		sameJSON(a.Message, b.Message) && sameJSON(a.Error, b.Error)
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// sameFlows reports whether two lists of flow indexes name the same flow IDs.
func sameFlows(from, to *bpmn.Model, a, b []int) bool {
	ids := func(m *bpmn.Model, l []int) []string {
		out := make([]string, len(l))
		for i, f := range l {
			out[i] = m.Flows[f].ID
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ids(from, a), ids(to, b))
}

// checkMigrate is the migrate update's validator.
func (r *runner) checkMigrate(req MigrateRequest) error {
	if req.Model == nil {
		return errors.New("the migration names no target model")
	}
	if req.Version == r.in.Ref.Version {
		return fmt.Errorf("the instance runs version %d already", req.Version)
	}
	p := PlanMigration(r.st, r.model, req.Model, r.in.Ref.Version, req.Version, req.Mapping)
	if !p.CanMigrate {
		reasons := make([]string, len(p.Blockers))
		for i, b := range p.Blockers {
			reasons[i] = b.Reason
		}
		return fmt.Errorf("the instance cannot move to version %d: %s", req.Version, strings.Join(reasons, "; "))
	}
	return nil
}

// migrate moves the instance to the target version as planned.
func (r *runner) migrate(req MigrateRequest) (MigrationPlan, error) {
	if err := r.checkMigrate(req); err != nil {
		return MigrationPlan{}, err
	}
	from, to := r.model, req.Model
	m := planMigration(r.st, from, to, r.in.Ref.Version, req.Version, req.Mapping)
	node := func(i int) int {
		if j, ok := m.nodes[i]; ok {
			return j
		}
		if nn := nodeByID(to, from.Nodes[i].ID); nn != nil {
			return nn.Index
		}
		return i
	}
	flow := func(f int) int {
		if f < 0 {
			return f
		}
		return flowByID(to, from.Flows[f].ID)
	}
	for _, t := range r.st.Tokens {
		t.Node = node(t.Node)
		t.Element = to.Nodes[t.Node].ID
		t.Flow = flow(t.Flow)
		nn := &to.Nodes[t.Node]
		var armed []int
		for _, b := range t.Armed {
			id := from.Nodes[b].ID
			if mp, ok := req.Mapping[id]; ok {
				id = mp
			}
			if j := slices.IndexFunc(nn.Boundaries, func(x int) bool { return to.Nodes[x].ID == id }); j >= 0 {
				armed = append(armed, nn.Boundaries[j])
			}
		}
		t.Armed = armed
	}
	for _, s := range r.st.Subs {
		s.Node = node(s.Node)
	}
	for _, s := range r.st.Scopes {
		if ns, ok := m.scopes[s.Scope]; ok {
			s.Scope = ns
		}
	}
	for _, u := range r.st.UserTasks {
		if t := r.token(u.Token); t != nil {
			n := &to.Nodes[t.Node]
			u.Element, u.Name = n.ID, n.Name
			if n.User != nil {
				u.Fields, u.FormKey = n.User.Fields, n.User.FormKey
			}
		}
	}
	for _, in := range r.st.Incidents {
		if on := nodeByID(from, in.Element); on != nil {
			in.Element = to.Nodes[node(on.Index)].ID
		}
	}
	old := r.in.Ref.Version
	r.model, r.in.Ref.Version, r.in.Model = to, req.Version, nil
	r.x = newExprs(to, r.at(levelIssue12), compileCalendars(r.st.Calendars), r.shared)
	r.preds, r.reach = nil, nil
	r.note("", EventMigrated, 0, req.Operator, fmt.Sprintf("version %d → %d", old, req.Version))
	return m.plan, nil
}
