package instances

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/rapportcrm/rapport/workflows"
	"github.com/rapportcrm/rapport/workflows/devserver"
	"github.com/rapportcrm/rapport/workflows/replaytest"
)

var record = flag.String("record", "", "run batches on an embedded server and write their histories to testdata/batch-<value>-<case>.json (existing files are kept)")

// TestBatchReplay replays every recorded batch history (testdata/batch-*.json) against the current
// BatchWorkflow, so a change that is not deterministic for running batches fails here: the histories
// of batches started before the "batch-pacing" version (a fixed sleep before each instance) and after
// it (paced by the rate, several instances in flight) must both replay.
func TestBatchReplay(t *testing.T) {
	replaytest.Replay(t, replaytest.Options{
		Pattern:  filepath.Join("testdata", "batch-*.json"),
		AtLeast:  4,
		Register: func(r worker.WorkflowReplayer) { r.RegisterWorkflowWithOptions(BatchWorkflow, workflowOptions()) },
	})
}

// TestRecordBatchHistories runs two batches on an embedded Temporal server with stand-in activities
// (one runs to the end, one is cancelled after two instances) and writes their histories for
// TestBatchReplay. It runs only with -record=<name>.
func TestRecordBatchHistories(t *testing.T) {
	if *record == "" {
		t.Skip("records histories only with -record=<name>")
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Config{Namespace: "batches", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: "batches", Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var mu sync.Mutex
	var applied []string
	w := worker.New(c, "batches", worker.Options{})
	w.RegisterWorkflowWithOptions(BatchWorkflow, workflowOptions())
	w.RegisterActivityWithOptions(func(context.Context, Filter) ([]string, error) { return []string{"a", "b", "c", "d", "e", "f"}, nil },
		activity.RegisterOptions{Name: BatchSelectActivity})
	w.RegisterActivityWithOptions(func(_ context.Context, id string, _ Operation, _ string) (BatchResult, error) {
		time.Sleep(300 * time.Millisecond) // an operation takes a while
		mu.Lock()
		applied = append(applied, id)
		mu.Unlock()
		if id == "b" {
			return BatchResult{Instance: id, Result: ResultRefused, Message: "the instance is suspended already"}, nil
		}
		return BatchResult{Instance: id, Result: ResultDone}, nil
	}, activity.RegisterOptions{Name: BatchApplyActivity})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	req := BatchRequest{Operation: Operation{Kind: OpSuspend, Reason: "month-end freeze"}, By: "u1", Rate: 4}
	for _, name := range []string{"completed", "cancelled"} {
		id := "batch:" + *record + "-" + name
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "batches"}, BatchWorkflowName, req)
		if err != nil {
			t.Fatal(err)
		}
		if name == "cancelled" {
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				n := len(applied)
				mu.Unlock()
				if n >= 8 { // the completed batch's six and two of this one
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := c.CancelWorkflow(ctx, id, ""); err != nil {
				t.Fatal(err)
			}
		}
		var p BatchProgress
		if err := run.Get(ctx, &p); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", name, p)
		if name == "cancelled" && (p.State != BatchCancelled || p.Processed == 6) {
			t.Fatalf("cancelled batch: %+v", p)
		}
		replaytest.Save(t, c, id, run.GetRunID(), filepath.Join("testdata", "batch-"+*record+"-"+name+".json"), func(h *historypb.History) error {
			if !slices.ContainsFunc(h.Events, func(e *historypb.HistoryEvent) bool { return e.GetActivityTaskScheduledEventAttributes() != nil }) {
				return fmt.Errorf("%s: no activity in the history", name)
			}
			return nil
		})
	}
}
