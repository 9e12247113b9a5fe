package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/bpmn"
	"github.com/rapportcrm/rapport/engine/definitions"
	"github.com/rapportcrm/rapport/engine/expression"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
	"github.com/rapportcrm/rapport/engine/simulate"
)

// SimulationResult is a dry run of a process: the elements it would enter, the flows it would take,
// its variables at the end and how it ended.
type SimulationResult = simulate.Result

type simulateInput struct {
	Body struct {
		XML       string                    `json:"xml" minLength:"1" maxLength:"4194304" doc:"The BPMN document to run (usually the designer's unsaved draft)."`
		Variables map[string]any            `json:"variables,omitempty" doc:"Start variables, checked against the declared ones."`
		Entity    string                    `json:"entity,omitempty" maxLength:"64" doc:"The entity of recordId when the process has no record trigger."`
		RecordID  string                    `json:"recordId,omitempty" maxLength:"255" doc:"A record to run against: the record trigger's record (as record)."`
		Responses map[string]map[string]any `json:"responses,omitempty" doc:"Answers by element ID: a service task's or child's result, a user task's form, a message's variables; for an event-based gateway {\"take\": \"<event ID>\"}."`
		Now       *time.Time                `json:"now,omitempty" doc:"The time expressions see (default: now)."`
	}
}

func (s *Server) registerSimulate() {
	Register(s, huma.Operation{OperationID: "simulate-process", Method: http.MethodPost, Path: "/api/v1/processes/simulate", Tags: []string{"processes"},
		Summary:      "Dry-run a process on a record",
		MaxBodyBytes: definitions.MaxXMLSize + 1<<20,
		Description: "Walks the document from its start without starting anything: conditions, scripts and mappings are evaluated, rule sets are " +
			"evaluated on what the process would give them, and every task that would reach the outside world (service tasks, people, " +
			"messages, timers, child processes) is answered by the given responses or by its declared result shape. Nothing is written, " +
			"called or sent. The record is read with the caller's access (hidden fields removed); a record or rule set the caller may not " +
			"read is refused.",
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity}},
		Access{Permission: access.ProcessesDeploy}, s.simulateProcess)
}

func (s *Server) simulateProcess(ctx context.Context, in *simulateInput) (*struct{ Body *SimulationResult }, error) {
	checked, err := s.deps.Processes.Check([]byte(in.Body.XML))
	if err != nil {
		return nil, processProblem(err)
	}
	// A document with several executable pools runs its first, as the designer shows it.
	model := checked.Models[0]
	now := time.Now().UTC()
	if in.Body.Now != nil {
		now = in.Body.Now.UTC()
	}
	opts := simulate.Options{Now: now, Variables: in.Body.Variables, Responses: in.Body.Responses,
		Rules: benchRules{s: s, now: now}}
	if in.Body.RecordID != "" {
		entity := in.Body.Entity
		for _, i := range model.Starts(bpmn.KindStartRecord) {
			entity = model.Nodes[i].Trigger.Entity
		}
		if entity == "" {
			p := Typed(http.StatusUnprocessableEntity, "validation", "name the entity of the record: the process has no record trigger")
			p.Errors = []FieldError{{Pointer: "/entity", Message: "required with recordId"}}
			return nil, p
		}
		rec, err := s.benchRecord(ctx, entity, in.Body.RecordID)
		if err != nil {
			return nil, err
		}
		opts.Record = rec
	}
	if s.deps.Rulesets != nil {
		if opts.Calendars, err = s.benchCalendars(ctx); err != nil {
			return nil, err
		}
	}
	res, err := simulate.Run(ctx, model, opts)
	switch {
	case errors.Is(err, simulate.ErrNoStart):
		return nil, Typed(http.StatusUnprocessableEntity, "validation", err.Error())
	case err != nil:
		p := Typed(http.StatusUnprocessableEntity, "validation", err.Error())
		p.Errors = []FieldError{{Pointer: "/variables", Message: err.Error()}}
		return nil, p
	}
	if rec := opts.Record; rec != nil {
		// The record as the caller may see it went in; nothing else of it can come out.
		res.Variables["record"] = rec
	}
	return &struct{ Body *SimulationResult }{Body: res}, nil
}

// benchRecord reads a record the caller may read, with hidden fields removed (404 otherwise, as the
// records API answers).
func (s *Server) benchRecord(ctx context.Context, entity, id string) (map[string]any, error) {
	p := PrincipalFrom(ctx)
	perm := access.RecordPermission(entity, access.ActionRead)
	if s.deps.Records == nil {
		return nil, NewProblem(http.StatusServiceUnavailable, "records are not available in this server")
	}
	if p == nil || !s.allows(p, perm) {
		return nil, NewProblem(http.StatusForbidden, "the dry run reads a "+entity+": you lack the permission "+perm)
	}
	rec, err := s.deps.Records.Get(ctx, entity, id)
	if err != nil {
		return nil, s.recordsError(ctx, err)
	}
	d := s.recordDecision(ctx, entity)
	if !d.InScope(access.ActionRead, rec) {
		return nil, notFound(entity, id)
	}
	return d.Strip(rec), nil
}

func (s *Server) benchCalendars(ctx context.Context) (map[string]expression.Calendar, error) {
	infos, err := s.deps.Rulesets.Calendars(ctx)
	if err != nil {
		return nil, fmt.Errorf("list business calendars: %w", err)
	}
	out := make(map[string]expression.Calendar, len(infos))
	for _, c := range infos {
		if cal, err := calendar.New(c.Spec); err == nil {
			out[c.Spec.Name] = cal
		}
	}
	return out, nil
}

// benchRules evaluates published rule sets for a dry run with the caller's rights: a rule set given only
// a recordId reads that record as the caller may.
type benchRules struct {
	s   *Server
	now time.Time
}

func (b benchRules) Evaluate(ctx context.Context, key, version string, input map[string]any) (map[string]any, error) {
	if b.s.deps.Rulesets == nil {
		return nil, errors.New("rule sets are not available in this server")
	}
	if p := PrincipalFrom(ctx); p == nil || !b.s.allows(p, access.RulesetsEvaluate) {
		return nil, errors.New("evaluating rule sets needs the permission " + access.RulesetsEvaluate)
	}
	n := 0
	if version != "" && version != "latest" {
		v, err := strconv.Atoi(version)
		if err != nil {
			return nil, fmt.Errorf("version %q is not a number", version)
		}
		n = v
	}
	compiled, _, err := b.s.deps.Rulesets.Published(ctx, key, n)
	if err != nil {
		return nil, err
	}
	record := input
	if id, ok := input["recordId"].(string); ok && len(input) == 1 {
		v, err := b.s.deps.Rulesets.GetVersion(ctx, key, n)
		if err != nil {
			return nil, err
		}
		if record, err = b.s.benchRecord(ctx, v.RuleSet.Entity, id); err != nil {
			var p *Problem
			if errors.As(err, &p) {
				return nil, errors.New(p.Detail)
			}
			return nil, err
		}
	}
	out, err := compiled.Evaluate(record, b.now)
	if err != nil {
		return nil, err
	}
	return out.Result(), nil
}
