package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// Operation describes one of the connector's own methods beyond the fixed ERP set: what
// its ERP offers that orders and customers do not cover (a price quote, a stock level, a
// ticket). A process calls it through a BPMN connector task whose operation header is
// the operation's name; Rapport validates the task's inputs against Input when the
// process is deployed and every call's input again before it reaches the plugin.
type Operation struct {
	// Name is lower-case words joined by dots, e.g. "prices.quote"; see ValidOperationName.
	Name string
	// Description tells a process designer what the operation does.
	Description string
	// Input is the JSON Schema (2020-12) of the input object; empty means any object.
	Input json.RawMessage
	// Output is the JSON Schema of the output; empty means any JSON value.
	Output json.RawMessage
}

// operationNameRE keeps operation names apart from the fixed methods (GetOrder...), which
// start with an upper-case letter, so one task header can name either.
var operationNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// ValidOperationName reports whether name can name an operation: lower-case letters,
// digits and '_' in dot-separated words starting with a letter, at most 64 characters.
func ValidOperationName(name string) bool {
	return len(name) <= 64 && operationNameRE.MatchString(name)
}

// Operation returns the described operation with the given name.
func (d DescribeResponse) Operation(name string) (Operation, bool) {
	for _, op := range d.Operations {
		if op.Name == name {
			return op, true
		}
	}
	return Operation{}, false
}

// InvokeRequest runs one described operation.
type InvokeRequest struct {
	// Operation is the name of a described operation.
	Operation string
	// Input is a JSON object valid against the operation's input schema (the host has
	// already checked it).
	Input json.RawMessage
	// IdempotencyKey is the same for every retry of one call (one process task), so an
	// operation that writes can recognise a repeat and answer with the first result.
	IdempotencyKey string
}

// Decode unmarshals the input into v, refusing fields v does not have, and reports a
// malformed input as an Invalid error.
func (r InvokeRequest) Decode(v any) error {
	in := r.Input
	if len(bytes.TrimSpace(in)) == 0 {
		in = json.RawMessage(`{}`)
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Invalid("operation %q: input: %v", r.Operation, err)
	}
	return nil
}

// InvokeResponse carries an operation's output as JSON, valid against its output schema.
type InvokeResponse struct {
	Output json.RawMessage
}

// Output encodes v as an operation's response.
func Output(v any) (InvokeResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return InvokeResponse{}, Internal("encode output: %v", err)
	}
	return InvokeResponse{Output: b}, nil
}

// UnknownOperation is the error for an Invoke of an operation the connector does not
// describe. It is of kind Unsupported, like a method whose capability is not declared.
func UnknownOperation(name string) error {
	return &Error{Kind: KindUnsupported, Message: fmt.Sprintf("operation %q is not described by this connector", name)}
}
