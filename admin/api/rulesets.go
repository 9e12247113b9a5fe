package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/audit"
	"github.com/rapportcrm/rapport/engine/records"
	"github.com/rapportcrm/rapport/engine/rules"
	"github.com/rapportcrm/rapport/engine/rules/calendar"
	"github.com/rapportcrm/rapport/engine/rulesets"
)

// PermRulesetsEvaluate lets integrations evaluate published rule sets without reading or editing them.
const PermRulesetsEvaluate = access.RulesetsEvaluate

// Audit actions of rule sets and calendars.
const (
	actionRulesetCreate  = "ruleset.create"
	actionRulesetUpdate  = "ruleset.update"
	actionRulesetPublish = "ruleset.publish"
	actionRulesetArchive = "ruleset.archive"
	actionCalendarCreate = "calendar.create"
	actionCalendarUpdate = "calendar.update"
	actionCalendarDelete = "calendar.delete"
)

// The rule engine's types share names with other packages' (schema.Rule, schema.Change...); these
// defined types give them distinct names in the OpenAPI document without changing their JSON shape.
type (
	ruleSet                  rules.RuleSet
	ruleSetRule              rules.Rule
	ruleDecisionTable        rules.DecisionTable
	ruleInputColumn          rules.InputColumn
	ruleOutputColumn         rules.OutputColumn
	ruleTableRow             rules.TableRow
	ruleAssignmentPolicy     rules.AssignmentPolicy
	ruleRoute                rules.Route
	ruleSLAPolicy            rules.SLAPolicy
	ruleSLATarget            rules.SLATarget
	ruleTestCase             rules.TestCase
	ruleAssignContext        rules.AssignContext
	ruleCandidate            rules.Candidate
	ruleOutcome              rules.Outcome
	ruleViolation            rules.Violation
	ruleFiredRule            rules.FiredRule
	ruleTableResult          rules.TableResult
	ruleAssignment           rules.Assignment
	ruleSLAResult            rules.SLAResult
	ruleTestReport           rules.TestReport
	ruleTestResult           rules.TestResult
	ruleChange               rules.Change
	ruleWhatIfRecord         rules.WhatIfRecord
	rulesetVersion           rulesets.Version
	rulesetVersionInfo       rulesets.VersionInfo
	rulesetWhatIf            rulesets.WhatIf
	businessCalendar         rulesets.CalendarInfo
	businessCalendarSpec     calendar.Spec
	businessCalendarInterval calendar.Interval
)

