package bpmn

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a process definition, tied to the BPMN element it concerns so that a
// modeler (or the admin UI) can highlight the element; Validate and Compile return every problem at once.
type Problem struct {
	// ElementID is the id attribute of the offending element, or empty for document-wide problems.
	ElementID string `json:"elementId"`
	// Reason says in one sentence what is wrong and, where possible, what to do about it.
	Reason string `json:"reason"`
}

// String renders the problem as "ElementID: reason" for logs and error messages.
func (p Problem) String() string {
	if p.ElementID == "" {
		return p.Reason
	}
	return p.ElementID + ": " + p.Reason
}

// ErrorKind classifies why a document could not be parsed, so that an API can pick the HTTP status
// (413 for TooLarge, 400/422 for the rest) without matching on message text.
type ErrorKind string

// The kinds of parse failure. Every ParseError carries exactly one kind.
const (
	// ErrTooLarge means the document is larger than the caller's size limit.
	ErrTooLarge ErrorKind = "too_large"
	// ErrMalformed means the bytes are not well-formed XML.
	ErrMalformed ErrorKind = "malformed_xml"
	// ErrNotBPMN means the root element is not a BPMN definitions element.
	ErrNotBPMN ErrorKind = "not_bpmn"
	// ErrMissingNamespace means the root is called definitions but lacks the BPMN 2.0 model namespace.
	ErrMissingNamespace ErrorKind = "missing_namespace"
	// ErrDuplicateID means two elements share an id attribute.
	ErrDuplicateID ErrorKind = "duplicate_id"
	// ErrInvalidChild means an element appears where BPMN 2.0 does not allow it or is not a BPMN element.
	ErrInvalidChild ErrorKind = "invalid_child"
	// ErrUnboundPrefix means an element or attribute uses a namespace prefix no xmlns declares.
	ErrUnboundPrefix ErrorKind = "unbound_prefix"
	// ErrTooDeep means elements are nested deeper than any real diagram needs.
	ErrTooDeep ErrorKind = "too_deep"
)

// ParseError is returned by Parse for documents that cannot be turned into Definitions at all. It lists
// every problem found (for example all duplicate ids) rather than only the first one.
type ParseError struct {
	// Kind classifies the failure.
	Kind ErrorKind
	// Line is the 1-based line of the first problem when known, otherwise 0.
	Line int
	// Problems lists every problem found, each with the element id when there is one.
	Problems []Problem
}

// Error joins the problems into one message prefixed by the kind.
func (e *ParseError) Error() string {
	parts := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		parts = append(parts, p.String())
	}
	msg := "bpmn: " + string(e.Kind)
	if e.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", e.Line)
	}
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	return msg
}
