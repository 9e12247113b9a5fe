package records

import (
	"reflect"
	"testing"

	"github.com/rapportcrm/rapport/engine/schema"
)

// TestSplitTrusted: only sums Rapport computed are written as trusted; a value the merging user chose is
// always theirs, checked like any write of theirs.
func TestSplitTrusted(t *testing.T) {
	e := schema.Entity{Name: "contact", Fields: []schema.Field{
		{Name: "position", Type: schema.TypeString},
		{Name: "complaints", Type: schema.TypeInteger, Merge: schema.MergeSum},
		{Name: "orders", Type: schema.TypeInteger, ReadOnly: true, Merge: schema.MergeSum},
		{Name: "segment", Type: schema.TypeString, ReadOnly: true},
	}}
	tests := []struct {
		name          string
		fill          map[string]any
		explicit      map[string]any
		user, trusted map[string]any
	}{
		{"a read-only sum is trusted, the rest the user's",
			map[string]any{"position": "CTO", "complaints": int64(3), "orders": int64(7)}, nil,
			map[string]any{"position": "CTO", "complaints": int64(3)}, map[string]any{"orders": int64(7)}},
		{"a read-only sum the user chose is the user's",
			map[string]any{"orders": int64(1000)}, map[string]any{"orders": int64(1000)},
			map[string]any{"orders": int64(1000)}, map[string]any{}},
		{"a read-only field that is no sum is the user's",
			map[string]any{"segment": "vip"}, map[string]any{"segment": "vip"},
			map[string]any{"segment": "vip"}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, trusted := splitTrusted(e, tt.fill, tt.explicit)
			if !reflect.DeepEqual(user, tt.user) || !reflect.DeepEqual(trusted, tt.trusted) {
				t.Errorf("splitTrusted = %v, %v; want %v, %v", user, trusted, tt.user, tt.trusted)
			}
		})
	}
}
