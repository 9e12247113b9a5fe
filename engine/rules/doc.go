// Package rules holds rule sets — validation, computed fields, scoring,
// decisions, DMN-like decision tables, assignment and SLA policies — as
// plain data with JSON tags, compiles them through engine/expression once,
// and evaluates them over records. It is pure Go: no storage, no HTTP, no
// clock (the caller passes `now`), so the same code runs in the API, in
// batch jobs and inside Temporal workflows.
//
// Compile checks a rule set against an expression Env and reports every
// problem at once with its path and position; Evaluate runs it over a
// record; Session is the allocation-free hot path; RunTests runs the saved
// test cases; WhatIf compares a draft with the published version over real
// records; ContentHash identifies a published version.
//
// The JSON shape of each kind, as the admin API stores and the test bench
// runs it. Expressions read the record's fields by name (see
// engine/expression for types and helper functions).
//
// Validation — a rule fires when its condition describes the invalid state:
//
//	{"key": "lead-valid", "kind": "validation", "entity": "lead",
//	 "rules": [{"name": "budget positive", "when": "budget < 0",
//	            "message": "Budget cannot be negative", "field": "budget"}]}
//
// Computed fields — later rules see earlier results:
//
//	{"key": "lead-computed", "kind": "computed", "entity": "lead",
//	 "rules": [{"name": "full name", "field": "fullName", "value": "trim(first + \" \" + last)"},
//	           {"name": "discount", "field": "discount", "when": "budget > 100000", "value": "budget * 0.05"}]}
//
// Scoring — the fired rules are the explanation of the score:
//
//	{"key": "lead-score", "kind": "scoring", "entity": "lead",
//	 "rules": [{"name": "big budget", "when": "budget > 1000000", "points": 30},
//	           {"name": "referral", "when": "source == \"partner\"", "points": 20}]}
//
// Decision — "first" (default) or "collect", with a default outcome:
//
//	{"key": "qualified", "kind": "decision", "entity": "lead", "default": false,
//	 "rules": [{"name": "budget and fit", "when": "budget >= 50000 && employees >= 50", "outcome": true}]}
//
// Decision table — hit policies FIRST, UNIQUE (default), PRIORITY, ANY,
// COLLECT; COLLECT may aggregate with SUM, MIN, MAX or COUNT. Input entries
// are unary tests: "-", "> 1000", "[1..10]", "in [\"a\", \"b\"]", "\"gold\"":
//
//	{"key": "discount", "kind": "decision_table", "entity": "deal",
//	 "table": {"hitPolicy": "PRIORITY",
//	   "inputs":  [{"name": "tier", "expression": "customer.tier", "type": "string"},
//	               {"name": "amount", "expression": "amount", "type": "float"}],
//	   "outputs": [{"name": "discount", "type": "int", "values": [20, 10, 0]}],
//	   "rows": [{"inputs": ["\"gold\"", "> 100000"], "outputs": [20]},
//	            {"inputs": ["in [\"gold\", \"silver\"]", "-"], "outputs": [10]},
//	            {"inputs": ["-", "-"], "outputs": [0]}]}}
//
// Assignment — routes by any field; within a team round_robin (default) or
// least_loaded, skipping unavailable people; the caller supplies the
// candidates and the cursor (AssignContext) and stores the new cursor:
//
//	{"key": "lead-owner", "kind": "assignment", "entity": "lead",
//	 "assignment": {"routes": [
//	     {"name": "account owner", "when": "ownerId != \"\"", "assigneeFrom": "ownerId", "team": "sales"},
//	     {"name": "north", "when": "region == \"north\"", "team": "north"},
//	     {"name": "abroad", "when": "country != \"DE\"", "queue": "international"}],
//	   "default": {"name": "fallback", "queue": "unassigned"}}}
//
// SLA policy — first matching target; durations count business time of the
// named calendar (configured on the Env), from `start` (default now):
//
//	{"key": "complaint-sla", "kind": "sla", "entity": "complaint",
//	 "sla": {"calendar": "support", "start": "openedAt",
//	   "targets": [{"name": "critical", "when": "severity == \"critical\"", "response": "1h", "resolution": "8h"}],
//	   "default": {"name": "standard", "response": "8h", "resolution": "40h"}}}
//
// Test cases are kept with the rule set; "expect" names keys of
// Outcome.Result (or "error"):
//
//	"tests": [{"name": "big partner lead", "input": {"budget": 2000000, "source": "partner"},
//	           "expect": {"score": 50, "fired": ["big budget", "referral"]}}]
package rules
