// Package messages delivers BPMN messages: to the running instances whose business key is the
// correlation key, or, when none waits, by starting the processes whose start event catches the message.
// The API's message endpoint and the interpreter's message throw events both publish through here.
package messages

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
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
	Namespace string
	TaskQueue string
}

// Result says where a message went.
type Result struct {
	Delivered int `json:"delivered" doc:"How many running instances received the message."`
	Started   int `json:"started" doc:"How many instances the message started (message start events), when none was waiting."`
}

// Publish delivers the message to every running instance with the correlation key as business key; if
// there is none, it starts each process with a message start event for it, once per correlation key.
func (p *Publisher) Publish(ctx context.Context, name, correlationKey string, vars map[string]any) (Result, error) {
	var out Result
	resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: p.Namespace, PageSize: 1000,
		Query: fmt.Sprintf("RapportBusinessKey = %s AND ExecutionStatus = 'Running'", Quote(correlationKey)),
	})
	if err != nil {
		return out, fmt.Errorf("find instances for message %s: %w", name, err)
	}
	msg := process.MessageRequest{Name: name, CorrelationKey: correlationKey, Variables: vars}
	for _, ex := range resp.GetExecutions() {
		if err := p.Temporal.SignalWorkflow(ctx, ex.GetExecution().GetWorkflowId(), "", process.SignalMessage, msg); err == nil {
			out.Delivered++
		}
	}
	if out.Delivered > 0 {
		return out, nil
	}
	starts, err := p.Starts.MessageStarts(ctx, name)
	if err != nil {
		return out, err
	}
	for _, t := range starts {
		input := process.Input{Ref: process.Ref{Key: t.Key, Version: t.Version}, Variables: vars,
			BusinessKey: correlationKey, StartElement: t.Element}
		_, err := p.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: t.Key + "-" + t.Element + "-" + correlationKey, TaskQueue: p.TaskQueue,
			TypedSearchAttributes: process.SearchAttributes(input), WorkflowExecutionErrorWhenAlreadyStarted: true,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, process.WorkflowName, input)
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case err == nil:
			out.Started++
		case !errors.As(err, &already):
			return out, fmt.Errorf("start %s on message %s: %w", t.Key, name, err)
		}
	}
	return out, nil
}

// Quote makes a visibility query string literal.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
