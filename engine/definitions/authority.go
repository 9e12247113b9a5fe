package definitions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/tasktypes"
)

// ConnectorsCall is the permission a process needs to run a connector task; a user needs it to publish
// such a process.
const ConnectorsCall = access.ConnectorsCall

// Task types whose permissions the store derives. Other types need no permission of their own: http
// calls are bounded by the outbound policy, notifications reach only users, and external task types
// are run by workers outside Rapport.
const (
	TaskRecordCreate = tasktypes.RecordCreate
	TaskRecordUpdate = tasktypes.RecordUpdate
	TaskRecordGet    = tasktypes.RecordGet
	TaskRecordFind   = tasktypes.RecordFind
	TaskCreate       = tasktypes.TaskCreate
	// TaskClose closes the open Task records an instance created, when it is cancelled.
	TaskClose          = "task.close"
	TaskConnector      = tasktypes.Connector
	TaskRulesEvaluate  = tasktypes.RulesEvaluate
	TaskMessagePublish = tasktypes.MessagePublish
	// The CRM processes' task types (workflows/services).
	TaskRecordMatch = "record.match"
	TaskRulesAssign = "rules.assign"
	TaskLeadConvert = "lead.convert"
)

// TaskEntity is the entity Task records have; task.create writes them.
const TaskEntity = "task"

// TaskPermissions lists the permissions a task of taskType needs when it acts on entity ("" when the
// entity is only known at run time, which needs the permission on every entity) and, for record
// writes, sets the fields named in fields. The publish check and the activities at run time both ask
// it, so what a publisher is shown is what a process is checked against.
func TaskPermissions(taskType, entity string, fields []string) []string {
	if entity == "" {
		entity = "*"
	}
	write := func(entity string) []string {
		out := []string{access.RecordPermission(entity, access.ActionWrite)}
		if slices.Contains(fields, access.OwnerField) {
			out = append(out, access.RecordPermission(entity, access.ActionAssign))
		}
		return out
	}
	switch taskType {
	case TaskRecordCreate, TaskRecordUpdate:
		return write(entity)
	case TaskRecordGet, TaskRecordFind, TaskRecordMatch:
		return []string{access.RecordPermission(entity, access.ActionRead)}
	case TaskRulesAssign:
		return []string{access.RulesetsEvaluate, access.RecordPermission(entity, access.ActionRead)}
	case TaskLeadConvert:
		out := []string{}
		// It reads the lead and links the records it creates or finds, and a reference is checked in the
		// writer's read scope.
		for _, e := range []string{"company", "contact", "deal", "lead"} {
			out = append(out, access.RecordPermission(e, access.ActionRead), access.RecordPermission(e, access.ActionWrite))
		}
		// The new records get the lead's owner.
		for _, e := range []string{"company", "contact", "deal"} {
			out = append(out, access.RecordPermission(e, access.ActionAssign))
		}
		return out
	case TaskCreate, TaskClose:
		return write(TaskEntity)
	case TaskConnector:
		return []string{ConnectorsCall}
	case TaskRulesEvaluate:
		return []string{access.RulesetsEvaluate}
	case TaskMessagePublish:
		return []string{access.MessagesCorrelate}
	}
	return nil
}

// Requirement is one permission a process needs, with the elements that need it.
type Requirement struct {
	Permission string   `bson:"permission" json:"permission"`
	Elements   []string `bson:"elements" json:"elements" doc:"IDs of the BPMN elements that need the permission."`
}

// Requirements derives from a model every permission its instances need: reading the records that
// start it, and each permission of its service, business rule and message throw tasks. The list is
// sorted by permission; it is what a publisher must hold and is shown before publishing.
func Requirements(models ...*bpmn.Model) []Requirement {
	byPerm := map[string][]string{}
	add := func(el string, perms ...string) {
		for _, p := range perms {
			if !slices.Contains(byPerm[p], el) {
				byPerm[p] = append(byPerm[p], el)
			}
		}
	}
	for _, m := range models {
		addModel(m, add)
	}
	out := make([]Requirement, 0, len(byPerm))
	for p, els := range byPerm {
		out = append(out, Requirement{Permission: p, Elements: els})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Permission < out[j].Permission })
	return out
}

