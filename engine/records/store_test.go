package records_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/engine/storage"
)

var actor = records.WriteOptions{Actor: records.ChangedBy{Via: "api"}}

func TestInstallIsIdempotentAndConcurrent(t *testing.T) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = records.New(db, records.Options{}).Install(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := store.ListSchemas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	builtin, _ := schema.Builtin()
	if len(list) < len(builtin) {
		t.Fatalf("%d schemas installed, want at least %d", len(list), len(builtin))
	}
	vs, err := store.SchemaVersions(ctx, "lead")
	if err != nil || len(vs) != 1 || vs[0].Version != 1 {
		t.Fatalf("lead versions %v, %v", vs, err)
	}
}

func TestSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	name := fmt.Sprintf("gadget%d", time.Now().UnixNano()%1000000000)
	def := `{"name":"` + name + `","label":"Gadget","fields":[{"name":"title","type":"string","required":true},{"name":"size","type":"integer"}]}`
	e, err := schema.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.SaveSchema(ctx, e, "u1", 0, false)
	if err != nil || !res.Created || res.Entity.Version != 1 {
		t.Fatalf("create: %+v, %v", res, err)
	}
	if _, err := store.Create(ctx, name, map[string]any{"title": "a"}, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, name, map[string]any{"title": "b", "size": 3}, actor); err != nil {
		t.Fatal(err)
	}
	// Making size required is breaking: one record lacks it.
	e.Fields[1].Required = true
	dry, err := store.SaveSchema(ctx, e, "u1", 0, true)
	if err != nil || dry.Saved || dry.DryRun == nil || dry.DryRun.Violating != 1 || dry.DryRun.Checked != 2 || len(dry.DryRun.Examples) != 1 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	_, err = store.SaveSchema(ctx, e, "u1", 0, false)
	var brk *records.BreakingError
	if !errors.As(err, &brk) || brk.DryRun.Violating != 1 {
		t.Fatalf("breaking change saved: %v", err)
	}
	info, _ := store.Schema(ctx, name)
	if info.Entity.Version != 1 {
		t.Fatalf("refused change bumped the version to %d", info.Entity.Version)
	}
	// A compatible change makes version 2, kept with who made it.
	e.Fields[1].Required = false
	e.Fields = append(e.Fields, schema.Field{Name: "colour", Type: schema.TypeString})
	res, err = store.SaveSchema(ctx, e, "u2", 1, false)
	if err != nil || res.Entity.Version != 2 || !res.Saved {
		t.Fatalf("compatible change: %+v, %v", res, err)
	}
	if _, err := store.SaveSchema(ctx, e, "u2", 1, false); !errors.Is(err, records.ErrSchemaConflict) {
		t.Fatalf("stale expected version: %v", err)
	}
	vs, err := store.SchemaVersions(ctx, name)
	if err != nil || len(vs) != 2 || vs[0].CreatedBy != "u2" || vs[1].CreatedBy != "u1" {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	bad, _ := schema.Parse([]byte(`{"name":"gizmo","fields":[{"name":"x","type":"nope"},{"name":"id","type":"string"}]}`))
	var derr *schema.DefinitionError
	if _, err := store.SaveSchema(ctx, bad, "u1", 0, false); !errors.As(err, &derr) || len(derr.Problems) < 2 {
		t.Fatalf("bad definition: %v", err)
	}
}

