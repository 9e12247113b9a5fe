package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/records"
)

type mergeRecordInput struct {
	Entity  string `path:"entity" pattern:"^[a-zA-Z][a-zA-Z0-9_]{0,63}$" doc:"Entity name, e.g. contact."`
	ID      string `path:"id" maxLength:"128" doc:"The record that stays (the survivor)."`
	IfMatch string `header:"If-Match" doc:"The survivor's version last read; a stale version fails with 412 and nothing is written."`
	Body    struct {
		DuplicateID string         `json:"duplicateId" minLength:"1" maxLength:"128" doc:"The record merged into the survivor and then deleted."`
		Fields      map[string]any `json:"fields,omitempty" doc:"Values the survivor takes whatever the two records hold, by field."`
	}
}

type mergeRecordOutput struct {
	ETag string `header:"ETag"`
	Body records.MergeResult
}

// registerMerge adds the merge of duplicate records.
func (s *Server) registerMerge() {
	if s.deps.Records == nil {
		return
	}
	Register(s, huma.Operation{
		OperationID: "mergeRecord", Method: http.MethodPost, Path: "/api/v1/records/{entity}/{id}/merge", Tags: []string{"records"},
		Summary: "Merge a duplicate into a record",
		Description: "The record of the path stays; the duplicate's values fill its empty fields (fields wins; a list dedupe key such as " +
			"emails takes the duplicate's values after its own), every reference to the duplicate in any entity moves to it, and the " +
			"duplicate is deleted (restorable from the trash; processes of a deleted record end). Both histories record the merge " +
			"(mergedInto, mergedFrom). Needs write on this record and delete on the duplicate, both in the caller's scope.",
		Errors: []int{http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, Access{Permission: permRecordsWrite}, func(ctx context.Context, in *mergeRecordInput) (*mergeRecordOutput, error) {
		if perm := access.RecordPermission(in.Entity, access.ActionDelete); !s.allows(PrincipalFrom(ctx), perm) {
			return nil, NewProblem(http.StatusForbidden, "you lack the permission "+perm+" to delete the duplicate")
		}
		o, err := s.writeOptions(ctx, in.IfMatch)
		if err != nil {
			return nil, err
		}
		res, err := s.deps.Records.Merge(ctx, records.MergeRequest{Entity: in.Entity, SurvivorID: in.ID, DuplicateID: in.Body.DuplicateID,
			Fields: in.Body.Fields}, o)
		if err != nil {
			return nil, s.mergeError(ctx, err)
		}
		res.Record = s.recordDecision(ctx, in.Entity).Strip(res.Record)
		out := &mergeRecordOutput{Body: res}
		if v, ok := res.Record["version"].(int64); ok {
			out.ETag = etag(v)
		}
		return out, nil
	})
}

// mergeError answers a merge refused for its duplicateId with a problem naming it.
func (s *Server) mergeError(ctx context.Context, err error) error {
	var me *records.MergeError
	if !errors.As(err, &me) {
		return s.recordsError(ctx, err)
	}
	var other *records.OtherEntityError
	var p *Problem
	switch {
	case errors.Is(me.Err, records.ErrNotFound):
		p = NewProblem(http.StatusNotFound, me.Err.Error())
	case errors.As(me.Err, &other):
		p = Typed(http.StatusUnprocessableEntity, "merge-other-entity", me.Err.Error())
	default:
		p = Typed(http.StatusUnprocessableEntity, "merge-self", me.Err.Error())
	}
	p.Errors = []FieldError{{Pointer: "/" + me.Field, Message: me.Err.Error()}}
	return p
}
