package api

import (
	"errors"
	"net/http"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// storeRetryAfter is the Retry-After of a 503 while the store is unreachable, in seconds.
const storeRetryAfter = "5"

// unavailable answers errors that mean the store cannot be reached right now (no server to select, a
// broken connection, a timeout) with 503 and a Retry-After, instead of a 500 that would read as a bug:
// the client may try again, and /readyz says what is down. Any other error gives nil.
func unavailable(err error) *Problem {
	if err == nil || !storeUnreachable(err) {
		return nil
	}
	return Typed(http.StatusServiceUnavailable, "store-unavailable",
		"the data store cannot be reached right now; try again shortly (GET /readyz tells what is down)").
		WithHeader("Retry-After", storeRetryAfter)
}

func storeUnreachable(err error) bool {
	var sel topology.ServerSelectionError
	return errors.As(err, &sel) || mongo.IsNetworkError(err) || mongo.IsTimeout(err) ||
		errors.Is(err, mongo.ErrClientDisconnected)
}
