package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
)

// TestRecordsRebuildKeys runs `rapport records rebuild-keys` on the data directory of a stopped
// `rapport dev` whose contacts were written around Rapport (no keys, two sharing an email): it rebuilds
// the keys, names the conflict, and Rapport's dedupe works on the result.
func TestRecordsRebuildKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	withStore := func(fn func(db *mongo.Database, s *records.Store)) {
		f, err := ferret.Start(ctx, ferret.Config{Dir: filepath.Join(dir, "mongo")})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Stop()
		c, err := mongo.Connect(options.Client().ApplyURI(f.URI()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(ctx)
		db := c.Database("rapport")
		s := records.New(db, records.Options{})
		if err := s.Install(ctx); err != nil {
			t.Fatal(err)
		}
		fn(db, s)
	}
	withStore(func(db *mongo.Database, _ *records.Store) {
		now := time.Now().UTC()
		if _, err := db.Collection("records_contact").InsertMany(ctx, []any{
			bson.M{"_id": "c-1", "firstName": "A", "emails": bson.A{"same@cli.test"}, "version": int64(1), "createdAt": now.Add(-time.Minute), "updatedAt": now},
			bson.M{"_id": "c-2", "firstName": "B", "emails": bson.A{"same@cli.test"}, "version": int64(1), "createdAt": now, "updatedAt": now},
		}); err != nil {
			t.Fatal(err)
		}
	})
	var out bytes.Buffer
	if err := newApp(&out, &out).Run(ctx, []string{"rapport", "records", "rebuild-keys", "--data-dir", dir, "contact"}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"contact: 2 live records, 1 keys (1 written", "1 conflicts", "contact/emails/same@cli.test is held by c-1; also on c-2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	withStore(func(_ *mongo.Database, s *records.Store) {
		_, err := s.Create(ctx, "contact", map[string]any{"firstName": "C", "emails": []any{"SAME@cli.test"}}, records.WriteOptions{})
		if dup, ok := err.(*records.DuplicateError); !ok || dup.ExistingID != "c-1" {
			t.Fatalf("create after the rebuild: %v", err)
		}
	})
	if err := newApp(&out, &out).Run(ctx, []string{"rapport", "records", "rebuild-keys"}); err == nil || !strings.Contains(err.Error(), "--mongodb-uri") {
		t.Errorf("without a database: %v", err)
	}
}
