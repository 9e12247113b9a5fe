// Package schemas embeds the definitions Rapport ships with — entities, default rule sets, business
// calendars, notification templates, public forms and the three CRM processes (lead qualification,
// follow-up cadence, complaint handling) — so the single binary can install them on first start
// without any files beside it. It imports nothing of Rapport: the engine parses and checks what it
// returns.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed entities/*.json
var entityFiles embed.FS

//go:embed rules/*.json
var ruleFiles embed.FS

//go:embed calendars/*.json
var calendarFiles embed.FS

//go:embed notifications/*.json
var notificationFiles embed.FS

//go:embed forms/*.json
var formFiles embed.FS

//go:embed processes/*.bpmn processes/shipped.txt
var processFiles embed.FS

// Definition is one embedded definition: its name (the file name without
// extension) and its raw JSON (or, for processes, BPMN XML).
type Definition struct {
	Name string
	JSON []byte
}

// Entities returns the built-in entity definitions sorted by name, as raw
// JSON for engine/schema.Parse. A fresh copy is returned on every call, so
// callers may modify it.
func Entities() ([]Definition, error) { return definitions(entityFiles, "entities", ".json") }

// Rules returns the default rule sets (engine/rules JSON: lead scoring and
// routing, assignment, follow-up intervals, complaint classification, SLA and
// escalation, loyalty stages, RFM segments) sorted by name; each is named by
// its key.
func Rules() ([]Definition, error) { return definitions(ruleFiles, "rules", ".json") }

// Calendars returns the default business calendars (engine/rules/calendar
// Spec JSON), each named by its name.
func Calendars() ([]Definition, error) { return definitions(calendarFiles, "calendars", ".json") }

// Notifications returns the default notification templates
// (engine/notifications Template JSON), each named by its key.
func Notifications() ([]Definition, error) {
	return definitions(notificationFiles, "notifications", ".json")
}

// Forms returns the default public web forms (engine/forms Form JSON), each
// named by its key.
func Forms() ([]Definition, error) { return definitions(formFiles, "forms", ".json") }

// Processes returns the process templates as BPMN 2.0 XML, each named by its process ID (the process
// key).
func Processes() ([]Definition, error) { return definitions(processFiles, "processes", ".bpmn") }

// ShippedProcesses returns, per process template, the SHA-256 (hex) of every version of it Rapport has
// shipped, the current one included (processes/shipped.txt). An installed process whose latest version
// is one of them was not edited by an analyst, so a start may upgrade it to the current template.
func ShippedProcesses() (map[string]map[string]bool, error) {
	raw, err := processFiles.ReadFile("processes/shipped.txt")
	if err != nil {
		return nil, fmt.Errorf("read the shipped process list: %w", err)
	}
	out := map[string]map[string]bool{}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || len(f[1]) != 64 {
			return nil, fmt.Errorf("processes/shipped.txt line %d: want a name and a SHA-256, got %q", i+1, line)
		}
		if out[f[0]] == nil {
			out[f[0]] = map[string]bool{}
		}
		out[f[0]][f[1]] = true
	}
	return out, nil
}

func definitions(files embed.FS, dir, ext string) ([]Definition, error) {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, fmt.Errorf("list built-in %s: %w", dir, err)
	}
	out := make([]Definition, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ext) {
			continue
		}
		raw, err := files.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read built-in %s %s: %w", dir, e.Name(), err)
		}
		out = append(out, Definition{Name: strings.TrimSuffix(e.Name(), ext), JSON: raw})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
