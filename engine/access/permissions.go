// Package access is Rapport's roles and permissions model: the catalogue of named permissions (one per
// API operation), the built-in roles, analyst-defined roles stored in MongoDB, and the decisions the HTTP
// layer and the records store take from them — whether a caller holds a permission (function level),
// which records it may see (object level: own, team or all) and which fields it may not see or change
// (field level). Keeping all of it here gives a security reviewer one package to read.
package access

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Authenticated is the permission every logged-in caller holds: its own profile, logging out, changing
// its own password and listing its own API tokens.
const Authenticated = "authenticated"

// Named permissions that do not depend on an entity. Every API operation names one of these, or a record
// permission built by RecordPermission.
const (
	SchemasRead       = "schemas.read"
	SchemasWrite      = "schemas.write"
	RulesetsRead      = "rulesets.read"
	RulesetsWrite     = "rulesets.write"
	RulesetsPublish   = "rulesets.publish"
	ProcessesRead     = "processes.read"
	ProcessesDeploy   = "processes.deploy"
	ProcessesPublish  = "processes.publish"
	InstancesRead     = "instances.read"
	InstancesOperate  = "instances.operate"
	InstancesStart    = "instances.start"
	MessagesCorrelate = "messages.correlate"
	ExternalTasksWork = "externaltasks.work"
	RulesetsEvaluate  = "rulesets.evaluate"
	TasksRead         = "tasks.read"
	TasksComplete     = "tasks.complete"
	UsersManage       = "users.manage"
	RolesRead         = "roles.read"
	RolesManage       = "roles.manage"
	TokensCreate      = "tokens.create"
	AuditRead         = "audit.read"
	ConnectorsRead    = "connectors.read"
	ConnectorsManage  = "connectors.manage"
	ConnectorsCall    = "connectors.call"
	ImportsRun        = "imports.run"
	CalendarsManage   = "calendars.manage"
	SystemSettings    = "settings.manage"
	AnalyticsRead     = "analytics.read"
	AnalyticsManage   = "analytics.manage"
	permissionsPrefix = "records."
)

// Record actions: a record permission is records.<entity>.<action>.
const (
	ActionRead   = "read"
	ActionWrite  = "write"
	ActionDelete = "delete"
	ActionExport = "export"
	ActionAssign = "assign"
)

// RecordActions lists every action on records, in the order the catalogue shows them.
func RecordActions() []string {
	return []string{ActionRead, ActionWrite, ActionDelete, ActionExport, ActionAssign}
}

// RecordPermission names the permission for an action on an entity's records, e.g. records.lead.read.
func RecordPermission(entity, action string) string {
	return permissionsPrefix + entity + "." + action
}

// PermissionInfo describes one permission for the roles editor.
type PermissionInfo struct {
	// Name is the permission; for record permissions it holds the placeholder <entity>.
	Name string `json:"name"`
	// Description says what holding it allows.
	Description string `json:"description"`
	// PerEntity marks record permissions, granted per entity or for all entities with "*".
	PerEntity bool `json:"perEntity"`
}

