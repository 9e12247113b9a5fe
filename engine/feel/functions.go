package feel

import (
	"strconv"
	"strings"
	"time"
)

// fnSpec translates one FEEL built-in function: its accepted argument counts and the writer of its
// expr form.
type fnSpec struct {
	min, max int
	write    func(g *gen, c *call)
}

// functions is the supported subset of FEEL's built-in functions (Camunda 8 docs, "Built-in
// functions"); every other function is refused by name.
var functions map[string]fnSpec

func init() {
	functions = map[string]fnSpec{
		// Boolean functions.
		"not":         {1, 1, prefixed("!(", ")")},
		"is defined":  {1, 1, func(g *gen, c *call) { g.w("("); g.node(c.args[0]); g.w(" != nil)") }},
		"is null":     {1, 1, func(g *gen, c *call) { g.w("("); g.node(c.args[0]); g.w(" == nil)") }},
		"get or else": {2, 2, infix(" ?? ")},
		// String functions.
		"contains":      {2, 2, infix(" contains ")},
		"starts with":   {2, 2, infix(" startsWith ")},
		"ends with":     {2, 2, infix(" endsWith ")},
		"matches":       {2, 2, infix(" matches ")},
		"upper case":    {1, 1, renamed("upper")},
		"lower case":    {1, 1, renamed("lower")},
		"string length": {1, 1, renamed("len")},
		"substring":     {2, 3, substring},
		"string join":   {1, 4, stringJoin},
		"split":         {2, 2, renamed("split")},
		"trim":          {1, 1, renamed("trim")},
		"string":        {1, 1, renamed("string")},
		"number":        {1, 1, renamed("float")},
		// List functions.
		"list contains":   {2, 2, func(g *gen, c *call) { g.w("("); g.node(c.args[1]); g.w(" in "); g.node(c.args[0]); g.w(")") }},
		"count":           {1, 1, renamed("len")},
		"sum":             {1, -1, aggregate("sum")},
		"min":             {1, -1, aggregate("min")},
		"max":             {1, -1, aggregate("max")},
		"mean":            {1, -1, aggregate("mean")},
		"median":          {1, -1, aggregate("median")},
		"all":             {1, 1, func(g *gen, c *call) { g.w("all("); g.node(c.args[0]); g.w(", # == true)") }},
		"any":             {1, 1, func(g *gen, c *call) { g.w("any("); g.node(c.args[0]); g.w(", # == true)") }},
		"append":          {2, -1, appendFn},
		"concatenate":     {1, -1, renamed("concat")},
		"flatten":         {1, 1, renamed("flatten")},
		"distinct values": {1, 1, renamed("uniq")},
		"reverse":         {1, 1, renamed("reverse")},
		"sort":            {1, 1, renamed("sort")},
		"is empty":        {1, 1, func(g *gen, c *call) { g.w("(len("); g.node(c.args[0]); g.w(") == 0)") }},
		"sublist":         {2, 3, sublist},
		"get value":       {2, 2, renamed("get")},
		// Numeric functions.
		"abs":     {1, 1, renamed("abs")},
		"floor":   {1, 1, renamed("floor")},
		"ceiling": {1, 1, renamed("ceil")},
		"modulo":  {2, 2, infix(" % ")},
		"odd":     {1, 1, func(g *gen, c *call) { g.w("("); g.node(c.args[0]); g.w(" % 2 != 0)") }},
		"even":    {1, 1, func(g *gen, c *call) { g.w("("); g.node(c.args[0]); g.w(" % 2 == 0)") }},
		"decimal": {2, 2, decimal},
		// Temporal functions; now() and today() read the engine's deterministic `now` (workflow time).
		"now":           {0, 0, func(g *gen, c *call) { g.w("now") }},
		"today":         {0, 0, func(g *gen, c *call) { g.w("startOfDay(now)") }},
		"date and time": {1, 1, temporalFn("date and time")},
		"date":          {1, 1, temporalFn("date")},
		"duration":      {1, 1, temporalFn("duration")},
	}
}

