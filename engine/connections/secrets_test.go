package connections

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestKeepSecrets(t *testing.T) {
	stored := json.RawMessage(`{"url":"http://erp-a:8000","database":"prod","username":"sync","password":"s3cret","company":1}`)
	paths := []string{"/password"}
	tests := []struct {
		name    string
		updated string
		want    string
		changed []string
	}{
		{"unchanged keeps the password", `{"url":"http://erp-a:8000","database":"prod","username":"sync","password":"********","company":1}`, "s3cret", nil},
		{"a new password is taken as sent", `{"url":"http://erp-b:8000","database":"prod","username":"sync","password":"n3w","company":1}`, "n3w", nil},
		{"a new url with the placeholder is refused", `{"url":"http://evil:8000","database":"prod","username":"sync","password":"********","company":1}`, "", []string{"/url"}},
		{"a new database is refused", `{"url":"http://erp-a:8000","database":"other","username":"sync","password":"********","company":1}`, "", []string{"/database"}},
		{"a dropped field is a change", `{"url":"http://erp-a:8000","database":"prod","username":"sync","password":"********"}`, "", []string{"/company"}},
		{"an added field is a change", `{"url":"http://erp-a:8000","database":"prod","username":"sync","password":"********","company":1,"proxy":"x"}`, "", []string{"/proxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := KeepSecrets(json.RawMessage(tt.updated), stored, paths)
			var rb *RebindError
			if tt.changed != nil {
				if !errors.As(err, &rb) || !slices.Equal(rb.Changed, tt.changed) || !slices.Equal(rb.Secrets, paths) {
					t.Fatalf("err = %v, want a rebind of %v", err, tt.changed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil || got["password"] != tt.want {
				t.Fatalf("password = %v (%v), want %q", got["password"], err, tt.want)
			}
		})
	}
}
