package access

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/identity"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		grant, perm string
		want        bool
	}{
		{"*", "records.lead.read", true},
		{"*", "users.manage", true},
		{"records.*.read", "records.lead.read", true},
		{"records.*.read", "records.lead.write", false},
		{"records.lead.*", "records.lead.delete", true},
		{"records.lead.*", "records.deal.delete", false},
		{"schemas.*", "schemas.write", true},
		{"schemas.*", "schemasx.write", false},
		{"schemas.read", "schemas.write", false},
		{"records.*", "records.lead.read", false},
		{"records.*.read", "records.lead", false},
		{"users.manage", "users.manage", true},
	}
	for _, tt := range tests {
		if got := Match(tt.grant, tt.perm); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.grant, tt.perm, got, tt.want)
		}
	}
}

func TestValidateGrant(t *testing.T) {
	tests := []struct {
		grant string
		ok    bool
	}{
		{"*", true},
		{"schemas.read", true},
		{"schemas.*", true},
		{"records.lead.read", true},
		{"records.*.*", true},
		{"records.lead.fly", false},
		{"records.lead", false},
		{"schema.read", false},
		{"users.*", true},
		{"", false},
		{"records.Le ad.read", false},
	}
	for _, tt := range tests {
		if err := ValidateGrant(tt.grant); (err == nil) != tt.ok {
			t.Errorf("ValidateGrant(%q) = %v, want ok=%v", tt.grant, err, tt.ok)
		}
	}
}

func TestBuiltInRolesAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range BuiltInRoles() {
		if err := r.Validate(); err != nil {
			t.Errorf("built-in role %s: %v", r.Name, err)
		}
		if seen[r.Name] {
			t.Errorf("duplicate role %s", r.Name)
		}
		seen[r.Name] = true
	}
	for _, want := range []string{RoleAdmin, RoleAnalyst, RoleProcessOwner, RoleManager, RoleAgent, RoleViewer, RoleIntegration} {
		if !seen[want] {
			t.Errorf("built-in role %s missing", want)
		}
	}
}

