package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/schema"
)

// Permissions of the schema operations.
const (
	PermSchemasRead  = "schemas.read"
	PermSchemasWrite = "schemas.write"
)

type schemaListOutput struct {
	Body []SchemaView
}

type entityPath struct {
	Entity string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
}

type schemaOutput struct {
	ETag string `header:"ETag"`
	Body SchemaView
}

type schemaVersionsOutput struct {
	Body []records.SchemaVersion
}

type jsonSchemaOutput struct {
	ContentType string `header:"Content-Type"`
	Body        []byte
}

type saveSchemaInput struct {
	DryRun  bool           `query:"dryRun" doc:"Check the change and report how many records would violate it, without saving."`
	IfMatch string         `header:"If-Match" doc:"The version the editor started from; a newer stored version fails with 412."`
	Body    map[string]any `doc:"The entity definition (see GET /api/v1/schemas/{entity}); unknown keys are refused."`
}

type updateSchemaInput struct {
	Entity  string         `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	DryRun  bool           `query:"dryRun" doc:"Check the change and report how many records would violate it, without saving."`
	IfMatch string         `header:"If-Match" doc:"The version the editor started from; a newer stored version fails with 412."`
	Body    map[string]any `doc:"The entity definition; unknown keys are refused."`
}

type saveSchemaOutput struct {
	Status int
	ETag   string `header:"ETag"`
	Body   records.SchemaSaveResult
}

func (s *Server) registerSchemas() {
	if s.deps.Records == nil {
		return
	}
	Register(s, huma.Operation{
		OperationID: "listSchemas", Method: http.MethodGet, Path: "/api/v1/schemas", Tags: []string{"schemas"},
		Summary: "List entity schemas", Description: "Every entity's current definition, sorted by name, with the caller's field access; fields hidden from a caller who does not design schemas are left out.",
	}, Access{Permission: PermSchemasRead}, func(ctx context.Context, _ *struct{}) (*schemaListOutput, error) {
		list, err := s.deps.Records.ListSchemas(ctx)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		views := make([]SchemaView, 0, len(list))
		for _, info := range list {
			views = append(views, s.schemaView(ctx, info))
		}
		return &schemaListOutput{Body: views}, nil
	})
	Register(s, huma.Operation{
		OperationID: "getSchema", Method: http.MethodGet, Path: "/api/v1/schemas/{entity}", Tags: []string{"schemas"},
		Summary: "Get an entity schema", Errors: []int{http.StatusNotFound},
	}, Access{Permission: PermSchemasRead}, func(ctx context.Context, in *entityPath) (*schemaOutput, error) {
		info, err := s.deps.Records.Schema(ctx, in.Entity)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return &schemaOutput{ETag: etag(int64(info.Entity.Version)), Body: s.schemaView(ctx, info)}, nil
	})
	Register(s, huma.Operation{
		OperationID: "listSchemaVersions", Method: http.MethodGet, Path: "/api/v1/schemas/{entity}/versions", Tags: []string{"schemas"},
		Summary: "List an entity's schema versions", Description: "Every saved version, newest first, with who saved it, when, and what changed.",
		Errors: []int{http.StatusNotFound},
	}, Access{Permission: PermSchemasRead}, func(ctx context.Context, in *entityPath) (*schemaVersionsOutput, error) {
		vs, err := s.deps.Records.SchemaVersions(ctx, in.Entity)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return &schemaVersionsOutput{Body: vs}, nil
	})
	Register(s, huma.Operation{
		OperationID: "getJSONSchema", Method: http.MethodGet, Path: "/api/v1/schemas/{entity}/jsonschema", Tags: []string{"schemas"},
		Summary: "An entity's JSON Schema", Description: "The JSON Schema (2020-12) of the entity's records, the one the API validates with.",
		Errors: []int{http.StatusNotFound},
	}, Access{Permission: PermSchemasRead}, func(ctx context.Context, in *entityPath) (*jsonSchemaOutput, error) {
		info, err := s.deps.Records.Schema(ctx, in.Entity)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		b, err := schema.JSONSchemaBytes(s.schemaView(ctx, info).Entity)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return &jsonSchemaOutput{ContentType: "application/schema+json", Body: b}, nil
	})
	Register(s, huma.Operation{
		OperationID: "createSchema", Method: http.MethodPost, Path: "/api/v1/schemas", Tags: []string{"schemas"},
		Summary:     "Create an entity",
		Description: "Saves a new entity definition as version 1. Every problem of the definition is reported at once (422).",
		Errors:      []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, Access{Permission: PermSchemasWrite}, func(ctx context.Context, in *saveSchemaInput) (*saveSchemaOutput, error) {
		return s.saveSchema(ctx, "", in)
	})
	Register(s, huma.Operation{
		OperationID: "updateSchema", Method: http.MethodPut, Path: "/api/v1/schemas/{entity}", Tags: []string{"schemas"},
		Summary: "Change an entity",
		Description: "Saves a changed definition as the next version. A change existing records would violate is refused (409) " +
			"with an explanation; with dryRun=true nothing is saved and the answer reports the changes, how many records " +
			"would violate them and examples.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, Access{Permission: PermSchemasWrite}, func(ctx context.Context, in *updateSchemaInput) (*saveSchemaOutput, error) {
		if _, err := s.deps.Records.Schema(ctx, in.Entity); err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return s.saveSchema(ctx, in.Entity, &saveSchemaInput{DryRun: in.DryRun, IfMatch: in.IfMatch, Body: in.Body})
	})
}

func (s *Server) saveSchema(ctx context.Context, name string, in *saveSchemaInput) (*saveSchemaOutput, error) {
	raw, err := json.Marshal(in.Body)
	if err != nil {
		return nil, NewProblem(http.StatusBadRequest, "the definition must be a JSON object")
	}
	e, err := schema.Parse(raw)
	if err != nil {
		return nil, Typed(http.StatusUnprocessableEntity, "invalid-definition", err.Error())
	}
	if name != "" {
		if e.Name == "" {
			e.Name = name
		}
		if e.Name != name {
			p := Typed(http.StatusUnprocessableEntity, "invalid-definition", "the definition's name differs from the entity in the path")
			p.Errors = []FieldError{{Pointer: "/name", Message: fmt.Sprintf("must be %q", name)}}
			return nil, p
		}
	}
	expect := 0
	if name == "" {
		expect = records.NewEntity
	}
	if in.IfMatch != "" {
		v, err := parseETag(in.IfMatch)
		if err != nil {
			return nil, err
		}
		expect = int(v)
	}
	by := ""
	if p := PrincipalFrom(ctx); p != nil {
		by = p.User.ID
	}
	res, err := s.deps.Records.SaveSchema(ctx, e, by, expect, in.DryRun)
	if err != nil {
		if errors.Is(err, records.ErrSchemaConflict) && expect > 0 {
			return nil, NewProblem(http.StatusPreconditionFailed, err.Error())
		}
		return nil, s.recordsError(ctx, err)
	}
	if res.Saved {
		s.record(ctx, audit.Event{Action: "schema.save", Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "schema", ID: res.Entity.Name}, After: res.Entity,
			Details: map[string]any{"version": res.Entity.Version, "created": res.Created, "changes": res.Changes}})
	}
	status := http.StatusOK
	if res.Created && res.Saved {
		status = http.StatusCreated
	}
	return &saveSchemaOutput{Status: status, ETag: etag(int64(res.Entity.Version)), Body: res}, nil
}

// etag renders a version as a strong entity tag.
func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// parseETag reads a version from an If-Match value: "3", W/"3" or 3.
func parseETag(h string) (int64, error) {
	t := strings.TrimSpace(h)
	t = strings.TrimPrefix(t, "W/")
	t = strings.Trim(t, `"`)
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 {
		p := NewProblem(http.StatusBadRequest, "If-Match must be a version as returned in ETag, e.g. \"3\"")
		p.Errors = []FieldError{{Parameter: "If-Match", Message: "is not a version"}}
		return 0, p
	}
	return v, nil
}

