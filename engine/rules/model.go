package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Kind selects what a rule set computes.
type Kind string

// The rule set kinds.
const (
	KindValidation    Kind = "validation"
	KindComputed      Kind = "computed"
	KindScoring       Kind = "scoring"
	KindDecision      Kind = "decision"
	KindDecisionTable Kind = "decision_table"
	KindAssignment    Kind = "assignment"
	KindSLA           Kind = "sla"
)

// RuleSet is the analyst-edited definition. Which fields are used depends on
// Kind; Compile reports fields that do not belong to the kind.
type RuleSet struct {
	// Key names the rule set; processes and schemas refer to it by key.
	Key string `json:"key"`
	// Kind is one of the Kind constants.
	Kind Kind `json:"kind"`
	// Entity is the entity whose records the rules read (empty for rule
	// sets bound to process variables).
	Entity string `json:"entity,omitempty"`
	// Description is free text for the admin UI.
	Description string `json:"description,omitempty"`
	// Rules are the conditions of validation, computed, scoring and
	// decision rule sets, evaluated in order.
	Rules []Rule `json:"rules,omitempty"`
	// HitPolicy of a decision rule set: "first" (default) or "collect".
	HitPolicy string `json:"hitPolicy,omitempty"`
	// Default is a decision's outcome when no rule matches.
	Default any `json:"default,omitempty"`
	// Table is the decision table of a decision_table rule set.
	Table *DecisionTable `json:"table,omitempty"`
	// Assignment is the policy of an assignment rule set.
	Assignment *AssignmentPolicy `json:"assignment,omitempty"`
	// SLA is the policy of an sla rule set.
	SLA *SLAPolicy `json:"sla,omitempty"`
	// Tests are kept with the rule set and must pass before publishing.
	Tests []TestCase `json:"tests,omitempty"`
}

// Rule is one condition with what it contributes.
type Rule struct {
	// Name identifies the rule in explanations and problems.
	Name string `json:"name"`
	// When is a boolean expression; empty means always (computed rules only).
	When string `json:"when,omitempty"`
	// Points a scoring rule adds when it fires (may be negative).
	Points float64 `json:"points,omitempty"`
	// Message a validation rule reports when When is true, i.e. When
	// describes the invalid state ("budget < 0").
	Message string `json:"message,omitempty"`
	// Field is the record field a validation message belongs to, or the
	// field a computed rule writes.
	Field string `json:"field,omitempty"`
	// Value is the expression a computed rule stores in Field.
	Value string `json:"value,omitempty"`
	// Outcome is what a decision rule yields when it matches.
	Outcome any `json:"outcome,omitempty"`
	// Disabled rules are kept but skipped.
	Disabled bool `json:"disabled,omitempty"`
}

// DecisionTable is a DMN-style table: each row's input entries are tested
// against the input columns, and matching rows' outputs are combined by the
// hit policy.
type DecisionTable struct {
	// HitPolicy is FIRST, UNIQUE, PRIORITY, ANY or COLLECT.
	HitPolicy string `json:"hitPolicy"`
	// Aggregation of a COLLECT table: SUM, MIN, MAX or COUNT (empty lists
	// the outputs).
	Aggregation string `json:"aggregation,omitempty"`
	// Inputs are the columns tested by the rows.
	Inputs []InputColumn `json:"inputs"`
	// Outputs are the columns the rows produce.
	Outputs []OutputColumn `json:"outputs"`
	// Rows are the table's rules, in order.
	Rows []TableRow `json:"rows"`
}

// InputColumn is an expression whose value the row entries test.
type InputColumn struct {
	// Name labels the column.
	Name string `json:"name"`
	// Expression computes the input from the record, e.g. "customer.tier".
	Expression string `json:"expression"`
	// Type is the expected kind ("string", "int", "float", "bool", "time",
	// "duration"); empty accepts any.
	Type string `json:"type,omitempty"`
}

