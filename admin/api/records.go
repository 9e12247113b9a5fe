package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/records"
)

// Record permissions name the entity: records.lead.read, records.lead.write, records.lead.delete.
const (
	permRecordsRead   = "records.{entity}.read"
	permRecordsWrite  = "records.{entity}.write"
	permRecordsDelete = "records.{entity}.delete"
	permRecordsExport = "records.{entity}.export"
)

type recordPath struct {
	Entity string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	ID     string `path:"id" maxLength:"128" doc:"Record ID."`
}

type recordOutput struct {
	Status   int
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Replayed string `header:"Idempotent-Replayed"`
	// Link names the process instances the write started (record triggers), one link each.
	Link []string `header:"Link" doc:"One </api/v1/instances/{id}>; rel=\"https://rapport.dev/rels/started-instance\" per process instance the write started."`
	Body records.Record
}

// RelStartedInstance is the link relation naming, on a record write's response, a process instance the
// write started.
const RelStartedInstance = "https://rapport.dev/rels/started-instance"

// startedLinks are the Link header values naming the instances a write started.
func startedLinks(fx *records.Effects) []string {
	var out []string
	for _, id := range fx.Started() {
		out = append(out, "</api/v1/instances/"+url.PathEscape(id)+">; rel=\""+RelStartedInstance+"\"")
	}
	return out
}

type createRecordInput struct {
	Entity         string         `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	IdempotencyKey string         `header:"Idempotency-Key" maxLength:"255" doc:"Repeat a create safely: the same key returns the first result instead of a second record."`
	Body           map[string]any `doc:"The record's fields."`
}

type patchRecordInput struct {
	Entity  string         `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	ID      string         `path:"id" maxLength:"128" doc:"Record ID."`
	IfMatch string         `header:"If-Match" doc:"The version last read (its ETag); a stale version fails with 412 and nothing is written."`
	Body    map[string]any `contentType:"application/merge-patch+json" doc:"An RFC 7396 JSON merge patch: null removes a field. application/json is accepted too."`
}

type deleteRecordInput struct {
	Entity  string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	ID      string `path:"id" maxLength:"128" doc:"Record ID."`
	IfMatch string `header:"If-Match" doc:"The version last read; a stale version fails with 412."`
}

