package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

func TestUnavailableMapsUnreachableStoreTo503(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int // 0: not an outage
	}{
		{"no server to select", fmt.Errorf("records: insert: %w", topology.ServerSelectionError{Wrapped: context.DeadlineExceeded}), http.StatusServiceUnavailable},
		{"operation timed out", fmt.Errorf("find: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{"client disconnected", mongo.ErrClientDisconnected, http.StatusServiceUnavailable},
		{"joined with another error", errors.Join(errors.New("x"), topology.ServerSelectionError{}), http.StatusServiceUnavailable},
		{"no document", mongo.ErrNoDocuments, 0},
		{"duplicate key is a conflict, not an outage", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000}}}, 0},
		{"a bug", errors.New("nil map"), 0},
		{"nil", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := unavailable(tt.err)
			if tt.want == 0 {
				if p != nil {
					t.Fatalf("unavailable(%v) = %+v, want nil", tt.err, p)
				}
				return
			}
			if p == nil || p.Status != tt.want || p.GetHeaders().Get("Retry-After") == "" || p.Type != problemBase+"store-unavailable" {
				t.Fatalf("unavailable(%v) = %+v", tt.err, p)
			}
		})
	}
	// Huma's own 500 for a handler's plain error becomes the same 503.
	if p := problemFromHuma(http.StatusInternalServerError, "unexpected error", []error{topology.ServerSelectionError{}}); p.Status != http.StatusServiceUnavailable {
		t.Fatalf("problemFromHuma = %+v", p)
	}
}
