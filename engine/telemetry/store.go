package telemetry

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/event"
)

// StoreMonitor is the MongoDB client's command monitor: it observes every command's latency as the
// driver measured it, on MongoDB and the embedded FerretDB alike. Nil when t is nil.
func (t *Telemetry) StoreMonitor() *event.CommandMonitor {
	if t == nil {
		return nil
	}
	return &event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			t.StoreCommand(e.CommandName, e.Duration, nil)
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			t.StoreCommand(e.CommandName, e.Duration, e.Failure)
		},
	}
}
