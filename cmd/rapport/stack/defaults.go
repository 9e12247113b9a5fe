package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/forms"
	"github.com/rapportcrm/rapport/engine/notifications"
	"github.com/rapportcrm/rapport/engine/rules"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
	"github.com/rapportcrm/rapport/engine/rulesets"
	"github.com/rapportcrm/rapport/schemas"
)

// SystemActor is who the shipped defaults are created and published by.
const SystemActor = "system"

// installDefaults installs what Rapport ships, in dependency order, each only when nothing with its
// name exists yet — an analyst's edits (new versions) are never overwritten, and several servers may
// start at once: business calendars, rule sets (published), notification templates, public forms.
func (s *Stack) installDefaults(ctx context.Context) error {
	cals, err := schemas.Calendars()
	if err != nil {
		return err
	}
	for _, d := range cals {
		var spec calendar.Spec
		if err := json.Unmarshal(d.JSON, &spec); err != nil {
			return fmt.Errorf("default calendar %s: %w", d.Name, err)
		}
		if _, err := s.Rulesets.CreateCalendar(ctx, spec, SystemActor); err != nil && !errors.Is(err, rulesets.ErrExists) {
			return fmt.Errorf("install calendar %s: %w", d.Name, err)
		}
	}
	defs, err := schemas.Rules()
	if err != nil {
		return err
	}
	for _, d := range defs {
		rs, err := rules.ParseRuleSet(d.JSON)
		if err != nil {
			return fmt.Errorf("default rule set %s: %w", d.Name, err)
		}
		if _, err := s.Rulesets.Create(ctx, rs, SystemActor); err != nil {
			if errors.Is(err, rulesets.ErrExists) {
				continue
			}
			return fmt.Errorf("install rule set %s: %w", d.Name, err)
		}
		_, report, err := s.Rulesets.Publish(ctx, rs.Key, SystemActor, "shipped with Rapport", 0, time.Now())
		if err != nil && !errors.Is(err, rulesets.ErrUnchanged) && !errors.Is(err, rulesets.ErrConflict) {
			if report != nil {
				b, _ := json.Marshal(report)
				return fmt.Errorf("publish rule set %s: %w: %s", d.Name, err, b)
			}
			return fmt.Errorf("publish rule set %s: %w", d.Name, err)
		}
	}
	tpls, err := schemas.Notifications()
	if err != nil {
		return err
	}
	for _, d := range tpls {
		var t notifications.Template
		if err := json.Unmarshal(d.JSON, &t); err != nil {
			return fmt.Errorf("default notification template %s: %w", d.Name, err)
		}
		if err := s.Notifications.InstallTemplate(ctx, t); err != nil {
			return err
		}
	}
	fs, err := schemas.Forms()
	if err != nil {
		return err
	}
	for _, d := range fs {
		var f forms.Form
		if err := json.Unmarshal(d.JSON, &f); err != nil {
			return fmt.Errorf("default form %s: %w", d.Name, err)
		}
		if err := s.Forms.Install(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// installProcesses deploys and publishes the shipped process templates that do not exist yet, owned
// and published by the first administrator: analysts edit them like any process (an edit is a new
// version; running instances keep theirs). A template that changed since this server installed it is
// published as the next version unless an analyst has edited the process (a version or draft of their
// own), which is then kept (definitions.Store.InstallTemplate).
func (s *Stack) installProcesses(ctx context.Context) error {
	email := s.cfg.AdminEmail
	if email == "" {
		email = "admin@localhost"
	}
	admin, err := s.Users.UserByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("the administrator %s: %w", email, err)
	}
	procs, err := schemas.Processes()
	if err != nil {
		return err
	}
	shipped, err := schemas.ShippedProcesses()
	if err != nil {
		return err
	}
	by := access.Subject{UserID: admin.ID, Roles: admin.Roles, Teams: admin.Teams}
	for _, d := range procs {
		outcome, v, err := s.Processes.InstallTemplate(ctx, d.Name, d.JSON, shipped[d.Name], by)
		if err != nil && outcome != definitions.TemplateUnfit {
			return err
		}
		switch outcome {
		case definitions.TemplateUnfit:
			s.log.Warn("process template not upgraded: it does not fit this server; the process keeps its version",
				"process", d.Name, "version", v.Version, "error", err)
		case definitions.TemplateInstalled:
			s.log.Info("installed process template", "process", d.Name)
		case definitions.TemplateUpgraded:
			s.log.Info("upgraded process template; running instances keep their version", "process", d.Name, "version", v.Version)
		case definitions.TemplateKept:
			s.log.Info("process template changed, but the process was edited: kept as it is (compare with schemas/processes in the modeler)",
				"process", d.Name, "version", v.Version)
		}
	}
	return nil
}
