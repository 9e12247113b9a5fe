package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/inbox"
	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
	"github.com/rapportcrm/rapport/engine/storage/ferret/ferrettest"
)

var (
	db *mongo.Database
	// srv is the embedded store, for IndexIDs after a benchmark fills it.
	srv *ferret.Server
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var stop func()
	var err error
	if db, srv, stop, err = ferrettest.Start("inbox"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

// forms gives every task the same one-field form.
type forms struct{}

func (forms) Form(_ context.Context, key string, _ int, element string) (inbox.Form, error) {
	return inbox.Form{FormKey: key + "/" + element, Fields: []bpmn.FormField{{Name: "ok", Type: "bool", Required: true}}}, nil
}

func newStore(t testing.TB, name string) *inbox.Store {
	t.Helper()
	names := func(_ context.Context, entity, id string) (string, string, error) {
		if id == "gone" {
			return "", "", errors.New("no such record")
		}
		return "Name of " + entity + " " + id, "name", nil
	}
	return inbox.New(db.Client().Database("inbox_"+name), inbox.Options{Backend: storage.NewBackend(true), Names: names, Forms: forms{}})
}

var (
	day0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ann  = inbox.Viewer{IDs: []string{"u-ann", "ann@example.com"}, Groups: []string{"sales", "manager"}}
	bob  = inbox.Viewer{IDs: []string{"u-bob", "bob@example.com"}, Groups: []string{"support"}}
)

func ids(p inbox.Page) []string {
	out := []string{}
	for _, it := range p.Items {
		out = append(out, it.ID)
	}
	return out
}

func read(t *testing.T, s *inbox.Store, v inbox.Viewer, q inbox.Query) inbox.Page {
	t.Helper()
	q.Now = day0
	p, err := s.Read(context.Background(), v, q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func apply(t *testing.T, s *inbox.Store, snap inbox.Snapshot) {
	t.Helper()
	if err := s.Apply(context.Background(), snap); err != nil {
		t.Fatal(err)
	}
}

func TestInboxViewsFiltersAndCounts(t *testing.T) {
	s := newStore(t, "views")
	apply(t, s, inbox.Snapshot{Instance: "lead:1", ProcessKey: "lead", Version: 2, Entity: "lead", RecordID: "L1", Seq: 1, Tasks: []inbox.Task{
		{ID: "Call.3", Element: "Call", Assignee: "u-ann", DueDate: day0.Add(-time.Hour), Priority: 80, Created: day0.Add(-48 * time.Hour)},
		{ID: "Review.4", Element: "Review", CandidateGroups: []string{"sales"}, DueDate: day0.Add(time.Hour), Priority: 50, Created: day0},
	}})
	apply(t, s, inbox.Snapshot{Instance: "complaint:7", ProcessKey: "complaint", Version: 1, Seq: 3, Tasks: []inbox.Task{
		{ID: "Answer.2", Element: "Answer", CandidateUsers: []string{"ann@example.com", "u-bob"}, Priority: 90, Created: day0},
		{ID: "Fix.5", Element: "Fix", Assignee: "u-bob", CandidateGroups: []string{"sales"}, Priority: 10, Created: day0},
	}})
	tests := []struct {
		name string
		who  inbox.Viewer
		q    inbox.Query
		want []string
	}{
		{"all by priority", ann, inbox.Query{}, []string{"complaint:7~Answer.2", "lead:1~Call.3", "lead:1~Review.4"}},
		{"mine", ann, inbox.Query{View: inbox.ViewMine}, []string{"lead:1~Call.3"}},
		{"claimable", ann, inbox.Query{View: inbox.ViewClaimable}, []string{"complaint:7~Answer.2", "lead:1~Review.4"}},
		{"one group", ann, inbox.Query{Group: "sales"}, []string{"lead:1~Review.4"}},
		{"one process", ann, inbox.Query{ProcessKey: "lead"}, []string{"lead:1~Call.3", "lead:1~Review.4"}},
		{"due before", ann, inbox.Query{DueBefore: day0}, []string{"lead:1~Call.3"}},
		{"a record", ann, inbox.Query{Entity: "lead", RecordID: "L1"}, []string{"lead:1~Call.3", "lead:1~Review.4"}},
		{"by due date, none last", ann, inbox.Query{Sort: inbox.SortDue}, []string{"lead:1~Call.3", "lead:1~Review.4", "complaint:7~Answer.2"}},
		{"newest first", ann, inbox.Query{Sort: inbox.SortNewest}, []string{"complaint:7~Answer.2", "lead:1~Review.4", "lead:1~Call.3"}},
		{"someone else's assigned task is not offered", bob, inbox.Query{}, []string{"complaint:7~Answer.2", "complaint:7~Fix.5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(read(t, s, tt.who, tt.q)); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	p := read(t, s, ann, inbox.Query{ProcessKey: "lead"})
	if want := (inbox.Counts{Total: 2, Mine: 1, Claimable: 2, Overdue: 1}); p.Counts != want {
		t.Fatalf("counts %+v, want %+v", p.Counts, want)
	}
	first := p.Items[0]
	if first.RecordName != "Name of lead L1" || first.FormKey != "lead/Call" || len(first.Fields) != 1 || first.Version != 2 {
		t.Fatalf("item %+v", first)
	}
}

func TestInboxPaging(t *testing.T) {
	s := newStore(t, "paging")
	var tasks []inbox.Task
	for i := range 25 {
		tasks = append(tasks, inbox.Task{ID: fmt.Sprintf("T.%02d", i), Element: "T", Assignee: "u-ann", Priority: i % 3, Created: day0.Add(time.Duration(i) * time.Minute)})
	}
	apply(t, s, inbox.Snapshot{Instance: "many:1", ProcessKey: "many", Seq: 1, Tasks: tasks})
	for _, sort := range inbox.Sorts() {
		t.Run(sort, func(t *testing.T) {
			whole := ids(read(t, s, ann, inbox.Query{Sort: sort, Limit: 100}))
			var paged []string
			q := inbox.Query{Sort: sort, Limit: 10}
			for pages := 0; ; pages++ {
				p := read(t, s, ann, q)
				paged = append(paged, ids(p)...)
				if p.Next == "" {
					break
				}
				if pages > 5 {
					t.Fatal("paging does not end")
				}
				q.Cursor = p.Next
			}
			if len(whole) != 25 || !slices.Equal(paged, whole) {
				t.Fatalf("pages %v\nwhole %v", paged, whole)
			}
		})
	}
	bad := []struct {
		q     inbox.Query
		param string
	}{
		{inbox.Query{Sort: "name"}, "sort"},
		{inbox.Query{View: "everything"}, "view"},
		{inbox.Query{Group: "support"}, "group"},
		{inbox.Query{Cursor: "nonsense"}, "cursor"},
		{inbox.Query{Sort: inbox.SortDue, Cursor: read(t, s, ann, inbox.Query{Limit: 1}).Next}, "cursor"},
	}
	for _, b := range bad {
		_, err := s.Read(context.Background(), ann, b.q)
		var pe *inbox.ParamError
		if !errors.As(err, &pe) || pe.Param != b.param {
			t.Errorf("%+v: error %v, want one about %s", b.q, err, b.param)
		}
	}
}

// TestInboxSnapshotsReplace shows the order of snapshots deciding, whatever order they arrive in: a
// newer snapshot replaces the instance's tasks, an older one changes nothing, an ended instance
// leaves no task, and a late older write after the end does not bring it back.
func TestInboxSnapshotsReplace(t *testing.T) {
	s := newStore(t, "seq")
	ctx := context.Background()
	snap := func(seq int64, ended bool, tasks ...inbox.Task) inbox.Snapshot {
		return inbox.Snapshot{Instance: "p:1", ProcessKey: "p", Seq: seq, Ended: ended, Tasks: tasks}
	}
	group := inbox.Task{ID: "A.1", Element: "A", CandidateGroups: []string{"sales"}}
	claimed := inbox.Task{ID: "A.1", Element: "A", Assignee: "u-bob", CandidateGroups: []string{"sales"}}
	steps := []struct {
		name    string
		snap    inbox.Snapshot
		annSees []string
		bobSees []string
	}{
		{"created for a group", snap(1, false, group), []string{"p:1~A.1"}, []string{"p:1~A.1"}},
		{"claimed by bob", snap(2, false, claimed), []string{}, []string{"p:1~A.1"}},
		{"a retried older write changes nothing", snap(1, false, group), []string{}, []string{"p:1~A.1"}},
		{"completed: the instance ended", snap(3, true), []string{}, []string{}},
		{"a late write of before the end is ignored", snap(2, false, claimed), []string{}, []string{}},
	}
	for _, st := range steps {
		if err := s.Apply(ctx, st.snap); err != nil {
			t.Fatal(err)
		}
		bobToo := inbox.Viewer{IDs: bob.IDs, Groups: []string{"sales"}}
		if got := ids(read(t, s, ann, inbox.Query{})); !slices.Equal(got, st.annSees) {
			t.Fatalf("%s: ann sees %v, want %v", st.name, got, st.annSees)
		}
		if got := ids(read(t, s, bobToo, inbox.Query{})); !slices.Equal(got, st.bobSees) {
			t.Fatalf("%s: bob sees %v, want %v", st.name, got, st.bobSees)
		}
	}
	if seq, _ := s.Seq(ctx, "p:1"); seq != 0 {
		t.Fatalf("an ended instance keeps seq %d", seq)
	}
	// A crowd: more candidate users than get buckets of their own.
	var crowd []string
	for i := range inbox.MaxCandidateUsers + 1 {
		crowd = append(crowd, fmt.Sprintf("u-%d", i))
	}
	crowd = append(crowd, "u-ann")
	apply(t, s, inbox.Snapshot{Instance: "p:2", ProcessKey: "p", Seq: 1, Tasks: []inbox.Task{{ID: "B.1", Element: "B", CandidateUsers: crowd}}})
	if got := ids(read(t, s, ann, inbox.Query{})); !slices.Equal(got, []string{"p:2~B.1"}) {
		t.Fatalf("crowd task: ann sees %v", got)
	}
	if got := ids(read(t, s, bob, inbox.Query{})); len(got) != 0 {
		t.Fatalf("crowd task offered to bob: %v", got)
	}
	if err := s.Remove(ctx, "p:2"); err != nil {
		t.Fatal(err)
	}
	if got := ids(read(t, s, ann, inbox.Query{})); len(got) != 0 {
		t.Fatalf("after Remove ann sees %v", got)
	}
	if left, err := s.Instances(ctx); err != nil || len(left) != 0 {
		t.Fatalf("instances left %v %v", left, err)
	}
}

// TestInboxLargeBucketSplits: a group's bucket grown past MaxBucketItems is split into documents of its
// own, and reads, changes, late snapshots and removals work on it as on a small one.
func TestInboxLargeBucketSplits(t *testing.T) {
	s := newStore(t, "split")
	ctx := context.Background()
	task := func(id string, prio int) inbox.Task {
		return inbox.Task{ID: id, Element: "A", CandidateGroups: []string{"sales"}, Priority: prio, Created: day0}
	}
	const instances = 3 * inbox.MaxBucketItems / 2 // two tasks each: three buckets' worth
	for i := range instances {
		apply(t, s, inbox.Snapshot{Instance: fmt.Sprintf("big:%d", i), ProcessKey: "p", Seq: 1, Tasks: []inbox.Task{task("A.1", 1), task("A.2", 1)}})
	}
	claimable := func() inbox.Page {
		return read(t, s, ann, inbox.Query{View: inbox.ViewClaimable, Sort: inbox.SortPriority, Limit: inbox.MaxLimit})
	}
	if got := claimable().Counts.Claimable; got != 2*instances {
		t.Fatalf("ann may claim %d tasks, want %d", got, 2*instances)
	}
	nodes, err := db.Client().Database("inbox_split").Collection(inbox.BucketsCollection).CountDocuments(ctx, map[string]any{})
	if err != nil || nodes < 3 {
		t.Fatalf("the bucket of %d tasks is %d documents (%v), want it split", 2*instances, nodes, err)
	}
	steps := []struct {
		name  string
		snap  inbox.Snapshot
		count int
		top   string // the first task by priority
	}{
		{"a change reaches its leaf", inbox.Snapshot{Instance: "big:7", ProcessKey: "p", Seq: 2, Tasks: []inbox.Task{task("A.1", 90)}}, 2*instances - 1, "big:7~A.1"},
		{"a late older snapshot changes nothing", inbox.Snapshot{Instance: "big:7", ProcessKey: "p", Seq: 1, Tasks: []inbox.Task{task("A.1", 95), task("A.2", 95)}}, 2*instances - 1, "big:7~A.1"},
		{"a new instance lands in a leaf", inbox.Snapshot{Instance: "new:1", ProcessKey: "p", Seq: 1, Tasks: []inbox.Task{task("B.1", 99)}}, 2 * instances, "new:1~B.1"},
		{"an ended instance leaves", inbox.Snapshot{Instance: "new:1", ProcessKey: "p", Seq: 2, Ended: true}, 2*instances - 1, "big:7~A.1"},
	}
	for _, st := range steps {
		apply(t, s, st.snap)
		p := claimable()
		if p.Counts.Claimable != st.count || len(p.Items) == 0 || p.Items[0].ID != st.top {
			t.Fatalf("%s: %d claimable, first %v; want %d, first %s", st.name, p.Counts.Claimable, ids(p)[:min(1, len(p.Items))], st.count, st.top)
		}
	}
	for i := range instances {
		if err := s.Remove(ctx, fmt.Sprintf("big:%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if p := claimable(); p.Counts.Claimable != 0 {
		t.Fatalf("after removing every instance ann may claim %d", p.Counts.Claimable)
	}
}

// TestInboxBusyQueueSplits: a queue whose tasks come and go is split too, though it never holds many
// tasks at once: it remembers every instance that left for an hour, and a write must not rewrite them all.
func TestInboxBusyQueueSplits(t *testing.T) {
	s := newStore(t, "busy")
	ctx := context.Background()
	for i := range inbox.MaxBucketItems + 10 {
		id := fmt.Sprintf("busy:%d", i)
		apply(t, s, inbox.Snapshot{Instance: id, ProcessKey: "p", Seq: 1, Tasks: []inbox.Task{{ID: "A.1", Element: "A", CandidateGroups: []string{"sales"}}}})
		apply(t, s, inbox.Snapshot{Instance: id, ProcessKey: "p", Seq: 2, Ended: true})
	}
	nodes, err := db.Client().Database("inbox_busy").Collection(inbox.BucketsCollection).CountDocuments(ctx, map[string]any{})
	if err != nil || nodes < 3 {
		t.Fatalf("the bucket that saw %d instances is %d documents (%v), want it split", inbox.MaxBucketItems+10, nodes, err)
	}
	// The split kept what each part remembers: a late write of a finished instance brings nothing back.
	apply(t, s, inbox.Snapshot{Instance: "busy:3", ProcessKey: "p", Seq: 1, Tasks: []inbox.Task{{ID: "A.1", Element: "A", CandidateGroups: []string{"sales"}}}})
	if p := read(t, s, ann, inbox.Query{}); p.Counts.Total != 0 {
		t.Fatalf("after a late write of a finished instance ann sees %v", ids(p))
	}
}
