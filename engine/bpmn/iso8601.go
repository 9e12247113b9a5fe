package bpmn

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Duration is an ISO 8601 duration (PnYnMnWnDTnHnMnS). Years, months and days are kept apart from the
// clock part because their length depends on the calendar: AddTo applies them to a workflow time.
type Duration struct {
	Years  int           `json:"years,omitempty"`
	Months int           `json:"months,omitempty"`
	Days   int           `json:"days,omitempty"`
	Clock  time.Duration `json:"clock,omitempty"`
}

// AddTo returns t advanced by d, calendar parts first (as Java's and Zeebe's timers do).
func (d Duration) AddTo(t time.Time) time.Time {
	return t.AddDate(d.Years, d.Months, d.Days).Add(d.Clock)
}

// IsZero reports whether d has no length at all.
func (d Duration) IsZero() bool { return d == Duration{} }

// Fixed returns d as a time.Duration when it has no year or month part (days count as 24 hours), which
// is what Temporal timers and retry intervals need.
func (d Duration) Fixed() (time.Duration, bool) {
	if d.Years != 0 || d.Months != 0 {
		return 0, false
	}
	return time.Duration(d.Days)*24*time.Hour + d.Clock, true
}

// ParseDuration reads an ISO 8601 duration such as "PT15M", "P3D", "P1Y2M", "P2W" or "PT0.5S". Only the
// seconds may have a fraction. Negative durations are refused.
func ParseDuration(s string) (Duration, error) {
	var d Duration
	if len(s) < 2 || s[0] != 'P' {
		return d, fmt.Errorf("duration %q: must start with P, e.g. PT15M or P3D", s)
	}
	rest := s[1:]
	inTime := false
	seen := ""
	components := 0
	for len(rest) > 0 {
		if rest[0] == 'T' {
			if inTime {
				return d, fmt.Errorf("duration %q: T appears twice", s)
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return d, fmt.Errorf("duration %q: T must be followed by hours, minutes or seconds", s)
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == 0 || i == len(rest) {
			return d, fmt.Errorf("duration %q: expected a number followed by a designator (Y, M, W, D, H, M, S)", s)
		}
		num := strings.ReplaceAll(rest[:i], ",", ".")
		unit := rest[i]
		rest = rest[i+1:]
		key := string(unit)
		if inTime {
			key = "T" + key
		}
		if strings.Contains(seen, key+";") {
			return d, fmt.Errorf("duration %q: %c appears twice", s, unit)
		}
		seen += key + ";"
		components++
		if strings.Contains(num, ".") {
			if key != "TS" {
				return d, fmt.Errorf("duration %q: only seconds may have a fraction", s)
			}
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f > 1e9 {
				return d, fmt.Errorf("duration %q: bad seconds %q", s, num)
			}
			d.Clock += time.Duration(f * float64(time.Second))
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > 1_000_000 {
			return d, fmt.Errorf("duration %q: number %q out of range", s, num)
		}
		switch key {
		case "Y":
			d.Years = n
		case "M":
			d.Months = n
		case "W":
			d.Days += 7 * n
		case "D":
			d.Days += n
		case "TH":
			d.Clock += time.Duration(n) * time.Hour
		case "TM":
			d.Clock += time.Duration(n) * time.Minute
		case "TS":
			d.Clock += time.Duration(n) * time.Second
		default:
			return d, fmt.Errorf("duration %q: unknown designator %c", s, unit)
		}
	}
	if components == 0 {
		return d, fmt.Errorf("duration %q: has no components", s)
	}
	return d, nil
}

// String renders d back in ISO 8601 form, for display and round-tripping.
func (d Duration) String() string {
	var b strings.Builder
	b.WriteByte('P')
	if d.Years != 0 {
		fmt.Fprintf(&b, "%dY", d.Years)
	}
	if d.Months != 0 {
		fmt.Fprintf(&b, "%dM", d.Months)
	}
	if d.Days != 0 {
		fmt.Fprintf(&b, "%dD", d.Days)
	}
	if d.Clock != 0 || b.Len() == 1 {
		b.WriteByte('T')
		c := d.Clock
		if h := c / time.Hour; h > 0 {
			fmt.Fprintf(&b, "%dH", h)
			c -= h * time.Hour
		}
		if m := c / time.Minute; m > 0 {
			fmt.Fprintf(&b, "%dM", m)
			c -= m * time.Minute
		}
		if c > 0 || d.Clock == 0 {
			b.WriteString(strconv.FormatFloat(c.Seconds(), 'f', -1, 64) + "S")
		}
	}
	return b.String()
}

// ParseDate reads an absolute timer date in RFC 3339 form (ISO 8601 with a zone offset or Z). A zone is
// required: a date without one would depend on the server's location.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want ISO 8601 with a zone, e.g. 2026-01-31T09:00:00Z", s)
	}
	return t, nil
}

// Cycle is a repeating timer: either an ISO 8601 repeating interval (R5/PT10M, R/P1D,
// R3/2026-01-01T09:00:00Z/P1W) or a cron expression (what Temporal schedules run natively).
type Cycle struct {
	// Repetitions is the number of firings, or -1 for unbounded ("R/...").
	Repetitions int `json:"repetitions"`
	// Start is the first firing time when the cycle names one, otherwise the zero time.
	Start time.Time `json:"start,omitzero"`
	// Interval is the time between firings for ISO cycles.
	Interval Duration `json:"interval,omitzero"`
	// Cron is set instead of Interval for cron cycles.
	Cron string `json:"cron,omitempty"`
}

// cronParser accepts 5-field cron, an optional leading seconds field (as Zeebe writes) and descriptors.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month |
	cron.Dow | cron.Descriptor)

// ParseCycle reads a timer cycle.
func ParseCycle(s string) (Cycle, error) {
	if !strings.HasPrefix(s, "R") {
		if _, err := cronParser.Parse(s); err != nil {
			return Cycle{}, fmt.Errorf("cycle %q: neither an ISO 8601 repeating interval (R5/PT10M) nor a cron expression: %w", s, err)
		}
		return Cycle{Repetitions: -1, Cron: s}, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Cycle{}, fmt.Errorf("cycle %q: want R[n]/[start/]duration, e.g. R3/PT10M", s)
	}
	c := Cycle{Repetitions: -1}
	if n := parts[0][1:]; n != "" {
		r, err := strconv.Atoi(n)
		if err != nil || r < 0 || r > 1_000_000 {
			return Cycle{}, fmt.Errorf("cycle %q: bad repetition count %q", s, n)
		}
		c.Repetitions = r
	}
	durPart := parts[len(parts)-1]
	if len(parts) == 3 {
		start, err := ParseDate(parts[1])
		if err != nil {
			return Cycle{}, fmt.Errorf("cycle %q: start: %w", s, err)
		}
		c.Start = start
	}
	d, err := ParseDuration(durPart)
	if err != nil {
		return Cycle{}, fmt.Errorf("cycle %q: %w", s, err)
	}
	if d.IsZero() {
		return Cycle{}, fmt.Errorf("cycle %q: interval must not be zero", s)
	}
	c.Interval = d
	return c, nil
}
