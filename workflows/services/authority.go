package services

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/identity"
	"github.com/rapportcrm/rapport/workflows/process"
)

// ErrorTypePermission is the ApplicationError type of a task its process may not run; the instance gets
// an incident naming the process, its principal and the permission.
const ErrorTypePermission = "PermissionDenied"

// Identity is who a task acts for: the process version's run-as identity (Subject is it as
// engine/access sees it, with the roles it holds now), and where the task runs.
type Identity struct {
	RunAs    definitions.RunAs
	Subject  access.Subject
	Process  string
	Version  int
	Element  string
	Instance string
}

type identityKey struct{}

// WithIdentity returns ctx carrying the identity a task acts for.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity a task acts for, if the Guard set one.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// RunAsSource gives a process version's run-as identity; definitions.Store implements it.
type RunAsSource interface {
	RunAsOf(ctx context.Context, key string, version int) (definitions.RunAs, error)
}

// Users reads the publisher of a version published before run-as identities; identity.Store implements it.
type Users interface {
	UserByID(ctx context.Context, id string) (*identity.User, error)
}

// Guard checks every task a process runs against the version's run-as identity, as the API checks a
// request against its caller: the permissions the task type needs (definitions.TaskPermissions, the
// same list the publisher was shown) must be held by the identity's role and listed in its
// requirements. The task then runs with the identity in its context, so record tasks apply its scope
// and field rules, and the audit log names the process and its principal. Install it as a worker
// interceptor (Interceptor).
type Guard struct {
	RunAs  RunAsSource
	Access definitions.Authority
	Users  Users
	Audit  audit.Recorder
}

// Interceptor is the worker interceptor that applies the guard to the interpreter's task activity.
func (g *Guard) Interceptor() interceptor.WorkerInterceptor { return &guardInterceptor{g: g} }

type guardInterceptor struct {
	interceptor.WorkerInterceptorBase
	g *Guard
}

func (i *guardInterceptor) InterceptActivity(_ context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &guardActivity{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, g: i.g}
}

type guardActivity struct {
	interceptor.ActivityInboundInterceptorBase
	g *Guard
}

func (a *guardActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	if activity.GetInfo(ctx).ActivityType.Name != process.TaskActivityName || len(in.Args) != 1 {
		return a.Next.ExecuteActivity(ctx, in)
	}
	req, ok := in.Args[0].(process.TaskRequest)
	if !ok {
		return a.Next.ExecuteActivity(ctx, in)
	}
	id, err := a.g.Check(ctx, req)
	if err != nil {
		return nil, err
	}
	out, err := a.Next.ExecuteActivity(WithIdentity(ctx, id), in)
	a.g.audit(ctx, id, req, out, err)
	return out, err
}

// Check resolves the identity of the task's process version and checks that it holds every permission
// the task needs now; a refusal is a non-retryable error (an incident) and is audited.
func (g *Guard) Check(ctx context.Context, req process.TaskRequest) (Identity, error) {
	run, err := g.RunAs.RunAsOf(ctx, req.ProcessKey, req.ProcessVersion)
	if err != nil {
		return Identity{}, fmt.Errorf("identity of process %s v%d: %w", req.ProcessKey, req.ProcessVersion, err)
	}
	roles := []string{run.Role}
	if run.Role == "" && g.Users != nil { // published before run-as identities: the publisher's roles now
		u, err := g.Users.UserByID(ctx, run.Publisher)
		if err != nil || u.Disabled {
			roles = nil
		} else {
			roles, run.Teams = u.Roles, u.Teams
		}
	}
	sub := run.Subject()
	sub.Roles = roles
	id := Identity{RunAs: run, Subject: sub, Process: req.ProcessKey, Version: req.ProcessVersion, Element: req.Element, Instance: req.WorkflowID}
	for _, perm := range taskPermissions(req) {
		if g.Access.AllowsRoles(sub.Roles, perm) && access.Granted(sub.Scopes, perm) {
			continue
		}
		msg := fmt.Sprintf("process %s version %d runs as %s (role %s), which does not hold %s needed by %s (%s)",
			req.ProcessKey, req.ProcessVersion, run.Principal, strings.Join(roles, ","), perm, req.Element, req.Type)
		g.record(ctx, audit.Event{Action: "process.task", Outcome: audit.OutcomeDenied, Actor: actor(id),
			Target: audit.Target{Type: "instance", ID: req.WorkflowID}, Reason: msg, Details: details(id, req, nil)})
		return Identity{}, temporal.NewNonRetryableApplicationError(msg, ErrorTypePermission, nil)
	}
	return id, nil
}

// taskPermissions is what the task needs, from its type, entity and the fields it writes.
func taskPermissions(req process.TaskRequest) []string {
	fields := make([]string, 0, len(req.Inputs))
	for k := range req.Inputs {
		fields = append(fields, k)
	}
	slices.Sort(fields)
	return definitions.TaskPermissions(req.Type, entityOf(req), fields)
}

// entityOf is the entity a record task acts on, as the interpreter's handlers read it.
func entityOf(req process.TaskRequest) string {
	if e, ok := req.Inputs["entity"].(string); ok && e != "" {
		return e
	}
	return req.Headers["entity"]
}

// writes are the task types whose effect the audit log records.
var writes = []string{definitions.TaskRecordCreate, definitions.TaskRecordUpdate, definitions.TaskCreate,
	definitions.TaskClose, definitions.TaskConnector, definitions.TaskMessagePublish}

func (g *Guard) audit(ctx context.Context, id Identity, req process.TaskRequest, out any, err error) {
	if !slices.Contains(writes, req.Type) {
		return
	}
	e := audit.Event{Action: "process.task", Outcome: audit.OutcomeSuccess, Actor: actor(id),
		Target: audit.Target{Type: "instance", ID: req.WorkflowID}, Details: details(id, req, out)}
	if err != nil {
		e.Outcome, e.Reason = audit.OutcomeFailure, err.Error()
	}
	g.record(ctx, e)
}

func (g *Guard) record(ctx context.Context, e audit.Event) {
	if g.Audit == nil {
		return
	}
	if err := g.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		activity.GetLogger(ctx).Warn("write audit entry", "action", e.Action, "error", err)
	}
}

func actor(id Identity) audit.Actor {
	return audit.Actor{ID: id.RunAs.Principal, Via: "process:" + id.Instance}
}

func details(id Identity, req process.TaskRequest, out any) map[string]any {
	d := map[string]any{"process": id.Process, "version": id.Version, "element": req.Element, "taskType": req.Type, "roles": id.Subject.Roles}
	if e := entityOf(req); e != "" {
		d["entity"] = e
	}
	if r, ok := out.(process.TaskResult); ok {
		if rid, ok := r.Output["id"]; ok {
			d["recordId"] = rid
		}
	}
	return d
}