func (s *Server) aliasRuleTypes() {
	reg := s.api.OpenAPI().Components.Schemas
	pairs := [][2]reflect.Type{
		{typeOf[rules.RuleSet](), typeOf[ruleSet]()},
		{typeOf[rules.Rule](), typeOf[ruleSetRule]()},
		{typeOf[rules.DecisionTable](), typeOf[ruleDecisionTable]()},
		{typeOf[rules.InputColumn](), typeOf[ruleInputColumn]()},
		{typeOf[rules.OutputColumn](), typeOf[ruleOutputColumn]()},
		{typeOf[rules.TableRow](), typeOf[ruleTableRow]()},
		{typeOf[rules.AssignmentPolicy](), typeOf[ruleAssignmentPolicy]()},
		{typeOf[rules.Route](), typeOf[ruleRoute]()},
		{typeOf[rules.SLAPolicy](), typeOf[ruleSLAPolicy]()},
		{typeOf[rules.SLATarget](), typeOf[ruleSLATarget]()},
		{typeOf[rules.TestCase](), typeOf[ruleTestCase]()},
		{typeOf[rules.AssignContext](), typeOf[ruleAssignContext]()},
		{typeOf[rules.Candidate](), typeOf[ruleCandidate]()},
		{typeOf[rules.Outcome](), typeOf[ruleOutcome]()},
		{typeOf[rules.Violation](), typeOf[ruleViolation]()},
		{typeOf[rules.FiredRule](), typeOf[ruleFiredRule]()},
		{typeOf[rules.TableResult](), typeOf[ruleTableResult]()},
		{typeOf[rules.Assignment](), typeOf[ruleAssignment]()},
		{typeOf[rules.SLAResult](), typeOf[ruleSLAResult]()},
		{typeOf[rules.TestReport](), typeOf[ruleTestReport]()},
		{typeOf[rules.TestResult](), typeOf[ruleTestResult]()},
		{typeOf[rules.Change](), typeOf[ruleChange]()},
		{typeOf[rules.WhatIfRecord](), typeOf[ruleWhatIfRecord]()},
		{typeOf[rulesets.Version](), typeOf[rulesetVersion]()},
		{typeOf[rulesets.VersionInfo](), typeOf[rulesetVersionInfo]()},
		{typeOf[rulesets.WhatIf](), typeOf[rulesetWhatIf]()},
		{typeOf[rulesets.CalendarInfo](), typeOf[businessCalendar]()},
		{typeOf[calendar.Spec](), typeOf[businessCalendarSpec]()},
		{typeOf[calendar.Interval](), typeOf[businessCalendarInterval]()},
	}
	for _, p := range pairs {
		reg.RegisterTypeAlias(p[0], p[1])
	}
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

type rulesetKeyPath struct {
	Key string `path:"key" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Key of the rule set, e.g. lead-score."`
}

type rulesetListInput struct {
	Entity   string `query:"entity" maxLength:"64" doc:"Only rule sets over this entity."`
	Archived bool   `query:"archived" doc:"Include archived rule sets."`
}

type rulesetListOutput struct {
	Body []rulesets.Info
}

// RulesetView is a rule set as the editor shows it: the stored draft and versions, plus what the
// draft reads and whether it still compiles against the current schema.
type RulesetView struct {
	rulesets.Info
	Fields   []string     `json:"fields" doc:"Record fields the draft reads, so analysts see what it depends on."`
	Problems []FieldError `json:"problems,omitempty" doc:"Why the draft no longer compiles (say, after a schema change)."`
}

type rulesetOutput struct {
	Status int
	ETag   string `header:"ETag" doc:"The draft's revision; send it as If-Match when changing or publishing."`
	Body   RulesetView
}

type rulesetCreateInput struct {
	Body rules.RuleSet
}

type rulesetUpdateInput struct {
	Key     string `path:"key" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Key of the rule set, e.g. lead-score."`
	IfMatch string `header:"If-Match" doc:"The revision the editor started from (the ETag); a newer draft fails with 412."`
	Body    rules.RuleSet
}

type rulesetVersionInput struct {
	Key     string `path:"key" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Key of the rule set, e.g. lead-score."`
	Version int    `path:"version" minimum:"1" doc:"Published version number."`
}

type rulesetVersionOutput struct {
	Body rulesets.VersionInfo
}

type rulesetDiffInput struct {
	Key  string `path:"key" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Key of the rule set, e.g. lead-score."`
	From string `query:"from" required:"true" pattern:"^(draft|latest|[1-9][0-9]*)$" doc:"A version number, latest or draft."`
	To   string `query:"to" pattern:"^(draft|latest|[1-9][0-9]*)$" default:"draft" doc:"A version number, latest or draft."`
}

// RulesetDiff lists what changed between two versions of a rule set.
type RulesetDiff struct {
	From    string         `json:"from"`
	To      string         `json:"to"`
	Changes []rules.Change `json:"changes"`
}

type rulesetDiffOutput struct {
	Body RulesetDiff
}

// RulesetTestRequest asks the test bench to run the saved draft in one or more ways.
type RulesetTestRequest struct {
	Record  map[string]any       `json:"record,omitempty" doc:"A sample record (field name to value) to evaluate the draft on."`
	Context *rules.AssignContext `json:"context,omitempty" doc:"Teams and cursors, for assignment rule sets."`
	Last    int                  `json:"last,omitempty" minimum:"0" maximum:"500" doc:"What-if: evaluate the draft and the latest published version on the entity's last N records."`
	Tests   bool                 `json:"tests,omitempty" doc:"Run the saved test cases."`
	Now     *time.Time           `json:"now,omitempty" doc:"Evaluation time; the server's clock when absent."`
}

// RulesetSample is the draft's result on one sample record.
type RulesetSample struct {
	Outcome *rules.Outcome `json:"outcome,omitempty"`
	Result  map[string]any `json:"result,omitempty" doc:"The outcome flattened as test cases compare it."`
	Error   string         `json:"error,omitempty" doc:"Why evaluation failed."`
}

// RulesetTestResult is what the test bench found.
type RulesetTestResult struct {
	Key      string            `json:"key"`
	Revision int64             `json:"revision" doc:"The draft revision that was run."`
	Fields   []string          `json:"fields" doc:"Record fields the draft reads."`
	Sample   *RulesetSample    `json:"sample,omitempty"`
	WhatIf   *rulesets.WhatIf  `json:"whatIf,omitempty"`
	Tests    *rules.TestReport `json:"tests,omitempty"`
}

type rulesetTestInput struct {
	Key  string `path:"key" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Key of the rule set, e.g. lead-score."`
	Body RulesetTestRequest
}

type rulesetTestOutput struct {
	Body RulesetTestResult
}

// RulesetPublishRequest carries the publisher's note.
type RulesetPublishRequest struct {
	Note string `json:"note,omitempty" maxLength:"1000" doc:"What changed and why, shown in the version list."`
}

type rulesetPublishInput struct {
	Key     string `path:"key" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Key of the rule set, e.g. lead-score."`
	IfMatch string `header:"If-Match" doc:"The draft revision the publisher reviewed; a newer draft fails with 412."`
	Body    *RulesetPublishRequest
}

// RulesetPublished is the new version and the test report that allowed it.
type RulesetPublished struct {
	rulesets.VersionInfo
	Tests *rules.TestReport `json:"tests"`
}

type rulesetPublishOutput struct {
	Status int
	Body   RulesetPublished
}

// RulesetEvaluateRequest is a record to evaluate a published rule set on.
type RulesetEvaluateRequest struct {
	Record  map[string]any       `json:"record" doc:"The record (field name to value)."`
	Version int                  `json:"version,omitempty" minimum:"0" doc:"Pin a published version; the latest when absent."`
	Context *rules.AssignContext `json:"context,omitempty" doc:"Teams and cursors: assignment rule sets then pick a person."`
	Now     *time.Time           `json:"now,omitempty" doc:"Evaluation time; the server's clock when absent."`
}

// RulesetEvaluation is a published rule set's outcome on a record.
type RulesetEvaluation struct {
	Key     string         `json:"key"`
	Version int            `json:"version"`
	Hash    string         `json:"hash"`
	Outcome *rules.Outcome `json:"outcome"`
	Result  map[string]any `json:"result" doc:"The outcome flattened (score, fired, outcome, output, route, target...)."`
}

type rulesetEvaluateInput struct {
	Key  string `path:"key" pattern:"^[a-z][a-z0-9_-]{0,63}$" doc:"Key of the rule set, e.g. lead-score."`
	Body RulesetEvaluateRequest
}

type rulesetEvaluateOutput struct {
	Body RulesetEvaluation
}

func (s *Server) registerRulesets() {
	if s.deps.Rulesets == nil {
		return
	}
	s.aliasRuleTypes()
	tags := []string{"rulesets"}
	s.registerRulesetCheck(tags)
	Register(s, huma.Operation{
		OperationID: "listRulesets", Method: http.MethodGet, Path: "/api/v1/rulesets", Tags: tags,
		Summary: "List rule sets", Description: "Every rule set with its draft, sorted by key; archived ones only when asked.",
	}, Access{Permission: access.RulesetsRead}, func(ctx context.Context, in *rulesetListInput) (*rulesetListOutput, error) {
		list, err := s.deps.Rulesets.List(ctx, in.Entity, in.Archived)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		return &rulesetListOutput{Body: list}, nil
	})
	Register(s, huma.Operation{
		OperationID: "createRuleset", Method: http.MethodPost, Path: "/api/v1/rulesets", Tags: tags,
		Summary: "Create a rule set",
		Description: "Saves a new rule set as a draft. It is compiled against the entity's schema first: every problem " +
			"comes back at once (422) with a JSON pointer into the body and the line and column inside the expression.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, Access{Permission: access.RulesetsWrite}, func(ctx context.Context, in *rulesetCreateInput) (*rulesetOutput, error) {
		info, err := s.deps.Rulesets.Create(ctx, &in.Body, callerID(ctx))
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		s.record(ctx, audit.Event{Action: actionRulesetCreate, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "ruleset", ID: info.Key}, After: info.Draft, Details: map[string]any{"hash": info.DraftHash}})
		return s.rulesetView(ctx, http.StatusCreated, info), nil
	})
	Register(s, huma.Operation{
		OperationID: "getRuleset", Method: http.MethodGet, Path: "/api/v1/rulesets/{key}", Tags: tags,
		Summary:     "Get a rule set",
		Description: "The draft, the fields it reads, whether it still compiles, and every published version (newest first).",
		Errors:      []int{http.StatusNotFound},
	}, Access{Permission: access.RulesetsRead}, func(ctx context.Context, in *rulesetKeyPath) (*rulesetOutput, error) {
		info, err := s.deps.Rulesets.Get(ctx, in.Key)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		return s.rulesetView(ctx, http.StatusOK, info), nil
	})
	Register(s, huma.Operation{
		OperationID: "updateRuleset", Method: http.MethodPut, Path: "/api/v1/rulesets/{key}", Tags: tags,
		Summary: "Change a rule set's draft",
		Description: "Replaces the draft; published versions never change. The key, kind and entity are fixed. The draft " +
			"must compile (422 with positions otherwise).",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, Access{Permission: access.RulesetsWrite}, func(ctx context.Context, in *rulesetUpdateInput) (*rulesetOutput, error) {
		rev, err := parseRevision(in.IfMatch)
		if err != nil {
			return nil, err
		}
		before, err := s.deps.Rulesets.Get(ctx, in.Key)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		info, err := s.deps.Rulesets.Update(ctx, in.Key, &in.Body, callerID(ctx), rev)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		s.record(ctx, audit.Event{Action: actionRulesetUpdate, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "ruleset", ID: info.Key}, Before: before.Draft, After: info.Draft,
			Details: map[string]any{"hash": info.DraftHash, "revision": info.Revision}})
		return s.rulesetView(ctx, http.StatusOK, info), nil
	})
	Register(s, huma.Operation{
		OperationID: "getRulesetVersion", Method: http.MethodGet, Path: "/api/v1/rulesets/{key}/versions/{version}", Tags: tags,
		Summary: "Get a published version", Description: "A published version is immutable: its content, hash, author and time.",
		Errors: []int{http.StatusNotFound},
	}, Access{Permission: access.RulesetsRead}, func(ctx context.Context, in *rulesetVersionInput) (*rulesetVersionOutput, error) {
		v, err := s.deps.Rulesets.GetVersion(ctx, in.Key, in.Version)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		return &rulesetVersionOutput{Body: v}, nil
	})
	Register(s, huma.Operation{
		OperationID: "diffRuleset", Method: http.MethodGet, Path: "/api/v1/rulesets/{key}/diff", Tags: tags,
		Summary: "Compare two versions", Description: "What changed from one version (a number, latest or draft) to another.",
		Errors: []int{http.StatusNotFound},
	}, Access{Permission: access.RulesetsRead}, func(ctx context.Context, in *rulesetDiffInput) (*rulesetDiffOutput, error) {
		changes, err := s.deps.Rulesets.Diff(ctx, in.Key, in.From, in.To)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		if changes == nil {
			changes = []rules.Change{}
		}
		return &rulesetDiffOutput{Body: RulesetDiff{From: in.From, To: in.To, Changes: changes}}, nil
	})
	Register(s, huma.Operation{
		OperationID: "testRuleset", Method: http.MethodPost, Path: "/api/v1/rulesets/{key}/test", Tags: tags,
		Summary: "Run the draft on the test bench",
		Description: "Runs the saved draft on a sample record (outcome and explanation), on the entity's last N records " +
			"beside the latest published version with a summary of what would change (needs read access to the " +
			"entity's records), and on the saved test cases. Ask for any combination.",
		Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, Access{Permission: access.RulesetsWrite}, func(ctx context.Context, in *rulesetTestInput) (*rulesetTestOutput, error) {
		res, err := s.testRuleset(ctx, in.Key, &in.Body)
		if err != nil {
			return nil, err
		}
		return &rulesetTestOutput{Body: *res}, nil
	})
	Register(s, huma.Operation{
		OperationID: "publishRuleset", Method: http.MethodPost, Path: "/api/v1/rulesets/{key}/publish", Tags: tags,
		Summary: "Publish the draft",
		Description: "Compiles the draft, runs its saved test cases and, only if there is at least one and all pass, saves " +
			"it as the next immutable version with the publisher, time and content hash. Refusals list the failing " +
			"tests (pointer /tests/i) or the compile errors with positions.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, Access{Permission: access.RulesetsPublish}, func(ctx context.Context, in *rulesetPublishInput) (*rulesetPublishOutput, error) {
		rev, err := parseRevision(in.IfMatch)
		if err != nil {
			return nil, err
		}
		note := ""
		if in.Body != nil {
			note = in.Body.Note
		}
		v, report, err := s.deps.Rulesets.Publish(ctx, in.Key, callerID(ctx), note, rev, time.Now().UTC())
		if err != nil {
			s.record(ctx, audit.Event{Action: actionRulesetPublish, Outcome: audit.OutcomeFailure,
				Target: audit.Target{Type: "ruleset", ID: in.Key}, Details: map[string]any{"error": err.Error()}})
			return nil, s.rulesetsError(ctx, err)
		}
		s.record(ctx, audit.Event{Action: actionRulesetPublish, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "ruleset", ID: in.Key, Name: strconv.Itoa(v.Version.Version)}, After: v.RuleSet,
			Reason: v.Note, Details: map[string]any{"version": v.Version.Version, "hash": v.Hash}})
		return &rulesetPublishOutput{Status: http.StatusCreated, Body: RulesetPublished{VersionInfo: v, Tests: report}}, nil
	})
	Register(s, huma.Operation{
		OperationID: "archiveRuleset", Method: http.MethodPost, Path: "/api/v1/rulesets/{key}/archive", Tags: tags,
		Summary:     "Archive a rule set",
		Description: "Retires the rule set: it and its versions stay readable, but it can no longer be changed, published or evaluated.",
		Errors:      []int{http.StatusNotFound, http.StatusConflict},
	}, Access{Permission: access.RulesetsPublish}, func(ctx context.Context, in *rulesetKeyPath) (*rulesetOutput, error) {
		info, err := s.deps.Rulesets.Archive(ctx, in.Key, callerID(ctx))
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		s.record(ctx, audit.Event{Action: actionRulesetArchive, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "ruleset", ID: info.Key}})
		return s.rulesetView(ctx, http.StatusOK, info), nil
	})
	Register(s, huma.Operation{
		OperationID: "evaluateRuleset", Method: http.MethodPost, Path: "/api/v1/rulesets/{key}/evaluate", Tags: tags,
		Summary: "Evaluate a published rule set",
		Description: "For integrations: evaluates the latest published version (or a pinned one) on the record in the body " +
			"and returns the outcome with its explanation. Drafts are never evaluated here.",
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, Access{Permission: PermRulesetsEvaluate}, func(ctx context.Context, in *rulesetEvaluateInput) (*rulesetEvaluateOutput, error) {
		c, v, err := s.deps.Rulesets.Published(ctx, in.Key, in.Body.Version)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		now := time.Now().UTC()
		if in.Body.Now != nil {
			now = *in.Body.Now
		}
		o, err := evaluateOne(c, in.Body.Record, in.Body.Context, now)
		if err != nil {
			return nil, Typed(http.StatusUnprocessableEntity, "evaluation-failed", err.Error())
		}
		return &rulesetEvaluateOutput{Body: RulesetEvaluation{Key: in.Key, Version: v.Version, Hash: v.Hash,
			Outcome: o, Result: o.Result()}}, nil
	})
	s.registerCalendars()
}

