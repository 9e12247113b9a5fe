package api

import (
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

func TestFieldErrorFromHuma(t *testing.T) {
	tests := []struct {
		name string
		in   huma.ErrorDetail
		want FieldError
	}{
		{"body property", huma.ErrorDetail{Location: "body.email", Message: "expected length >= 3"}, FieldError{Pointer: "/email", Message: "expected length >= 3"}},
		{"nested array item", huma.ErrorDetail{Location: "body.items[3].tags", Message: "bad"}, FieldError{Pointer: "/items/3/tags", Message: "bad"}},
		{"missing property at root", huma.ErrorDetail{Location: "body", Message: "expected required property password to be present"}, FieldError{Pointer: "/password", Message: "is required"}},
		{"missing nested property", huma.ErrorDetail{Location: "body.address", Message: "expected required property city to be present"}, FieldError{Pointer: "/address/city", Message: "is required"}},
		{"escaped pointer", huma.ErrorDetail{Location: "body.a/b", Message: "x"}, FieldError{Pointer: "/a~1b", Message: "x"}},
		{"query parameter", huma.ErrorDetail{Location: "query.limit", Message: "expected number <= 200"}, FieldError{Parameter: "limit", Message: "expected number <= 200"}},
		{"path parameter", huma.ErrorDetail{Location: "path.id", Message: "too long"}, FieldError{Parameter: "id", Message: "too long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fieldErrorFromHuma(&tt.in); got != tt.want {
				t.Errorf("fieldErrorFromHuma(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNewProblemTypes(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{401, problemBase + "unauthenticated"},
		{413, problemBase + "body-too-large"},
		{422, problemBase + "validation"},
		{418, problemBase + "http-418"},
	}
	for _, tt := range tests {
		p := NewProblem(tt.status, "x")
		if p.Type != tt.want || p.Status != tt.status || p.Title == "" && tt.status != 418 {
			t.Errorf("NewProblem(%d) = %+v, want type %s", tt.status, p, tt.want)
		}
	}
}

func TestExpandPermission(t *testing.T) {
	params := map[string]string{"entity": "lead", "id": "42"}
	tests := []struct{ in, want string }{
		{"schemas.write", "schemas.write"},
		{"records.{entity}.read", "records.lead.read"},
		{"x.{entity}.{id}", "x.lead.42"},
		{"broken.{entity", "broken.{entity"},
	}
	for _, tt := range tests {
		if got := expandPermission(tt.in, func(n string) string { return params[n] }); got != tt.want {
			t.Errorf("expandPermission(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
