// Package messages delivers BPMN messages: to the running instances whose business key is the
// correlation key, or, when none waits, by starting the processes whose start event catches the message.
// The API's message endpoint, the interpreter's message throw events and record events all publish
// through here.
package messages

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/workflows/process"
)

// Starts finds the message start events for a message name; definitions.Store implements it.
type Starts interface {
	MessageStarts(ctx context.Context, name string) ([]definitions.Trigger, error)
}

// Publisher publishes messages in one namespace.
type Publisher struct {
	Temporal  client.Client
	Starts    Starts
	Starter   *process.Starter
	Namespace string
}

// Message is one BPMN message. ID, when set, makes a start it causes happen once: a client that
// retries a message with the same ID never starts a second instance.
type Message struct {
	Name           string         `json:"name"`
	CorrelationKey string         `json:"correlationKey"`
	Variables      map[string]any `json:"variables,omitempty"`
	ID             string         `json:"id,omitempty"`
}

// Result says where a message went.
type Result struct {
	Delivered int `json:"delivered" doc:"How many running instances received the message."`
	Started   int `json:"started" doc:"How many instances the message started (message start events), when none was waiting."`
}

// Publish delivers the message to every running instance with the correlation key as business key; if
// there is none, it starts each process with a message start event for it. A start has the ID
// <key>:message:<element>:<correlation key>:<message ID> (a random message ID when none is given).
func (p *Publisher) Publish(ctx context.Context, m Message) (Result, error) {
	var out Result
	n, err := p.Deliver(ctx, m)
	out.Delivered = n
	if err != nil || n > 0 {
		return out, err
	}
	starts, err := p.Starts.MessageStarts(ctx, m.Name)
	if err != nil {
		return out, err
	}
	for _, t := range starts {
		once := ""
		if m.ID != "" {
			once = t.Element + ":" + m.CorrelationKey + ":" + m.ID
		}
		st, err := p.Starter.Start(ctx, process.StartRequest{Ref: process.Ref{Key: t.Key, Version: t.Version}, Cause: process.CauseMessage,
			Once: once, StartElement: t.Element, BusinessKey: m.CorrelationKey, Variables: m.Variables})
		if err != nil {
			return out, fmt.Errorf("start %s on message %s: %w", t.Key, m.Name, err)
		}
		if !st.Existing {
			out.Started++
		}
	}
	return out, nil
}

// Deliver signals the message to every running instance whose business key is the correlation key and
// returns how many received it; it starts nothing.
func (p *Publisher) Deliver(ctx context.Context, m Message) (int, error) {
	resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: p.Namespace, PageSize: 1000,
		Query: fmt.Sprintf("RapportBusinessKey = %s AND ExecutionStatus = 'Running'", Quote(m.CorrelationKey)),
	})
	if err != nil {
		return 0, fmt.Errorf("find instances for message %s: %w", m.Name, err)
	}
	msg := process.MessageRequest{Name: m.Name, CorrelationKey: m.CorrelationKey, Variables: m.Variables}
	n := 0
	for _, ex := range resp.GetExecutions() {
		if err := p.Temporal.SignalWorkflow(ctx, ex.GetExecution().GetWorkflowId(), "", process.SignalMessage, msg); err == nil {
			n++
		}
	}
	return n, nil
}

// Quote makes a visibility query string literal.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