// evaluateOne runs c on record; assignment rule sets given a context pick a person.
func evaluateOne(c *rules.Compiled, record map[string]any, actx *rules.AssignContext, now time.Time) (*rules.Outcome, error) {
	if record == nil {
		record = map[string]any{}
	}
	if c.RuleSet().Kind == rules.KindAssignment && actx != nil {
		a, err := c.Assign(record, now, actx)
		if err != nil {
			return nil, err
		}
		return &rules.Outcome{Kind: rules.KindAssignment, Assignment: a}, nil
	}
	o, err := c.Evaluate(record, now)
	if err != nil {
		return nil, err
	}
	return o, nil
}

func (s *Server) testRuleset(ctx context.Context, key string, in *RulesetTestRequest) (*RulesetTestResult, error) {
	if in.Record == nil && in.Last == 0 && !in.Tests {
		p := Typed(http.StatusUnprocessableEntity, "nothing-to-test", "ask for a sample record, the last N records or the saved tests")
		p.Errors = []FieldError{{Pointer: "/record", Message: "give a record, last > 0 or tests: true"}}
		return nil, p
	}
	c, info, err := s.deps.Rulesets.CompileDraft(ctx, key)
	if err != nil {
		return nil, s.rulesetsError(ctx, err)
	}
	now := time.Now().UTC()
	if in.Now != nil {
		now = *in.Now
	}
	res := &RulesetTestResult{Key: key, Revision: info.Revision, Fields: orEmpty(c.Fields())}
	if in.Record != nil {
		o, err := evaluateOne(c, in.Record, in.Context, now)
		if err != nil {
			res.Sample = &RulesetSample{Error: err.Error()}
		} else {
			res.Sample = &RulesetSample{Outcome: o, Result: o.Result()}
		}
	}
	if in.Last > 0 {
		if res.WhatIf, err = s.whatIf(ctx, c, info, in.Last, now); err != nil {
			return nil, err
		}
	}
	if in.Tests {
		res.Tests = rules.RunTests(c, info.Draft.Tests, now)
	}
	return res, nil
}

