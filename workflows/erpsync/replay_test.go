package erpsync

import (
	"context"
	"flag"
	"log/slog"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rapportcrm/rapport/workflows/devserver"
	"github.com/rapportcrm/rapport/workflows/replaytest"
)

var record = flag.String("record", "", "run a sync on an embedded server with stand-in activities and write its history to testdata/sync-<value>.json (an existing file is kept)")

// TestSyncReplay replays every recorded sync history (testdata/sync-*.json) against the current Sync
// workflow, so a change that is not deterministic for running syncs fails here: runs recorded before the
// customers phase (orders and invoices only, sync-orders-invoices.json, recorded from the workflow as it
// was) and after it (sync-customers.json) must both replay.
func TestSyncReplay(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sync-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sync-orders-invoices.json", "sync-customers.json"} {
		if !slices.Contains(files, filepath.Join("testdata", want)) {
			t.Fatalf("want the recorded history %s, found %v", want, files)
		}
	}
	replaytest.Replay(t, replaytest.Options{
		Pattern: filepath.Join("testdata", "sync-*.json"),
		AtLeast: 2,
		Register: func(r worker.WorkflowReplayer) {
			r.RegisterWorkflowWithOptions(Sync, workflow.RegisterOptions{Name: WorkflowName})
		},
	})
}

// TestRecordSyncHistory runs one sync on an embedded Temporal server with stand-in activities (two
// pages of orders, one of invoices, one of customers where the workflow asks for them) and writes its
// history for TestSyncReplay. It runs only with -record=<name>.
func TestRecordSyncHistory(t *testing.T) {
	if *record == "" {
		t.Skip("records a history only with -record=<name>")
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Config{Namespace: "erpsync"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddr(), Namespace: "erpsync", Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	w := worker.New(c, "erpsync", worker.Options{})
	w.RegisterWorkflowWithOptions(Sync, workflow.RegisterOptions{Name: WorkflowName})
	var orderPages atomic.Int32
	w.RegisterActivityWithOptions(func(context.Context, Input) (PageResult, error) {
		return PageResult{Summary: Summary{Created: 2, Companies: 1}, Done: orderPages.Add(1) == 2}, nil
	}, activity.RegisterOptions{Name: ActivityName})
	w.RegisterActivityWithOptions(func(context.Context, Input) (PageResult, error) {
		return PageResult{Summary: Summary{Paid: 1}, Done: true}, nil
	}, activity.RegisterOptions{Name: InvoiceActivityName})
	w.RegisterActivityWithOptions(func(context.Context, Input) (PageResult, error) {
		return PageResult{Summary: Summary{Leads: 1, Matched: 2}, Done: true}, nil
	}, activity.RegisterOptions{Name: CustomersActivityName})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	id := "erpsync-" + *record
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "erpsync"}, WorkflowName, Input{Connector: "shop-erp"})
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	if err := run.Get(ctx, &sum); err != nil {
		t.Fatal(err)
	}
	t.Logf("summary: %+v", sum)
	if sum.Created != 4 || sum.Paid != 1 {
		t.Fatalf("summary %+v, want 4 orders created over two pages and 1 paid", sum)
	}
	replaytest.Save(t, c, id, run.GetRunID(), filepath.Join("testdata", "sync-"+*record+".json"), nil)
}
