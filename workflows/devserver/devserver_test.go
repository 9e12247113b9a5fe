package devserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/workflows/devserver"
)

// waitForSignal waits for the signal "go" and returns what it carried with the workflow's input.
func waitForSignal(ctx workflow.Context, in string) (string, error) {
	var got string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &got)
	return in + ":" + got, nil
}

// TestHistoryCacheBounded runs more waiting workflows than the history service may keep in memory
// (HistoryCache 4): each is evicted while it waits and read back from the database when its signal
// arrives, and every one completes with its own input and signal.
func TestHistoryCacheBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := serve(t, devserver.Config{Namespace: "cache", HistoryCache: 4})
	w := worker.New(c, "cache", worker.Options{})
	w.RegisterWorkflow(waitForSignal)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const n = 12
	runs := make([]client.WorkflowRun, n)
	for i := range n {
		var err error
		if runs[i], err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("wait-%d", i), TaskQueue: "cache"}, waitForSignal, fmt.Sprint(i)); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	for i := range n {
		if err := c.SignalWorkflow(ctx, fmt.Sprintf("wait-%d", i), "", "go", fmt.Sprintf("s%d", i)); err != nil {
			t.Fatalf("signal %d: %v", i, err)
		}
	}
	for i, run := range runs {
		var out string
		if err := run.Get(ctx, &out); err != nil {
			t.Fatalf("workflow %d: %v", i, err)
		}
		if want := fmt.Sprintf("%d:s%d", i, i); out != want {
			t.Errorf("workflow %d returned %q, want %q", i, out, want)
		}
	}
}