// recordsError maps the store's errors to problems; anything unknown is a 500 logged with the request ID.
func (s *Server) recordsError(ctx context.Context, err error) error {
	var (
		verr  *records.ValidationError
		dup   *records.DuplicateError
		derr  *schema.DefinitionError
		brk   *records.BreakingError
		perr  *records.ParamError
		ierr  *records.ImportFormatError
		ferr  *access.FieldError
		probl *Problem
	)
	switch {
	case errors.As(err, &probl):
		return probl
	case errors.As(err, &verr):
		p := NewProblem(http.StatusUnprocessableEntity, fmt.Sprintf("the record has %d invalid field(s); nothing was written", len(verr.Problems)))
		for _, fe := range verr.Problems {
			p.Errors = append(p.Errors, FieldError{Pointer: fe.Pointer, Message: fe.Message})
		}
		return p
	case errors.As(err, &dup):
		p := Typed(http.StatusConflict, "duplicate", dup.Error())
		msg := "matches another record"
		if dup.ExistingID != "" {
			msg = "matches the existing record " + dup.ExistingID
		}
		if !strings.Contains(dup.Field, " ") {
			p.Errors = []FieldError{{Pointer: "/" + dup.Field, Message: msg}}
		}
		return p
	case errors.As(err, &ferr):
		p := Typed(http.StatusForbidden, "field-forbidden", fmt.Sprintf("you may not write %s of %s records", strings.Join(ferr.Fields, ", "), ferr.Entity))
		for _, f := range ferr.Fields {
			p.Errors = append(p.Errors, FieldError{Pointer: "/" + strings.ReplaceAll(f, ".", "/"), Message: "may not be written by you"})
		}
		return p
	case errors.As(err, &derr):
		p := Typed(http.StatusUnprocessableEntity, "invalid-definition", fmt.Sprintf("the definition of %q has %d problem(s)", derr.Entity, len(derr.Problems)))
		for _, fe := range derr.Problems {
			p.Errors = append(p.Errors, FieldError{Pointer: fe.Pointer, Message: fe.Message})
		}
		return p
	case errors.As(err, &brk):
		p := Typed(http.StatusConflict, "breaking-change", brk.Error())
		for _, c := range brk.Changes {
			p.Errors = append(p.Errors, FieldError{Pointer: "/" + strings.ReplaceAll(c.Field, ".", "/"), Message: c.Message})
		}
		for _, ex := range brk.DryRun.Examples {
			for _, fe := range ex.Errors {
				p.Errors = append(p.Errors, FieldError{Pointer: fe.Pointer, Message: fmt.Sprintf("record %v: %s", ex.ID, fe.Message)})
			}
		}
		return p
	case errors.As(err, &perr):
		p := Typed(http.StatusBadRequest, "invalid-"+perr.Param, perr.Error())
		p.Errors = []FieldError{{Parameter: perr.Param, Message: perr.Err.Error()}}
		return p
	case errors.As(err, &ierr):
		p := Typed(http.StatusBadRequest, "invalid-import", ierr.Error())
		return p
	case errors.Is(err, records.ErrNotFound):
		return NewProblem(http.StatusNotFound, err.Error())
	case errors.Is(err, records.ErrVersionMismatch):
		return NewProblem(http.StatusPreconditionFailed, err.Error()+"; nothing was written")
	case errors.Is(err, records.ErrIdempotencyReuse):
		return Typed(http.StatusUnprocessableEntity, "idempotency-key-reused", err.Error())
	case errors.Is(err, records.ErrInProgress):
		return Typed(http.StatusConflict, "idempotency-in-progress", err.Error()).WithHeader("Retry-After", "1")
	case errors.Is(err, records.ErrRetentionOver):
		return Typed(http.StatusGone, "retention-over", err.Error())
	case errors.Is(err, records.ErrNotDeleted):
		return Typed(http.StatusConflict, "not-deleted", err.Error())
	case errors.Is(err, records.ErrSchemaExists):
		return Typed(http.StatusConflict, "entity-exists", err.Error())
	case errors.Is(err, records.ErrSchemaConflict):
		return Typed(http.StatusConflict, "schema-conflict", err.Error())
	case errors.Is(err, context.Canceled):
		return NewProblem(http.StatusServiceUnavailable, "the request was cancelled")
	}
	s.deps.Logger.Error("records request failed", "requestId", ClientFrom(ctx).RequestID, "error", err)
	return NewProblem(http.StatusInternalServerError, "internal error; quote the request ID when reporting it")
}
