package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/records"
)

type mappingOutput struct {
	Body records.ImportMapping
}

type putMappingInput struct {
	Entity string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	Body   records.ImportMapping
}

type importInput struct {
	Entity      string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	DryRun      bool   `query:"dryRun" doc:"Validate every row and report its errors without importing."`
	ContentType string `header:"Content-Type"`
	RawBody     []byte `contentType:"text/csv" doc:"The CSV file (first line: column names), as text/csv or as the 'file' part of multipart/form-data with an optional 'mapping' part (JSON object column → field)."`
}

type importOutput struct {
	Status   int
	Location string `header:"Location"`
	Body     any
}

type jobPath struct {
	Entity string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	Job    string `path:"job" maxLength:"64" doc:"Import job ID."`
}

type jobOutput struct {
	Body records.ImportJob
}

type streamOutput struct {
	Body func(huma.Context)
}

type exportInput struct {
	Entity string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	Format string `query:"format" enum:"csv,jsonl" default:"csv" doc:"csv or jsonl (JSON Lines)."`
	Filter string `query:"filter" maxLength:"4096" doc:"A filter in the query language."`
	Sort   string `query:"sort" doc:"Comma-separated indexed fields, '-' for descending."`
	Fields string `query:"fields" doc:"Comma-separated fields (CSV columns)."`
}

func (s *Server) registerImports() {
	if s.deps.Records == nil {
		return
	}
	tags := []string{"import and export"}
	Register(s, huma.Operation{
		OperationID: "getImportMapping", Method: http.MethodGet, Path: "/api/v1/imports/{entity}/mapping", Tags: tags,
		Summary: "The remembered CSV column mapping",
	}, Access{Permission: permRecordsRead}, func(ctx context.Context, in *entityPath) (*mappingOutput, error) {
		m, err := s.deps.Records.SavedMapping(ctx, in.Entity)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		if m == nil {
			m = records.ImportMapping{}
		}
		return &mappingOutput{Body: m}, nil
	})
	Register(s, huma.Operation{
		OperationID: "putImportMapping", Method: http.MethodPut, Path: "/api/v1/imports/{entity}/mapping", Tags: tags,
		Summary: "Remember a CSV column mapping", Description: "Maps column names to field paths (\"budget.amount\"); \"-\" skips a column.",
	}, Access{Permission: permRecordsWrite}, func(ctx context.Context, in *putMappingInput) (*mappingOutput, error) {
		if _, err := s.deps.Records.Schema(ctx, in.Entity); err != nil {
			return nil, s.recordsError(ctx, err)
		}
		o, _ := s.writeOptions(ctx, "")
		if err := s.deps.Records.SaveMapping(ctx, in.Entity, in.Body, o.Actor.User); err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return &mappingOutput{Body: in.Body}, nil
	})
	Register(s, huma.Operation{
		OperationID: "importRecords", Method: http.MethodPost, Path: "/api/v1/imports/{entity}", Tags: tags,
		Summary: "Import records from CSV",
		Description: "With dryRun=true validates every row and lists each row's errors. Otherwise starts a background job " +
			"(202) whose progress is at the Location. Rows already imported (same content) and duplicates by the entity's " +
			"dedupe keys are skipped, so re-running a file creates no duplicates.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnsupportedMediaType},
	}, Access{Permission: access.ImportsRun}, s.importRecords)
	Register(s, huma.Operation{
		OperationID: "getImportJob", Method: http.MethodGet, Path: "/api/v1/imports/{entity}/{job}", Tags: tags,
		Summary: "An import job's progress", Errors: []int{http.StatusNotFound},
	}, Access{Permission: permRecordsRead}, func(ctx context.Context, in *jobPath) (*jobOutput, error) {
		j, err := s.importJob(ctx, in.Entity, in.Job)
		if err != nil {
			return nil, err
		}
		return &jobOutput{Body: j}, nil
	})
	Register(s, huma.Operation{
		OperationID: "getImportResults", Method: http.MethodGet, Path: "/api/v1/imports/{entity}/{job}/results", Tags: tags,
		Summary: "An import job's row results (CSV)", Errors: []int{http.StatusNotFound},
	}, Access{Permission: permRecordsRead}, func(ctx context.Context, in *jobPath) (*streamOutput, error) {
		if _, err := s.importJob(ctx, in.Entity, in.Job); err != nil {
			return nil, err
		}
		return s.stream("text/csv; charset=utf-8", in.Job+"-results.csv", func(ctx context.Context, w io.Writer) error {
			return s.deps.Records.WriteJobResults(ctx, in.Entity, in.Job, w)
		}), nil
	})
	Register(s, huma.Operation{
		OperationID: "exportRecords", Method: http.MethodGet, Path: "/api/v1/exports/{entity}", Tags: tags,
		Summary: "Export records", Description: "Streams every record matching the filter as CSV or JSON Lines.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound},
	}, Access{Permission: permRecordsExport}, func(ctx context.Context, in *exportInput) (*streamOutput, error) {
		d := s.recordDecision(ctx, in.Entity)
		p := records.ListParams{Filter: in.Filter, Sort: in.Sort, Fields: in.Fields, Access: &d}
		info, err := s.deps.Records.Schema(ctx, in.Entity)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		if _, err := s.deps.Records.CompileExport(ctx, info.Entity, p); err != nil {
			return nil, s.recordsError(ctx, err)
		}
		if in.Format == "jsonl" {
			return s.stream("application/jsonl", in.Entity+".jsonl", func(ctx context.Context, w io.Writer) error {
				return s.deps.Records.WriteJSONLines(ctx, in.Entity, p, w)
			}), nil
		}
		return s.stream("text/csv; charset=utf-8", in.Entity+".csv", func(ctx context.Context, w io.Writer) error {
			return s.deps.Records.WriteCSV(ctx, in.Entity, p, w)
		}), nil
	})
}