// testPolicy is a policy over the built-in roles plus the given custom roles, without a database.
func testPolicy(t *testing.T, custom ...Role) *Policy {
	t.Helper()
	p, err := NewPolicy(context.Background(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range custom {
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		p.roles[r.Name] = r
	}
	return p
}

func TestAllows(t *testing.T) {
	p := testPolicy(t)
	tests := []struct {
		role string
		perm string
		want bool
	}{
		{RoleAdmin, UsersManage, true},
		{RoleAdmin, "records.lead.delete", true},
		{RoleAnalyst, SchemasWrite, true},
		{RoleAnalyst, ProcessesPublish, true},
		{RoleAnalyst, "records.lead.read", true},
		{RoleAnalyst, "records.lead.write", false},
		{RoleAnalyst, UsersManage, false},
		{RoleProcessOwner, InstancesOperate, true},
		{RoleProcessOwner, SchemasWrite, false},
		{RoleManager, "records.deal.assign", true},
		{RoleManager, "records.deal.delete", false},
		{RoleAgent, "records.lead.write", true},
		{RoleAgent, "records.lead.export", false},
		{RoleAgent, AuditRead, false},
		{RoleViewer, "records.lead.read", true},
		{RoleViewer, "records.lead.write", false},
		{RoleViewer, TokensCreate, false},
		{RoleViewer, Authenticated, true},
		{RoleIntegration, "records.order.write", true},
		{RoleIntegration, UsersManage, false},
		{"no-such-role", Authenticated, true},
		{"no-such-role", SchemasRead, false},
	}
	for _, tt := range tests {
		u := &identity.User{ID: "u1", Roles: []string{tt.role}}
		if got := p.Allows(u, tt.perm); got != tt.want {
			t.Errorf("%s allows %s = %v, want %v", tt.role, tt.perm, got, tt.want)
		}
	}
	if p.Allows(&identity.User{Roles: []string{RoleAdmin}, Disabled: true}, SchemasRead) {
		t.Error("a disabled admin is allowed")
	}
}

func TestDecideScopes(t *testing.T) {
	p := testPolicy(t,
		Role{Name: "lead-reader", Permissions: []string{"records.lead.read"}, Scopes: map[string]Scope{"lead": ScopeAll}},
		Role{Name: "implicit", Permissions: []string{"records.*.read"}},
	)
	tests := []struct {
		name    string
		subject Subject
		entity  string
		action  string
		want    Scope
	}{
		{"admin reads all", Subject{Roles: []string{RoleAdmin}}, "lead", ActionRead, ScopeAll},
		{"agent reads own", Subject{Roles: []string{RoleAgent}}, "lead", ActionRead, ScopeOwn},
		{"agent cannot delete", Subject{Roles: []string{RoleAgent}}, "lead", ActionDelete, ScopeNone},
		{"manager reads team", Subject{Roles: []string{RoleManager}}, "deal", ActionRead, ScopeTeam},
		{"widest role wins", Subject{Roles: []string{RoleAgent, "lead-reader"}}, "lead", ActionRead, ScopeAll},
		{"wider role only for its entity", Subject{Roles: []string{RoleAgent, "lead-reader"}}, "deal", ActionRead, ScopeOwn},
		{"wider read does not widen write", Subject{Roles: []string{RoleAgent, "lead-reader"}}, "lead", ActionWrite, ScopeOwn},
		{"custom role without scope reaches own", Subject{Roles: []string{"implicit"}}, "lead", ActionRead, ScopeOwn},
		{"token narrows to its scopes", Subject{Roles: []string{RoleAdmin}, Scopes: []string{"records.lead.read"}}, "lead", ActionWrite, ScopeNone},
		{"token keeps what it names", Subject{Roles: []string{RoleAdmin}, Scopes: []string{"records.lead.read"}}, "lead", ActionRead, ScopeAll},
		{"token cannot widen the role", Subject{Roles: []string{RoleViewer}, Scopes: []string{"*"}}, "lead", ActionWrite, ScopeNone},
		{"unknown role", Subject{Roles: []string{"ghost"}}, "lead", ActionRead, ScopeNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.subject, tt.entity)
			if got := d.Scope(tt.action); got != tt.want {
				t.Errorf("scope = %q, want %q", got, tt.want)
			}
			if d.Can(tt.action) != (tt.want != ScopeNone) {
				t.Errorf("Can = %v with scope %q", d.Can(tt.action), tt.want)
			}
		})
	}
}

func TestFilterAndInScope(t *testing.T) {
	p := testPolicy(t)
	records := []map[string]any{
		{"_id": "r1", "owner": "alice", "team": "north"},
		{"_id": "r2", "owner": "bob", "team": "north"},
		{"_id": "r3", "owner": "carol", "team": "south"},
		{"_id": "r4", "owner": "carol", "team": "south", "assignee": "alice"},
		{"_id": "r5"},
	}
	tests := []struct {
		name    string
		subject Subject
		want    []string
	}{
		{"agent sees own and assigned", Subject{UserID: "alice", Roles: []string{RoleAgent}}, []string{"r1", "r4"}},
		{"manager sees the team's", Subject{UserID: "dave", Roles: []string{RoleManager}, Teams: []string{"north"}}, []string{"r1", "r2"}},
		{"manager in no team sees only own", Subject{UserID: "carol", Roles: []string{RoleManager}}, []string{"r3", "r4"}},
		{"viewer sees all", Subject{UserID: "erin", Roles: []string{RoleViewer}}, []string{"r1", "r2", "r3", "r4", "r5"}},
		{"no role sees nothing", Subject{UserID: "alice"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.subject, "lead")
			var got []string
			for _, r := range records {
				if d.InScope(ActionRead, r) {
					got = append(got, r["_id"].(string))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("in scope %v, want %v", got, tt.want)
			}
			// The MongoDB filter must select exactly the same records.
			var byFilter []string
			for _, r := range records {
				if matches(t, d.Filter(ActionRead), r) {
					byFilter = append(byFilter, r["_id"].(string))
				}
			}
			if !reflect.DeepEqual(byFilter, tt.want) {
				t.Errorf("filter %v selects %v, want %v", d.Filter(ActionRead), byFilter, tt.want)
			}
		})
	}
}

