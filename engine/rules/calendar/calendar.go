// Package calendar computes business time: durations that only count
// working hours on working days in one IANA time zone, skipping holidays.
// SLA policies and the addBusinessHours expression helper use it so that
// "answer within 8 business hours" means the same thing everywhere.
package calendar

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Spec is the analyst-maintained, JSON-serialisable description of a
// business calendar.
type Spec struct {
	// Name identifies the calendar in rule sets and expressions.
	Name string `json:"name"`
	// TimeZone is an IANA zone name such as "Europe/Berlin".
	TimeZone string `json:"timeZone"`
	// Hours maps a weekday ("mon".."sun") to its working intervals; a day
	// without intervals is not worked.
	Hours map[string][]Interval `json:"hours"`
	// Holidays are dates ("2025-12-25") in the calendar's zone that are not
	// worked even if their weekday is.
	Holidays []string `json:"holidays,omitempty"`
}

// Interval is a span of wall-clock time within a day, "09:00" to "17:30";
// "24:00" may end a day.
type Interval struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Calendar is a compiled Spec. It is immutable and safe for concurrent use.
type Calendar struct {
	name     string
	loc      *time.Location
	days     [7][]span // indexed by time.Weekday
	holidays map[civilDate]bool
	weekly   time.Duration // nominal working time per week, for sanity checks
}

type span struct{ start, end int } // minutes since midnight, end exclusive

type civilDate struct {
	y int
	m time.Month
	d int
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// maxDays bounds the day-by-day walk so a calendar with (say) every day a
// holiday returns an error instead of looping.
const maxDays = 366 * 50

// New compiles a Spec, reporting every problem it finds at once.
func New(s Spec) (*Calendar, error) {
	var problems []string
	if s.TimeZone == "" || s.TimeZone == "Local" {
		problems = append(problems, "timeZone must name an IANA zone")
	}
	c := &Calendar{name: s.Name, holidays: map[civilDate]bool{}}
	if len(problems) == 0 {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			problems = append(problems, fmt.Sprintf("timeZone %q: %v", s.TimeZone, err))
		}
		c.loc = loc
	}
	keys := make([]string, 0, len(s.Hours))
	for k := range s.Hours {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		wd, ok := weekdays[strings.ToLower(k)]
		if !ok {
			problems = append(problems, fmt.Sprintf("hours: unknown weekday %q (use mon..sun)", k))
			continue
		}
		var spans []span
		for i, iv := range s.Hours[k] {
			a, errA := parseClock(iv.Start)
			b, errB := parseClock(iv.End)
			switch {
			case errA != nil:
				problems = append(problems, fmt.Sprintf("hours.%s[%d].start: %v", k, i, errA))
			case errB != nil:
				problems = append(problems, fmt.Sprintf("hours.%s[%d].end: %v", k, i, errB))
			case b <= a:
				problems = append(problems, fmt.Sprintf("hours.%s[%d]: end %s is not after start %s", k, i, iv.End, iv.Start))
			default:
				spans = append(spans, span{a, b})
			}
		}
		sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
		for i := 1; i < len(spans); i++ {
			if spans[i].start < spans[i-1].end {
				problems = append(problems, fmt.Sprintf("hours.%s: intervals overlap", k))
			}
		}
		c.days[wd] = spans
		for _, sp := range spans {
			c.weekly += time.Duration(sp.end-sp.start) * time.Minute
		}
	}
	if c.weekly == 0 {
		problems = append(problems, "hours: no working time in the week")
	}
	for i, h := range s.Holidays {
		d, err := time.Parse("2006-01-02", h)
		if err != nil {
			problems = append(problems, fmt.Sprintf("holidays[%d]: %q is not a YYYY-MM-DD date", i, h))
			continue
		}
		c.holidays[civilDate{d.Year(), d.Month(), d.Day()}] = true
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("calendar %q: %s", s.Name, strings.Join(problems, "; "))
	}
	return c, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return hh*60 + mm, nil
}

// Name returns the calendar's name.
func (c *Calendar) Name() string { return c.name }

// Location returns the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// windows returns the working intervals of the civil day d as instants.
// Wall-clock times that fall into a DST gap are normalised by time.Date,
// so a day that loses an hour also loses it from working time.
func (c *Calendar) windows(d civilDate, buf [][2]time.Time) [][2]time.Time {
	buf = buf[:0]
	if c.holidays[d] {
		return buf
	}
	day := time.Date(d.y, d.m, d.d, 12, 0, 0, 0, c.loc)
	for _, sp := range c.days[day.Weekday()] {
		a := time.Date(d.y, d.m, d.d, sp.start/60, sp.start%60, 0, 0, c.loc)
		b := time.Date(d.y, d.m, d.d, sp.end/60, sp.end%60, 0, 0, c.loc)
		if b.After(a) {
			buf = append(buf, [2]time.Time{a, b})
		}
	}
	return buf
}

func civil(t time.Time) civilDate { return civilDate{t.Year(), t.Month(), t.Day()} }

func (d civilDate) next() civilDate {
	t := time.Date(d.y, d.m, d.d+1, 12, 0, 0, 0, time.UTC)
	return civilDate{t.Year(), t.Month(), t.Day()}
}

// IsBusinessTime reports whether t falls inside working hours.
func (c *Calendar) IsBusinessTime(t time.Time) bool {
	var buf [4][2]time.Time
	for _, w := range c.windows(civil(t.In(c.loc)), buf[:0]) {
		if !t.Before(w[0]) && t.Before(w[1]) {
			return true
		}
	}
	return false
}

// AddBusinessDuration returns the instant at which d of business time has
// elapsed after start; a start outside working hours begins counting at the
// next opening. Negative durations are not supported.
func (c *Calendar) AddBusinessDuration(start time.Time, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fmt.Errorf("calendar %q: negative business duration %v", c.name, d)
	}
	var buf [4][2]time.Time
	t := start.In(c.loc)
	day := civil(t)
	for i := 0; i < maxDays; i++ {
		for _, w := range c.windows(day, buf[:0]) {
			if !w[1].After(t) {
				continue
			}
			from := w[0]
			if t.After(from) {
				from = t
			}
			if avail := w[1].Sub(from); d <= avail {
				if d == 0 {
					return from, nil
				}
				return from.Add(d), nil
			} else {
				d -= avail
			}
		}
		day = day.next()
	}
	return time.Time{}, fmt.Errorf("calendar %q: no working time within %d days", c.name, maxDays)
}

// BusinessDurationBetween returns the business time between a and b,
// negative when b is before a.
func (c *Calendar) BusinessDurationBetween(a, b time.Time) (time.Duration, error) {
	if b.Before(a) {
		d, err := c.BusinessDurationBetween(b, a)
		return -d, err
	}
	var buf [4][2]time.Time
	var total time.Duration
	day := civil(a.In(c.loc))
	last := civil(b.In(c.loc))
	for i := 0; ; i++ {
		if i > maxDays {
			return 0, fmt.Errorf("calendar %q: range longer than %d days", c.name, maxDays)
		}
		for _, w := range c.windows(day, buf[:0]) {
			from, to := w[0], w[1]
			if a.After(from) {
				from = a
			}
			if b.Before(to) {
				to = b
			}
			if to.After(from) {
				total += to.Sub(from)
			}
		}
		if day == last {
			return total, nil
		}
		day = day.next()
	}
}
