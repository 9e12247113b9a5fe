package bpmn

import (
	"strings"
)

// Camunda 7 (camunda: namespace) files are read as far as they map onto what Rapport runs: external
// tasks (camunda:type="external" camunda:topic) become external tasks of the topic's name, user task
// assignee and candidate attributes become the assignment, camunda:inputOutput parameters written as
// text become io mappings, and a start event's camunda:formData becomes the start form the starter
// checks. Java delegates, connectors, scripts and listeners are reported (refused or warned).

// NamespaceCamunda7 is Camunda 7's extension namespace.
const NamespaceCamunda7 = "http://camunda.org/schema/1.0/bpmn"

const nsCamunda = NamespaceCamunda7

// Camunda7 holds the camunda: attributes of an element that Rapport maps or reports.
type Camunda7 struct {
	// Type and Topic make an external task (Type "external").
	Type  string `json:"type,omitempty"`
	Topic string `json:"topic,omitempty"`
	// Class, DelegateExpression and Expression are Java implementations Rapport cannot run.
	Class              string `json:"class,omitempty"`
	DelegateExpression string `json:"delegateExpression,omitempty"`
	Expression         string `json:"expression,omitempty"`
	DecisionRef        string `json:"decisionRef,omitempty"`
	ResultVariable     string `json:"resultVariable,omitempty"`
	// Assignee, CandidateGroups and CandidateUsers are a user task's assignment (literal or ${...}).
	Assignee        string `json:"assignee,omitempty"`
	CandidateGroups string `json:"candidateGroups,omitempty"`
	CandidateUsers  string `json:"candidateUsers,omitempty"`
	FormKey         string `json:"formKey,omitempty"`
	// Connector is set when the element uses a camunda:connector (e.g. http-connector).
	Connector string `json:"connector,omitempty"`
	// Unmapped lists camunda:inputOutput parameters written as scripts, lists or maps.
	Unmapped []string `json:"unmapped,omitempty"`
}

// IsZero reports whether nothing Camunda 7 was set.
func (c *Camunda7) IsZero() bool {
	return c == nil || (c.Type == "" && c.Topic == "" && c.Class == "" && c.DelegateExpression == "" && c.Expression == "" &&
		c.DecisionRef == "" && c.ResultVariable == "" && c.Assignee == "" && c.CandidateGroups == "" &&
		c.CandidateUsers == "" && c.FormKey == "" && c.Connector == "" && len(c.Unmapped) == 0)
}

// camunda7Attrs reads the camunda: attributes of an element or event definition.
func camunda7Attrs(n *xnode) *Camunda7 {
	c := &Camunda7{
		Type: n.attrNS(nsCamunda, "type"), Topic: n.attrNS(nsCamunda, "topic"), Class: n.attrNS(nsCamunda, "class"),
		DelegateExpression: n.attrNS(nsCamunda, "delegateExpression"), Expression: n.attrNS(nsCamunda, "expression"),
		DecisionRef: n.attrNS(nsCamunda, "decisionRef"), ResultVariable: n.attrNS(nsCamunda, "resultVariable"),
		Assignee: n.attrNS(nsCamunda, "assignee"), CandidateGroups: n.attrNS(nsCamunda, "candidateGroups"),
		CandidateUsers: n.attrNS(nsCamunda, "candidateUsers"), FormKey: n.attrNS(nsCamunda, "formKey"),
	}
	if c.IsZero() {
		return nil
	}
	return c
}

// camundaExtension reads one camunda: child of extensionElements.
func camundaExtension(c *xnode, x *Extensions) {
	c7 := func() *Camunda7 {
		if x.C7 == nil {
			x.C7 = &Camunda7{}
		}
		return x.C7
	}
	switch c.name.Local {
	case "inputOutput":
		for _, p := range c.children {
			if p.name.Space != nsCamunda {
				continue
			}
			name := strings.TrimSpace(p.attr("name"))
			source, ok := camunda7Parameter(p)
			if !ok {
				c7().Unmapped = append(c7().Unmapped, "camunda:"+p.name.Local+" "+name)
				continue
			}
			switch p.name.Local {
			case "inputParameter":
				x.Inputs = append(x.Inputs, IOMapping{Source: source, Target: name})
			case "outputParameter":
				x.Outputs = append(x.Outputs, IOMapping{Source: source, Target: name})
			}
		}
	case "formData":
		for _, f := range c.children {
			if f.name.Space != nsCamunda || f.name.Local != "formField" {
				continue
			}
			field := FormField{Name: strings.TrimSpace(f.attr("id")), Type: camunda7FieldType(f.attr("type")),
				Label: f.attr("label"), Line: f.line}
			for _, v := range f.children {
				if v.name.Space != nsCamunda || v.name.Local != "validation" {
					continue
				}
				for _, cons := range v.children {
					if cons.name.Space == nsCamunda && cons.name.Local == "constraint" && cons.attr("name") == "required" {
						field.Required = cons.attr("config") != "false"
					}
				}
			}
			x.FormFields = append(x.FormFields, field)
		}
	case "connector":
		id := "connector"
		for _, cc := range c.children {
			if cc.name.Space == nsCamunda && cc.name.Local == "connectorId" {
				id = cc.body()
			}
		}
		c7().Connector = id
	case "taskListener", "executionListener":
		x.Ignored = append(x.Ignored, "camunda:"+c.name.Local)
	case "properties", "field", "in", "out", "failedJobRetryTimeEventCycle":
		// Modeler metadata and Java-only settings that change nothing Rapport runs.
	default:
		x.Ignored = append(x.Ignored, "camunda:"+c.name.Local)
	}
}

// camunda7Parameter turns a camunda:inputParameter or outputParameter written as text into a Zeebe
// io-mapping source: a literal stays a literal, ${...} and #{...} become an expression. Parameters
// written as scripts, lists or maps are not mapped (ok false).
func camunda7Parameter(p *xnode) (string, bool) {
	for _, c := range p.children {
		if c.name.Space == nsCamunda {
			return "", false
		}
	}
	text := p.body()
	if src, ok := camunda7Expression(text); ok {
		return "=" + src, true
	}
	return text, true
}

// camunda7Expression returns the inside of a JUEL expression ${...} or #{...}.
func camunda7Expression(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 3 && (strings.HasPrefix(s, "${") || strings.HasPrefix(s, "#{")) && strings.HasSuffix(s, "}") {
		return strings.TrimSpace(s[2 : len(s)-1]), true
	}
	return "", false
}

// camunda7Value reads a Camunda 7 attribute that is a literal or a ${...} expression as Zeebe writes
// the same: the literal, or "=" and the expression.
func camunda7Value(s string) string {
	if src, ok := camunda7Expression(s); ok {
		return "=" + src
	}
	return s
}

// camunda7FieldType maps a camunda:formField type to a variable type.
func camunda7FieldType(t string) string {
	switch t {
	case "string", "enum":
		return "string"
	case "long":
		return "int"
	case "boolean":
		return "bool"
	case "date":
		return "time"
	}
	return "any"
}

// prefixOf names a namespace by the prefix modelers give it, for messages.
func prefixOf(ns string) string {
	switch ns {
	case nsZeebe:
		return "zeebe"
	case nsCamunda:
		return "camunda"
	case nsRapport:
		return "rapport"
	}
	return ns
}