// call writes a built-in function call, or refuses a function outside the subset.
func (g *gen) call(c *call) {
	spec, ok := functions[c.fn]
	if !ok {
		g.fail(c.pos, "function "+quoteTok(c.fn), "the function "+quoteTok(c.fn)+" is not supported (see the FEEL subset in engine/bpmn/README.md)")
	}
	if len(c.args) < spec.min || (spec.max >= 0 && len(c.args) > spec.max) {
		want := strconv.Itoa(spec.min)
		switch {
		case spec.max < 0:
			want += " or more"
		case spec.max != spec.min:
			want += " to " + strconv.Itoa(spec.max)
		}
		g.fail(c.pos, "function "+quoteTok(c.fn), quoteTok(c.fn)+" takes "+want+" arguments, got "+strconv.Itoa(len(c.args)))
	}
	spec.write(g, c)
}

func renamed(name string) func(g *gen, c *call) {
	return func(g *gen, c *call) {
		g.w(name, "(")
		g.args(c.args)
		g.w(")")
	}
}

func prefixed(open, close string) func(g *gen, c *call) {
	return func(g *gen, c *call) {
		g.w(open)
		g.node(c.args[0])
		g.w(close)
	}
}

func infix(op string) func(g *gen, c *call) {
	return func(g *gen, c *call) {
		g.w("(")
		g.node(c.args[0])
		g.w(op)
		g.node(c.args[1])
		g.w(")")
	}
}

func (g *gen) args(args []node) {
	for i, a := range args {
		if i > 0 {
			g.w(", ")
		}
		g.node(a)
	}
}

// aggregate writes sum/min/max/mean/median over one list, or over several arguments as a list.
func aggregate(name string) func(g *gen, c *call) {
	return func(g *gen, c *call) {
		g.w(name, "(")
		if len(c.args) == 1 {
			g.node(c.args[0])
		} else {
			g.w("[")
			g.args(c.args)
			g.w("]")
		}
		g.w(")")
	}
}

func appendFn(g *gen, c *call) {
	g.w("concat(")
	g.node(c.args[0])
	g.w(", [")
	g.args(c.args[1:])
	g.w("])")
}

// stringJoin writes string join(list[, delimiter[, prefix, suffix]]).
func stringJoin(g *gen, c *call) {
	if len(c.args) == 3 {
		g.fail(c.pos, "function 'string join'", "'string join' takes a prefix and a suffix together (4 arguments), got 3")
	}
	if len(c.args) == 4 {
		g.w("(")
		g.node(c.args[2])
		g.w(" + ")
	}
	g.w("join(")
	g.node(c.args[0])
	g.w(", ")
	if len(c.args) >= 2 {
		g.node(c.args[1])
	} else {
		g.w(`""`)
	}
	g.w(")")
	if len(c.args) == 4 {
		g.w(" + ")
		g.node(c.args[3])
		g.w(")")
	}
}

// substring writes substring(s, start[, length]) as a rune slice; start is 1-based, negative counts
// from the end.
func substring(g *gen, c *call) {
	start, lit := literalIndex(c.args[1])
	if lit && start == 0 {
		g.fail(c.args[1].at(), "function 'substring'", "the start position counts from 1 (or from -1 at the end); 0 is not a position")
	}
	g.w("(")
	g.node(c.args[0])
	g.w(")[")
	// from: the 0-based start.
	from := func() {
		switch {
		case lit && start > 0:
			g.w(strconv.FormatInt(start-1, 10))
		case lit:
			g.w(strconv.FormatInt(start, 10))
		default:
			g.w("(")
			g.node(c.args[1])
			g.w(") - 1")
		}
	}
	from()
	g.w(":")
	if len(c.args) == 3 {
		if n, ok := literalIndex(c.args[2]); ok && lit && start < 0 && start+n >= 0 {
			// Up to the end.
		} else {
			from()
			g.w(" + (")
			g.node(c.args[2])
			g.w(")")
		}
	}
	g.w("]")
}

// sublist writes sublist(list, start[, length]) as a slice.
func sublist(g *gen, c *call) {
	g.w("(")
	g.node(c.args[0])
	g.w(")[(")
	g.node(c.args[1])
	g.w(") - 1:")
	if len(c.args) == 3 {
		g.w("(")
		g.node(c.args[1])
		g.w(") - 1 + (")
		g.node(c.args[2])
		g.w(")")
	}
	g.w("]")
}

// decimal writes decimal(n, scale) with a literal scale as rounding to that many places.
func decimal(g *gen, c *call) {
	scale, ok := literalIndex(c.args[1])
	if !ok || scale < 0 || scale > 15 {
		g.fail(c.args[1].at(), "function 'decimal'", "the scale must be a whole number from 0 to 15")
	}
	f := "1" + strings.Repeat("0", int(scale))
	g.w("(round((")
	g.node(c.args[0])
	g.w(") * ", f, ") / ", f, ")")
}

