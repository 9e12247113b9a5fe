// Business calendars: addBusinessHours and businessHoursBetween in a process's expressions need the
// calendars they name. An instance reads them once at start through a local activity (the result is
// in its history, so replays see the same calendars) and carries them in its state across
// continue-as-new; a calendar changed later applies to instances started after the change.

package process

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
	"github.com/rapportcrm/rapport/engine/rulesets"
)

// CalendarStore lists the stored business calendars; rulesets.Store implements it.
type CalendarStore interface {
	Calendars(ctx context.Context) ([]rulesets.CalendarInfo, error)
}

// calendarFuncs are the expression helpers that name a business calendar.
var calendarFuncs = []string{"addBusinessHours", "businessHoursBetween"}

// usesCalendars reports whether any expression of the model calls a business-time helper.
func usesCalendars(m *bpmn.Model) bool {
	uses := func(src string) bool {
		for _, f := range calendarFuncs {
			if strings.Contains(src, f) {
				return true
			}
		}
		return false
	}
	for _, f := range m.Flows {
		if uses(f.Condition) {
			return true
		}
	}
	for _, v := range m.Variables {
		if uses(v.Default) {
			return true
		}
	}
	for i := range m.Nodes {
		if nodeUses(&m.Nodes[i], uses) {
			return true
		}
	}
	return false
}

func nodeUses(n *bpmn.Node, uses func(string) bool) bool {
	var srcs []string
	if n.Timer != nil {
		srcs = append(srcs, n.Timer.Expression)
	}
	if n.Message != nil {
		srcs = append(srcs, n.Message.CorrelationKey)
	}
	for _, m := range n.Inputs {
		srcs = append(srcs, m.Source)
	}
	for _, m := range n.Outputs {
		srcs = append(srcs, m.Source)
	}
	for _, a := range n.Script {
		srcs = append(srcs, a.Expression)
	}
	if u := n.User; u != nil {
		srcs = append(srcs, u.Assignee.Expression, u.CandidateGroups.Expression, u.CandidateUsers.Expression, u.DueDate.Expression)
	}
	if c := n.Call; c != nil {
		srcs = append(srcs, c.ProcessID.Expression)
	}
	if l := n.Loop; l != nil {
		srcs = append(srcs, l.InputCollection, l.OutputElement, l.CompletionCondition)
	}
	for _, s := range srcs {
		if uses(s) {
			return true
		}
	}
	return false
}

// loadCalendars reads the business calendars through the local activity; when that fails the
// instance runs without them (an expression naming one then raises an incident saying so).
func (r *runner) loadCalendars() []calendar.Spec {
	ctx := workflow.WithLocalActivityOptions(r.ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5},
	})
	var specs []calendar.Spec
	if err := workflow.ExecuteLocalActivity(ctx, CalendarsActivityName).Get(ctx, &specs); err != nil {
		workflow.GetLogger(r.ctx).Warn("read business calendars", "error", err)
		return nil
	}
	return specs
}

// compileCalendars turns the carried specs into the calendars expressions use (a spec that does not
// compile is left out: it was valid when stored).
func compileCalendars(specs []calendar.Spec) map[string]expression.Calendar {
	if len(specs) == 0 {
		return nil
	}
	out := make(map[string]expression.Calendar, len(specs))
	for _, s := range specs {
		if c, err := calendar.New(s); err == nil {
			out[s.Name] = c
		}
	}
	return out
}

// LoadCalendars lists the stored business calendars (run as a local activity at an instance's start).
func (a *Activities) LoadCalendars(ctx context.Context) ([]calendar.Spec, error) {
	if a.Calendars == nil {
		return nil, nil
	}
	infos, err := a.Calendars.Calendars(ctx)
	if err != nil {
		return nil, fmt.Errorf("list business calendars: %w", err)
	}
	out := make([]calendar.Spec, len(infos))
	for i, c := range infos {
		out[i] = c.Spec
	}
	return out, nil
}