// addModel adds the requirements of one model.
func addModel(m *bpmn.Model, add func(el string, perms ...string)) {
	for i := range m.Nodes {
		n := &m.Nodes[i]
		switch n.Kind {
		case bpmn.KindStartRecord:
			if n.Trigger != nil {
				add(n.ID, access.RecordPermission(n.Trigger.Entity, access.ActionRead))
			}
		case bpmn.KindServiceTask:
			if n.Task != nil {
				add(n.ID, TaskPermissions(n.Task.Type, staticEntity(n), mappedFields(n))...)
			}
		case bpmn.KindBusinessRuleTask:
			add(n.ID, TaskPermissions(TaskRulesEvaluate, "", nil)...)
		case bpmn.KindMessageThrow:
			add(n.ID, TaskPermissions(TaskMessagePublish, "", nil)...)
		}
	}
}

// staticEntity is the entity a record task names in its header, or "" when an input mapping sets it
// at run time (which the interpreter's handlers prefer over the header).
func staticEntity(n *bpmn.Node) string {
	for _, in := range n.Inputs {
		if in.Target == "entity" {
			return ""
		}
	}
	for _, h := range n.Headers {
		if h.Key == "entity" {
			return strings.TrimSpace(h.Value)
		}
	}
	return ""
}

// mappedFields are the targets of a task's input mappings: the fields a record task writes.
func mappedFields(n *bpmn.Node) []string {
	out := make([]string, 0, len(n.Inputs))
	for _, in := range n.Inputs {
		out = append(out, in.Target)
	}
	return out
}

// Permissions lists the permissions of requirements.
func Permissions(reqs []Requirement) []string {
	out := make([]string, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, r.Permission)
	}
	return out
}

// PrincipalPrefix starts the ID of every process's run-as principal: "process:<key>@<version>".
const PrincipalPrefix = "process:"

// PrincipalID names the service principal a published version runs as.
func PrincipalID(key string, version int) string {
	return fmt.Sprintf("%s%s@%d", PrincipalPrefix, key, version)
}

// RunAs is the identity a published version acts under: a service principal holding the role chosen at
// publish time, narrowed to the permissions the version's tasks need (as an API token's scopes narrow
// its user). Activities check every task against it like an API call; history and audit name it.
type RunAs struct {
	Principal string `bson:"principal" json:"principal" doc:"The service principal, process:<key>@<version>."`
	Role      string `bson:"role" json:"role" doc:"The role chosen at publish time; its record scopes and field rules apply."`
	// Permissions are the version's requirements: the principal holds a permission only when its role
	// grants it and it is listed here.
	Permissions []string `bson:"permissions" json:"permissions"`
	// Teams are the publisher's teams when publishing, for roles scoped to teams.
	Teams     []string `bson:"teams,omitempty" json:"teams,omitempty"`
	Publisher string   `bson:"publisher" json:"publisher" doc:"The user who published the version and vouched for these permissions."`
}

// Subject is the principal as engine/access sees it; its permissions never exceed the listed ones.
func (r RunAs) Subject() access.Subject {
	return access.Subject{UserID: r.Principal, Roles: []string{r.Role}, Teams: r.Teams, Scopes: append([]string{}, r.Permissions...)}
}

// Publisher is who publishes: the user's ID, roles and teams, and, when the request carries an API
// token, its scopes (as access.Subject has them).
type Publisher = access.Subject

// Errors of the publish authority check.
var (
	// ErrUnknownRole means the chosen run-as role does not exist.
	ErrUnknownRole = errors.New("unknown run-as role")
)

// AuthorityError lists why a publisher may not give a version the identity it asks for: permissions the
// publisher lacks (Missing, a 403) or that the chosen role does not grant or grants more widely than
// the publisher holds them (Role, a 422).
type AuthorityError struct {
	Role    string
	Missing []Requirement
	// RoleLacks are requirements the role does not grant; RoleWider those it grants on more records
	// than the publisher may reach.
	RoleLacks []Requirement
	RoleWider []Requirement
}

func (e *AuthorityError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "you do not hold "+strings.Join(Permissions(e.Missing), ", ")+", which the process needs")
	}
	if len(e.RoleLacks) > 0 {
		parts = append(parts, fmt.Sprintf("the run-as role %q does not grant %s", e.Role, strings.Join(Permissions(e.RoleLacks), ", ")))
	}
	if len(e.RoleWider) > 0 {
		parts = append(parts, fmt.Sprintf("the run-as role %q reaches more records than you do for %s", e.Role, strings.Join(Permissions(e.RoleWider), ", ")))
	}
	return strings.Join(parts, "; ")
}

// Authority decides what a run-as identity may be; engine/access.Policy implements it.
type Authority interface {
	Role(name string) (access.Role, bool)
	AllowsRoles(roles []string, perm string) bool
	Decide(s access.Subject, entity string) access.Decision
}

