package storage_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/storage"
)

type counter struct {
	N int `bson:"n"`
}

var errFull = errors.New("full")

// TestMutateIsAtomicOnTheEmbeddedStore: many goroutines take a slot of a counter with a limit at once.
// FerretDB applies a filtered update as read-modify-write, so without Mutate's guarantee slots are lost
// or handed out twice (seen: 40 granted of 15 with neither lock nor revision, 23 with the revision alone);
// with it exactly `limit` callers get a slot and the stored count equals them. On MongoDB the revision
// filter is atomic by itself; that cannot run here (FerretDB is not), so the MongoDB form is checked for
// its results only, in TestMutateDeletesAndSkips.
func TestMutateIsAtomicOnTheEmbeddedStore(t *testing.T) {
	const workers, limit = 40, 15
	for name, a := range map[string]*storage.Backend{"embedded": storage.NewBackend(true)} {
		t.Run(name, func(t *testing.T) {
			coll := db.Collection("mutate_" + name)
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
	for name, a := range backends() {
		t.Run(name, func(t *testing.T) { mutateOps(t, a, db.Collection("mutate_ops_"+name)) })
	}
}

func mutateOps(t *testing.T, a *storage.Backend, coll *mongo.Collection) {
	ctx := context.Background()
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