// whatIf compares the draft with the latest published version on the entity's last n records the
// caller may read.
func (s *Server) whatIf(ctx context.Context, draft *rules.Compiled, info rulesets.Info, n int, now time.Time) (*rulesets.WhatIf, error) {
	if s.deps.Records == nil {
		return nil, NewProblem(http.StatusServiceUnavailable, "records are not available in this server")
	}
	p := PrincipalFrom(ctx)
	perm := access.RecordPermission(info.Entity, access.ActionRead)
	if p == nil || !s.allows(p, perm) {
		return nil, NewProblem(http.StatusForbidden, "the what-if run reads records: you lack the permission "+perm)
	}
	page, err := s.deps.Records.List(ctx, info.Entity, records.ListParams{Sort: "-createdAt", Limit: n})
	if err != nil {
		return nil, s.recordsError(ctx, err)
	}
	decision := s.recordDecision(ctx, info.Entity)
	recs := make([]map[string]any, 0, len(page.Items))
	for _, r := range page.Items {
		if decision.InScope(access.ActionRead, r) {
			recs = append(recs, r)
		}
	}
	published, v, err := s.deps.Rulesets.Published(ctx, info.Key, 0)
	switch {
	case errors.Is(err, rulesets.ErrNotPublished):
		return rulesets.CompareWithPublished(draft, nil, 0, recs, now), nil
	case err != nil:
		return nil, s.rulesetsError(ctx, err)
	}
	return rulesets.CompareWithPublished(draft, published, v.Version, recs, now), nil
}