// matches evaluates the small subset of MongoDB filters Decision.Filter produces against a record.
func matches(t *testing.T, f bson.D, rec map[string]any) bool {
	t.Helper()
	for _, e := range f {
		switch v := e.Value.(type) {
		case bson.A: // $or
			any := false
			for _, alt := range v {
				any = any || matches(t, alt.(bson.D), rec)
			}
			if !any {
				return false
			}
		case bson.D: // {field: {$in: [...]}}
			got, ok := rec[e.Key]
			if !ok {
				return false
			}
			found := false
			for _, want := range v[0].Value.(bson.A) {
				found = found || want == got
			}
			if !found {
				return false
			}
		case string:
			if rec[e.Key] != v {
				return false
			}
		default:
			t.Fatalf("unexpected filter element %#v", e)
		}
	}
	return true
}

func TestFieldRules(t *testing.T) {
	p := testPolicy(t,
		Role{Name: "no-margin", Permissions: []string{"records.*.read", "records.*.write"}, Scopes: map[string]Scope{"*": ScopeAll},
			Fields: map[string]FieldRules{"deal": {Hidden: []string{"margin", "cost.internal"}, ReadOnly: []string{"stage"}}}},
		Role{Name: "no-stage", Permissions: []string{"records.*.read", "records.*.write"}, Scopes: map[string]Scope{"*": ScopeAll},
			Fields: map[string]FieldRules{"*": {Hidden: []string{"margin"}, ReadOnly: []string{"stage", "amount"}}}},
	)
	t.Run("strip hides fields and nested paths", func(t *testing.T) {
		d := p.Decide(Subject{UserID: "u", Roles: []string{"no-margin"}}, "deal")
		rec := map[string]any{"name": "x", "margin": 12, "cost": map[string]any{"internal": 5, "list": 9}}
		d.Strip(rec)
		want := map[string]any{"name": "x", "cost": map[string]any{"list": 9}}
		if !reflect.DeepEqual(rec, want) {
			t.Errorf("stripped %v, want %v", rec, want)
		}
		inList := map[string]any{"cost": []any{map[string]any{"internal": 1, "list": 2}, "plain"}}
		d.Strip(inList)
		if want := map[string]any{"cost": []any{map[string]any{"list": 2}, "plain"}}; !reflect.DeepEqual(inList, want) {
			t.Errorf("stripped inside a list %v, want %v", inList, want)
		}
		if !d.Hidden("cost.internal.x") || d.Hidden("cost.list") {
			t.Error("Hidden does not follow parents")
		}
	})
	t.Run("a field is hidden only when every role hides it", func(t *testing.T) {
		d := p.Decide(Subject{UserID: "u", Roles: []string{"no-margin", "no-stage"}}, "deal")
		if got := d.HiddenFields(); !reflect.DeepEqual(got, []string{"margin"}) {
			t.Errorf("hidden %v", got)
		}
		if got := d.ReadOnlyFields(); !reflect.DeepEqual(got, []string{"margin", "stage"}) {
			t.Errorf("read-only %v", got)
		}
	})
	t.Run("admin sees everything", func(t *testing.T) {
		d := p.Decide(Subject{UserID: "u", Roles: []string{"no-margin", RoleAdmin}}, "deal")
		if len(d.HiddenFields()) != 0 || len(d.ReadOnlyFields()) != 0 {
			t.Errorf("admin has hidden %v read-only %v", d.HiddenFields(), d.ReadOnlyFields())
		}
	})
	writes := []struct {
		name    string
		roles   []string
		changes map[string]any
		want    []string
	}{
		{"free fields pass", []string{"no-margin"}, map[string]any{"name": "y"}, nil},
		{"hidden and read-only refused together", []string{"no-margin"}, map[string]any{"margin": 1, "stage": "won", "name": "y"}, []string{"margin", "stage"}},
		{"nested hidden path refused", []string{"no-margin"}, map[string]any{"cost": map[string]any{"internal": 3}}, []string{"cost.internal"}},
		{"a parent of a hidden path cannot be removed", []string{"no-margin"}, map[string]any{"cost": nil}, []string{"cost"}},
		{"nor replaced by a list or a value", []string{"no-margin"}, map[string]any{"cost": []any{1}}, []string{"cost"}},
		{"its visible parts stay writable", []string{"no-margin"}, map[string]any{"cost": map[string]any{"list": nil}}, nil},
		{"owner to someone else needs assign", []string{RoleAgent}, map[string]any{"owner": "bob"}, []string{"owner"}},
		{"owner to oneself is fine", []string{RoleAgent}, map[string]any{"owner": "u"}, nil},
		{"manager may assign", []string{RoleManager}, map[string]any{"owner": "bob"}, nil},
	}
	for _, tt := range writes {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Decide(Subject{UserID: "u", Roles: tt.roles}, "deal").CheckWrite(tt.changes)
			var fe *FieldError
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CheckWrite = %v", err)
				}
				return
			}
			if !errors.As(err, &fe) || !reflect.DeepEqual(fe.Fields, tt.want) {
				t.Fatalf("CheckWrite = %v, want fields %v", err, tt.want)
			}
		})
	}
}