// holds reports whether a subject holds perm: a role grants it and, for a narrowed subject, its scopes
// list it.
func holds(a Authority, s access.Subject, perm string) bool {
	return a.AllowsRoles(s.Roles, perm) && (s.Scopes == nil || access.Granted(s.Scopes, perm))
}

// Allowed reports whether a run-as identity may take perm now: the role (as it is today) grants it and
// the version's requirements list it.
func (r RunAs) Allowed(a Authority, perm string) bool { return holds(a, r.Subject(), perm) }

// scopeRank orders record scopes from none to all.
func scopeRank(s access.Scope) int {
	return slices.Index([]access.Scope{access.ScopeNone, access.ScopeOwn, access.ScopeTeam, access.ScopeAll}, s)
}

// grant decides the run-as identity of a version: role "" picks the first of the publisher's roles that
// grants every requirement within the publisher's reach. It refuses when the publisher lacks a
// requirement, or the role lacks one or reaches records the publisher cannot.
func grant(a Authority, p Publisher, role, key string, version int, reqs []Requirement) (RunAs, error) {
	ae := &AuthorityError{Role: role}
	for _, r := range reqs {
		if !holds(a, p, r.Permission) {
			ae.Missing = append(ae.Missing, r)
		}
	}
	if len(ae.Missing) > 0 {
		return RunAs{}, ae
	}
	candidates := []string{role}
	if role == "" {
		candidates = p.Roles
		if len(candidates) == 0 {
			return RunAs{}, fmt.Errorf("%w: you hold no role; choose a run-as role", ErrUnknownRole)
		}
	} else if _, ok := a.Role(role); !ok {
		return RunAs{}, fmt.Errorf("%w %q", ErrUnknownRole, role)
	}
	var first *AuthorityError
	for _, c := range candidates {
		run := RunAs{Principal: PrincipalID(key, version), Role: c, Permissions: Permissions(reqs), Teams: p.Teams, Publisher: p.UserID}
		e := roleFits(a, p, run, reqs)
		if e == nil {
			return run, nil
		}
		if first == nil {
			first = e
		}
	}
	if first == nil {
		first = &AuthorityError{RoleLacks: reqs}
	}
	return RunAs{}, first
}

// roleFits checks that a run-as identity holds every requirement and reaches no record the publisher
// cannot for it.
func roleFits(a Authority, p Publisher, run RunAs, reqs []Requirement) *AuthorityError {
	e := &AuthorityError{Role: run.Role}
	sub := run.Subject()
	for _, r := range reqs {
		if !holds(a, sub, r.Permission) {
			e.RoleLacks = append(e.RoleLacks, r)
			continue
		}
		entity, action, ok := recordPermission(r.Permission)
		if !ok {
			continue
		}
		if wider(a.Decide(sub, entity), a.Decide(p, entity), action) {
			e.RoleWider = append(e.RoleWider, r)
		}
	}
	if len(e.RoleLacks)+len(e.RoleWider) == 0 {
		return nil
	}
	return e
}

// wider reports whether run reaches more records than pub for action, or sees a field pub may not.
// An entity of "*" (a task whose entity is known only at run time) is judged per entity at run time.
func wider(run, pub access.Decision, action string) bool {
	if scopeRank(run.Scope(action)) > scopeRank(pub.Scope(action)) {
		return true
	}
	if action == access.ActionRead {
		for _, f := range pub.HiddenFields() {
			if !run.Hidden(f) {
				return true
			}
		}
	}
	return false
}

// recordPermission splits records.<entity>.<action>.
func recordPermission(perm string) (entity, action string, ok bool) {
	parts := strings.Split(perm, ".")
	if len(parts) != 3 || parts[0] != "records" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// RunAsOf returns the identity a published version acts under, cached (versions are immutable). A
// version published before run-as identities existed has none: it gets one on its publisher's behalf,
// holding the permissions its tasks need with no role; callers give it the publisher's current roles
// (RunAs.Role is empty).
func (s *Store) RunAsOf(ctx context.Context, key string, version int) (RunAs, error) {
	if version > 0 {
		if v, ok := s.runAsCache.Load(key + "@" + strconv.Itoa(version)); ok {
			return v.(RunAs), nil
		}
	}
	v, err := s.Version(ctx, key, version)
	if err != nil {
		return RunAs{}, err
	}
	run := v.RunAs
	if run.Principal == "" {
		m, _, err := s.Load(ctx, key, v.Version)
		if err != nil {
			return RunAs{}, err
		}
		run = RunAs{Principal: PrincipalID(key, v.Version), Permissions: Permissions(Requirements(m)), Publisher: v.PublishedBy}
	}
	s.runAsCache.Store(key+"@"+strconv.Itoa(v.Version), run)
	return run, nil
}