// temporalFn writes date and time("..."), date("...") and duration("..."): the argument must be a
// string literal, checked and converted here (ISO 8601 durations become Go durations).
func temporalFn(name string) func(g *gen, c *call) {
	return func(g *gen, c *call) {
		s, ok := c.args[0].(*strLit)
		if !ok {
			if name == "duration" {
				g.fail(c.args[0].at(), "function 'duration'", "the argument must be a literal such as \"PT1H\" (durations from variables are not supported)")
			}
			g.w("date(")
			g.node(c.args[0])
			g.w(")")
			return
		}
		g.temporalLiteral(s.pos, s.val, "function "+quoteTok(name))
	}
}

// temporalLiteral writes a date, date-time or duration given as text.
func (g *gen) temporalLiteral(pos int, s, construct string) {
	if strings.HasPrefix(s, "P") || strings.HasPrefix(s, "-P") {
		d, err := isoDuration(s)
		if err != "" {
			g.fail(pos, construct, err)
		}
		g.w("duration(", strconv.Quote(d.String()), ")")
		return
	}
	if at := strings.IndexByte(s, '@'); at > 0 {
		local, zone := s[:at], s[at+1:]
		if _, err := time.LoadLocation(zone); err != nil || zone == "Local" || zone == "" {
			g.fail(pos, construct, "unknown time zone "+strconv.Quote(zone))
		}
		if _, err := time.Parse("2006-01-02T15:04:05", local); err != nil {
			g.fail(pos, construct, "cannot read "+strconv.Quote(local)+" as a local date and time (YYYY-MM-DDThh:mm:ss)")
		}
		g.w("date(", strconv.Quote(local), `, "2006-01-02T15:04:05", `, strconv.Quote(zone), ")")
		return
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if _, err := time.Parse(layout, s); err == nil {
			g.w("date(", strconv.Quote(s), ")")
			return
		}
	}
	// Seconds may be left out (Camunda's examples write "1970-01-01T00:00Z"); the value is written
	// out with them.
	for _, l := range []struct{ in, out string }{{"2006-01-02T15:04Z07:00", time.RFC3339}, {"2006-01-02T15:04", "2006-01-02T15:04:05"}} {
		if t, err := time.Parse(l.in, s); err == nil {
			g.w("date(", strconv.Quote(t.Format(l.out)), ")")
			return
		}
	}
	g.fail(pos, construct, "cannot read "+strconv.Quote(s)+" as a date (YYYY-MM-DD), a date and time (YYYY-MM-DDThh:mm:ss with Z, an offset or @Zone) or a duration (PnDTnHnMnS)")
}

// isoDuration reads an ISO 8601 days-time duration (PnDTnHnMnS, PnW); FEEL's years-and-months
// durations have no fixed length and are refused.
func isoDuration(s string) (time.Duration, string) {
	neg := strings.HasPrefix(s, "-")
	rest := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "P")
	if rest == "" {
		return 0, "the duration " + strconv.Quote(s) + " has no parts"
	}
	var total time.Duration
	inTime := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, "the duration " + strconv.Quote(s) + " has two T separators"
			}
			inTime = true
			rest = rest[1:]
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, "cannot read the duration " + strconv.Quote(s) + " (write it like P1DT2H30M)"
		}
		v, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || v > 1e6 {
			return 0, "cannot read the number in the duration " + strconv.Quote(s)
		}
		var unit time.Duration
		switch u := rest[i]; {
		case !inTime && u == 'W':
			unit = 7 * 24 * time.Hour
		case !inTime && u == 'D':
			unit = 24 * time.Hour
		case !inTime && (u == 'Y' || u == 'M'):
			return 0, "years-and-months durations (" + strconv.Quote(s) + ") are not supported; write days (P30D)"
		case inTime && u == 'H':
			unit = time.Hour
		case inTime && u == 'M':
			unit = time.Minute
		case inTime && u == 'S':
			unit = time.Second
		default:
			return 0, "cannot read the duration " + strconv.Quote(s) + " (write it like P1DT2H30M)"
		}
		total += time.Duration(v * float64(unit))
		rest = rest[i+1:]
	}
	if neg {
		total = -total
	}
	return total, ""
}
