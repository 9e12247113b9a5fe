// User tasks: opening them, validating and applying completions.

package process

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

func (r *runner) startUserTask(t *Token, n *bpmn.Node) {
	id := fmt.Sprintf("%s.%d", n.ID, t.ID)
	if t.Loop != nil {
		id = fmt.Sprintf("%s.%d.%d", n.ID, t.ID, t.Loop.Index)
	}
	u := &UserTask{ID: id, Element: n.ID, Name: n.Name, Token: t.ID, Created: r.now()}
	if r.at(levelOperations) {
		u.Priority = DefaultPriority
	}
	if spec := n.User; spec != nil {
		u.FormKey = spec.FormKey
		u.Fields = spec.Fields
		now := r.now()
		for _, f := range []struct {
			e   bpmn.Expr
			set func(any) error
		}{
			{spec.Assignee, func(v any) error {
				if v != nil {
					u.Assignee = fmt.Sprint(v)
				}
				return nil
			}},
			{spec.CandidateGroups, func(v any) error { u.CandidateGroups = stringList(v); return nil }},
			{spec.CandidateUsers, func(v any) error { u.CandidateUsers = stringList(v); return nil }},
			{r.priorityExpr(spec), func(v any) error { return setPriority(u, v) }},
			{spec.DueDate, func(v any) error {
				switch d := v.(type) {
				case time.Time:
					u.DueDate = d
				case string:
					if d == "" {
						return nil
					}
					at, err := bpmn.ParseDate(d)
					if err != nil {
						return fmt.Errorf("due date: %w", err)
					}
					u.DueDate = at
				case nil:
				default:
					return fmt.Errorf("due date is %T, not a time", v)
				}
				return nil
			}},
		} {
			if f.e.IsZero() {
				continue
			}
			v, err := r.x.value(f.e, r.vars(t), now)
			if err == nil {
				err = f.set(v)
			}
			if err != nil {
				r.raise(t, n.ID, IncidentExpression, err.Error())
				return
			}
		}
	}
	r.st.UserTasks = append(r.st.UserTasks, u)
	r.st.Subs = append(r.st.Subs, &Subscription{ID: r.nextID(), Kind: subUser, Token: t.ID, Node: n.Index})
	r.armBoundaries(t, n)
}

func (r *runner) userTask(id string) *UserTask {
	for _, u := range r.st.UserTasks {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// completionTask finds the open task a completion is for and refuses a caller it is neither assigned
// nor offered to. Validators do not run on replay, so this check applies at every behaviour level.
func (r *runner) completionTask(req CompleteTaskRequest) (*UserTask, error) {
	u := r.userTask(req.TaskID)
	if u == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no open user task %q", req.TaskID), ErrorTypeNoTask, nil)
	}
	if c := req.Caller; c != nil && !c.Operator && !u.CompletableBy(c.IDs, c.Groups) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("user task %q is assigned to someone else", req.TaskID),
			ErrorTypeNotYourTask, nil, u.Element)
	}
	return u, nil
}

// CompletableBy reports whether a person may complete the task: its assignee, a candidate user, a
// member of a candidate group, or anyone when it is neither assigned nor offered to anybody.
func (u *UserTask) CompletableBy(ids, groups []string) bool {
	return u.OfferedTo(ids, groups) || (u.Assignee == "" && len(u.CandidateUsers) == 0 && len(u.CandidateGroups) == 0)
}

