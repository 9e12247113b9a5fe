package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rapportcrm/rapport/engine/access"
	"github.com/rapportcrm/rapport/engine/rules"
)

// RulesetCheck is what compiling a rule set without saving it found: the editor underlines each problem
// at its line and column while the analyst types.
type RulesetCheck struct {
	Valid    bool         `json:"valid"`
	Fields   []string     `json:"fields" doc:"Record fields the rule set reads, when it compiles."`
	Problems []FieldError `json:"problems" doc:"Every problem, with a JSON pointer into the rule set and the line and column inside the expression."`
}

type rulesetCheckInput struct {
	Body rules.RuleSet
}

type rulesetCheckOutput struct {
	Body RulesetCheck
}

// registerRulesetCheck adds POST /api/v1/rulesets/check: the compile step of create and update, with
// nothing stored, so the editor can report problems as the analyst types instead of on save.
func (s *Server) registerRulesetCheck(tags []string) {
	Register(s, huma.Operation{
		OperationID: "checkRuleset", Method: http.MethodPost, Path: "/api/v1/rulesets/check", Tags: tags,
		Summary: "Compile a rule set without saving it",
		Description: "Compiles the rule set in the body against its entity's schema exactly as saving would, stores nothing, " +
			"and answers 200 with every problem (a JSON pointer into the body and the line and column inside the expression).",
	}, Access{Permission: access.RulesetsWrite}, func(ctx context.Context, in *rulesetCheckInput) (*rulesetCheckOutput, error) {
		out := RulesetCheck{Fields: []string{}, Problems: []FieldError{}}
		c, err := s.deps.Rulesets.Compile(ctx, &in.Body)
		var re *rules.Error
		switch {
		case err == nil:
			out.Valid = true
			out.Fields = orEmpty(c.Fields())
		case errors.As(err, &re):
			out.Problems = problemErrors(re)
		default:
			return nil, s.rulesetsError(ctx, err)
		}
		return &rulesetCheckOutput{Body: out}, nil
	})
}
