// Package replaytest replays recorded workflow histories against the current workflow code: the one way
// every workflow package checks that a change stays deterministic for executions already running.
// Histories are recorded once from an embedded server and never re-recorded; a change that does not
// replay goes behind workflow.GetVersion instead.
package replaytest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"
)

// Options says what to replay and how.
type Options struct {
	// Pattern is the glob of the history files (JSON, as `temporal workflow show --output json` or
	// client.HistoryFromJSON reads them).
	Pattern string
	// AtLeast fails the test when fewer files match, so deleted or moved recordings do not pass silently.
	AtLeast int
	// Register registers the workflows the histories were recorded from.
	Register func(worker.WorkflowReplayer)
	// Execution names the original execution of a file, for workflows whose code reads its own ID; nil
	// replays under the replayer's default.
	Execution func(file string) workflow.Execution
}

// Replay replays every matching history in a subtest of its own and fails the subtest of a history that
// does not replay.
func Replay(t *testing.T, o Options) {
	t.Helper()
	files, err := filepath.Glob(o.Pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < max(o.AtLeast, 1) {
		t.Fatalf("want at least %d recorded histories matching %s, found %v", max(o.AtLeast, 1), o.Pattern, files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			o.Register(r)
			file, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			h, err := client.HistoryFromJSON(file, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			var opts worker.ReplayWorkflowHistoryOptions
			if o.Execution != nil {
				opts.OriginalExecution = o.Execution(f)
			}
			if err := r.ReplayWorkflowHistoryWithOptions(nil, h, opts); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// Save writes the history of one workflow run to path, as Replay reads it, unless path exists:
// histories are recorded once and never re-recorded. check, when not nil, vets the history before it is
// written (say, that it holds the events the recording is meant to cover).
func Save(t *testing.T, c client.Client, workflowID, runID, path string, check func(*historypb.History) error) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Logf("%s exists; histories are never re-recorded", path)
		return
	}
	iter := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, ev)
	}
	if check != nil {
		if err := check(&h); err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
	}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
