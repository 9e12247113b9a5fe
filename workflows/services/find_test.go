package services

import (
	"testing"
	"time"
)

func TestBindParams(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	params := map[string]any{"cutoff": "2026-01-01T00:00:00Z", "name": `x" or name != "`, "n": 3.0, "at": at,
		"tags": []any{"a", "b"}, "none": nil, "yes": true, "obj": map[string]any{"a": 1}}
	tests := []struct {
		filter, want string
		wantErr      bool
	}{
		{`updatedAt <= $cutoff`, `updatedAt <= "2026-01-01T00:00:00Z"`, false},
		{`name == $name`, `name == "x\" or name != \""`, false},
		{`score > $n and owner == $none`, `score > 3 and owner == nil`, false},
		{`createdAt >= $at`, `createdAt >= "2026-03-01T09:30:00Z"`, false},
		{`tag in $tags && vip == $yes`, `tag in ["a", "b"] && vip == true`, false},
		{`name == "$name" and note == '$n'`, `name == "$name" and note == '$n'`, false},
		{`name == "a\"$name"`, `name == "a\"$name"`, false},
		{`name == $missing`, "", true},
		{`name == $`, "", true},
		{`x == $obj`, "", true},
		{``, ``, false},
	}
	for _, tt := range tests {
		got, err := bindParams(tt.filter, params)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("bindParams(%q) = %q, %v; want %q (error %v)", tt.filter, got, err, tt.want, tt.wantErr)
		}
	}
}
