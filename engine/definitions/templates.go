package definitions

import (
	"context"
	"errors"
	"fmt"

	"github.com/rapportcrm/rapport/engine/bpmn"
)

// TemplateOutcome says what InstallTemplate did with a process template.
type TemplateOutcome string

// What InstallTemplate may do.
const (
	// TemplateInstalled: the process did not exist (or was only the template's own draft); the template
	// is its first version.
	TemplateInstalled TemplateOutcome = "installed"
	// TemplateUpgraded: the latest version was an earlier template, untouched; the template is the next
	// version, and running instances keep the version they started on.
	TemplateUpgraded TemplateOutcome = "upgraded"
	// TemplateCurrent: the latest version is this template already.
	TemplateCurrent TemplateOutcome = "current"
	// TemplateKept: an analyst has edited the process (a version or a draft of their own), so it is left
	// as it is; the template is not installed over their work.
	TemplateKept TemplateOutcome = "kept"
	// TemplateUnfit: the process exists and the template could not replace it here (it does not validate
	// against this server's entity schemas, say); the process keeps its version, and the error says why.
	TemplateUnfit TemplateOutcome = "unfit"
)

// InstallTemplate installs a process template Rapport ships (xml, whose process ID is key), published by
// by, or brings an installed one up to date. shipped holds the hashes of every version of this template
// Rapport has shipped (schemas.ShippedProcesses): when the process's latest version is one of them and
// no draft of an analyst waits, nobody has edited it, and the new template becomes the next version.
// Otherwise the process is the analyst's, and it is kept. An existing process is never a reason to fail:
// when the template cannot replace it, the outcome is TemplateUnfit with the reason as the error. Servers
// that start at once may both upgrade: publishing a draft identical to the latest version returns that
// version, so they end on one.
func (s *Store) InstallTemplate(ctx context.Context, key string, xml []byte, shipped map[string]bool, by Publisher) (TemplateOutcome, Version, error) {
	hash := bpmn.Hash(xml)
	ours := func(h string) bool { return h == hash || shipped[h] }
	outcome := TemplateInstalled
	var latest Version
	d, err := s.Get(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return "", Version{}, err
	case d.LatestVersion == 0:
		if !ours(d.DraftHash) {
			return TemplateKept, Version{}, nil // an analyst's draft, never published
		}
		// A template's own draft: an install that stopped between deploying and publishing.
	default:
		if latest, err = s.Version(ctx, key, d.LatestVersion); err != nil {
			return "", Version{}, err
		}
		switch {
		case latest.Hash == hash:
			return TemplateCurrent, latest, nil
		case !shipped[latest.Hash] || (d.DraftHash != latest.Hash && !ours(d.DraftHash)):
			return TemplateKept, latest, nil
		}
		outcome = TemplateUpgraded
	}
	failed := func(err error) (TemplateOutcome, Version, error) {
		if d.Key == "" {
			return "", Version{}, err // a first install: the server lacks a process it promises
		}
		return TemplateUnfit, latest, err
	}
	if _, err := s.Deploy(ctx, xml, by.UserID); err != nil {
		return failed(fmt.Errorf("processes: deploy template %s: %w", key, err))
	}
	v, err := s.Publish(ctx, key, PublishRequest{By: by})
	if err != nil {
		return failed(fmt.Errorf("processes: publish template %s: %w", key, err))
	}
	return outcome, v.Version, nil
}