// validateCompletion refuses a completion for an unknown task, with missing required fields, unknown
// fields or values of the wrong type; it runs before the update is accepted into history.
func (r *runner) validateCompletion(req CompleteTaskRequest) error {
	u, err := r.completionTask(req)
	if err != nil {
		return err
	}
	var problems []string
	for _, f := range u.Fields {
		v, ok := req.Variables[f.Name]
		if !ok || v == nil {
			if f.Required {
				problems = append(problems, fmt.Sprintf("field %q is required", f.Name))
			}
			continue
		}
		if err := checkType(f.Type, v); err != nil {
			problems = append(problems, fmt.Sprintf("field %q: %v", f.Name, err))
		}
	}
	if len(u.Fields) > 0 {
		for _, k := range sortedKeys(req.Variables) {
			if !slices.ContainsFunc(u.Fields, func(f bpmn.FormField) bool { return f.Name == k }) {
				problems = append(problems, fmt.Sprintf("field %q is not on the form", k))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("task %s: %s", req.TaskID, joinProblems(problems))
	}
	return nil
}

// completeTask applies an accepted completion: form values become variables (through output mappings
// when the task has them) and the token moves on. At behaviour level 1 a form field the completion
// leaves out is set to nil (it has no value now, whatever an earlier round left), and output
// mappings read the completion's values by name as well as through result.
func (r *runner) completeTask(req CompleteTaskRequest) error {
	u := r.userTask(req.TaskID)
	if u == nil {
		return fmt.Errorf("user task %s was completed or cancelled meanwhile", req.TaskID)
	}
	t := r.token(u.Token)
	if t == nil {
		return fmt.Errorf("user task %s has no token", req.TaskID)
	}
	n := &r.model.Nodes[t.Node]
	if r.at(levelOperations) {
		r.note(n.ID, EventCompleted, t.ID, Operator{By: req.By, Reason: req.Reason}, "")
	} else {
		r.record(n.ID, "completed by "+req.By, t.ID)
	}
	if r.at(levelIssue12) {
		r.dropWork(t, false) // the task is done, whatever its completion raises
		vars := make(map[string]any, len(u.Fields)+len(req.Variables))
		for _, f := range u.Fields {
			vars[f.Name] = nil
		}
		maps.Copy(vars, req.Variables)
		if len(n.Outputs) == 0 {
			r.mergeAt(t, vars)
		} else {
			t.Payload = vars
		}
		r.finishActivity(t, n, req.Variables)
		return nil
	}
	if len(n.Outputs) == 0 {
		r.merge(req.Variables)
	} else if err := r.outputs(t, n, req.Variables); err != nil {
		r.raise(t, n.ID, IncidentExpression, err.Error())
		return nil
	}
	r.complete(t, n, req.Variables)
	return nil
}

// OfferedTo reports whether the task belongs in a person's inbox: assigned to one of ids (user id,
// e-mail), or offered to one of them as a candidate user or to one of groups (teams, roles) as a
// candidate group.
func (u *UserTask) OfferedTo(ids, groups []string) bool {
	in := func(l, of []string) bool {
		return slices.ContainsFunc(l, func(s string) bool { return slices.Contains(of, s) })
	}
	return (u.Assignee != "" && slices.Contains(ids, u.Assignee)) || in(u.CandidateUsers, ids) || in(u.CandidateGroups, groups)
}

// DefaultPriority is the priority of a user task whose element names none (as in Zeebe).
const DefaultPriority = 50

// priorityExpr is the task's priority expression at behaviour level 2 (none before).
func (r *runner) priorityExpr(spec *bpmn.UserTaskSpec) bpmn.Expr {
	if !r.at(levelOperations) {
		return bpmn.Expr{}
	}
	return spec.Priority
}

// setPriority sets a task's priority from a number between 0 and 100.
func setPriority(u *UserTask, v any) error {
	var p float64
	switch n := v.(type) {
	case nil:
		return nil
	case int:
		p = float64(n)
	case int64:
		p = float64(n)
	case float64:
		p = n
	case string:
		if _, err := fmt.Sscanf(n, "%g", &p); err != nil {
			return fmt.Errorf("priority %q is not a number", n)
		}
	default:
		return fmt.Errorf("priority is %T, not a number", v)
	}
	if p < 0 || p > 100 {
		return fmt.Errorf("priority %v is not between 0 and 100", p)
	}
	u.Priority = int(p)
	return nil
}
