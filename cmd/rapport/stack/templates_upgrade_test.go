package stack_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/schemas"
)

// TestProcessTemplatesUpgradeOnStart starts a server whose processes are as an older Rapport and its
// analysts left them, then starts it again: a process still on an earlier shipped template gets today's
// as its next version, and a process an analyst edited (a version or a draft of their own) is kept.
//
// testdata holds two templates as Rapport shipped them (git show <commit>:schemas/processes/<file>):
// follow-up-cadence@4183aaf.bpmn, before cadences named the fields that wake them, and
// loyalty-ladder@4d7a062.bpmn, before the templates carried a layout.
func TestProcessTemplatesUpgradeOnStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := stacktest.Config(t.TempDir())
	cfg.NoProcessTemplates = false
	env, err := stacktest.StartWith(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			env.Stop()
		}
	}()
	procs := env.Stack.Processes
	admin, err := env.Stack.Users.UserByEmail(ctx, stacktest.AdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	by := access.Subject{UserID: admin.ID, Roles: admin.Roles, Teams: admin.Teams}
	current := map[string][]byte{}
	templates, err := schemas.Processes()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range templates {
		current[d.Name] = d.JSON
	}
	publish := func(key string, xml []byte) int {
		t.Helper()
		if _, err := procs.Deploy(ctx, xml, admin.ID); err != nil {
			t.Fatalf("deploy %s: %v", key, err)
		}
		v, err := procs.Publish(ctx, key, definitions.PublishRequest{By: by})
		if err != nil {
			t.Fatalf("publish %s: %v", key, err)
		}
		return v.Version.Version
	}
	old := func(file string) []byte {
		t.Helper()
		raw, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	// An older server: the cadence is a template shipped before; the ladder too, with an analyst's draft
	// waiting on it; an analyst published their own complaint handling.
	if v := publish("follow-up-cadence", old("follow-up-cadence@4183aaf.bpmn")); v != 2 {
		t.Fatalf("the old cadence is version %d", v)
	}
	if v := publish("loyalty-ladder", old("loyalty-ladder@4d7a062.bpmn")); v != 2 {
		t.Fatalf("the old ladder is version %d", v)
	}
	draft := bytes.Replace(old("loyalty-ladder@4d7a062.bpmn"), []byte(`name="Loyalty ladder"`), []byte(`name="Loyalty ladder (draft)"`), 1)
	if bytes.Equal(draft, old("loyalty-ladder@4d7a062.bpmn")) {
		t.Fatal("the draft edit did not apply")
	}
	if _, err := procs.Deploy(ctx, draft, admin.ID); err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(current["complaint-handling"], []byte(`name="Complaint handling"`), []byte(`name="Complaint handling (ours)"`), 1)
	if v := publish("complaint-handling", edited); v != 2 {
		t.Fatalf("the analyst's complaint handling is version %d", v)
	}
	env.Stop()
	stopped = true

	env, err = stacktest.StartWith(ctx, cfg)
	if err != nil {
		t.Fatalf("start again: %v", err)
	}
	defer env.Stop()
	procs = env.Stack.Processes
	latest := func(key string) (definitions.Definition, definitions.Version) {
		t.Helper()
		d, err := procs.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := procs.Version(ctx, key, 0)
		if err != nil {
			t.Fatal(err)
		}
		return d, v
	}
	tests := []struct {
		key     string
		version int
		want    []byte // the latest version's XML
		draft   []byte // the draft, when it differs from the latest version
	}{
		{"follow-up-cadence", 3, current["follow-up-cadence"], nil},
		{"loyalty-ladder", 2, old("loyalty-ladder@4d7a062.bpmn"), draft},
		{"complaint-handling", 2, edited, nil},
		{"lead-qualification", 1, current["lead-qualification"], nil},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			d, v := latest(tt.key)
			if v.Version != tt.version || v.XML != string(tt.want) {
				t.Errorf("latest version %d (%d bytes of XML), want %d (%d bytes)", v.Version, len(v.XML), tt.version, len(tt.want))
			}
			wantDraft := tt.want
			if tt.draft != nil {
				wantDraft = tt.draft
			}
			if d.DraftXML != string(wantDraft) {
				t.Errorf("the draft changed (%d bytes, want %d)", len(d.DraftXML), len(wantDraft))
			}
		})
	}
	if _, v := latest("follow-up-cadence"); !strings.Contains(v.XML, "rapport:whenChanged") {
		t.Error("the upgraded cadence lacks its wake filters")
	}
	// Starting once more changes nothing: each template is current or kept.
	shipped, err := schemas.ShippedProcesses()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]definitions.TemplateOutcome{"follow-up-cadence": definitions.TemplateCurrent,
		"loyalty-ladder": definitions.TemplateKept, "complaint-handling": definitions.TemplateKept, "lead-qualification": definitions.TemplateCurrent}
	for key, w := range want {
		got, v, err := procs.InstallTemplate(ctx, key, current[key], shipped[key], by)
		if err != nil || got != w {
			t.Errorf("InstallTemplate(%s) = %s (version %d), %v; want %s", key, got, v.Version, err, w)
		}
	}

	// A process that is only a draft: the template's own (an install that stopped before publishing) is
	// published; an analyst's is kept.
	ownDraft := []byte(fmt.Sprintf(strings.ReplaceAll(waitBPMN, "bench-wait", "draft-only"), admin.ID))
	if _, err := procs.Deploy(ctx, ownDraft, admin.ID); err != nil {
		t.Fatal(err)
	}
	analyst := bytes.Replace(ownDraft, []byte(`id="Task_Wait"`), []byte(`id="Task_Wait" name="Ours"`), 1)
	if got, _, err := procs.InstallTemplate(ctx, "draft-only", ownDraft, map[string]bool{}, by); err != nil || got != definitions.TemplateInstalled {
		t.Errorf("the template's own draft: %s, %v; want installed", got, err)
	}
	if _, v := latest("draft-only"); v.Version != 1 || v.XML != string(ownDraft) {
		t.Errorf("the template's own draft published as version %d", v.Version)
	}
	// A template that does not fit the server (here: it does not validate) leaves the process as it is,
	// and says why instead of stopping the start.
	broken := bytes.Replace(ownDraft, []byte(`targetRef="E"`), []byte(`targetRef="Nowhere"`), 1)
	_, v1 := latest("draft-only")
	if got, v, err := procs.InstallTemplate(ctx, "draft-only", broken, map[string]bool{v1.Hash: true}, by); got != definitions.TemplateUnfit || err == nil || v.Version != 1 {
		t.Errorf("an unfit template: %s (version %d), %v; want unfit with a reason", got, v.Version, err)
	}
	if d, v := latest("draft-only"); v.Version != 1 || d.DraftXML != string(ownDraft) {
		t.Errorf("after an unfit template: version %d, draft changed %v", v.Version, d.DraftXML != string(ownDraft))
	}
	analystKey := []byte(strings.ReplaceAll(string(analyst), "draft-only", "draft-analyst"))
	if _, err := procs.Deploy(ctx, analystKey, admin.ID); err != nil {
		t.Fatal(err)
	}
	template := []byte(strings.ReplaceAll(string(ownDraft), "draft-only", "draft-analyst"))
	if got, _, err := procs.InstallTemplate(ctx, "draft-analyst", template, map[string]bool{}, by); err != nil || got != definitions.TemplateKept {
		t.Errorf("an analyst's draft: %s, %v; want kept", got, err)
	}
	if d, err := procs.Get(ctx, "draft-analyst"); err != nil || d.LatestVersion != 0 || d.DraftXML != string(analystKey) {
		t.Errorf("the analyst's draft after InstallTemplate: version %d, %v", d.LatestVersion, err)
	}
}
