package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// TestPanicBecomesProblem checks that a handler panic is answered with a 500 problem carrying the
// request ID, and the server keeps serving.
func TestPanicBecomesProblem(t *testing.T) {
	s := New(Deps{})
	Register(s, huma.Operation{OperationID: "boom", Method: http.MethodGet, Path: "/test/boom"}, Access{Public: true},
		func(context.Context, *struct{}) (*struct{}, error) { panic("boom") })
	for range 2 {
		resp, err := s.App().Test(httptest.NewRequest(http.MethodGet, "/test/boom", nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		var p Problem
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || p.Status != 500 || p.RequestID == "" ||
			resp.Header.Get("Content-Type") != ProblemContentType {
			t.Fatalf("panic answered %d %+v (content type %s)", resp.StatusCode, p, resp.Header.Get("Content-Type"))
		}
	}
}

func TestRegisterRefusesRouteWithoutAccess(t *testing.T) {
	s := New(Deps{})
	defer func() {
		if recover() == nil {
			t.Fatal("Register accepted an operation with neither a permission nor Public")
		}
	}()
	Register(s, huma.Operation{OperationID: "open", Method: http.MethodGet, Path: "/test/open"}, Access{},
		func(context.Context, *struct{}) (*struct{}, error) { return nil, nil })
}