func TestRoleValidate(t *testing.T) {
	tests := []struct {
		name string
		role Role
		ok   bool
	}{
		{"good", Role{Name: "sales-lead", Permissions: []string{"records.lead.*"}, Scopes: map[string]Scope{"lead": ScopeTeam}}, true},
		{"bad name", Role{Name: "Sales Lead"}, false},
		{"unknown permission", Role{Name: "x1", Permissions: []string{"launch.missiles"}}, false},
		{"bad scope", Role{Name: "x2", Scopes: map[string]Scope{"lead": "galaxy"}}, false},
	}
	for _, tt := range tests {
		if err := tt.role.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p, err := NewPolicy(context.Background(), nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := Subject{UserID: "u", Roles: []string{RoleManager, RoleAgent}, Teams: []string{"north"}}
	for b.Loop() {
		_ = p.Decide(s, "lead")
	}
}

func BenchmarkAllows(b *testing.B) {
	p, err := NewPolicy(context.Background(), nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	u := &identity.User{Roles: []string{RoleAgent, RoleViewer}}
	for b.Loop() {
		_ = p.Allows(u, "records.lead.write")
	}
}

func TestExceeds(t *testing.T) {
	p, err := NewPolicy(context.Background(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := func(roles ...string) Subject { return Subject{UserID: "u1", Roles: roles} }
	tests := []struct {
		name   string
		caller Subject
		role   Role
		want   []string
	}{
		{"admin hands out everything", sub(RoleAdmin), Role{Permissions: []string{"*"}, Scopes: map[string]Scope{AllEntities: ScopeAll}}, nil},
		{"roles manager cannot make a star role", sub(RoleAnalyst), Role{Permissions: []string{"*"}}, []string{"permission *"}},
		{"a permission the caller lacks", sub(RoleProcessOwner), Role{Permissions: []string{UsersManage, InstancesRead}}, []string{"permission users.manage"}},
		{"same scope is fine", sub(RoleManager), Role{Permissions: []string{"records.lead.read"}, Scopes: map[string]Scope{"lead": ScopeTeam}}, nil},
		{"wider scope on one entity", sub(RoleManager), Role{Permissions: []string{"records.lead.read"}, Scopes: map[string]Scope{"lead": ScopeAll}},
			[]string{"scope all on records.lead.read (yours is team)"}},
		{"wider scope through *", sub(RoleAgent), Role{Permissions: []string{"records.*.write"}, Scopes: map[string]Scope{AllEntities: ScopeTeam}},
			[]string{"scope team on records.*.write (yours is own)"}},
		{"narrower is fine", sub(RoleViewer), Role{Permissions: []string{"records.lead.read"}}, nil},
		{"a token narrows the caller", Subject{UserID: "u1", Roles: []string{RoleManager}, Scopes: []string{"records.lead.read"}},
			Role{Permissions: []string{"records.lead.write"}, Scopes: map[string]Scope{"lead": ScopeTeam}}, []string{"permission records.lead.write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Exceeds(tt.caller, tt.role)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Exceeds = %q, want %q", got, tt.want)
			}
		})
	}
}