// Catalogue lists every named permission, so the roles editor and the route test know the whole set.
func Catalogue() []PermissionInfo {
	out := []PermissionInfo{
		{Name: SchemasRead, Description: "read entity schemas"},
		{Name: SchemasWrite, Description: "create and change entity schemas"},
		{Name: RulesetsRead, Description: "read rule sets"},
		{Name: RulesetsWrite, Description: "draft and test rule sets"},
		{Name: RulesetsPublish, Description: "publish rule sets"},
		{Name: ProcessesRead, Description: "read process definitions"},
		{Name: ProcessesDeploy, Description: "draft, test and deploy process definitions"},
		{Name: ProcessesPublish, Description: "publish process definitions"},
		{Name: InstancesRead, Description: "list and open running processes"},
		{Name: InstancesOperate, Description: "pause, resume, change, move, retry and cancel running processes; complete anyone's task"},
		{Name: InstancesStart, Description: "start process instances"},
		{Name: MessagesCorrelate, Description: "send BPMN messages to running processes (and start message-started ones)"},
		{Name: RulesetsEvaluate, Description: "evaluate published rule sets (integrations)"},
		{Name: ExternalTasksWork, Description: "fetch, lock and finish external tasks of processes (workers over REST); sees the variables of those tasks"},
		{Name: TasksRead, Description: "see tasks in the inbox"},
		{Name: TasksComplete, Description: "complete tasks assigned to oneself"},
		{Name: UsersManage, Description: "invite, change and disable users; manage teams"},
		{Name: RolesRead, Description: "see roles and the permission catalogue"},
		{Name: RolesManage, Description: "define and change roles"},
		{Name: TokensCreate, Description: "create API tokens for oneself"},
		{Name: AuditRead, Description: "read the audit log"},
		{Name: ConnectorsRead, Description: "see connectors and their health"},
		{Name: ConnectorsManage, Description: "install, configure and remove connectors"},
		{Name: ConnectorsCall, Description: "call connector methods (processes with connector tasks need it, and so does who publishes them)"},
		{Name: ImportsRun, Description: "run imports of records from files"},
		{Name: CalendarsManage, Description: "change business calendars"},
		{Name: SystemSettings, Description: "change system settings"},
		{Name: AnalyticsRead, Description: "see analytics (RFM, Pareto, CLV, loyalty, funnel, service) over the records one may read"},
		{Name: AnalyticsManage, Description: "recompute customer segments and schedule their recomputation"},
	}
	for _, a := range RecordActions() {
		out = append(out, PermissionInfo{Name: RecordPermission("<entity>", a), Description: a + " records of the entity", PerEntity: true})
	}
	return out
}

var segment = regexp.MustCompile(`^([a-z][a-zA-Z0-9_-]{0,63}|\*)$`)

// ValidateGrant checks that a permission granted to a role or token names something in the catalogue:
// "*", a named permission, "<area>.*", or a record permission with an entity name or "*" and an action or
// "*". Unknown grants are refused so a typo never silently grants nothing (or everything).
func ValidateGrant(g string) error {
	if g == "*" {
		return nil
	}
	parts := strings.Split(g, ".")
	for _, p := range parts {
		if !segment.MatchString(p) {
			return fmt.Errorf("permission %q: segment %q is not a name or *", g, p)
		}
	}
	if parts[0] == "records" {
		if len(parts) != 3 {
			return fmt.Errorf("permission %q: record permissions are records.<entity>.<action>", g)
		}
		if parts[2] != "*" && !slices.Contains(RecordActions(), parts[2]) {
			return fmt.Errorf("permission %q: unknown record action %q", g, parts[2])
		}
		return nil
	}
	for _, info := range Catalogue() {
		if !info.PerEntity && Match(g, info.Name) {
			return nil
		}
	}
	return fmt.Errorf("permission %q is not in the catalogue", g)
}

// Match reports whether a granted permission covers a required one. "*" covers everything; otherwise the
// dot-separated segments are compared one by one and a "*" segment covers any one segment, so
// records.*.read covers records.lead.read but not records.lead.write.
func Match(grant, perm string) bool {
	if grant == "*" || grant == perm {
		return true
	}
	for {
		g, grest, gmore := strings.Cut(grant, ".")
		p, prest, pmore := strings.Cut(perm, ".")
		if g != "*" && g != p {
			return false
		}
		if !gmore || !pmore {
			return gmore == pmore
		}
		grant, perm = grest, prest
	}
}

// Granted reports whether any of grants covers perm. Authenticated is covered by any grant list,
// including an empty one: holding a valid login is enough.
func Granted(grants []string, perm string) bool {
	if perm == Authenticated {
		return true
	}
	for _, g := range grants {
		if Match(g, perm) {
			return true
		}
	}
	return false
}
