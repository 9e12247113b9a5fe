package expression

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/types"
)

// NowVar is the name of the variable holding the caller's notion of the
// current time; expressions never read the wall clock, so inside a workflow
// this is workflow time and replays see the same value.
const NowVar = "now"

// runVar is the hidden variable carrying the per-evaluation string budget to
// the functions that build strings. Names starting with "__" are reserved.
const runVar = "__run__"

// Limits bound what an expression may cost so that a rule typed by an analyst
// can never hang or exhaust a worker.
type Limits struct {
	// MaxSourceLen is the longest accepted source text in bytes.
	MaxSourceLen int
	// MaxNodes is the largest accepted syntax tree.
	MaxNodes uint
	// MemoryBudget is expr's per-run allocation budget (collection elements,
	// range sizes); exceeding it stops the run with an error.
	MemoryBudget uint
	// MaxStringBytes bounds the bytes of strings built by one run through
	// concatenation, repeat, replace, join and string(), and of the lists
	// built by split (16 bytes per part).
	MaxStringBytes int
	// MaxSteps bounds the iterations of predicates (all, any, map, filter,
	// reduce, ...) in one run, so nested loops cannot run for minutes.
	MaxSteps int
}

// DefaultLimits are generous for business rules and small enough that a
// single evaluation stays in the microsecond-to-millisecond range.
func DefaultLimits() Limits {
	return Limits{MaxSourceLen: 4096, MaxNodes: 1000, MemoryBudget: 100_000, MaxStringBytes: 1 << 20, MaxSteps: 1_000_000}
}

// Calendar is business time as expressions see it; engine/rules provides the
// implementation (working hours, holidays, time zone) and the caller wires
// named calendars in with WithCalendars.
type Calendar interface {
	// AddBusinessDuration returns the instant d of business time after start.
	AddBusinessDuration(start time.Time, d time.Duration) (time.Time, error)
	// BusinessDurationBetween returns the business time between a and b
	// (negative when b is before a).
	BusinessDurationBetween(a, b time.Time) (time.Duration, error)
}

// Segments answers segment membership for segment("name"); the caller
// supplies a snapshot (inside workflows it must come from an activity).
type Segments interface {
	// Members returns the set of member keys (record ids, emails...) of a segment.
	Members(name string) (map[string]bool, error)
}

// SegmentSet is an in-memory Segments, handy for tests and small deployments.
type SegmentSet map[string]map[string]bool

// Members implements Segments; an unknown segment is an error so typos in a
// rule surface instead of silently matching nobody.
func (s SegmentSet) Members(name string) (map[string]bool, error) {
	m, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("unknown segment %q", name)
	}
	return m, nil
}

// EnvOption configures an Env beyond its variables.
type EnvOption func(*Env)

// WithCalendars makes named business calendars available to
// addBusinessHours and businessHoursBetween.
func WithCalendars(cals map[string]Calendar) EnvOption {
	return func(e *Env) { e.calendars = cals }
}

// WithSegments makes segment("name") and inSegment(key, "name") available.
func WithSegments(s Segments) EnvOption {
	return func(e *Env) { e.segments = s }
}

// WithLimits replaces the default limits; zero fields keep their default.
func WithLimits(l Limits) EnvOption {
	return func(e *Env) {
		d := DefaultLimits()
		if l.MaxSourceLen > 0 {
			d.MaxSourceLen = l.MaxSourceLen
		}
		if l.MaxNodes > 0 {
			d.MaxNodes = l.MaxNodes
		}
		if l.MemoryBudget > 0 {
			d.MemoryBudget = l.MemoryBudget
		}
		if l.MaxStringBytes > 0 {
			d.MaxStringBytes = l.MaxStringBytes
		}
		if l.MaxSteps > 0 {
			d.MaxSteps = l.MaxSteps
		}
		e.limits = d
	}
}

// Env is the typed environment expressions are compiled against: built once
// per entity schema (or process) and reused for every compile, so that the
// schema, rule and BPMN layers share one set of variables, functions and
// limits.
type Env struct {
	vars      map[string]*Type
	calendars map[string]Calendar
	segments  Segments
	limits    Limits
	err       error
	base      []expr.Option
	zones     *zoneCache
}

