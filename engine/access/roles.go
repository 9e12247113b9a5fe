package access

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Scope says which records of an entity a role reaches: those its holder owns or is assigned, those of its
// holder's teams, or all.
type Scope string

// Scopes, from narrowest to widest. The zero value reaches nothing.
const (
	ScopeNone Scope = ""
	ScopeOwn  Scope = "own"
	ScopeTeam Scope = "team"
	ScopeAll  Scope = "all"
)

func (s Scope) rank() int {
	switch s {
	case ScopeOwn:
		return 1
	case ScopeTeam:
		return 2
	case ScopeAll:
		return 3
	}
	return 0
}

// AllEntities is the key of Role.Scopes and Role.Fields that applies to every entity without its own entry.
const AllEntities = "*"

// Built-in role names.
const (
	RoleAdmin        = "admin"
	RoleAnalyst      = "analyst"
	RoleProcessOwner = "process-owner"
	RoleManager      = "manager"
	RoleAgent        = "agent"
	RoleViewer       = "viewer"
	RoleIntegration  = "integration"
)

// FieldRules lists fields of an entity a role may not see (absent from responses, exports and history) or
// may see but not change.
type FieldRules struct {
	Hidden   []string `bson:"hidden,omitempty" json:"hidden,omitempty" doc:"Fields absent from every response for holders of this role."`
	ReadOnly []string `bson:"readOnly,omitempty" json:"readOnly,omitempty" doc:"Fields holders of this role may see but not write."`
}

// Role is a named set of permissions with a record scope and field rules per entity.
type Role struct {
	Name        string   `bson:"_id" json:"name" doc:"Unique name, lower case with dashes."`
	Description string   `bson:"description" json:"description,omitempty"`
	Permissions []string `bson:"permissions" json:"permissions" doc:"Granted permissions; * matches one segment, e.g. records.*.read."`
	// Scopes maps an entity (or * for the rest) to the records the role reaches. Without an entry a custom
	// role reaches only its holder's own records: access is never wider than written down.
	Scopes map[string]Scope `bson:"scopes,omitempty" json:"scopes,omitempty" doc:"Entity (or *) to own, team or all."`
	// Fields maps an entity (or *) to its hidden and read-only fields.
	Fields    map[string]FieldRules `bson:"fields,omitempty" json:"fields,omitempty"`
	BuiltIn   bool                  `bson:"-" json:"builtIn"`
	UpdatedAt time.Time             `bson:"updatedAt" json:"updatedAt,omitzero"`
	UpdatedBy string                `bson:"updatedBy,omitempty" json:"updatedBy,omitempty"`
}

// ScopeFor returns the role's scope on an entity's records.
func (r Role) ScopeFor(entity string) Scope {
	if s, ok := r.Scopes[entity]; ok {
		return s
	}
	if s, ok := r.Scopes[AllEntities]; ok {
		return s
	}
	return ScopeOwn
}

// fieldsFor returns the role's field rules on an entity: its own entry, or else the * entry.
func (r Role) fieldsFor(entity string) FieldRules {
	if f, ok := r.Fields[entity]; ok {
		return f
	}
	return r.Fields[AllEntities]
}

var roleName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)

// Validate checks a role before it is stored: a valid name, known permissions, known scopes.
func (r Role) Validate() error {
	var errs []error
	if !roleName.MatchString(r.Name) {
		errs = append(errs, fmt.Errorf("name %q must be 2-40 lower-case letters, digits or dashes, starting with a letter", r.Name))
	}
	for _, p := range r.Permissions {
		if err := ValidateGrant(p); err != nil {
			errs = append(errs, err)
		}
	}
	for entity, s := range r.Scopes {
		if s.rank() == 0 {
			errs = append(errs, fmt.Errorf("scope of %q is %q; want own, team or all", entity, s))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidRole, errors.Join(errs...))
	}
	return nil
}

// ErrInvalidRole wraps the reasons a role is refused.
var ErrInvalidRole = errors.New("invalid role")

// BuiltInRoles returns the roles every installation has. They cannot be changed or deleted; analysts
// compose their own roles from the same permissions.
func BuiltInRoles() []Role {
	all := map[string]Scope{AllEntities: ScopeAll}
	roles := []Role{
		{Name: RoleAdmin, Description: "Everything, including users, roles and connectors.", Permissions: []string{"*"}, Scopes: all},
		{Name: RoleAnalyst, Description: "Schemas, rules and process definitions (draft, test, publish); reads records.",
			Permissions: []string{"schemas.*", "rulesets.*", "processes.*", InstancesRead, InstancesStart, "records.*.read", "records.*.export",
				ConnectorsRead, CalendarsManage, TokensCreate, "analytics.*"}, Scopes: all},
		{Name: RoleProcessOwner, Description: "Watches and operates running processes.",
			Permissions: []string{SchemasRead, RulesetsRead, ProcessesRead, InstancesRead, InstancesOperate, InstancesStart,
				MessagesCorrelate, TasksRead, TasksComplete, "records.*.read", TokensCreate, AnalyticsRead}, Scopes: all},
		{Name: RoleManager, Description: "Records of their teams; reassigns within the team.",
			Permissions: []string{SchemasRead, InstancesRead, InstancesStart, TasksRead, TasksComplete, "records.*.read", "records.*.write",
				"records.*.export", "records.*.assign", TokensCreate, AnalyticsRead}, Scopes: map[string]Scope{AllEntities: ScopeTeam}},
		{Name: RoleAgent, Description: "Records they own or are assigned; tasks assigned to them.",
			Permissions: []string{SchemasRead, TasksRead, TasksComplete, "records.*.read", "records.*.write", TokensCreate, AnalyticsRead},
			Scopes:      map[string]Scope{AllEntities: ScopeOwn}},
		{Name: RoleViewer, Description: "Reads everything it is shown; changes nothing.",
			Permissions: []string{SchemasRead, RulesetsRead, ProcessesRead, InstancesRead, TasksRead, "records.*.read", AnalyticsRead}, Scopes: all},
		{Name: RoleIntegration, Description: "Plugins and external systems; its API tokens narrow it to named permissions.",
			Permissions: []string{SchemasRead, "records.*.read", "records.*.write", "records.*.export", ImportsRun, TokensCreate,
				InstancesStart, MessagesCorrelate, RulesetsEvaluate, ExternalTasksWork},
			Scopes: all},
	}
	for i := range roles {
		roles[i].BuiltIn = true
	}
	return roles
}

// IsBuiltIn reports whether name is one of the built-in roles.
func IsBuiltIn(name string) bool {
	return slices.ContainsFunc(BuiltInRoles(), func(r Role) bool { return r.Name == name })
}
