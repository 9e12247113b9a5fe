package records_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/storage/ferret"
	"github.com/rapportcrm/rapport/engine/storage/ferret/ferrettest"
)

// db is a database on an embedded FerretDB shared by the package's tests; store is installed on it;
// files is the FerretDB server, whose files a store can list from (storage.NewEmbedded).
var (
	db    *mongo.Database
	store *records.Store
	files *ferret.Server
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var stop func()
	var err error
	if db, files, stop, err = ferrettest.Start("rapport"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store = records.New(db, records.Options{})
	if err := store.Install(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	store.Wait()
	return code
}