// NewEnv builds an environment from the variables visible to expressions.
// `now` is always added as a time; malformed variable types are reported by
// Err and by every Compile against this Env.
func NewEnv(vars map[string]*Type, opts ...EnvOption) *Env {
	e := &Env{vars: make(map[string]*Type, len(vars)+1), limits: DefaultLimits(), zones: newZoneCache()}
	for _, o := range opts {
		o(e)
	}
	var problems []string
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := vars[name]
		switch {
		case name == NowVar:
			problems = append(problems, fmt.Sprintf("variable %q is reserved for the caller's current time", name))
			continue
		case strings.HasPrefix(name, "__") || name == "":
			problems = append(problems, fmt.Sprintf("variable name %q is reserved", name))
			continue
		}
		if err := t.validate(name); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		e.vars[name] = t
	}
	if len(problems) > 0 {
		e.err = fmt.Errorf("build expression environment: %s", strings.Join(problems, "; "))
	}
	tm := make(types.Map, len(e.vars)+2)
	for n, t := range e.vars {
		tm[n] = t.exprType()
	}
	tm[NowVar] = types.TypeOf(time.Time{})
	tm[runVar] = types.TypeOf(&runState{})
	e.base = []expr.Option{
		expr.Env(tm),
		expr.MaxNodes(e.limits.MaxNodes),
		// `now()` reads the wall clock; toJSON/fromJSON/base64 are not needed
		// by rules and would be unbounded string producers.
		expr.DisableBuiltin("now"),
		expr.DisableBuiltin("toJSON"),
		expr.DisableBuiltin("fromJSON"),
		expr.DisableBuiltin("toBase64"),
		expr.DisableBuiltin("fromBase64"),
		// Replaced below by budgeted versions.
		expr.DisableBuiltin("repeat"),
		expr.DisableBuiltin("replace"),
		expr.DisableBuiltin("join"),
		expr.DisableBuiltin("string"),
		expr.DisableBuiltin("split"),
		expr.DisableBuiltin("splitAfter"),
		// Replaced by versions that refuse the host's "Local" zone.
		expr.DisableBuiltin("date"),
		expr.DisableBuiltin("timezone"),
	}
	for _, f := range e.functions() {
		f := f
		e.base = append(e.base, func(c *conf.Config) { c.Functions[f.Name] = f })
	}
	return e
}

// Err reports problems found while building the environment.
func (e *Env) Err() error { return e.err }

// Vars returns the declared variables (without `now`), for editors that
// offer completion.
func (e *Env) Vars() map[string]*Type {
	out := make(map[string]*Type, len(e.vars))
	for k, v := range e.vars {
		out[k] = v
	}
	return out
}

// Limits returns the limits in force for this environment.
func (e *Env) Limits() Limits { return e.limits }

// zoneCache keeps loaded time zones per Env so helpers do not hit the zone
// database on every evaluation.
type zoneCache struct {
	mu    sync.RWMutex
	zones map[string]*time.Location
}

func newZoneCache() *zoneCache { return &zoneCache{zones: map[string]*time.Location{}} }

func (z *zoneCache) get(name string) (*time.Location, error) {
	z.mu.RLock()
	loc, ok := z.zones[name]
	z.mu.RUnlock()
	if ok {
		return loc, nil
	}
	if name == "Local" || name == "" {
		return nil, fmt.Errorf("time zone %q depends on the host; name an IANA zone", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("load time zone %q: %w", name, err)
	}
	z.mu.Lock()
	z.zones[name] = loc
	z.mu.Unlock()
	return loc, nil
}

// runState is the per-evaluation string budget shared by string-building
// functions through the hidden __run__ variable.
type runState struct {
	used  int
	limit int
	steps int
}

func (s *runState) charge(n int, fallback int) error {
	if s == nil {
		if n > fallback {
			return fmt.Errorf("string budget exceeded: %d bytes (limit %d)", n, fallback)
		}
		return nil
	}
	if n > s.limit-s.used {
		return fmt.Errorf("string budget exceeded: %d more bytes after %d (limit %d)", n, s.used, s.limit)
	}
	s.used += n
	return nil
}

// Calendar returns the named business calendar configured with
// WithCalendars, so rule sets (SLA policies) resolve calendars the same way
// expressions do.
func (e *Env) Calendar(name string) (Calendar, bool) {
	c, ok := e.calendars[name]
	return c, ok
}
