package stack_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/rapportcrm/rapport/cmd/rapport/stack/stacktest"
	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/workflows"
)

// TestDevStackSurvivesRestart runs the whole dev stack in-process, does real work through every part,
// stops it cleanly, starts it again on the same data directory and finds everything still there.
func TestDevStackSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()

	env, err := stacktest.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := env.Do(ctx, http.MethodGet, "/readyz", "", nil); err != nil || status != http.StatusOK {
		env.Stop()
		t.Fatalf("readyz = %d %v: %s", status, err, body)
	}
	run, err := env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restart-ping", TaskQueue: workflows.TaskQueue}, workflows.Ping, "hello")
	if err != nil {
		env.Stop()
		t.Fatal(err)
	}
	var echoed string
	if err := run.Get(ctx, &echoed); err != nil || echoed != "hello" {
		env.Stop()
		t.Fatalf("Ping = %q, %v", echoed, err)
	}
	if _, err := env.DB.Collection("restart_probe").InsertOne(ctx, bson.D{{Key: "_id", Value: "doc-1"}, {Key: "note", Value: "kept"}}); err != nil {
		env.Stop()
		t.Fatal(err)
	}
	firstToken := env.AdminToken
	env.Stop()

	env, err = stacktest.Start(ctx, dir)
	if err != nil {
		t.Fatalf("restart on the same data dir: %v", err)
	}
	defer env.Stop()

	var doc struct{ Note string }
	if err := env.DB.Collection("restart_probe").FindOne(ctx, bson.D{{Key: "_id", Value: "doc-1"}}).Decode(&doc); err != nil || doc.Note != "kept" {
		t.Errorf("document after restart = %+v, %v", doc, err)
	}
	if n, err := env.Stack.Users.CountUsers(ctx); err != nil || n != 1 {
		t.Errorf("users after restart = %d, %v; want exactly the bootstrap admin", n, err)
	}
	if status, body, _ := env.Do(ctx, http.MethodGet, "/api/v1/auth/me", firstToken, nil); status != http.StatusOK {
		t.Errorf("session from before the restart = %d: %s", status, body)
	}
	desc, err := env.Temporal.DescribeWorkflowExecution(ctx, "restart-ping", "")
	if err != nil {
		t.Fatalf("describe workflow after restart: %v", err)
	}
	if got := desc.GetWorkflowExecutionInfo().GetStatus(); got != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("workflow status after restart = %v, want completed", got)
	}
	// Lists on the embedded store are answered from its files, by the store running now (a restart made
	// a new one).
	l := env.Stack.Backend().Files()
	if l == nil {
		t.Fatal("the embedded stack's backend has no Files: its lists would scan through FerretDB")
	}
	if res, err := l.List(ctx, storage.ListQuery{Database: env.DB.Name(), Collection: "restart_probe", Sort: bson.D{{Key: "_id", Value: 1}}, Limit: 5, Documents: true}); err != nil ||
		len(res.Docs) != 1 || res.Docs[0].Lookup("note").StringValue() != "kept" {
		t.Errorf("listing from the files after restart: %+v, %v", res, err)
	}
	// The restarted worker still executes work.
	run, err = env.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue}, workflows.Ping, "again")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &echoed); err != nil || echoed != "again" {
		t.Errorf("Ping after restart = %q, %v", echoed, err)
	}
}