// stream answers with a body written while it is sent (fasthttp's stream writer), so an export of any
// size never sits in memory whole. An error mid-way can only be logged: the status is already sent.
func (s *Server) stream(contentType, filename string, write func(context.Context, io.Writer) error) *streamOutput {
	return &streamOutput{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", contentType)
		hctx.SetHeader("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
		requestID := requestIDOf(hctx)
		fc := humafiber.Unwrap(hctx)
		if fc == nil {
			if err := write(hctx.Context(), hctx.BodyWriter()); err != nil {
				s.deps.Logger.Error("export failed", "requestId", requestID, "error", err)
			}
			return
		}
		fc.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			if err := write(ctx, w); err != nil {
				s.deps.Logger.Error("export failed", "requestId", requestID, "error", err)
			}
			_ = w.Flush()
		})
	}}
}

func (s *Server) importRecords(ctx context.Context, in *importInput) (*importOutput, error) {
	if _, err := s.deps.Records.Schema(ctx, in.Entity); err != nil {
		return nil, s.recordsError(ctx, err)
	}
	// Running imports is a permission of its own; the rows are records, so writing them is needed too.
	if p := PrincipalFrom(ctx); p == nil || !s.allows(p, access.RecordPermission(in.Entity, access.ActionWrite)) {
		return nil, NewProblem(http.StatusForbidden, "you lack the permission "+access.RecordPermission(in.Entity, access.ActionWrite))
	}
	data, mapping, err := readUpload(in.ContentType, in.RawBody)
	if err != nil {
		return nil, err
	}
	// Every row is checked as the API's create would check it for this user.
	o, _ := s.writeOptions(ctx, "")
	if in.DryRun {
		rep, err := s.deps.Records.DryRunImport(ctx, in.Entity, data, mapping, o)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return &importOutput{Status: http.StatusOK, Body: rep}, nil
	}
	job, err := s.deps.Records.StartImport(ctx, in.Entity, data, mapping, o)
	if err != nil {
		return nil, s.recordsError(ctx, err)
	}
	return &importOutput{Status: http.StatusAccepted, Location: "/api/v1/imports/" + in.Entity + "/" + job.ID, Body: job}, nil
}

// importJob returns an import job the caller may see: one it started, or any when it runs imports and
// reads every record of the entity. Another user's job is not found (its rows name records and errors).
func (s *Server) importJob(ctx context.Context, entity, id string) (records.ImportJob, error) {
	j, err := s.deps.Records.Job(ctx, entity, id)
	if err != nil {
		return records.ImportJob{}, s.recordsError(ctx, err)
	}
	p := PrincipalFrom(ctx)
	if p == nil {
		return records.ImportJob{}, notFoundJob(id)
	}
	if j.CreatedBy == p.User.ID {
		return j, nil
	}
	if s.allows(p, access.ImportsRun) && s.recordDecision(ctx, entity).Scope(access.ActionRead) == access.ScopeAll {
		return j, nil
	}
	return records.ImportJob{}, notFoundJob(id)
}

func notFoundJob(id string) *Problem {
	return NewProblem(http.StatusNotFound, fmt.Sprintf("import job %q: not found", id))
}

// readUpload takes the CSV from a text/csv body or a multipart form (parts "file" and "mapping").
func readUpload(contentType string, body []byte) ([]byte, records.ImportMapping, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/csv"
	}
	switch mt {
	case "text/csv", "text/plain", "application/csv", "application/octet-stream":
		return body, nil, nil
	case "multipart/form-data":
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		var data []byte
		var mapping records.ImportMapping
		for {
			part, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, nil, Typed(http.StatusBadRequest, "invalid-import", "malformed multipart body: "+err.Error())
			}
			b, err := io.ReadAll(part)
			if err != nil {
				return nil, nil, Typed(http.StatusBadRequest, "invalid-import", "read upload: "+err.Error())
			}
			switch part.FormName() {
			case "file":
				data = b
			case "mapping":
				if err := json.Unmarshal(b, &mapping); err != nil {
					p := Typed(http.StatusBadRequest, "invalid-import", "the mapping part must be a JSON object of column → field")
					p.Errors = []FieldError{{Parameter: "mapping", Message: err.Error()}}
					return nil, nil, p
				}
			}
		}
		if data == nil {
			return nil, nil, Typed(http.StatusBadRequest, "invalid-import", "the form has no 'file' part")
		}
		return data, mapping, nil
	}
	return nil, nil, NewProblem(http.StatusUnsupportedMediaType, "send the CSV as text/csv or multipart/form-data, not "+contentType)
}
