// Package messages delivers BPMN messages: to the running instances whose business key is the
// correlation key, or, when none waits, by starting the processes whose start event catches the message.
// The API's message endpoint, the interpreter's message throw events and record events all publish
// through here.
package messages

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

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
// retries a message with the same ID never starts a second instance. TimeToLive is how long an
// instance that has no matching subscription yet keeps it (zero: the instance's default, one hour;
// negative: not kept).
type Message struct {
	Name           string         `json:"name"`
	CorrelationKey string         `json:"correlationKey"`
	Variables      map[string]any `json:"variables,omitempty"`
	ID             string         `json:"id,omitempty"`
	TimeToLive     time.Duration  `json:"timeToLive,omitempty"`
}

// Result says where a message went.
type Result struct {
	Consumed int `json:"consumed" doc:"How many running instances had a subscription waiting for the message and took it."`
	Buffered int `json:"buffered" doc:"How many running instances kept it for its time to live, for a subscription still to come."`
	// Delivered is Consumed + Buffered (and instances that did not answer in time but were signalled).
	Delivered int `json:"delivered" doc:"How many running instances received the message (consumed, buffered or signalled)."`
	Started   int `json:"started" doc:"How many instances the message started (message start events), when no running instance received it."`
}

// Publish delivers the message to every running instance with the correlation key as business key or
// waiting for the message with that correlation key; if none received it, it starts each process
// with a message start event for it. A start has the ID <key>:message:<element>:<correlation
// key>:<message ID> (a random message ID when none is given).
func (p *Publisher) Publish(ctx context.Context, m Message) (Result, error) {
	out, err := p.Deliver(ctx, m)
	if err != nil || out.Delivered > 0 {
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

// deliverTimeout bounds how long one instance may take to say what it did with a message; one that
// does not answer in time (its worker is down) gets the message as a signal, applied when it runs.
const deliverTimeout = 10 * time.Second

// Deliver hands the message to every running instance whose business key is the correlation key or
// that waits for the message with that correlation key (search attribute RapportCorrelationKeys), and
// counts what they did with it; it starts nothing.
func (p *Publisher) Deliver(ctx context.Context, m Message) (Result, error) {
	var out Result
	resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: p.Namespace, PageSize: 1000,
		Query: fmt.Sprintf("(RapportBusinessKey = %s OR RapportCorrelationKeys = %s) AND ExecutionStatus = 'Running'",
			Quote(m.CorrelationKey), Quote(process.CorrelationEntry(m.Name, m.CorrelationKey))),
	})
	if err != nil {
		return out, fmt.Errorf("find instances for message %s: %w", m.Name, err)
	}
	msg := process.MessageRequest{Name: m.Name, CorrelationKey: m.CorrelationKey, Variables: m.Variables, TimeToLive: m.TimeToLive}
	for _, ex := range resp.GetExecutions() {
		id := ex.GetExecution().GetWorkflowId()
		res, err := p.update(ctx, id, msg)
		var nf *serviceerror.NotFound
		switch {
		case err == nil && res.Consumed:
			out.Consumed++
			out.Delivered++
		case err == nil && res.Buffered:
			out.Buffered++
			out.Delivered++
		case err == nil, errors.As(err, &nf):
			// It ended meanwhile, or dropped the message (a negative time to live).
		case ctx.Err() == nil && p.Temporal.SignalWorkflow(ctx, id, "", process.SignalMessage, msg) == nil:
			out.Delivered++
		}
	}
	return out, nil
}

// update delivers the message to one instance and waits for its outcome.
func (p *Publisher) update(ctx context.Context, id string, msg process.MessageRequest) (process.MessageOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	var res process.MessageOutcome
	h, err := p.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: process.UpdateDeliverMessage,
		Args: []any{msg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, &res)
	}
	return res, err
}

// Quote makes a visibility query string literal.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
