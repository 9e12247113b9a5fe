package analytics

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Backend names the server behind a database, because the two compute differently: MongoDB runs
// aggregation pipelines with every accumulator, the embedded FerretDB v1 has only $sum and $count, scans
// every collection in Go and holds a $group's documents in memory, so there a streaming Go fold is both
// possible and cheaper.
type Backend string

// The backends Rapport runs on.
const (
	BackendMongoDB  Backend = "mongodb"
	BackendFerretDB Backend = "ferretdb"
)

// DetectBackend asks the server once which it is: FerretDB answers buildInfo with a ferretdbVersion.
func DetectBackend(ctx context.Context, db *mongo.Database) (Backend, error) {
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return "", fmt.Errorf("detect the database backend: %w", err)
	}
	if _, ok := info["ferretdbVersion"]; ok {
		return BackendFerretDB, nil
	}
	return BackendMongoDB, nil
}
