package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/schema"
	"github.com/rapportcrm/rapport/workflows/process"
)

// Instance reads (the card with its variables, tasks and history, and anything added later that shows an
// instance) go through readableInstance and redactSnapshot: an instance started from or bound to a record
// is visible only to whoever may read that record, or operates the process; every record value inside its
// variables loses the fields hidden from the caller. An instance the caller may not see answers 404, the
// same as one that does not exist, so predictable instance IDs reveal nothing.

// instanceBinding is what an instance is about, from its search attributes.
type instanceBinding struct {
	ProcessKey string
	Entity     string
	RecordID   string
}

// readableInstance returns the instance's binding, or a 404 problem when there is no such instance or
// the caller may not see it.
func (s *Server) readableInstance(ctx context.Context, id string) (instanceBinding, error) {
	notFound := NewProblem(http.StatusNotFound, "no instance "+id)
	resp, err := s.deps.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return instanceBinding{}, notFound
		}
		return instanceBinding{}, fmt.Errorf("describe instance %s: %w", id, err)
	}
	b := bindingOf(resp)
	if b.ProcessKey == "" {
		// Not a process instance (an internal workflow such as an ERP sync): not shown here.
		return instanceBinding{}, notFound
	}
	if b.Entity == "" || b.RecordID == "" || s.operatesProcess(ctx, b.ProcessKey) {
		return b, nil
	}
	d := s.recordDecision(ctx, b.Entity)
	if !d.Can(access.ActionRead) || s.deps.Records == nil {
		return instanceBinding{}, notFound
	}
	rec, err := s.deps.Records.Lookup(ctx, b.Entity, b.RecordID)
	if errors.Is(err, records.ErrNotFound) {
		// The record is gone for good: without it nothing says who may see the instance.
		return instanceBinding{}, notFound
	}
	if err != nil {
		return instanceBinding{}, fmt.Errorf("record of instance %s: %w", id, err)
	}
	if !d.InScope(access.ActionRead, rec) {
		return instanceBinding{}, notFound
	}
	return b, nil
}

// operatesProcess reports whether the caller operates instances of the process, which shows them
// whatever records they are bound to.
func (s *Server) operatesProcess(ctx context.Context, _ string) bool {
	p := PrincipalFrom(ctx)
	return p != nil && s.allows(p, access.InstancesOperate)
}

func bindingOf(resp *workflowservice.DescribeWorkflowExecutionResponse) instanceBinding {
	fields := resp.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	str := func(name string) string {
		var v string
		if p := fields[name]; p != nil {
			_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
		}
		return v
	}
	return instanceBinding{ProcessKey: str("RapportProcessKey"), Entity: str("RapportEntity"), RecordID: str("RapportRecordID")}
}

// redactSnapshot strips hidden fields from every record value the snapshot holds: the bound record with
// the caller's decision on its entity (all of it but its id when the caller may not read that entity),
// and any other record-shaped value (an object with id, version and createdAt, as record tasks return
// them) with the fields hidden from the caller on any entity, since its entity is not written down.
func (s *Server) redactSnapshot(ctx context.Context, b instanceBinding, snap *process.Snapshot) error {
	hidden, err := s.hiddenAnywhere(ctx)
	if err != nil {
		return err
	}
	strip := func(v any) any { return stripRecords(v, hidden) }
	if rec, ok := snap.Variables["record"].(map[string]any); ok && b.Entity != "" {
		d := s.recordDecision(ctx, b.Entity)
		if d.Can(access.ActionRead) {
			snap.Variables["record"] = d.Strip(rec)
		} else {
			snap.Variables["record"] = map[string]any{schema.SysID: rec[schema.SysID]}
		}
	}
	for k, v := range snap.Variables {
		snap.Variables[k] = strip(v)
	}
	for i := range snap.Messages {
		for k, v := range snap.Messages[i].Variables {
			snap.Messages[i].Variables[k] = strip(v)
		}
	}
	for _, t := range snap.Tokens {
		if t != nil && t.Loop != nil {
			for i := range t.Loop.Items {
				t.Loop.Items[i] = strip(t.Loop.Items[i])
			}
			for i := range t.Loop.Results {
				t.Loop.Results[i] = strip(t.Loop.Results[i])
			}
		}
	}
	return nil
}

// hiddenAnywhere is every field hidden from the caller on some entity.
func (s *Server) hiddenAnywhere(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	if s.deps.Records == nil {
		return out, nil
	}
	infos, err := s.deps.Records.ListSchemas(ctx)
	if err != nil {
		return nil, fmt.Errorf("list entities: %w", err)
	}
	for _, e := range append([]string{access.AllEntities}, entityNames(infos)...) {
		for _, f := range s.recordDecision(ctx, e).HiddenFields() {
			out[f] = true
		}
	}
	return out, nil
}

func entityNames(infos []records.SchemaInfo) []string {
	out := make([]string, 0, len(infos))
	for _, i := range infos {
		out = append(out, i.Entity.Name)
	}
	return out
}

// stripRecords walks a variable value and removes hidden fields (dotted paths into nested objects too)
// from every record-shaped object in it.
func stripRecords(v any, hidden map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		if isRecordShaped(x) {
			access.StripPaths(x, hidden)
		}
		for k, child := range x {
			x[k] = stripRecords(child, hidden)
		}
		return x
	case []any:
		for i := range x {
			x[i] = stripRecords(x[i], hidden)
		}
		return x
	}
	return v
}

func isRecordShaped(m map[string]any) bool {
	_, id := m[schema.SysID].(string)
	_, version := m[schema.SysVersion]
	_, created := m[schema.SysCreatedAt]
	return id && version && created
}
