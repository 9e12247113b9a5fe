package records_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
)

// db is a database on an embedded FerretDB shared by the package's tests; store is installed on it.
var (
	db    *mongo.Database
	store *records.Store
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rapport-records-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := ferret.Start(ctx, ferret.Config{Dir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer f.Stop()
	c, err := mongo.Connect(options.Client().ApplyURI(f.URI()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Disconnect(context.Background())
	db = c.Database("rapport")
	store = records.New(db, records.Options{})
	if err := store.Install(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	store.Wait()
	return code
}