func TestRecordsListCursorOverSortKeysWithGaps(t *testing.T) {
	ctx := context.Background()
	// Task: kind (indexed enum) is required; dueAt is not sortable, so sort by status and kind.
	n := 0
	prefix := fmt.Sprint("t", time.Now().UnixNano())
	for _, st := range []string{"open", "done"} {
		for i := range 5 {
			rec := map[string]any{"title": fmt.Sprintf("%s-%d-%s", prefix, i, st), "kind": "call", "status": st}
			if _, err := store.Create(ctx, "task", rec, actor); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	for _, sort := range []string{"status,-createdAt", "-status,id", "-updatedAt"} {
		seen := map[any]bool{}
		cursor := ""
		for pages := 0; pages < 20; pages++ {
			p, err := store.List(ctx, "task", records.ListParams{Sort: sort, Limit: 3, Cursor: cursor, Filter: `title startsWith "` + prefix + `"`})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Items {
				if seen[r["id"]] {
					t.Fatalf("sort %s: %v seen twice", sort, r["id"])
				}
				seen[r["id"]] = true
			}
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if len(seen) != n {
			t.Errorf("sort %s: paged through %d of %d", sort, len(seen), n)
		}
	}
	if _, err := store.List(ctx, "task", records.ListParams{Sort: "status", Cursor: mustCursor(t)}); err == nil {
		t.Error("a cursor of another sort was accepted")
	}
}

func mustCursor(t *testing.T) string {
	p, err := store.List(context.Background(), "task", records.ListParams{Sort: "-createdAt", Limit: 1})
	if err != nil || p.Next == "" {
		t.Fatalf("no cursor: %v", err)
	}
	return p.Next
}

func TestRecordsConcurrentPatchesKeepEveryChange(t *testing.T) {
	ctx := context.Background()
	res, err := store.Create(ctx, "lead", map[string]any{"source": "api", "name": "Race", "status": "new"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Record["id"].(string)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := store.Patch(ctx, "lead", id, map[string]any{"companyName": fmt.Sprint("c", i)}, actor); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r, err := store.Get(ctx, "lead", id)
	if err != nil {
		t.Fatal(err)
	}
	h, err := store.History(ctx, "lead", id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if v := r["version"]; v != int64(len(h.Items)) {
		t.Errorf("version %v but %d history entries", v, len(h.Items))
	}
}

func TestRestoreRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	s := records.New(db, records.Options{Retention: time.Hour, Now: clock})
	res, err := s.Create(ctx, "lead", map[string]any{"source": "api", "name": "Old", "status": "new"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Record["id"].(string)
	if _, err := s.Delete(ctx, "lead", id, actor); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := s.Restore(ctx, "lead", id, actor); !errors.Is(err, records.ErrRetentionOver) {
		t.Fatalf("restore after retention: %v", err)
	}
}

// TestOnChangeHearsOfEveryWrite: the change hook (record triggers, record events to running processes)
// is told of a create, an update and a delete, each with the record as stored, and not of a restore.
// An update names the fields it changed (not those the patch sent unchanged, nor system fields).
func TestOnChangeHearsOfEveryWrite(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var heard []string
	s := records.New(db, records.Options{OnChange: func(_ context.Context, entity, op string, rec records.Record, changed []string) error {
		mu.Lock()
		defer mu.Unlock()
		_, deleted := rec["deletedAt"]
		heard = append(heard, fmt.Sprintf("%s %s v%v deleted=%v changed=%v", entity, op, rec["version"], deleted, changed))
		return nil
	}})
	res, err := s.Create(ctx, "lead", map[string]any{"source": "api", "name": "Hook", "status": "new"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Record["id"].(string)
	if _, err := s.Patch(ctx, "lead", id, map[string]any{"status": "contacted", "name": "Hook"}, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "lead", id, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(ctx, "lead", id, actor); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"lead created v1 deleted=false changed=[]", "lead updated v2 deleted=false changed=[status]", "lead deleted v3 deleted=true changed=[]"}
	if !slices.Equal(heard, want) {
		t.Errorf("heard %q, want %q", heard, want)
	}
}

func TestImportDryRunAndRerun(t *testing.T) {
	ctx := context.Background()
	co := "ImpCo" + fmt.Sprint(time.Now().UnixNano())
	csvData := "Name,Company,E-mail,Budget,Status,Source,Ignored\n" +
		"Ann Import," + co + ",ann@imp.test,1000 RUB,new,import,x\n" +
		"Bob Import," + co + ",bob@,5,new,import,x\n" +
		"Cid Import," + co + ",cid@imp.test,,lost,import,x\n" +
		"Dan Import," + co + ",dan@imp.test,200 USD,new,import,x\n"
	m := records.ImportMapping{"Company": "companyName", "E-mail": "email", "Ignored": "-"}
	rep, err := store.DryRunImport(ctx, "lead", []byte(csvData), m, records.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 4 || rep.Valid != 2 || rep.Invalid != 2 || len(rep.Problems) != 2 || rep.Problems[0].Row != 2 || rep.Problems[1].Row != 3 {
		t.Fatalf("dry run %+v", rep)
	}
	var ptrs []string
	for _, e := range rep.Problems[0].Errors {
		ptrs = append(ptrs, e.Pointer)
	}
	if got := strings.Join(ptrs, ","); got != "/budget/currency,/email" {
		t.Errorf("row 2 errors at %s", got)
	}
	if n, _ := db.Collection("records_lead").CountDocuments(ctx, bson.D{{Key: "companyName", Value: co}}); n != 0 {
		t.Fatalf("dry run wrote %d records", n)
	}
	for run := range 2 {
		job, err := store.StartImport(ctx, "lead", []byte(csvData), m, records.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		store.Wait()
		j, err := store.Job(ctx, "lead", job.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantCreated, wantSkipped := 2, 0
		if run == 1 {
			wantCreated, wantSkipped = 0, 2
		}
		if j.State != "done" || j.Done != 4 || j.Failed != 2 || j.Created != wantCreated || j.Skipped != wantSkipped {
			t.Errorf("run %d: job %+v", run, j)
		}
		var out strings.Builder
		if err := store.WriteJobResults(ctx, "lead", job.ID, &out); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(out.String(), "\n"); lines != 5 {
			t.Errorf("results have %d lines: %s", lines, out.String())
		}
	}
	if n, _ := db.Collection("records_lead").CountDocuments(ctx, bson.D{{Key: "companyName", Value: co}}); n != 2 {
		t.Fatalf("two runs stored %d records, want 2", n)
	}
	saved, err := store.SavedMapping(ctx, "lead")
	if err != nil || saved["E-mail"] != "email" {
		t.Errorf("mapping not remembered: %v %v", saved, err)
	}
	var csvOut strings.Builder
	if err := store.WriteCSV(ctx, "lead", records.ListParams{Filter: `companyName == "` + co + `"`, Sort: "createdAt", Fields: "name,budget"}, &csvOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csvOut.String(), "Ann Import,1000 RUB") || strings.Count(csvOut.String(), "\n") != 3 {
		t.Errorf("export:\n%s", csvOut.String())
	}
}

func TestIdempotencyConcurrentAndStaleClaim(t *testing.T) {
	ctx := context.Background()
	run := fmt.Sprint(time.Now().UnixNano())
	o := records.WriteOptions{Actor: records.ChangedBy{User: "u-idem", Via: "api"}, IdempotencyKey: "same-" + run}
	rec := map[string]any{"source": "api", "name": "Idem Race " + run, "status": "new"}
	var wg sync.WaitGroup
	ids := make([]any, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				res, err := store.Create(ctx, "lead", rec, o)
				if errors.Is(err, records.ErrInProgress) {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = res.Record["id"]
				return
			}
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("one key gave records %v", ids)
		}
	}
	if n, _ := db.Collection("records_lead").CountDocuments(ctx, bson.D{{Key: "name", Value: rec["name"]}}); n != 1 {
		t.Fatalf("%d records for one key", n)
	}
	// A claim left by a request that died before inserting is taken over once it is stale: simulate it by
	// removing the record a fresh claim points to and ageing the claim.
	o.IdempotencyKey = "orphan-" + run
	first, err := store.Create(ctx, "lead", rec, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("records_lead").DeleteOne(ctx, bson.D{{Key: "_id", Value: first.Record["id"]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, "lead", rec, o); !errors.Is(err, records.ErrInProgress) {
		t.Fatalf("a fresh claim without its record: %v", err)
	}
	later := records.New(db, records.Options{Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	second, err := later.Create(ctx, "lead", rec, o)
	if err != nil || second.Replayed || second.Record["id"] == first.Record["id"] {
		t.Fatalf("stale claim not taken over: %+v, %v", second, err)
	}
	again, err := later.Create(ctx, "lead", rec, o)
	if err != nil || !again.Replayed || again.Record["id"] != second.Record["id"] {
		t.Fatalf("after takeover the key should replay the new record: %+v, %v", again, err)
	}
}

func TestDedupeConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	email := fmt.Sprintf("race%d@dedupe.test", time.Now().UnixNano())
	var wg sync.WaitGroup
	created, dups := make(chan string, 6), make(chan string, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := store.Create(ctx, "contact", map[string]any{"firstName": "Race", "emails": []any{email}}, actor)
			var dup *records.DuplicateError
			switch {
			case err == nil:
				created <- res.Record["id"].(string)
			case errors.As(err, &dup):
				dups <- dup.ExistingID
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(created)
	close(dups)
	var ids []string
	for id := range created {
		ids = append(ids, id)
	}
	if len(ids) != 1 {
		t.Fatalf("%d contacts created with one email", len(ids))
	}
	for d := range dups {
		if d != ids[0] {
			t.Errorf("duplicate names %s, the record is %s", d, ids[0])
		}
	}
	// After the contact is deleted its email is free again.
	if _, err := store.Delete(ctx, "contact", ids[0], actor); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, "contact", map[string]any{"firstName": "Again", "emails": []any{email}}, actor); err != nil {
		t.Fatalf("email of a deleted contact: %v", err)
	}
}

func TestInterruptedImportIsReportedFailed(t *testing.T) {
	ctx := context.Background()
	id := fmt.Sprint("job-", time.Now().UnixNano())
	old := time.Now().Add(-10 * time.Minute).UTC()
	if _, err := db.Collection(records.ImportJobsCollection).InsertOne(ctx, records.ImportJob{ID: id, Entity: "lead", State: "running",
		CreatedAt: old, HeartbeatAt: old}); err != nil {
		t.Fatal(err)
	}
	j, err := store.Job(ctx, "lead", id)
	if err != nil || j.State != "failed" || j.Error == "" {
		t.Fatalf("stale running job read as %+v, %v", j, err)
	}
	if err := records.New(db, records.Options{}).Install(ctx); err != nil {
		t.Fatal(err)
	}
	var stored records.ImportJob
	if err := db.Collection(records.ImportJobsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&stored); err != nil || stored.State != "failed" {
		t.Fatalf("after restart the job is %+v, %v", stored, err)
	}
}

// countingLister counts the lists the embedded store's files answered and those they left to a scan;
// with refuse set, it leaves every list to the scan.
type countingLister struct {
	l                 storage.Files
	refuse            bool
	answered, refused atomic.Int32
}

func (c *countingLister) List(ctx context.Context, q storage.ListQuery) (storage.ListResult, error) {
	res, err := c.l.List(ctx, q)
	if c.refuse {
		res, err = storage.ListResult{}, fmt.Errorf("%w: refused by the test", storage.ErrNotPushed)
	}
	switch {
	case errors.Is(err, storage.ErrNotPushed):
		c.refused.Add(1)
	case err == nil:
		c.answered.Add(1)
	}
	return res, err
}

func (c *countingLister) IndexSort(ctx context.Context, database, collection, key string) error {
	return c.l.IndexSort(ctx, database, collection, key)
}

func (c *countingLister) Insert(ctx context.Context, database string, docs []storage.InsertDoc) error {
	return c.l.Insert(ctx, database, docs)
}

// TestListScanAgreesWithServerSort pages through the same lists the embedded store's ways (one scan,
// sorted in Go; SQLite over the store's files) and the MongoDB way (the server sorts and limits) and
// expects the same records in the same order, with the same counts: the Go and SQL orderings are
// MongoDB's, missing values and ties included; a list the files refuse is scanned instead.
func TestListScanAgreesWithServerSort(t *testing.T) {
	ctx := context.Background()
	prefix := fmt.Sprint("scan", time.Now().UnixNano())
	statuses := []string{"open", "done", "open", "cancelled"}
	for i := range 23 {
		rec := map[string]any{"title": fmt.Sprintf("%s-%02d", prefix, i%7), "kind": []string{"call", "meeting"}[i%2], "status": statuses[i%4]}
		if i%3 == 0 {
			rec["assignee"] = nil
		}
		if _, err := store.Create(ctx, "task", rec, actor); err != nil {
			t.Fatal(err)
		}
	}
	scan := records.New(db, records.Options{Backend: storage.NewBackend(true)})
	server := records.New(db, records.Options{Backend: storage.NewBackend(false)})
	lister := &countingLister{l: files}
	fromFiles := records.New(db, records.Options{Backend: storage.NewEmbedded(lister)})
	refusing := &countingLister{l: files, refuse: true}
	leftToScan := records.New(db, records.Options{Backend: storage.NewEmbedded(refusing)})
	var titles []string
	for i := range 7 {
		titles = append(titles, fmt.Sprintf("%q", fmt.Sprintf("%s-%02d", prefix, i)))
	}
	in := "title in [" + strings.Join(titles, ", ") + "]"
	for _, sort := range []string{"status,-createdAt", "-status,kind", "kind,status,-id", "-updatedAt", "id", "owner,-kind"} {
		for _, filter := range []string{`title startsWith "` + prefix + `"`, `title startsWith "` + prefix + `" and status != "done"`,
			in, in + ` and status != "done"`, in + ` and (assignee == nil or kind == "call")`, in + ` and not (status in ["open", "cancelled"])`} {
			pages := func(s *records.Store) ([]any, int64) {
				var ids []any
				var total int64 = -1
				cursor := ""
				for range 30 {
					p, err := s.List(ctx, "task", records.ListParams{Sort: sort, Filter: filter, Limit: 4, Cursor: cursor, Count: true})
					if err != nil {
						t.Fatalf("sort %s: %v", sort, err)
					}
					if total != -1 && *p.Total != total {
						t.Fatalf("sort %s: the count changed from %d to %d between pages", sort, total, *p.Total)
					}
					total = *p.Total
					for _, r := range p.Items {
						ids = append(ids, r["id"])
					}
					if cursor = p.Next; cursor == "" {
						break
					}
				}
				return ids, total
			}
			a, na := pages(scan)
			b, nb := pages(server)
			c, nc := pages(fromFiles)
			d, nd := pages(leftToScan)
			if fmt.Sprint(a) != fmt.Sprint(b) || na != nb || int64(len(a)) != na || fmt.Sprint(c) != fmt.Sprint(b) || nc != nb || fmt.Sprint(d) != fmt.Sprint(b) || nd != nb {
				t.Errorf("sort %s, filter %s:\nscan   %d %v\nfiles  %d %v\nleft to the scan %d %v\nserver %d %v", sort, filter, na, a, nc, c, nd, d, nb, b)
			}
		}
	}
	// Every page came from the files, searches by text included; a list the files refuse is scanned.
	if lister.answered.Load() < 6*6 || lister.refused.Load() != 0 || refusing.refused.Load() < 6*6 {
		t.Fatalf("the files answered %d lists and refused %d; the refusing files refused %d", lister.answered.Load(), lister.refused.Load(), refusing.refused.Load())
	}
}

// injectingLister answers as the files do, with one more ID in front: a record that changed between the
// files' answer and the read by ID.
type injectingLister struct {
	storage.Files
	id string
}

func (l injectingLister) List(ctx context.Context, q storage.ListQuery) (storage.ListResult, error) {
	res, err := l.Files.List(ctx, q)
	res.IDs = append([]string{l.id}, res.IDs...)
	return res, err
}

// TestListFromFilesChecksRecordsAgain: a record the files listed but that was deleted before the page was
// read is not shown, and the page is the one a scan gives, not a shorter one.
func TestListFromFilesChecksRecordsAgain(t *testing.T) {
	ctx := context.Background()
	prefix := fmt.Sprint("recheck", time.Now().UnixNano())
	var ids []string
	for i := range 4 {
		res, err := store.Create(ctx, "task", map[string]any{"title": fmt.Sprintf("%s-%d", prefix, i), "kind": "call"}, actor)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Record["id"].(string))
	}
	if _, err := store.Delete(ctx, "task", ids[0], actor); err != nil {
		t.Fatal(err)
	}
	s := records.New(db, records.Options{Backend: storage.NewEmbedded(injectingLister{Files: files, id: ids[0]})})
	p, err := s.List(ctx, "task", records.ListParams{Filter: fmt.Sprintf(`title startsWith %q`, prefix), Sort: "-id", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Items {
		got = append(got, r["id"].(string))
	}
	live := slices.Clone(ids[1:])
	slices.Sort(live)
	if want := []string{live[2], live[1]}; !slices.Equal(got, want) || p.Next == "" {
		t.Fatalf("page %v (next %q), want %v and a next page", got, p.Next, want)
	}
}

// logCapture keeps the messages logged at warn and above.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCapture) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

// TestCapacityWarnedOnce lists an entity that holds more records than the embedded store's capacity
// (set low here): the warning is logged once, not on every list.
func TestCapacityWarnedOnce(t *testing.T) {
	ctx := context.Background()
	for i := range 3 {
		if _, err := store.Create(ctx, "task", map[string]any{"title": fmt.Sprint("capacity ", i), "kind": "call"}, actor); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logCapture{}
	small := records.New(db, records.Options{Backend: storage.NewBackend(true), Capacity: 2, Logger: slog.New(logs)})
	large := records.New(db, records.Options{Backend: storage.NewBackend(true), Capacity: 1 << 40, Logger: slog.New(logs)})
	for range 3 {
		for _, s := range []*records.Store{small, large} {
			if _, err := s.List(ctx, "task", records.ListParams{Limit: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var warnings int
	for _, m := range logs.msgs {
		if strings.Contains(m, "embedded store lists interactively") {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("%d capacity warnings, want 1: %v", warnings, logs.msgs)
	}
}

func TestFindByKey(t *testing.T) {
	ctx := context.Background()
	email := fmt.Sprintf("findme%d@keys.test", time.Now().UnixNano())
	res, err := store.Create(ctx, "contact", map[string]any{"firstName": "Find", "emails": []any{email}}, actor)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.FindByKey(ctx, "contact", "emails", strings.ToUpper(email))
	if err != nil || got["id"] != res.Record["id"] {
		t.Fatalf("FindByKey = %v, %v", got, err)
	}
	if _, err := store.Delete(ctx, "contact", res.Record["id"].(string), actor); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FindByKey(ctx, "contact", "emails", email); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("the key of a deleted contact: %v", err)
	}
	if _, err := store.FindByKey(ctx, "lead", "name", "x"); !errors.Is(err, records.ErrNotKey) {
		t.Fatalf("a field without keys: %v", err)
	}
}

// TestRebuildKeys writes contacts around the store (as a restored backup would), so they hold no keys,
// two of them with the same email: the rebuild gives each value to the oldest record, reports the
// other, removes keys nobody holds, and dedupe works on the result.
func TestRebuildKeys(t *testing.T) {
	ctx := context.Background()
	run := fmt.Sprint(time.Now().UnixNano())
	old := time.Now().Add(-time.Hour).UTC()
	docs := []any{
		bson.M{"_id": "rb-old-" + run, "firstName": "Old", "emails": bson.A{"shared" + run + "@keys.test"}, "version": int64(1), "createdAt": old, "updatedAt": old},
		bson.M{"_id": "rb-new-" + run, "firstName": "New", "emails": bson.A{"shared" + run + "@keys.test", "own" + run + "@keys.test"}, "version": int64(1), "createdAt": time.Now().UTC(), "updatedAt": time.Now().UTC()},
	}
	if _, err := db.Collection("records_contact").InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	stale := "contact/emails/stale" + run + "@keys.test"
	if _, err := db.Collection(records.KeysCollection).InsertOne(ctx, bson.M{"_id": stale, "recordId": "rb-gone-" + run, "at": old}); err != nil {
		t.Fatal(err)
	}
	rep, err := store.RebuildKeys(ctx, "contact")
	if err != nil {
		t.Fatal(err)
	}
	var mine []records.KeyConflict
	for _, c := range rep.Conflicts {
		if strings.Contains(c.Key, run) {
			mine = append(mine, c)
		}
	}
	if len(mine) != 1 || mine[0].Holder != "rb-old-"+run || len(mine[0].Others) != 1 || mine[0].Others[0] != "rb-new-"+run || rep.Removed < 1 {
		t.Fatalf("report %+v", rep)
	}
	if n, _ := db.Collection(records.KeysCollection).CountDocuments(ctx, bson.D{{Key: "_id", Value: stale}}); n != 0 {
		t.Error("a stale key survived the rebuild")
	}
	for email, holder := range map[string]string{"shared" + run + "@keys.test": "rb-old-" + run, "own" + run + "@keys.test": "rb-new-" + run} {
		_, err := store.Create(ctx, "contact", map[string]any{"firstName": "Dup", "emails": []any{email}}, actor)
		var dup *records.DuplicateError
		if !errors.As(err, &dup) || dup.ExistingID != holder {
			t.Errorf("create with %s after the rebuild: %v, want a duplicate of %s", email, err, holder)
		}
	}
}

// TestShutdownStopsImports starts a large import and shuts the store down at once: Shutdown returns once
// the job has stopped after its current batch, and the job is left failed as interrupted (its rows so
// far stored), never "running" for a server that is gone.
func TestShutdownStopsImports(t *testing.T) {
	ctx := context.Background()
	s := records.New(db, records.Options{})
	var csv strings.Builder
	csv.WriteString("title,kind\n")
	for i := range 5000 {
		fmt.Fprintf(&csv, "shutdown %d,call\n", i)
	}
	job, err := s.StartImport(ctx, "task", []byte(csv.String()), nil, records.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stop, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.Shutdown(stop); err != nil {
		t.Fatal(err)
	}
	j, err := store.Job(ctx, "task", job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != "failed" || !strings.Contains(j.Error, "interrupted") || j.Done >= j.Total {
		t.Fatalf("after shutdown the job is %s (%d of %d): %s", j.State, j.Done, j.Total, j.Error)
	}
}

// TestCreateHistoryFollows: a create answers before its history entry is written; the entry is there
// once FlushHistory returns, the same one History showed meanwhile.
func TestCreateHistoryFollows(t *testing.T) {
	ctx := context.Background()
	o := records.WriteOptions{Actor: records.ChangedBy{User: "u-hist", Process: "wf-1", Via: "process"}}
	res, err := store.Create(ctx, "lead", map[string]any{"source": "api", "name": "History Follows", "status": "new"}, o)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Record["id"].(string)
	shown, err := store.History(ctx, "lead", id, 0, 10)
	if err != nil || len(shown.Items) != 1 {
		t.Fatalf("history %+v, %v", shown, err)
	}
	if err := store.FlushHistory(ctx); err != nil {
		t.Fatal(err)
	}
	var stored records.RecordHistoryEntry
	if err := db.Collection(records.HistoryCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "lead/" + id + "@1"}}).Decode(&stored); err != nil {
		t.Fatalf("the create's entry was not written: %v", err)
	}
	want := shown.Items[0]
	if stored.Op != records.OpCreate || stored.Actor != want.Actor || len(stored.Changes) != len(want.Changes) || !stored.At.Equal(want.At) {
		t.Fatalf("stored %+v, shown before %+v", stored, want)
	}
	if stored.Actor.Process != "wf-1" || stored.Actor.User != "u-hist" || stored.Actor.Via != "process" {
		t.Fatalf("actor %+v", stored.Actor)
	}
}

// TestEffectsReachTheWriter: what the change hook reports into EffectsOf(ctx) reaches the collector the
// writer put in the context, for a create and a patch; an idempotent replay of a create runs no hook
// and collects nothing, and a write without a collector is not disturbed by the hook's report.
func TestEffectsReachTheWriter(t *testing.T) {
	ctx := context.Background()
	s := records.New(db, records.Options{OnChange: func(ctx context.Context, entity, op string, rec records.Record, _ []string) error {
		records.EffectsOf(ctx).AddStarted(fmt.Sprintf("%s:%s:v%v", op, rec["id"], rec["version"]))
		return nil
	}})
	once := actor
	once.IdempotencyKey = "effects-once"
	lead := map[string]any{"source": "api", "name": "Effects", "status": "new"}
	cctx, created := records.WithEffects(ctx)
	res, err := s.Create(cctx, "lead", lead, once)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Record["id"].(string)
	if got := created.Started(); !slices.Equal(got, []string{"created:" + id + ":v1"}) {
		t.Fatalf("create collected %q", got)
	}
	pctx, patched := records.WithEffects(ctx)
	if _, err := s.Patch(pctx, "lead", id, map[string]any{"status": "contacted"}, actor); err != nil {
		t.Fatal(err)
	}
	if got := patched.Started(); !slices.Equal(got, []string{"updated:" + id + ":v2"}) {
		t.Fatalf("patch collected %q", got)
	}
	rctx, replayed := records.WithEffects(ctx)
	again, err := s.Create(rctx, "lead", lead, once)
	if err != nil || !again.Replayed {
		t.Fatalf("replay: %+v %v", again, err)
	}
	if got := replayed.Started(); len(got) != 0 {
		t.Fatalf("the replay collected %q", got)
	}
	if _, err := s.Patch(ctx, "lead", id, map[string]any{"status": "new"}, actor); err != nil {
		t.Fatalf("a write without a collector: %v", err)
	}
}

// TestInstallUpgradesBuiltinEntities starts a newer Rapport on an install whose lead predates the ERP
// lead source: Install adds the shipped field and option as version 2 by "system", keeps the analyst's
// own field, and a second start saves nothing more.
func TestInstallUpgradesBuiltinEntities(t *testing.T) {
	ctx := context.Background()
	old := db.Client().Database(fmt.Sprint("upgrade", time.Now().UnixNano()))
	if err := records.New(old, records.Options{}).Install(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := records.New(old, records.Options{}).Schema(ctx, "lead")
	if err != nil {
		t.Fatal(err)
	}
	// The lead as an older Rapport installed it, with a field an analyst added since.
	lead := info.Entity
	lead.Fields = slices.DeleteFunc(slices.Clone(lead.Fields), func(f schema.Field) bool { return f.Name == "externalId" })
	for i, f := range lead.Fields {
		if f.Name == "source" {
			lead.Fields[i].Options = slices.DeleteFunc(slices.Clone(f.Options), func(o schema.Option) bool { return o.Value == "erp" })
		}
	}
	lead.Fields = append(lead.Fields, schema.Field{Name: "myNote", Type: schema.TypeString})
	raw, err := json.Marshal(lead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Collection(records.SchemasCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: "lead"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "definition", Value: string(raw)}}}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := records.New(old, records.Options{}).Install(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s := records.New(old, records.Options{})
	got, err := s.Schema(ctx, "lead")
	if err != nil {
		t.Fatal(err)
	}
	source := got.Entity.Field("source")
	if got.Entity.Version != 2 || got.Entity.Field("externalId") == nil || got.Entity.Field("myNote") == nil || source == nil ||
		!slices.ContainsFunc(source.Options, func(o schema.Option) bool { return o.Value == "erp" }) || !got.Builtin {
		t.Fatalf("upgraded lead: version %d, builtin %v, fields %v", got.Entity.Version, got.Builtin, got.Entity.Fields)
	}
	versions, err := s.SchemaVersions(ctx, "lead")
	if err != nil || len(versions) != 2 {
		t.Fatalf("versions %+v, %v", versions, err)
	}
	for _, v := range versions {
		if v.Version == 2 && v.CreatedBy != "system" {
			t.Errorf("version 2 saved by %q", v.CreatedBy)
		}
	}
	// An ERP lead can be stored now.
	if _, err := s.Create(ctx, "lead", map[string]any{"name": "From ERP", "source": "erp", "externalId": "C-1", "email": "erp@x.test"},
		actor); err != nil {
		t.Fatal(err)
	}
}

// insertingFiles is the embedded store's files with Insert replaced: counting the inserts the files
// stored, or failing them with err.
type insertingFiles struct {
	storage.Files
	err    error
	stored atomic.Int32
}

func (f *insertingFiles) Insert(ctx context.Context, database string, docs []storage.InsertDoc) error {
	if f.err != nil {
		return f.err
	}
	err := f.Files.Insert(ctx, database, docs)
	if err == nil {
		f.stored.Add(1)
	}
	return err
}

// TestCreateThroughTheFiles: on the embedded store a create stores the record and its history entry in
// one insert into the files, so the entry is there as soon as the create answers; an insert the files
// leave to FerretDB still stores both (the entry once the background writer ran); a duplicate _id the
// files report is a *DuplicateError that keeps nothing — not even the record's keys.
func TestCreateThroughTheFiles(t *testing.T) {
	ctx := context.Background()
	historyOf := func(id string) (records.RecordHistoryEntry, error) {
		var e records.RecordHistoryEntry
		err := db.Collection(records.HistoryCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "contact/" + id + "@1"}}).Decode(&e)
		return e, err
	}
	email := fmt.Sprintf("files%d@example.test", time.Now().UnixNano())

	viaFiles := &insertingFiles{Files: files}
	s := records.New(db, records.Options{Backend: storage.NewEmbedded(viaFiles)})
	res, err := s.Create(ctx, "contact", map[string]any{"firstName": "Files", "emails": []any{email}}, actor)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Record["id"].(string)
	if viaFiles.stored.Load() != 1 {
		t.Fatalf("the files stored %d inserts, want 1", viaFiles.stored.Load())
	}
	if got, err := s.Get(ctx, "contact", id); err != nil || got["firstName"] != "Files" || got["version"] != int64(1) {
		t.Fatalf("the record read back through FerretDB: %v, %v", got, err)
	}
	if e, err := historyOf(id); err != nil || e.Op != records.OpCreate || e.Version != 1 || len(e.Changes) == 0 {
		t.Fatalf("history entry right after the create: %+v, %v", e, err)
	}
	var dup *records.DuplicateError
	if _, err := s.Create(ctx, "contact", map[string]any{"firstName": "Twin", "emails": []any{email}}, actor); !errors.As(err, &dup) {
		t.Fatalf("a second contact with the email = %v, want a *DuplicateError", err)
	}

	refused := &insertingFiles{Files: files, err: fmt.Errorf("%w: refused by the test", storage.ErrNotPushed)}
	s = records.New(db, records.Options{Backend: storage.NewEmbedded(refused)})
	res, err = s.Create(ctx, "contact", map[string]any{"firstName": "Driver", "emails": []any{"x" + email}}, actor)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FlushHistory(ctx); err != nil {
		t.Fatal(err)
	}
	if e, err := historyOf(res.Record["id"].(string)); err != nil || e.Op != records.OpCreate {
		t.Fatalf("history of a create the files left to FerretDB: %+v, %v", e, err)
	}

	taken := &insertingFiles{Files: files, err: fmt.Errorf("insert: %w", storage.ErrDuplicateKey)}
	s = records.New(db, records.Options{Backend: storage.NewEmbedded(taken)})
	if _, err := s.Create(ctx, "contact", map[string]any{"firstName": "Clash", "emails": []any{"y" + email}}, actor); !errors.As(err, &dup) {
		t.Fatalf("a create whose _id the files found taken = %v, want a *DuplicateError", err)
	}
	if _, err := store.Create(ctx, "contact", map[string]any{"firstName": "Free", "emails": []any{"y" + email}}, actor); err != nil {
		t.Fatalf("the email of a refused create stayed claimed: %v", err)
	}
}

// TestCreateThroughTheFilesBesideFerretDBWriters: creates into the files and FerretDB's own writes (patches
// of other records) running at once on one database file all succeed — each writer waits for SQLite's
// lock — and every create keeps its record and its history entry.
func TestCreateThroughTheFilesBesideFerretDBWriters(t *testing.T) {
	ctx := context.Background()
	viaFiles := &insertingFiles{Files: files}
	s := records.New(db, records.Options{Backend: storage.NewEmbedded(viaFiles)})
	marker := fmt.Sprint("beside", time.Now().UnixNano())
	var patched []string
	for i := range 4 {
		res, err := store.Create(ctx, "task", map[string]any{"title": fmt.Sprintf("%s-patched-%d", marker, i)}, actor)
		if err != nil {
			t.Fatal(err)
		}
		patched = append(patched, res.Record["id"].(string))
	}
	const creators, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, creators*each+len(patched)*each)
	ids := make(chan string, creators*each)
	for c := range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res, err := s.Create(ctx, "task", map[string]any{"title": fmt.Sprintf("%s-%d-%d", marker, c, i)}, actor)
				if err != nil {
					errs <- fmt.Errorf("create: %w", err)
					continue
				}
				ids <- res.Record["id"].(string)
			}
		}()
	}
	for _, id := range patched {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := store.Patch(ctx, "task", id, map[string]any{"title": fmt.Sprintf("%s-p%d", marker, i)}, actor); err != nil {
					errs <- fmt.Errorf("patch: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	if got := viaFiles.stored.Load(); got != creators*each {
		t.Fatalf("the files stored %d creates, want %d", got, creators*each)
	}
	for id := range ids {
		if _, err := s.Get(ctx, "task", id); err != nil {
			t.Errorf("record %s: %v", id, err)
		}
		var e records.RecordHistoryEntry
		if err := db.Collection(records.HistoryCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "task/" + id + "@1"}}).Decode(&e); err != nil {
			t.Errorf("history of %s: %v", id, err)
		}
	}
	for _, id := range patched {
		if got, err := store.Get(ctx, "task", id); err != nil || got["version"] != int64(each+1) {
			t.Errorf("patched record %s: version %v (%v), want %d", id, got["version"], err, each+1)
		}
	}
}
