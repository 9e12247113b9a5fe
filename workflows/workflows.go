// Package workflows holds Rapport's Temporal side: the workflows and activities the worker runs, the
// search attributes that make processes listable, and worker registration.
package workflows

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the one queue every Rapport worker polls; servers start workflows on it.
const TaskQueue = "rapport"

// SearchAttributes are the custom attributes Rapport sets on process instances so that process owners can
// list and filter them by process, business key, step, owner and state.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		"RapportProcessKey":     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"RapportProcessVersion": enumspb.INDEXED_VALUE_TYPE_INT,
		"RapportBusinessKey":    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"RapportActiveElements": enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		"RapportState":          enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"RapportAssignees":      enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		"RapportEntity":         enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"RapportRecordID":       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		// RapportIncident is the text of an instance's open incidents (element, type, message).
		"RapportIncident": enumspb.INDEXED_VALUE_TYPE_TEXT,
		// RapportCorrelationKeys lists "<message>|<key>" of the instance's open message subscriptions.
		"RapportCorrelationKeys": enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
	}
}

// EnsureSearchAttributes registers any of Rapport's search attributes the namespace lacks. A production
// cluster is set up by its operator, so the worker calls this at start instead of requiring a manual step.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range SearchAttributes() {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// Register adds every Rapport workflow and activity to a worker, so the dev stack and `rapport worker`
// run exactly the same code.
func Register(w worker.Registry) {
	w.RegisterWorkflow(Ping)
	w.RegisterActivity(Echo)
}

// Ping is the smallest workflow that exercises the whole path (server, worker, activity); readiness checks
// and the end-to-end tests run it to prove the worker actually executes work.
func Ping(ctx workflow.Context, message string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var out string
	if err := workflow.ExecuteActivity(ctx, Echo, message).Get(ctx, &out); err != nil {
		return "", fmt.Errorf("echo activity: %w", err)
	}
	return out, nil
}

// Echo is a no-op activity: it returns its input. It is the unit of work the throughput benchmark counts.
func Echo(_ context.Context, message string) (string, error) {
	return message, nil
}