// rulesetView adds what the draft reads, or why it no longer compiles.
func (s *Server) rulesetView(ctx context.Context, status int, info rulesets.Info) *rulesetOutput {
	view := RulesetView{Info: info, Fields: []string{}}
	c, err := s.deps.Rulesets.Compile(ctx, &info.Draft)
	var re *rules.Error
	switch {
	case err == nil:
		view.Fields = orEmpty(c.Fields())
	case errors.As(err, &re):
		view.Problems = problemErrors(re)
	default:
		s.deps.Logger.Warn("compile rule set for display", "key", info.Key, "error", err)
	}
	return &rulesetOutput{Status: status, ETag: revisionTag(info.Revision), Body: view}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func callerID(ctx context.Context) string {
	if p := PrincipalFrom(ctx); p != nil && p.User != nil {
		return p.User.ID
	}
	return ""
}

// revisionTag renders a revision as a strong entity tag.
func revisionTag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// parseRevision reads an If-Match revision ("3", W/"3" or 3); an absent header is 0 (no check).
func parseRevision(h string) (int64, error) {
	if strings.TrimSpace(h) == "" {
		return 0, nil
	}
	t := strings.Trim(strings.TrimPrefix(strings.TrimSpace(h), "W/"), `"`)
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 {
		p := NewProblem(http.StatusBadRequest, "If-Match must be a revision as returned in ETag, e.g. \"3\"")
		p.Errors = []FieldError{{Parameter: "If-Match", Message: "is not a revision"}}
		return 0, p
	}
	return v, nil
}

// problemErrors turns rule set problems ("rules[1].when", line 1, column 8) into field errors with JSON
// pointers into the rule set ("/rules/1/when") and the position in the message.
func problemErrors(re *rules.Error) []FieldError {
	out := make([]FieldError, 0, len(re.Problems))
	for _, p := range re.Problems {
		msg := p.Message
		if p.Line > 0 {
			msg = fmt.Sprintf("line %d, column %d: %s", p.Line, p.Column, p.Message)
		}
		out = append(out, FieldError{Pointer: dottedToPointer("." + strings.ReplaceAll(p.Path, `"`, "")), Message: msg})
	}
	return out
}

// rulesetsError maps the rule set store's errors to problems; anything unknown is a 500 logged with the
// request ID.
func (s *Server) rulesetsError(ctx context.Context, err error) error {
	var (
		re    *rules.Error
		tf    *rulesets.TestsFailedError
		ce    *rulesets.CalendarError
		probl *Problem
	)
	switch {
	case errors.As(err, &probl):
		return probl
	case errors.As(err, &re):
		p := Typed(http.StatusUnprocessableEntity, "invalid-ruleset", fmt.Sprintf("the rule set has %d problem(s); nothing was saved", len(re.Problems)))
		p.Errors = problemErrors(re)
		return p
	case errors.As(err, &tf):
		p := Typed(http.StatusUnprocessableEntity, "tests-failed", tf.Error()+"; nothing was published")
		if tf.Report == nil || len(tf.Report.Results) == 0 {
			p.Errors = []FieldError{{Pointer: "/tests", Message: "add at least one test case before publishing"}}
		} else {
			for i, r := range tf.Report.Results {
				if r.Passed {
					continue
				}
				msg := strings.Join(r.Mismatches, "; ")
				if msg == "" {
					msg = r.Error
				}
				p.Errors = append(p.Errors, FieldError{Pointer: "/tests/" + strconv.Itoa(i), Message: fmt.Sprintf("%q fails: %s", r.Name, msg)})
			}
		}
		return p
	case errors.As(err, &ce):
		p := Typed(http.StatusUnprocessableEntity, "invalid-calendar", ce.Error())
		p.Errors = []FieldError{{Pointer: "", Message: ce.Err.Error()}}
		return p
	case errors.Is(err, rulesets.ErrNotFound):
		return NewProblem(http.StatusNotFound, err.Error())
	case errors.Is(err, rulesets.ErrNotPublished):
		return Typed(http.StatusConflict, "not-published", err.Error())
	case errors.Is(err, rulesets.ErrExists):
		return Typed(http.StatusConflict, "exists", err.Error())
	case errors.Is(err, rulesets.ErrArchived):
		return Typed(http.StatusConflict, "archived", err.Error())
	case errors.Is(err, rulesets.ErrUnchanged):
		return Typed(http.StatusConflict, "unchanged", err.Error())
	case errors.Is(err, rulesets.ErrInUse):
		return Typed(http.StatusConflict, "in-use", err.Error())
	case errors.Is(err, rulesets.ErrConflict):
		return NewProblem(http.StatusPreconditionFailed, err.Error()+"; nothing was written")
	case errors.Is(err, context.Canceled):
		return NewProblem(http.StatusServiceUnavailable, "the request was cancelled")
	}
	s.deps.Logger.Error("rule set request failed", "requestId", ClientFrom(ctx).RequestID, "error", err)
	if p := unavailable(err); p != nil {
		return p
	}
	return NewProblem(http.StatusInternalServerError, "internal error; quote the request ID when reporting it")
}

type calendarPath struct {
	Name string `path:"name" pattern:"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$" doc:"Name of the calendar, e.g. support."`
}

type calendarListOutput struct {
	Body []rulesets.CalendarInfo
}

type calendarOutput struct {
	Status int
	ETag   string `header:"ETag" doc:"The calendar's revision; send it as If-Match when changing it."`
	Body   rulesets.CalendarInfo
}

type calendarCreateInput struct {
	Body calendar.Spec
}

type calendarUpdateInput struct {
	Name    string `path:"name" pattern:"^[a-zA-Z][a-zA-Z0-9_-]{0,63}$" doc:"Name of the calendar, e.g. support."`
	IfMatch string `header:"If-Match" doc:"The revision the editor started from; a newer one fails with 412."`
	Body    calendar.Spec
}

type calendarDeleteOutput struct {
	Status int
}

func (s *Server) registerCalendars() {
	tags := []string{"calendars"}
	Register(s, huma.Operation{
		OperationID: "listCalendars", Method: http.MethodGet, Path: "/api/v1/calendars", Tags: tags,
		Summary: "List business calendars", Description: "Working hours, holidays and time zone of every calendar, by name.",
	}, Access{Permission: access.RulesetsRead}, func(ctx context.Context, _ *struct{}) (*calendarListOutput, error) {
		list, err := s.deps.Rulesets.Calendars(ctx)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		return &calendarListOutput{Body: list}, nil
	})
	Register(s, huma.Operation{
		OperationID: "getCalendar", Method: http.MethodGet, Path: "/api/v1/calendars/{name}", Tags: tags,
		Summary: "Get a business calendar", Errors: []int{http.StatusNotFound},
	}, Access{Permission: access.RulesetsRead}, func(ctx context.Context, in *calendarPath) (*calendarOutput, error) {
		ci, err := s.deps.Rulesets.Calendar(ctx, in.Name)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		return &calendarOutput{Status: http.StatusOK, ETag: revisionTag(ci.Revision), Body: ci}, nil
	})
	Register(s, huma.Operation{
		OperationID: "createCalendar", Method: http.MethodPost, Path: "/api/v1/calendars", Tags: tags,
		Summary: "Create a business calendar",
		Description: "Working intervals per weekday (mon..sun, \"09:00\"-\"17:30\"), holidays (YYYY-MM-DD) and an IANA " +
			"time zone. SLA policies and addBusinessHours name it.",
		Errors: []int{http.StatusConflict, http.StatusUnprocessableEntity},
	}, Access{Permission: access.CalendarsManage}, func(ctx context.Context, in *calendarCreateInput) (*calendarOutput, error) {
		ci, err := s.deps.Rulesets.CreateCalendar(ctx, in.Body, callerID(ctx))
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		s.record(ctx, audit.Event{Action: actionCalendarCreate, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "calendar", ID: ci.Name}, After: ci.Spec})
		return &calendarOutput{Status: http.StatusCreated, ETag: revisionTag(ci.Revision), Body: ci}, nil
	})
	Register(s, huma.Operation{
		OperationID: "updateCalendar", Method: http.MethodPut, Path: "/api/v1/calendars/{name}", Tags: tags,
		Summary:     "Change a business calendar",
		Description: "Replaces the calendar. Rule sets that use it count business time with the new hours from now on.",
		Errors:      []int{http.StatusNotFound, http.StatusPreconditionFailed, http.StatusUnprocessableEntity},
	}, Access{Permission: access.CalendarsManage}, func(ctx context.Context, in *calendarUpdateInput) (*calendarOutput, error) {
		rev, err := parseRevision(in.IfMatch)
		if err != nil {
			return nil, err
		}
		before, err := s.deps.Rulesets.Calendar(ctx, in.Name)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		ci, err := s.deps.Rulesets.UpdateCalendar(ctx, in.Name, in.Body, callerID(ctx), rev)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		s.record(ctx, audit.Event{Action: actionCalendarUpdate, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "calendar", ID: ci.Name}, Before: before.Spec, After: ci.Spec})
		return &calendarOutput{Status: http.StatusOK, ETag: revisionTag(ci.Revision), Body: ci}, nil
	})
	Register(s, huma.Operation{
		OperationID: "deleteCalendar", Method: http.MethodDelete, Path: "/api/v1/calendars/{name}", Tags: tags,
		Summary: "Delete a business calendar", Description: "Refused (409) while a rule set draft or version names it.",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, Access{Permission: access.CalendarsManage}, func(ctx context.Context, in *calendarPath) (*calendarDeleteOutput, error) {
		before, err := s.deps.Rulesets.Calendar(ctx, in.Name)
		if err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		if err := s.deps.Rulesets.DeleteCalendar(ctx, in.Name); err != nil {
			return nil, s.rulesetsError(ctx, err)
		}
		s.record(ctx, audit.Event{Action: actionCalendarDelete, Outcome: audit.OutcomeSuccess,
			Target: audit.Target{Type: "calendar", ID: in.Name}, Before: before.Spec})
		return &calendarDeleteOutput{Status: http.StatusNoContent}, nil
	})
}