type listRecordsInput struct {
	Entity  string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	Filter  string `query:"filter" maxLength:"4096" doc:"A filter in the query language, e.g. status == \"new\" and score >= 50."`
	Sort    string `query:"sort" doc:"Comma-separated indexed fields, '-' for descending, e.g. -createdAt."`
	Fields  string `query:"fields" doc:"Comma-separated fields to return (id and version always come)."`
	Cursor  string `query:"cursor" doc:"The 'next' cursor of the previous page."`
	Limit   int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"RecordPage size."`
	Count   bool   `query:"count" doc:"Also return the total number of matching records."`
	Deleted bool   `query:"deleted" doc:"List soft-deleted records (restorable within the retention period) instead of live ones."`
}

type listRecordsOutput struct {
	Body records.RecordPage
}

type historyInput struct {
	Entity string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	ID     string `path:"id" maxLength:"128" doc:"Record ID."`
	Before int64  `query:"before" minimum:"0" doc:"Return only changes older than this version (the 'next' of the previous page)."`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type historyOutput struct {
	Body records.RecordHistoryPage
}

type timelineInput struct {
	Entity string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. lead."`
	ID     string `path:"id" maxLength:"128" doc:"Record ID."`
	Fields string `query:"fields" doc:"Comma-separated interaction fields to return."`
	Cursor string `query:"cursor" doc:"The 'next' cursor of the previous page."`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

func (s *Server) registerRecords() {
	if s.deps.Records == nil {
		return
	}
	tags := []string{"records"}
	Register(s, huma.Operation{
		OperationID: "createRecord", Method: http.MethodPost, Path: "/api/v1/records/{entity}", Tags: tags,
		Summary: "Create a record", DefaultStatus: http.StatusCreated,
		Description: "Validates and stores a record. Every invalid field is reported at once (422, with JSON pointers) and " +
			"nothing is written; a record matching an existing one on a dedupe key is refused with 409 naming it. " +
			"The Link header names each process instance the create started (rel " + RelStartedInstance + "); the start itself is " +
			"delivered right after the answer, so the instance may take a moment to appear. An idempotent replay names none.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, Access{Permission: permRecordsWrite}, s.createRecord)
	Register(s, huma.Operation{
		OperationID: "listRecords", Method: http.MethodGet, Path: "/api/v1/records/{entity}", Tags: tags,
		Summary: "List records", Description: "Filters, sorts (on indexed fields), projects and pages with an opaque cursor. " +
			"A malformed filter is answered with 400 naming the position.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound},
	}, Access{Permission: permRecordsRead}, func(ctx context.Context, in *listRecordsInput) (*listRecordsOutput, error) {
		d := s.recordDecision(ctx, in.Entity)
		page, err := s.deps.Records.List(ctx, in.Entity, records.ListParams{Filter: in.Filter, Sort: in.Sort, Fields: in.Fields,
			Cursor: in.Cursor, Limit: in.Limit, Count: in.Count, Deleted: in.Deleted, Access: &d})
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return &listRecordsOutput{Body: page}, nil
	})
	Register(s, huma.Operation{
		OperationID: "getRecord", Method: http.MethodGet, Path: "/api/v1/records/{entity}/{id}", Tags: tags,
		Summary: "Get a record", Errors: []int{http.StatusNotFound},
	}, Access{Permission: permRecordsRead}, func(ctx context.Context, in *recordPath) (*recordOutput, error) {
		r, err := s.deps.Records.Get(ctx, in.Entity, in.ID)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		d := s.recordDecision(ctx, in.Entity)
		if !d.InScope(access.ActionRead, r) {
			return nil, notFound(in.Entity, in.ID)
		}
		return recordOut(http.StatusOK, d.Strip(r)), nil
	})
	Register(s, huma.Operation{
		OperationID: "patchRecord", Method: http.MethodPatch, Path: "/api/v1/records/{entity}/{id}", Tags: tags,
		Summary: "Change a record",
		Description: "Applies a JSON merge patch (application/merge-patch+json or application/json). With If-Match, a stale version fails with 412 and nothing is written. " +
			"The Link header names each process instance the change started (rel " + RelStartedInstance + "), as for a create.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity},
	}, Access{Permission: permRecordsWrite}, s.patchRecord)
	Register(s, huma.Operation{
		OperationID: "deleteRecord", Method: http.MethodDelete, Path: "/api/v1/records/{entity}/{id}", Tags: tags,
		Summary:     "Delete a record",
		Description: "Soft-deletes the record: it leaves lists and reads, keeps its history, and can be restored within the retention period.",
		Errors:      []int{http.StatusNotFound, http.StatusPreconditionFailed},
	}, Access{Permission: permRecordsDelete}, func(ctx context.Context, in *deleteRecordInput) (*recordOutput, error) {
		o, err := s.writeOptions(ctx, in.IfMatch)
		if err != nil {
			return nil, err
		}
		d := s.recordDecision(ctx, in.Entity)
		r, err := s.deps.Records.Delete(ctx, in.Entity, in.ID, o)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return recordOut(http.StatusOK, d.Strip(r)), nil
	})
	Register(s, huma.Operation{
		OperationID: "restoreRecord", Method: http.MethodPost, Path: "/api/v1/records/{entity}/{id}/restore", Tags: tags,
		Summary: "Restore a deleted record", Description: "Brings back a record deleted less than the retention period ago (410 after it).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusGone},
	}, Access{Permission: permRecordsDelete}, func(ctx context.Context, in *recordPath) (*recordOutput, error) {
		o, err := s.writeOptions(ctx, "")
		if err != nil {
			return nil, err
		}
		d := s.recordDecision(ctx, in.Entity)
		r, err := s.deps.Records.Restore(ctx, in.Entity, in.ID, o)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return recordOut(http.StatusOK, d.Strip(r)), nil
	})
	Register(s, huma.Operation{
		OperationID: "recordHistory", Method: http.MethodGet, Path: "/api/v1/records/{entity}/{id}/history", Tags: tags,
		Summary: "A record's history", Description: "Every change newest first: who, when, through what, and each field before and after.",
		Errors: []int{http.StatusNotFound},
	}, Access{Permission: permRecordsRead}, func(ctx context.Context, in *historyInput) (*historyOutput, error) {
		rec, err := s.deps.Records.Lookup(ctx, in.Entity, in.ID)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		d := s.recordDecision(ctx, in.Entity)
		if !d.InScope(access.ActionRead, rec) {
			return nil, notFound(in.Entity, in.ID)
		}
		page, err := s.deps.Records.History(ctx, in.Entity, in.ID, in.Before, in.Limit)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		for i := range page.Items {
			page.Items[i].Changes = visibleChanges(d, page.Items[i].Changes)
		}
		return &historyOutput{Body: page}, nil
	})
	Register(s, huma.Operation{
		OperationID: "recordTimeline", Method: http.MethodGet, Path: "/api/v1/records/{entity}/{id}/timeline", Tags: tags,
		Summary: "Interactions of a record", Description: "The interactions linked to a contact, company, lead, deal or complaint as one timeline, newest first.",
		Errors: []int{http.StatusNotFound},
	}, Access{Permission: permRecordsRead}, func(ctx context.Context, in *timelineInput) (*listRecordsOutput, error) {
		rec, err := s.deps.Records.Get(ctx, in.Entity, in.ID)
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		if !s.recordDecision(ctx, in.Entity).InScope(access.ActionRead, rec) {
			return nil, notFound(in.Entity, in.ID)
		}
		inter := s.recordDecision(ctx, records.TimelineEntity)
		page, err := s.deps.Records.Timeline(ctx, in.Entity, in.ID, records.ListParams{Fields: in.Fields, Cursor: in.Cursor, Limit: in.Limit,
			Access: &inter})
		if err != nil {
			return nil, s.recordsError(ctx, err)
		}
		return &listRecordsOutput{Body: page}, nil
	})
}

// notFound answers a record outside the caller's scope like a missing one, so its existence is not
// revealed.
func notFound(entity, id string) *Problem {
	return NewProblem(http.StatusNotFound, fmt.Sprintf("%s %q: not found", entity, id))
}

// visibleChanges strips a history entry's field changes for the reader: a hidden field's change goes
// whole, a visible field keeps its before and after values without their hidden parts (at any depth),
// and a change left with nothing visible to show is dropped, so not even the fact of it leaks.
func visibleChanges(d access.Decision, changes []records.FieldChange) []records.FieldChange {
	out := changes[:0]
	for _, c := range changes {
		if d.Hidden(c.Field) {
			continue
		}
		before := d.Strip(map[string]any{c.Field: c.Before})[c.Field]
		after := d.Strip(map[string]any{c.Field: c.After})[c.Field]
		if reflect.DeepEqual(before, after) {
			continue
		}
		c.Before, c.After = before, after
		out = append(out, c)
	}
	return out
}

func recordOut(status int, r records.Record) *recordOutput {
	out := &recordOutput{Status: status, Body: r}
	if v, ok := r["version"].(int64); ok {
		out.ETag = etag(v)
	}
	return out
}

// writeOptions describes the caller for history and access (its decision on every entity the write
// touches: the record's, referenced ones, duplicates) and parses If-Match.
func (s *Server) writeOptions(ctx context.Context, ifMatch string) (records.WriteOptions, error) {
	o := records.WriteOptions{Actor: records.ChangedBy{Via: "api"}, Access: func(entity string) access.Decision {
		return s.recordDecision(ctx, entity)
	}}
	if p := PrincipalFrom(ctx); p != nil {
		o.Actor.User = p.User.ID
	}
	if ifMatch != "" {
		v, err := parseETag(ifMatch)
		if err != nil {
			return o, err
		}
		o.IfMatch = v
	}
	return o, nil
}

func (s *Server) createRecord(ctx context.Context, in *createRecordInput) (*recordOutput, error) {
	rec := in.Body
	d := s.recordDecision(ctx, in.Entity)
	o, err := s.writeOptions(ctx, "")
	if err != nil {
		return nil, err
	}
	o.IdempotencyKey = in.IdempotencyKey
	ctx, fx := records.WithEffects(ctx)
	res, err := s.deps.Records.Create(ctx, in.Entity, rec, o)
	if err != nil {
		return nil, s.recordsError(ctx, err)
	}
	out := recordOut(http.StatusCreated, d.Strip(res.Record))
	out.Link = startedLinks(fx)
	out.Location = fmt.Sprintf("/api/v1/records/%s/%v", in.Entity, res.Record["id"])
	if res.Replayed {
		out.Replayed = "true"
	}
	return out, nil
}

func (s *Server) patchRecord(ctx context.Context, in *patchRecordInput) (*recordOutput, error) {
	patch := in.Body
	d := s.recordDecision(ctx, in.Entity)
	o, err := s.writeOptions(ctx, in.IfMatch)
	if err != nil {
		return nil, err
	}
	ctx, fx := records.WithEffects(ctx)
	r, err := s.deps.Records.Patch(ctx, in.Entity, in.ID, patch, o)
	if err != nil {
		return nil, s.recordsError(ctx, err)
	}
	out := recordOut(http.StatusOK, d.Strip(r))
	out.Link = startedLinks(fx)
	return out, nil
}
