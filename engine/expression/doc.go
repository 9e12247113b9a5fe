// Package expression is Rapport's one expression compiler and environment
// builder: entity schemas (computed fields, validation rules), rule sets and
// BPMN conditions all compile through it, so an expression means the same
// thing everywhere. It wraps expr (github.com/expr-lang/expr).
//
// # Environment
//
// NewEnv takes the variables visible to expressions with their types (the
// fields of a record, the variables of a process). Reading an unknown
// variable or mixing types is a compile error with a 1-based line and column.
// `now` is always a time and is supplied by the caller on every run (workflow
// time inside processes): nothing reachable from an expression reads the wall
// clock, draws random numbers or performs I/O. expr's now() builtin is
// disabled, date() and timezone() refuse the host's "Local" zone and the
// Local() method of times is rejected at compile time. Time zones are loaded
// from the zone database (embedded through time/tzdata when the host has
// none) and cached per Env.
//
// Values passed to Run must have the Go types the kinds stand for (string,
// int, float64, bool, time.Time, time.Duration, []any, map[string]any);
// Env.Coerce converts JSON and MongoDB values in place and fills missing
// variables with zero values.
//
// # Helper functions
//
// Besides expr's builtins (len, lower, upper, trim, split, hasPrefix, any,
// all, filter, map, count, sum, max, min, round, abs, duration, ...):
//
//	addDays(t, n)                  addDays(createdAt, 30) — calendar days in t's zone (DST-safe)
//	addHours(t, h)                 addHours(now, 1.5)
//	addMinutes(t, m)               addMinutes(now, 90)
//	daysBetween(a, b)              daysBetween(createdAt, now) > 30 — whole 24h periods from a to b
//	hoursBetween(a, b)             hoursBetween(openedAt, now) >= 4 — fractional hours
//	startOfDay(t[, zone])          startOfDay(now, "Europe/Berlin")
//	weekday(t[, zone])             weekday(now, "Europe/Berlin") in [0, 6] — 0 is Sunday
//	date(s[, layout[, zone]])      date("2025-12-24"), date("24.12.2025", "02.01.2006", "Europe/Berlin")
//	timezone(zone)                 createdAt.In(timezone("Asia/Tokyo")).Hour()
//	addBusinessHours(t, h, cal)    addBusinessHours(openedAt, 8, "support") — needs WithCalendars
//	businessHoursBetween(a, b, cal) businessHoursBetween(openedAt, now, "support") > 16
//	normalizeEmail(s)              normalizeEmail(email) == "ann@example.com" — trims and lower-cases
//	digitsOnly(s)                  digitsOnly(phone) — "+49 (30) 123" → "4930123"
//	normalizeSpace(s)              normalizeSpace(name) — collapses runs of white space
//	inList(x, list)                inList(source, ["partner", "event"])
//	hasAny(list, values)           hasAny(tags, ["vip", "key-account"])
//	hasAll(list, values)           hasAll(tags, ["gdpr-ok", "newsletter"])
//	segment(name)                  id in segment("top-20") — the segment's member set, needs WithSegments
//	inSegment(key, name)           inSegment(email, "newsletter")
//	repeat, replace, join, string  as in expr, but charged to the string budget
//
// # Limits
//
// Limits bound the source length, the number of syntax-tree nodes, expr's
// per-run memory budget (collection and range sizes) and the bytes of
// strings one run may build (`+`, repeat, replace, join, string). A source
// over the limits is refused by Compile; a run over them stops with an
// error. expr has no unbounded loops (iteration is over collections, whose
// size the memory budget bounds), so a run always terminates. The pattern of
// `matches` must be a string literal of bounded size, compiled when the
// expression is: RE2 then matches in time linear in the input, whereas a
// pattern built at run time would be compiled on every evaluation and could
// be as large as the string budget. Panics inside
// the compiler or the virtual machine come back as errors.
//
// # Speed
//
// Compile once, run many times. An Evaluator reuses one virtual machine:
// Bind the record (and `now`) once, then Eval each program; evaluating
// comparisons and boolean logic over a bound record allocates nothing.
// CompileBatch combines many conditions (a scoring or validation rule set)
// into one program that reads each variable once; when every condition is
// simple (comparisons of scalar variables with literals or each other, `in`
// over literal lists, boolean logic) the batch runs as Go closures and falls
// back to the virtual machine for any value of an unexpected type, so the
// results are always expr's.
package expression

import _ "time/tzdata" // zone data for hosts without a zone database
