// Package ferrettest gives a test package an embedded FerretDB for the length of its run, so store
// tests run on the real embedded database without each package starting it its own way.
package ferrettest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/rapportcrm/rapport/engine/storage/ferret"
)

// Run starts FerretDB in a temporary folder, points *db at its database "rapport", runs the tests
// and stops it; TestMain passes the result to os.Exit.
func Run(m *testing.M, db **mongo.Database) int {
	d, _, stop, err := Start("rapport")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	*db = d
	return m.Run()
}

// Start starts FerretDB in a temporary folder and returns the database name of it, the server (for
// tests that stop and restart it) and the function that disconnects, stops the server and removes the
// folder. For a TestMain that prepares stores before m.Run; the others use Run.
func Start(name string) (*mongo.Database, *ferret.Server, func(), error) {
	dir, err := os.MkdirTemp("", "rapport-ferrettest-")
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := ferret.Start(ctx, ferret.Config{Dir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, nil, fmt.Errorf("start the embedded FerretDB: %w", err)
	}
	c, err := mongo.Connect(options.Client().ApplyURI(f.URI()))
	if err != nil {
		f.Stop()
		os.RemoveAll(dir)
		return nil, nil, nil, fmt.Errorf("connect to the embedded FerretDB: %w", err)
	}
	stop := func() {
		c.Disconnect(context.Background())
		f.Stop()
		os.RemoveAll(dir)
	}
	return c.Database(name), f, stop, nil
}
