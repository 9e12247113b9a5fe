package definitions

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/bpmn"
)

func compileFile(t *testing.T, path string) *bpmn.Model {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return compileXML(t, string(raw))
}

func compileXML(t *testing.T, xml string) *bpmn.Model {
	t.Helper()
	defs, err := bpmn.Parse(strings.NewReader(xml), MaxXMLSize)
	if err != nil {
		t.Fatal(err)
	}
	m, problems := bpmn.CompileWith(defs, bpmn.Options{SkipExpressions: true})
	if len(problems) > 0 {
		t.Fatalf("compile: %+v", problems)
	}
	return m
}

const taskKinds = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:rapport="http://rapport.dev/schema/bpmn/1.0" id="D" targetNamespace="x">
  <bpmn:process id="kinds" isExecutable="true">
    <bpmn:startEvent id="S"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Assign">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="record.create" />
        <zeebe:taskHeaders><zeebe:header key="entity" value="deal" /></zeebe:taskHeaders>
        <zeebe:ioMapping><zeebe:input source="=who" target="owner" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="AnyEntity">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="record.find" />
        <zeebe:taskHeaders><zeebe:header key="entity" value="lead" /></zeebe:taskHeaders>
        <zeebe:ioMapping><zeebe:input source="=kind" target="entity" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:intermediateThrowEvent id="Tell">
      <bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F4</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="M" />
    </bpmn:intermediateThrowEvent>
    <bpmn:serviceTask id="Web">
      <bpmn:extensionElements><zeebe:taskDefinition type="http" /></bpmn:extensionElements>
      <bpmn:incoming>F4</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="E"><bpmn:incoming>F5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Assign" />
    <bpmn:sequenceFlow id="F2" sourceRef="Assign" targetRef="AnyEntity" />
    <bpmn:sequenceFlow id="F3" sourceRef="AnyEntity" targetRef="Tell" />
    <bpmn:sequenceFlow id="F4" sourceRef="Tell" targetRef="Web" />
    <bpmn:sequenceFlow id="F5" sourceRef="Web" targetRef="E" />
  </bpmn:process>
  <bpmn:message id="M" name="told"><bpmn:extensionElements><zeebe:subscription correlationKey="=who" /></bpmn:extensionElements></bpmn:message>
