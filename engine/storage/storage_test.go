package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/storage"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
)

var db *mongo.Database

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rapport-storage-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	f, err := ferret.Start(ctx, ferret.Config{Dir: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Stop()
	client, err := mongo.Connect(options.Client().ApplyURI(f.URI()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = client.Disconnect(ctx) }()
	db = client.Database("storage_test")
	return m.Run()
}

type counter struct {
	N int `bson:"n"`
}

var errFull = errors.New("full")

// TestMutateIsAtomicOnTheEmbeddedStore: many goroutines take a slot of a counter with a limit at once.
// FerretDB applies a filtered $inc as read-modify-write, so without Mutate's guarantee slots are lost or
// handed out twice; with it exactly `limit` callers get a slot and the stored count equals them.
func TestMutateIsAtomicOnTheEmbeddedStore(t *testing.T) {
	const workers, limit = 40, 15
	tests := []struct {
		name    string
		backend storage.Backend
	}{
		{"embedded lock", storage.Embedded},
		{"revision check", storage.MongoDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coll := db.Collection("mutate_" + fmt.Sprint(tt.backend))
			a := storage.NewAtomic(tt.backend)
			var wg sync.WaitGroup
			var mu sync.Mutex
			granted, refused := 0, 0
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := storage.Mutate(context.Background(), a, coll, "slots", func(c counter, _ bool) (counter, storage.Op, error) {
						if c.N >= limit {
							return c, storage.Skip, errFull
						}
						c.N++
						return c, storage.Write, nil
					})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						granted++
					case errors.Is(err, errFull):
						refused++
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			got, err := storage.Mutate(context.Background(), a, coll, "slots", func(c counter, _ bool) (counter, storage.Op, error) {
				return c, storage.Skip, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if granted != limit || refused != workers-limit || got.N != limit {
				t.Fatalf("granted %d, refused %d, stored %d; want %d, %d, %d", granted, refused, got.N, limit, workers-limit, limit)
			}
		})
	}
}

func TestMutateDeletesAndSkips(t *testing.T) {
	ctx := context.Background()
	a := storage.NewAtomic(storage.Embedded)
	coll := db.Collection("mutate_ops")
	write := func(n int, op storage.Op) counter {
		t.Helper()
		got, err := storage.Mutate(ctx, a, coll, "doc", func(counter, bool) (counter, storage.Op, error) { return counter{N: n}, op, nil })
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	steps := []struct {
		name string
		n    int
		op   storage.Op
		want int
	}{
		{"create", 3, storage.Write, 3},
		{"skip keeps the stored value", 9, storage.Skip, 3},
		{"update", 4, storage.Write, 4},
		{"delete", 0, storage.Delete, 0},
		{"recreate after delete", 7, storage.Write, 7},
	}
	for _, st := range steps {
		if got := write(st.n, st.op); got.N != st.want {
			t.Fatalf("%s: got %d, want %d", st.name, got.N, st.want)
		}
	}
	var exists bool
	if _, err := storage.Mutate(ctx, a, coll, "doc", func(c counter, ok bool) (counter, storage.Op, error) {
		exists = ok
		return c, storage.Skip, nil
	}); err != nil || !exists {
		t.Fatalf("document after recreate: exists=%v err=%v", exists, err)
	}
}

func TestCache(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := storage.NewCache[string, int](10*time.Second, 3, func() time.Time { return now })
	steps := []struct {
		name    string
		do      func()
		key     string
		want    int
		present bool
	}{
		{"miss on empty", func() {}, "a", 0, false},
		{"hit after put", func() { c.Put("a", 1) }, "a", 1, true},
		{"hit just before expiry", func() { now = now.Add(9 * time.Second) }, "a", 1, true},
		{"miss at expiry", func() { now = now.Add(time.Second) }, "a", 0, false},
		{"put again", func() { c.Put("a", 2) }, "a", 2, true},
		{"delete", func() { c.Delete("a") }, "a", 0, false},
		{"delete func drops matching values", func() { c.Put("b", 5); c.Put("c", 6); c.DeleteFunc(func(_ string, v int) bool { return v == 5 }) }, "b", 0, false},
		{"delete func keeps others", func() {}, "c", 6, true},
		{"full cache forgets, never grows", func() { c.Put("d", 1); c.Put("e", 1); c.Put("f", 1) }, "f", 1, true},
	}
	for _, st := range steps {
		st.do()
		got, ok := c.Get(st.key)
		if ok != st.present || got != st.want {
			t.Fatalf("%s: Get(%q) = %d, %v; want %d, %v", st.name, st.key, got, ok, st.want, st.present)
		}
	}
	if c.Len() > 3 {
		t.Fatalf("cache holds %d entries, limit 3", c.Len())
	}
}
