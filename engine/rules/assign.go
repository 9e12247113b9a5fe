package rules

import (
	"errors"
	"fmt"

	"github.com/rapportcrm/rapport/engine/expression"
)

// Strategies for picking a person within a team.
const (
	StrategyRoundRobin  = "round_robin"
	StrategyLeastLoaded = "least_loaded"
)

// ErrNoneAvailable is returned when a team has no available member, so the
// caller can fall back to a queue or escalate.
var ErrNoneAvailable = errors.New("no available team member")

// Candidate is a team member as the caller knows them right now.
type Candidate struct {
	// ID identifies the person (user id).
	ID string `json:"id"`
	// Unavailable marks people on leave, off shift or at capacity.
	Unavailable bool `json:"unavailable,omitempty"`
	// OpenWork is the number of open items the person owns.
	OpenWork int `json:"openWork,omitempty"`
}

// AssignContext is what assignment needs beyond the record; the caller
// loads it (teams in a stable order, loads, availability, cursors) and
// stores the returned cursor, which keeps this package pure.
type AssignContext struct {
	// Teams maps a team key to its members in a stable order.
	Teams map[string][]Candidate `json:"teams"`
	// Cursors maps a team key to its round-robin position.
	Cursors map[string]int `json:"cursors,omitempty"`
}

// Assignment is the result of an assignment rule set.
type Assignment struct {
	// Route is the name of the route that matched.
	Route string `json:"route"`
	// Queue is set when the route assigns to a queue.
	Queue string `json:"queue,omitempty"`
	// Team is the team the person was picked from.
	Team string `json:"team,omitempty"`
	// Assignee is the picked person (empty when only routing was asked for).
	Assignee string `json:"assignee,omitempty"`
	// Cursor is the team's new round-robin position, to be stored by the
	// caller when Assignee is set.
	Cursor int `json:"cursor"`
	// Reason explains the pick for the record's history.
	Reason string `json:"reason"`
}

type compiledAssignment struct {
	routes []compiledRoute
	def    *compiledRoute
}

type compiledRoute struct {
	route Route
	when  *expression.Program
	from  *expression.Program
}

func compileAssignment(ps *problems, p *AssignmentPolicy, env *expression.Env) *compiledAssignment {
	ca := &compiledAssignment{}
	if len(p.Routes) == 0 && p.Default == nil {
		ps.add("assignment.routes", "an assignment policy needs at least one route")
	}
	route := func(path string, r Route) compiledRoute {
		cr := compiledRoute{route: r}
		if r.Name == "" {
			ps.add(path+".name", "a route needs a name")
		}
		if r.When != "" {
			cr.when = ps.compile(path+".when", r.When, env, expression.Expect(expression.KindBool))
		}
		if r.AssigneeFrom != "" {
			cr.from = ps.compile(path+".assigneeFrom", r.AssigneeFrom, env, expression.Expect(expression.KindString))
		}
		switch {
		case r.Queue != "" && (r.Team != "" || r.AssigneeFrom != ""):
			ps.add(path, "a route assigns to a queue or to a person, not both")
		case r.Queue == "" && r.Team == "" && r.AssigneeFrom == "":
			ps.add(path, "a route needs a queue, a team or assigneeFrom")
		}
		switch r.Strategy {
		case "", StrategyRoundRobin, StrategyLeastLoaded:
		default:
			ps.add(path+".strategy", "unknown strategy %q (want round_robin or least_loaded)", r.Strategy)
		}
		return cr
	}
	for i, r := range p.Routes {
		ca.routes = append(ca.routes, route(fmt.Sprintf("assignment.routes[%d]", i), r))
	}
	if p.Default != nil {
		d := route("assignment.default", *p.Default)
		ca.def = &d
	}
	return ca
}

// assign picks the route and, when ctx is given, the person.
func (ca *compiledAssignment) assign(ev *expression.Evaluator, vars map[string]any, ctx *AssignContext) (*Assignment, error) {
	var chosen *compiledRoute
	for i := range ca.routes {
		r := &ca.routes[i]
		if r.when == nil {
			chosen = r
			break
		}
		ok, err := ev.EvalBool(r.when, vars)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", r.route.Name, err)
		}
		if ok {
			chosen = r
			break
		}
	}
	if chosen == nil {
		chosen = ca.def
	}
	if chosen == nil {
		return nil, errors.New("no route matched and there is no default")
	}
	r := chosen.route
	a := &Assignment{Route: r.Name, Queue: r.Queue, Team: r.Team}
	if r.Queue != "" {
		a.Reason = fmt.Sprintf("route %q assigns to queue %q", r.Name, r.Queue)
		return a, nil
	}
	direct := ""
	if chosen.from != nil {
		out, err := ev.Eval(chosen.from, vars)
		if err != nil {
			return nil, fmt.Errorf("route %q assigneeFrom: %w", r.Name, err)
		}
		direct, _ = out.(string)
	}
	if ctx == nil {
		a.Assignee = direct
		a.Reason = fmt.Sprintf("route %q", r.Name)
		return a, nil
	}
	if direct != "" {
		if cand, team, ok := findCandidate(ctx, r.Team, direct); !ok || !cand.Unavailable {
			a.Assignee = direct
			if team != "" {
				a.Team = team
			}
			a.Cursor = ctx.Cursors[a.Team]
			a.Reason = fmt.Sprintf("route %q assigns to %s from the record", r.Name, direct)
			return a, nil
		}
		if r.Team == "" {
			return nil, fmt.Errorf("route %q: %s is unavailable and the route names no team: %w", r.Name, direct, ErrNoneAvailable)
		}
	}
	members := ctx.Teams[r.Team]
	if len(members) == 0 {
		return nil, fmt.Errorf("route %q: team %q has no members: %w", r.Name, r.Team, ErrNoneAvailable)
	}
	cursor := ctx.Cursors[r.Team] % len(members)
	if cursor < 0 {
		cursor += len(members)
	}
	pick := -1
	strategy := r.Strategy
	if strategy == "" {
		strategy = StrategyRoundRobin
	}
	for k := 0; k < len(members); k++ {
		i := (cursor + k) % len(members)
		if members[i].Unavailable {
			continue
		}
		if pick < 0 {
			pick = i
			if strategy == StrategyRoundRobin {
				break
			}
			continue
		}
		if members[i].OpenWork < members[pick].OpenWork {
			pick = i
		}
	}
	if pick < 0 {
		return nil, fmt.Errorf("route %q: team %q: %w", r.Name, r.Team, ErrNoneAvailable)
	}
	a.Assignee = members[pick].ID
	a.Cursor = (pick + 1) % len(members)
	if direct != "" {
		a.Reason = fmt.Sprintf("route %q: %s is unavailable; %s in team %q picked %s", r.Name, direct, strategy, r.Team, a.Assignee)
	} else {
		a.Reason = fmt.Sprintf("route %q: %s in team %q picked %s", r.Name, strategy, r.Team, a.Assignee)
	}
	return a, nil
}

// findCandidate looks a person up in the route's team, or in every team
// (in sorted team order, for determinism) when the route names none.
func findCandidate(ctx *AssignContext, team, id string) (Candidate, string, bool) {
	if team != "" {
		for _, c := range ctx.Teams[team] {
			if c.ID == id {
				return c, team, true
			}
		}
		return Candidate{}, "", false
	}
	for _, t := range sortedKeys(ctx.Teams) {
		for _, c := range ctx.Teams[t] {
			if c.ID == id {
				return c, t, true
			}
		}
	}
	return Candidate{}, "", false
}
