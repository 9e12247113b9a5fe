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
	dir, err := os.MkdirTemp("", "rapport-ferrettest-")
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
	*db = c.Database("rapport")
	return m.Run()
}