// OutputColumn is one produced value.
type OutputColumn struct {
	// Name is the key of the value in the outcome.
	Name string `json:"name"`
	// Type is the kind every row's value must have; empty accepts any.
	Type string `json:"type,omitempty"`
	// Values lists the allowed values in priority order (highest first);
	// required for PRIORITY tables, optional otherwise.
	Values []any `json:"values,omitempty"`
}

// TableRow is one rule of a decision table.
type TableRow struct {
	// Inputs holds one unary test per input column: "-" or "" (any value),
	// a comparison ("> 1000", "<= 5", "!= \"x\"", "in [\"a\", \"b\"]",
	// "not in [...]", "matches \"^A\"", "startsWith \"x\""), a range
	// "[1..10]" (inclusive), or a value compared for equality ("\"gold\"",
	// "42", "true").
	Inputs []string `json:"inputs"`
	// Outputs holds one literal value per output column.
	Outputs []any `json:"outputs"`
	// Description explains the row.
	Description string `json:"description,omitempty"`
}

// AssignmentPolicy routes a record to a team, queue or person.
type AssignmentPolicy struct {
	// Routes are tried in order; the first whose When holds decides.
	Routes []Route `json:"routes"`
	// Default applies when no route matches.
	Default *Route `json:"default,omitempty"`
}

// Route is one assignment rule.
type Route struct {
	// Name identifies the route in explanations.
	Name string `json:"name"`
	// When is a boolean expression (empty always matches), e.g.
	// `region == "north"` for territory routing.
	When string `json:"when,omitempty"`
	// Queue assigns to a queue instead of a person.
	Queue string `json:"queue,omitempty"`
	// Team picks a person from the team's candidates by Strategy.
	Team string `json:"team,omitempty"`
	// Strategy within the team: "round_robin" (default) or "least_loaded".
	Strategy string `json:"strategy,omitempty"`
	// AssigneeFrom is an expression naming a person directly, e.g.
	// "account.ownerId"; when that person is unavailable or unknown, the
	// team strategy applies.
	AssigneeFrom string `json:"assigneeFrom,omitempty"`
}

// SLAPolicy sets deadlines by record fields, counted in business time.
type SLAPolicy struct {
	// Calendar names the business calendar (configured on the expression
	// Env with expression.WithCalendars); empty counts calendar time.
	Calendar string `json:"calendar,omitempty"`
	// Start is an expression for the instant the clock starts (default
	// "now").
	Start string `json:"start,omitempty"`
	// Targets are tried in order; the first whose When holds applies.
	Targets []SLATarget `json:"targets"`
	// Default applies when no target matches.
	Default *SLATarget `json:"default,omitempty"`
}

// SLATarget is one row of an SLA policy.
type SLATarget struct {
	// Name identifies the target, e.g. "critical/gold".
	Name string `json:"name"`
	// When selects the records, e.g. `severity == "critical" && tier == "gold"`.
	When string `json:"when,omitempty"`
	// Response is the time to first response as a Go duration ("4h", "30m").
	Response string `json:"response,omitempty"`
	// Resolution is the time to resolution as a Go duration.
	Resolution string `json:"resolution,omitempty"`
}

// TestCase is an input with the expected outcome, kept with the rule set.
type TestCase struct {
	// Name identifies the case in reports.
	Name string `json:"name"`
	// Input is the record (or process variables), as JSON would carry it.
	Input map[string]any `json:"input"`
	// Now is the evaluation time; when nil the runner's default is used.
	Now *time.Time `json:"now,omitempty"`
	// Context supplies teams and cursors for assignment rule sets.
	Context *AssignContext `json:"context,omitempty"`
	// Expect lists result keys (see Outcome.Result) and their expected
	// values; keys not listed are not checked.
	Expect map[string]any `json:"expect"`
}

// ParseRuleSet decodes a rule set from JSON, rejecting unknown fields so
// that a misspelt key is an error rather than a silently ignored setting.
func ParseRuleSet(data []byte) (*RuleSet, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rs RuleSet
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("parse rule set: %w", err)
	}
	return &rs, nil
}