</bpmn:definitions>`

// TestRequirements derives the permissions of the shipped examples and of every task kind.
func TestRequirements(t *testing.T) {
	tests := []struct {
		name  string
		model func(t *testing.T) *bpmn.Model
		want  map[string]string // permission -> elements
	}{
		{"lead qualification", func(t *testing.T) *bpmn.Model { return compileFile(t, "../bpmn/testdata/lead-qualification.bpmn") }, map[string]string{
			"records.lead.read": "StartEvent_LeadCreated", "rulesets.evaluate": "Task_ScoreLead",
			"records.lead.write": "Task_MarkUnqualified,Task_SaveOutcome"}},
		{"follow-up reminders", func(t *testing.T) *bpmn.Model { return compileFile(t, "../bpmn/testdata/follow-up-reminders.bpmn") }, map[string]string{
			"records.contact.read": "Task_FindDue", "records.task.write": "Task_CreateCallTask"}},
		{"complaint handling", func(t *testing.T) *bpmn.Model { return compileFile(t, "../bpmn/testdata/complaint-handling.bpmn") }, map[string]string{
			"rulesets.evaluate": "Task_Priority", "records.complaint.write": "Task_CloseComplaint"}},
		{"task kinds", func(t *testing.T) *bpmn.Model { return compileXML(t, taskKinds) }, map[string]string{
			"records.deal.write": "Assign", "records.deal.assign": "Assign", "records.*.read": "AnyEntity", "messages.correlate": "Tell"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := Requirements(tt.model(t))
			got := map[string]string{}
			for _, r := range reqs {
				got[r.Permission] = strings.Join(r.Elements, ",")
			}
			if len(got) != len(tt.want) {
				t.Errorf("requirements %v, want %v", got, tt.want)
			}
			for p, els := range tt.want {
				if got[p] != els {
					t.Errorf("%s needed by %q, want %q", p, got[p], els)
				}
			}
			if !slices.IsSortedFunc(reqs, func(a, b Requirement) int { return strings.Compare(a.Permission, b.Permission) }) {
				t.Errorf("requirements not sorted: %v", reqs)
			}
		})
	}
}

// TestGrant decides run-as identities with the built-in roles.
func TestGrant(t *testing.T) {
	policy, err := access.NewPolicy(context.Background(), nil, access.Options{})
	if err != nil {
		t.Fatal(err)
	}
	need := func(perms ...string) []Requirement {
		out := make([]Requirement, len(perms))
		for i, p := range perms {
			out[i] = Requirement{Permission: p, Elements: []string{"T"}}
		}
		return out
	}
	admin := Publisher{UserID: "u-admin", Roles: []string{access.RoleAdmin}}
	manager := Publisher{UserID: "u-mgr", Roles: []string{access.RoleManager}, Teams: []string{"east"}}
	analyst := Publisher{UserID: "u-ana", Roles: []string{access.RoleAnalyst}}
	tests := []struct {
		name     string
		by       Publisher
		role     string
		reqs     []Requirement
		wantRole string
		wantErr  func(error) bool
	}{
		{"the publisher's fitting role by default", admin, "", need(ConnectorsCall, "records.lead.write"), access.RoleAdmin, nil},
		{"a manager's process runs with the manager role and teams", manager, "", need("records.lead.write"), access.RoleManager, nil},
		{"nothing needed", analyst, "", nil, access.RoleAnalyst, nil},
		{"a chosen narrower role", admin, access.RoleIntegration, need("records.lead.write"), access.RoleIntegration, nil},
		{"the publisher lacks a permission", analyst, "", need(ConnectorsCall),
			"", func(err error) bool { var ae *AuthorityError; return errors.As(err, &ae) && len(ae.Missing) == 1 }},
		{"a token narrows the publisher", Publisher{UserID: "u-admin", Roles: []string{access.RoleAdmin}, Scopes: []string{"processes.publish"}}, "", need("records.lead.write"),
			"", func(err error) bool { var ae *AuthorityError; return errors.As(err, &ae) && len(ae.Missing) == 1 }},
		{"the role lacks a permission", admin, access.RoleIntegration, need(ConnectorsCall),
			"", func(err error) bool { var ae *AuthorityError; return errors.As(err, &ae) && len(ae.RoleLacks) == 1 }},
		{"the role reaches more records than the publisher", manager, access.RoleAdmin, need("records.lead.write"),
			"", func(err error) bool { var ae *AuthorityError; return errors.As(err, &ae) && len(ae.RoleWider) == 1 }},
		{"an unknown role", admin, "no-such-role", need("records.lead.write"), "", func(err error) bool { return errors.Is(err, ErrUnknownRole) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, err := grant(policy, tt.by, tt.role, "p", 3, tt.reqs)
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("err = %v, run = %+v", err, run)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if run.Role != tt.wantRole || run.Principal != "process:p@3" || run.Publisher != tt.by.UserID || !slices.Equal(run.Teams, tt.by.Teams) ||
				!slices.Equal(run.Permissions, Permissions(tt.reqs)) {
				t.Fatalf("run-as = %+v", run)
			}
			for _, r := range tt.reqs {
				if !run.Allowed(policy, r.Permission) {
					t.Errorf("the identity does not hold %s", r.Permission)
				}
			}
			if run.Allowed(policy, access.UsersManage) {
				t.Errorf("the identity holds a permission it does not need")
			}
		})
	}
}

func TestOperableBy(t *testing.T) {
	holding := func(perms ...string) func(string) bool {
		return func(p string) bool { return access.Granted(perms, p) }
	}
	owned := Definition{Owners: []string{"user:olga", "team:care"}}
	tests := []struct {
		name  string
		def   Definition
		s     access.Subject
		holds func(string) bool
		want  bool
	}{
		{"an administrator", owned, access.Subject{UserID: "root"}, holding("*"), true},
		{"an owner who operates", owned, access.Subject{UserID: "olga"}, holding(access.InstancesOperate), true},
		{"a member of an owning team", owned, access.Subject{UserID: "tina", Teams: []string{"sales", "care"}}, holding(access.InstancesOperate), true},
		{"an operator who does not own it", owned, access.Subject{UserID: "oscar", Teams: []string{"sales"}}, holding(access.InstancesOperate), false},
		{"an owner who does not operate", owned, access.Subject{UserID: "olga"}, holding(access.InstancesRead), false},
		{"a definition from before owners: its deployer", Definition{UpdatedBy: "dora"}, access.Subject{UserID: "dora"}, holding(access.InstancesOperate), true},
		{"a definition from before owners: someone else", Definition{UpdatedBy: "dora"}, access.Subject{UserID: "oscar"}, holding(access.InstancesOperate), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.def.OperableBy(tt.s, tt.holds); got != tt.want {
				t.Fatalf("OperableBy = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckOwners(t *testing.T) {
	many := make([]string, MaxOwners+1)
	for i := range many {
		many[i] = "user:u"
	}
	tests := []struct {
		owners []string
		ok     bool
	}{
		{[]string{"user:ann", "team:care"}, true},
		{nil, false},
		{[]string{"ann"}, false},
		{[]string{"user:"}, false},
		{[]string{"role:admin"}, false},
		{many, false},
	}
	for _, tt := range tests {
		if err := CheckOwners(tt.owners); (err == nil) != tt.ok {
			t.Errorf("CheckOwners(%v) = %v", tt.owners, err)
		}
	}
}
