package ferret

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestQuietDumps(t *testing.T) {
	tests := []struct {
		name    string
		level   slog.Level
		msg     string
		min     slog.Level
		visible bool
	}{
		{"dump hidden at warn", slog.LevelWarn, "Response message:\n{...}", slog.LevelWarn, false},
		{"dump shown at debug", slog.LevelWarn, "Response header: length 1", slog.LevelDebug, true},
		{"other warnings kept", slog.LevelWarn, "connection closed", slog.LevelWarn, true},
		{"errors kept", slog.LevelError, "Response message: boom", slog.LevelWarn, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(quietDumps{Handler: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.min})})
			l.With("conn", 7).WithGroup("req").Log(context.Background(), tt.level, tt.msg, "op", "find")
			if got := strings.Contains(buf.String(), strings.SplitN(tt.msg, "\n", 2)[0][:8]); got != tt.visible {
				t.Fatalf("visible = %v, want %v (%q)", got, tt.visible, buf.String())
			}
			if tt.visible && !strings.Contains(buf.String(), "conn=7 req.op=find") {
				t.Fatalf("derived attributes lost: %q", buf.String())
			}
		})
	}
}

// TestStartRefusesNonLoopback keeps the unauthenticated embedded store off the network.
func TestStartRefusesNonLoopback(t *testing.T) {
	if _, err := Start(context.Background(), Config{Dir: t.TempDir(), Addr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Start on 0.0.0.0 = %v, want a loopback error", err)
	}
}

// TestIndexIDs checks that a by-_id query of FerretDB's own form is served by the index IndexIDs adds,
// for a collection created after the server started.
func TestIndexIDs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, c := startClient(t, dir)
	coll := c.Database("idx").Collection("things")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexIDs(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "idx.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = 'things'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q WHERE %s = '"a"'`, table, idColumn),
		fmt.Sprintf(`UPDATE %q SET _ferretdb_sjson = '{}' WHERE %s = '"a"'`, table, idColumn),
		fmt.Sprintf(`DELETE FROM %q WHERE %s = '"a"'`, table, idColumn),
	} {
		var id, parent, unused int
		var detail string
		if err := db.QueryRow("EXPLAIN QUERY PLAN "+q).Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(detail, "USING INDEX "+table+indexSuffix) {
			t.Errorf("%s: plan %q", q, detail)
		}
	}
	// The index is kept by SQLite on FerretDB's writes.
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: 2}}}}); err != nil {
		t.Fatal(err)
	}
	var doc struct{ N int }
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&doc); err != nil || doc.N != 2 {
		t.Fatalf("read back %+v, %v", doc, err)
	}
}
