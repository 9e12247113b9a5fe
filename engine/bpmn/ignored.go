package bpmn

import (
	"regexp"
	"strings"
)

// Vendor settings Rapport does not run are never dropped in silence: each is listed as a warning on
// validate and publish, naming the element and what Rapport does instead.

// secretRef matches a Camunda connector secret placeholder such as {{secrets.API_KEY}}.
var secretRef = regexp.MustCompile(`\{\{\s*secrets\.([A-Za-z0-9_.-]+)\s*\}\}`)

// ignoredReason explains one ignored extension element.
func ignoredReason(name string) string {
	switch name {
	case "zeebe:taskListeners", "zeebe:taskListener", "camunda:taskListener":
		return "task listeners are not run; model what they do as a service task before or after the user task"
	case "zeebe:executionListeners", "zeebe:executionListener", "camunda:executionListener":
		return "execution listeners are not run; model what they do as a service task on the path"
	case "zeebe:payloadMappings":
		return "payload mappings are not applied; map the message's variables with output mappings (zeebe:ioMapping)"
	case "zeebe:adHoc":
		return "ad-hoc settings are not run"
	}
	return "is not run by Rapport and is ignored"
}

// processWarnings reports what the process element itself sets that Rapport ignores.
func (b *builder) processWarnings() {
	for _, name := range b.proc.Ignored {
		b.warn(b.proc.ID, "%s: %s", name, ignoredReason(name))
	}
}

// extensionWarnings reports what an element sets that Rapport ignores: listeners and other vendor
// extensions, inbound connector properties, connector secrets and Camunda 7 parameters it cannot map.
func (b *builder) extensionWarnings(i int) {
	e := b.els[i]
	seen := map[string]bool{}
	for _, name := range e.Ignored {
		if !seen[name] {
			seen[name] = true
			b.warn(e.ID, "%s: %s", name, ignoredReason(name))
		}
	}
	for _, p := range e.Properties {
		if p.Key == "inbound.type" {
			b.warn(e.ID, "the inbound connector %q (zeebe:properties inbound.*) is not run; deliver its events with POST /api/v1/messages (message events) or start the process through the API", p.Value)
			break
		}
	}
	for _, in := range e.Inputs {
		if m := secretRef.FindStringSubmatch(in.Source); m != nil {
			b.warn(e.ID, "input %q uses the connector secret %s, which Rapport does not resolve; pass the value as a variable or configure a connector", strings.TrimSpace(in.Target), m[0])
		}
	}
	for _, h := range e.Headers {
		if m := secretRef.FindStringSubmatch(h.Value); m != nil {
			b.warn(e.ID, "header %q uses the connector secret %s, which Rapport does not resolve; pass the value as a variable or configure a connector", h.Key, m[0])
		}
	}
	if e.C7 != nil {
		for _, u := range e.C7.Unmapped {
			b.problem(e.ID, "%s is written as a script, list or map, which is not run; write it as text or ${expression}", u)
		}
		if e.C7.FormKey != "" && e.Type != "startEvent" && e.Type != "userTask" {
			b.warn(e.ID, "camunda:formKey %q is ignored", e.C7.FormKey)
		}
	}
}

// startForm reads the form of a process's start event (zeebe:formDefinition or Camunda 7
// camunda:formData): its typed fields are what a start request must supply.
func (b *builder) startForm(i int) {
	e := b.els[i]
	key := ""
	if e.Form != nil {
		key = firstNonEmpty(e.Form.FormKey, e.Form.FormID, e.Form.ExternalReference)
	}
	if e.C7 != nil && key == "" {
		key = e.C7.FormKey
	}
	if key == "" && len(e.FormFields) == 0 {
		return
	}
	fields := b.formFields(e, key)
	if len(fields) == 0 {
		return
	}
	b.m.Nodes[i].StartForm = fields
	if k := b.m.Nodes[i].Kind; k != KindStartNone && k != KindStartMessage && k != KindStartRecord {
		b.warn(e.ID, "the start form is checked only for starts through the API or a message; a %s start supplies no form", strings.TrimPrefix(string(k), "start"))
	}
}

// camunda7Assignment maps a Camunda 7 user task's assignee and candidate attributes onto the
// assignment, unless zeebe:assignmentDefinition sets one.
func camunda7Assignment(e *Element) *AssignmentDefinition {
	if e.Assignment != nil || e.C7 == nil || (e.C7.Assignee == "" && e.C7.CandidateGroups == "" && e.C7.CandidateUsers == "") {
		return e.Assignment
	}
	return &AssignmentDefinition{Assignee: camunda7Value(e.C7.Assignee), CandidateGroups: camunda7Value(e.C7.CandidateGroups),
		CandidateUsers: camunda7Value(e.C7.CandidateUsers)}
}
